// The daemon's policies, applied once per controller tick before labs are
// reconciled (issue 8): lab-hours and budget quotas enforced live (stop with
// a recorded reason, warn at 80 %), idle labs stopped (never destroyed), and
// the admission queue (who may start now on a provider with finite
// capacity, in fair order, the rest waiting with a position and an ETA).
// Internal to the controller; not thread-safe (the tick thread only).
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "provisioner/clock.h"
#include "provisioner/cohort.h"
#include "provisioner/controller.h"
#include "provisioner/idle_scan.h"
#include "provisioner/provider.h"
#include "provisioner/schedule.h"
#include "provisioner/store.h"

namespace darasa::policy {

// What the policies remember between ticks.
struct State {
  std::set<std::string> warned;  // "hours:<lab id>", "budget:<cohort>": warned once
  std::map<std::string, ActivityMemory> activity;
  Clock::TimePoint nextIdleCheck{};
  // Measured time from admission to ready, for ETAs.
  std::map<std::string, int64_t> admittedAt;  // lab id → Unix seconds
  double provisionSeconds = 0;
  int provisionSamples = 0;
  // Expanded schedules by cohort and generation (ETAs need the next stops).
  std::map<std::string, std::pair<int64_t, std::vector<ScheduleStep>>> steps;
  // Stored specs, parsed once per change (every lab is looked at every tick).
  LabSpecCache labSpecs;
  CohortSpecCache cohortSpecs;
};

struct Result {
  // Labs waiting for capacity: the state they are held in for this tick's
  // reconcile (stopped: nothing is made for them, nothing is forgotten).
  std::map<std::string, DesiredState> holds;
  std::vector<std::pair<std::string, std::string>> dueNow;  // (lab id, cohort): act this tick
  struct Wake {
    std::string labId, cohort;
    Clock::TimePoint at;
    std::string why;
  };
  std::vector<Wake> wakes;            // look again then (quota run-out, idle check, queue)
  std::vector<std::string> messages;  // warnings and stops, for the log
  std::vector<std::string> errors;
  int waiting = 0;
};

Result apply(Store& store, ProviderRegistry& providers, Clock::TimePoint now, const ControllerOptions& options,
             State& state);

}  // namespace darasa::policy
