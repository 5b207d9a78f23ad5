// Idle culling's policy: from what a provider reports about a lab's activity
// (Provider::activity) decide whether a ready lab has had no activity for
// its template's idleTimeout (the caller then stops it — never destroys it).
// judgeIdle is a pure function; findIdleLabs (idle_scan.h, in the daemon)
// gathers its inputs from the store and the providers. Thread-safe as far
// as its arguments are (the caller owns the per-lab memory and must not
// share one map between threads).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "provisioner/clock.h"
#include "provisioner/provider.h"
#include "provisioner/status.h"

namespace darasa {

struct IdlePolicy {
  // CPU use above this share of one CPU, on average since the previous
  // observation, counts as activity (a trainee's build or training run with
  // nobody connected). Idle services (sshd, init, a quiet web server) stay
  // well below it.
  double cpuActiveShare = 0.05;
  // Per Provider::activity call in findIdleLabs.
  std::chrono::milliseconds callTimeout{10'000};
};

// What the policy remembers of one lab from one observation to the next,
// kept by the caller (the daemon's controller) and passed back each time: a
// provider that only knows "connections open now" or a CPU counter still
// yields a last-activity time.
struct ActivityMemory {
  Clock::TimePoint observedAt{};               // when it was last observed
  int64_t cpuMillis = -1;                      // its CPU counter then (-1 unknown)
  std::optional<Clock::TimePoint> lastActive;  // the latest activity seen so far, any source
};

// A ready lab, as judgeIdle needs it.
struct IdleLab {
  std::string labId;
  std::chrono::seconds idleTimeout{0};  // LabSpec.lifetime.idleTimeout; 0: never idle
  std::vector<std::string> ports;       // names of its access ports ("ssh"), for the reason
  Clock::TimePoint readyAt{};           // when this run became ready: its start is activity
};

struct IdleVerdict {
  std::string labId;
  std::string cohort;   // filled by findIdleLabs
  std::string trainee;  // filled by findIdleLabs
  // Stop it: measured, an idle timeout is set and idleFor >= idleTimeout.
  bool idle = false;
  // Whether the provider could tell anything about the lab's activity. A lab
  // whose activity is unknown (kNotSupported, an error, nothing reported) is
  // never idle.
  bool measured = false;
  std::chrono::seconds idleTimeout{0};
  std::chrono::seconds idleFor{0};             // now - lastActive, never negative
  std::optional<Clock::TimePoint> lastActive;  // the latest activity known
  LabActivity activity;                        // as the provider reported it (default when it failed)
  Status error;                                // why activity is unknown, if it is
  // For people (`status`, the stop's recorded reason): "no activity on ssh
  // for 30m (last 12:03 UTC)", "1 open connection on ssh", "CPU in use
  // (35% of a CPU)", "last activity 12:03 UTC, 5m ago (idle after 30m)",
  // "activity unknown (...): never stopped as idle".
  std::string reason;
};

// Judges one ready lab. `observed` is what Provider::activity answered now.
// Activity is the latest of: readyAt (a lab just started is not idle), the
// provider's lastActive, the remembered lastActive, `now` when
// openConnections > 0, `now` when the CPU counter grew faster than
// policy.cpuActiveShare since the remembered observation, and `now` on the
// first observation of a lab whose provider gives no lastActive (without
// memory of earlier observations — after a daemon restart — nothing says the
// lab was idle before; it is culled at most one idleTimeout late, never
// early). `memory` (may be null) is read and then updated to this
// observation; it is left as it was when activity is unknown.
IdleVerdict judgeIdle(const IdleLab& lab, const Result<LabActivity>& observed, Clock::TimePoint now,
                      std::optional<ActivityMemory>* memory, const IdlePolicy& policy = {});

// "45s", "30m", "1h5m", "2d3h": the idle-time form people read.
std::string formatIdleDuration(std::chrono::seconds d);

}  // namespace darasa
