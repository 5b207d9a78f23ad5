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
#include "provisioner/wire.h"

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
// our own message (the store's lists every name it knows). LabService's
// read views name only what was asked for (service.h): their errors are
// passed on as they are, so that `darasa ... --server` says what the local
// command says.
ApiResponse failure(const Status& s, const std::string& what) {
  if (s.code() == Code::kNotFound) return notFound(what);
  return statusResponse(s);
}

// ---------------------------------------------------------------- JSON

json cohortJson(const CohortRecord& c) {
  return {{"name", c.name},         {"generation", c.generation},   {"template", c.templateName},
          {"templateHash", c.snapshotHash}, {"provider", c.provider},  {"createdAt", timeJson(c.createdAt)},
          {"updatedAt", timeJson(c.updatedAt)}};
}

LabService service(Call& c) { return LabService(c.api.store, c.api.providers, c.api.clock, c.who.actor()); }

bool queryFlag(const Call& c, const std::string& name) {
  auto it = c.request.query.find(name);
  return it != c.request.query.end() && (it->second.empty() || it->second == "true" || it->second == "1");
}

std::string queryValue(const Call& c, const std::string& name) {
  auto it = c.request.query.find(name);
  return it == c.request.query.end() ? std::string() : it->second;
}

// "a,b,c" → {"a", "b", "c"} (empty items dropped).
std::vector<std::string> listQuery(const Call& c, const std::string& name) {
  std::vector<std::string> out;
  const std::string text = queryValue(c, name);
  for (size_t start = 0; start < text.size();) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

TimeWindow windowOf(const Call& c) { return {queryValue(c, "from"), queryValue(c, "to")}; }

// ---------------------------------------------------------------- public

ApiResponse healthz(Call& c) {
  return jsonResponse(200, {{"status", "ok"}, {"version", c.api.options.version}});
}

ApiResponse readyz(Call& c) {
  // Ready = the state answers; the controller is optional (a read-only API).
  auto cohorts = c.api.store.listCohorts();
  if (!cohorts) return errorResponse(503, "unavailable", "the state cannot be read right now");
  json j = {{"status", "ready"}, {"controller", c.api.controller != nullptr}};
  if (c.api.options.leadership) {
    // Several daemons on one state: each is ready (serves the API); one leads.
    LeadershipStatus l = c.api.options.leadership();
    j["daemon"] = l.self;
    j["leading"] = l.leading;
    j["leader"] = {{"daemon", l.leader.daemon}, {"url", l.leader.url}, {"term", l.leader.term},
                   {"since", l.leader.since}};
  }
  return jsonResponse(200, j);
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
  return jsonResponse(o.created && !request.dryRun ? 201 : 200, json(report.value()));
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

using CohortAction = Status (Controller::*)(const std::string&);

// A wish for a whole cohort, handed to the controller (asynchronous).
ApiResponse cohortAction(Call& c, CohortAction action, const char* name) {
  const std::string& cohort = c.param("cohort");
  if (auto no = checkCohort(c, cohort, false)) return *no;
  if (auto no = needController(c)) return *no;
  Status s = (c.api.controller->*action)(cohort);
  if (!s) return failure(s, "cohort " + cohort);
  return accepted("cohort", cohort, name);
}

ApiResponse deleteCohort(Call& c) { return cohortAction(c, &Controller::deleteCohort, "delete"); }
ApiResponse cohortUp(Call& c) { return cohortAction(c, &Controller::upCohort, "up"); }
ApiResponse cohortDown(Call& c) { return cohortAction(c, &Controller::downCohort, "down"); }

// A read of one cohort through LabService, answered in the wire format
// (its errors, 400 for a bad query included, as the service says them).
template <typename Read>
ApiResponse cohortRead(Call& c, bool traineeToo, Read&& read) {
  const std::string& name = c.param("cohort");
  if (auto no = checkCohort(c, name, traineeToo)) return *no;
  LabService s = service(c);
  auto view = read(s, name);
  if (!view) return statusResponse(view.status());
  return jsonResponse(200, json(view.value()));
}

ApiResponse cohortSchedule(Call& c) {
  return cohortRead(c, true, [&c](LabService& s, const std::string& name) -> Result<ScheduleView> {
    ScheduleQuery q;
    q.window = windowOf(c);
    q.all = queryFlag(c, "all");
    const std::string span = queryValue(c, "spanSeconds");
    if (!span.empty()) {
      if (span.size() > 12 || span.find_first_not_of("0123456789") != std::string::npos)
        return invalidError("spanSeconds is a whole number of seconds");
      q.span = std::chrono::seconds(std::stoll(span));
    }
    return s.schedule(name, q);
  });
}

ApiResponse cohortLabs(Call& c) {
  return cohortRead(c, false, [](LabService& s, const std::string& name) { return s.status(name); });
}

ApiResponse cohortCredentials(Call& c) {
  return cohortRead(c, false, [&c](LabService& s, const std::string& name) {
    return s.credentials(name, listQuery(c, "trainees"));
  });
}

// A price as a query parameter: a decimal of at most three places ("0.05").
std::optional<int64_t> priceOf(const std::string& text) {
  if (text.empty()) return 0;
  size_t dot = text.find('.');
  std::string whole = text.substr(0, dot), frac = dot == std::string::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 12 || frac.size() > 3) return std::nullopt;
  for (char ch : whole + frac)
    if (ch < '0' || ch > '9') return std::nullopt;
  while (frac.size() < 3) frac += '0';
  return std::stoll(whole) * 1000 + std::stoll(frac);
}

// What the usage ledger (the store's usage intervals) says about [from, to),
// priced when prices are given: the same view as `darasa usage`.
ApiResponse cohortUsage(Call& c) {
  return cohortRead(c, false, [&c](LabService& s, const std::string& name) -> Result<UsageView> {
    UsageQuery q;
    q.window = windowOf(c);
    for (auto [key, field] : {std::pair{"priceLabHour", &q.prices.perLabHourMilli},
                              std::pair{"priceCpuHour", &q.prices.perCpuHourMilli},
                              std::pair{"priceGibHour", &q.prices.perGibHourMilli}}) {
      auto price = priceOf(queryValue(c, key));
      if (!price)
        return invalidError(std::string(key) + " \"" + queryValue(c, key) +
                            "\" is not a non-negative decimal price (e.g. 0.05)");
      *field = *price;
    }
    return s.usage(name, q);
  });
}

// What `darasa up` (or, with ?down=true, `darasa down`) would do now, from
// what the provider reports; ?trainees=a,b narrows it.
ApiResponse cohortPlan(Call& c) {
  return cohortRead(c, false, [&c](LabService& s, const std::string& name) {
    RunOptions o;
    o.cohort = name;
    o.trainees = listQuery(c, "trainees");
    return s.plan(o, queryFlag(c, "down") ? DesiredState::kAbsent : DesiredState::kRunning);
  });
}

// ---------------------------------------------------------------- labs

ApiResponse listLabs(Call& c) {
  switch (c.who.role) {
    case TokenRole::kAdmin: {
      auto labs = service(c).status("");
      if (!labs) return statusResponse(labs.status());
      return jsonResponse(200, json(labs.value()));
    }
    case TokenRole::kInstructor: {
      auto labs = service(c).status(c.who.cohort);
      if (!labs && labs.status().code() != Code::kNotFound) return statusResponse(labs.status());
      return jsonResponse(200, labs ? json(labs.value()) : json::array());
    }
    case TokenRole::kTrainee: {
      json out = json::array();
      auto lab = service(c).labStatus(ownLab(c.who));
      if (!lab && lab.status().code() != Code::kNotFound) return statusResponse(lab.status());
      if (lab && lab->lab.cohort == c.who.cohort && lab->lab.trainee == c.who.trainee) out.push_back(lab.value());
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
  auto status = service(c).labStatus(id);
  if (!status) return failure(status.status(), "lab " + id);
  return jsonResponse(200, json(status.value()));
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
    if (v.labId == id) return jsonResponse(200, json(v));
  return notFound("lab " + id);
}

// ---------------------------------------------------------------- tokens

ApiResponse listTokens(Call& c) {
  if (c.who.role == TokenRole::kTrainee) return forbidden("listing tokens");
  auto tokens = service(c).tokens();
  if (!tokens) return statusResponse(tokens.status());
  json out = json::array();
  for (const auto& t : tokens.value())
    if (isAdmin(c) || (!t.record.cohort.empty() && t.record.cohort == c.who.cohort)) out.push_back(t);
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
                                tokenScope(issued->record));
  json j = tokenView(issued->record, c.api.clock.now());
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
       {{"from", "string", "now, a date (midnight in the cohort's zone), a local date-time in the cohort's zone, or RFC 3339"},
        {"to", "string", "the same forms (default: open-ended, or from + spanSeconds)"},
        {"spanSeconds", "integer", "without to: the window's length in seconds"},
        {"all", "boolean", "the whole schedule, from its first action (no from or to)"}},
       nullptr, nullptr, 200, "Schedule", {400, 403, 404}},
      {"GET", "/api/v1/cohorts/{cohort}/labs", true, "cohortLabs",
       "The cohort's labs with their trainees' names. Admin, instructor of the cohort.", "labs", cohortLabs, {},
       nullptr, nullptr, 200, "LabList", {403, 404}},
      {"GET", "/api/v1/cohorts/{cohort}/credentials", true, "cohortCredentials",
       "Every trainee's credentials, or those of ?trainees=a,b (each read audited). Admin, instructor of the "
       "cohort.",
       "credentials", cohortCredentials, {{"trainees", "string", "only these trainees (comma-separated ids)"}},
       nullptr, nullptr, 200, "CredentialsList", {403, 404}},
      {"GET", "/api/v1/cohorts/{cohort}/usage", true, "cohortUsage",
       "Lab-seconds, stopped seconds, CPU-hours and memory-GiB-hours from the usage ledger over [from, to) (default: "
       "since the cohort was applied), per trainee, per local day and per lab, as `darasa usage -o json`. Admin, "
       "instructor of the cohort.",
       "cohorts", cohortUsage,
       {{"from", "string", "now, a date, a local date-time in the cohort's zone, or RFC 3339"},
        {"to", "string", "the same forms (at most now)"},
        {"priceLabHour", "string", "price of one lab-hour (e.g. 0.05): adds cost"},
        {"priceCpuHour", "string", "price of one CPU-hour"},
        {"priceGibHour", "string", "price of one GiB-hour of memory"}},
       nullptr, nullptr, 200, "Usage", {400, 403, 404}},
      {"GET", "/api/v1/cohorts/{cohort}/plan", true, "cohortPlan",
       "What `darasa up` (or with down=true `darasa down`) would do now, from what the provider reports. Admin, "
       "instructor of the cohort.",
       "cohorts", cohortPlan,
       {{"down", "boolean", "plan a teardown instead"},
        {"trainees", "string", "only these trainees' labs (comma-separated ids)"}},
       nullptr, nullptr, 200, "Plan", {403, 404, 503}},
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
