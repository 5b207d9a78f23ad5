#include "libvirt/libvirt_provider.h"

#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "libvirt/domain_xml.h"
#include "libvirt/host_tools.h"
#include "libvirt/seed.h"

namespace darasa::providers::libvirt {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// The files of a lab, in its directory.
constexpr const char* kDiskFile = "disk.qcow2";
constexpr const char* kSeedFile = "seed.iso";
constexpr const char* kConsoleFile = "console.log";
constexpr const char* kSeedWorkDir = "seed.d";
constexpr int64_t kMinMemoryBytes = 80LL << 20;
constexpr size_t kConsoleTail = 256u << 10;
// What a kernel prints when the guest cannot go on.
constexpr const char* kPanicText = "Kernel panic";
constexpr const char* kStartHint = "start it with scripts/libvirt-service.sh (virtlogd -d; libvirtd -d)";

std::shared_ptr<spdlog::logger> logger() {
  auto l = spdlog::get("libvirt");
  return l ? l : spdlog::default_logger();
}

// libvirt's default error handler prints every error on stderr; errors are
// read per thread with virGetLastError instead.
void quietErrors(void*, virErrorPtr) {}

void initLibvirtOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    virInitialize();
    virSetErrorFunc(nullptr, quietErrors);
  });
}

std::string envOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

bool systemUri(const std::string& uri) { return uri.find(":///system") != std::string::npos; }

Result<int64_t> parseSizeOption(const std::string& key, const std::string& v) {
  // Whole bytes, or with Ki/Mi/Gi/Ti as in templates.
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || n <= 0) return invalidError("option " + key + "=\"" + v + "\": expected a size like 512Mi");
  std::string unit(p, v.data() + v.size());
  int shift = 0;
  if (unit.empty()) shift = 0;
  else if (unit == "Ki") shift = 10;
  else if (unit == "Mi") shift = 20;
  else if (unit == "Gi") shift = 30;
  else if (unit == "Ti") shift = 40;
  else return invalidError("option " + key + "=\"" + v + "\": expected a size like 512Mi");
  if (n > (INT64_MAX >> shift)) return invalidError("option " + key + "=\"" + v + "\": too large");
  return n << shift;
}

Result<int64_t> intOption(const std::string& key, const std::string& value, int64_t lo, int64_t hi) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || p != value.data() + value.size() || v < lo || v > hi)
    return invalidError("option " + key + "=\"" + value + "\": expected a whole number from " + std::to_string(lo) +
                        " to " + std::to_string(hi));
  return v;
}

std::string formatBytes(int64_t b) {
  if (b >= (1LL << 30) && b % (1LL << 30) == 0) return std::to_string(b >> 30) + "Gi";
  if (b >= (1LL << 20) && b % (1LL << 20) == 0 && b < (16LL << 30)) return std::to_string(b >> 20) + "Mi";
  char buf[32];
  if (b >= (1LL << 30)) std::snprintf(buf, sizeof buf, "%.1fGi", static_cast<double>(b) / (1LL << 30));
  else if (b >= (1LL << 20)) std::snprintf(buf, sizeof buf, "%.1fMi", static_cast<double>(b) / (1LL << 20));
  else std::snprintf(buf, sizeof buf, "%lld bytes", static_cast<long long>(b));
  return buf;
}

// --- libvirt handles ---------------------------------------------------------

struct DomainDeleter {
  void operator()(virDomainPtr d) const {
    if (d) virDomainFree(d);
  }
};
using Domain = std::unique_ptr<virDomain, DomainDeleter>;

// The calling thread's last libvirt error as a Status.
Status lastError(const std::string& what) {
  virErrorPtr e = virGetLastError();
  if (!e) return internalError(what + ": libvirt failed without saying why");
  std::string msg = what + ": " + (e->message ? e->message : "unknown libvirt error");
  Code code = Code::kInternal;
  switch (e->code) {
    case VIR_ERR_NO_DOMAIN: code = Code::kNotFound; break;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_RPC:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
    case VIR_ERR_INVALID_CONN: code = Code::kUnavailable; break;
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_CANCELLED:
    case VIR_ERR_ACCESS_DENIED: code = Code::kDenied; break;
    case VIR_ERR_OPERATION_INVALID: code = Code::kConflict; break;
    default: break;
  }
  virResetLastError();
  return Status(code, msg);
}

int lastErrorCode() {
  virErrorPtr e = virGetLastError();
  return e ? e->code : VIR_ERR_OK;
}

const char* stateName(int state) {
  switch (state) {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "blocked";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "shutting down";
    case VIR_DOMAIN_SHUTOFF: return "shut off";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "suspended";
    default: return "in an unknown state";
  }
}

// What a domain's state means for darasa.
ObservedState observedStateOf(int state, int reason, std::string* detail) {
  *detail = stateName(state);
  switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED: return ObservedState::kRunning;
    case VIR_DOMAIN_PAUSED:
      // libvirt starts QEMU paused and resumes it once set up: seen from
      // another process (a darasa killed mid-create), the lab is starting.
      if (reason == VIR_DOMAIN_PAUSED_STARTING_UP) {
        *detail = "starting";
        return ObservedState::kCreating;
      }
      return ObservedState::kStopped;
    case VIR_DOMAIN_PMSUSPENDED: return ObservedState::kStopped;
    case VIR_DOMAIN_SHUTDOWN: return ObservedState::kUnknown;
    case VIR_DOMAIN_SHUTOFF:
      switch (reason) {
        case VIR_DOMAIN_SHUTOFF_CRASHED:
          *detail += " (the guest crashed)";
          return ObservedState::kFailed;
        case VIR_DOMAIN_SHUTOFF_FAILED:
          *detail += " (QEMU failed to start it)";
          return ObservedState::kFailed;
        case VIR_DOMAIN_SHUTOFF_SHUTDOWN: *detail += " (powered off)"; break;
        case VIR_DOMAIN_SHUTOFF_DESTROYED: *detail += " (forced off)"; break;
        case VIR_DOMAIN_SHUTOFF_UNKNOWN: *detail += " (never started)"; break;
        default: break;
      }
      return ObservedState::kStopped;
    case VIR_DOMAIN_CRASHED: return ObservedState::kFailed;
    default: return ObservedState::kUnknown;
  }
}

int64_t generationOf(const Labels& labels) {
  auto it = labels.find(kLabelGeneration);
  if (it == labels.end()) return 0;
  int64_t g = 0;
  std::from_chars(it->second.data(), it->second.data() + it->second.size(), g);
  return g;
}

const PortSpec* findPort(const std::vector<PortSpec>& ports, const std::string& nameOrNumber) {
  for (const auto& p : ports)
    if (p.name == nameOrNumber || std::to_string(p.port) == nameOrNumber) return &p;
  return nullptr;
}

// The line of text around pos (for quoting a console line in an error).
std::string lineAt(const std::string& text, size_t pos) {
  size_t b = text.rfind('\n', pos);
  b = b == std::string::npos ? 0 : b + 1;
  size_t e = text.find('\n', pos);
  std::string line = text.substr(b, e == std::string::npos ? std::string::npos : e - b);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line.size() > 200 ? line.substr(0, 200) + "…" : line;
}

}  // namespace

// ---------------------------------------------------------------------------

Result<LibvirtOptions> parseLibvirtOptions(const ProviderConfig& config) {
  static const std::set<std::string> known = {"uri",  "imageDir", "labDir",     "domainType",
                                              "stopTimeout", "memory", "disk", "maxParallel"};
  for (const auto& [k, v] : config.options) {
    if (!known.count(k)) {
      std::string names;
      for (const auto& n : known) names += (names.empty() ? "" : ", ") + n;
      return invalidError("unknown option \"" + k + "\" for the libvirt provider (known: " + names + ")");
    }
  }
  auto get = [&](const char* k) {
    auto it = config.options.find(k);
    return it == config.options.end() ? std::string() : it->second;
  };
  LibvirtOptions o;
  o.uri = get("uri").empty() ? envOr("DARASA_LIBVIRT_URI", o.uri) : get("uri");
  if (o.uri.find("://") == std::string::npos)
    return invalidError("option uri=\"" + o.uri + "\": expected a libvirt URI such as qemu:///system");
  if (o.uri.rfind("qemu", 0) != 0)
    return invalidError("option uri=\"" + o.uri + "\": the libvirt provider drives QEMU (qemu:///system or qemu:///session)");
  if (o.uri.find("+ssh") != std::string::npos || o.uri.find("+tcp") != std::string::npos ||
      o.uri.find("+tls") != std::string::npos)
    return invalidError("option uri=\"" + o.uri + "\": only local URIs (the lab's files are made on this machine)");
  o.imageDir = get("imageDir").empty() ? envOr("DARASA_VM_IMAGES", o.imageDir) : get("imageDir");
  if (!get("labDir").empty()) {
    o.labDir = get("labDir");
  } else if (!systemUri(o.uri)) {
    o.labDir = (config.stateDir.empty() ? std::string(".") : config.stateDir) + "/libvirt";
  }
  if (auto v = get("domainType"); !v.empty()) {
    if (v != "auto" && v != "kvm" && v != "qemu")
      return invalidError("option domainType=\"" + v + "\": expected auto, kvm or qemu");
    o.domainType = v;
  }
  if (auto v = get("stopTimeout"); !v.empty()) {
    auto n = intOption("stopTimeout", v, 0, 3600);
    if (!n) return n.status();
    o.stopTimeoutSeconds = static_cast<int>(*n);
  }
  if (auto v = get("maxParallel"); !v.empty()) {
    auto n = intOption("maxParallel", v, 1, 256);
    if (!n) return n.status();
    o.maxParallel = static_cast<int>(*n);
  }
  if (auto v = get("memory"); !v.empty()) {
    auto n = parseSizeOption("memory", v);
    if (!n) return n.status();
    if (*n < kMinMemoryBytes) return invalidError("option memory=\"" + v + "\": a VM needs at least 80Mi");
    o.defaultMemoryBytes = *n;
  }
  if (auto v = get("disk"); !v.empty()) {
    auto n = parseSizeOption("disk", v);
    if (!n) return n.status();
    o.defaultDiskBytes = *n;
  }
  if (!fs::path(o.imageDir).is_absolute() || !fs::path(o.labDir).is_absolute()) {
    std::error_code ec;
    o.imageDir = fs::absolute(o.imageDir, ec).lexically_normal().string();
    o.labDir = fs::absolute(o.labDir, ec).lexically_normal().string();
  }
  return o;
}

class LibvirtProvider final : public Provider {
 public:
  LibvirtProvider(std::string name, LibvirtOptions options) : name_(std::move(name)), opts_(std::move(options)) {
    initLibvirtOnce();
  }

  ~LibvirtProvider() override {
    std::lock_guard<std::mutex> lock(connMu_);
    conn_.reset();
  }

  ProviderInfo info() const override {
    ProviderInfo i;
    i.name = name_;
    i.kind = ProviderKind::kVm;
    i.version = std::string("darasa-libvirt ") + DARASA_VERSION;
    {
      std::lock_guard<std::mutex> lock(connMu_);
      if (!engineVersion_.empty()) i.version += " (" + engineVersion_ + ")";
    }
    i.capabilities.stopStart = true;
    i.capabilities.exec = false;
    i.capabilities.reset = true;
    i.maxParallel = opts_.maxParallel;
    return i;
  }

  Status usable() override {
    auto deadline = Deadline::after(10s);
    auto conn = connection(deadline);
    if (!conn) return conn.status();
    std::vector<std::string> missing;
    if (findInPath({"qemu-img"}).empty()) missing.push_back("qemu-img (apt-get install qemu-utils)");
    if (isoTool().empty()) missing.push_back("genisoimage, mkisofs or xorrisofs (apt-get install genisoimage)");
    if (!missing.empty()) {
      std::string m;
      for (const auto& s : missing) m += (m.empty() ? "" : ", ") + s;
      return unavailableError("the libvirt provider needs " + m);
    }
    std::error_code ec;
    fs::create_directories(opts_.labDir, ec);
    if (ec || ::access(opts_.labDir.c_str(), W_OK) != 0)
      return deniedError("cannot write the lab directory " + opts_.labDir + " (option labDir)");
    return Status::ok();
  }

  Status validate(const LabSpec& spec) override {
    if (auto s = validateSpec(spec); !s) return s;
    auto image = resolveImage(spec.image, opts_.imageDir);
    if (!image) return image.status();
    return Status::ok();
  }

  Result<ObservedLab> create(const LabSpec& spec, const Deadline& deadline) override {
    if (auto s = validateSpec(spec); !s) return s;
    if (deadline.expired()) return timeoutError("create " + spec.labId + ": deadline passed");
    auto image = resolveImage(spec.image, opts_.imageDir);
    if (!image) return image.status();
    auto conn = connection(deadline);
    if (!conn) return conn.status();
    auto lock = labLock(spec.labId);
    std::lock_guard<std::mutex> guard(*lock);
    return createLocked(*conn, spec, *image, deadline);
  }

  Result<ObservedLab> inspect(const std::string& labId, const Deadline& deadline) override {
    if (deadline.expired()) return timeoutError("inspect " + labId + ": deadline passed");
    auto conn = connection(deadline);
    if (!conn) return conn.status();
    auto found = findLab(*conn, labId);
    if (!found) return found.status();
    return observe(found->first.get(), found->second, deadline);
  }

  Result<std::vector<ObservedLab>> list(const LabelSelector& selector, const Deadline& deadline) override {
    if (deadline.expired()) return timeoutError("list labs: deadline passed");
    auto conn = connection(deadline);
    if (!conn) return conn.status();
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(conn->get(), &doms, 0);
    if (n < 0) return connectionFailed(lastError("list domains"));
    std::vector<Domain> all;
    for (int i = 0; i < n; ++i) all.emplace_back(doms[i]);
    free(doms);
    std::vector<ObservedLab> out;
    for (auto& d : all) {
      if (deadline.expired()) return timeoutError("list labs: deadline passed");
      auto meta = metadataOf(d.get());
      if (!meta) continue;  // not a darasa lab (or gone meanwhile)
      if (!selector.matches(meta->labels)) continue;
      auto seen = observe(d.get(), *meta, deadline);
      if (seen) out.push_back(std::move(*seen));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.labId < b.labId; });
    return out;
  }

  Status start(const std::string& labId, const Deadline& deadline) override {
    if (deadline.expired()) return timeoutError("start " + labId + ": deadline passed");
    auto conn = connection(deadline);
    if (!conn) return conn.status();
    auto lock = labLock(labId);
    std::lock_guard<std::mutex> guard(*lock);
    auto found = findLab(*conn, labId);
    if (!found) return found.status();
    virDomainPtr d = found->first.get();
    int state = 0, reason = 0;
    if (virDomainGetState(d, &state, &reason, 0) < 0) return lastError("state of lab " + labId);
    if (state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED) return Status::ok();
    if (state == VIR_DOMAIN_PAUSED) {
      if (reason == VIR_DOMAIN_PAUSED_STARTING_UP) return Status::ok();  // libvirt resumes it itself
      if (virDomainResume(d) < 0) {
        // Resumed meanwhile (e.g. it was starting up): that is what we want.
        if (lastErrorCode() == VIR_ERR_OPERATION_INVALID && virDomainGetState(d, &state, &reason, 0) == 0 &&
            state == VIR_DOMAIN_RUNNING) {
          virResetLastError();
          return Status::ok();
        }
        return lastError("resume lab " + labId);
      }
      return Status::ok();
    }
    if (state == VIR_DOMAIN_SHUTDOWN) {
      // Still powering off from a stop: let it finish, then start it again.
      auto s = waitShutOff(d, deadline.capped(std::chrono::seconds(opts_.stopTimeoutSeconds)));
      if (!s && virDomainDestroy(d) < 0 && lastErrorCode() != VIR_ERR_OPERATION_INVALID)
        return lastError("power off lab " + labId);
    }
    if (virDomainCreate(d) < 0) {
      if (lastErrorCode() == VIR_ERR_OPERATION_INVALID) {  // "already active": someone started it
        virResetLastError();
        return Status::ok();
      }
      return lastError("start lab " + labId);
    }
    logger()->info("libvirt: started lab {}", labId);
    return Status::ok();
  }

  Status stop(const std::string& labId, const Deadline& deadline) override {
    if (deadline.expired()) return timeoutError("stop " + labId + ": deadline passed");
    auto conn = connection(deadline);
    if (!conn) return conn.status();
    auto lock = labLock(labId);
    std::lock_guard<std::mutex> guard(*lock);
    auto found = findLab(*conn, labId);
    if (!found) return found.status();
    return stopDomain(found->first.get(), labId, deadline);
  }

  Status destroy(const std::string& labId, const Deadline& deadline) override {
    if (deadline.expired()) return timeoutError("destroy " + labId + ": deadline passed");
    if (!validLabId(labId)) return Status::ok();  // no lab can have this id
    auto conn = connection(deadline);
    if (!conn) return conn.status();
    auto lock = labLock(labId);
    std::lock_guard<std::mutex> guard(*lock);
    std::string filesDir = defaultFilesDir(labId);
    auto found = lookupLab(*conn, labId);
    if (!found) return found.status();
    if (*found) {
      Found& f = **found;
      if (!f.meta)
        return conflictError("the domain " + domainNameFor(labId) + " was not made by darasa for lab " + labId +
                             ": darasa leaves it alone (rename or remove it)");
      virDomainPtr d = f.dom.get();
      filesDir = f.meta->filesDir;
      int state = 0, reason = 0;
      if (virDomainGetState(d, &state, &reason, 0) == 0 && state != VIR_DOMAIN_SHUTOFF) {
        if (virDomainDestroy(d) < 0 && lastErrorCode() != VIR_ERR_OPERATION_INVALID)
          return lastError("power off lab " + labId);
        virResetLastError();
      }
      unsigned flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                       VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
      if (virDomainUndefineFlags(d, flags) < 0 && lastErrorCode() != VIR_ERR_NO_DOMAIN)
        return lastError("remove the domain of lab " + labId);
      virResetLastError();
      logger()->info("libvirt: removed the domain of lab {}", labId);
    }
    return removeLabFiles(filesDir);
  }

  // The hypervisor host's CPUs and memory (libvirt's node info).
  Result<ProviderCapacity> capacity() override {
    HostCapacity h = hostCapacity();
    ProviderCapacity c;
    c.cpuMillis = static_cast<int64_t>(h.cpus) * 1000;
    c.memoryBytes = h.memoryBytes;
    c.source = "host: " + std::to_string(h.cpus) + " CPUs, " + formatBytes(h.memoryBytes);
    return c;
  }

  Status probe(const LabSpec& spec, const Deadline& deadline) override {
    if (deadline.expired()) return timeoutError("probe " + spec.labId + ": deadline passed");
    auto conn = connection(deadline);
    if (!conn) return conn.status();
    auto found = findLab(*conn, spec.labId);
    if (!found) return found.status();
    const LabMetadata& meta = found->second;
    auto seen = observe(found->first.get(), meta, deadline);
    if (!seen) return seen.status();
    std::string console = readTail((fs::path(meta.filesDir) / kConsoleFile).string(), kConsoleTail);
    switch (seen->state) {
      case ObservedState::kRunning: break;
      case ObservedState::kStopped: return invalidError("lab " + spec.labId + " is " + seen->detail);
      case ObservedState::kFailed: {
        size_t panic = console.rfind(kPanicText);
        return internalError("lab " + spec.labId + " " + seen->detail +
                             (panic == std::string::npos ? "" : ": " + lineAt(console, panic)));
      }
      case ObservedState::kCreating:
      case ObservedState::kUnknown: return unavailableError("lab " + spec.labId + " is " + seen->detail);
    }
    if (size_t panic = console.find(kPanicText); panic != std::string::npos)
      return internalError("the guest of lab " + spec.labId + " failed: " + lineAt(console, panic) +
                           " (see " + (fs::path(meta.filesDir) / kConsoleFile).string() + ")");
    std::string marker = meta.readyMarker;
    bool markerSeen = !marker.empty() && console.find(marker) != std::string::npos;
    if (!marker.empty() && !markerSeen)
      return unavailableError("lab " + spec.labId + " is booting (\"" + marker + "\" not on its console yet)");
    if (spec.readiness.tcpPort.empty()) return Status::ok();
    const PortSpec* port = findPort(meta.ports, spec.readiness.tcpPort);
    if (!port) return invalidError("readiness.tcp: \"" + spec.readiness.tcpPort + "\" is not one of the lab's ports");
    const Endpoint* ep = nullptr;
    for (const auto& e : seen->endpoints)
      if (e.name == port->name) ep = &e;
    if (!ep) return unavailableError("port " + port->name + " of lab " + spec.labId + " is not forwarded yet");
    std::string request = port->protocol == "http" ? "HEAD / HTTP/1.0\r\n\r\n" : "";
    std::string where = "127.0.0.1:" + std::to_string(ep->port) + " (port " + port->name + " of lab " + spec.labId + ")";
    switch (tcpCheck(ep->port, request, deadline)) {
      case TcpAnswer::kSpoke: return Status::ok();
      case TcpAnswer::kRefused: return unavailableError("nothing serves " + where + " yet");
      case TcpAnswer::kSilent:
        if (markerSeen) return Status::ok();
        return unavailableError(where + " accepted but said nothing: QEMU accepts before the guest does, so a "
                                "quiet service needs a ready marker (option readyMarker) to count as ready");
    }
    return Status::ok();
  }

 private:
  // ----- connection ------------------------------------------------------

  struct ConnCloser {
    void operator()(virConnectPtr c) const {
      if (c) virConnectClose(c);
    }
  };
  using Conn = std::shared_ptr<virConnect>;

  Result<Conn> connection(const Deadline& deadline) {
    std::lock_guard<std::mutex> lock(connMu_);
    if (conn_ && virConnectIsAlive(conn_.get()) == 1) return conn_;
    conn_.reset();
    if (deadline.expired()) return timeoutError("connect to libvirt: deadline passed");
    virConnectPtr c = virConnectOpen(opts_.uri.c_str());
    if (!c) {
      Status e = lastError("connect to libvirt at " + opts_.uri);
      return unavailableError("libvirtd does not answer at " + opts_.uri + " (" + e.message() + "): " + kStartHint);
    }
    conn_ = Conn(c, ConnCloser());
    unsigned long lib = 0, hv = 0;
    if (virConnectGetLibVersion(c, &lib) == 0 && virConnectGetVersion(c, &hv) == 0) {
      auto ver = [](unsigned long v) {
        return std::to_string(v / 1000000) + "." + std::to_string(v / 1000 % 1000) + "." + std::to_string(v % 1000);
      };
      engineVersion_ = "libvirt " + ver(lib) + ", QEMU " + ver(hv);
    }
    virResetLastError();
    return conn_;
  }

  // A failed call that may mean the daemon went away: drop the connection so
  // the next call reconnects.
  Status connectionFailed(Status s) {
    if (s.code() == Code::kUnavailable) {
      std::lock_guard<std::mutex> lock(connMu_);
      if (conn_ && virConnectIsAlive(conn_.get()) != 1) conn_.reset();
    }
    return s;
  }

  std::shared_ptr<std::mutex> labLock(const std::string& labId) {
    std::lock_guard<std::mutex> lock(locksMu_);
    auto& m = labLocks_[labId];
    if (!m) m = std::make_shared<std::mutex>();
    return m;
  }

  // ----- checks ----------------------------------------------------------

  Status validateSpec(const LabSpec& spec) {
    if (spec.labId.empty()) return invalidError("labId: required");
    if (!validLabId(spec.labId))
      return invalidError("labId \"" + spec.labId + "\": libvirt labs need ids of letters, digits, '.', '_' and '-'");
    if (spec.image.empty())
      return invalidError("image: required for libvirt labs (e.g. busybox-vm, built by examples/images/build-vm-guest.sh)");
    if (spec.network == NetworkMode::kHost || spec.network == NetworkMode::kCohort)
      return invalidError(std::string("network: ") + networkModeName(spec.network) +
                          " is not supported by libvirt labs (each VM has its own user-mode network); use "
                          "isolated or none");
    if (!spec.ports.empty() && spec.network == NetworkMode::kNone)
      return invalidError("ports: a lab with network none cannot forward ports (remove the ports or use network "
                          "isolated)");
    std::set<int> seen;
    for (const auto& p : spec.ports) {
      if (p.port < 1 || p.port > 65535)
        return invalidError("ports: " + p.name + ": port " + std::to_string(p.port) + " is not in 1..65535");
      if (!seen.insert(p.port).second)
        return invalidError("ports: port " + std::to_string(p.port) + " is listed twice");
    }
    if (!spec.readiness.tcpPort.empty() && !findPort(spec.ports, spec.readiness.tcpPort))
      return invalidError("readiness.tcp: \"" + spec.readiness.tcpPort + "\" is not one of the lab's ports");
    if (!spec.readiness.exec.empty())
      return invalidError("readiness.exec: libvirt labs cannot run commands inside the guest; use readiness.tcp "
                          "(and the image's ready marker)");
    for (const auto& [k, v] : spec.providerOptions)
      if (k != "readyMarker")
        return invalidError("options." + k + " is not an option of the libvirt provider (known: readyMarker)");
    const Resources& r = spec.resources;
    if (r.cpuMillis < 0 || r.memoryBytes < 0 || r.diskBytes < 0 || r.pids < 0)
      return invalidError("resources: negative caps");
    if (r.memoryBytes > 0 && r.memoryBytes < kMinMemoryBytes)
      return invalidError("resources.memory: " + formatBytes(r.memoryBytes) + " is too little for a VM (at least 80Mi)");
    if (r.diskBytes > 0 && r.diskBytes < (16LL << 20))
      return invalidError("resources.disk: " + formatBytes(r.diskBytes) + " is too small for a lab disk (at least 16Mi)");
    HostCapacity host = hostCapacity();
    int64_t memory = r.memoryBytes > 0 ? r.memoryBytes : opts_.defaultMemoryBytes;
    if (host.memoryBytes > 0 && memory > host.memoryBytes)
      return invalidError("resources.memory: " + formatBytes(memory) + " is more than this host has (" +
                          formatBytes(host.memoryBytes) + ")");
    int vcpus = vcpusFor(r.cpuMillis).first;
    if (host.cpus > 0 && vcpus > host.cpus)
      return invalidError("resources.cpus: " + std::to_string(r.cpuMillis / 1000.0).substr(0, 6) + " needs " +
                          std::to_string(vcpus) + " vCPUs, more than this host's " + std::to_string(host.cpus));
    return Status::ok();
  }

  // The hypervisor host's capacity: libvirt's node info when the daemon
  // answers, else this machine's (the URI is local), so a template that asks
  // too much is refused at apply even before libvirtd runs.
  HostCapacity hostCapacity() {
    {
      std::lock_guard<std::mutex> lock(capMu_);
      if (capacity_) return *capacity_;
    }
    HostCapacity c = localCapacity();
    auto conn = connection(Deadline::after(5s));
    if (conn) {
      virNodeInfo info{};
      if (virNodeGetInfo(conn->get(), &info) == 0) {
        c.memoryBytes = static_cast<int64_t>(info.memory) * 1024;
        c.cpus = static_cast<int>(info.cpus);
        std::lock_guard<std::mutex> lock(capMu_);
        capacity_ = c;
      } else {
        virResetLastError();
      }
    }
    return c;
  }

  std::string isoTool() const { return findInPath({"genisoimage", "mkisofs", "xorrisofs"}); }

  std::string domainType() const {
    if (opts_.domainType != "auto") return opts_.domainType;
    return kvmUsable(systemUri(opts_.uri)) ? "kvm" : "qemu";
  }

  std::string defaultFilesDir(const std::string& labId) const { return (fs::path(opts_.labDir) / labId).string(); }

  // ----- observation -----------------------------------------------------

  // darasa's metadata of a domain; nullopt when it has none (not a lab).
  std::optional<LabMetadata> metadataOf(virDomainPtr d) {
    char* xml = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, kMetadataUri, VIR_DOMAIN_AFFECT_CURRENT);
    if (!xml) {
      virResetLastError();
      return std::nullopt;
    }
    std::string text(xml);
    free(xml);
    return parseMetadata(text);
  }

  // A lab's domain: the one named after it, or (renamed by hand, made by an
  // older darasa) any domain whose darasa metadata names the lab. meta is
  // nullopt for a domain with the lab's name that darasa did not make.
  struct Found {
    Domain dom;
    std::optional<LabMetadata> meta;
  };
  Result<std::optional<Found>> lookupLab(const Conn& conn, const std::string& labId) {
    auto complete = [&](LabMetadata m) {
      if (m.filesDir.empty()) m.filesDir = defaultFilesDir(labId);
      return m;
    };
    Domain d(virDomainLookupByName(conn.get(), domainNameFor(labId).c_str()));
    if (d) {
      auto meta = metadataOf(d.get());
      if (meta && meta->labels.at(kLabelLab) == labId) return std::optional<Found>(Found{std::move(d), complete(*meta)});
      return std::optional<Found>(Found{std::move(d), std::nullopt});
    }
    if (lastErrorCode() != VIR_ERR_NO_DOMAIN) return connectionFailed(lastError("look up lab " + labId));
    virResetLastError();
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(conn.get(), &doms, 0);
    if (n < 0) return connectionFailed(lastError("list domains"));
    std::vector<Domain> all;
    for (int i = 0; i < n; ++i) all.emplace_back(doms[i]);
    free(doms);
    for (auto& dom : all) {
      auto meta = metadataOf(dom.get());
      if (meta && meta->labels.at(kLabelLab) == labId) return std::optional<Found>(Found{std::move(dom), complete(*meta)});
    }
    return std::optional<Found>();
  }

  // The lab's domain and metadata; kNotFound when there is no darasa domain for it.
  Result<std::pair<Domain, LabMetadata>> findLab(const Conn& conn, const std::string& labId) {
    if (!validLabId(labId)) return notFoundError("no VM for lab " + labId);
    auto found = lookupLab(conn, labId);
    if (!found) return found.status();
    if (!*found || !(*found)->meta) return notFoundError("no VM for lab " + labId);
    return std::make_pair(std::move((*found)->dom), std::move(*(*found)->meta));
  }

  Result<ObservedLab> observe(virDomainPtr d, const LabMetadata& meta, const Deadline& deadline) {
    ObservedLab lab;
    lab.labels = meta.labels;
    lab.labId = meta.labels.at(kLabelLab);
    lab.generation = generationOf(meta.labels);
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    if (virDomainGetUUIDString(d, uuid) == 0) lab.resourceId = uuid;
    int state = 0, reason = 0;
    if (virDomainGetState(d, &state, &reason, 0) < 0) {
      if (lastErrorCode() == VIR_ERR_NO_DOMAIN) {
        virResetLastError();
        return notFoundError("no VM for lab " + lab.labId);
      }
      return connectionFailed(lastError("state of lab " + lab.labId));
    }
    lab.state = observedStateOf(state, reason, &lab.detail);
    if (lab.state == ObservedState::kRunning && !meta.ports.empty() && !deadline.expired()) {
      char* out = nullptr;
      if (virDomainQemuMonitorCommand(d, "info usernet", &out, VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP) == 0 && out) {
        lab.endpoints = endpointsFor(meta.ports, parseUsernetForwards(out));
        free(out);
      } else {
        // Between the state check and here it may have stopped: no endpoints.
        virResetLastError();
      }
    }
    return lab;
  }

  // ----- create ----------------------------------------------------------

  Result<ObservedLab> createLocked(const Conn& conn, const LabSpec& spec, const VmImage& image,
                                   const Deadline& deadline) {
    const std::string name = domainNameFor(spec.labId);
    auto found = lookupLab(conn, spec.labId);
    if (!found) return found.status();
    if (*found) {
      Found& f = **found;
      if (!f.meta)
        return conflictError("a domain named " + name + " exists that darasa did not make for lab " + spec.labId +
                             ": remove or rename it");
      auto mineState = spec.labels.find(kLabelState);
      auto theirState = f.meta->labels.find(kLabelState);
      if (mineState != spec.labels.end() && theirState != f.meta->labels.end() &&
          mineState->second != theirState->second)
        return conflictError("lab " + spec.labId + " exists already, made by another darasa state (" +
                             theirState->second + "): use another cohort name");
      return observe(f.dom.get(), *f.meta, deadline);
    }

    const fs::path dir = defaultFilesDir(spec.labId);
    // Leftovers of a create that was killed before its domain was defined.
    if (auto s = removeLabFiles(dir.string()); !s) return s;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return internalError("make " + dir.string() + ": " + ec.message());
    // QEMU (libvirt-qemu) must reach the files; libvirt sets their owner.
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, ec);
    fs::permissions(opts_.labDir, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec,
                    fs::perm_options::add, ec);

    auto undo = [&](Status why) -> Status {
      (void)removeLabFiles(dir.string());
      return why;
    };
    if (auto s = makeDisk(spec, image, (dir / kDiskFile).string(), deadline); !s)
      return undo(s.withContext("lab " + spec.labId + " disk"));
    if (auto s = makeSeed(spec, dir, deadline); !s) return undo(s.withContext("lab " + spec.labId + " seed"));

    DomainPlan plan;
    plan.name = name;
    plan.domainType = domainType();
    int64_t memory = spec.resources.memoryBytes > 0 ? spec.resources.memoryBytes : opts_.defaultMemoryBytes;
    plan.memoryKiB = (memory + 1023) / 1024;
    auto [vcpus, quota] = vcpusFor(spec.resources.cpuMillis);
    plan.vcpus = vcpus;
    plan.cpuQuotaUs = quota;
    plan.image = image;
    plan.overlay = (dir / kDiskFile).string();
    plan.seed = (dir / kSeedFile).string();
    plan.console = (dir / kConsoleFile).string();
    plan.network = spec.network != NetworkMode::kNone;
    plan.metadata.labels = spec.labels;
    plan.metadata.labels[kLabelLab] = spec.labId;
    plan.metadata.labels[kLabelCohort] = spec.cohort;
    plan.metadata.labels[kLabelTrainee] = spec.trainee;
    plan.metadata.labels[kLabelGeneration] = std::to_string(spec.generation);
    plan.metadata.labels[kLabelTemplateHash] = spec.templateHash;
    plan.metadata.ports = spec.ports;
    plan.metadata.filesDir = dir.string();
    auto marker = spec.providerOptions.find("readyMarker");
    plan.metadata.readyMarker = marker != spec.providerOptions.end() ? marker->second : image.readyMarker;
    plan.metadata.network = networkModeName(spec.network);

    if (deadline.expired()) return undo(timeoutError("create " + spec.labId + ": deadline passed"));
    std::string xml = domainXml(plan);
    Domain d(virDomainDefineXML(conn.get(), xml.c_str()));
    if (!d) return undo(connectionFailed(lastError("define the VM of lab " + spec.labId)));
    logger()->info("libvirt: defined {} ({}, {} MiB, {} vCPU)", name, plan.domainType, plan.memoryKiB / 1024,
                   plan.vcpus);
    if (virDomainCreate(d.get()) < 0) {
      Status why = lastError("start the VM of lab " + spec.labId);
      unsigned flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_NVRAM;
      if (virDomainUndefineFlags(d.get(), flags) < 0) virResetLastError();
      return undo(why);
    }
    return observe(d.get(), plan.metadata, Deadline::after(5s));
  }

  Status makeDisk(const LabSpec& spec, const VmImage& image, const std::string& path, const Deadline& deadline) {
    std::vector<std::string> argv = {"qemu-img", "create", "-q", "-f", "qcow2"};
    int64_t size = spec.resources.diskBytes;
    if (!image.baseDisk.empty()) {
      argv.insert(argv.end(), {"-b", image.baseDisk, "-F", image.baseFormat, path});
      if (size > 0) {
        // Never smaller than the base: qemu-img would cut its end off.
        auto info = runTool({"qemu-img", "info", "--output=json", "-U", image.baseDisk}, deadline);
        if (!info) return info.status();
        int64_t base = 0;
        try {
          base = nlohmann::json::parse(*info).value("virtual-size", int64_t{0});
        } catch (const nlohmann::json::exception& e) {
          return internalError(std::string("qemu-img info: unexpected output: ") + e.what());
        }
        if (size > base) argv.push_back(std::to_string(size));
      }
    } else {
      argv.push_back(path);
      argv.push_back(std::to_string(size > 0 ? size : opts_.defaultDiskBytes));
    }
    auto r = runTool(argv, deadline);
    return r.status();
  }

  Status makeSeed(const LabSpec& spec, const fs::path& dir, const Deadline& deadline) {
    auto files = seedFiles(spec);
    if (!files) return files.status();
    std::string tool = isoTool();
    if (tool.empty()) return unavailableError("no ISO tool: apt-get install genisoimage");
    fs::path work = dir / kSeedWorkDir;
    std::error_code ec;
    fs::remove_all(work, ec);
    fs::create_directory(work, ec);
    if (ec) return internalError("make " + work.string() + ": " + ec.message());
    fs::permissions(work, fs::perms::owner_all, ec);
    for (const auto& [rel, content] : *files) {
      fs::path p = work / rel;
      fs::create_directories(p.parent_path(), ec);
      std::ofstream out(p, std::ios::binary | std::ios::trunc);
      out << content;
      if (!out) return internalError("write " + p.string());
    }
    std::string iso = (dir / kSeedFile).string();
    // Created 0600 before the tool writes into it: it holds a password hash.
    { std::ofstream touch(iso, std::ios::binary | std::ios::trunc); }
    ::chmod(iso.c_str(), 0600);
    // genisoimage, mkisofs and xorrisofs take the same arguments; the volume
    // label cidata is what NoCloud looks for.
    auto r = runTool({tool, "-quiet", "-output", iso, "-volid", "cidata", "-joliet", "-rock", work.string()}, deadline);
    fs::remove_all(work, ec);
    if (!r) return r.status();
    ::chmod(iso.c_str(), 0600);
    return Status::ok();
  }

  // ----- stop and destroy ------------------------------------------------

  // Waits until the domain is shut off; kTimeout at the deadline.
  Status waitShutOff(virDomainPtr d, const Deadline& until) {
    for (;;) {
      int state = 0, reason = 0;
      if (virDomainGetState(d, &state, &reason, 0) < 0) return lastError("state");
      if (state == VIR_DOMAIN_SHUTOFF) return Status::ok();
      if (until.expired()) return timeoutError("still " + std::string(stateName(state)));
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(until.remaining(), 200ms));
    }
  }

  Status stopDomain(virDomainPtr d, const std::string& labId, const Deadline& deadline) {
    int state = 0, reason = 0;
    if (virDomainGetState(d, &state, &reason, 0) < 0) return lastError("state of lab " + labId);
    if (state == VIR_DOMAIN_SHUTOFF) return Status::ok();
    if (state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED || state == VIR_DOMAIN_SHUTDOWN) {
      // Leave a second before the deadline for the hard power-off.
      Deadline graceful = deadline.capped(std::chrono::seconds(opts_.stopTimeoutSeconds));
      graceful = Deadline(std::min(graceful.at(), deadline.at() - std::chrono::seconds(1)));
      while (!graceful.expired()) {
        // The guest may not listen yet (still booting): press again every 5 s.
        if (virDomainShutdownFlags(d, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) < 0) {
          if (lastErrorCode() != VIR_ERR_OPERATION_INVALID) return lastError("shut down lab " + labId);
          virResetLastError();  // not running any more
        }
        if (waitShutOff(d, graceful.capped(5s)).isOk()) {
          logger()->info("libvirt: lab {} powered off", labId);
          return Status::ok();
        }
      }
      logger()->warn("libvirt: lab {} ignored the ACPI power button: forcing it off", labId);
    }
    if (deadline.expired()) return timeoutError("stop " + labId + ": deadline passed");
    if (virDomainDestroy(d) < 0) {
      if (lastErrorCode() == VIR_ERR_OPERATION_INVALID) {  // shut off meanwhile
        virResetLastError();
        return Status::ok();
      }
      return lastError("power off lab " + labId);
    }
    return Status::ok();
  }

  // Removes what darasa makes in a lab's directory, then the directory if
  // that emptied it. A missing directory is fine.
  Status removeLabFiles(const std::string& dirPath) {
    fs::path dir(dirPath);
    std::error_code ec;
    if (!fs::exists(dir, ec)) return Status::ok();
    for (const char* f : {kDiskFile, kSeedFile, kConsoleFile}) {
      fs::remove(dir / f, ec);
      if (ec) return internalError("remove " + (dir / f).string() + ": " + ec.message());
    }
    fs::remove_all(dir / kSeedWorkDir, ec);
    if (fs::is_empty(dir, ec)) fs::remove(dir, ec);
    else logger()->warn("libvirt: {} holds files darasa did not make: left in place", dir.string());
    return Status::ok();
  }

  std::string name_;
  const LibvirtOptions opts_;
  mutable std::mutex connMu_;
  Conn conn_;
  std::string engineVersion_;
  std::mutex locksMu_;
  std::map<std::string, std::shared_ptr<std::mutex>> labLocks_;
  std::mutex capMu_;
  std::optional<HostCapacity> capacity_;
};

std::unique_ptr<Provider> makeLibvirtProvider(LibvirtOptions options, std::string name) {
  return std::make_unique<LibvirtProvider>(std::move(name), std::move(options));
}

Result<std::unique_ptr<Provider>> makeLibvirtProviderFromConfig(const ProviderConfig& config) {
  auto opts = parseLibvirtOptions(config);
  if (!opts) return opts.status();
  return makeLibvirtProvider(std::move(*opts), config.name.empty() ? "libvirt" : config.name);
}

}  // namespace darasa::providers::libvirt
