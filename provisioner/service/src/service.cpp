#include "provisioner/service.h"

#include "provisioner/quota.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "provisioner/model_json.h"

namespace darasa {
using nlohmann::json;

namespace {

std::string endpointsToJson(const std::vector<Endpoint>& endpoints) { return json(endpoints).dump(); }

std::vector<Endpoint> endpointsFromJson(const std::string& text) {
  auto parsed = parseJsonAs<std::vector<Endpoint>>(text.empty() ? "[]" : text, "endpoints");
  return parsed ? parsed.value() : std::vector<Endpoint>{};
}

// The reconciler's journal, written to the store. Labs the store does not
// know (orphans being destroyed) are not recorded.
class StoreJournal final : public ReconcileJournal {
 public:
  StoreJournal(Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  Result<int64_t> beginOperation(const std::string& labId, ActionKind kind, const std::string& detail) override {
    return store_.beginOperation(labId, actionKindName(kind), detail);
  }
  Status endOperation(int64_t opId, const Status& result) override { return store_.endOperation(opId, result); }
  Status recordObserved(const std::string& labId, LabPhase phase, const ObservedLab& observed) override {
    return known(store_.recordObserved(labId, phase, observed.resourceId, endpointsToJson(observed.endpoints),
                                       observed.generation));
  }
  Status recordReady(const std::string& labId, const ObservedLab& observed) override {
    auto s = store_.recordObserved(labId, LabPhase::kReady, observed.resourceId,
                                   endpointsToJson(observed.endpoints), observed.generation);
    if (!s) return known(s);
    return known(store_.markReady(labId, clock_.now()));
  }
  Status recordError(const std::string& labId, const Status& error) override {
    auto s = store_.recordError(labId, error);
    if (!s) return known(s);
    auto lab = store_.getLab(labId);
    if (!lab) return known(lab.status());
    return known(store_.recordObserved(labId, LabPhase::kFailed, lab->resourceId, lab->endpointsJson,
                                       lab->observedGeneration));
  }
  Status recordDestroyed(const std::string& labId) override { return known(store_.markDestroyed(labId)); }

 private:
  static Status known(const Status& s) { return s.code() == Code::kNotFound ? Status::ok() : s; }
  Store& store_;
  const Clock& clock_;
};

// Cancels a reconciler when the caller's cancel flag goes up. It polls the
// flag (a signal handler can only set an atomic), and its destructor returns
// at once rather than after a poll interval: the daemon runs it for every
// reconcile.
class CancelWatcher {
 public:
  CancelWatcher(const std::atomic<bool>* flag, Reconciler& reconciler) {
    if (!flag) return;
    thread_ = std::thread([this, flag, &reconciler] {
      std::unique_lock lk(mu_);
      while (!done_) {
        if (flag->load()) {
          reconciler.cancel();
          return;
        }
        cv_.wait_for(lk, std::chrono::milliseconds(50));
      }
    });
  }
  ~CancelWatcher() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

struct LabService::Selection {
  CohortRecord cohort;
  std::vector<LabRecord> labs;  // the selected labs
  std::map<std::string, Trainee> trainees;
  std::string instanceId;
};

Result<std::vector<PlannedLab>> LabService::plannedLabs(const Selection& sel, std::optional<DesiredState> wanted,
                                                        const std::map<std::string, DesiredState>& overrides) {
  std::vector<PlannedLab> planned;
  planned.reserve(sel.labs.size());
  for (const auto& lab : sel.labs) {
    auto spec = specs_.get(lab);
    if (!spec) return spec.status();
    spec->labels[kLabelState] = sel.instanceId;
    PlannedLab p;
    p.spec = std::move(spec.value());
    auto o = overrides.find(lab.labId);
    if (lab.removed) p.desired = DesiredState::kAbsent;
    else if (o != overrides.end()) p.desired = o->second;
    else p.desired = wanted ? *wanted : lab.desired;
    p.phase = lab.phase;
    p.resourceId = lab.resourceId;
    planned.push_back(std::move(p));
  }
  return planned;
}

LabService::LabService(Store& store, ProviderRegistry& providers, Clock& clock, std::string actor)
    : store_(store), providers_(providers), clock_(clock), actor_(std::move(actor)) {}

LabelSelector LabService::stateSelector() const {
  LabelSelector s;
  auto id = store_.instanceId();
  if (id) s.equals[kLabelState] = id.value();
  return s;
}

LabelSelector LabService::cohortSelector(const std::string& cohort) const {
  LabelSelector s = stateSelector();
  s.equals[kLabelCohort] = cohort;
  return s;
}

Result<ApplyReport> LabService::apply(const ApplyRequest& request) {
  const RenderedCohort& r = request.rendered;
  ApplyReport report;
  report.cohort = r.cohort.name;
  report.dryRun = request.dryRun;
  // Every lab is checked by its provider before anything is written.
  std::map<std::string, Provider*> used;
  for (const auto& spec : r.labs) {
    auto provider = providers_.get(spec.provider);
    if (!provider) return invalidError("cohort " + r.cohort.name + ": " + provider.status().message());
    used[spec.provider] = provider.value();
    auto valid = provider.value()->validate(spec);
    if (!valid) return Status(valid.code(), "cohort " + r.cohort.name + ", lab " + spec.labId + ": " + valid.message());
  }
  for (const auto& [name, provider] : used) {
    auto usable = provider->usable();
    if (!usable) report.warnings.push_back("provider " + name + " is not usable here yet: " + usable.message());
  }
  if (!r.labs.empty()) {
    Status fits = checkCapacity(r, *used.begin()->second, used.begin()->first);
    if (!fits && fits.code() != Code::kQuota) return fits;
    if (!fits && !request.allowPartial) return fits;
    if (!fits) report.warnings.push_back(fits.message() + " (--allow-partial: the rest wait in the admission queue)");
  }

  CohortApply apply;
  apply.name = r.cohort.name;
  apply.templateName = r.cohort.templateName;
  apply.snapshotJson = r.snapshot.canonicalJson;
  apply.snapshotHash = r.snapshot.hash;
  apply.cohortSpecJson = json(r.cohort).dump();
  apply.provider = r.labs.empty() ? "" : r.labs.front().provider;
  apply.trainees = r.cohort.trainees;
  for (const auto& spec : r.labs) apply.labs.push_back({spec.labId, spec.trainee, labSpecForStore(spec)});

  if (request.dryRun) {
    auto outcome = store_.previewApply(apply);
    if (!outcome) return outcome.status();
    report.outcome = outcome.value();
    return report;
  }
  for (const auto& t : request.templates) {
    auto put = store_.putTemplate(t);
    if (!put) return put.status();
  }
  auto outcome = store_.applyCohort(apply);
  if (!outcome) return outcome.status();
  report.outcome = outcome.value();
  (void)store_.appendAudit(actor_, "apply", r.cohort.name,
                           "generation " + std::to_string(report.outcome.generation));
  return report;
}

Status LabService::checkCapacity(const RenderedCohort& r, Provider& provider, const std::string& providerName) {
  auto cap = provider.capacity();
  if (!cap) return Status::ok();  // unknown capacity: nothing to check against
  // What the other cohorts on this provider may hold at once.
  Demand others;
  auto cohorts = store_.listCohorts();
  if (!cohorts) return cohorts.status();
  for (const auto& c : cohorts.value()) {
    if (c.name == r.cohort.name || c.provider != providerName) continue;
    auto labs = store_.listLabs(c.name);
    if (!labs) return labs.status();
    auto spec = cohortSpecOf(c);
    int64_t maxLabs = spec ? spec->quota.maxLabs : 0;
    int64_t counted = 0;
    for (const auto& lab : labs.value()) {
      if (lab.removed || (maxLabs > 0 && counted >= maxLabs)) continue;
      auto labSpec = specs_.get(lab);
      if (!labSpec) continue;
      others.add(labSpec->resources);
      ++counted;
    }
  }
  return checkCohortFits(r.cohort.name, providerName, r.labs.front().resources,
                         static_cast<int64_t>(r.labs.size()), r.cohort.quota.maxLabs, others, cap.value());
}

Result<LabService::Selection> LabService::select(const RunOptions& options) {
  Selection sel;
  auto cohort = cohortRecord(options.cohort);
  if (!cohort) return cohort.status();
  sel.cohort = cohort.value();
  auto trainees = store_.listTrainees(options.cohort);
  if (!trainees) return trainees.status();
  for (const auto& t : trainees.value()) sel.trainees[t.id] = t;
  auto labs = store_.listLabs(options.cohort);
  if (!labs) return labs.status();
  std::set<std::string> wanted(options.trainees.begin(), options.trainees.end());
  for (const auto& id : wanted) {
    bool found = std::any_of(labs->begin(), labs->end(), [&](const LabRecord& l) { return l.trainee == id; });
    if (!found) {
      std::vector<std::string> known;
      for (const auto& [tid, t] : sel.trainees) known.push_back(tid);
      return noSuchTrainee(options.cohort, id, known);
    }
  }
  for (auto& lab : labs.value())
    if (wanted.empty() || wanted.count(lab.trainee)) sel.labs.push_back(std::move(lab));
  auto id = store_.instanceId();
  if (!id) return id.status();
  sel.instanceId = id.value();
  return sel;
}

Result<LabCredentials> LabService::credentialsFor(const LabSpec& spec) {
  auto has = store_.hasCredentials(spec.cohort, spec.trainee);
  if (!has) return has.status();
  if (has.value()) {
    auto creds = store_.readCredentials(spec.cohort, spec.trainee, actor_ + " (inject into lab)");
    if (!creds) return creds.status();
    if (creds->user == spec.access.user) return toLabCredentials(creds.value());
  }
  auto fresh = generateCredentials(spec.access.user, "darasa:" + spec.labId);
  if (!fresh) return fresh.status();
  auto put = store_.putCredentials(spec.cohort, spec.trainee, fresh.value());
  if (!put) return put;
  return toLabCredentials(fresh.value());
}

Result<PlanView> LabService::plan(const RunOptions& options, DesiredState wanted) {
  auto sel = select(options);
  if (!sel) return sel.status();
  auto planned = plannedLabs(sel.value(), wanted);
  if (!planned) return planned.status();
  std::string providerName = planned->empty() ? sel->cohort.provider : planned->front().spec.provider;
  auto provider = providers_.get(providerName);
  if (!provider) return provider.status();
  auto observed = provider.value()->list(cohortSelector(options.cohort), Deadline::after(options.callTimeout));
  if (!observed) return observed.status().withContext("listing the labs of provider " + providerName);
  std::vector<ObservedLab> mine;
  std::set<std::string> selectedIds;
  for (const auto& p : planned.value()) selectedIds.insert(p.spec.labId);
  for (auto& o : observed.value())
    if (options.trainees.empty() || selectedIds.count(o.labId)) mine.push_back(std::move(o));
  PlanOptions po;
  if (options.trainees.empty()) po.orphans = cohortSelector(options.cohort);
  po.canStopStart = provider.value()->info().capabilities.stopStart;
  return PlanView{options.cohort, wanted, planActions(planned.value(), mine, clock_.now(), po)};
}

Result<RunReport> LabService::reconcile(const RunOptions& options, DesiredState wanted) {
  auto sel = select(options);
  if (!sel) return sel.status();
  auto planned = plannedLabs(sel.value(), wanted);
  if (!planned) return planned.status();
  std::vector<std::string> ids;
  for (const auto& lab : sel->labs)
    if (!lab.removed) ids.push_back(lab.labId);
  if (!ids.empty()) {
    auto s = store_.setDesired(ids, wanted);
    if (!s) return s;
  }
  return execute(options, std::move(planned.value()), [wanted](const LabRecord& lab, DesiredState) {
    if (wanted == DesiredState::kRunning) return !lab.removed && lab.phase == LabPhase::kReady;
    return lab.phase == LabPhase::kDestroyed;
  });
}

Result<RunReport> LabService::reconcileStored(const RunOptions& options,
                                              const std::map<std::string, DesiredState>& overrides) {
  auto sel = select(options);
  if (!sel) return sel.status();
  auto planned = plannedLabs(sel.value(), std::nullopt, overrides);
  if (!planned) return planned.status();
  return execute(options, std::move(planned.value()), [](const LabRecord& lab, DesiredState desired) {
    switch (desired) {
      case DesiredState::kRunning: return lab.phase == LabPhase::kReady;
      case DesiredState::kStopped:
        return lab.phase == LabPhase::kStopped || lab.phase == LabPhase::kDestroyed ||
               (lab.phase == LabPhase::kPending && lab.resourceId.empty());
      case DesiredState::kAbsent: return lab.phase == LabPhase::kDestroyed;
    }
    return false;
  });
}

Result<RunReport> LabService::execute(const RunOptions& options, std::vector<PlannedLab> planned,
                                      const std::function<bool(const LabRecord&, DesiredState)>& settled) {
  RunReport report;
  report.labs = static_cast<int>(planned.size());
  if (planned.empty()) {
    report.reconcile.converged = true;
    return report;
  }
  std::string providerName = planned.front().spec.provider;
  auto provider = providers_.get(providerName);
  if (!provider) return provider.status();
  bool anyRunning = std::any_of(planned.begin(), planned.end(),
                                [](const PlannedLab& p) { return p.desired == DesiredState::kRunning; });
  if (anyRunning) {
    auto usable = provider.value()->usable();
    if (!usable) return usable.withContext("provider " + providerName + " cannot run labs here");
  }

  StoreJournal journal(store_, clock_);
  ReconcilerOptions ro;
  ro.parallelism = options.parallelism;
  ro.callTimeout = options.callTimeout;
  ro.maxAttempts = options.maxAttempts;
  ro.initialBackoff = options.initialBackoff;
  ro.probeInterval = options.probeInterval;
  // With a trainee selection the other labs of the cohort are not planned:
  // they must not be mistaken for orphans.
  ro.destroyOrphans = options.trainees.empty();
  ro.credentials = [this](const LabSpec& spec) { return credentialsFor(spec); };
  Reconciler reconciler(*provider.value(), journal, options.events, ro, clock_);
  LabelSelector selector = cohortSelector(options.cohort);
  if (options.trainees.size() == 1) selector.equals[kLabelTrainee] = options.trainees.front();
  std::map<std::string, DesiredState> wantedOf;
  for (const auto& p : planned) wantedOf.emplace(p.spec.labId, p.desired);
  {
    CancelWatcher watcher(options.cancel, reconciler);
    report.reconcile = reconciler.run(std::move(planned), selector);
  }
  if (!report.reconcile.status) return report.reconcile.status;

  // Count the outcome from the store, which is what status will show.
  auto labs = store_.listLabs(options.cohort);
  if (!labs) return labs.status();
  for (const auto& lab : labs.value()) {
    auto w = wantedOf.find(lab.labId);
    if (w == wantedOf.end()) continue;
    if (settled(lab, w->second)) ++report.ready;
    if (lab.removed && lab.phase == LabPhase::kDestroyed) {
      auto forgot = store_.forgetLab(lab.labId);
      if (!forgot) return forgot;
    }
  }
  return report;
}

Result<RunReport> LabService::up(const RunOptions& options) { return reconcile(options, DesiredState::kRunning); }

Result<RunReport> LabService::down(const RunOptions& options) { return reconcile(options, DesiredState::kAbsent); }

Status noSuchTrainee(const std::string& cohort, const std::string& trainee, const std::vector<std::string>& known) {
  std::string list;
  for (size_t i = 0; i < known.size(); ++i) {
    if (i == 10) {
      list += ", ...";
      break;
    }
    list += (i ? ", " : "") + known[i];
  }
  return notFoundError("cohort " + cohort + " has no trainee \"" + trainee + "\" (trainees: " + list + ")");
}

std::string tokenScope(const TokenRecord& t) {
  return std::string("role ") + tokenRoleName(t.role) + (t.cohort.empty() ? "" : ", cohort " + t.cohort) +
         (t.trainee.empty() ? "" : ", trainee " + t.trainee);
}

Result<CohortRecord> LabService::cohortRecord(const std::string& name) {
  auto cohort = store_.getCohort(name);
  if (!cohort && cohort.status().code() == Code::kNotFound) return notFoundError("no cohort " + name);
  return cohort;
}

Result<std::vector<LabStatus>> LabService::status(const std::string& cohort) {
  if (!cohort.empty())
    if (auto c = cohortRecord(cohort); !c) return c.status();
  auto labs = store_.listLabs(cohort);
  if (!labs) return labs.status();
  std::map<std::string, std::map<std::string, Trainee>> rosters;
  std::vector<LabStatus> out;
  for (auto& lab : labs.value()) {
    auto it = rosters.find(lab.cohort);
    if (it == rosters.end()) {
      std::map<std::string, Trainee> roster;
      auto trainees = store_.listTrainees(lab.cohort);
      if (trainees)
        for (const auto& t : trainees.value()) roster[t.id] = t;
      it = rosters.emplace(lab.cohort, std::move(roster)).first;
    }
    LabStatus s;
    s.endpoints = endpointsFromJson(lab.endpointsJson);
    auto t = it->second.find(lab.trainee);
    s.trainee = t != it->second.end() ? t->second : Trainee{lab.trainee, "", ""};
    s.lab = std::move(lab);
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<CredentialView>> LabService::credentials(const std::string& cohort,
                                                            const std::vector<std::string>& trainees) {
  RunOptions options;
  options.cohort = cohort;
  options.trainees = trainees;
  auto sel = select(options);
  if (!sel) return sel.status();
  std::vector<CredentialView> out;
  for (const auto& lab : sel->labs) {
    if (lab.removed) continue;
    CredentialView v;
    v.cohort = cohort;
    auto t = sel->trainees.find(lab.trainee);
    v.trainee = t != sel->trainees.end() ? t->second : Trainee{lab.trainee, "", ""};
    v.labId = lab.labId;
    v.phase = lab.phase;
    v.endpoints = endpointsFromJson(lab.endpointsJson);
    auto has = store_.hasCredentials(cohort, lab.trainee);
    if (!has) return has.status();
    if (has.value()) {
      auto creds = store_.readCredentials(cohort, lab.trainee, actor_);
      if (!creds) return creds.status();
      v.credentials = std::move(creds.value());
      v.issued = true;
    }
    out.push_back(std::move(v));
  }
  return out;
}

Result<std::vector<GcItem>> LabService::gc(bool dryRun, std::chrono::milliseconds callTimeout) {
  std::vector<GcItem> items;
  LabelSelector selector = stateSelector();
  for (const auto& name : providers_.names()) {
    auto provider = providers_.get(name);
    if (!provider) continue;  // cannot even be made here: nothing of ours can be there
    if (!provider.value()->usable()) continue;
    auto observed = provider.value()->list(selector, Deadline::after(callTimeout));
    if (!observed) return observed.status().withContext("listing the labs of provider " + name);
    for (auto& o : observed.value()) {
      std::string reason;
      auto lab = store_.getLab(o.labId);
      if (!lab) {
        if (lab.status().code() != Code::kNotFound) return lab.status();
        reason = "unknown to the state";
      } else if (lab->phase == LabPhase::kDestroyed) {
        reason = "recorded as destroyed";
      } else {
        // Known and alive: it is the reconciler's, whichever provider name
        // (two names may reach one engine) listed it.
        continue;
      }
      GcItem item{name, std::move(o), reason, Status::ok()};
      if (!dryRun) {
        auto op = store_.beginOperation(item.lab.labId, "gc-destroy", reason);
        item.result = provider.value()->destroy(item.lab.labId, Deadline::after(callTimeout));
        if (op) (void)store_.endOperation(op.value(), item.result);
        (void)store_.appendAudit(actor_, "gc-destroy", item.lab.labId, reason);
      }
      items.push_back(std::move(item));
    }
  }
  return items;
}

}  // namespace darasa
