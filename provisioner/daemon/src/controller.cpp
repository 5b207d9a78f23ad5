#include "provisioner/controller.h"

#include "policy.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "provisioner/service.h"

namespace darasa {

namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// The longest waitForWork sleeps without looking at the clock again: a clock
// that jumps (or a FakeClock moved by another thread) is noticed this late.
constexpr milliseconds kWaitSlice{1000};

// Sends every event to two sinks (the caller's and the metrics).
class TeeSink final : public EventSink {
 public:
  TeeSink(EventSink* a, EventSink* b) : a_(a), b_(b) {}
  void onEvent(const Event& event) override {
    if (a_) a_->onEvent(event);
    if (b_) b_->onEvent(event);
  }

 private:
  EventSink* a_;
  EventSink* b_;
};

std::string humanDelay(milliseconds d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s % 3600 == 0 && s >= 3600) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0 && s >= 60) return std::to_string(s / 60) + "m";
  if (s > 0) return std::to_string(s) + "s";
  return std::to_string(d.count()) + "ms";
}

// A lab counts as gone for Store::deleteCohort (see kLabGoneSql in store_labs.cpp).
bool labGone(const LabRecord& lab) {
  return lab.phase == LabPhase::kDestroyed || (lab.phase == LabPhase::kPending && lab.resourceId.empty());
}

}  // namespace

struct Controller::Impl {
  Impl(Store& s, ProviderRegistry& p, Clock& c, ControllerOptions o)
      : store(s),
        providers(p),
        clock(c),
        options(std::move(o)),
        service(s, p, c, options.actor),
        tee(options.events, options.metrics == options.events ? nullptr : options.metrics) {}

  // What the controller knows of a cohort between ticks (tick thread only).
  struct CohortState {
    int64_t generation = -1;
    std::vector<ScheduleStep> steps;  // empty: no schedule, labs keep the desired state they have
    std::optional<int> appliedStep;   // the step last applied to the labs; nullopt: none yet
  };

  Store& store;
  ProviderRegistry& providers;
  Clock& clock;
  ControllerOptions options;
  LabService service;
  TeeSink tee;

  std::mutex tickMu;  // one tick at a time
  // --- tick thread only (under tickMu)
  std::map<std::string, CohortState> cohorts;
  Clock::TimePoint nextRefresh{};
  policy::State policyState;                     // quotas, idle, admission (policy.h)
  std::map<std::string, DesiredState> holds;     // this tick: labs waiting for capacity

  // --- shared with API threads (under mu)
  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, QueuedLab> queue;  // lab id → when it is due
  std::map<std::string, int> failures;     // lab id → consecutive failed reconciles
  std::set<std::string> resets;            // labs to destroy and create again
  std::set<std::string> deleting;          // cohorts to delete once their labs are gone
  bool woken = false;
  bool refresh = true;  // re-read the cohorts at the next tick
  bool firstTick = true;

  std::atomic<bool> stopped{false};
  std::atomic<bool> paused{false};
  bool restart = false;             // resume(): forget the tick thread's memory at the next tick (mu)
  std::atomic<bool> cancel{false};  // given to every LabService run

  // Queues a lab at `due`, unless it is queued earlier already (mu held).
  void pushLocked(const std::string& labId, const std::string& cohort, Clock::TimePoint due,
                  const std::string& why) {
    auto it = queue.find(labId);
    if (it != queue.end() && it->second.due <= due) return;
    QueuedLab q;
    q.labId = labId;
    q.cohort = cohort;
    q.due = due;
    q.why = why;
    auto f = failures.find(labId);
    q.failures = f == failures.end() ? 0 : f->second;
    queue[labId] = std::move(q);
  }

  void dropCohortLocked(const std::string& cohort) {
    std::erase_if(queue, [&](const auto& kv) { return kv.second.cohort == cohort; });
    const std::string prefix = cohort + ".";
    std::erase_if(failures, [&](const auto& kv) { return kv.first.rfind(prefix, 0) == 0; });
    std::erase_if(resets, [&](const std::string& id) { return id.rfind(prefix, 0) == 0; });
  }

  std::optional<Clock::TimePoint> nextDueLocked() const {
    // Before the first tick every lab of the state is due (adoption).
    if (firstTick) return clock.now();
    std::optional<Clock::TimePoint> next;
    for (const auto& [id, q] : queue)
      if (!next || q.due < *next) next = q.due;
    return next;
  }

  RunOptions runOptions(const std::string& cohort) {
    RunOptions o;
    o.cohort = cohort;
    o.parallelism = options.parallelism;
    o.callTimeout = options.callTimeout;
    o.maxAttempts = options.maxAttempts;
    o.initialBackoff = options.initialBackoff;
    o.probeInterval = options.probeInterval;
    o.events = (options.events || options.metrics) ? &tee : nullptr;
    o.cancel = &cancel;
    return o;
  }

  Result<RunReport> run(const RunOptions& o, const std::map<std::string, DesiredState>& overrides = {}) {
    auto r = service.reconcileStored(o, overrides);
    if (options.metrics && r) options.metrics->observeReconcile(r->reconcile.elapsed);
    return r;
  }

  // The schedule's next change after t, for a cohort the tick knows.
  std::optional<std::pair<Clock::TimePoint, std::string>> nextChange(const std::string& cohort,
                                                                       Clock::TimePoint t) {
    auto c = cohorts.find(cohort);
    if (c == cohorts.end() || c->second.steps.empty()) return std::nullopt;
    {
      std::lock_guard lk(mu);
      if (deleting.count(cohort)) return std::nullopt;
    }
    ScheduleState st = scheduleStateAt(c->second.steps, t);
    if (!st.nextChange) return std::nullopt;
    const auto& next = c->second.steps[static_cast<size_t>(st.step + 1)];
    return std::make_pair(*st.nextChange, next.reason);
  }

  void refreshCohorts(Clock::TimePoint t0, bool first, TickReport& report);
  void applySchedules(Clock::TimePoint t0, TickReport& report);
  void reconcileCohort(const std::string& cohort, const std::vector<std::string>& due, Clock::TimePoint t0,
                       TickReport& report);
  void deleteCohorts(TickReport& report);
  Status setWish(const std::string& labId, DesiredState desired, bool reset, const std::string& why);
  Status setCohortWish(const std::string& cohort, DesiredState desired, bool remove, const std::string& why);
};

// Reads the cohorts and their schedules. A new cohort, or one applied again
// (a new generation), has its schedule expanded and applied afresh, and all
// its labs become due.
void Controller::Impl::refreshCohorts(Clock::TimePoint t0, bool first, TickReport& report) {
  auto list = store.listCohorts();
  if (!list) {
    report.errors.push_back("listing cohorts: " + list.status().toString());
    return;
  }
  std::set<std::string> names;
  for (const auto& rec : list.value()) {
    names.insert(rec.name);
    auto [it, inserted] = cohorts.try_emplace(rec.name);
    CohortState& c = it->second;
    if (!inserted && c.generation == rec.generation) continue;
    c.generation = rec.generation;
    c.steps.clear();
    c.appliedStep.reset();
    auto parsed = cohortSpecOf(rec);
    if (!parsed) {
      report.errors.push_back(parsed.status().message());
      continue;
    }
    const CohortSpec& spec = parsed.value();
    if (!spec.schedule.empty()) {
      auto occurrences = expandSchedule(spec);
      if (!occurrences) {
        // The labs keep their desired states; the error is said once per generation.
        report.errors.push_back("cohort " + rec.name + ": schedule: " + occurrences.status().toString());
      } else {
        c.steps = scheduleSteps(occurrences.value(), spec);
      }
    }
    if (first) continue;  // every lab is due anyway
    auto ids = store.labIdsOfCohort(rec.name);
    if (!ids) continue;
    std::lock_guard lk(mu);
    for (const auto& id : ids.value())
      pushLocked(id, rec.name, t0, "apply: generation " + std::to_string(rec.generation));
  }
  std::erase_if(cohorts, [&](const auto& kv) { return !names.count(kv.first); });
  std::lock_guard lk(mu);
  std::erase_if(queue, [&](const auto& kv) { return !names.count(kv.second.cohort); });
  std::erase_if(deleting, [&](const std::string& name) { return !names.count(name); });
}

// Step 1 of tick(): where a cohort's schedule moved to another step, its
// labs get the step's desired state and become due.
void Controller::Impl::applySchedules(Clock::TimePoint t0, TickReport& report) {
  for (auto& [name, c] : cohorts) {
    if (c.steps.empty()) continue;
    {
      std::lock_guard lk(mu);
      if (deleting.count(name)) continue;
    }
    ScheduleState st = scheduleStateAt(c.steps, t0);
    if (c.appliedStep && *c.appliedStep == st.step) continue;
    auto labs = store.listLabs(name);
    if (!labs) {
      report.errors.push_back("cohort " + name + ": " + labs.status().toString());
      continue;
    }
    std::vector<std::string> change;
    for (const auto& lab : labs.value())
      if (!lab.removed && lab.desired != st.desired) change.push_back(lab.labId);
    if (!change.empty()) {
      Status s = store.setDesired(change, st.desired);
      if (!s) {
        // Not marked applied: the next tick tries again.
        report.errors.push_back("cohort " + name + ": setting labs " + desiredStateName(st.desired) + ": " +
                                s.toString());
        continue;
      }
      report.desiredChanges += static_cast<int>(change.size());
    }
    c.appliedStep = st.step;
    std::string why = "schedule: " + (st.reason.empty() ? std::string(desiredStateName(st.desired)) : st.reason);
    std::lock_guard lk(mu);
    for (const auto& lab : labs.value()) pushLocked(lab.labId, name, t0, why);
  }
}

// Step 2 and 3 of tick() for one cohort: reconciles its due labs towards
// their stored desired states (resets first), then requeues each.
void Controller::Impl::reconcileCohort(const std::string& cohort, const std::vector<std::string>& due,
                                       Clock::TimePoint t0, TickReport& report) {
  auto labs = store.listLabs(cohort);
  if (!labs) {
    if (labs.status().code() == Code::kNotFound) {
      std::lock_guard lk(mu);
      dropCohortLocked(cohort);
      return;
    }
    report.errors.push_back("cohort " + cohort + ": " + labs.status().toString());
  }
  std::map<std::string, LabRecord> known;
  if (labs)
    for (const auto& lab : labs.value()) known.emplace(lab.labId, lab);

  std::vector<const LabRecord*> selected;
  std::set<std::string> failed;
  std::map<std::string, std::string> failMessage;
  bool cancelled = false;
  {
    std::lock_guard lk(mu);
    for (const auto& id : due) {
      auto it = known.find(id);
      if (it == known.end()) {
        if (labs) {  // forgotten (removed and destroyed) or deleted: nothing left to do
          failures.erase(id);
          resets.erase(id);
        } else {
          failed.insert(id);  // the store could not be read: try again later
          failMessage[id] = labs.status().toString();
        }
        continue;
      }
      selected.push_back(&it->second);
    }
  }
  report.due += static_cast<int>(selected.size() + (labs ? 0 : failed.size()));

  auto trainees = [](const std::vector<const LabRecord*>& of) {
    std::vector<std::string> out;
    for (const auto* lab : of) out.push_back(lab->trainee);
    return out;
  };

  if (!selected.empty() && !stopped.load()) {
    // Resets: destroy first (an override, so a crash in between leaves the
    // stored wish, running, in force), then the main run creates them again.
    std::vector<const LabRecord*> resetting;
    {
      std::lock_guard lk(mu);
      for (const auto* lab : selected)
        if (resets.count(lab->labId)) resetting.push_back(lab);
    }
    if (!resetting.empty()) {
      RunOptions o = runOptions(cohort);
      o.trainees = trainees(resetting);
      std::map<std::string, DesiredState> overrides;
      for (const auto* lab : resetting) overrides[lab->labId] = DesiredState::kAbsent;
      auto r = run(o, overrides);
      if (!r) {
        report.errors.push_back("cohort " + cohort + ": reset: " + r.status().toString());
        for (const auto* lab : resetting) {
          failed.insert(lab->labId);
          failMessage[lab->labId] = "reset: " + r.status().toString();
        }
      } else if (r->reconcile.cancelled) {
        cancelled = true;
      } else {
        std::lock_guard lk(mu);
        for (const auto* lab : resetting) {
          auto f = r->reconcile.failures.find(lab->labId);
          if (f != r->reconcile.failures.end()) {
            failed.insert(lab->labId);
            failMessage[lab->labId] = "reset: " + f->second.toString();
          } else {
            resets.erase(lab->labId);
          }
        }
      }
    }

    if (!cancelled && !stopped.load()) {
      RunOptions o = runOptions(cohort);
      // The whole cohort at once also destroys its orphans; a part of it
      // must leave the rest alone.
      if (!labs || selected.size() != labs->size()) o.trainees = trainees(selected);
      // Labs waiting in the admission queue stay as they are this time.
      auto r = run(o, holds);
      if (!r) {
        report.errors.push_back("cohort " + cohort + ": " + r.status().toString());
        for (const auto* lab : selected) {
          failed.insert(lab->labId);
          if (!failMessage.count(lab->labId)) failMessage[lab->labId] = r.status().toString();
        }
      } else {
        if (r->reconcile.cancelled) cancelled = true;
        for (const auto& [id, st] : r->reconcile.failures) {
          failed.insert(id);
          failMessage[id] = st.toString();
          report.errors.push_back(id + ": " + st.toString());
        }
      }
    } else {
      cancelled = true;
    }
  } else if (!selected.empty()) {
    cancelled = true;
  }

  // Requeue. A lab that was fine comes back at the schedule's next change
  // after t0 (the time this tick works for, not the clock now: backoff and
  // probe sleeps move a FakeClock during the run, and a change passed
  // meanwhile must still be applied), or at the resync interval. A failed
  // one after its backoff, or at the next change if that comes first.
  const auto next = nextChange(cohort, t0);
  const auto after = clock.now();
  std::lock_guard lk(mu);
  auto requeue = [&](const std::string& id) {
    if (cancelled && !failed.count(id)) {
      pushLocked(id, cohort, t0, "cancelled: not done yet");
      return;
    }
    if (failed.count(id)) {
      int n = ++failures[id];
      milliseconds backoff = options.failureBackoff;
      for (int i = 1; i < n && backoff < options.maxFailureBackoff; ++i) backoff *= 2;
      backoff = std::min(backoff, options.maxFailureBackoff);
      Clock::TimePoint due = after + backoff;
      std::string why = "retry after failure " + std::to_string(n) + " (in " + humanDelay(backoff) + "): " +
                        failMessage[id];
      if (next && next->first < due) {
        due = next->first;
        why = "schedule: " + next->second;
      }
      pushLocked(id, cohort, due, why);
      ++report.failed;
      return;
    }
    failures.erase(id);
    ++report.reconciled;
    Clock::TimePoint due = t0 + options.resync;
    std::string why = "resync";
    if (next && next->first <= due) {
      due = next->first;
      why = "schedule: " + next->second;
    }
    pushLocked(id, cohort, due, why);
  };
  for (const auto* lab : selected) requeue(lab->labId);
  if (!labs)
    for (const auto& id : due) requeue(id);
}

// Step 4 of tick(): cohorts marked for deletion whose labs are all gone.
void Controller::Impl::deleteCohorts(TickReport& report) {
  std::vector<std::string> names;
  {
    std::lock_guard lk(mu);
    names.assign(deleting.begin(), deleting.end());
  }
  for (const auto& name : names) {
    auto labs = store.listLabs(name);
    if (labs && !std::all_of(labs->begin(), labs->end(), labGone)) continue;
    Status s = labs ? store.deleteCohort(name) : labs.status();
    if (!s && s.code() == Code::kConflict) continue;  // a lab came alive meanwhile
    if (!s && s.code() != Code::kNotFound) {
      report.errors.push_back("deleting cohort " + name + ": " + s.toString());
      continue;
    }
    if (s) (void)store.appendAudit(options.actor, "delete-cohort", name, "");
    cohorts.erase(name);
    std::lock_guard lk(mu);
    deleting.erase(name);
    dropCohortLocked(name);
  }
}

Controller::Controller(Store& store, ProviderRegistry& providers, Clock& clock, ControllerOptions options)
    : impl_(std::make_unique<Impl>(store, providers, clock, std::move(options))) {}

Controller::~Controller() {
  stop();
  // A tick running on another thread must end before Impl goes.
  std::lock_guard lk(impl_->tickMu);
}

TickReport Controller::tick() {
  Impl& m = *impl_;
  const auto started = SteadyClock::now();
  std::lock_guard tl(m.tickMu);
  TickReport report;
  if (m.stopped.load() || m.paused.load()) {
    report.cancelled = true;
    return report;
  }
  {
    std::lock_guard lk(m.mu);
    if (m.restart) {  // what another leader did since is not in this memory
      m.restart = false;
      m.cohorts.clear();
      // Observations are stale; the parsed-spec caches and the warnings
      // given (not to be given twice) stay.
      m.policyState.activity.clear();
      m.policyState.nextIdleCheck = {};
      m.policyState.admittedAt.clear();
      m.policyState.steps.clear();
      m.holds.clear();
    }
  }
  const Clock::TimePoint t0 = m.clock.now();
  bool first, refresh;
  {
    std::lock_guard lk(m.mu);
    first = m.firstTick;
    refresh = m.refresh || first || t0 >= m.nextRefresh;
    m.firstTick = false;
    m.refresh = false;
  }
  if (refresh) {
    m.refreshCohorts(t0, first, report);
    m.nextRefresh = t0 + m.options.resync;
  }
  if (first) {
    // After a (re)start nothing is known: every lab is looked at, which
    // adopts what the providers run and removes what should not be there.
    auto labs = m.store.listLabs();
    if (!labs) {
      report.errors.push_back("listing labs: " + labs.status().toString());
      std::lock_guard lk(m.mu);
      m.firstTick = true;  // try the adoption again next time
    } else {
      std::lock_guard lk(m.mu);
      for (const auto& lab : labs.value()) m.pushLocked(lab.labId, lab.cohort, t0, "startup: adopt what exists");
    }
    // Intents a dead process left open (kill -9 between a provider call and
    // its outcome): the daemon holds the state lock, so nobody else is
    // mid-call. Their labs are observed again by this tick's reconcile;
    // the journal says how they ended.
    if (auto pending = m.store.listPendingOperations()) {
      for (const auto& op : pending.value())
        (void)m.store.endOperation(
            op.id, Status(Code::kUnavailable, "interrupted: the process that began it ended before it finished; "
                                              "the lab was observed again after the restart"));
    }
  }

  // 1. The schedules.
  m.applySchedules(t0, report);

  // 1b. Quotas (lab-hours, budget), idle labs, the admission queue: stops
  // with a recorded reason, and which labs may start on a full provider.
  std::vector<policy::Result::Wake> wakes;
  // Only on ticks with work: the policies read every lab of the state, and
  // their own times (a quota running out, idle checks, the queue) are queue
  // entries, so a tick with nothing due has nothing for them either.
  bool work = first || refresh || report.desiredChanges > 0;
  if (!work) {
    std::lock_guard lk(m.mu);
    for (const auto& [id, q] : m.queue) work = work || q.due <= t0;
  }
  if (work) {
    policy::Result pol = policy::apply(m.store, m.providers, t0, m.options, m.policyState);
    report.errors.insert(report.errors.end(), pol.errors.begin(), pol.errors.end());
    report.notices.insert(report.notices.end(), pol.messages.begin(), pol.messages.end());
    report.waiting = pol.waiting;
    m.holds = std::move(pol.holds);
    std::lock_guard lk(m.mu);
    for (const auto& [id, cohort] : pol.dueNow) m.pushLocked(id, cohort, t0, "policy");
    wakes = std::move(pol.wakes);
  }

  // 2. and 3. What is due, by cohort.
  std::map<std::string, std::vector<std::string>> due;
  {
    std::lock_guard lk(m.mu);
    for (auto it = m.queue.begin(); it != m.queue.end();) {
      if (it->second.due <= t0) {
        due[it->second.cohort].push_back(it->first);
        it = m.queue.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& [cohort, ids] : due) {
    if (m.stopped.load()) {
      // Put them back: a later controller (or nobody) deals with them.
      std::lock_guard lk(m.mu);
      for (const auto& id : ids) m.pushLocked(id, cohort, t0, "stopped before its turn");
      report.cancelled = true;
      continue;
    }
    m.reconcileCohort(cohort, ids, t0, report);
  }
  if (m.stopped.load()) report.cancelled = true;
  // The policies' own times to look again (a quota running out, the next
  // idle check, the admission queue), after the requeue above so that an
  // earlier one of them is not lost to a lab being due now.
  {
    std::lock_guard lk(m.mu);
    for (const auto& w : wakes) m.pushLocked(w.labId, w.cohort, w.at, w.why);
  }

  // 4. Deletions.
  if (!report.cancelled) m.deleteCohorts(report);

  if (m.options.metrics) m.options.metrics->setQueueDepth(queueDepth());
  report.elapsed = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - started);
  return report;
}

void Controller::wake(const std::string& cohort, const std::vector<std::string>& labIds, const std::string& why) {
  Impl& m = *impl_;
  const auto now = m.clock.now();
  std::vector<std::pair<std::string, std::string>> labs;  // (lab id, cohort)
  bool refresh = false;
  if (!labIds.empty()) {
    for (const auto& id : labIds) {
      auto lab = m.store.getLab(id);
      labs.emplace_back(id, lab ? lab->cohort : cohort);
    }
  } else {
    // A cohort (or every one) may have been applied: read them again.
    refresh = true;
    auto all = m.store.listLabs(cohort);
    if (all)
      for (const auto& lab : all.value()) labs.emplace_back(lab.labId, lab.cohort);
  }
  {
    std::lock_guard lk(m.mu);
    for (const auto& [id, c] : labs) m.pushLocked(id, c, now, why);
    if (refresh) m.refresh = true;
    m.woken = true;
  }
  m.cv.notify_all();
}

Status Controller::Impl::setWish(const std::string& labId, DesiredState desired, bool reset, const std::string& why) {
  auto lab = store.getLab(labId);
  if (!lab) return lab.status();
  if (lab->removed && desired != DesiredState::kAbsent)
    return conflictError("lab " + labId + " was removed from its cohort by an apply; it can only be destroyed");
  {
    std::lock_guard lk(mu);
    if (deleting.count(lab->cohort) && desired != DesiredState::kAbsent)
      return conflictError("cohort " + lab->cohort + " is being deleted");
  }
  Status s = store.setDesired({labId}, desired);
  if (!s) return s;
  {
    std::lock_guard lk(mu);
    if (reset) resets.insert(labId);
    pushLocked(labId, lab->cohort, clock.now(), "api: " + why);
    woken = true;
  }
  cv.notify_all();
  return Status::ok();
}

Status Controller::Impl::setCohortWish(const std::string& cohort, DesiredState desired, bool remove,
                                       const std::string& why) {
  auto rec = store.getCohort(cohort);
  if (!rec) return rec.status();
  {
    std::lock_guard lk(mu);
    if (deleting.count(cohort) && !remove) return conflictError("cohort " + cohort + " is being deleted");
  }
  auto labs = store.listLabs(cohort);
  if (!labs) return labs.status();
  std::vector<std::string> ids;
  for (const auto& lab : labs.value())
    if (!lab.removed) ids.push_back(lab.labId);
  if (!ids.empty()) {
    Status s = store.setDesired(ids, desired);
    if (!s) return s;
  }
  const auto now = clock.now();
  {
    std::lock_guard lk(mu);
    if (remove) {
      deleting.insert(cohort);
      const std::string prefix = cohort + ".";
      std::erase_if(resets, [&](const std::string& id) { return id.rfind(prefix, 0) == 0; });
    }
    for (const auto& lab : labs.value()) pushLocked(lab.labId, cohort, now, "api: " + why);
    woken = true;
  }
  cv.notify_all();
  return Status::ok();
}

Status Controller::startLab(const std::string& labId) {
  return impl_->setWish(labId, DesiredState::kRunning, false, "start");
}
Status Controller::stopLab(const std::string& labId) {
  return impl_->setWish(labId, DesiredState::kStopped, false, "stop");
}
Status Controller::destroyLab(const std::string& labId) {
  return impl_->setWish(labId, DesiredState::kAbsent, false, "destroy");
}
Status Controller::resetLab(const std::string& labId) {
  return impl_->setWish(labId, DesiredState::kRunning, true, "reset");
}
Status Controller::upCohort(const std::string& cohort) {
  return impl_->setCohortWish(cohort, DesiredState::kRunning, false, "up");
}
Status Controller::downCohort(const std::string& cohort) {
  return impl_->setCohortWish(cohort, DesiredState::kAbsent, false, "down");
}
Status Controller::deleteCohort(const std::string& cohort) {
  return impl_->setCohortWish(cohort, DesiredState::kAbsent, true, "delete-cohort");
}

std::optional<Clock::TimePoint> Controller::nextDue() const {
  std::lock_guard lk(impl_->mu);
  return impl_->nextDueLocked();
}

bool Controller::waitForWork(milliseconds maxWait) {
  Impl& m = *impl_;
  const auto deadline = SteadyClock::now() + maxWait;
  std::unique_lock lk(m.mu);
  for (;;) {
    if (m.stopped.load()) return false;
    if (m.woken) {
      m.woken = false;
      return true;
    }
    const auto next = m.nextDueLocked();
    const auto now = m.clock.now();
    if (next && *next <= now) return true;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return true;
    auto wait = std::min(left, kWaitSlice);
    if (next) wait = std::min(wait, std::chrono::duration_cast<milliseconds>(*next - now) + milliseconds(1));
    m.cv.wait_for(lk, wait);
  }
}

void Controller::stop() {
  Impl& m = *impl_;
  m.cancel.store(true);
  {
    std::lock_guard lk(m.mu);
    m.stopped.store(true);
  }
  m.cv.notify_all();
}

void Controller::pause() {
  Impl& m = *impl_;
  m.paused.store(true);
  m.cancel.store(true);
  m.cv.notify_all();
}

void Controller::resume() {
  Impl& m = *impl_;
  {
    std::lock_guard lk(m.mu);
    m.restart = true;
    m.firstTick = true;
    m.refresh = true;
    m.queue.clear();
    m.failures.clear();
    if (!m.stopped.load()) m.cancel.store(false);
    m.paused.store(false);
    m.woken = true;
  }
  m.cv.notify_all();
}

size_t Controller::queueDepth() const {
  std::lock_guard lk(impl_->mu);
  return impl_->queue.size();
}

std::vector<QueuedLab> Controller::queue() const {
  std::vector<QueuedLab> out;
  {
    std::lock_guard lk(impl_->mu);
    out.reserve(impl_->queue.size());
    for (const auto& [id, q] : impl_->queue) out.push_back(q);
  }
  std::stable_sort(out.begin(), out.end(), [](const QueuedLab& a, const QueuedLab& b) { return a.due < b.due; });
  return out;
}

}  // namespace darasa
