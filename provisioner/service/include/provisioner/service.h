// LabService: the operations the CLI (and later the daemon's API) run on a
// state — apply a rendered cohort, plan, up, down, status, credentials, gc.
// It ties the store, the provider registry, the vault and the reconciler
// together; commands stay thin. Not thread-safe: one command at a time per
// object (the state lock keeps other processes out).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "provisioner/clock.h"
#include "provisioner/cohort.h"
#include "provisioner/events.h"
#include "provisioner/planner.h"
#include "provisioner/provider.h"
#include "provisioner/reconciler.h"
#include "provisioner/schedule.h"
#include "provisioner/store.h"
#include "provisioner/usage.h"
#include "provisioner/vault.h"

namespace darasa {

struct ApplyRequest {
  RenderedCohort rendered;
  std::vector<TemplateRecord> templates;  // templates to store with it (those given on the command line)
  bool dryRun = false;                    // say what would change, write nothing
  // A class that cannot all run at once on its provider (capacity, next to
  // the other cohorts there) is refused (kQuota, with the arithmetic) unless
  // this is set: then it is a warning and the admission queue makes the
  // rest wait.
  bool allowPartial = false;
};

struct ApplyReport {
  std::string cohort;
  bool dryRun = false;
  ApplyOutcome outcome;
  std::vector<std::string> warnings;  // e.g. limits a provider cannot enforce here
};

struct RunOptions {
  std::string cohort;
  std::vector<std::string> trainees;  // empty: every trainee of the cohort
  int parallelism = 0;                // 0: the provider's own
  std::chrono::milliseconds callTimeout{120000};
  int maxAttempts = 5;
  std::chrono::milliseconds initialBackoff{500};
  std::chrono::milliseconds probeInterval{250};
  EventSink* events = nullptr;
  // Set (e.g. by SIGINT) to stop starting work and return promptly.
  const std::atomic<bool>* cancel = nullptr;
};

struct RunReport {
  ReconcileReport reconcile;
  int labs = 0;   // labs acted on (the selection)
  int ready = 0;  // of those, ready at the end (up) / destroyed at the end (down)
};

struct LabStatus {
  LabRecord lab;
  Trainee trainee;
  std::vector<Endpoint> endpoints;
};

struct CredentialView {
  std::string cohort;
  Trainee trainee;
  std::string labId;
  LabPhase phase = LabPhase::kPending;
  std::vector<Endpoint> endpoints;
  bool issued = false;  // false: the lab was never provisioned, nothing to hand out
  CredentialSet credentials;
};

// ---- read views (their JSON, the one wire format, is in wire.h)

// A window of time as people and the API give it: "" (the default), "now",
// a date 2026-04-20 (midnight in the cohort's zone), a local date-time
// 2026-04-20T14:00 (cohort's zone) or RFC 3339 (2026-04-20T11:00:00Z).
struct TimeWindow {
  std::string from;
  std::string to;
};

struct ScheduleQuery {
  TimeWindow window;  // default from: now; default to: from + span (open-ended when span is 0)
  bool all = false;   // the whole schedule, from its first action (window must be empty)
  std::chrono::seconds span{0};
};

// `darasa schedule` and GET /api/v1/cohorts/{cohort}/schedule.
struct ScheduleView {
  std::string cohort;
  std::string timezone;
  bool hasSchedule = false;  // false: labs are started and stopped by hand
  Clock::TimePoint now{};
  Clock::TimePoint from{};
  std::optional<Clock::TimePoint> to;  // nullopt: open-ended
  DesiredState desiredNow = DesiredState::kAbsent;
  std::string reason;
  std::optional<Clock::TimePoint> nextChange;
  std::vector<SessionOccurrence> sessions;  // overlapping [from, to)
  std::vector<ScheduleStep> actions;        // at in [from, to)
};

struct UsageQuery {
  TimeWindow window;  // default: since the cohort was applied, up to now
  UsagePrices prices;
};

// `darasa usage` and GET /api/v1/cohorts/{cohort}/usage.
struct UsageView {
  UsageReport report;  // byTrainee lists every trainee of the roster (zeros included)
  bool priced = false;
  int64_t quotaSeconds = 0;                      // the cohort's lab-hours quota per trainee; 0 = none
  std::map<std::string, int64_t> quotaUsed;      // trainee → running seconds counted against it
  struct Lab {
    std::string labId;
    std::string trainee;
    LabPhase phase = LabPhase::kPending;
    int64_t readyAt = 0;
    int64_t labSeconds = 0;
  };
  std::vector<Lab> labs;
};

// `darasa plan`: what up (or down) would do now.
struct PlanView {
  std::string cohort;
  DesiredState wanted = DesiredState::kRunning;
  std::vector<Action> actions;
};

// An API token as people see it: never the secret.
struct TokenView {
  TokenRecord record;
  std::string state;  // "active", "expired", "revoked"
};
TokenView tokenView(const TokenRecord& record, Clock::TimePoint now);
// "role trainee, cohort c, trainee t": what the audit log says about a token.
std::string tokenScope(const TokenRecord& record);

// kNotFound: the cohort has no such trainee (known: its trainees' ids, the
// first ten listed).
Status noSuchTrainee(const std::string& cohort, const std::string& trainee, const std::vector<std::string>& known);

struct GcItem {
  std::string provider;
  ObservedLab lab;
  std::string reason;  // why it is an orphan
  Status result;       // of the destroy (ok in a dry run)
};

class LabService {
 public:
  LabService(Store& store, ProviderRegistry& providers, Clock& clock, std::string actor);

  // Checks the rendered labs with their provider (validate) and the class
  // against the provider's capacity (see allowPartial), then stores the
  // templates and the cohort in one go. Nothing is written when anything is
  // wrong (kInvalid with the provider's message, kQuota) or when dryRun.
  Result<ApplyReport> apply(const ApplyRequest& request);

  // The actions `up` (wanted = running) or `down` (wanted = absent) would run
  // now for the selection, from what the provider reports.
  Result<PlanView> plan(const RunOptions& options, DesiredState wanted);

  // Wants the selected labs running and reconciles until they are ready (or failed).
  Result<RunReport> up(const RunOptions& options);
  // Wants the selected labs absent and reconciles until they are destroyed;
  // labs of trainees removed from the roster are forgotten once destroyed.
  Result<RunReport> down(const RunOptions& options);

  // Reconciles the selected labs towards the desired state the store holds
  // for each of them (what up/down, the schedule or the API set last; a
  // removed lab is wanted absent), or towards overrides[labId] for a lab
  // named there. Overrides are not written to the store: the daemon's reset
  // destroys a lab through one and creates it again with a second run, and
  // a crash in between leaves the stored wish (running) in force. Orphans of
  // the cohort are destroyed only when the selection is the whole cohort
  // (options.trainees empty). Credentials are made (or the stored ones
  // reused) at create, as `up` does; removed labs are forgotten once
  // destroyed. RunReport::ready counts the selected labs that ended in the
  // state they were wanted in (running: ready; stopped: stopped or nothing
  // at the provider; absent: destroyed).
  Result<RunReport> reconcileStored(const RunOptions& options,
                                    const std::map<std::string, DesiredState>& overrides = {});

  // The read views below (status, labStatus, credentials, schedule, usage,
  // plan) name only what was asked for in their not-found errors ("no
  // cohort X", "no lab X", the cohort's own trainees): the API passes them on
  // as they are, so that a command through the daemon says what it says
  // locally.

  // Labs of a cohort ("" = all cohorts) as the store knows them.
  Result<std::vector<LabStatus>> status(const std::string& cohort);
  // One lab as status shows it (kNotFound naming it).
  Result<LabStatus> labStatus(const std::string& labId);

  // The cohort's sessions and planned lab actions in a window (kInvalid
  // naming the field for a time that does not parse or a backward window).
  Result<ScheduleView> schedule(const std::string& cohort, const ScheduleQuery& query);
  // Lab-hours, CPU-hours, memory-GiB-hours (and cost) from the usage ledger.
  Result<UsageView> usage(const std::string& cohort, const UsageQuery& query);
  // Every token of the state (callers filter by role).
  Result<std::vector<TokenView>> tokens();

  // The credentials of the selected trainees (every read is audited).
  Result<std::vector<CredentialView>> credentials(const std::string& cohort,
                                                  const std::vector<std::string>& trainees);

  // Labelled resources of this state that the store does not know (or knows
  // as destroyed/removed), on every usable provider; destroyed unless dryRun.
  Result<std::vector<GcItem>> gc(bool dryRun, std::chrono::milliseconds callTimeout);

  // The selector for everything this state made / one cohort of it.
  LabelSelector stateSelector() const;
  LabelSelector cohortSelector(const std::string& cohort) const;

 private:
  struct Selection;
  Result<Selection> select(const RunOptions& options);
  // The cohort named; kNotFound "no cohort X" (the store's message lists
  // every cohort, which the API must not pass on).
  Result<CohortRecord> cohortRecord(const std::string& name);
  // wanted: every lab's desired state; nullopt: each lab's stored one,
  // unless overrides names it.
  Result<std::vector<PlannedLab>> plannedLabs(const Selection& sel, std::optional<DesiredState> wanted,
                                              const std::map<std::string, DesiredState>& overrides = {});
  Result<RunReport> reconcile(const RunOptions& options, DesiredState wanted);
  // Runs the reconciler over planned labs of the selection; `settled` says
  // whether a lab (as stored afterwards) counts in RunReport::ready.
  Result<RunReport> execute(const RunOptions& options, std::vector<PlannedLab> planned,
                            const std::function<bool(const LabRecord&, DesiredState)>& settled);
  Result<LabCredentials> credentialsFor(const LabSpec& spec);
  // The class against the provider's capacity (checkCohortFits).
  Status checkCapacity(const RenderedCohort& r, Provider& provider, const std::string& providerName);

  Store& store_;
  ProviderRegistry& providers_;
  Clock& clock_;
  std::string actor_;
  // Stored specs parsed once per spec text: the daemon plans the same labs
  // every few minutes, and parsing was most of a quiet run's cost.
  LabSpecCache specs_;
};

}  // namespace darasa
