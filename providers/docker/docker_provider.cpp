#include "docker/docker_provider.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "docker/docker_support.h"
#include "docker/engine_api.h"
#include "docker/tar_writer.h"

namespace darasa::providers::docker {

using nlohmann::json;
using Call = EngineApi::Call;

namespace {

constexpr const char* kLabelNetwork = "darasa.network";  // the lab's NetworkMode name
constexpr const char* kLabelPorts = "darasa.ports";      // encodePorts(spec.ports)
constexpr const char* kLabelKind = "darasa.kind";        // on networks: lab-network | cohort-network
constexpr const char* kImageHint =
    "build it with examples/images/build-busybox-lab.sh, or load it with `podman load` / `docker load` "
    "(darasa never pulls images)";
constexpr size_t kMaxExecOutput = 1u << 20;
// Written by stop() just before it stops a lab (see stoppedByUs).
constexpr const char* kStopMarker = "/etc/darasa/stopped-by-darasa";

std::shared_ptr<spdlog::logger> logger() {
  // Libraries install no sinks: use the executable's "docker" logger if it
  // made one, else its default logger.
  auto l = spdlog::get("docker");
  return l ? l : spdlog::default_logger();
}

enum class CredentialMode { kFiles, kEnv, kNone };

struct Options {
  http::Endpoint endpoint;
  std::string apiVersion = EngineApi::kMaxApiVersion;
  std::vector<Ulimit> ulimits;
  CredentialMode credentials = CredentialMode::kFiles;
  uint32_t credentialsUid = 1000;
  uint32_t credentialsGid = 1000;
  int stopTimeout = 10;
  Cidr subnetPool{(10u << 24) | (89u << 16), 16};
  bool internalNetworks = false;
  bool init = false;
  // Seen on 2 cores (bench_docker_provider, N = 20): 8 calls at once keep
  // Podman busy while labs wait for readiness; 4 left it idle part of the time.
  int maxParallel = 8;
};

const std::set<std::string>& knownOptions() {
  static const std::set<std::string> k = {"host",        "tlsCa",       "tlsCert",        "tlsKey",
                                          "apiVersion",  "ulimits",     "credentials",    "credentialsUid",
                                          "credentialsGid", "stopTimeout", "subnetPool", "internalNetworks",
                                          "init",        "maxParallel"};
  return k;
}

Result<int64_t> intOption(const std::string& key, const std::string& value, int64_t lo, int64_t hi) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || p != value.data() + value.size() || v < lo || v > hi)
    return invalidError("option " + key + "=\"" + value + "\": expected a whole number from " + std::to_string(lo) +
                        " to " + std::to_string(hi));
  return v;
}

std::string envOr(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

Result<Options> parseOptions(const ProviderConfig& config, const std::string& defaultHost) {
  const auto& o = config.options;
  for (const auto& [k, v] : o) {
    if (!knownOptions().count(k)) {
      std::string known;
      for (const auto& n : knownOptions()) known += (known.empty() ? "" : ", ") + n;
      return invalidError("unknown option \"" + k + "\" for the docker provider (known: " + known + ")");
    }
  }
  auto get = [&](const char* k) {
    auto it = o.find(k);
    return it == o.end() ? std::string() : it->second;
  };
  Options out;
  std::string host = get("host");
  std::string ca = get("tlsCa"), cert = get("tlsCert"), key = get("tlsKey");
  if (host.empty()) host = defaultHost;
  if (host.empty() && !envOr("DOCKER_HOST").empty()) {
    host = envOr("DOCKER_HOST");
    std::string certPath = envOr("DOCKER_CERT_PATH");
    if (host.rfind("tcp://", 0) == 0 && !certPath.empty() && ca.empty() && cert.empty() && key.empty()) {
      ca = certPath + "/ca.pem";
      cert = certPath + "/cert.pem";
      key = certPath + "/key.pem";
    }
  }
  if (host.empty()) {
    for (const char* sock : {"/run/podman/podman.sock", "/var/run/docker.sock"}) {
      std::error_code ec;
      if (std::filesystem::exists(sock, ec)) {
        host = std::string("unix://") + sock;
        break;
      }
    }
  }
  // Nothing found: usable() will say that nothing answers here, with a hint.
  if (host.empty()) host = "unix:///run/podman/podman.sock";
  auto ep = http::Endpoint::parse(host, ca, cert, key);
  if (!ep) return ep.status().withContext("option host");
  out.endpoint = *ep;

  if (auto v = get("apiVersion"); !v.empty()) {
    if (!compareApiVersions(v, "1.0")) return invalidError("option apiVersion=\"" + v + "\": expected e.g. 1.41");
    out.apiVersion = v;
  }
  if (auto v = get("ulimits"); !v.empty()) {
    auto u = parseUlimits(v);
    if (!u) return u.status().withContext("option ulimits");
    out.ulimits = *u;
  }
  if (auto v = get("credentials"); !v.empty()) {
    if (v == "files") out.credentials = CredentialMode::kFiles;
    else if (v == "env") out.credentials = CredentialMode::kEnv;
    else if (v == "none") out.credentials = CredentialMode::kNone;
    else return invalidError("option credentials=\"" + v + "\": expected files, env or none");
  }
  if (auto v = get("credentialsUid"); !v.empty()) {
    auto n = intOption("credentialsUid", v, 0, 2147483647);
    if (!n) return n.status();
    out.credentialsUid = static_cast<uint32_t>(*n);
  }
  if (auto v = get("credentialsGid"); !v.empty()) {
    auto n = intOption("credentialsGid", v, 0, 2147483647);
    if (!n) return n.status();
    out.credentialsGid = static_cast<uint32_t>(*n);
  }
  if (auto v = get("stopTimeout"); !v.empty()) {
    auto n = intOption("stopTimeout", v, 0, 3600);
    if (!n) return n.status();
    out.stopTimeout = static_cast<int>(*n);
  }
  if (auto v = get("maxParallel"); !v.empty()) {
    auto n = intOption("maxParallel", v, 1, 256);
    if (!n) return n.status();
    out.maxParallel = static_cast<int>(*n);
  }
  if (auto v = get("subnetPool"); !v.empty()) {
    auto c = parseCidr(v);
    if (!c || c->prefix > 23)
      return invalidError("option subnetPool=\"" + v + "\": expected an IPv4 range of at least two /24s, e.g. 10.89.0.0/16");
    out.subnetPool = *c;
  }
  if (auto v = get("init"); !v.empty()) {
    if (v != "true" && v != "false") return invalidError("option init=\"" + v + "\": expected true or false");
    out.init = v == "true";
  }
  if (auto v = get("internalNetworks"); !v.empty()) {
    if (v != "true" && v != "false") return invalidError("option internalNetworks=\"" + v + "\": expected true or false");
    out.internalNetworks = v == "true";
  }
  return out;
}

// --- JSON reading that never throws on a missing or mistyped field ---------

const json& field(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string strField(const json& j, const char* key) {
  const json& f = field(j, key);
  return f.is_string() ? f.get<std::string>() : "";
}

int64_t intField(const json& j, const char* key, int64_t fallback = 0) {
  const json& f = field(j, key);
  return f.is_number_integer() ? f.get<int64_t>() : fallback;
}

Labels labelsOf(const json& j) {
  Labels out;
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it->is_string()) out[it.key()] = it->get<std::string>();
  return out;
}

int64_t generationOf(const Labels& labels) {
  auto it = labels.find(kLabelGeneration);
  if (it == labels.end()) return 0;
  int64_t g = 0;
  std::from_chars(it->second.data(), it->second.data() + it->second.size(), g);
  return g;
}

std::string labelOr(const Labels& labels, const char* key) {
  auto it = labels.find(key);
  return it == labels.end() ? "" : it->second;
}

bool validUserName(const std::string& u) {
  if (u.empty() || u.size() > 32 || !(std::islower(static_cast<unsigned char>(u[0])) || u[0] == '_')) return false;
  return std::all_of(u.begin(), u.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_' ||
           c == '-';
  });
}

// Image references go into request paths: letters, digits and ._-/:@ only,
// and no "." or ".." path segments.
bool validImageRef(const std::string& ref) {
  if (ref.empty() || ref.size() > 512 || ref.front() == '/' || ref.back() == '/') return false;
  for (char c : ref)
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("._-/:@").find(c) == std::string_view::npos)
      return false;
  size_t start = 0;
  while (start <= ref.size()) {
    size_t end = ref.find('/', start);
    if (end == std::string::npos) end = ref.size();
    std::string_view seg(ref.data() + start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    start = end + 1;
  }
  return true;
}

std::string lastLines(const std::string& text, size_t maxChars) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (t.size() > maxChars) t = "…" + t.substr(t.size() - maxChars);
  return t;
}

// A TCP socket closed on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

// ---------------------------------------------------------------------------

class DockerProvider final : public Provider {
 public:
  DockerProvider(std::string name, Options options)
      : name_(std::move(name)), opts_(std::move(options)), api_(opts_.endpoint, opts_.apiVersion) {}

  ProviderInfo info() const override {
    ProviderInfo i;
    i.name = name_;
    i.kind = ProviderKind::kContainer;
    i.version = std::string("darasa-docker ") + DARASA_VERSION;
    if (auto v = api_.knownVersion())
      i.version += " (" + v->product + " " + v->version + ", API " + v->apiVersion + ")";
    i.capabilities.stopStart = true;
    i.capabilities.exec = true;
    i.capabilities.reset = true;
    i.maxParallel = opts_.maxParallel;
    return i;
  }

  Status usable() override {
    auto deadline = Deadline::after(std::chrono::seconds(5));
    auto v = api_.version(deadline);
    if (!v) return v.status();
    auto resp = api_.send(Call("GET", "/_ping"), deadline);
    if (!resp) return resp.status();
    if (!resp->ok()) return engineError(resp->status, resp->body, "ping the container engine");
    return Status::ok();
  }

  Status validate(const LabSpec& spec) override {
    if (auto s = validateSpec(spec); !s) return s;
    auto deadline = Deadline::after(std::chrono::seconds(10));
    try {
      auto info = hostInfo(deadline);
      if (!info) return info.status();
      int64_t memTotal = intField(*info, "MemTotal");
      int64_t ncpu = intField(*info, "NCPU");
      if (memTotal > 0 && spec.resources.memoryBytes > memTotal)
        return invalidError("resources.memory: " + std::to_string(spec.resources.memoryBytes) +
                            " bytes is more than the engine's host has (" + std::to_string(memTotal) + ")");
      if (ncpu > 0 && spec.resources.cpuMillis > ncpu * 1000)
        return invalidError("resources.cpus: " + std::to_string(spec.resources.cpuMillis / 1000.0) +
                            " is more than the engine's host has (" + std::to_string(ncpu) + ")");
      auto image = api_.send(Call("GET", "/images/" + spec.image + "/json"), deadline);
      if (!image) return image.status();
      if (image->status == 404) return missingImage(spec.image);
      if (!image->ok()) return engineError(image->status, image->body, "look up image " + spec.image);
    } catch (const json::exception& e) {
      return internalError(std::string("unexpected answer from the container engine: ") + e.what());
    }
    return Status::ok();
  }

  Result<ObservedLab> create(const LabSpec& spec, const Deadline& deadline) override {
    try {
      return createLab(spec, deadline);
    } catch (const json::exception& e) {
      return internalError("create " + spec.labId + ": unexpected answer from the container engine: " + e.what());
    }
  }

  Result<ObservedLab> inspect(const std::string& labId, const Deadline& deadline) override {
    try {
      auto id = findId(labId, deadline);
      if (!id) return id.status();
      if (id->empty()) return notFoundError("no container for lab " + labId);
      auto j = inspectContainer(*id, deadline);
      if (!j) return j.status();
      return observeInspected(*j, deadline);
    } catch (const json::exception& e) {
      return internalError("inspect " + labId + ": unexpected answer from the container engine: " + e.what());
    }
  }

  Result<std::vector<ObservedLab>> list(const LabelSelector& selector, const Deadline& deadline) override {
    try {
      std::vector<std::string> filters = {kLabelLab};
      for (const auto& [k, v] : selector.equals) filters.push_back(k + "=" + v);
      auto found = listContainers(filters, deadline);
      if (!found) return found.status();
      std::vector<ObservedLab> out;
      for (const auto& c : *found) {
        ObservedLab lab = observeListed(c, deadline);
        // The engine filtered already; this guards against an engine that ignores filters.
        if (selector.matches(lab.labels)) out.push_back(std::move(lab));
      }
      std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.labId < b.labId; });
      return out;
    } catch (const json::exception& e) {
      return internalError(std::string("list labs: unexpected answer from the container engine: ") + e.what());
    }
  }

  Status start(const std::string& labId, const Deadline& deadline) override {
    try {
      auto id = findId(labId, deadline);
      if (!id) return id.status();
      if (id->empty()) return notFoundError("no container for lab " + labId);
      auto j = inspectContainer(*id, deadline);
      if (!j) return j.status();
      if (strField(field(*j, "State"), "Status") == "paused") {
        auto r = api_.json(Call("POST", "/containers/" + *id + "/unpause"), deadline,
                           "unpause lab " + labId);
        return r.status();
      }
      return startContainer(*id, labId, deadline);
    } catch (const json::exception& e) {
      return internalError("start " + labId + ": unexpected answer from the container engine: " + e.what());
    }
  }

  Status stop(const std::string& labId, const Deadline& deadline) override {
    auto id = findId(labId, deadline);
    if (!id) return id.status();
    if (id->empty()) return notFoundError("no container for lab " + labId);
    auto j = inspectContainer(*id, deadline);
    if (!j) return j.status();
    std::string status = strField(field(*j, "State"), "Status");
    if (status == "running" || status == "paused" || status == "restarting") markStopped(*id, deadline);
    // The engine waits up to t seconds before SIGKILL; leave the request
    // time to come back before our deadline.
    auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline.remaining()).count();
    int64_t t = std::clamp<int64_t>(left - 2, 0, opts_.stopTimeout);
    auto r = api_.json(Call("POST", "/containers/" + *id + "/stop", {{"t", std::to_string(t)}}),
                       deadline, "stop lab " + labId, {304});
    if (!r && r.status().code() == Code::kNotFound) return notFoundError("no container for lab " + labId);
    return r.status();
  }

  Status destroy(const std::string& labId, const Deadline& deadline) override {
    try {
      return destroyLab(labId, deadline);
    } catch (const json::exception& e) {
      return internalError("destroy " + labId + ": unexpected answer from the container engine: " + e.what());
    }
  }

  Status probe(const LabSpec& spec, const Deadline& deadline) override {
    try {
      return probeLab(spec, deadline);
    } catch (const json::exception& e) {
      return internalError("probe " + spec.labId + ": unexpected answer from the container engine: " + e.what());
    }
  }

  Result<ExecResult> exec(const std::string& labId, const std::vector<std::string>& argv,
                          const Deadline& deadline) override {
    if (argv.empty()) return invalidError("exec: no command given");
    try {
      auto id = findId(labId, deadline);
      if (!id) return id.status();
      if (id->empty()) return notFoundError("no container for lab " + labId);
      return execIn(*id, labId, argv, deadline);
    } catch (const json::exception& e) {
      return internalError("exec in " + labId + ": unexpected answer from the container engine: " + e.what());
    }
  }

 private:
  // ----- checks ------------------------------------------------------------

  Status validateSpec(const LabSpec& spec) const {
    if (spec.labId.empty()) return invalidError("labId: required");
    if (spec.image.empty())
      return invalidError("image: required for the docker provider (e.g. localhost/darasa/busybox-lab:1)");
    if (!validImageRef(spec.image))
      return invalidError("image: \"" + spec.image + "\" is not an image reference (e.g. localhost/darasa/busybox-lab:1)");
    if (spec.network == NetworkMode::kHost)
      return invalidError("network: host is not allowed for docker labs (a lab would share the host's network); "
                          "use isolated, cohort or none");
    if (spec.network == NetworkMode::kCohort && spec.cohort.empty())
      return invalidError("network: cohort needs the lab's cohort");
    if (!spec.ports.empty() && spec.network == NetworkMode::kNone)
      return invalidError("ports: a lab with network none cannot publish ports (remove the ports or use network "
                          "isolated)");
    if (!spec.ports.empty() && opts_.internalNetworks && spec.network != NetworkMode::kNone)
      return invalidError("ports: this docker provider uses internal networks (internalNetworks=true), which "
                          "cannot publish ports");
    std::set<int> seen;
    for (const auto& p : spec.ports) {
      if (p.port < 1 || p.port > 65535)
        return invalidError("ports: " + p.name + ": port " + std::to_string(p.port) + " is not in 1..65535");
      if (!seen.insert(p.port).second)
        return invalidError("ports: port " + std::to_string(p.port) + " is listed twice");
    }
    if (!spec.readiness.tcpPort.empty() && !findPort(spec, spec.readiness.tcpPort))
      return invalidError("readiness.tcp: \"" + spec.readiness.tcpPort + "\" is not one of the lab's ports");
    if (spec.resources.memoryBytes > 0 && spec.resources.memoryBytes < (6 << 20))
      return invalidError("resources.memory: the engine needs at least 6Mi");
    if (spec.resources.cpuMillis < 0 || spec.resources.pids < 0 || spec.resources.memoryBytes < 0)
      return invalidError("resources: negative caps");
    return Status::ok();
  }

  static const PortSpec* findPort(const LabSpec& spec, const std::string& nameOrNumber) {
    for (const auto& p : spec.ports)
      if (p.name == nameOrNumber || std::to_string(p.port) == nameOrNumber) return &p;
    return nullptr;
  }

  Status missingImage(const std::string& image) const {
    return notFoundError("image \"" + image + "\" not found in the container engine at " + api_.endpoint().display() +
                         ": " + kImageHint);
  }

  Result<json> hostInfo(const Deadline& deadline) {
    {
      std::lock_guard<std::mutex> lock(infoMu_);
      if (hostInfo_) return *hostInfo_;
    }
    auto info = api_.json(Call("GET", "/info"), deadline, "ask the engine about its host (GET /info)");
    if (!info) return info.status();
    std::lock_guard<std::mutex> lock(infoMu_);
    hostInfo_ = *info;
    return *info;
  }

  // ----- observation -------------------------------------------------------

  Result<std::vector<json>> listContainers(const std::vector<std::string>& labelFilters, const Deadline& deadline) {
    json filters = {{"label", labelFilters}};
    auto r = api_.json(Call("GET", "/containers/json", {{"all", "true"}, {"filters", filters.dump()}}),
                       deadline, "list containers");
    if (!r) return r.status();
    if (!r->is_array()) return internalError("list containers: the engine's answer is not a list");
    std::vector<json> out;
    for (auto& c : *r) {
      // Only ever what carries darasa.lab, whatever the engine's filter did.
      if (labelsOf(field(c, "Labels")).count(kLabelLab)) out.push_back(c);
    }
    return out;
  }

  // The id of the lab's container; "" when there is none.
  Result<std::string> findId(const std::string& labId, const Deadline& deadline) {
    auto found = listContainers({std::string(kLabelLab) + "=" + labId}, deadline);
    if (!found) return found.status();
    for (const auto& c : *found)
      if (labelOr(labelsOf(field(c, "Labels")), kLabelLab) == labId) return strField(c, "Id");
    return std::string();
  }

  Result<json> inspectContainer(const std::string& id, const Deadline& deadline) {
    return api_.json(Call("GET", "/containers/" + id + "/json"), deadline, "inspect container " + id.substr(0, 12));
  }

  static std::vector<Endpoint> endpointsFrom(const Labels& labels,
                                             const std::map<std::string, std::pair<std::string, int>>& published) {
    std::vector<Endpoint> out;
    for (const auto& p : decodePorts(labelOr(labels, kLabelPorts))) {
      auto it = published.find(std::to_string(p.port) + "/tcp");
      if (it == published.end() || it->second.second <= 0) continue;
      std::string host = it->second.first;
      if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
      out.push_back(Endpoint{p.name, p.protocol, host, it->second.second});
    }
    return out;
  }

  // Whether darasa's stop() marked this container after it last started: a
  // lab we stopped whose process exited non-zero on SIGTERM is stopped, not
  // failed (the engine keeps no "stopped on purpose" flag).
  bool stoppedByUs(const std::string& id, const json& state, const Deadline& deadline) {
    auto started = parseRfc3339(strField(state, "StartedAt"));
    if (!started) return false;
    auto resp = api_.send(Call("HEAD", "/containers/" + id + "/archive", {{"path", kStopMarker}}),
                          deadline.capped(std::chrono::seconds(5)));
    if (!resp || !resp->ok()) return false;
    auto stat = decodeBase64(resp->header("x-docker-container-path-stat"));
    if (!stat) return false;
    json j = json::parse(*stat, nullptr, false);
    auto marked = parseRfc3339(strField(j, "mtime"));
    // Tar keeps whole seconds: a mark in the second the lab started counts.
    return marked && *marked >= *started;
  }

  ObservedLab observeInspected(const json& j, const Deadline& deadline) {
    ObservedLab lab;
    lab.resourceId = strField(j, "Id");
    lab.labels = labelsOf(field(field(j, "Config"), "Labels"));
    lab.labId = labelOr(lab.labels, kLabelLab);
    lab.generation = generationOf(lab.labels);
    const json& state = field(j, "State");
    std::string status = strField(state, "Status");
    int exitCode = static_cast<int>(intField(state, "ExitCode"));
    bool oom = field(state, "OOMKilled").is_boolean() && field(state, "OOMKilled").get<bool>();
    lab.state = mapContainerState(status, exitCode, oom);
    lab.detail = detailFor(status, exitCode, strField(state, "Error"));
    if (oom) lab.detail += " (killed for using more memory than its cap)";
    if (neverStarted(status)) markHalfMade(lab);
    if (lab.state == ObservedState::kFailed && !oom && (status == "exited" || status == "stopped") &&
        stoppedByUs(lab.resourceId, state, deadline)) {
      lab.state = ObservedState::kStopped;
      lab.detail += " after darasa stopped it";
    }
    std::map<std::string, std::pair<std::string, int>> published;
    const json& ports = field(field(j, "NetworkSettings"), "Ports");
    if (ports.is_object()) {
      for (auto it = ports.begin(); it != ports.end(); ++it) {
        if (!it->is_array() || it->empty()) continue;
        const json& b = (*it)[0];
        int hostPort = 0;
        std::string hp = strField(b, "HostPort");
        std::from_chars(hp.data(), hp.data() + hp.size(), hostPort);
        published[it.key()] = {strField(b, "HostIp"), hostPort};
      }
    }
    lab.endpoints = endpointsFrom(lab.labels, published);
    return lab;
  }

  ObservedLab observeListed(const json& c, const Deadline& deadline) {
    ObservedLab lab;
    lab.resourceId = strField(c, "Id");
    lab.labels = labelsOf(field(c, "Labels"));
    lab.labId = labelOr(lab.labels, kLabelLab);
    lab.generation = generationOf(lab.labels);
    std::string status = strField(c, "State");
    // "Exited (137) 5 seconds ago": the list has no exit code field.
    int exitCode = 0;
    std::string human = strField(c, "Status");
    if (auto open = human.find('('); open != std::string::npos)
      std::from_chars(human.data() + open + 1, human.data() + human.size(), exitCode);
    lab.state = mapContainerState(status, exitCode);
    lab.detail = detailFor(status, exitCode, "");
    if (neverStarted(status)) markHalfMade(lab);
    if (lab.state == ObservedState::kFailed && !neverStarted(status)) {
      // Failed or stopped by us? Only a full inspection can tell.
      auto j = inspectContainer(lab.resourceId, deadline);
      if (j) return observeInspected(*j, deadline);
    }
    std::map<std::string, std::pair<std::string, int>> published;
    const json& ports = field(c, "Ports");
    if (ports.is_array()) {
      for (const auto& p : ports) {
        int pub = static_cast<int>(intField(p, "PublicPort"));
        if (pub <= 0) continue;
        std::string type = strField(p, "Type");
        published[std::to_string(intField(p, "PrivatePort")) + "/" + (type.empty() ? "tcp" : type)] = {
            strField(p, "IP"), pub};
      }
    }
    lab.endpoints = endpointsFrom(lab.labels, published);
    return lab;
  }

  // create() starts every container it makes (and removes it when the start
  // fails), so a darasa container that was never started is what a create
  // left when it was cut short — e.g. the engine stopped between making the
  // container and uploading the trainee's credentials. Starting it would give
  // a lab without them: report it failed, so that it is made again.
  static bool neverStarted(const std::string& status) { return status == "created" || status == "configured"; }
  static void markHalfMade(ObservedLab& lab) {
    lab.state = ObservedState::kFailed;
    lab.detail = "made but never started: a create that did not finish (its credentials may be missing)";
  }

  static std::string detailFor(const std::string& status, int exitCode, const std::string& error) {
    std::string d;
    if (status == "exited" || status == "stopped") d = "exited with code " + std::to_string(exitCode);
    else if (status == "created") d = "created, not started";
    else d = status;
    if (!error.empty()) d += ": " + error;
    return d;
  }

  // ----- networks ----------------------------------------------------------

  std::shared_ptr<std::mutex> cohortLock(const std::string& cohort) {
    std::lock_guard<std::mutex> lock(cohortLocksMu_);
    auto& m = cohortLocks_[cohort];
    if (!m) m = std::make_shared<std::mutex>();
    return m;
  }

  // The labels of network `name`; nullopt when there is none. On Podman
  // through its own API: the compatible inspect lists the network's
  // containers the slow way (0.5-1.5 s with 20 labs on a loaded machine).
  Result<std::optional<Labels>> networkLabels(const std::string& name, const Deadline& deadline) {
    auto v = api_.knownVersion();
    bool libpod = v && v->podman;
    auto resp = libpod ? api_.sendLibpod(Call("GET", "/networks/" + name + "/json"), deadline)
                       : api_.send(Call("GET", "/networks/" + name), deadline);
    if (!resp) return resp.status().withContext("look up network " + name);
    if (resp->status == 404) return std::optional<Labels>();
    if (!resp->ok()) return engineError(resp->status, resp->body, "look up network " + name);
    json net = json::parse(resp->body);
    return std::optional<Labels>(labelsOf(field(net, libpod ? "labels" : "Labels")));
  }

  // The subnets of the engine's networks. On Podman through its own API:
  // the compatible GET /networks inspects every container of every network
  // (seen: 2-4 s with 20 networks on a loaded 2-core machine, paid by each
  // lab), libpod's list answers in tens of milliseconds.
  Result<std::vector<Cidr>> usedSubnets(const Deadline& deadline) {
    std::vector<Cidr> used;
    auto v = api_.knownVersion();
    if (v && v->podman) {
      auto r = api_.sendLibpod(Call("GET", "/networks/json"), deadline);
      if (!r) return r.status().withContext("list networks");
      json nets = r->ok() ? json::parse(r->body, nullptr, false) : json();
      if (nets.is_array()) {
        for (const auto& n : nets) {
          const json& subnets = field(n, "subnets");
          if (!subnets.is_array()) continue;
          for (const auto& sn : subnets)
            if (auto cidr = parseCidr(strField(sn, "subnet"))) used.push_back(*cidr);
        }
        return used;
      }
      // Not what Podman 4 answers: use the compatible list below.
    }
    auto nets = api_.json(Call("GET", "/networks"), deadline, "list networks");
    if (!nets) return nets.status();
    if (nets->is_array()) {
      for (const auto& n : *nets) {
        const json& configs = field(field(n, "IPAM"), "Config");
        if (!configs.is_array()) continue;
        for (const auto& c : configs)
          if (auto cidr = parseCidr(strField(c, "Subnet"))) used.push_back(*cidr);
      }
    }
    return used;
  }

  // The NetworkMode for the lab, making its network if needed.
  Result<std::string> ensureNetwork(const LabSpec& spec, const Deadline& deadline) {
    if (spec.network == NetworkMode::kNone) return std::string("none");
    std::string name;
    Labels labels;
    if (spec.network == NetworkMode::kCohort) {
      name = cohortNetworkName(spec.cohort);
      labels = {{kLabelCohort, spec.cohort}, {kLabelKind, "cohort-network"}};
    } else {
      name = labNetworkName(spec.labId);
      labels = {{kLabelLab, spec.labId}, {kLabelCohort, spec.cohort}, {kLabelKind, "lab-network"}};
    }
    const std::string ownerKey = spec.network == NetworkMode::kCohort ? kLabelCohort : kLabelLab;
    const std::string owner = labels[ownerKey];

    auto check = [&](const Labels& netLabels) -> Status {
      if (labelOr(netLabels, ownerKey.c_str()) != owner)
        return conflictError("a network named " + name + " exists that darasa did not make for " + owner +
                             ": remove or rename it");
      return Status::ok();
    };

    auto existing = networkLabels(name, deadline);
    if (!existing) return existing.status();
    if (*existing) {
      if (auto s = check(**existing); !s) return s;
      return name;
    }

    auto used = usedSubnets(deadline);
    if (!used) return used.status();
    for (int attempt = 0; attempt < 8; ++attempt) {
      // Labs made at once must not pick the same /24 from the same listing:
      // a subnet is ours while its create runs, and a while after.
      std::optional<Cidr> subnet;
      {
        std::lock_guard<std::mutex> lock(subnetMu_);
        auto now = std::chrono::steady_clock::now();
        std::vector<Cidr> avoid;
        for (auto it = avoidSubnets_.begin(); it != avoidSubnets_.end();) {
          if (it->second <= now) {
            it = avoidSubnets_.erase(it);
          } else {
            avoid.push_back(Cidr{it->first, 24});
            ++it;
          }
        }
        subnet = pickSubnet(opts_.subnetPool, *used, avoid);
        if (!subnet) {
          // A full pool: what we only remember (made or refused a while
          // ago) may be free again; keep avoiding only creates in flight.
          avoid.clear();
          for (auto it = avoidSubnets_.begin(); it != avoidSubnets_.end();) {
            if (it->second != std::chrono::steady_clock::time_point::max()) {
              it = avoidSubnets_.erase(it);
            } else {
              avoid.push_back(Cidr{it->first, 24});
              ++it;
            }
          }
          subnet = pickSubnet(opts_.subnetPool, *used, avoid);
        }
        if (subnet) avoidSubnets_[subnet->base] = std::chrono::steady_clock::time_point::max();
      }
      if (!subnet)
        return quotaError("no free /24 left in the subnet pool " + opts_.subnetPool.toString() +
                          " for network " + name + ": remove unused darasa networks or set a larger subnetPool");
      // How long to keep avoiding it: made (a listing shows it from now on),
      // refused (taken outside the engine's networks, e.g. a host interface),
      // or not ours after all.
      auto release = [&](std::chrono::steady_clock::duration keep) {
        std::lock_guard<std::mutex> lock(subnetMu_);
        if (keep.count() > 0) avoidSubnets_[subnet->base] = std::chrono::steady_clock::now() + keep;
        else avoidSubnets_.erase(subnet->base);
      };
      Cidr gw{subnet->base + 1, 32};
      std::string gateway = gw.toString();
      gateway.resize(gateway.find('/'));
      json body = {{"Name", name},
                   {"Driver", "bridge"},
                   {"CheckDuplicate", true},
                   {"Internal", opts_.internalNetworks},
                   {"Labels", labels},
                   {"IPAM", {{"Driver", "default"}, {"Config", {{{"Subnet", subnet->toString()}, {"Gateway", gateway}}}}}}};
      auto v = api_.knownVersion();
      // Podman (netavark): no traffic between networks that carry "isolate";
      // Docker's bridges are isolated from each other by default.
      if (v && v->podman) body["Options"] = {{"isolate", "true"}};
      auto resp = api_.send(Call("POST", "/networks/create").withJson(body), deadline);
      if (!resp) {
        release(std::chrono::seconds(0));
        return resp.status().withContext("create network " + name);
      }
      if (resp->ok()) {
        release(std::chrono::minutes(1));
        logger()->info("docker: made network {} ({})", name, subnet->toString());
        return name;
      }
      Status err = engineError(resp->status, resp->body, "create network " + name);
      std::string msg = engineMessage(resp->body);
      if (msg.find("subnet") != std::string::npos &&
          (msg.find("already used") != std::string::npos || msg.find("overlap") != std::string::npos)) {
        release(std::chrono::minutes(10));  // taken on the host or by another engine client
        continue;
      }
      release(std::chrono::seconds(0));
      if (err.code() == Code::kConflict) {  // made by someone else meanwhile
        auto again = networkLabels(name, deadline);
        if (!again) return again.status();
        if (!*again) return unavailableError("network " + name + " was made and removed meanwhile: try again");
        if (auto s = check(**again); !s) return s;
        return name;
      }
      return err;
    }
    return unavailableError("create network " + name + ": every subnet tried was refused by the engine");
  }

  // Removes a darasa network if it exists and carries key=value; a network
  // still in use is left alone.
  Status removeNetwork(const std::string& name, const std::string& key, const std::string& value,
                       const Deadline& deadline) {
    auto labels = networkLabels(name, deadline);
    if (!labels) return labels.status();
    if (!*labels) return Status::ok();
    if (labelOr(**labels, key.c_str()) != value) return Status::ok();  // not ours
    auto del = api_.send(Call("DELETE", "/networks/" + name), deadline);
    if (!del) return del.status().withContext("remove network " + name);
    if (del->ok() || del->status == 404) {
      logger()->info("docker: removed network {}", name);
      return Status::ok();
    }
    Status err = engineError(del->status, del->body, "remove network " + name);
    std::string msg = engineMessage(del->body);
    if (err.code() == Code::kConflict || msg.find("in use") != std::string::npos ||
        msg.find("active endpoints") != std::string::npos || msg.find("associated containers") != std::string::npos) {
      return Status::ok();  // another lab (maybe of another darasa) still uses it
    }
    return err;
  }

  // ----- create ------------------------------------------------------------

  json createBody(const LabSpec& spec, const std::string& network) const {
    Labels labels = spec.labels;
    labels[kLabelLab] = spec.labId;
    labels[kLabelCohort] = spec.cohort;
    labels[kLabelTrainee] = spec.trainee;
    labels[kLabelGeneration] = std::to_string(spec.generation);
    labels[kLabelTemplateHash] = spec.templateHash;
    labels[kLabelNetwork] = networkModeName(spec.network);
    labels[kLabelPorts] = encodePorts(spec.ports);

    json env = json::array();
    for (const auto& [k, v] : spec.env) env.push_back(k + "=" + v);
    if (opts_.credentials == CredentialMode::kEnv) {
      const auto& c = spec.credentials;
      std::string user = c.user.empty() ? spec.access.user : c.user;
      env.push_back("DARASA_USER=" + user);
      if (spec.access.password && !c.password.empty()) env.push_back("DARASA_PASSWORD=" + c.password.reveal());
      if (spec.access.password && !c.passwordHash.empty()) env.push_back("DARASA_PASSWORD_HASH=" + c.passwordHash);
      if (spec.access.sshKey && !c.authorizedKey.empty()) env.push_back("DARASA_AUTHORIZED_KEY=" + c.authorizedKey);
    }

    json exposed = json::object();
    json bindings = json::object();
    for (const auto& p : spec.ports) {
      std::string key = std::to_string(p.port) + "/tcp";
      exposed[key] = json::object();
      // HostPort "": the engine picks a free port; inspect tells which.
      bindings[key] = json::array({{{"HostIp", "127.0.0.1"}, {"HostPort", ""}}});
    }

    json host = {{"NetworkMode", network}, {"PortBindings", bindings}, {"RestartPolicy", {{"Name", "no"}}}};
    if (opts_.init) host["Init"] = true;
    if (spec.resources.cpuMillis > 0) host["NanoCpus"] = spec.resources.cpuMillis * 1000000;
    if (spec.resources.memoryBytes > 0) {
      host["Memory"] = spec.resources.memoryBytes;
      host["MemorySwap"] = spec.resources.memoryBytes;  // equal: no swap on top
    }
    if (spec.resources.pids > 0) host["PidsLimit"] = spec.resources.pids;
    if (!opts_.ulimits.empty()) {
      json u = json::array();
      for (const auto& l : opts_.ulimits) u.push_back({{"Name", l.name}, {"Soft", l.soft}, {"Hard", l.hard}});
      host["Ulimits"] = u;
    }

    json body = {{"Image", spec.image},
                 {"Env", env},
                 {"Labels", labels},
                 {"Hostname", hostName(spec.labId)},
                 {"ExposedPorts", exposed},
                 {"Tty", false},
                 {"OpenStdin", false},
                 {"HostConfig", host}};
    if (!spec.command.empty()) body["Cmd"] = spec.command;
    if (!spec.workdir.empty()) body["WorkingDir"] = spec.workdir;
    if (!spec.user.empty()) body["User"] = spec.user;
    if (network != "none") body["NetworkingConfig"] = {{"EndpointsConfig", {{network, json::object()}}}};
    return body;
  }

  // storageOnly: Podman said the name is held in its container storage.
  Result<ObservedLab> adoptByName(const std::string& name, const std::string& labId, bool storageOnly,
                                  const Deadline& deadline) {
    // Docker reserves the name before the racing create has registered its
    // container: for a moment the name is taken and inspect says 404.
    auto j = inspectContainer(name, deadline);
    for (int i = 0; i < 30 && !j && j.status().code() == Code::kNotFound && !deadline.expired(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      j = inspectContainer(name, deadline);
    }
    if (!j && j.status().code() == Code::kNotFound && storageOnly) {
      // Seen with Podman 4.3 when its API service dies during a create: the
      // storage container (which holds the name) exists, the container never
      // got recorded, and no create can use the name again. Three seconds
      // on, no create still in progress holds it: remove the leftover (a
      // forced remove by name also removes storage-only containers) and let
      // the caller try again.
      auto rm = api_.send(Call("DELETE", "/containers/" + name, {{"force", "true"}, {"v", "true"}}), deadline);
      if (rm && (rm->ok() || rm->status == 404)) {
        logger()->warn("docker: removed {}, a half-made container left by an earlier create of lab {}", name,
                       labId);
        return unavailableError("the container name " + name + " was held by a half-made container (left by an "
                                "engine that stopped during a create); removed it: try again");
      }
    }
    if (!j && j.status().code() == Code::kNotFound)
      return unavailableError("the container name " + name + " is taken by a container that is still being made "
                              "or was removed meanwhile: try again");
    if (!j) return j.status();
    auto labels = labelsOf(field(field(*j, "Config"), "Labels"));
    if (labelOr(labels, kLabelLab) != labId)
      return conflictError("the container name " + name + " is taken by a container darasa did not make for lab " +
                           labId + " (id " + strField(*j, "Id").substr(0, 12) + "): remove or rename it");
    return observeInspected(*j, deadline);
  }

  Result<ObservedLab> createLab(const LabSpec& spec, const Deadline& deadline) {
    if (auto s = validateSpec(spec); !s) return s;
    auto existing = findId(spec.labId, deadline);
    if (!existing) return existing.status();
    if (!existing->empty()) {
      auto j = inspectContainer(*existing, deadline);
      if (!j) return j.status();
      return observeInspected(*j, deadline);
    }

    // A missing image fails here, before any network is made for the lab.
    auto image = api_.send(Call("GET", "/images/" + spec.image + "/json"), deadline);
    if (!image) return image.status().withContext("look up image " + spec.image);
    if (image->status == 404) return missingImage(spec.image);
    if (!image->ok()) return engineError(image->status, image->body, "look up image " + spec.image);

    const std::string name = containerName(spec.labId);
    std::string id;
    Status failed;
    {
      // A cohort's network must not be removed between making sure it
      // exists and attaching this lab's container to it.
      std::shared_ptr<std::mutex> cohortMu;
      std::unique_lock<std::mutex> cohortGuard;
      if (spec.network == NetworkMode::kCohort) {
        cohortMu = cohortLock(spec.cohort);
        cohortGuard = std::unique_lock<std::mutex>(*cohortMu);
      }
      for (int attempt = 0;; ++attempt) {
        auto network = ensureNetwork(spec, deadline);
        if (!network) {
          failed = network.status();
          break;
        }
        auto resp = api_.send(
            Call("POST", "/containers/create", {{"name", name}}).withJson(createBody(spec, *network)), deadline);
        if (!resp) {
          failed = resp.status().withContext("create container " + name);
          break;
        }
        if (resp->ok()) {
          id = strField(json::parse(resp->body), "Id");
          break;
        }
        Status err = engineError(resp->status, resp->body, "create container " + name);
        std::string msg = engineMessage(resp->body);
        bool aboutNetwork = msg.find("network") != std::string::npos;
        if (err.code() == Code::kNotFound && aboutNetwork && attempt == 0) continue;  // removed meanwhile
        if (err.code() == Code::kConflict) {
          auto v = api_.knownVersion();
          bool storageOnly = v && v->podman && msg.find("container storage") != std::string::npos;
          return adoptByName(name, spec.labId, storageOnly, deadline);
        }
        failed = err.code() == Code::kNotFound && !aboutNetwork ? missingImage(spec.image) : err;
        break;
      }
    }
    if (!failed.isOk()) {
      removeLabNetworks(spec.labId, spec.network == NetworkMode::kCohort ? spec.cohort : "",
                        Deadline::after(std::chrono::seconds(15)));
      return failed;
    }
    logger()->info("docker: created {} for lab {}", id.substr(0, 12), spec.labId);

    // Until it has started, a failure leaves nothing half made behind.
    auto undo = [&](Status why) -> Status {
      auto cleanup = Deadline::after(std::chrono::seconds(15));
      (void)api_.send(Call("DELETE", "/containers/" + id, {{"force", "true"}, {"v", "true"}}), cleanup);
      removeLabNetworks(spec.labId, spec.network == NetworkMode::kCohort ? spec.cohort : "", cleanup);
      return why;
    };
    if (opts_.credentials == CredentialMode::kFiles) {
      if (auto s = injectCredentials(id, spec, deadline); !s) return undo(s);
    }
    if (auto s = startContainer(id, spec.labId, deadline); !s) return undo(s);
    auto j = inspectContainer(id, deadline);
    if (!j) return j.status();
    return observeInspected(*j, deadline);
  }

  // Best effort: without the mark a lab that exits non-zero on SIGTERM will
  // look failed rather than stopped.
  void markStopped(const std::string& id, const Deadline& deadline) {
    TarWriter tar;
    tar.setMtime(static_cast<int64_t>(std::time(nullptr)));
    std::string path = std::string(kStopMarker).substr(1);
    if (!tar.addDirectory(path.substr(0, path.rfind('/')), 0755).isOk() ||
        !tar.addFile(path, "stopped by darasa\n", 0644).isOk())
      return;
    auto r = api_.send(Call("PUT", "/containers/" + id + "/archive", {{"path", "/"}})
                           .withRaw(tar.finish(), "application/x-tar"),
                       deadline.capped(std::chrono::seconds(5)));
    if (!r || !r->ok())
      logger()->warn("docker: could not mark {} as stopped by darasa: {}", id.substr(0, 12),
                     r ? engineMessage(r->body) : r.status().message());
  }

  Status startContainer(const std::string& id, const std::string& labId, const Deadline& deadline) {
    auto r = api_.json(Call("POST", "/containers/" + id + "/start"), deadline, "start lab " + labId,
                       {304});
    if (!r && r.status().code() == Code::kNotFound && r.status().message().find("image") == std::string::npos)
      return notFoundError("no container for lab " + labId);
    return r.status();
  }

  Status injectCredentials(const std::string& id, const LabSpec& spec, const Deadline& deadline) {
    const auto& c = spec.credentials;
    bool password = spec.access.password && !c.passwordHash.empty();
    bool key = spec.access.sshKey && !c.authorizedKey.empty();
    if (!password && !key) return Status::ok();
    std::string user = c.user.empty() ? spec.access.user : c.user;
    if (!validUserName(user))
      return invalidError("access.user: \"" + user + "\" is not a valid user name (lower-case letters, digits, _ and -)");
    if (password && c.passwordHash.find_first_of("\n:") != std::string::npos)
      return invalidError("credentials: the password hash is malformed");
    TarWriter tar;
    Status s = tar.addDirectory("etc/darasa", 0755);
    if (s) s = tar.addFile("etc/darasa/user", user + "\n", 0644);
    if (s && password) s = tar.addFile("etc/darasa/password.hash", c.passwordHash + "\n", 0600);
    if (s && key) {
      uint32_t uid = opts_.credentialsUid, gid = opts_.credentialsGid;
      std::string home = "home/" + user;
      s = tar.addDirectory(home, 0755, uid, gid);
      if (s) s = tar.addDirectory(home + "/.ssh", 0700, uid, gid);
      if (s) s = tar.addFile(home + "/.ssh/authorized_keys", c.authorizedKey + "\n", 0600, uid, gid);
    }
    if (!s) return s;
    auto r = api_.json(Call("PUT", "/containers/" + id + "/archive", {{"path", "/"}})
                           .withRaw(tar.finish(), "application/x-tar"),
                       deadline, "put the trainee's credentials into lab " + spec.labId);
    return r.status();
  }

  // ----- destroy -----------------------------------------------------------

  Status destroyLab(const std::string& labId, const Deadline& deadline) {
    auto found = listContainers({std::string(kLabelLab) + "=" + labId}, deadline);
    if (!found) return found.status();
    std::set<std::string> cohortNetworks;
    for (const auto& c : *found) {
      Labels labels = labelsOf(field(c, "Labels"));
      if (labelOr(labels, kLabelLab) != labId) continue;
      std::string id = strField(c, "Id");
      auto r = api_.send(Call("DELETE", "/containers/" + id, {{"force", "true"}, {"v", "true"}}),
                         deadline);
      if (!r) return r.status().withContext("remove the container of lab " + labId);
      if (!r->ok() && r->status != 404) {
        Status err = engineError(r->status, r->body, "remove the container of lab " + labId);
        if (err.code() != Code::kNotFound) return err;
      }
      logger()->info("docker: removed {} of lab {}", id.substr(0, 12), labId);
      if (labelOr(labels, kLabelNetwork) == "cohort") cohortNetworks.insert(labelOr(labels, kLabelCohort));
    }
    // Also after a create that died half-way: the lab's own network.
    if (auto s = removeNetwork(labNetworkName(labId), kLabelLab, labId, deadline); !s) return s;
    for (const auto& cohort : cohortNetworks)
      if (auto s = removeCohortNetworkIfUnused(cohort, deadline); !s) return s;
    return Status::ok();
  }

  // The cohort's network, once no darasa container of the cohort is left.
  Status removeCohortNetworkIfUnused(const std::string& cohort, const Deadline& deadline) {
    auto mu = cohortLock(cohort);
    std::lock_guard<std::mutex> guard(*mu);
    auto left = listContainers({std::string(kLabelCohort) + "=" + cohort}, deadline);
    if (!left) return left.status();
    if (!left->empty()) return Status::ok();
    return removeNetwork(cohortNetworkName(cohort), kLabelCohort, cohort, deadline);
  }

  // Best effort, after a create that failed: the networks made for it.
  void removeLabNetworks(const std::string& labId, const std::string& cohort, const Deadline& deadline) {
    Status s = removeNetwork(labNetworkName(labId), kLabelLab, labId, deadline);
    if (s && !cohort.empty()) s = removeCohortNetworkIfUnused(cohort, deadline);
    if (!s) logger()->warn("docker: cleaning up after lab {}: {}", labId, s.toString());
  }

  // ----- exec and readiness ------------------------------------------------

  Result<ExecResult> execIn(const std::string& id, const std::string& labId, const std::vector<std::string>& argv,
                            const Deadline& deadline) {
    json body = {{"AttachStdin", false}, {"AttachStdout", true}, {"AttachStderr", true},
                 {"Tty", false},         {"Cmd", argv}};
    auto made = api_.json(Call("POST", "/containers/" + id + "/exec").withJson(body), deadline,
                          "exec in lab " + labId);
    if (!made) return made.status();
    std::string execId = strField(*made, "Id");
    if (execId.empty()) return internalError("exec in lab " + labId + ": the engine returned no exec id");
    // Without Detach the answer is the command's output stream, until it exits.
    auto started = api_.send(Call("POST", "/exec/" + execId + "/start")
                                 .withJson(json{{"Detach", false}, {"Tty", false}})
                                 .withMaxBody(kMaxExecOutput),
                             deadline);
    if (!started) return started.status().withContext("exec in lab " + labId);
    if (!started->ok()) return engineError(started->status, started->body, "exec in lab " + labId);
    ExecResult result;
    result.output = demuxStream(started->body);
    // The exit code may lag the end of the stream by a moment.
    for (int i = 0;; ++i) {
      auto state = api_.json(Call("GET", "/exec/" + execId + "/json"), deadline, "exec in lab " + labId);
      if (!state) return state.status();
      if (!field(*state, "Running").is_boolean() || !field(*state, "Running").get<bool>()) {
        result.exitCode = static_cast<int>(intField(*state, "ExitCode", -1));
        return result;
      }
      if (deadline.expired()) return timeoutError("exec in lab " + labId + ": still running at the deadline");
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(20 * (i + 1), 200)));
    }
  }

  Status probeLab(const LabSpec& spec, const Deadline& deadline) {
    auto id = findId(spec.labId, deadline);
    if (!id) return id.status();
    if (id->empty()) return notFoundError("no container for lab " + spec.labId);
    auto j = inspectContainer(*id, deadline);
    if (!j) return j.status();
    ObservedLab lab = observeInspected(*j, deadline);
    switch (lab.state) {
      case ObservedState::kRunning: break;
      case ObservedState::kCreating: return unavailableError("lab " + spec.labId + " is starting");
      case ObservedState::kStopped: return invalidError("lab " + spec.labId + " is stopped (" + lab.detail + ")");
      case ObservedState::kFailed: {
        std::string tail = logTail(*id, deadline);
        return internalError("lab " + spec.labId + " " + lab.detail + (tail.empty() ? "" : ": " + tail));
      }
      case ObservedState::kUnknown: return unavailableError("lab " + spec.labId + " is " + lab.detail);
    }

    if (!spec.readiness.exec.empty()) {
      auto r = execIn(*id, spec.labId, spec.readiness.exec, deadline);
      if (!r) return r.status().code() == Code::kConflict ? unavailableError(r.status().message()) : r.status();
      if (r->exitCode == 0) return Status::ok();
      return unavailableError("readiness command " + spec.readiness.exec[0] + " exited with " +
                              std::to_string(r->exitCode) + (r->output.empty() ? "" : ": " + lastLines(r->output, 200)));
    }
    if (!spec.readiness.tcpPort.empty()) {
      const PortSpec* port = findPort(spec, spec.readiness.tcpPort);
      if (!port) return invalidError("readiness.tcp: \"" + spec.readiness.tcpPort + "\" is not one of the lab's ports");
      const Endpoint* ep = nullptr;
      for (const auto& e : lab.endpoints)
        if (e.name == port->name) ep = &e;
      if (!ep) return unavailableError("port " + port->name + " of lab " + spec.labId + " is not published yet");
      return tcpReady(*id, spec.labId, *port, *ep, deadline);
    }
    return Status::ok();
  }

  Status tcpReady(const std::string& id, const std::string& labId, const PortSpec& port, const Endpoint& ep,
                  const Deadline& deadline) {
    std::string where = "127.0.0.1:" + std::to_string(ep.port) + " (port " + port.name + " of lab " + labId + ")";
    Fd sock{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
    if (sock.fd < 0) return internalError(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(ep.port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // only ever 127.0.0.1
    auto waitFor = [&](short events, std::chrono::milliseconds cap) {
      pollfd p{sock.fd, events, 0};
      int ms = static_cast<int>(std::min(deadline.remaining(), cap).count());
      return ::poll(&p, 1, ms);
    };
    if (::connect(sock.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (errno != EINPROGRESS) return unavailableError("nothing accepts on " + where + " yet: " + std::strerror(errno));
      if (waitFor(POLLOUT, std::chrono::milliseconds(2000)) <= 0)
        return unavailableError("no connection to " + where + " within 2 s");
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return unavailableError("nothing accepts on " + where + " yet: " + std::strerror(err));
    }
    // A service that speaks first (SSH) settles it; a forwarder that accepts
    // for a service not up yet closes the connection.
    if (waitFor(POLLIN, std::chrono::milliseconds(300)) > 0) {
      char buf[64];
      ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
      if (n > 0) return Status::ok();
      return unavailableError(where + " accepted and closed the connection: the service is not up yet");
    }
    // Silence: a quiet service (HTTP), or a port that accepts for nobody.
    // Look inside the lab for a listening socket.
    auto r = execIn(id, labId, {"cat", "/proc/net/tcp", "/proc/net/tcp6"}, deadline);
    if (!r || r->output.find("local_address") == std::string::npos) return Status::ok();  // cannot tell: it accepted
    if (procNetTcpListens(r->output, port.port)) return Status::ok();
    return unavailableError("nothing listens on port " + std::to_string(port.port) + " inside lab " + labId + " yet");
  }

  std::string logTail(const std::string& id, const Deadline& deadline) {
    auto r = api_.send(Call("GET", "/containers/" + id + "/logs", {{"stdout", "true"}, {"stderr", "true"}, {"tail", "5"}})
                           .withMaxBody(64 << 10),
                       deadline.capped(std::chrono::seconds(5)));
    if (!r || !r->ok()) return "";
    return lastLines(demuxStream(r->body), 300);
  }

  std::string name_;
  const Options opts_;
  EngineApi api_;
  // Subnets not to hand out (base of the /24 → until when): being created by
  // this provider, made a moment ago, or refused by the engine.
  std::mutex subnetMu_;
  std::map<uint32_t, std::chrono::steady_clock::time_point> avoidSubnets_;
  std::mutex cohortLocksMu_;
  std::map<std::string, std::shared_ptr<std::mutex>> cohortLocks_;
  std::mutex infoMu_;
  std::optional<json> hostInfo_;
};

Result<std::unique_ptr<Provider>> makeDockerProvider(const ProviderConfig& config) {
  auto opts = parseOptions(config, "");
  if (!opts) return opts.status();
  return std::unique_ptr<Provider>(std::make_unique<DockerProvider>(config.name.empty() ? "docker" : config.name,
                                                                    std::move(*opts)));
}

Result<std::unique_ptr<Provider>> makePodmanProvider(const ProviderConfig& config) {
  auto opts = parseOptions(config, "unix:///run/podman/podman.sock");
  if (!opts) return opts.status();
  return std::unique_ptr<Provider>(std::make_unique<DockerProvider>(config.name.empty() ? "podman" : config.name,
                                                                    std::move(*opts)));
}

}  // namespace darasa::providers::docker
