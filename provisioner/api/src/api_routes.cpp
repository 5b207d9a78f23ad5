// The API's route table and its handlers. Each handler decides access from
// the principal and the ids in the path alone, before it looks anything up,
// so that a 403 never tells a caller whether someone else's lab or cohort
// exists. Not-found messages are written here, never passed on from the store
// (whose messages list the names it knows).
//
// Who may do what:
//   admin       everything
//   instructor  its cohort: apply it again, get, delete, up/down, schedule,
//               labs, credentials, usage; the labs of its cohort (read, act,
//               credentials); tokens of its cohort (list, create trainee
//               tokens, revoke)
//   trainee     its own lab (read, start, stop, reset, credentials), its
//               cohort's schedule, its own token (whoami, revoke)
#include <algorithm>
#include <map>
#include <set>

#include "api_internal.h"
#include "provisioner/cohort.h"
#include "provisioner/model_json.h"
#include "provisioner/schedule.h"
#include "provisioner/service.h"
#include "provisioner/usage.h"

namespace darasa {

using nlohmann::json;
using namespace api_detail;

namespace {

// ---------------------------------------------------------------- access

bool isAdmin(const Call& c) { return c.who.role == TokenRole::kAdmin; }

ApiResponse forbidden(const std::string& what) {
  return errorResponse(403, "denied", "this token does not allow " + what);
}

// The cohort part of a lab id "<cohort>.<trainee>" (cohort names are DNS
// labels: no dot).
std::string cohortOfLab(const std::string& labId) { return labId.substr(0, labId.find('.')); }

std::string ownLab(const Principal& p) { return p.cohort + "." + p.trainee; }

// nullopt when allowed.
std::optional<ApiResponse> checkCohort(const Call& c, const std::string& cohort, bool traineeToo) {
  switch (c.who.role) {
    case TokenRole::kAdmin: return std::nullopt;
    case TokenRole::kInstructor:
      if (c.who.cohort == cohort) return std::nullopt;
      break;
    case TokenRole::kTrainee:
      if (traineeToo && c.who.cohort == cohort) return std::nullopt;
      break;
  }
  return forbidden("this on cohort " + cohort);
}

std::optional<ApiResponse> checkLab(const Call& c, const std::string& labId, bool traineeToo) {
  switch (c.who.role) {
    case TokenRole::kAdmin: return std::nullopt;
    case TokenRole::kInstructor:
      if (cohortOfLab(labId) == c.who.cohort) return std::nullopt;
      break;
    case TokenRole::kTrainee:
      if (traineeToo && labId == ownLab(c.who)) return std::nullopt;
      break;
  }
  return forbidden("this on lab " + labId);
}

std::optional<ApiResponse> needController(const Call& c) {
  if (c.api.controller) return std::nullopt;
  return errorResponse(503, "unavailable", "lab actions need the daemon's controller, which this server does not run");
}

ApiResponse notFound(const std::string& what) { return errorResponse(404, "not-found", "no " + what); }

// Errors of the store or the controller about a named thing: not-found gets
// our own message (the store's lists every name it knows).
ApiResponse failure(const Status& s, const std::string& what) {
  if (s.code() == Code::kNotFound) return notFound(what);
  return statusResponse(s);
}

// ---------------------------------------------------------------- JSON

json timeJson(int64_t unixSeconds) {
  if (unixSeconds == 0) return nullptr;
  return formatUtc(Clock::TimePoint(std::chrono::seconds(unixSeconds)));
}

json errorJson(const Status& s) {
  if (s.isOk()) return nullptr;
  return {{"code", codeName(s.code())}, {"message", s.message()}};
}

json endpointsJson(const std::string& text) {
  try {
    json j = json::parse(text);
    if (j.is_array()) return j;
  } catch (const std::exception&) {
  }
  return json::array();
}

// A lab without secrets. name: the trainee's name when the caller looked it up.
json labJson(const LabRecord& lab, const std::string* name = nullptr) {
  json j = {{"lab", lab.labId},
            {"cohort", lab.cohort},
            {"trainee", lab.trainee},
            {"state", labPhaseName(lab.phase)},
            {"desired", desiredStateName(lab.desired)},
            {"removed", lab.removed},
            {"provider", lab.provider},
            {"resourceId", lab.resourceId},
            {"generation", lab.generation},
            {"observedGeneration", lab.observedGeneration},
            {"endpoints", endpointsJson(lab.endpointsJson)},
            {"readyAt", timeJson(lab.readyAt)},
            {"updatedAt", timeJson(lab.updatedAt)},
            {"error", errorJson(lab.lastError)}};
  j.update(labPolicyJson(lab));
  if (name) j["name"] = *name;
  return j;
}

json credentialsJson(const CredentialView& v) {
  json j = {{"lab", v.labId},
            {"cohort", v.cohort},
            {"trainee", v.trainee.id},
            {"name", v.trainee.name},
            {"email", v.trainee.email},
            {"state", labPhaseName(v.phase)},
            {"endpoints", v.endpoints},
            {"issued", v.issued}};
  if (!v.issued) return j;
  j["user"] = v.credentials.user;
  j["password"] = v.credentials.password.reveal();
  j["privateKey"] = v.credentials.privateKey.reveal();
  j["publicKey"] = v.credentials.publicKey;
  for (const auto& e : v.endpoints)
    if (e.name == "ssh") j["ssh"] = "ssh -p " + std::to_string(e.port) + " " + v.credentials.user + "@" + e.host;
  return j;
}

json tokenJson(const TokenRecord& t, int64_t now) {
  std::string state = t.revokedAt ? "revoked" : (t.expiresAt && now >= t.expiresAt) ? "expired" : "active";
  json j = {{"id", t.id},
            {"role", tokenRoleName(t.role)},
            {"cohort", t.cohort.empty() ? json(nullptr) : json(t.cohort)},
            {"trainee", t.trainee.empty() ? json(nullptr) : json(t.trainee)},
            {"name", t.name},
            {"state", state},
            {"createdAt", timeJson(t.createdAt)},
            {"expiresAt", timeJson(t.expiresAt)},
            {"revokedAt", timeJson(t.revokedAt)},
            {"lastUsedAt", timeJson(t.lastUsedAt)}};
  return j;
}

json cohortJson(const CohortRecord& c) {
  return {{"name", c.name},         {"generation", c.generation},   {"template", c.templateName},
          {"templateHash", c.snapshotHash}, {"provider", c.provider},  {"createdAt", timeJson(c.createdAt)},
          {"updatedAt", timeJson(c.updatedAt)}};
}

int64_t nowOf(const Call& c) { return toUnixSeconds(c.api.clock.now()); }

LabService service(Call& c) { return LabService(c.api.store, c.api.providers, c.api.clock, c.who.actor()); }

bool queryFlag(const Call& c, const std::string& name) {
  auto it = c.request.query.find(name);
  return it != c.request.query.end() && (it->second.empty() || it->second == "true" || it->second == "1");
}

// Labs with the trainees' names, as LabService::status gives them.
json labList(const std::vector<LabStatus>& labs) {
  json out = json::array();
  for (const auto& s : labs) out.push_back(labJson(s.lab, &s.trainee.name));
  return out;
}

// ---------------------------------------------------------------- public

ApiResponse healthz(Call& c) {
  return jsonResponse(200, {{"status", "ok"}, {"version", c.api.options.version}});
}

ApiResponse readyz(Call& c) {
  // Ready = the state answers; the controller is optional (a read-only API).
  auto cohorts = c.api.store.listCohorts();
  if (!cohorts) return errorResponse(503, "unavailable", "the state cannot be read right now");
  return jsonResponse(200, {{"status", "ready"}, {"controller", c.api.controller != nullptr}});
}

ApiResponse metrics(Call& c) {
  if (!c.api.metrics) return errorResponse(503, "unavailable", "this server keeps no metrics");
  ApiResponse r;
  r.contentType = "text/plain; version=0.0.4; charset=utf-8";
  r.body = c.api.metrics->render(&c.api.store);
  return r;
}

ApiResponse openapi(Call&) {
  ApiResponse r;
  r.body = Api::openApiJson();
  return r;
}

ApiResponse whoami(Call& c) {
  json j = {{"role", tokenRoleName(c.who.role)},
            {"tokenId", c.who.tokenId},
            {"cohort", c.who.cohort.empty() ? json(nullptr) : json(c.who.cohort)},
            {"trainee", c.who.trainee.empty() ? json(nullptr) : json(c.who.trainee)}};
  if (c.who.role == TokenRole::kTrainee) j["lab"] = ownLab(c.who);
  return jsonResponse(200, j);
}

// ---------------------------------------------------------------- cohorts

ApiResponse listCohorts(Call& c) {
  if (c.who.role == TokenRole::kTrainee) return forbidden("listing cohorts");
  auto cohorts = c.api.store.listCohorts();
  if (!cohorts) return statusResponse(cohorts.status());
  json out = json::array();
  for (const auto& cohort : cohorts.value())
    if (isAdmin(c) || cohort.name == c.who.cohort) out.push_back(cohortJson(cohort));
  return jsonResponse(200, out);
}

ApiResponse applyCohort(Call& c) {
  if (c.who.role == TokenRole::kTrainee) return forbidden("applying cohorts");
  if (!c.api.options.parseApply)
    return errorResponse(501, "not-supported", "this server cannot apply cohorts (no template parser)");
  if (c.request.body.find_first_not_of(" \t\r\n") == std::string::npos)
    return errorResponse(400, "invalid", "the request body is empty: send the cohort (and its templates) as YAML or JSON");
  auto source = c.request.query.find("source");
  std::string sourceName = source != c.request.query.end() && !source->second.empty() ? source->second : "request";
  auto parsed = c.api.options.parseApply(c.request.body, sourceName);
  if (!parsed) {
    const Status& s = parsed.status();
    if (s.code() != Code::kInvalid && s.code() != Code::kNotFound) return statusResponse(s);
    // Located problems, one per line: "request:12:5: memory ...".
    json problems = json::array();
    size_t start = 0;
    while (start <= s.message().size()) {
      size_t nl = s.message().find('\n', start);
      std::string line = s.message().substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      if (!line.empty()) problems.push_back(line);
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    return jsonResponse(422, {{"error", {{"code", "invalid"}, {"message", s.message()}, {"problems", problems}}}});
  }
  ApplyRequest request = std::move(parsed.value());
  const std::string name = request.rendered.cohort.name;
  if (auto no = checkCohort(c, name, false)) return *no;
  request.dryRun = request.dryRun || queryFlag(c, "dryRun");
  request.allowPartial = request.allowPartial || queryFlag(c, "allowPartial");
  Result<ApplyReport> report = [&]() -> Result<ApplyReport> {
    std::lock_guard lock(c.api.applyMu);
    return service(c).apply(request);
  }();
  if (!report) {
    if (report.status().code() == Code::kInvalid)
      return jsonResponse(422, {{"error",
                                 {{"code", "invalid"},
                                  {"message", report.status().message()},
                                  {"problems", json::array({report.status().message()})}}}});
    return statusResponse(report.status());
  }
  const ApplyOutcome& o = report->outcome;
  if (!request.dryRun && o.changed && c.api.controller) c.api.controller->wake(name, {}, "api: apply");
  json j = {{"cohort", name},
            {"dryRun", request.dryRun},
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
            {"warnings", report->warnings}};
  return jsonResponse(o.created && !request.dryRun ? 201 : 200, j);
}

ApiResponse getCohort(Call& c) {
  const std::string& name = c.param("cohort");
  if (auto no = checkCohort(c, name, false)) return *no;
  auto cohort = c.api.store.getCohort(name);
  if (!cohort) return failure(cohort.status(), "cohort " + name);
  json j = cohortJson(cohort.value());
  try {
    j["spec"] = json::parse(cohort->specJson);
  } catch (const std::exception&) {
    j["spec"] = nullptr;
  }
  auto labs = c.api.store.listLabs(name);
  if (!labs) return failure(labs.status(), "cohort " + name);
  std::map<std::string, int> byState;
  for (const auto& lab : labs.value()) ++byState[labPhaseName(lab.phase)];
  j["labs"] = byState;
  return jsonResponse(200, j);
}

ApiResponse accepted(const std::string& key, const std::string& id, const std::string& action) {
  return jsonResponse(202, {{key, id}, {"action", action}, {"status", "accepted"}});
}

ApiResponse deleteCohort(Call& c) {
  const std::string& name = c.param("cohort");
  if (auto no = checkCohort(c, name, false)) return *no;
  if (auto no = needController(c)) return *no;
  Status s = c.api.controller->deleteCohort(name);
  if (!s) return failure(s, "cohort " + name);
  return accepted("cohort", name, "delete");
}

ApiResponse cohortUp(Call& c) {
  const std::string& name = c.param("cohort");
  if (auto no = checkCohort(c, name, false)) return *no;
  if (auto no = needController(c)) return *no;
  Status s = c.api.controller->upCohort(name);
  if (!s) return failure(s, "cohort " + name);
  return accepted("cohort", name, "up");
}

ApiResponse cohortDown(Call& c) {
  const std::string& name = c.param("cohort");
  if (auto no = checkCohort(c, name, false)) return *no;
  if (auto no = needController(c)) return *no;
  Status s = c.api.controller->downCohort(name);
  if (!s) return failure(s, "cohort " + name);
  return accepted("cohort", name, "down");
}

ApiResponse cohortSchedule(Call& c) {
  const std::string& name = c.param("cohort");
  if (auto no = checkCohort(c, name, true)) return *no;
  auto cohort = c.api.store.getCohort(name);
  if (!cohort) return failure(cohort.status(), "cohort " + name);
  CohortSpec spec;
  try {
    spec = json::parse(cohort->specJson).get<CohortSpec>();
  } catch (const std::exception& e) {
    return errorResponse(500, "internal", "the stored spec of cohort " + name + " does not read back: " + e.what());
  }
  const Clock::TimePoint now = c.api.clock.now();
  Clock::TimePoint from = now;
  std::optional<Clock::TimePoint> to;
  for (const char* key : {"from", "to"}) {
    auto it = c.request.query.find(key);
    if (it == c.request.query.end() || it->second.empty()) continue;
    auto t = parseTimeInZone(it->second, spec.timezone);
    if (!t) return errorResponse(400, "invalid", std::string(key) + ": " + t.status().message());
    if (std::string_view(key) == "from") from = t.value();
    else to = t.value();
  }
  if (to && *to < from) return errorResponse(400, "invalid", "to is before from");
  auto occurrences = expandSchedule(spec);
  if (!occurrences) return statusResponse(occurrences.status());
  auto steps = scheduleSteps(occurrences.value(), spec);
  ScheduleState state = scheduleStateAt(steps, now);
  json sessions = json::array();
  for (const auto& o : occurrences.value()) {
    if (o.end <= from || (to && o.start >= *to)) continue;
    sessions.push_back({{"summary", o.summary},
                        {"start", formatUtc(o.start)},
                        {"end", formatUtc(o.end)},
                        {"localStart", o.localStart},
                        {"localEnd", o.localEnd}});
  }
  json actions = json::array();
  for (const auto& s : steps) {
    if (s.at < from || (to && s.at >= *to)) continue;
    actions.push_back({{"at", formatUtc(s.at)},
                       {"local", formatInZone(s.at, spec.timezone)},
                       {"desired", desiredStateName(s.desired)},
                       {"reason", s.reason}});
  }
  json j = {{"cohort", name},
            {"timezone", spec.timezone},
            {"now", formatUtc(now)},
            {"from", formatUtc(from)},
            {"to", to ? json(formatUtc(*to)) : json(nullptr)},
            {"desiredNow", desiredStateName(state.desired)},
            {"reason", state.reason},
            {"nextChange", state.nextChange ? json(formatUtc(*state.nextChange)) : json(nullptr)},
            {"sessions", sessions},
            {"actions", actions}};
  return jsonResponse(200, j);
}

ApiResponse cohortLabs(Call& c) {
  const std::string& name = c.param("cohort");
  if (auto no = checkCohort(c, name, false)) return *no;
  auto labs = service(c).status(name);
  if (!labs) return failure(labs.status(), "cohort " + name);
  return jsonResponse(200, labList(labs.value()));
}

ApiResponse cohortCredentials(Call& c) {
  const std::string& name = c.param("cohort");
  if (auto no = checkCohort(c, name, false)) return *no;
  auto creds = service(c).credentials(name, {});
  if (!creds) return failure(creds.status(), "cohort " + name);
  json out = json::array();
  for (const auto& v : creds.value()) out.push_back(credentialsJson(v));
  return jsonResponse(200, out);
}

json totalsJson(const UsageTotals& t) {
  return {{"labSeconds", t.labSeconds},
          {"labHours", t.labHours()},
          {"stoppedSeconds", t.stoppedSeconds},
          {"cpuHours", t.cpuHours()},
          {"memoryGibHours", t.memoryGibHours()}};
}

// What the usage ledger (the store's usage intervals) says about [from, to):
// the same sums as `darasa usage -o json`, without prices.
ApiResponse cohortUsage(Call& c) {
  const std::string& name = c.param("cohort");
  if (auto no = checkCohort(c, name, false)) return *no;
  auto cohort = c.api.store.getCohort(name);
  if (!cohort) return failure(cohort.status(), "cohort " + name);
  CohortSpec spec;
  try {
    spec = json::parse(cohort->specJson).get<CohortSpec>();
  } catch (const std::exception& e) {
    return errorResponse(500, "internal", "the stored spec of cohort " + name + " does not read back: " + e.what());
  }
  const int64_t now = nowOf(c);
  int64_t from = cohort->createdAt, to = now;
  for (const char* key : {"from", "to"}) {
    auto it = c.request.query.find(key);
    if (it == c.request.query.end() || it->second.empty()) continue;
    auto t = parseTimeInZone(it->second, spec.timezone);
    if (!t) return errorResponse(400, "invalid", std::string(key) + ": " + t.status().message());
    if (std::string_view(key) == "from") from = toUnixSeconds(t.value());
    else to = std::min(now, toUnixSeconds(t.value()));
  }
  if (to < from) return errorResponse(400, "invalid", "the period is empty: to must be after from (and not in the future)");
  auto intervals = c.api.store.listUsage(name, from, to);
  if (!intervals) return statusResponse(intervals.status());
  UsageReport report = computeUsage(intervals.value(), name, spec.timezone, from, to);
  auto labs = c.api.store.listLabs(name);
  if (!labs) return failure(labs.status(), "cohort " + name);
  for (const auto& lab : labs.value()) report.byTrainee[lab.trainee];  // everyone, zeros included
  json trainees = json::array();
  for (const auto& [id, totals] : report.byTrainee) {
    json days = json::object();
    for (const auto& [day, t] : report.byTraineeDay[id]) days[day] = totalsJson(t);
    trainees.push_back({{"trainee", id}, {"total", totalsJson(totals)}, {"days", days}});
  }
  json days = json::object();
  for (const auto& [day, t] : report.byDay) days[day] = totalsJson(t);
  json perLab = json::array();
  for (const auto& lab : labs.value())
    perLab.push_back({{"lab", lab.labId},
                      {"trainee", lab.trainee},
                      {"state", labPhaseName(lab.phase)},
                      {"readyAt", timeJson(lab.readyAt)},
                      {"labSeconds", report.byTrainee[lab.trainee].labSeconds}});
  return jsonResponse(200, {{"cohort", name},
                            {"timezone", spec.timezone.empty() ? "UTC" : spec.timezone},
                            {"from", timeJson(from)},
                            {"to", timeJson(to)},
                            {"total", totalsJson(report.total)},
                            {"trainees", trainees},
                            {"days", days},
                            {"labs", perLab}});
}

// ---------------------------------------------------------------- labs

ApiResponse listLabs(Call& c) {
  switch (c.who.role) {
    case TokenRole::kAdmin: {
      auto labs = service(c).status("");
      if (!labs) return statusResponse(labs.status());
      return jsonResponse(200, labList(labs.value()));
    }
    case TokenRole::kInstructor: {
      auto labs = service(c).status(c.who.cohort);
      if (!labs && labs.status().code() != Code::kNotFound) return statusResponse(labs.status());
      return jsonResponse(200, labs ? labList(labs.value()) : json::array());
    }
    case TokenRole::kTrainee: {
      json out = json::array();
      auto lab = c.api.store.getLab(ownLab(c.who));
      if (!lab && lab.status().code() != Code::kNotFound) return statusResponse(lab.status());
      if (lab && lab->cohort == c.who.cohort && lab->trainee == c.who.trainee) out.push_back(labJson(lab.value()));
      return jsonResponse(200, out);
    }
  }
  return forbidden("listing labs");
}

// The lab named in the path, after the access check; nullopt + response when not.
Result<LabRecord> findLab(Call& c, const std::string& labId) {
  auto lab = c.api.store.getLab(labId);
  if (!lab) return lab.status();
  // Defence in depth: the id's cohort part decided access, the row must agree.
  if (lab->cohort != cohortOfLab(labId)) return notFoundError("lab " + labId);
  return lab;
}

ApiResponse getLab(Call& c) {
  const std::string& id = c.param("lab");
  if (auto no = checkLab(c, id, true)) return *no;
  auto lab = findLab(c, id);
  if (!lab) return failure(lab.status(), "lab " + id);
  return jsonResponse(200, labJson(lab.value()));
}

using LabAction = Status (Controller::*)(const std::string&);

ApiResponse labAction(Call& c, LabAction action, const char* name, bool traineeToo) {
  const std::string& id = c.param("lab");
  if (auto no = checkLab(c, id, traineeToo)) return *no;
  if (auto no = needController(c)) return *no;
  Status s = (c.api.controller->*action)(id);
  if (!s) return failure(s, "lab " + id);
  return accepted("lab", id, name);
}

ApiResponse destroyLab(Call& c) { return labAction(c, &Controller::destroyLab, "destroy", false); }
ApiResponse startLab(Call& c) { return labAction(c, &Controller::startLab, "start", true); }
ApiResponse stopLab(Call& c) { return labAction(c, &Controller::stopLab, "stop", true); }
ApiResponse resetLab(Call& c) { return labAction(c, &Controller::resetLab, "reset", true); }

ApiResponse labCredentials(Call& c) {
  const std::string& id = c.param("lab");
  if (auto no = checkLab(c, id, true)) return *no;
  auto lab = findLab(c, id);
  if (!lab) return failure(lab.status(), "lab " + id);
  // Audited by the store with this token as the actor.
  auto creds = service(c).credentials(lab->cohort, {lab->trainee});
  if (!creds) return failure(creds.status(), "lab " + id);
  for (const auto& v : creds.value())
    if (v.labId == id) return jsonResponse(200, credentialsJson(v));
  return notFound("lab " + id);
}

// ---------------------------------------------------------------- tokens

ApiResponse listTokens(Call& c) {
  if (c.who.role == TokenRole::kTrainee) return forbidden("listing tokens");
  auto tokens = c.api.store.listTokens();
  if (!tokens) return statusResponse(tokens.status());
  const int64_t now = nowOf(c);
  json out = json::array();
  for (const auto& t : tokens.value())
    if (isAdmin(c) || (!t.cohort.empty() && t.cohort == c.who.cohort)) out.push_back(tokenJson(t, now));
  return jsonResponse(200, out);
}

ApiResponse invalidBody(const std::string& message) {
  return jsonResponse(422, {{"error", {{"code", "invalid"}, {"message", "request: " + message},
                                       {"problems", json::array({"request: " + message})}}}});
}

ApiResponse createTokenRoute(Call& c) {
  if (c.who.role == TokenRole::kTrainee) return forbidden("creating tokens");
  json body;
  try {
    body = json::parse(c.request.body);
  } catch (const json::exception& e) {
    return errorResponse(400, "invalid", std::string("the request body is not JSON: ") + e.what());
  }
  if (!body.is_object()) return invalidBody("expected an object {\"role\", \"cohort\", \"trainee\", \"name\", \"ttlSeconds\"}");
  static const std::set<std::string> kKnown = {"role", "cohort", "trainee", "name", "ttlSeconds"};
  for (const auto& [key, value] : body.items())
    if (!kKnown.count(key)) return invalidBody("unknown field \"" + key + "\" (known: role, cohort, trainee, name, ttlSeconds)");
  auto str = [&body](const char* key) -> std::optional<std::string> {
    if (!body.contains(key) || body[key].is_null()) return std::string();
    if (!body[key].is_string()) return std::nullopt;
    return body[key].get<std::string>();
  };
  auto roleName = str("role"), cohort = str("cohort"), trainee = str("trainee"), name = str("name");
  if (!roleName || !cohort || !trainee || !name) return invalidBody("role, cohort, trainee and name are strings");
  auto role = tokenRoleFromName(*roleName);
  if (!role) return invalidBody("role \"" + *roleName + "\" is not one of admin, instructor, trainee");
  int64_t ttl = 0;
  if (body.contains("ttlSeconds") && !body["ttlSeconds"].is_null()) {
    if (!body["ttlSeconds"].is_number_integer() || body["ttlSeconds"].get<int64_t>() < 0)
      return invalidBody("ttlSeconds is a whole number of seconds, 0 or more (0: never expires)");
    ttl = body["ttlSeconds"].get<int64_t>();
  }
  // An instructor hands out trainee tokens of its own cohort, nothing more.
  if (c.who.role == TokenRole::kInstructor && (*role != TokenRole::kTrainee || *cohort != c.who.cohort))
    return forbidden("creating this token (an instructor creates trainee tokens of its cohort)");
  auto issued = createToken(c.api.store, *role, *cohort, *trainee, *name, std::chrono::seconds(ttl), c.api.clock);
  if (!issued) {
    if (issued.status().code() == Code::kInvalid) return invalidBody(issued.status().message());
    if (issued.status().code() == Code::kNotFound)
      return invalidBody(trainee->empty() ? "no cohort " + *cohort : "no trainee " + *trainee + " in cohort " + *cohort);
    return statusResponse(issued.status());
  }
  (void)c.api.store.appendAudit(c.who.actor(), "create-token", "token:" + issued->record.id,
                                std::string("role ") + tokenRoleName(*role) +
                                    (cohort->empty() ? "" : ", cohort " + *cohort) +
                                    (trainee->empty() ? "" : ", trainee " + *trainee));
  json j = tokenJson(issued->record, nowOf(c));
  j["token"] = issued->token;  // shown once
  return jsonResponse(201, j);
}

ApiResponse revokeTokenRoute(Call& c) {
  const std::string& id = c.param("id");
  switch (c.who.role) {
    case TokenRole::kAdmin: break;
    case TokenRole::kTrainee:
      if (id != c.who.tokenId) return forbidden("revoking token " + id);
      break;
    case TokenRole::kInstructor: {
      if (id == c.who.tokenId) break;
      auto tokens = c.api.store.listTokens();
      if (!tokens) return statusResponse(tokens.status());
      auto it = std::find_if(tokens->begin(), tokens->end(), [&id](const TokenRecord& t) { return t.id == id; });
      if (it == tokens->end() || it->cohort != c.who.cohort) return forbidden("revoking token " + id);
      break;
    }
  }
  Status s = c.api.store.revokeToken(id);
  if (!s) return failure(s, "token " + id);
  (void)c.api.store.appendAudit(c.who.actor(), "revoke-token", "token:" + id);
  return jsonResponse(200, {{"id", id}, {"revoked", true}});
}

}  // namespace

namespace api_detail {

const std::vector<RouteDef>& routes() {
  static const std::vector<RouteDef> table = {
      {"GET", "/healthz", false, "health", "Liveness: the server answers (no token).", "server", healthz, {}, nullptr,
       nullptr, 200, "Health", {}},
      {"GET", "/readyz", false, "ready", "Readiness: the state answers and the server is not stopping (no token).",
       "server", readyz, {}, nullptr, nullptr, 200, "Ready", {503}},
      {"GET", "/metrics", false, "metrics", "Prometheus text format 0.0.4 (no token).", "server", metrics, {},
       nullptr, nullptr, 200, "", {503}},
      {"GET", "/api/v1/openapi.json", false, "openapi", "This document (no token).", "server", openapi, {}, nullptr,
       nullptr, 200, "OpenApi", {}},
      {"GET", "/api/v1/whoami", true, "whoami", "The caller's role, cohort, trainee and lab. Any role.", "tokens",
       whoami, {}, nullptr, nullptr, 200, "Principal", {}},
      {"GET", "/api/v1/cohorts", true, "listCohorts",
       "Cohorts the caller manages: admin all, instructor its own; trainee 403.", "cohorts", listCohorts, {}, nullptr,
       nullptr, 200, "CohortList", {403}},
      {"POST", "/api/v1/cohorts", true, "applyCohort",
       "Apply a cohort and its templates (YAML or JSON, as `darasa apply`); errors are located "
       "(\"request:12:5: ...\", or the name given as ?source=). Admin any cohort, instructor its own; trainee 403.",
       "cohorts", applyCohort,
       {{"dryRun", "boolean", "say what would change, write nothing"},
        {"allowPartial", "boolean",
         "store a cohort whose whole class cannot run at once on its provider (the rest wait in the admission "
         "queue) instead of refusing it"},
        {"source", "string", "the name errors give the body (e.g. the file's name)"}},
       "ApplyBody", "application/yaml", 200, "ApplyResult", {400, 403, 409, 413, 422, 501}},
      {"GET", "/api/v1/cohorts/{cohort}", true, "getCohort",
       "A cohort with its spec and its labs by state. Admin, instructor of the cohort.", "cohorts", getCohort, {},
       nullptr, nullptr, 200, "CohortDetail", {403, 404}},
      {"DELETE", "/api/v1/cohorts/{cohort}", true, "deleteCohort",
       "Destroy every lab of the cohort, then delete it (asynchronous). Admin, instructor of the cohort.", "cohorts",
       deleteCohort, {}, nullptr, nullptr, 202, "Accepted", {403, 404, 409, 503}},
      {"POST", "/api/v1/cohorts/{cohort}/up", true, "cohortUp",
       "Want every lab of the cohort running (asynchronous, like `darasa up`). Admin, instructor of the cohort.",
       "cohorts", cohortUp, {}, nullptr, nullptr, 202, "Accepted", {403, 404, 409, 503}},
      {"POST", "/api/v1/cohorts/{cohort}/down", true, "cohortDown",
       "Want every lab of the cohort absent (asynchronous, like `darasa down`). Admin, instructor of the cohort.",
       "cohorts", cohortDown, {}, nullptr, nullptr, 202, "Accepted", {403, 404, 409, 503}},
      {"GET", "/api/v1/cohorts/{cohort}/schedule", true, "cohortSchedule",
       "Sessions and planned lab actions in [from, to) (default: from now on). Admin, instructor and trainees of the "
       "cohort.",
       "cohorts", cohortSchedule,
       {{"from", "string", "RFC 3339, or a local date-time in the cohort's zone"},
        {"to", "string", "RFC 3339, or a local date-time in the cohort's zone"}},
       nullptr, nullptr, 200, "Schedule", {400, 403, 404}},
      {"GET", "/api/v1/cohorts/{cohort}/labs", true, "cohortLabs",
       "The cohort's labs with their trainees' names. Admin, instructor of the cohort.", "labs", cohortLabs, {},
       nullptr, nullptr, 200, "LabList", {403, 404}},
      {"GET", "/api/v1/cohorts/{cohort}/credentials", true, "cohortCredentials",
       "Every trainee's credentials (each read audited). Admin, instructor of the cohort.", "credentials",
       cohortCredentials, {}, nullptr, nullptr, 200, "CredentialsList", {403, 404}},
      {"GET", "/api/v1/cohorts/{cohort}/usage", true, "cohortUsage",
       "Lab-seconds, stopped seconds, CPU-hours and memory-GiB-hours from the usage ledger over [from, to) (default: "
       "since the cohort was applied), per trainee, per local day and per lab, as `darasa usage -o json`. Admin, "
       "instructor of the cohort.",
       "cohorts", cohortUsage,
       {{"from", "string", "RFC 3339, or a local date-time in the cohort's zone"},
        {"to", "string", "RFC 3339, or a local date-time in the cohort's zone (at most now)"}},
       nullptr, nullptr, 200, "Usage", {400, 403, 404}},
      {"GET", "/api/v1/labs", true, "listLabs",
       "The labs the caller may see: admin all, instructor its cohort's, trainee its own.", "labs", listLabs, {},
       nullptr, nullptr, 200, "LabList", {}},
      {"GET", "/api/v1/labs/{lab}", true, "getLab", "One lab. Admin, instructor of its cohort, its trainee.", "labs",
       getLab, {}, nullptr, nullptr, 200, "Lab", {403, 404}},
      {"DELETE", "/api/v1/labs/{lab}", true, "destroyLab",
       "Destroy the lab (asynchronous). Admin, instructor of its cohort.", "labs", destroyLab, {}, nullptr, nullptr,
       202, "Accepted", {403, 404, 409, 503}},
      {"POST", "/api/v1/labs/{lab}/start", true, "startLab",
       "Want the lab running (asynchronous). Admin, instructor of its cohort, its trainee.", "labs", startLab, {},
       nullptr, nullptr, 202, "Accepted", {403, 404, 409, 503}},
      {"POST", "/api/v1/labs/{lab}/stop", true, "stopLab",
       "Want the lab stopped (asynchronous). Admin, instructor of its cohort, its trainee.", "labs", stopLab, {},
       nullptr, nullptr, 202, "Accepted", {403, 404, 409, 503}},
      {"POST", "/api/v1/labs/{lab}/reset", true, "resetLab",
       "Destroy and create the lab again: fresh home, same credentials (asynchronous). Admin, instructor of its "
       "cohort, its trainee.",
       "labs", resetLab, {}, nullptr, nullptr, 202, "Accepted", {403, 404, 409, 503}},
      {"GET", "/api/v1/labs/{lab}/credentials", true, "labCredentials",
       "The lab's credentials (the read is audited). Admin, instructor of its cohort, its trainee.", "credentials",
       labCredentials, {}, nullptr, nullptr, 200, "Credentials", {403, 404}},
      {"GET", "/api/v1/tokens", true, "listTokens",
       "Tokens (never their secrets): admin all, instructor its cohort's; trainee 403.", "tokens", listTokens, {},
       nullptr, nullptr, 200, "TokenList", {403}},
      {"POST", "/api/v1/tokens", true, "createToken",
       "A new token; the secret is in the answer only. Admin any, instructor trainee tokens of its cohort; trainee "
       "403.",
       "tokens", createTokenRoute, {}, "TokenRequest", "application/json", 201, "IssuedToken", {400, 403, 413, 422}},
      {"DELETE", "/api/v1/tokens/{id}", true, "revokeToken",
       "Revoke a token (effective at once). Admin any, instructor its cohort's, anyone its own.", "tokens",
       revokeTokenRoute, {}, nullptr, nullptr, 200, "Revoked", {403, 404}},
  };
  return table;
}

}  // namespace api_detail
}  // namespace darasa
