#include "provisioner/model.h"

namespace darasa {
namespace {
template <typename E, size_t N>
const char* nameOf(const std::pair<E, const char*> (&table)[N], E v) {
  for (const auto& [e, n] : table)
    if (e == v) return n;
  return "unknown";
}
template <typename E, size_t N>
std::optional<E> fromName(const std::pair<E, const char*> (&table)[N], const std::string& s) {
  for (const auto& [e, n] : table)
    if (s == n) return e;
  return std::nullopt;
}

const std::pair<NetworkMode, const char*> kNetworkModes[] = {
    {NetworkMode::kNone, "none"},
    {NetworkMode::kIsolated, "isolated"},
    {NetworkMode::kCohort, "cohort"},
    {NetworkMode::kHost, "host"},
};
const std::pair<ObservedState, const char*> kObservedStates[] = {
    {ObservedState::kCreating, "creating"}, {ObservedState::kRunning, "running"},
    {ObservedState::kStopped, "stopped"},   {ObservedState::kFailed, "failed"},
    {ObservedState::kUnknown, "unknown"},
};
const std::pair<DesiredState, const char*> kDesiredStates[] = {
    {DesiredState::kRunning, "running"},
    {DesiredState::kStopped, "stopped"},
    {DesiredState::kAbsent, "absent"},
};
const std::pair<LabPhase, const char*> kLabPhases[] = {
    {LabPhase::kPending, "pending"}, {LabPhase::kCreating, "creating"},
    {LabPhase::kReady, "ready"},     {LabPhase::kStopped, "stopped"},
    {LabPhase::kDestroyed, "destroyed"}, {LabPhase::kFailed, "failed"},
};
}  // namespace

const char* networkModeName(NetworkMode m) { return nameOf(kNetworkModes, m); }
std::optional<NetworkMode> networkModeFromName(const std::string& s) { return fromName(kNetworkModes, s); }
const char* observedStateName(ObservedState s) { return nameOf(kObservedStates, s); }
const char* desiredStateName(DesiredState s) { return nameOf(kDesiredStates, s); }
std::optional<DesiredState> desiredStateFromName(const std::string& s) { return fromName(kDesiredStates, s); }
const char* labPhaseName(LabPhase p) { return nameOf(kLabPhases, p); }
std::optional<LabPhase> labPhaseFromName(const std::string& s) { return fromName(kLabPhases, s); }

}  // namespace darasa
