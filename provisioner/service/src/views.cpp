// LabService's read views: one lab's status, the schedule, usage and the
// token list — what the CLI shows locally and the API answers, computed in
// one place (their JSON is wire.cpp's).
#include <algorithm>

#include "provisioner/service.h"

namespace darasa {

namespace {

std::string normalizeWhen(const std::string& text) {
  // A bare date is midnight in the cohort's zone.
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') return text + "T00:00";
  return text;
}

// One end of a window; `field` names it for both the API and the CLI.
Result<Clock::TimePoint> parseWhen(const std::string& text, const std::string& tz, Clock::TimePoint now,
                                   const char* field) {
  if (text == "now") return now;
  auto t = parseTimeInZone(normalizeWhen(text), tz);
  if (!t) return invalidError(std::string(field) + " \"" + text + "\" (--" + field + "): " + t.status().message());
  return t.value();
}

}  // namespace

TokenView tokenView(const TokenRecord& record, Clock::TimePoint now) {
  const int64_t t = toUnixSeconds(now);
  std::string state = record.revokedAt > 0                             ? "revoked"
                      : record.expiresAt > 0 && t >= record.expiresAt ? "expired"
                                                                       : "active";
  return TokenView{record, state};
}

Result<LabStatus> LabService::labStatus(const std::string& labId) {
  auto lab = store_.getLab(labId);
  if (!lab && lab.status().code() == Code::kNotFound) return notFoundError("no lab " + labId);
  if (!lab) return lab.status();
  auto labs = status(lab->cohort);
  if (!labs) return labs.status();
  for (auto& s : labs.value())
    if (s.lab.labId == labId) return std::move(s);
  return notFoundError("no lab " + labId);
}

Result<ScheduleView> LabService::schedule(const std::string& cohort, const ScheduleQuery& query) {
  if (query.all && (!query.window.from.empty() || !query.window.to.empty()))
    return invalidError("all takes no from or to (--all takes no --from or --to)");
  auto record = cohortRecord(cohort);
  if (!record) return record.status();
  auto spec = cohortSpecOf(record.value());
  if (!spec) return spec.status();
  auto occurrences = expandSchedule(spec.value());
  if (!occurrences) return occurrences.status().withContext("cohort " + cohort);
  auto steps = scheduleSteps(occurrences.value(), spec.value());

  ScheduleView v;
  v.cohort = cohort;
  v.timezone = spec->timezone;
  v.hasSchedule = !spec->schedule.empty();
  v.now = std::chrono::time_point_cast<std::chrono::seconds>(clock_.now());
  v.from = v.now;
  if (query.all) {
    if (!steps.empty()) v.from = std::min(steps.front().at, occurrences->front().start);
  } else {
    if (!query.window.from.empty()) {
      auto t = parseWhen(query.window.from, spec->timezone, v.now, "from");
      if (!t) return t.status();
      v.from = t.value();
    }
    if (!query.window.to.empty()) {
      auto t = parseWhen(query.window.to, spec->timezone, v.now, "to");
      if (!t) return t.status();
      v.to = t.value();
    } else if (query.span.count() > 0) {
      v.to = v.from + query.span;
    }
    if (v.to && *v.to < v.from) return invalidError("to is before from (--to is before --from)");
  }
  ScheduleState state = scheduleStateAt(steps, v.now);
  v.desiredNow = state.desired;
  v.reason = state.reason;
  v.nextChange = state.nextChange;
  for (auto& occ : occurrences.value())
    if (occ.end > v.from && (!v.to || occ.start < *v.to)) v.sessions.push_back(std::move(occ));
  for (auto& s : steps)
    if (s.at >= v.from && (!v.to || s.at < *v.to)) v.actions.push_back(std::move(s));
  return v;
}

Result<UsageView> LabService::usage(const std::string& cohort, const UsageQuery& query) {
  auto record = cohortRecord(cohort);
  if (!record) return record.status();
  auto spec = cohortSpecOf(record.value());
  if (!spec) return spec.status();
  const Clock::TimePoint now = clock_.now();
  int64_t from = record->createdAt, to = toUnixSeconds(now);
  if (!query.window.from.empty()) {
    auto t = parseWhen(query.window.from, spec->timezone, now, "from");
    if (!t) return t.status();
    from = toUnixSeconds(t.value());
  }
  if (!query.window.to.empty()) {
    auto t = parseWhen(query.window.to, spec->timezone, now, "to");
    if (!t) return t.status();
    to = std::min(to, toUnixSeconds(t.value()));
  }
  // A cohort applied this very second has an empty default period: nothing
  // was used yet. An empty period asked for is a mistake.
  if (to <= from) {
    if (!query.window.from.empty() || !query.window.to.empty())
      return invalidError("the period is empty: to must be after from (and not before the cohort was applied)");
    to = from;
  }
  auto intervals = store_.listUsage(cohort, from, to);
  if (!intervals) return intervals.status();
  UsageView v;
  v.report = computeUsage(intervals.value(), cohort, spec->timezone, from, to, query.prices);
  if (v.report.timezone.empty()) v.report.timezone = "UTC";
  v.priced = query.prices.any();
  auto trainees = store_.listTrainees(cohort);
  if (!trainees) return trainees.status();
  for (const auto& t : trainees.value()) v.report.byTrainee[t.id];  // everyone, zeros included
  v.quotaSeconds = spec->quota.labSeconds;
  if (v.quotaSeconds > 0)
    for (const auto& [id, totals] : v.report.byTrainee) v.quotaUsed[id] = runningSeconds(intervals.value(), id, to);
  auto labs = store_.listLabs(cohort);
  if (!labs) return labs.status();
  for (const auto& lab : labs.value())
    v.labs.push_back({lab.labId, lab.trainee, lab.phase, lab.readyAt, v.report.byTrainee[lab.trainee].labSeconds});
  return v;
}

Result<std::vector<TokenView>> LabService::tokens() {
  auto tokens = store_.listTokens();
  if (!tokens) return tokens.status();
  std::vector<TokenView> out;
  for (const auto& t : tokens.value()) out.push_back(tokenView(t, clock_.now()));
  return out;
}

}  // namespace darasa
