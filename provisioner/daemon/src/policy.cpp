#include "policy.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "provisioner/model_json.h"
#include "provisioner/quota.h"
#include "provisioner/units.h"
#include "provisioner/usage.h"

namespace darasa::policy {
namespace {

using std::chrono::seconds;

bool holdsResources(const LabRecord& lab) {
  return lab.phase == LabPhase::kCreating || lab.phase == LabPhase::kReady;
}

bool wantsToRun(const LabRecord& lab) { return !lab.removed && lab.desired == DesiredState::kRunning; }

// A spec that does not parse asks for nothing here; the reconciler reports
// it when it tries to use it.
Resources resourcesOf(State& state, const LabRecord& lab) {
  auto spec = state.labSpecs.get(lab);
  return spec ? spec->resources : Resources{};
}


struct CohortInfo {
  CohortRecord record;
  CohortSpec spec;
  std::vector<LabRecord> labs;
};

void stopWithReason(Store& store, const ControllerOptions& options, const std::vector<std::string>& labIds,
                    const std::string& cohort, const std::string& action, const std::string& reason, Result& out) {
  if (labIds.empty()) return;
  Status s = store.stopWithReason(labIds, reason);
  if (!s) {
    out.errors.push_back("stopping " + labIds.front() + (labIds.size() > 1 ? " and others" : "") + ": " +
                         s.toString());
    return;
  }
  for (const auto& id : labIds) {
    (void)store.appendAudit(options.actor, action, id, reason);
    out.dueNow.emplace_back(id, cohort);
    out.messages.push_back(id + ": stopped: " + reason);
  }
}

// Lab-hours per trainee and the cohort's budget, enforced live.
void enforceQuotas(Store& store, const ControllerOptions& options, Clock::TimePoint now, CohortInfo& c,
                   State& state, Result& out) {
  const QuotaSpec& q = c.spec.quota;
  if (q.labSeconds <= 0 && q.budgetMilli <= 0) return;
  const int64_t t = toUnixSeconds(now);
  auto usage = store.listUsage(c.record.name, 0, t + 1);
  if (!usage) {
    out.errors.push_back("cohort " + c.record.name + ": usage: " + usage.status().toString());
    return;
  }
  if (q.labSeconds > 0) {
    for (const auto& lab : c.labs) {
      if (!wantsToRun(lab)) continue;
      int64_t used = runningSeconds(usage.value(), lab.trainee, t);
      if (options.metrics)
        options.metrics->setGauge("darasa_quota_lab_hours_used_ratio",
                                  "Share of the trainee's lab-hours quota used (1 = spent)",
                                  {{"cohort", c.record.name}, {"trainee", lab.trainee}},
                                  static_cast<double>(used) / static_cast<double>(q.labSeconds));
      QuotaCheck check = checkLabHours("trainee " + lab.trainee, used, q.labSeconds);
      if (check.level == QuotaLevel::kExhausted) {
        stopWithReason(store, options, {lab.labId}, c.record.name, "quota-stop", "lab-hours quota spent: " + check.message,
                       out);
        continue;
      }
      if (check.level == QuotaLevel::kWarning && state.warned.insert("hours:" + lab.labId).second) {
        (void)store.appendAudit(options.actor, "quota-warning", lab.labId, check.message);
        out.messages.push_back(lab.labId + ": warning: " + check.message);
      }
      // While it runs (or is about to), look again exactly when the quota
      // runs out (and at 80 %, for the warning).
      {
        out.wakes.push_back({lab.labId, c.record.name, now + seconds(q.labSeconds - used), "quota: lab-hours run out"});
        int64_t warnAt = (q.labSeconds * 4 + 4) / 5;  // 80 %, rounded up to the second
        if (used < warnAt) out.wakes.push_back({lab.labId, c.record.name, now + seconds(warnAt - used), "quota: 80% of lab-hours"});
      }
    }
  }
  if (q.budgetMilli > 0) {
    auto prices = options.prices.find(c.record.provider);
    if (prices == options.prices.end() || !prices->second.any()) return;  // nothing costs anything
    UsageReport r = computeUsage(usage.value(), c.record.name, c.spec.timezone, 0, t, prices->second);
    if (options.metrics)
      options.metrics->setGauge("darasa_quota_budget_used_ratio", "Share of the cohort's budget spent (1 = spent)",
                                {{"cohort", c.record.name}},
                                static_cast<double>(r.total.costMilli) / static_cast<double>(q.budgetMilli));
    QuotaCheck check = checkBudget(c.record.name, r.total.costMilli, q.budgetMilli);
    if (check.level == QuotaLevel::kExhausted) {
      std::vector<std::string> ids;
      for (const auto& lab : c.labs)
        if (wantsToRun(lab)) ids.push_back(lab.labId);
      stopWithReason(store, options, ids, c.record.name, "quota-stop", "budget spent: " + check.message, out);
      return;
    }
    if (check.level == QuotaLevel::kWarning && state.warned.insert("budget:" + c.record.name).second) {
      (void)store.appendAudit(options.actor, "quota-warning", c.record.name, check.message);
      out.messages.push_back("cohort " + c.record.name + ": warning: " + check.message);
    }
    // When the running labs will have spent the rest, at their current rate.
    int64_t perHourMilli = 0;
    for (const auto& lab : c.labs) {
      if (!holdsResources(lab)) continue;
      Resources res = resourcesOf(state, lab);
      UsageInterval one;
      one.cpuMillis = res.cpuMillis;
      one.memoryBytes = res.memoryBytes;
      one.startedAt = 0;
      one.endedAt = 3600;
      perHourMilli += computeUsage({one}, "", "", 0, 3600, prices->second).total.costMilli;
    }
    if (perHourMilli > 0) {
      int64_t left = q.budgetMilli - r.total.costMilli;
      int64_t secs = std::max<int64_t>(1, left * 3600 / perHourMilli);
      for (const auto& lab : c.labs)
        if (holdsResources(lab)) out.wakes.push_back({lab.labId, c.record.name, now + seconds(secs), "quota: budget runs out"});
    }
  }
}

void cullIdle(Store& store, ProviderRegistry& providers, const ControllerOptions& options, Clock::TimePoint now,
              const CohortInfo& c, State& state, Result& out) {
  bool any = false;
  for (const auto& lab : c.labs) any = any || (lab.phase == LabPhase::kReady && wantsToRun(lab));
  if (!any) return;
  auto verdicts = findIdleLabs(store, providers, c.record.name, now, &state.activity, {}, &state.labSpecs);
  if (!verdicts) {
    out.errors.push_back("cohort " + c.record.name + ": idle check: " + verdicts.status().toString());
    return;
  }
  for (const auto& v : verdicts.value()) {
    if (v.lastActive) (void)store.recordActivity(v.labId, toUnixSeconds(*v.lastActive));
    if (v.idle) {
      stopWithReason(store, options, {v.labId}, c.record.name, "idle-stop", "idle: " + v.reason, out);
    } else if (v.measured && v.idleTimeout.count() > 0) {
      out.wakes.push_back({v.labId, c.record.name, now + options.idleCheck, "idle check"});
    }
  }
}

// The admission queue of one provider.
void admitOn(const std::string& providerName, std::vector<CohortInfo*>& cohorts, ProviderRegistry& providers,
             const ControllerOptions& options, Clock::TimePoint now, State& state, Result& out,
             std::vector<QueueEntry>& queue) {
  ProviderCapacity cap;
  if (auto o = options.capacity.find(providerName); o != options.capacity.end()) {
    cap = o->second;
    if (cap.source.empty()) cap.source = "configured";
  } else {
    auto p = providers.get(providerName);
    if (!p) return;  // the reconcile reports an unknown provider
    auto c = p.value()->capacity();
    if (!c) return;  // capacity unknown: no admission control
    cap = c.value();
  }
  const int64_t t = toUnixSeconds(now);
  ProviderCapacity free = cap;
  int64_t heldLabs = 0;
  std::map<std::string, std::pair<int64_t, int64_t>> perCohort;
  std::vector<AdmissionRequest> requests;
  std::map<std::string, const LabRecord*> byId;
  std::vector<int64_t> frees;  // seconds from now at which held labs are due to stop
  std::map<std::string, std::optional<int64_t>> stopInOf;  // cohort → when its labs stop next
  for (CohortInfo* c : cohorts) {
    auto& pc = perCohort[c->record.name];
    pc.second = c->spec.quota.maxLabs;
    // The next step of the cohort's schedule that is not "running".
    std::optional<int64_t> stopIn;
    auto st = state.steps.find(c->record.name);
    if (st != state.steps.end()) {
      ScheduleState s = scheduleStateAt(st->second.second, now);
      for (size_t i = static_cast<size_t>(s.step + 1); i < st->second.second.size(); ++i)
        if (st->second.second[i].desired != DesiredState::kRunning) {
          stopIn = std::chrono::duration_cast<seconds>(st->second.second[i].at - now).count();
          break;
        }
    }
    stopInOf[c->record.name] = stopIn;
    for (const auto& lab : c->labs) {
      if (lab.provider != providerName) continue;
      byId[lab.labId] = &lab;
      if (holdsResources(lab)) {
        Resources r = resourcesOf(state, lab);
        free.cpuMillis -= r.cpuMillis;
        free.memoryBytes -= r.memoryBytes;
        heldLabs += 1;
        pc.first += 1;
        if (stopIn) frees.push_back(*stopIn);
        // Measured provisioning time, from admission to ready.
        if (lab.phase == LabPhase::kReady) {
          auto a = state.admittedAt.find(lab.labId);
          if (a != state.admittedAt.end() && lab.readyAt >= a->second) {
            double d = static_cast<double>(lab.readyAt - a->second);
            state.provisionSeconds = (state.provisionSeconds * state.provisionSamples + d) / (state.provisionSamples + 1);
            state.provisionSamples = std::min(state.provisionSamples + 1, 50);
            state.admittedAt.erase(a);
          }
        }
        continue;
      }
      if (!wantsToRun(lab)) continue;
      AdmissionRequest r;
      r.labId = lab.labId;
      r.cohort = c->record.name;
      r.priority = c->spec.priority;
      r.queuedAt = lab.queuedAt > 0 ? lab.queuedAt : t;
      r.resources = resourcesOf(state, lab);
      requests.push_back(std::move(r));
    }
  }
  if (requests.empty()) {
    if (options.metrics)
      options.metrics->setGauge("darasa_admission_waiting", "Labs waiting for capacity in the admission queue",
                                {{"provider", providerName}}, 0);
    return;
  }
  // What is left under each cap: 0 = no cap, negative = capped and full (a
  // cap may be overrun by labs adopted at start).
  auto room = [](int64_t capValue, int64_t left) -> int64_t {
    if (capValue <= 0) return 0;
    return left > 0 ? left : -1;
  };
  ProviderCapacity left;
  left.maxLabs = room(cap.maxLabs, cap.maxLabs - heldLabs);
  left.cpuMillis = room(cap.cpuMillis, free.cpuMillis);
  left.memoryBytes = room(cap.memoryBytes, free.memoryBytes);
  AdmissionDecision d = admit(requests, left, perCohort);
  if (options.metrics) {
    options.metrics->setGauge("darasa_admission_waiting", "Labs waiting for capacity in the admission queue",
                              {{"provider", providerName}}, static_cast<double>(d.waiting.size()));
    options.metrics->setGauge("darasa_capacity_labs_running", "Labs holding resources on the provider",
                              {{"provider", providerName}}, static_cast<double>(heldLabs));
  }
  for (const auto& id : d.admitted) {
    const LabRecord* lab = byId[id];
    out.dueNow.emplace_back(id, lab->cohort);
    state.admittedAt.emplace(id, t);
    // Admitted now, it holds its slot until its cohort's next stop too.
    if (auto in = stopInOf[lab->cohort]) frees.push_back(*in);
  }
  const int64_t provision = state.provisionSamples > 0 ? static_cast<int64_t>(state.provisionSeconds + 0.5) : 30;
  for (const auto& w : d.waiting) {
    const LabRecord* lab = byId[w.labId];
    // Held as "stopped" for this tick: a stopped lab stays stopped, one
    // never made stays pending (nothing is made or forgotten), and a failed
    // one is kept for inspection, as the planner does for stopped labs.
    out.holds[w.labId] = DesiredState::kStopped;
    auto eta = estimateWait(w.position, frees, provision);
    std::string reason = "provider " + providerName + ": " + w.reason;
    queue.push_back({w.labId, w.position, reason, eta ? t + *eta : 0});
    out.wakes.push_back({w.labId, lab->cohort, now + options.queueCheck, "admission queue"});
    ++out.waiting;
  }
}

}  // namespace

Result apply(Store& store, ProviderRegistry& providers, Clock::TimePoint now, const ControllerOptions& options,
             State& state) {
  Result out;
  auto records = store.listCohorts();
  if (!records) {
    out.errors.push_back("listing cohorts: " + records.status().toString());
    return out;
  }
  auto labs = store.listLabs();
  if (!labs) {
    out.errors.push_back("listing labs: " + labs.status().toString());
    return out;
  }
  std::map<std::string, CohortInfo> cohorts;
  for (auto& rec : records.value()) {
    CohortInfo c;
    auto spec = state.cohortSpecs.get(rec);
    if (!spec) {
      out.errors.push_back(spec.status().message());
      continue;
    }
    c.spec = std::move(spec.value());
    auto st = state.steps.find(rec.name);
    if ((st == state.steps.end() || st->second.first != rec.generation)) {
      std::vector<ScheduleStep> steps;
      if (!c.spec.schedule.empty())
        if (auto occ = expandSchedule(c.spec); occ) steps = scheduleSteps(occ.value(), c.spec);
      state.steps[rec.name] = {rec.generation, std::move(steps)};
    }
    c.record = std::move(rec);
    cohorts.emplace(c.record.name, std::move(c));
  }
  std::erase_if(state.steps, [&](const auto& kv) { return !cohorts.count(kv.first); });
  state.cohortSpecs.retain(records.value());
  state.labSpecs.retain(labs.value());
  for (auto& lab : labs.value()) {
    auto it = cohorts.find(lab.cohort);
    if (it != cohorts.end()) it->second.labs.push_back(std::move(lab));
  }

  // 1. Quotas: labs whose trainee or cohort spent its share stop now.
  for (auto& [name, c] : cohorts) enforceQuotas(store, options, now, c, state, out);
  // Labs just stopped by a quota are not candidates for admission.
  std::set<std::string> stoppedNow;
  for (const auto& [id, cohort] : out.dueNow) stoppedNow.insert(id);

  // 2. Idle labs stop (never destroyed), at most every idleCheck.
  if (now >= state.nextIdleCheck) {
    for (auto& [name, c] : cohorts) cullIdle(store, providers, options, now, c, state, out);
    state.nextIdleCheck = now + options.idleCheck;
  }
  for (const auto& [id, cohort] : out.dueNow) stoppedNow.insert(id);

  // 3. Admission, per provider, over every cohort on it.
  std::map<std::string, std::vector<CohortInfo*>> byProvider;
  for (auto& [name, c] : cohorts) {
    std::erase_if(c.labs, [&](const LabRecord& l) { return stoppedNow.count(l.labId) > 0; });
    std::set<std::string> names;
    for (const auto& lab : c.labs) names.insert(lab.provider);
    for (const auto& p : names) byProvider[p].push_back(&c);
  }
  std::vector<QueueEntry> queue;
  for (auto& [provider, list] : byProvider) admitOn(provider, list, providers, options, now, state, out, queue);
  Status s = store.recordQueue(queue);
  if (!s) out.errors.push_back("recording the admission queue: " + s.toString());
  return out;
}

}  // namespace darasa::policy
