#include "provisioner/quota.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <set>

namespace darasa {

namespace {

std::string plural(int64_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string cpusText(int64_t millis) {
  // "1 CPU", "2 CPUs", "1.5 CPUs", "500m CPUs"
  std::string n = formatCpus(millis);
  return n + (millis == 1000 ? " CPU" : " CPUs");
}

// A host's memory is rarely a round number: "23.5Gi" reads better than
// "24684084Ki". Exact forms stay exact (what people wrote in their files).
std::string sizeText(int64_t bytes) {
  std::string exact = formatSize(bytes);
  const bool ragged = exact.size() > 2 && (exact.compare(exact.size() - 2, 2, "Ki") == 0 ||
                                           exact.find_first_not_of("0123456789") == std::string::npos);
  if (!ragged || bytes < (int64_t{1} << 30)) return exact;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fGi", static_cast<double>(bytes) / static_cast<double>(int64_t{1} << 30));
  return buf;
}

// The largest k ≤ want with k × per ≤ room (per > 0).
int64_t fitting(int64_t room, int64_t per, int64_t want) {
  if (per <= 0) return want;
  if (room <= 0) return 0;
  return std::min(want, room / per);
}

}  // namespace

Status checkCohortFits(const std::string& cohort, const std::string& providerName, const Resources& perLab,
                       int64_t trainees, int64_t maxLabs, const Demand& others, const ProviderCapacity& capacity) {
  int64_t atOnce = maxLabs > 0 ? std::min(trainees, maxLabs) : trainees;
  if (atOnce <= 0) return Status();
  std::string head = "cohort " + cohort + " needs " + plural(atOnce, "lab", "labs") + " at once" +
                     (maxLabs > 0 && maxLabs < trainees ? " (quota.maxLabs " + std::to_string(maxLabs) + ")" : "");
  std::string where = "provider " + providerName + (capacity.source.empty() ? "" : " (" + capacity.source + ")");
  std::vector<std::string> problems;
  int64_t fits = atOnce;
  if (capacity.maxLabs > 0) {
    int64_t room = capacity.maxLabs - others.labs;
    if (atOnce > room) {
      problems.push_back(head + ", but " + where + " runs at most " + plural(capacity.maxLabs, "lab", "labs") +
                         ", " + std::to_string(others.labs) + " of them promised to other cohorts");
      fits = std::min(fits, std::max<int64_t>(room, 0));
    }
  }
  if (capacity.cpuMillis > 0 && perLab.cpuMillis > 0) {
    int64_t room = capacity.cpuMillis - others.cpuMillis;
    // Exact: compare in millicores, never in floating point.
    if (static_cast<__int128>(atOnce) * perLab.cpuMillis > room) {
      problems.push_back(head + " × " + cpusText(perLab.cpuMillis) + " = " +
                         cpusText(atOnce * perLab.cpuMillis) + ", but " + where + " has " +
                         cpusText(capacity.cpuMillis) + ", " + cpusText(others.cpuMillis) +
                         " of them promised to other cohorts");
      fits = std::min(fits, fitting(room, perLab.cpuMillis, atOnce));
    }
  }
  if (capacity.memoryBytes > 0 && perLab.memoryBytes > 0) {
    int64_t room = capacity.memoryBytes - others.memoryBytes;
    if (static_cast<__int128>(atOnce) * perLab.memoryBytes > room) {
      __int128 total = static_cast<__int128>(atOnce) * perLab.memoryBytes;
      std::string totalText = total > INT64_MAX ? "more than " + formatSize(INT64_MAX)
                                                : formatSize(static_cast<int64_t>(total));
      problems.push_back(head + " × " + formatSize(perLab.memoryBytes) + " memory = " + totalText + ", but " +
                         where + " has " + sizeText(capacity.memoryBytes) + ", " +
                         sizeText(others.memoryBytes) + " of them promised to other cohorts");
      fits = std::min(fits, fitting(room, perLab.memoryBytes, atOnce));
    }
  }
  if (problems.empty()) return Status();
  std::string msg;
  for (const auto& p : problems) msg += (msg.empty() ? "" : "; ") + p;
  msg += fits > 0 ? "; set spec.quota.maxLabs to " + std::to_string(fits) +
                        " (labs beyond it wait in the admission queue), or apply with --allow-partial"
                  : "; nothing of this cohort fits: free capacity, lower the template's resources, or use "
                    "another provider";
  return quotaError(msg);
}

AdmissionDecision admit(const std::vector<AdmissionRequest>& requests, const ProviderCapacity& free,
                        const std::map<std::string, std::pair<int64_t, int64_t>>& cohortRunningAndMax) {
  // Per cohort, its requests oldest first.
  std::map<std::string, std::vector<const AdmissionRequest*>> byCohort;
  for (const auto& r : requests) byCohort[r.cohort].push_back(&r);
  struct Queue {
    int64_t priority;
    int64_t oldest;
    std::string cohort;
    std::deque<const AdmissionRequest*> items;
  };
  std::vector<Queue> queues;
  for (auto& [cohort, items] : byCohort) {
    std::sort(items.begin(), items.end(), [](const AdmissionRequest* a, const AdmissionRequest* b) {
      return a->queuedAt != b->queuedAt ? a->queuedAt < b->queuedAt : a->labId < b->labId;
    });
    int64_t prio = items.front()->priority;
    for (const auto* r : items) prio = std::max(prio, r->priority);
    queues.push_back({prio, items.front()->queuedAt, cohort, {items.begin(), items.end()}});
  }
  std::sort(queues.begin(), queues.end(), [](const Queue& a, const Queue& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    if (a.oldest != b.oldest) return a.oldest < b.oldest;
    return a.cohort < b.cohort;
  });
  // The fair order: priority levels in turn, round-robin inside a level.
  std::vector<const AdmissionRequest*> order;
  for (size_t i = 0; i < queues.size();) {
    size_t j = i;
    while (j < queues.size() && queues[j].priority == queues[i].priority) ++j;
    bool more = true;
    while (more) {
      more = false;
      for (size_t k = i; k < j; ++k) {
        if (queues[k].items.empty()) continue;
        order.push_back(queues[k].items.front());
        queues[k].items.pop_front();
        more = more || !queues[k].items.empty();
      }
    }
    i = j;
  }

  AdmissionDecision out;
  int64_t labs = 0, cpu = 0, mem = 0;
  std::map<std::string, int64_t> running;
  for (const auto& [c, rm] : cohortRunningAndMax) running[c] = rm.first;
  bool blocked = false;
  std::string blockedReason;
  for (const AdmissionRequest* r : order) {
    auto cap = cohortRunningAndMax.find(r->cohort);
    int64_t cohortMax = cap == cohortRunningAndMax.end() ? 0 : cap->second.second;
    if (cohortMax > 0 && running[r->cohort] >= cohortMax) {
      out.waiting.push_back({r->labId, r->cohort, 0,
                             "cohort " + r->cohort + " runs its quota.maxLabs of " + std::to_string(cohortMax) +
                                 " labs"});
      continue;
    }
    if (!blocked) {
      std::string reason;
      // 0 = no cap; a negative value = capped with nothing left.
      auto left = [](int64_t capValue, int64_t used) { return std::max<int64_t>(capValue, 0) - used; };
      if (free.maxLabs != 0 && labs + 1 > std::max<int64_t>(free.maxLabs, 0))
        reason = "provider is full: no lab slot free";
      else if (free.cpuMillis != 0 && cpu + r->resources.cpuMillis > std::max<int64_t>(free.cpuMillis, 0))
        reason = "provider is full: needs " + cpusText(r->resources.cpuMillis) + ", " +
                 cpusText(left(free.cpuMillis, cpu)) + " free";
      else if (free.memoryBytes != 0 && mem + r->resources.memoryBytes > std::max<int64_t>(free.memoryBytes, 0))
        reason = "provider is full: needs " + formatSize(r->resources.memoryBytes) + " memory, " +
                 sizeText(left(free.memoryBytes, mem)) + " free";
      if (reason.empty()) {
        labs += 1;
        cpu += r->resources.cpuMillis;
        mem += r->resources.memoryBytes;
        running[r->cohort] += 1;
        out.admitted.push_back(r->labId);
        continue;
      }
      blocked = true;
      blockedReason = reason;
    }
    out.waiting.push_back({r->labId, r->cohort, 0, blockedReason});
  }
  for (size_t i = 0; i < out.waiting.size(); ++i) out.waiting[i].position = static_cast<int>(i) + 1;
  return out;
}

std::optional<int64_t> estimateWait(int position, std::vector<int64_t> frees, int64_t provisionSeconds) {
  if (position <= 0) return provisionSeconds;
  if (static_cast<size_t>(position) > frees.size()) return std::nullopt;
  std::nth_element(frees.begin(), frees.begin() + (position - 1), frees.end());
  return std::max<int64_t>(frees[position - 1], 0) + provisionSeconds;
}

namespace {

QuotaCheck check(const std::string& what, int64_t used, int64_t limit, const std::string& usedText,
                 const std::string& limitText) {
  QuotaCheck c;
  if (limit <= 0) return c;
  // Integer percent, rounded down: 79.9 % is not yet a warning.
  int64_t pct = static_cast<int64_t>(static_cast<__int128>(used) * 100 / limit);
  c.message = what + " used " + usedText + " of " + limitText + " (" + std::to_string(pct) + "%)";
  if (used >= limit)
    c.level = QuotaLevel::kExhausted;
  else if (static_cast<__int128>(used) * 5 >= static_cast<__int128>(limit) * 4)
    c.level = QuotaLevel::kWarning;
  return c;
}

std::string money(int64_t milli) {
  std::string frac = std::to_string(milli % 1000);
  frac = std::string(3 - frac.size(), '0') + frac;
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return std::to_string(milli / 1000) + (frac.empty() ? "" : "." + frac);
}

}  // namespace

QuotaCheck checkLabHours(const std::string& who, int64_t usedSeconds, int64_t limitSeconds) {
  return check(who, usedSeconds, limitSeconds, formatDuration(std::chrono::seconds(usedSeconds)),
               formatDuration(std::chrono::seconds(limitSeconds)) + " lab-hours");
}

QuotaCheck checkBudget(const std::string& cohort, int64_t usedMilli, int64_t limitMilli) {
  return check("cohort " + cohort, usedMilli, limitMilli, money(usedMilli), money(limitMilli) + " budget");
}

}  // namespace darasa
