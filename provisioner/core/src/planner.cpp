#include "provisioner/planner.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace darasa {

const char* actionKindName(ActionKind kind) {
  switch (kind) {
    case ActionKind::kCreate: return "create";
    case ActionKind::kStart: return "start";
    case ActionKind::kStop: return "stop";
    case ActionKind::kDestroy: return "destroy";
    case ActionKind::kAdopt: return "adopt";
    case ActionKind::kForget: return "forget";
  }
  return "unknown";
}

std::optional<ActionKind> actionKindFromName(const std::string& name) {
  for (ActionKind k : {ActionKind::kCreate, ActionKind::kStart, ActionKind::kStop, ActionKind::kDestroy,
                       ActionKind::kAdopt, ActionKind::kForget})
    if (name == actionKindName(k)) return k;
  return std::nullopt;
}

Labels labelsForSpec(const LabSpec& spec) {
  Labels labels = spec.labels;
  labels.emplace(kLabelLab, spec.labId);
  labels.emplace(kLabelCohort, spec.cohort);
  labels.emplace(kLabelTrainee, spec.trainee);
  labels.emplace(kLabelGeneration, std::to_string(spec.generation));
  return labels;
}

namespace {

bool isRunningLike(ObservedState s) {
  return s == ObservedState::kRunning || s == ObservedState::kCreating ||
         s == ObservedState::kUnknown;
}

// What one planned lab needs, given the resources observed for its id.
std::optional<Action> planOne(const PlannedLab& lab, const std::vector<const ObservedLab*>& found,
                              Clock::TimePoint now, const PlanOptions& options) {
  const std::string& id = lab.spec.labId;
  auto action = [&](ActionKind kind, std::string reason) {
    return std::optional<Action>(Action{kind, id, std::move(reason)});
  };

  if (found.size() > 1)
    return action(ActionKind::kDestroy, std::to_string(found.size()) + " resources for one lab");
  const ObservedLab* o = found.empty() ? nullptr : found.front();

  if (o && o->generation > 0 && o->generation < lab.spec.generation)
    return action(ActionKind::kDestroy, "generation " + std::to_string(o->generation) + " → " +
                                            std::to_string(lab.spec.generation));

  // Whether the store's record of the resource is the observed one. A store
  // that keeps no resource id (or a provider that reports none) cannot
  // contradict the observation.
  auto sameResource = [&] {
    return lab.resourceId.empty() || o->resourceId.empty() || lab.resourceId == o->resourceId;
  };
  bool storeKnowsIt = lab.phase == LabPhase::kCreating || lab.phase == LabPhase::kReady ||
                      lab.phase == LabPhase::kStopped;

  switch (lab.desired) {
    case DesiredState::kRunning: {
      if (lab.phase == LabPhase::kFailed && lab.retryAfter && now < *lab.retryAfter)
        return std::nullopt;
      if (!o) {
        if (!lab.resourceId.empty() && storeKnowsIt)
          return action(ActionKind::kCreate, "resource " + lab.resourceId + " is gone");
        return action(ActionKind::kCreate, "not created");
      }
      if (o->state == ObservedState::kFailed)
        return action(ActionKind::kDestroy,
                      o->detail.empty() ? std::string("failed") : "failed: " + o->detail);
      if (o->state == ObservedState::kStopped) {
        if (!options.canStopStart)
          return action(ActionKind::kDestroy, "stopped, and the provider cannot start it again");
        return action(ActionKind::kStart, "stopped");
      }
      // running, creating or unknown
      if (lab.phase == LabPhase::kReady) {
        if (sameResource()) return std::nullopt;
        return action(ActionKind::kAdopt,
                      "resource changed from " + lab.resourceId + " to " + o->resourceId);
      }
      return action(ActionKind::kAdopt,
                    std::string("found ") + observedStateName(o->state) + ", store has it " +
                        labPhaseName(lab.phase));
    }

    case DesiredState::kStopped: {
      if (!o) {
        if (storeKnowsIt) return action(ActionKind::kForget, "gone at the provider");
        return std::nullopt;
      }
      if (isRunningLike(o->state)) {
        if (!options.canStopStart)
          return action(ActionKind::kDestroy, "wanted stopped, and the provider cannot stop a lab");
        return action(ActionKind::kStop, "wanted stopped");
      }
      if (o->state == ObservedState::kStopped) {
        if (lab.phase == LabPhase::kStopped && sameResource()) return std::nullopt;
        return action(ActionKind::kAdopt,
                      std::string("found stopped, store has it ") + labPhaseName(lab.phase));
      }
      return std::nullopt;  // failed: kept for inspection until it is wanted running
    }

    case DesiredState::kAbsent: {
      if (o) return action(ActionKind::kDestroy, "not wanted");
      if (lab.phase != LabPhase::kDestroyed)
        return action(ActionKind::kForget, "not wanted, nothing at the provider");
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<Action> planActions(const std::vector<PlannedLab>& labs,
                                const std::vector<ObservedLab>& observed, Clock::TimePoint now,
                                const PlanOptions& options) {
  std::unordered_map<std::string, std::vector<const ObservedLab*>> byId;
  byId.reserve(observed.size());
  for (const auto& o : observed)
    if (!o.labId.empty()) byId[o.labId].push_back(&o);

  std::vector<Action> actions;
  std::unordered_set<std::string> planned;
  planned.reserve(labs.size());
  static const std::vector<const ObservedLab*> kNone;
  for (const auto& lab : labs) {
    if (!planned.insert(lab.spec.labId).second) continue;  // duplicate: the first wins
    auto it = byId.find(lab.spec.labId);
    auto a = planOne(lab, it == byId.end() ? kNone : it->second, now, options);
    if (a) actions.push_back(std::move(*a));
  }

  if (options.orphans) {
    for (const auto& [id, found] : byId) {
      if (planned.count(id)) continue;
      // Any one resource of the lab matching makes the lab id the selector's:
      // destroy(labId) removes all of them.
      bool matches = std::any_of(found.begin(), found.end(), [&](const ObservedLab* o) {
        return options.orphans->matches(o->labels);
      });
      if (matches) actions.push_back(Action{ActionKind::kDestroy, id, "orphan"});
    }
  }

  std::sort(actions.begin(), actions.end(), [](const Action& a, const Action& b) {
    if (a.labId != b.labId) return a.labId < b.labId;
    return a.kind < b.kind;
  });
  return actions;
}

}  // namespace darasa
