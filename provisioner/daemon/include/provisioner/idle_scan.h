// Gathers idle culling's inputs (idle.h) for the daemon: the ready labs of
// the store, their stored specs and what each lab's provider reports.
// Thread-safe as far as its arguments are.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "provisioner/idle.h"
#include "provisioner/provider.h"
#include "provisioner/store.h"

namespace darasa {

// The verdicts for every ready lab of `cohort` ("" = every cohort) whose
// desired state is running, in the store's order (cohort, lab id): reads
// the labs and their stored specs (idleTimeout, port names) from the store,
// asks each lab's provider for its activity and judges it. `memory` (may be
// null) maps lab ids to what judgeIdle remembers; entries of this cohort's
// labs that are not ready any more are dropped (a lab that starts again
// starts afresh). Errors: the store's (kNotFound for an unknown cohort). A
// provider that cannot be made or fails for one lab gives that lab a
// not-measured verdict, not an error. `specs` (may be null) keeps the
// parsed specs between calls.
Result<std::vector<IdleVerdict>> findIdleLabs(Store& store, ProviderRegistry& providers, const std::string& cohort,
                                              Clock::TimePoint now, std::map<std::string, ActivityMemory>* memory,
                                              const IdlePolicy& policy = {}, LabSpecCache* specs = nullptr);

}  // namespace darasa
