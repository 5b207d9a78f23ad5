#include "fakes/fake_provider.h"

#include <algorithm>
#include <cstdio>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "provisioner/planner.h"

namespace darasa {

const char* fakeCallName(FakeCall call) {
  switch (call) {
    case FakeCall::kUsable: return "usable";
    case FakeCall::kValidate: return "validate";
    case FakeCall::kCreate: return "create";
    case FakeCall::kInspect: return "inspect";
    case FakeCall::kList: return "list";
    case FakeCall::kStart: return "start";
    case FakeCall::kStop: return "stop";
    case FakeCall::kDestroy: return "destroy";
    case FakeCall::kProbe: return "probe";
    case FakeCall::kExec: return "exec";
  }
  return "unknown";
}

LabSpec fakeLabSpec(const std::string& cohort, const std::string& trainee, int64_t generation) {
  LabSpec s;
  s.labId = cohort + "." + trainee;
  s.cohort = cohort;
  s.trainee = trainee;
  s.generation = generation;
  s.templateName = "fake-template";
  s.templateHash = "sha256:fake";
  s.provider = "fake";
  s.image = "localhost/fake:1";
  s.ports = {PortSpec{"ssh", 22, "tcp"}};
  s.readiness.tcpPort = "ssh";
  s.readiness.timeout = std::chrono::seconds(60);
  s.labels = labelsForSpec(s);
  return s;
}

std::vector<LabSpec> fakeCohortSpecs(const std::string& cohort, int n, int64_t generation) {
  std::vector<LabSpec> out;
  out.reserve(n);
  char buf[16];
  for (int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "t%04d", i);
    out.push_back(fakeLabSpec(cohort, buf, generation));
  }
  return out;
}

namespace {
enum class FaultKind { kFail, kHang, kDelay };
struct Fault {
  FakeCall call;
  std::string labId;
  FaultKind kind;
  Status error;
  std::chrono::milliseconds delay{0};
  int remaining = 1;
};
struct LabEntry {
  ObservedLab lab;
  std::optional<LabCredentials> credentials;
};
}  // namespace

struct FakeProvider::State {
  mutable std::mutex mu;
  mutable std::condition_variable cv;  // hangs released, calls finished
  ProviderInfo info;
  std::map<std::string, LabEntry> labs;
  ObservedState createState = ObservedState::kRunning;
  std::vector<Fault> faults;
  int notReadyDefault = 0;
  std::map<std::string, int> notReadyLeft;
  uint64_t releaseGeneration = 0;
  bool closed = false;
  int hung = 0;
  int inFlight = 0;
  int maxInFlight = 0;
  int created = 0;
  int nextResource = 1;
  int calls[kFakeCallCount] = {};
  std::map<std::pair<int, std::string>, int> callsPerLab;
  std::map<std::string, LabActivity> activity;
  std::optional<ProviderCapacity> capacity;
};

namespace {

using StatePtr = std::shared_ptr<FakeProvider::State>;

// Counts the call in flight for its whole life and applies the first
// matching fault. The state is held by shared_ptr so a call may outlive the
// FakeProvider object.
class CallScope {
 public:
  CallScope(StatePtr st, FakeCall call, const std::string& labId) : st_(std::move(st)) {
    std::unique_lock lk(st_->mu);
    ++st_->inFlight;
    st_->maxInFlight = std::max(st_->maxInFlight, st_->inFlight);
    ++st_->calls[static_cast<int>(call)];
    if (!labId.empty()) ++st_->callsPerLab[{static_cast<int>(call), labId}];
    for (auto& f : st_->faults) {
      if (f.call != call || f.remaining == 0) continue;
      if (!f.labId.empty() && f.labId != labId) continue;
      if (f.remaining > 0) --f.remaining;
      switch (f.kind) {
        case FaultKind::kFail:
          error_ = f.error;
          break;
        case FaultKind::kHang: {
          uint64_t gen = st_->releaseGeneration;
          ++st_->hung;
          st_->cv.notify_all();
          st_->cv.wait(lk, [&] { return st_->closed || st_->releaseGeneration != gen; });
          --st_->hung;
          break;
        }
        case FaultKind::kDelay: {
          auto d = f.delay;
          lk.unlock();
          std::this_thread::sleep_for(d);
          lk.lock();
          break;
        }
      }
      break;
    }
  }
  ~CallScope() {
    std::lock_guard lk(st_->mu);
    --st_->inFlight;
    st_->cv.notify_all();
  }
  // The scripted error, if a fail fault matched.
  const std::optional<Status>& error() const { return error_; }
  FakeProvider::State& state() { return *st_; }

 private:
  StatePtr st_;
  std::optional<Status> error_;
};

int64_t generationOf(const Labels& labels) {
  auto it = labels.find(kLabelGeneration);
  if (it == labels.end()) return 0;
  try {
    return std::stoll(it->second);
  } catch (...) {
    return 0;
  }
}

}  // namespace

ProviderInfo FakeProvider::defaultInfo() {
  ProviderInfo info;
  info.name = "fake";
  info.kind = ProviderKind::kOther;
  info.version = "1";
  info.capabilities.stopStart = true;
  info.capabilities.exec = true;
  info.maxParallel = 4;
  return info;
}

FakeProvider::FakeProvider(ProviderInfo info) : state_(std::make_shared<State>()) {
  state_->info = std::move(info);
}

FakeProvider::~FakeProvider() {
  std::lock_guard lk(state_->mu);
  state_->closed = true;
  state_->cv.notify_all();
}

ProviderInfo FakeProvider::info() const {
  std::lock_guard lk(state_->mu);
  return state_->info;
}

Status FakeProvider::usable() {
  CallScope c(state_, FakeCall::kUsable, "");
  if (c.error()) return *c.error();
  return Status::ok();
}

Status FakeProvider::validate(const LabSpec& spec) {
  CallScope c(state_, FakeCall::kValidate, spec.labId);
  if (c.error()) return *c.error();
  if (spec.labId.empty()) return invalidError("labId is empty");
  return Status::ok();
}

Result<ObservedLab> FakeProvider::create(const LabSpec& spec, const Deadline&) {
  CallScope c(state_, FakeCall::kCreate, spec.labId);
  if (c.error()) return *c.error();
  FakeProvider::State& st = c.state();
  std::lock_guard lk(st.mu);
  auto it = st.labs.find(spec.labId);
  if (it != st.labs.end()) return it->second.lab;
  ObservedLab lab;
  lab.labId = spec.labId;
  int n = st.nextResource++;
  lab.resourceId = "fake-" + std::to_string(n);
  lab.state = st.createState;
  lab.labels = labelsForSpec(spec);
  lab.generation = spec.generation;
  int port = 20000 + 10 * (n % 4000);
  for (const auto& p : spec.ports) lab.endpoints.push_back(Endpoint{p.name, p.protocol, "127.0.0.1", port++});
  ++st.created;
  st.labs[spec.labId] = LabEntry{lab, spec.credentials};
  return lab;
}

Result<ObservedLab> FakeProvider::inspect(const std::string& labId, const Deadline&) {
  CallScope c(state_, FakeCall::kInspect, labId);
  if (c.error()) return *c.error();
  std::lock_guard lk(c.state().mu);
  auto it = c.state().labs.find(labId);
  if (it == c.state().labs.end()) return notFoundError("no lab " + labId);
  return it->second.lab;
}

Result<std::vector<ObservedLab>> FakeProvider::list(const LabelSelector& selector, const Deadline&) {
  CallScope c(state_, FakeCall::kList, "");
  if (c.error()) return *c.error();
  std::lock_guard lk(c.state().mu);
  std::vector<ObservedLab> out;
  for (const auto& [id, e] : c.state().labs)
    if (selector.matches(e.lab.labels)) out.push_back(e.lab);
  return out;
}

Status FakeProvider::start(const std::string& labId, const Deadline&) {
  CallScope c(state_, FakeCall::kStart, labId);
  if (c.error()) return *c.error();
  std::lock_guard lk(c.state().mu);
  if (!c.state().info.capabilities.stopStart) return notSupportedError("fake cannot start a stopped lab");
  auto it = c.state().labs.find(labId);
  if (it == c.state().labs.end()) return notFoundError("no lab " + labId);
  it->second.lab.state = ObservedState::kRunning;
  it->second.lab.detail.clear();
  return Status::ok();
}

Status FakeProvider::stop(const std::string& labId, const Deadline&) {
  CallScope c(state_, FakeCall::kStop, labId);
  if (c.error()) return *c.error();
  std::lock_guard lk(c.state().mu);
  if (!c.state().info.capabilities.stopStart) return notSupportedError("fake cannot stop a lab and keep it");
  auto it = c.state().labs.find(labId);
  if (it == c.state().labs.end()) return notFoundError("no lab " + labId);
  it->second.lab.state = ObservedState::kStopped;
  return Status::ok();
}

Status FakeProvider::destroy(const std::string& labId, const Deadline&) {
  CallScope c(state_, FakeCall::kDestroy, labId);
  if (c.error()) return *c.error();
  std::lock_guard lk(c.state().mu);
  c.state().labs.erase(labId);
  c.state().notReadyLeft.erase(labId);
  return Status::ok();
}

Status FakeProvider::probe(const LabSpec& spec, const Deadline&) {
  CallScope c(state_, FakeCall::kProbe, spec.labId);
  if (c.error()) return *c.error();
  FakeProvider::State& st = c.state();
  std::lock_guard lk(st.mu);
  auto left = st.notReadyLeft.try_emplace(spec.labId, st.notReadyDefault).first;
  if (left->second != 0) {
    if (left->second > 0) --left->second;
    return unavailableError("not ready yet");
  }
  auto it = st.labs.find(spec.labId);
  if (it == st.labs.end()) return notFoundError("no lab " + spec.labId);
  const ObservedLab& lab = it->second.lab;
  switch (lab.state) {
    case ObservedState::kRunning: return Status::ok();
    case ObservedState::kStopped: return invalidError("lab is stopped");
    case ObservedState::kFailed: return internalError("lab failed: " + lab.detail);
    case ObservedState::kCreating:
    case ObservedState::kUnknown: break;
  }
  return unavailableError(std::string("lab is ") + observedStateName(lab.state));
}

Result<ExecResult> FakeProvider::exec(const std::string& labId, const std::vector<std::string>& argv,
                                      const Deadline&) {
  CallScope c(state_, FakeCall::kExec, labId);
  if (c.error()) return *c.error();
  std::lock_guard lk(c.state().mu);
  if (!c.state().info.capabilities.exec) return notSupportedError("fake cannot run commands inside a lab");
  if (!c.state().labs.count(labId)) return notFoundError("no lab " + labId);
  ExecResult r;
  for (const auto& a : argv) r.output += (r.output.empty() ? "" : " ") + a;
  return r;
}

Result<LabActivity> FakeProvider::activity(const std::string& labId, const Deadline&) {
  std::lock_guard lk(state_->mu);
  if (!state_->labs.count(labId)) return notFoundError("no lab " + labId);
  auto it = state_->activity.find(labId);
  if (it == state_->activity.end()) return notSupportedError("fake: no activity set for " + labId);
  return it->second;
}

Result<ProviderCapacity> FakeProvider::capacity() {
  {
    std::lock_guard lk(state_->mu);
    if (state_->capacity) return *state_->capacity;
  }
  return Provider::capacity();
}

void FakeProvider::setActivity(const std::string& labId, LabActivity activity) {
  std::lock_guard lk(state_->mu);
  state_->activity[labId] = std::move(activity);
}

void FakeProvider::setCapacity(ProviderCapacity capacity) {
  std::lock_guard lk(state_->mu);
  state_->capacity = std::move(capacity);
}

void FakeProvider::failNext(FakeCall call, Status error, int times, const std::string& labId) {
  std::lock_guard lk(state_->mu);
  state_->faults.push_back(Fault{call, labId, FaultKind::kFail, std::move(error), {}, times});
}

void FakeProvider::hangNext(FakeCall call, int times, const std::string& labId) {
  std::lock_guard lk(state_->mu);
  state_->faults.push_back(Fault{call, labId, FaultKind::kHang, Status(), {}, times});
}

void FakeProvider::delayNext(FakeCall call, std::chrono::milliseconds d, int times, const std::string& labId) {
  std::lock_guard lk(state_->mu);
  state_->faults.push_back(Fault{call, labId, FaultKind::kDelay, Status(), d, times});
}

void FakeProvider::notReadyFor(int probes, const std::string& labId) {
  std::lock_guard lk(state_->mu);
  if (labId.empty()) {
    state_->notReadyDefault = probes;
    state_->notReadyLeft.clear();
  } else {
    state_->notReadyLeft[labId] = probes;
  }
}

void FakeProvider::clearFaults() {
  std::lock_guard lk(state_->mu);
  state_->faults.clear();
  state_->notReadyDefault = 0;
  state_->notReadyLeft.clear();
}

void FakeProvider::releaseHangs() {
  std::lock_guard lk(state_->mu);
  ++state_->releaseGeneration;
  state_->cv.notify_all();
}

int FakeProvider::hungCalls() const {
  std::lock_guard lk(state_->mu);
  return state_->hung;
}

bool FakeProvider::waitForHung(int n, std::chrono::milliseconds timeout) const {
  std::unique_lock lk(state_->mu);
  return state_->cv.wait_for(lk, timeout, [&] { return state_->hung >= n; });
}

bool FakeProvider::waitIdle(std::chrono::milliseconds timeout) const {
  std::unique_lock lk(state_->mu);
  return state_->cv.wait_for(lk, timeout, [&] { return state_->inFlight == 0; });
}

void FakeProvider::putLab(ObservedLab lab) {
  std::lock_guard lk(state_->mu);
  lab.labels.emplace(kLabelLab, lab.labId);
  if (lab.generation == 0) lab.generation = generationOf(lab.labels);
  if (lab.resourceId.empty()) lab.resourceId = "fake-" + std::to_string(state_->nextResource++);
  std::string id = lab.labId;
  state_->labs[id] = LabEntry{std::move(lab), std::nullopt};
}

void FakeProvider::setState(const std::string& labId, ObservedState state, const std::string& detail) {
  std::lock_guard lk(state_->mu);
  auto it = state_->labs.find(labId);
  if (it == state_->labs.end()) return;
  it->second.lab.state = state;
  it->second.lab.detail = detail;
}

void FakeProvider::removeLab(const std::string& labId) {
  std::lock_guard lk(state_->mu);
  state_->labs.erase(labId);
}

void FakeProvider::setCreateState(ObservedState state) {
  std::lock_guard lk(state_->mu);
  state_->createState = state;
}

std::optional<ObservedLab> FakeProvider::lab(const std::string& labId) const {
  std::lock_guard lk(state_->mu);
  auto it = state_->labs.find(labId);
  if (it == state_->labs.end()) return std::nullopt;
  return it->second.lab;
}

std::vector<ObservedLab> FakeProvider::labs() const {
  std::lock_guard lk(state_->mu);
  std::vector<ObservedLab> out;
  for (const auto& [id, e] : state_->labs) out.push_back(e.lab);
  return out;
}

std::optional<LabCredentials> FakeProvider::credentialsOf(const std::string& labId) const {
  std::lock_guard lk(state_->mu);
  auto it = state_->labs.find(labId);
  if (it == state_->labs.end()) return std::nullopt;
  return it->second.credentials;
}

void FakeProvider::restart() {
  std::lock_guard lk(state_->mu);
  state_->faults.clear();
  state_->notReadyDefault = 0;
  state_->notReadyLeft.clear();
  std::fill(std::begin(state_->calls), std::end(state_->calls), 0);
  state_->callsPerLab.clear();
  state_->maxInFlight = state_->inFlight;
  state_->created = 0;
}

int FakeProvider::calls(FakeCall call) const {
  std::lock_guard lk(state_->mu);
  return state_->calls[static_cast<int>(call)];
}

int FakeProvider::calls(FakeCall call, const std::string& labId) const {
  std::lock_guard lk(state_->mu);
  auto it = state_->callsPerLab.find({static_cast<int>(call), labId});
  return it == state_->callsPerLab.end() ? 0 : it->second;
}

int FakeProvider::resourcesCreated() const {
  std::lock_guard lk(state_->mu);
  return state_->created;
}

int FakeProvider::inFlight() const {
  std::lock_guard lk(state_->mu);
  return state_->inFlight;
}

int FakeProvider::maxInFlight() const {
  std::lock_guard lk(state_->mu);
  return state_->maxInFlight;
}

void FakeProvider::resetCounters() {
  std::lock_guard lk(state_->mu);
  std::fill(std::begin(state_->calls), std::end(state_->calls), 0);
  state_->callsPerLab.clear();
  state_->maxInFlight = state_->inFlight;
  state_->created = 0;
}

}  // namespace darasa
