// The reconciler: makes a provider's labs match what the core wants. Level-
// based: every pass re-lists the provider by label, plans (planner.h) and runs
// the actions on a bounded worker pool with per-call deadlines, retries with
// backoff and readiness probes, writing intents and outcomes to a journal.
// One run() at a time per Reconciler; cancel() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "provisioner/clock.h"
#include "provisioner/events.h"
#include "provisioner/model.h"
#include "provisioner/planner.h"
#include "provisioner/provider.h"
#include "provisioner/status.h"

namespace darasa {

// Where the reconciler writes what it does and learns: implemented by the
// state store's adapter, and in memory in tests (tests/fakes/memory_journal.h).
// The reconciler serialises its calls (never two at once) but makes them from
// several worker threads. A not-ok Status from any method fails the lab's
// action (reported with context "journal"); nothing is retried. Lab ids may
// be ones the store does not know (orphans): record nothing for those.
class ReconcileJournal {
 public:
  virtual ~ReconcileJournal() = default;
  // The intent to act on a lab, durable before the provider is called (a
  // crash after it leaves a trace that adoption resolves). detail is the
  // planner's reason. Returns an id for endOperation.
  virtual Result<int64_t> beginOperation(const std::string& labId, ActionKind kind,
                                         const std::string& detail) = 0;
  // How the operation ended: ok, or the final error after retries.
  virtual Status endOperation(int64_t opId, const Status& result) = 0;
  // The lab's resource as observed (resource id, endpoints, generation) and
  // the phase the core now gives it: kCreating after create/start/adopt of a
  // running lab (readiness not yet known), kStopped after stop.
  virtual Status recordObserved(const std::string& labId, LabPhase phase,
                                const ObservedLab& observed) = 0;
  // The lab passed its readiness probe: phase kReady, clears any last error.
  virtual Status recordReady(const std::string& labId, const ObservedLab& observed) = 0;
  // A terminal error (or retries exhausted, or readiness timed out): phase
  // kFailed, lastError. Called at most once per lab per run.
  virtual Status recordError(const std::string& labId, const Status& error) = 0;
  // Nothing exists at the provider any more: phase kDestroyed, resource id
  // cleared (after destroy and forget).
  virtual Status recordDestroyed(const std::string& labId) = 0;
};

struct ReconcilerOptions {
  // Actions and provider calls at once; 0: the provider's info().maxParallel.
  // Calls abandoned at their deadline but still running count against it,
  // so a wedged provider is never sent more than this many calls.
  int parallelism = 0;
  // Deadline of each provider call; a call still running then is abandoned
  // (its thread is left to finish on its own) and counted as kTimeout.
  std::chrono::milliseconds callTimeout{60000};
  // Retries of retryable errors (isRetryable: unavailable, timeout):
  // attempts in all, including the first; delay before attempt k+1 is
  // min(maxBackoff, initialBackoff * multiplier^(k-1)), less a random part of
  // up to `jitter` (0..1) of it. Sleeps go through the Clock.
  int maxAttempts = 5;
  std::chrono::milliseconds initialBackoff{500};
  double backoffMultiplier = 2.0;
  std::chrono::milliseconds maxBackoff{30000};
  double jitter = 0.2;
  // Readiness: probe every probeInterval (Clock time) until ok, a
  // non-retryable error, or spec.readiness.timeout (kTimeout).
  std::chrono::milliseconds probeInterval{1000};
  // Passes of list → plan → execute; a run stops early after a pass that
  // plans nothing (converged).
  int maxPasses = 5;
  // Destroy observed labs matching the run's selector that no planned lab
  // names. Refused with an empty selector (that is `darasa gc`'s job).
  bool destroyOrphans = true;
  // Fills spec.credentials just before create (the lead's vault). Unset:
  // specs go to the provider with the credentials they carry. An error fails
  // the lab's create (retryable codes are retried like provider calls).
  std::function<Result<LabCredentials>(const LabSpec&)> credentials;
};

struct ReconcileReport {
  // Not ok only when the run could not work at all: invalid input, or the
  // provider could not be listed. Per-lab failures are in `failures`.
  Status status;
  bool converged = false;  // the last pass planned no action at all
  bool cancelled = false;
  int passes = 0;
  int succeeded[kActionKindCount] = {};  // actions that succeeded, by ActionKind
  int failedActions[kActionKindCount] = {};
  int retries = 0;                  // provider calls retried after a retryable error
  int timeouts = 0;                 // provider calls abandoned at their deadline
  std::map<std::string, Status> failures;  // lab id → final error, for labs that failed
  std::chrono::milliseconds elapsed{0};    // wall time of run()

  int count(ActionKind kind) const { return succeeded[static_cast<int>(kind)]; }
  int failedCount(ActionKind kind) const { return failedActions[static_cast<int>(kind)]; }
};

class Reconciler {
 public:
  // The provider must outlive every call this reconciler made on it,
  // including calls abandoned at their deadline and still running (they hold
  // a reference to it; abandonedCalls() says how many are left). Everything
  // else an abandoned call touches it owns, so the Reconciler itself may be
  // destroyed while such calls run (but not while run() runs). events may be
  // null.
  Reconciler(Provider& provider, ReconcileJournal& journal, EventSink* events,
             ReconcilerOptions options, Clock& clock);
  ~Reconciler();
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // Reconciles the provider's labs matching `selector` with `labs`, pass by
  // pass until a pass plans nothing, maxPasses, or cancel(). Labs whose
  // action failed (terminal error, retries exhausted, readiness timeout) are
  // recorded once and left alone in later passes of this run. Every planned
  // lab's labels (labelsForSpec) must match the selector, or the lab could
  // never be observed (kInvalid). `labs` is taken by value and becomes the
  // run's working copy: move it in to save a copy of every spec.
  ReconcileReport run(std::vector<PlannedLab> labs, const LabelSelector& selector);

  // Stops starting actions and retries, abandons calls in flight, and makes
  // run() return promptly (within about a second: a backoff sleep is cut in
  // slices of at most 1 s). Thread-safe; sticky for this Reconciler.
  void cancel();
  bool cancelled() const { return cancelled_.load(); }

  // Provider calls abandoned at their deadline that have not returned yet.
  int abandonedCalls() const;
  // The parallelism in use (options, or the provider's maxParallel).
  int parallelism() const { return parallelism_; }

  struct Shared;  // call slots, shared with call threads (reconciler.cpp)

 private:
  class Run;

  Provider& provider_;
  ReconcileJournal& journal_;
  EventSink* events_;
  ReconcilerOptions options_;
  Clock& clock_;
  int parallelism_;
  std::atomic<bool> cancelled_{false};
  std::shared_ptr<Shared> shared_;
};

}  // namespace darasa
