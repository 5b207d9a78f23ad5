// The daemon's engine: keeps every cohort's labs where its schedule (or the
// last API request) wants them. A work queue of lab ids, each with the time
// it is due (deduplicated: a lab is queued once, at its earliest due time);
// tick() reconciles what is due at the clock's now and requeues each lab at
// its next scheduled transition, after a backoff when it failed, or at the
// resync interval. `darasa serve` calls tick() in a loop (waitForWork between
// ticks); tests call it after moving a FakeClock, driving weeks in
// milliseconds. Thread-safe: every method may be called from any thread, but
// ticks run one at a time (a tick while another runs waits for it).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "provisioner/clock.h"
#include "provisioner/events.h"
#include "provisioner/metrics.h"
#include "provisioner/provider.h"
#include "provisioner/schedule.h"
#include "provisioner/store.h"
#include "provisioner/usage.h"

namespace darasa {

struct ControllerOptions {
  std::string actor = "daemon";  // in the audit log
  // Reconciler settings for every run (see ReconcilerOptions).
  int parallelism = 0;  // 0: each provider's maxParallel
  std::chrono::milliseconds callTimeout{120000};
  int maxAttempts = 3;
  std::chrono::milliseconds initialBackoff{500};
  std::chrono::milliseconds probeInterval{500};
  // Every lab is looked at again at least this often, to repair drift (a
  // container removed by hand, a lab process that died).
  std::chrono::milliseconds resync{std::chrono::minutes(5)};
  // A lab whose reconcile failed is due again after this, doubling per
  // consecutive failure up to maxFailureBackoff.
  std::chrono::milliseconds failureBackoff{std::chrono::seconds(30)};
  std::chrono::milliseconds maxFailureBackoff{std::chrono::minutes(15)};
  // Optional: reconcile durations, queue depth, events (not owned). Every
  // reconcile event goes to `events` and to `metrics` (a Metrics is an
  // EventSink): do not put the metrics into `events` as well.
  Metrics* metrics = nullptr;
  EventSink* events = nullptr;

  // Issue 8's policies, applied at every tick before reconciling:
  // Capacity per provider name, overriding Provider::capacity() (the host's
  // CPUs and memory for local/docker/libvirt). Labs that do not fit wait in
  // the admission queue (fair order, position and ETA in the store).
  std::map<std::string, ProviderCapacity> capacity;
  // Prices per provider name, for cohort budgets (quota.budget).
  std::map<std::string, UsagePrices> prices;
  // Ready labs with an idleTimeout are asked for their activity this often.
  std::chrono::milliseconds idleCheck{std::chrono::seconds(60)};
  // Labs waiting for capacity are looked at again this often (and at once
  // after a wake).
  std::chrono::milliseconds queueCheck{std::chrono::seconds(15)};
};

struct TickReport {
  int due = 0;             // labs that were due
  int reconciled = 0;      // of those, reconciled in this tick
  int failed = 0;          // of those, left failed (requeued with backoff)
  int desiredChanges = 0;  // labs whose desired state the schedule changed
  std::vector<std::string> errors;  // per cohort/provider problems, for the log
  // Quota warnings, labs stopped for spent quotas or idleness, for the log.
  std::vector<std::string> notices;
  int waiting = 0;  // labs waiting for capacity in the admission queue
  std::chrono::milliseconds elapsed{0};
  bool cancelled = false;
};

// What the queue holds for one lab (for /metrics, status and tests).
struct QueuedLab {
  std::string labId;
  std::string cohort;
  Clock::TimePoint due;
  std::string why;  // "schedule: session 2 starts in 15m", "api: start", "resync", "retry after failure"
  int failures = 0;
};

class Controller {
 public:
  Controller(Store& store, ProviderRegistry& providers, Clock& clock, ControllerOptions options);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Does the work due at clock.now():
  //  1. for every cohort with a schedule: the step in force now
  //     (scheduleStateAt); when it differs from the step this controller
  //     last applied to the cohort (always, for the first tick after
  //     start), the cohort's non-removed labs get its desired state
  //     (store.setDesired) and become due. Between two steps, desired
  //     states set through the API stand (an instructor may stop a lab
  //     mid-session; the next transition applies the schedule again).
  //  2. the due labs, grouped by cohort, are reconciled towards the desired
  //     state the store holds (adopting what exists, destroying what should
  //     not), through LabService.
  //  3. each lab is requeued at min(next schedule change, now + resync), or
  //     after its failure backoff if it failed.
  //  4. cohorts marked for deletion whose labs are all destroyed are deleted.
  // The first tick after construction treats every lab of the state as due
  // (adoption after a restart). Returns what it did; errors of single
  // cohorts or providers are in the report, never thrown.
  TickReport tick();

  // Makes labs due now and wakes waitForWork: the labs of `cohort` ("" =
  // every cohort), or only `labIds` when given. For API changes.
  void wake(const std::string& cohort, const std::vector<std::string>& labIds = {},
            const std::string& why = "api");

  // API actions. Each records the wish (desired state in the store, or a
  // reset/delete mark) and wakes the lab; the work happens in tick().
  // kNotFound for an unknown lab/cohort, kConflict for a removed lab.
  Status startLab(const std::string& labId);
  Status stopLab(const std::string& labId);
  Status destroyLab(const std::string& labId);
  // Destroy then create again (fresh home, same credentials).
  Status resetLab(const std::string& labId);
  // Every lab of the cohort wanted running / absent (like `darasa up/down`).
  Status upCohort(const std::string& cohort);
  Status downCohort(const std::string& cohort);
  // Destroys every lab of the cohort, then deletes the cohort from the store.
  Status deleteCohort(const std::string& cohort);

  // When the next lab is due (nullopt: queue empty). Before the first tick:
  // now (every lab is due then).
  std::optional<Clock::TimePoint> nextDue() const;
  // Blocks (real time) until a lab is due by the clock, wake() is called, or
  // stop(); at most maxWait. Returns false once stop() was called.
  bool waitForWork(std::chrono::milliseconds maxWait);
  // Makes waitForWork return false, cancels a running tick's reconcile
  // (calls in flight are abandoned at once, see Reconciler::cancel) and
  // makes later ticks do nothing. Thread-safe, idempotent.
  void stop();
  // Several daemons on one state (leadership.h): a controller acts only
  // while its daemon leads. pause() abandons the calls in flight (as stop()
  // does) and makes tick() do nothing until resume(), which starts over as
  // after a restart: the next tick looks at every lab (adopting what the
  // providers run) and ends the intents left pending. Thread-safe.
  void pause();
  void resume();

  size_t queueDepth() const;
  std::vector<QueuedLab> queue() const;  // sorted by due time

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace darasa
