#include "provisioner/reconciler.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <optional>
#include <random>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace darasa {

// State shared between a Reconciler and the threads its provider calls run
// on. Call threads own a reference to it, so a call abandoned at its deadline
// can finish (and free its slot) after the Reconciler is gone.
struct Reconciler::Shared {
  std::mutex mu;
  // Provider call slots: a call takes one before it starts and its thread
  // gives it back when the provider returns, abandoned or not.
  std::condition_variable slotFreed;
  int limit = 1;
  int inFlight = 0;
  int abandoned = 0;
  // Call threads: reused while idle, one more made whenever every idle
  // thread is spoken for, so that a hung call never delays another.
  std::condition_variable jobReady;
  std::deque<std::function<void()>> jobs;
  int idle = 0;  // threads waiting for a job, or about to
  bool shutdown = false;
};

namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long an idle call thread waits for work before it exits.
constexpr auto kIdleThreadLinger = std::chrono::seconds(5);
// Longest uninterrupted sleep, so that cancel() is noticed.
constexpr milliseconds kSleepSlice{1000};
// How often a waiting caller looks at the cancel flag.
constexpr milliseconds kCancelPoll{20};

void callThreadLoop(std::shared_ptr<Reconciler::Shared> sh) {
  std::unique_lock lk(sh->mu);
  for (;;) {
    bool woke = sh->jobReady.wait_for(lk, kIdleThreadLinger,
                                      [&] { return !sh->jobs.empty() || sh->shutdown; });
    if (!woke || sh->jobs.empty()) {
      --sh->idle;
      return;
    }
    auto job = std::move(sh->jobs.front());
    sh->jobs.pop_front();
    --sh->idle;
    lk.unlock();
    job();
    job = nullptr;  // release what the job holds before waiting again
    lk.lock();
    ++sh->idle;
  }
}

// Queues a job for a call thread; false if no thread could be made.
bool submitJob(const std::shared_ptr<Reconciler::Shared>& sh, std::function<void()> job) {
  std::lock_guard lk(sh->mu);
  sh->jobs.push_back(std::move(job));
  if (static_cast<int>(sh->jobs.size()) <= sh->idle) {
    sh->jobReady.notify_one();
    return true;
  }
  try {
    std::thread(callThreadLoop, sh).detach();
    ++sh->idle;
    return true;
  } catch (const std::system_error&) {
    sh->jobs.pop_back();
    return false;
  }
}

Status statusOf(const Status& s) { return s; }
template <typename T>
Status statusOf(const Result<T>& r) { return r.status(); }

template <typename R>
struct CallSlot {
  std::mutex mu;
  std::condition_variable done;
  std::optional<R> value;
  bool abandoned = false;
};

std::string formatDuration(milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

Status cancelledStatus() { return unavailableError("cancelled"); }

// selector.matches(labelsForSpec(spec)) without building the labels.
bool specMatches(const LabelSelector& selector, const LabSpec& spec) {
  for (const auto& [key, want] : selector.equals) {
    auto it = spec.labels.find(key);
    if (it != spec.labels.end()) {
      if (it->second != want) return false;
      continue;
    }
    if (key == kLabelLab) {
      if (spec.labId != want) return false;
    } else if (key == kLabelCohort) {
      if (spec.cohort != want) return false;
    } else if (key == kLabelTrainee) {
      if (spec.trainee != want) return false;
    } else if (key == kLabelGeneration) {
      if (std::to_string(spec.generation) != want) return false;
    } else {
      return false;
    }
  }
  return true;  // labelsForSpec always carries darasa.lab
}

}  // namespace

Reconciler::Reconciler(Provider& provider, ReconcileJournal& journal, EventSink* events,
                       ReconcilerOptions options, Clock& clock)
    : provider_(provider),
      journal_(journal),
      events_(events),
      options_(std::move(options)),
      clock_(clock),
      shared_(std::make_shared<Shared>()) {
  parallelism_ = options_.parallelism > 0 ? options_.parallelism : provider_.info().maxParallel;
  parallelism_ = std::max(parallelism_, 1);
  options_.maxAttempts = std::max(options_.maxAttempts, 1);
  options_.maxPasses = std::max(options_.maxPasses, 1);
  options_.jitter = std::clamp(options_.jitter, 0.0, 1.0);
  shared_->limit = parallelism_;
}

Reconciler::~Reconciler() {
  std::lock_guard lk(shared_->mu);
  shared_->shutdown = true;
  shared_->jobReady.notify_all();
}

void Reconciler::cancel() {
  cancelled_.store(true);
  std::lock_guard lk(shared_->mu);
  shared_->slotFreed.notify_all();
}

int Reconciler::abandonedCalls() const {
  std::lock_guard lk(shared_->mu);
  return shared_->abandoned;
}

// One run(): the labs as this run knows them (updated as actions succeed, so
// that the next pass plans from what was just done), the report, and the
// locks that serialise the journal and the event sink.
class Reconciler::Run {
 public:
  Run(Reconciler& r, std::vector<PlannedLab> labs) : r_(r), labs_(std::move(labs)) {
    failed_.assign(labs_.size(), 0);
    index_.reserve(labs_.size());
    for (size_t i = 0; i < labs_.size(); ++i) index_.emplace(labs_[i].spec.labId, i);
    rng_.seed(std::random_device{}());
  }

  ReconcileReport execute(const LabelSelector& selector);

 private:
  bool cancelled() const { return r_.cancelled_.load(); }

  void emit(Event e) {
    if (!r_.events_) return;
    std::lock_guard lk(eventsMu_);
    r_.events_->onEvent(e);
  }

  template <typename F>
  Status journal(F&& f) {
    std::lock_guard lk(journalMu_);
    Status st = f(r_.journal_);
    return st.isOk() ? st : st.withContext("journal");
  }

  milliseconds backoff(int attempt) {
    const auto& o = r_.options_;
    double base = static_cast<double>(o.initialBackoff.count()) *
                  std::pow(o.backoffMultiplier, static_cast<double>(attempt - 1));
    base = std::min(base, static_cast<double>(o.maxBackoff.count()));
    double u;
    {
      std::lock_guard lk(rngMu_);
      u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    }
    double d = base * (1.0 - o.jitter * u);
    return milliseconds(std::max<int64_t>(0, std::llround(d)));
  }

  // Sleeps through the injected clock, in slices so that cancel() is seen.
  void sleep(milliseconds d) {
    while (d.count() > 0 && !cancelled()) {
      auto step = std::min(d, kSleepSlice);
      r_.clock_.sleepFor(step);
      d -= step;
    }
  }

  // Runs one provider call on a call thread, waiting until its deadline. A
  // call still running then is abandoned: its thread finishes on its own
  // and only touches what it owns (the slot, Shared, its copies of the
  // arguments) and the provider.
  template <typename R>
  R callOnce(const char* what, std::function<R(const Deadline&)> fn) {
    const Deadline deadline = Deadline::after(r_.options_.callTimeout);
    auto sh = r_.shared_;
    {
      std::unique_lock lk(sh->mu);
      while (sh->inFlight >= sh->limit) {
        if (cancelled()) return cancelledStatus();
        if (deadline.expired()) {
          countTimeout();
          return timeoutError(std::string(what) + ": no free provider slot within " +
                              formatDuration(r_.options_.callTimeout) + " (" +
                              std::to_string(sh->abandoned) +
                              " calls still running past their deadline)");
        }
        sh->slotFreed.wait_until(lk, std::min(deadline.at(), SteadyClock::now() + kCancelPoll));
      }
      ++sh->inFlight;
    }
    auto slot = std::make_shared<CallSlot<R>>();
    bool submitted = submitJob(sh, [sh, slot, fn = std::move(fn), deadline]() mutable {
      std::optional<R> result;
      try {
        result.emplace(fn(deadline));
      } catch (const std::exception& e) {
        result.emplace(internalError(std::string("provider threw: ") + e.what()));
      } catch (...) {
        result.emplace(internalError("provider threw"));
      }
      bool abandoned;
      {
        std::lock_guard lk(slot->mu);
        slot->value = std::move(result);
        abandoned = slot->abandoned;
      }
      slot->done.notify_all();
      {
        std::lock_guard lk(sh->mu);
        --sh->inFlight;
        if (abandoned) --sh->abandoned;
      }
      sh->slotFreed.notify_all();
    });
    if (!submitted) {
      std::lock_guard lk(sh->mu);
      --sh->inFlight;
      sh->slotFreed.notify_all();
      return unavailableError(std::string(what) + ": cannot start a thread for the call");
    }

    std::unique_lock lk(slot->mu);
    while (!slot->value) {
      bool late = deadline.expired();
      if (late || cancelled()) {
        slot->abandoned = true;
        {
          std::lock_guard slk(sh->mu);  // order: slot, then shared (the call thread never nests)
          ++sh->abandoned;
        }
        if (!late) return cancelledStatus();
        countTimeout();
        return timeoutError(std::string(what) + " did not return within " +
                            formatDuration(r_.options_.callTimeout));
      }
      slot->done.wait_until(lk, std::min(deadline.at(), SteadyClock::now() + kCancelPoll));
    }
    return std::move(*slot->value);
  }

  void countTimeout() {
    std::lock_guard lk(reportMu_);
    ++report_.timeouts;
  }

  // Retries `attempt` while it fails with a retryable error, with backoff,
  // up to maxAttempts. Returns the last result.
  template <typename R>
  R retrying(const std::string& labId, ActionKind kind, int pass, const char* what,
             const std::function<R()>& attempt) {
    for (int n = 1;; ++n) {
      R result = attempt();
      Status st = statusOf(result);
      if (st.isOk() || !st.retryable() || cancelled()) return result;
      if (n >= r_.options_.maxAttempts) {
        if (n == 1) return result;
        return st.withContext("after " + std::to_string(n) + " attempts");
      }
      milliseconds delay = backoff(n);
      {
        std::lock_guard lk(reportMu_);
        ++report_.retries;
      }
      Event e;
      e.kind = EventKind::kRetrying;
      e.pass = pass;
      e.labId = labId;
      e.action = kind;
      e.reason = what;
      e.attempt = n;
      e.delay = delay;
      e.status = st;
      emit(std::move(e));
      sleep(delay);
      if (cancelled()) return cancelledStatus();
    }
  }

  template <typename R>
  R providerCall(const std::string& labId, ActionKind kind, int pass, const char* what,
                 std::function<R(const Deadline&)> fn) {
    return retrying<R>(labId, kind, pass, what, [&] { return callOnce<R>(what, fn); });
  }

  // Probes until ready, a non-retryable error, or the readiness timeout (in
  // Clock time, so that tests drive it without waiting).
  Status waitReady(std::shared_ptr<const LabSpec> spec) {
    Provider& provider = r_.provider_;
    const auto timeout = std::chrono::duration_cast<milliseconds>(spec->readiness.timeout);
    const auto start = r_.clock_.now();
    for (;;) {
      if (cancelled()) return cancelledStatus();
      Status st = callOnce<Status>("probe", [&provider, spec](const Deadline& d) {
        return provider.probe(*spec, d);
      });
      if (st.isOk()) return st;
      if (cancelled()) return cancelledStatus();
      if (!st.retryable()) return st.withContext("readiness");
      auto elapsed = std::chrono::duration_cast<milliseconds>(r_.clock_.now() - start);
      if (elapsed >= timeout)
        return timeoutError("not ready after " + formatDuration(timeout) + ": " + st.message());
      sleep(std::min(r_.options_.probeInterval, timeout - elapsed));
    }
  }

  void perform(const Action& a, int pass);
  Status performCreate(const Action& a, size_t i, int pass, std::vector<Endpoint>* endpoints);
  Status performStart(const Action& a, size_t i, int pass, std::vector<Endpoint>* endpoints);
  Status performStop(const Action& a, int pass);
  Status performDestroy(const Action& a, int pass);
  Status performAdopt(const Action& a, size_t i, bool* stopped, std::vector<Endpoint>* endpoints);
  Status performForget(const Action& a);

  // The journal's operation around a provider mutation: begin, call, end.
  template <typename R>
  R operation(const Action& a, const std::function<R()>& call) {
    int64_t opId = 0;
    {
      std::lock_guard lk(journalMu_);
      auto begun = r_.journal_.beginOperation(a.labId, a.kind, a.reason);
      if (!begun) return begun.status().withContext("journal");
      opId = *begun;
    }
    R result = call();
    Status ended = journal([&](ReconcileJournal& j) { return j.endOperation(opId, statusOf(result)); });
    if (!ended.isOk() && statusOf(result).isOk()) return ended;
    return result;
  }

  const ObservedLab* observedFor(const std::string& labId) const {
    auto it = observed_.find(labId);
    return it == observed_.end() ? nullptr : it->second;
  }

  Reconciler& r_;
  std::vector<PlannedLab> labs_;
  std::vector<char> failed_;  // per lab: failed in this run, left alone from now on
  std::unordered_map<std::string, size_t> index_;
  std::unordered_map<std::string, const ObservedLab*> observed_;  // this pass's list
  ReconcileReport report_;
  std::mutex reportMu_, journalMu_, eventsMu_, rngMu_;
  std::mt19937_64 rng_;
};

Status Reconciler::Run::performCreate(const Action& a, size_t i, int pass, std::vector<Endpoint>* endpoints) {
  const PlannedLab& lab = labs_[i];
  const std::string& id = lab.spec.labId;
  auto spec = std::make_shared<LabSpec>(lab.spec);
  if (r_.options_.credentials) {
    auto creds = retrying<Result<LabCredentials>>(
        id, ActionKind::kCreate, pass, "credentials", [&]() { return r_.options_.credentials(*spec); });
    if (!creds) return creds.status().withContext("credentials");
    spec->credentials = std::move(creds.value());
  }
  Provider& provider = r_.provider_;
  std::shared_ptr<const LabSpec> withCreds = spec;
  auto created = operation<Result<ObservedLab>>(a, [&] {
    return providerCall<Result<ObservedLab>>(
        id, ActionKind::kCreate, pass, "create",
        [&provider, withCreds](const Deadline& d) { return provider.create(*withCreds, d); });
  });
  if (!created) return created.status();
  labs_[i].phase = LabPhase::kCreating;
  labs_[i].resourceId = created->resourceId;
  Status st = journal([&](ReconcileJournal& j) { return j.recordObserved(id, LabPhase::kCreating, *created); });
  if (!st.isOk()) return st;

  // Probes need no credentials: do not hand the secret to more threads.
  auto probeSpec = std::make_shared<LabSpec>(lab.spec);
  st = waitReady(probeSpec);
  if (!st.isOk()) return st;
  st = journal([&](ReconcileJournal& j) { return j.recordReady(id, *created); });
  if (!st.isOk()) return st;
  labs_[i].phase = LabPhase::kReady;
  *endpoints = created->endpoints;
  return Status::ok();
}

Status Reconciler::Run::performStart(const Action& a, size_t i, int pass, std::vector<Endpoint>* endpoints) {
  const std::string id = labs_[i].spec.labId;
  Provider& provider = r_.provider_;
  Status st = operation<Status>(a, [&] {
    return providerCall<Status>(id, ActionKind::kStart, pass, "start",
                                [&provider, id](const Deadline& d) { return provider.start(id, d); });
  });
  if (!st.isOk()) return st;
  st = waitReady(std::make_shared<LabSpec>(labs_[i].spec));
  if (!st.isOk()) return st;
  // Endpoints may change across a stop/start (ports picked by the engine).
  auto seen = providerCall<Result<ObservedLab>>(
      id, ActionKind::kStart, pass, "inspect",
      [&provider, id](const Deadline& d) { return provider.inspect(id, d); });
  if (!seen) return seen.status();
  st = journal([&](ReconcileJournal& j) { return j.recordReady(id, *seen); });
  if (!st.isOk()) return st;
  labs_[i].phase = LabPhase::kReady;
  labs_[i].resourceId = seen->resourceId;
  *endpoints = seen->endpoints;
  return Status::ok();
}

Status Reconciler::Run::performStop(const Action& a, int pass) {
  Provider& provider = r_.provider_;
  const std::string id = a.labId;
  Status st = operation<Status>(a, [&] {
    return providerCall<Status>(id, a.kind, pass, "stop",
                                [&provider, id](const Deadline& d) { return provider.stop(id, d); });
  });
  if (!st.isOk()) return st;
  ObservedLab seen;
  if (const ObservedLab* o = observedFor(id)) seen = *o;
  seen.labId = id;
  seen.state = ObservedState::kStopped;
  st = journal([&](ReconcileJournal& j) { return j.recordObserved(id, LabPhase::kStopped, seen); });
  if (!st.isOk()) return st;
  auto it = index_.find(id);
  if (it != index_.end()) labs_[it->second].phase = LabPhase::kStopped;
  return Status::ok();
}

Status Reconciler::Run::performDestroy(const Action& a, int pass) {
  Provider& provider = r_.provider_;
  const std::string id = a.labId;
  Status st = operation<Status>(a, [&] {
    return providerCall<Status>(id, a.kind, pass, "destroy",
                                [&provider, id](const Deadline& d) { return provider.destroy(id, d); });
  });
  if (!st.isOk()) return st;
  st = journal([&](ReconcileJournal& j) { return j.recordDestroyed(id); });
  if (!st.isOk()) return st;
  auto it = index_.find(id);
  if (it != index_.end()) {
    labs_[it->second].phase = LabPhase::kDestroyed;
    labs_[it->second].resourceId.clear();
  }
  return Status::ok();
}

Status Reconciler::Run::performAdopt(const Action& a, size_t i, bool* stopped, std::vector<Endpoint>* endpoints) {
  const std::string id = labs_[i].spec.labId;
  const ObservedLab* o = observedFor(id);
  if (!o) return internalError("adopt of a lab that was not observed");
  const ObservedLab seen = *o;
  *stopped = seen.state == ObservedState::kStopped;
  LabPhase phase = *stopped ? LabPhase::kStopped : LabPhase::kCreating;
  Status st = operation<Status>(a, [&] {
    return journal([&](ReconcileJournal& j) { return j.recordObserved(id, phase, seen); });
  });
  if (!st.isOk()) return st;
  labs_[i].phase = phase;
  labs_[i].resourceId = seen.resourceId;
  if (*stopped) return Status::ok();
  st = waitReady(std::make_shared<LabSpec>(labs_[i].spec));
  if (!st.isOk()) return st;
  st = journal([&](ReconcileJournal& j) { return j.recordReady(id, seen); });
  if (!st.isOk()) return st;
  labs_[i].phase = LabPhase::kReady;
  *endpoints = seen.endpoints;
  return Status::ok();
}

Status Reconciler::Run::performForget(const Action& a) {
  Status st = operation<Status>(a, [&] {
    return journal([&](ReconcileJournal& j) { return j.recordDestroyed(a.labId); });
  });
  if (!st.isOk()) return st;
  auto it = index_.find(a.labId);
  if (it != index_.end()) {
    labs_[it->second].phase = LabPhase::kDestroyed;
    labs_[it->second].resourceId.clear();
  }
  return Status::ok();
}

void Reconciler::Run::perform(const Action& a, int pass) {
  Event started;
  started.kind = EventKind::kActionStarted;
  started.pass = pass;
  started.labId = a.labId;
  started.action = a.kind;
  started.reason = a.reason;
  emit(started);

  auto it = index_.find(a.labId);
  const bool planned = it != index_.end();
  Status st;
  EventKind doneKind = EventKind::kReady;
  std::vector<Endpoint> endpoints;
  bool needsPlanned = a.kind == ActionKind::kCreate || a.kind == ActionKind::kStart ||
                      a.kind == ActionKind::kAdopt;
  if (needsPlanned && !planned) {
    st = internalError(std::string(actionKindName(a.kind)) + " of a lab that is not planned");
  } else {
    switch (a.kind) {
      case ActionKind::kCreate: st = performCreate(a, it->second, pass, &endpoints); break;
      case ActionKind::kStart: st = performStart(a, it->second, pass, &endpoints); break;
      case ActionKind::kStop:
        st = performStop(a, pass);
        doneKind = EventKind::kStopped;
        break;
      case ActionKind::kDestroy:
        st = performDestroy(a, pass);
        doneKind = EventKind::kDestroyed;
        break;
      case ActionKind::kAdopt: {
        bool stopped = false;
        st = performAdopt(a, it->second, &stopped, &endpoints);
        if (stopped) doneKind = EventKind::kStopped;
        break;
      }
      case ActionKind::kForget:
        st = performForget(a);
        doneKind = EventKind::kForgotten;
        break;
    }
  }

  Event done;
  done.pass = pass;
  done.labId = a.labId;
  done.action = a.kind;
  if (st.isOk()) {
    {
      std::lock_guard lk(reportMu_);
      ++report_.succeeded[static_cast<int>(a.kind)];
    }
    done.kind = doneKind;
    done.endpoints = std::move(endpoints);
    emit(std::move(done));
    return;
  }
  if (cancelled()) {
    // Not the lab's fault: nothing is recorded, the next run picks it up.
    done.kind = EventKind::kCancelled;
    emit(std::move(done));
    return;
  }
  if (planned) {
    failed_[it->second] = 1;
    labs_[it->second].phase = LabPhase::kFailed;
  }
  Status recorded = journal([&](ReconcileJournal& j) { return j.recordError(a.labId, st); });
  {
    std::lock_guard lk(reportMu_);
    ++report_.failedActions[static_cast<int>(a.kind)];
    report_.failures[a.labId] = recorded.isOk() ? st : Status(st.code(), st.message() + " (" + recorded.message() + ")");
  }
  done.kind = EventKind::kFailed;
  done.status = st;
  emit(std::move(done));
}

ReconcileReport Reconciler::Run::execute(const LabelSelector& selector) {
  // Input checks: each of these would make the run act on the wrong labs.
  {
    std::unordered_set<std::string> seen;
    seen.reserve(labs_.size());
    for (const auto& lab : labs_) {
      if (lab.spec.labId.empty()) {
        report_.status = invalidError("a planned lab has no lab id");
        return report_;
      }
      if (!seen.insert(lab.spec.labId).second) {
        report_.status = invalidError("lab " + lab.spec.labId + " is planned twice");
        return report_;
      }
      if (!specMatches(selector, lab.spec)) {
        report_.status = invalidError("lab " + lab.spec.labId +
                                      " does not match the selector, so it would never be observed");
        return report_;
      }
    }
    if (r_.options_.destroyOrphans && selector.equals.empty()) {
      report_.status = invalidError(
          "refusing to destroy orphans with an empty selector (every darasa lab would be one); "
          "use gc, or turn destroyOrphans off");
      return report_;
    }
  }

  PlanOptions planOptions;
  if (r_.options_.destroyOrphans) planOptions.orphans = selector;
  planOptions.canStopStart = r_.provider_.info().capabilities.stopStart;
  Provider& provider = r_.provider_;

  for (int pass = 1; pass <= r_.options_.maxPasses; ++pass) {
    if (cancelled()) break;
    auto listed = providerCall<Result<std::vector<ObservedLab>>>(
        "", ActionKind::kCreate, pass, "list", [&provider, selector](const Deadline& d) {
          return provider.list(selector, d);
        });
    if (cancelled()) break;
    if (!listed) {
      report_.status = listed.status().withContext("listing labs");
      break;
    }
    report_.passes = pass;
    std::vector<ObservedLab> observed = std::move(listed.value());
    observed_.clear();
    observed_.reserve(observed.size());
    for (const auto& o : observed) observed_.emplace(o.labId, &o);

    std::vector<Action> actions = planActions(labs_, observed, r_.clock_.now(), planOptions);
    if (actions.empty()) {
      report_.converged = true;
      break;
    }
    std::erase_if(actions, [&](const Action& a) {
      auto it = index_.find(a.labId);
      return it != index_.end() && failed_[it->second];
    });
    if (actions.empty()) break;  // only labs that failed in this run are left

    Event started;
    started.kind = EventKind::kPassStarted;
    started.pass = pass;
    started.planned = static_cast<int>(actions.size());
    emit(started);
    int succeededBefore = 0, failedBefore = 0;
    {
      std::lock_guard lk(reportMu_);
      for (int k = 0; k < kActionKindCount; ++k) {
        succeededBefore += report_.succeeded[k];
        failedBefore += report_.failedActions[k];
      }
    }

    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (;;) {
        if (cancelled()) return;
        size_t i = next.fetch_add(1);
        if (i >= actions.size()) return;
        perform(actions[i], pass);
      }
    };
    size_t n = std::min(actions.size(), static_cast<size_t>(r_.parallelism_));
    std::vector<std::thread> workers;
    workers.reserve(n);
    for (size_t w = 0; w < n; ++w) {
      try {
        workers.emplace_back(worker);
      } catch (const std::system_error&) {
        break;  // work with the threads there are
      }
    }
    if (workers.empty()) worker();
    for (auto& t : workers) t.join();

    Event finished;
    finished.kind = EventKind::kPassFinished;
    finished.pass = pass;
    finished.planned = started.planned;
    {
      std::lock_guard lk(reportMu_);
      for (int k = 0; k < kActionKindCount; ++k) {
        finished.succeeded += report_.succeeded[k];
        finished.failed += report_.failedActions[k];
      }
    }
    finished.succeeded -= succeededBefore;
    finished.failed -= failedBefore;
    emit(finished);
    observed_.clear();  // points into `observed`
  }
  observed_.clear();
  report_.cancelled = cancelled();
  return report_;
}

ReconcileReport Reconciler::run(std::vector<PlannedLab> labs, const LabelSelector& selector) {
  auto start = SteadyClock::now();
  Run run(*this, std::move(labs));
  ReconcileReport report = run.execute(selector);
  report.elapsed = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start);
  return report;
}

}  // namespace darasa
