// Progress of a reconcile run, for people: the CLI renders a progress bar or
// plain lines from these events, the daemon logs them (ninja's Status plays
// this part there). Events never carry secrets. The reconciler serialises its
// calls to an EventSink (never two at once), possibly from different threads.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "provisioner/model.h"
#include "provisioner/planner.h"
#include "provisioner/status.h"

namespace darasa {

// A pass that plans nothing (the run has converged) emits no pass events.
enum class EventKind {
  kPassStarted,    // pass, planned (actions in this pass)
  kPassFinished,   // pass, planned, succeeded, failed
  kActionStarted,  // labId, action, reason
  kRetrying,       // labId ("" while listing), action, reason (the call: "create",
                   // "probe", "list", "credentials"...), attempt (the one that failed),
                   // delay, status
  // Each kActionStarted is followed by exactly one of these for its lab:
  kReady,      // create/start/adopt done and the readiness probe passed; endpoints
  kStopped,    // stop done, or a stopped lab adopted
  kDestroyed,  // destroy done
  kForgotten,  // forget done
  kFailed,     // the action failed; status (terminal, or retries exhausted)
  kCancelled,  // the run was cancelled before the action finished
};
// "pass-started", "pass-finished", "action-started", "retrying", "ready",
// "stopped", "destroyed", "forgotten", "failed", "cancelled".
const char* eventKindName(EventKind kind);

struct Event {
  EventKind kind = EventKind::kPassStarted;
  int pass = 0;                        // 1-based
  std::string labId;                   // "" for pass events
  ActionKind action = ActionKind::kCreate;
  std::string reason;                  // the planner's reason; kRetrying: the call
  int attempt = 0;                     // kRetrying: the attempt that failed, 1-based
  std::chrono::milliseconds delay{0};  // kRetrying: wait before the next attempt
  Status status;                       // kRetrying, kFailed: the error
  std::vector<Endpoint> endpoints;     // kReady
  int planned = 0;                     // pass events: actions planned in the pass
  int succeeded = 0;                   // kPassFinished
  int failed = 0;                      // kPassFinished
};

// One line for people, e.g.
//   "pass 1: 3 actions"
//   "cyber.alice: create (not created)"
//   "cyber.alice: create attempt 1 failed (unavailable: engine busy), retrying in 500ms"
//   "list attempt 2 failed (timeout: list did not return within 60s), retrying in 1000ms"
//   "cyber.alice: ready ssh=127.0.0.1:2201"
//   "cyber.alice: create failed: invalid: memory cap too large"
std::string describeEvent(const Event& event);

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Called for every event, in order per lab. Must not block for long (it
  // holds up the reconciler's workers) and must not throw.
  virtual void onEvent(const Event& event) = 0;
};

}  // namespace darasa
