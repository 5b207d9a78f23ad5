#include "provisioner/wire.h"

#include <cstdio>

#include "provisioner/model_json.h"
#include "provisioner/units.h"

namespace darasa {
using nlohmann::json;

namespace {


std::string stringOr(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json optionalTime(const std::optional<Clock::TimePoint>& t) {
  return t ? json(formatUtc(*t)) : json(nullptr);
}

Clock::TimePoint pointOf(int64_t unixSeconds) { return Clock::TimePoint(std::chrono::seconds(unixSeconds)); }

std::optional<Clock::TimePoint> optionalPoint(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return pointOf(timeFromJson(*it));
}

Clock::TimePoint pointFrom(const json& j, const char* key) {
  auto t = optionalPoint(j, key);
  return t ? *t : Clock::TimePoint{};
}

json nullIfEmpty(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

LabPhase phaseFrom(const json& j, const char* key) {
  return labPhaseFromName(stringOr(j, key)).value_or(LabPhase::kPending);
}
DesiredState desiredFrom(const json& j, const char* key) {
  return desiredStateFromName(stringOr(j, key)).value_or(DesiredState::kAbsent);
}

json totalsJson(const UsageTotals& t, bool priced) {
  json j = {{"labSeconds", t.labSeconds},
            {"labHours", t.labHours()},
            {"stoppedSeconds", t.stoppedSeconds},
            {"cpuMilliSeconds", t.cpuMilliSeconds},
            {"cpuHours", t.cpuHours()},
            {"memoryMibSeconds", t.memoryMibSeconds},
            {"memoryGibHours", t.memoryGibHours()}};
  if (priced) {
    j["costMilli"] = t.costMilli;
    j["cost"] = formatMoney(t.costMilli);
  }
  return j;
}

UsageTotals totalsFrom(const json& j) {
  UsageTotals t;
  getIfPresent(j, "labSeconds", t.labSeconds);
  getIfPresent(j, "stoppedSeconds", t.stoppedSeconds);
  getIfPresent(j, "cpuMilliSeconds", t.cpuMilliSeconds);
  getIfPresent(j, "memoryMibSeconds", t.memoryMibSeconds);
  getIfPresent(j, "costMilli", t.costMilli);
  return t;
}

json daysJson(const std::map<std::string, UsageTotals>& days, bool priced) {
  json out = json::object();
  for (const auto& [day, t] : days) out[day] = totalsJson(t, priced);
  return out;
}

std::map<std::string, UsageTotals> daysFrom(const json& j) {
  std::map<std::string, UsageTotals> out;
  if (j.is_object())
    for (const auto& [day, t] : j.items()) out[day] = totalsFrom(t);
  return out;
}

}  // namespace

json timeJson(int64_t unixSeconds) {
  if (unixSeconds == 0) return nullptr;
  return formatUtc(pointOf(unixSeconds));
}

int64_t timeFromJson(const json& j) {
  if (j.is_number_integer()) return j.get<int64_t>();
  if (!j.is_string() || j.get<std::string>().empty()) return 0;
  auto t = parseTimeInZone(j.get<std::string>(), "");
  return t ? toUnixSeconds(t.value()) : 0;
}

json errorJson(const Status& s) {
  if (s.isOk()) return nullptr;
  return {{"code", codeName(s.code())}, {"message", s.message()}};
}

Status errorFromJson(const json& j) {
  if (!j.is_object()) return Status::ok();
  return Status(codeFromName(stringOr(j, "code")).value_or(Code::kInternal), stringOr(j, "message"));
}

std::string formatMoney(int64_t milli) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%lld.%03lld", milli < 0 ? "-" : "", static_cast<long long>(std::llabs(milli) / 1000),
                static_cast<long long>(std::llabs(milli) % 1000));
  return buf;
}

// ---------------------------------------------------------------- labs

void to_json(json& j, const LabStatus& s) {
  const LabRecord& lab = s.lab;
  json queue = nullptr;
  if (lab.queuePosition > 0)
    queue = {{"position", lab.queuePosition},
             {"reason", lab.queueReason},
             {"since", timeJson(lab.queuedAt)},
             {"eta", timeJson(lab.queueEta)}};
  j = json{{"lab", lab.labId},
           {"cohort", lab.cohort},
           {"trainee", lab.trainee},
           {"name", s.trainee.name},
           {"state", labPhaseName(lab.phase)},
           {"desired", desiredStateName(lab.desired)},
           {"removed", lab.removed},
           {"provider", lab.provider},
           {"resourceId", lab.resourceId},
           {"generation", lab.generation},
           {"observedGeneration", lab.observedGeneration},
           {"endpoints", s.endpoints},
           {"readyAt", timeJson(lab.readyAt)},
           {"updatedAt", timeJson(lab.updatedAt)},
           {"error", errorJson(lab.lastError)},
           {"queue", queue},
           {"stopReason", lab.stopReason},
           {"lastActiveAt", timeJson(lab.lastActiveAt)}};
}

void from_json(const json& j, LabStatus& s) {
  LabRecord& lab = s.lab;
  lab.labId = stringOr(j, "lab");
  lab.cohort = stringOr(j, "cohort");
  lab.trainee = stringOr(j, "trainee");
  s.trainee = Trainee{lab.trainee, stringOr(j, "name"), ""};
  lab.phase = phaseFrom(j, "state");
  lab.desired = desiredFrom(j, "desired");
  getIfPresent(j, "removed", lab.removed);
  lab.provider = stringOr(j, "provider");
  lab.resourceId = stringOr(j, "resourceId");
  getIfPresent(j, "generation", lab.generation);
  getIfPresent(j, "observedGeneration", lab.observedGeneration);
  s.endpoints.clear();
  getIfPresent(j, "endpoints", s.endpoints);
  lab.endpointsJson = json(s.endpoints).dump();
  lab.readyAt = timeFromJson(j.value("readyAt", json()));
  lab.updatedAt = timeFromJson(j.value("updatedAt", json()));
  lab.lastError = errorFromJson(j.value("error", json()));
  if (auto q = j.find("queue"); q != j.end() && q->is_object()) {
    getIfPresent(*q, "position", lab.queuePosition);
    lab.queueReason = stringOr(*q, "reason");
    lab.queuedAt = timeFromJson(q->value("since", json()));
    lab.queueEta = timeFromJson(q->value("eta", json()));
  }
  lab.stopReason = stringOr(j, "stopReason");
  lab.lastActiveAt = timeFromJson(j.value("lastActiveAt", json()));
}

// ---------------------------------------------------------------- credentials

void to_json(json& j, const CredentialView& v) {
  j = json{{"lab", v.labId},
           {"cohort", v.cohort},
           {"trainee", v.trainee.id},
           {"name", v.trainee.name},
           {"email", v.trainee.email},
           {"state", labPhaseName(v.phase)},
           {"endpoints", v.endpoints},
           {"issued", v.issued}};
  if (!v.issued) return;
  j["user"] = v.credentials.user;
  j["password"] = v.credentials.password.reveal();
  j["privateKey"] = v.credentials.privateKey.reveal();
  j["publicKey"] = v.credentials.publicKey;
  for (const auto& e : v.endpoints)
    if (e.name == "ssh") j["ssh"] = "ssh -p " + std::to_string(e.port) + " " + v.credentials.user + "@" + e.host;
}

void from_json(const json& j, CredentialView& v) {
  v.labId = stringOr(j, "lab");
  v.cohort = stringOr(j, "cohort");
  v.trainee = Trainee{stringOr(j, "trainee"), stringOr(j, "name"), stringOr(j, "email")};
  v.phase = phaseFrom(j, "state");
  v.endpoints.clear();
  getIfPresent(j, "endpoints", v.endpoints);
  v.issued = false;
  getIfPresent(j, "issued", v.issued);
  v.credentials = CredentialSet{};
  if (!v.issued) return;
  v.credentials.user = stringOr(j, "user");
  v.credentials.password = Secret(stringOr(j, "password"));
  v.credentials.privateKey = Secret(stringOr(j, "privateKey"));
  v.credentials.publicKey = stringOr(j, "publicKey");
}

// ---------------------------------------------------------------- apply

void to_json(json& j, const ApplyReport& r) {
  const ApplyOutcome& o = r.outcome;
  j = json{{"cohort", r.cohort},
           {"dryRun", r.dryRun},
           {"generation", o.generation},
           {"created", o.created},
           {"changed", o.changed},
           {"addedTrainees", o.addedTrainees},
           {"removedTrainees", o.removedTrainees},
           {"updatedTrainees", o.updatedTrainees},
           {"addedLabs", o.addedLabs},
           {"changedLabs", o.changedLabs},
           {"removedLabs", o.removedLabs},
           {"templateChanged", o.templateChanged},
           {"specChanged", o.specChanged},
           {"warnings", r.warnings}};
}

void from_json(const json& j, ApplyReport& r) {
  r = ApplyReport{};
  ApplyOutcome& o = r.outcome;
  r.cohort = stringOr(j, "cohort");
  getIfPresent(j, "dryRun", r.dryRun);
  getIfPresent(j, "generation", o.generation);
  getIfPresent(j, "created", o.created);
  getIfPresent(j, "changed", o.changed);
  getIfPresent(j, "addedTrainees", o.addedTrainees);
  getIfPresent(j, "removedTrainees", o.removedTrainees);
  getIfPresent(j, "updatedTrainees", o.updatedTrainees);
  getIfPresent(j, "addedLabs", o.addedLabs);
  getIfPresent(j, "changedLabs", o.changedLabs);
  getIfPresent(j, "removedLabs", o.removedLabs);
  getIfPresent(j, "templateChanged", o.templateChanged);
  getIfPresent(j, "specChanged", o.specChanged);
  getIfPresent(j, "warnings", r.warnings);
}

// ---------------------------------------------------------------- schedule

void to_json(json& j, const ScheduleView& v) {
  json sessions = json::array();
  for (const auto& o : v.sessions)
    sessions.push_back({{"summary", o.summary},
                        {"start", formatUtc(o.start)},
                        {"end", formatUtc(o.end)},
                        {"localStart", o.localStart},
                        {"localEnd", o.localEnd}});
  json actions = json::array();
  for (const auto& s : v.actions)
    actions.push_back({{"at", formatUtc(s.at)},
                       {"local", formatInZone(s.at, v.timezone)},
                       {"desired", desiredStateName(s.desired)},
                       {"reason", s.reason}});
  j = json{{"cohort", v.cohort},
           {"timezone", v.timezone},
           {"hasSchedule", v.hasSchedule},
           {"now", formatUtc(v.now)},
           {"from", formatUtc(v.from)},
           {"to", optionalTime(v.to)},
           {"desiredNow", desiredStateName(v.desiredNow)},
           {"reason", v.reason},
           {"nextChange", optionalTime(v.nextChange)},
           {"sessions", sessions},
           {"actions", actions}};
}

void from_json(const json& j, ScheduleView& v) {
  v = ScheduleView{};
  v.cohort = stringOr(j, "cohort");
  v.timezone = stringOr(j, "timezone");
  getIfPresent(j, "hasSchedule", v.hasSchedule);
  v.now = pointFrom(j, "now");
  v.from = pointFrom(j, "from");
  v.to = optionalPoint(j, "to");
  v.desiredNow = desiredFrom(j, "desiredNow");
  v.reason = stringOr(j, "reason");
  v.nextChange = optionalPoint(j, "nextChange");
  for (const auto& s : j.value("sessions", json::array()))
    v.sessions.push_back({pointFrom(s, "start"), pointFrom(s, "end"), stringOr(s, "summary"),
                          stringOr(s, "localStart"), stringOr(s, "localEnd")});
  for (const auto& a : j.value("actions", json::array())) {
    ScheduleStep step;
    step.at = pointFrom(a, "at");
    step.desired = desiredFrom(a, "desired");
    step.reason = stringOr(a, "reason");
    v.actions.push_back(std::move(step));
  }
}

// ---------------------------------------------------------------- usage

void to_json(json& j, const UsageView& v) {
  const UsageReport& r = v.report;
  json trainees = json::array();
  for (const auto& [id, totals] : r.byTrainee) {
    auto days = r.byTraineeDay.find(id);
    json t = {{"trainee", id},
              {"total", totalsJson(totals, v.priced)},
              {"days", days == r.byTraineeDay.end() ? json::object() : daysJson(days->second, v.priced)}};
    if (v.quotaSeconds > 0) {
      auto used = v.quotaUsed.find(id);
      int64_t seconds = used == v.quotaUsed.end() ? 0 : used->second;
      t["quotaUsedSeconds"] = seconds;
      t["labHoursQuota"] = formatDuration(std::chrono::seconds(seconds)) + " of " +
                           formatDuration(std::chrono::seconds(v.quotaSeconds)) + " (" +
                           std::to_string(seconds * 100 / v.quotaSeconds) + "%)";
    }
    trainees.push_back(std::move(t));
  }
  json labs = json::array();
  for (const auto& l : v.labs)
    labs.push_back({{"lab", l.labId},
                    {"trainee", l.trainee},
                    {"state", labPhaseName(l.phase)},
                    {"readyAt", timeJson(l.readyAt)},
                    {"labSeconds", l.labSeconds}});
  j = json{{"cohort", r.cohort},
           {"timezone", r.timezone.empty() ? "UTC" : r.timezone},
           {"from", timeJson(r.from)},
           {"to", timeJson(r.to)},
           {"priced", v.priced},
           {"quotaSeconds", v.quotaSeconds},
           {"total", totalsJson(r.total, v.priced)},
           {"trainees", trainees},
           {"days", daysJson(r.byDay, v.priced)},
           {"labs", labs}};
}

void from_json(const json& j, UsageView& v) {
  v = UsageView{};
  UsageReport& r = v.report;
  r.cohort = stringOr(j, "cohort");
  r.timezone = stringOr(j, "timezone");
  r.from = timeFromJson(j.value("from", json()));
  r.to = timeFromJson(j.value("to", json()));
  getIfPresent(j, "priced", v.priced);
  getIfPresent(j, "quotaSeconds", v.quotaSeconds);
  r.total = totalsFrom(j.value("total", json::object()));
  for (const auto& t : j.value("trainees", json::array())) {
    std::string id = stringOr(t, "trainee");
    r.byTrainee[id] = totalsFrom(t.value("total", json::object()));
    auto days = daysFrom(t.value("days", json::object()));
    if (!days.empty()) r.byTraineeDay[id] = std::move(days);
    if (t.contains("quotaUsedSeconds")) v.quotaUsed[id] = t["quotaUsedSeconds"].get<int64_t>();
  }
  r.byDay = daysFrom(j.value("days", json::object()));
  for (const auto& l : j.value("labs", json::array())) {
    UsageView::Lab lab;
    lab.labId = stringOr(l, "lab");
    lab.trainee = stringOr(l, "trainee");
    lab.phase = phaseFrom(l, "state");
    lab.readyAt = timeFromJson(l.value("readyAt", json()));
    getIfPresent(l, "labSeconds", lab.labSeconds);
    v.labs.push_back(std::move(lab));
  }
}

// ---------------------------------------------------------------- plan

void to_json(json& j, const PlanView& v) {
  json actions = json::array();
  for (const auto& a : v.actions) actions.push_back({{"action", actionKindName(a.kind)}, {"lab", a.labId}, {"reason", a.reason}});
  j = json{{"cohort", v.cohort}, {"wanted", desiredStateName(v.wanted)}, {"actions", actions}};
}

void from_json(const json& j, PlanView& v) {
  v = PlanView{};
  v.cohort = stringOr(j, "cohort");
  v.wanted = desiredFrom(j, "wanted");
  for (const auto& a : j.value("actions", json::array())) {
    Action action;
    action.kind = actionKindFromName(stringOr(a, "action")).value_or(ActionKind::kCreate);
    action.labId = stringOr(a, "lab");
    action.reason = stringOr(a, "reason");
    v.actions.push_back(std::move(action));
  }
}

// ---------------------------------------------------------------- tokens

void to_json(json& j, const TokenView& t) {
  const TokenRecord& r = t.record;
  j = json{{"id", r.id},
           {"role", tokenRoleName(r.role)},
           {"cohort", nullIfEmpty(r.cohort)},
           {"trainee", nullIfEmpty(r.trainee)},
           {"name", r.name},
           {"state", t.state},
           {"createdAt", timeJson(r.createdAt)},
           {"expiresAt", timeJson(r.expiresAt)},
           {"revokedAt", timeJson(r.revokedAt)},
           {"lastUsedAt", timeJson(r.lastUsedAt)}};
}

void from_json(const json& j, TokenView& t) {
  t = TokenView{};
  TokenRecord& r = t.record;
  r.id = stringOr(j, "id");
  r.role = tokenRoleFromName(stringOr(j, "role")).value_or(TokenRole::kTrainee);
  r.cohort = stringOr(j, "cohort");
  r.trainee = stringOr(j, "trainee");
  r.name = stringOr(j, "name");
  t.state = stringOr(j, "state");
  r.createdAt = timeFromJson(j.value("createdAt", json()));
  r.expiresAt = timeFromJson(j.value("expiresAt", json()));
  r.revokedAt = timeFromJson(j.value("revokedAt", json()));
  r.lastUsedAt = timeFromJson(j.value("lastUsedAt", json()));
}

}  // namespace darasa
