#include "provisioner/idle_scan.h"

#include <ctime>

#include "provisioner/model_json.h"

namespace darasa {

Result<std::vector<IdleVerdict>> findIdleLabs(Store& store, ProviderRegistry& providers, const std::string& cohort,
                                              Clock::TimePoint now, std::map<std::string, ActivityMemory>* memory,
                                              const IdlePolicy& policy, LabSpecCache* specs) {
  auto labs = store.listLabs(cohort);
  if (!labs) return labs.status();
  std::vector<IdleVerdict> out;
  for (const auto& lab : *labs) {
    bool ready = lab.phase == LabPhase::kReady && lab.desired == DesiredState::kRunning && !lab.removed;
    if (!ready) {
      if (memory) memory->erase(lab.labId);
      continue;
    }
    IdleLab in;
    in.labId = lab.labId;
    in.readyAt = std::chrono::system_clock::from_time_t(static_cast<std::time_t>(lab.readyAt));
    std::string providerName = lab.provider;
    Result<LabActivity> observed = notSupportedError("not asked");
    auto spec = specs ? specs->get(lab) : labSpecOf(lab);
    if (!spec) {
      observed = spec.status();
    } else {
      in.idleTimeout = spec->lifetime.idleTimeout;
      for (const auto& p : spec->ports) in.ports.push_back(p.name);
      if (providerName.empty()) providerName = spec->provider;
      auto provider = providers.get(providerName);
      if (!provider)
        observed = provider.status();
      else
        observed = (*provider)->activity(lab.labId, Deadline::after(policy.callTimeout));
    }
    std::optional<ActivityMemory> mem;
    if (memory) {
      if (auto it = memory->find(lab.labId); it != memory->end()) mem = it->second;
    }
    IdleVerdict v = judgeIdle(in, observed, now, &mem, policy);
    if (memory && mem) (*memory)[lab.labId] = *mem;
    v.cohort = lab.cohort;
    v.trainee = lab.trainee;
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace darasa
