// Quotas and admission, as pure arithmetic over exact integer units (CPU in
// thousandths, memory in bytes, time in seconds, money in thousandths):
// whether a cohort fits a provider's capacity (checked at apply), which
// waiting labs may start now in a fair order (round-robin across cohorts,
// higher priority first, first come first served within a cohort), their
// estimated time to ready, and which labs the lab-hours and budget quotas
// stop or warn about. No I/O; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "provisioner/cohort.h"
#include "provisioner/model.h"
#include "provisioner/provider.h"
#include "provisioner/status.h"
#include "provisioner/units.h"

namespace darasa {

// What the labs of some cohorts hold (or would hold) on one provider.
struct Demand {
  int64_t labs = 0;
  int64_t cpuMillis = 0;
  int64_t memoryBytes = 0;
  void add(const Resources& r) {
    labs += 1;
    cpuMillis += r.cpuMillis;
    memoryBytes += r.memoryBytes;
  }
};

// Whether `cohort`'s full class (every lab at once, or quota.maxLabs of them
// when that is lower) fits the provider's capacity next to what `others`
// (the other cohorts on the provider) may hold. Ok, or kQuota with the
// arithmetic, e.g. "cohort big needs 60 labs × 1 CPU = 60 CPUs at once, but
// provider local has 2 CPUs (host: 2 CPUs, 23.5 GiB), 0 of them promised to
// other cohorts; lower spec.quota.maxLabs to 2 or use --allow-partial".
Status checkCohortFits(const std::string& cohort, const std::string& providerName, const Resources& perLab,
                       int64_t trainees, int64_t maxLabs, const Demand& others, const ProviderCapacity& capacity);

// One lab that wants to run but has no resources at the provider yet (or
// is stopped): a candidate for admission.
struct AdmissionRequest {
  std::string labId;
  std::string cohort;
  int64_t priority = 0;  // the cohort's priority: higher first
  int64_t queuedAt = 0;  // Unix seconds it started waiting (first come first served)
  Resources resources;
};

struct AdmissionDecision {
  std::vector<std::string> admitted;  // may start now, in order
  // Still waiting, in queue order (position = index + 1), with the reason.
  struct Waiting {
    std::string labId;
    std::string cohort;
    int position = 0;
    std::string reason;  // "provider local is full: 40 of 40 labs", "cohort a: maxLabs 10 reached"
  };
  std::vector<Waiting> waiting;
};

// Orders the requests fairly — cohorts by priority (desc); within a
// priority level round-robin across cohorts (cohorts ordered by their
// oldest request, each giving its next-oldest request per round); within a
// cohort by queuedAt then lab id — and admits them in that order while they
// fit `free` (a 0 cap is unlimited, a negative one is capped with nothing
// left). A request over its own cohort's maxLabs
// (cohortRunningAndMax: cohort → {labs running now, maxLabs; 0 = no cap})
// waits without holding up other cohorts; the first request that does not
// fit the provider stops admission (later, smaller labs do not overtake it,
// so a big lab is never starved).
AdmissionDecision admit(const std::vector<AdmissionRequest>& requests, const ProviderCapacity& free,
                        const std::map<std::string, std::pair<int64_t, int64_t>>& cohortRunningAndMax);

// Estimated seconds until a waiting lab at `position` (1-based) is ready:
// it needs `position` labs to free up. frees are the seconds from now at
// which running labs are expected to stop (scheduled ends, sorted or not);
// provisionSeconds is the measured mean time to ready. nullopt when fewer
// than `position` frees are known.
std::optional<int64_t> estimateWait(int position, std::vector<int64_t> frees, int64_t provisionSeconds);

// The lab-hours / budget verdict for one trainee or cohort.
enum class QuotaLevel { kOk, kWarning, kExhausted };
struct QuotaCheck {
  QuotaLevel level = QuotaLevel::kOk;
  std::string message;  // "trainee alice used 1h36m of 2h lab-hours (80%)"
};
// used/limit in seconds (or thousandths of money); limit 0 = no quota.
// Warning at or above 80 %, exhausted at or above 100 %.
QuotaCheck checkLabHours(const std::string& who, int64_t usedSeconds, int64_t limitSeconds);
QuotaCheck checkBudget(const std::string& cohort, int64_t usedMilli, int64_t limitMilli);

}  // namespace darasa
