// The planner: a pure function from what the core wants (PlannedLab: the
// rendered spec, the desired state and what the store remembers) and what the
// provider reports (ObservedLab, from list by label) to the actions that move
// the one towards the other. No I/O, no clock reads; thread-safe (no state).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "provisioner/clock.h"
#include "provisioner/model.h"
#include "provisioner/provider.h"

namespace darasa {

enum class ActionKind {
  kCreate,   // provider.create, then wait until ready
  kStart,    // provider.start of a stopped lab, then wait until ready
  kStop,     // provider.stop, keeping the lab's data
  kDestroy,  // provider.destroy; a later pass re-creates if the lab is still wanted
  kAdopt,    // no provider mutation: take an observed resource into the store
             // (resource id, endpoints, phase) and, if it runs, wait until ready
  kForget,   // no provider call: the store's row is marked destroyed because
             // nothing exists at the provider and nothing is wanted there
};
inline constexpr int kActionKindCount = 6;
// "create", "start", "stop", "destroy", "adopt", "forget".
const char* actionKindName(ActionKind kind);
std::optional<ActionKind> actionKindFromName(const std::string& name);

struct Action {
  ActionKind kind = ActionKind::kCreate;
  std::string labId;
  std::string reason;  // for people: "generation 1 → 2", "orphan", "failed: exited with 137"
  bool operator==(const Action&) const = default;
};

// One lab as the core wants it, with what the store remembers about it.
struct PlannedLab {
  LabSpec spec;                                   // spec.generation is the wanted generation
  DesiredState desired = DesiredState::kRunning;
  LabPhase phase = LabPhase::kPending;            // the store's phase
  std::string resourceId;                         // the store's resource id; "" if none known
  // Only for phase kFailed: no repair (create, or destroy of a failed
  // resource) before this time, so that a daemon does not hammer a lab that
  // keeps failing. Unset: repair now (what `darasa up` wants).
  std::optional<Clock::TimePoint> retryAfter;
};

struct PlanOptions {
  // Observed labs that match this selector and that no planned lab names are
  // orphans and are destroyed ("orphan"). nullopt: orphans are left alone
  // (`darasa gc` deals with them after comparing with the store).
  std::optional<LabelSelector> orphans;
  // Whether the provider can stop a lab and start it again keeping its data
  // (ProviderCapabilities::stopStart). Without it a stopped lab that should
  // run is re-created, and a running lab that should stop is destroyed.
  bool canStopStart = true;
};

// The labels a provider must put on a lab's resources: spec.labels, with
// darasa.lab, darasa.cohort, darasa.trainee and darasa.generation filled in
// from the spec's fields when missing.
Labels labelsForSpec(const LabSpec& spec);

// Computes the actions for one pass, at most one per lab id, sorted by lab id
// (ties, which only orphans can cause, by kind). Rules, per planned lab L with
// the observed resource O for L's id (if any):
//
//  1. Several resources observed for one lab id: destroy ("N resources for one
//     lab"); a later pass re-creates one. Otherwise, O with a generation label
//     older than L's (0 = no label = unknown, never replaced; a newer one is
//     left alone rather than fought over): destroy ("generation 1 → 2"), in
//     every desired state; a later pass creates the new generation.
//  2. desired running (nothing else while L is kFailed and now < retryAfter):
//     - no O: create.
//     - O failed: destroy ("failed: <detail>"); a later pass re-creates.
//     - O stopped: start ("stopped"); destroy if !canStopStart.
//     - O running, creating or unknown: nothing if the store knows it as ready
//       with the same resource id (or knows no resource id); else adopt —
//       never a second create (e.g. the core crashed after create).
//  3. desired stopped:
//     - no O: nothing; forget if the store thinks it exists (creating, ready,
//       stopped), so that the store stops claiming a lab nobody has.
//     - O running, creating or unknown: stop; destroy if !canStopStart.
//     - O stopped: adopt if the store does not know it as stopped with this
//       resource id, else nothing.
//     - O failed: nothing (kept for inspection; the next running pass repairs).
//  4. desired absent: O (any state): destroy ("not wanted"); no O and the
//     store's phase is not destroyed: forget.
//  5. Orphans (see PlanOptions::orphans): destroy ("orphan").
// Observed labs with an empty lab id are ignored. Planned labs are expected
// to have distinct ids; for a duplicate only the first is planned.
std::vector<Action> planActions(const std::vector<PlannedLab>& labs,
                                const std::vector<ObservedLab>& observed, Clock::TimePoint now,
                                const PlanOptions& options = {});

}  // namespace darasa
