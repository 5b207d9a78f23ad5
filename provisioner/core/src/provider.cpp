#include "provisioner/provider.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <regex>

namespace darasa {

std::chrono::milliseconds Deadline::remaining() const {
  auto now = Clock::now();
  if (now >= at_) return std::chrono::milliseconds(0);
  constexpr auto kDay = std::chrono::milliseconds(24LL * 3600 * 1000);
  if (at_ - now > kDay) return kDay;
  return std::chrono::duration_cast<std::chrono::milliseconds>(at_ - now);
}

Deadline Deadline::capped(std::chrono::milliseconds d) const {
  auto other = Clock::now() + d;
  return Deadline(std::min(at_, other));
}

const char* providerKindName(ProviderKind k) {
  switch (k) {
    case ProviderKind::kProcess: return "process";
    case ProviderKind::kContainer: return "container";
    case ProviderKind::kVm: return "vm";
    case ProviderKind::kOther: break;
  }
  return "other";
}

bool LabelSelector::matches(const Labels& labels) const {
  if (!labels.count(kLabelLab)) return false;
  for (const auto& [k, v] : equals) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

LabelSelector LabelSelector::cohort(const std::string& name) {
  LabelSelector s;
  s.equals[kLabelCohort] = name;
  return s;
}

Status Provider::start(const std::string&, const Deadline&) {
  return notSupportedError(info().name + " cannot start a stopped lab");
}

Status Provider::stop(const std::string&, const Deadline&) {
  return notSupportedError(info().name + " cannot stop a lab and keep it");
}

Status Provider::probe(const LabSpec& spec, const Deadline& deadline) {
  auto lab = inspect(spec.labId, deadline);
  if (!lab) return lab.status();
  switch (lab->state) {
    case ObservedState::kRunning: return Status::ok();
    case ObservedState::kCreating: return unavailableError("lab is still being created");
    case ObservedState::kStopped: return invalidError("lab is stopped");
    case ObservedState::kFailed: return internalError("lab failed: " + lab->detail);
    case ObservedState::kUnknown: break;
  }
  return unavailableError("lab state is unknown");
}

Result<ExecResult> Provider::exec(const std::string&, const std::vector<std::string>&, const Deadline&) {
  return notSupportedError(info().name + " cannot run commands inside a lab");
}

Result<LabActivity> Provider::activity(const std::string&, const Deadline&) {
  return notSupportedError(info().name + " does not report lab activity");
}

Result<ProviderCapacity> Provider::capacity() {
  ProviderCapacity c;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus > 0) c.cpuMillis = static_cast<int64_t>(cpus) * 1000 * kCpuOvercommit;
  // MemTotal, not MemAvailable: capacity is what labs may be promised, not
  // what happens to be free at this instant.
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemTotal:") {
      c.memoryBytes = kib * 1024;
      break;
    }
  }
  if (c.cpuMillis == 0 && c.memoryBytes == 0) return unavailableError("cannot read this host's CPUs and memory");
  c.source = "host: " + std::to_string(cpus) + " CPUs × " + std::to_string(kCpuOvercommit) + " overcommit, " +
             std::to_string(c.memoryBytes / (1024 * 1024)) + " MiB memory";
  return c;
}

namespace {
std::string knownNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "(none)" : out;
}
}  // namespace

Status ProviderRegistry::add(const std::string& name, ProviderFactory factory, std::string description) {
  static const std::regex kName("[a-z0-9][a-z0-9-]*");
  if (!std::regex_match(name, kName))
    return invalidError("provider name \"" + name + "\" must be lower-case letters, digits and '-'");
  if (entries_.count(name)) return conflictError("provider \"" + name + "\" is registered twice");
  entries_[name] = Entry{std::move(factory), std::move(description), {}, nullptr};
  return Status::ok();
}

Status ProviderRegistry::addInstance(const std::string& name, std::unique_ptr<Provider> provider) {
  if (entries_.count(name)) return conflictError("provider \"" + name + "\" is registered twice");
  Entry e;
  e.instance = std::move(provider);
  entries_[name] = std::move(e);
  return Status::ok();
}

bool ProviderRegistry::has(const std::string& name) const { return entries_.count(name) > 0; }

std::vector<std::string> ProviderRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [n, e] : entries_) out.push_back(n);
  return out;
}

std::string ProviderRegistry::description(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? "" : it->second.description;
}

void ProviderRegistry::configure(const std::string& name, std::map<std::string, std::string> options) {
  auto it = entries_.find(name);
  if (it != entries_.end()) it->second.options = std::move(options);
}

Result<Provider*> ProviderRegistry::get(const std::string& name) {
  std::lock_guard lock(getMu_);
  auto it = entries_.find(name);
  if (it == entries_.end())
    return notFoundError("unknown provider \"" + name + "\" (known: " + knownNames(names()) + ")");
  Entry& e = it->second;
  if (!e.instance) {
    ProviderConfig config{name, stateDir_, e.options};
    auto made = e.factory(config);
    if (!made) return made.status().withContext("provider " + name);
    e.instance = std::move(made.value());
  }
  return e.instance.get();
}

}  // namespace darasa
