// The API's behaviour through Api::handle over a real store: applies through
// a stand-in parser (located errors), lab and cohort actions reaching the
// controller, the body limit, 404/405, the OpenAPI document checked against
// the router both ways, schedules, tokens, usage from the ledger, shutdown.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <set>

#include "api_test_fixture.h"

namespace darasa::apitest {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

class ApiTest : public ApiFixture {
 protected:
  bool queued(const std::string& labId) {
    for (const auto& q : controller_->queue())
      if (q.labId == labId) return true;
    return false;
  }
  DesiredState desired(const std::string& labId) { return store_->getLab(labId)->desired; }
};

// ---------------------------------------------------------------- apply

TEST_F(ApiTest, ApplyStoresANewCohortAndWakesTheController) {
  auto r = call("POST", "/api/v1/cohorts", "admin", R"({"cohort": "fresh", "trainees": ["x", "y"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto j = json(r);
  EXPECT_EQ(j["cohort"], "fresh");
  EXPECT_EQ(j["created"], true);
  EXPECT_EQ(j["generation"], 1);
  EXPECT_EQ(j["addedLabs"], (nlohmann::json{"fresh.x", "fresh.y"}));
  EXPECT_TRUE(store_->getLab("fresh.x").isOk());
  EXPECT_TRUE(queued("fresh.x"));
  // The same again: nothing changes.
  r = call("POST", "/api/v1/cohorts", "admin", R"({"cohort": "fresh", "trainees": ["x", "y"]})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json(r)["changed"], false);
  // A dry run says what would change and writes nothing.
  r = call("POST", "/api/v1/cohorts", "admin", R"({"cohort": "fresh", "trainees": ["x", "y", "z"]})", {{"dryRun", "true"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json(r)["dryRun"], true);
  EXPECT_EQ(json(r)["addedLabs"], (nlohmann::json{"fresh.z"}));
  EXPECT_EQ(store_->getLab("fresh.z").status().code(), Code::kNotFound);
  // Audited with the token as the actor.
  AuditFilter f;
  f.action = "apply";
  auto audit = store_->listAudit(f);
  ASSERT_TRUE(audit);
  ASSERT_FALSE(audit->empty());
  EXPECT_EQ(audit->back().actor, "token:" + ids_["admin"]);
}

TEST_F(ApiTest, InvalidApplyBodiesGetLocatedErrors) {
  auto r = call("POST", "/api/v1/cohorts", "admin", R"({"trainees": []})");
  ASSERT_EQ(r.status, 422);
  auto j = json(r);
  EXPECT_EQ(j["error"]["code"], "invalid");
  EXPECT_EQ(j["error"]["problems"], (nlohmann::json{"request:1:2: cohort: required", "request:1:3: trainees: required"}));
  // The name errors give the body, e.g. the file the CLI sent.
  r = call("POST", "/api/v1/cohorts", "admin", "{", {{"source", "cohort.yaml"}});
  EXPECT_EQ(json(r)["error"]["problems"], (nlohmann::json{"cohort.yaml:1:1: not a cohort document"}));
  EXPECT_EQ(call("POST", "/api/v1/cohorts", "admin", "  \n").status, 400);
  // A provider that refuses the spec: 422 too, and nothing stored.
  fake_->failNext(FakeCall::kValidate, invalidError("memory cap too large"));
  r = call("POST", "/api/v1/cohorts", "admin", R"({"cohort": "fresh", "trainees": ["x"]})");
  EXPECT_EQ(r.status, 422);
  EXPECT_THAT(json(r)["error"]["message"].get<std::string>(), HasSubstr("memory cap too large"));
  EXPECT_EQ(store_->getCohort("fresh").status().code(), Code::kNotFound);
}

TEST_F(ApiTest, ApplyWithoutAParserIsNotSupported) {
  ApiOptions options;  // no parseApply
  Api api(*store_, registry_, clock_, controller_.get(), metrics_.get(), options);
  ApiRequest r{"POST", "/api/v1/cohorts", {}, "Bearer " + tokens_["admin"], "application/json", applyBody("demo"), ""};
  EXPECT_EQ(api.handle(r).status, 501);
}

// ---------------------------------------------------------------- actions

TEST_F(ApiTest, LabActionsReachTheController) {
  struct Case {
    std::string method, suffix;
    DesiredState desired;
  };
  for (const auto& c : std::vector<Case>{{"POST", "/stop", DesiredState::kStopped},
                                         {"POST", "/start", DesiredState::kRunning},
                                         {"DELETE", "", DesiredState::kAbsent},
                                         {"POST", "/reset", DesiredState::kRunning}}) {
    makeApi();
    ASSERT_FALSE(queued("demo.alice"));
    auto r = call(c.method, "/api/v1/labs/demo.alice" + c.suffix, "instructor-demo");
    ASSERT_EQ(r.status, 202) << c.suffix << ": " << r.body;
    EXPECT_EQ(json(r)["lab"], "demo.alice");
    EXPECT_EQ(json(r)["status"], "accepted");
    EXPECT_EQ(desired("demo.alice"), c.desired) << c.suffix;
    EXPECT_TRUE(queued("demo.alice")) << c.suffix;
    EXPECT_FALSE(queued("demo.bob")) << c.suffix;
  }
  EXPECT_EQ(call("POST", "/api/v1/labs/demo.zed/start", "admin").status, 404);
  EXPECT_EQ(json(call("POST", "/api/v1/labs/demo.zed/start", "admin"))["error"]["message"], "no lab demo.zed");
}

TEST_F(ApiTest, CohortActionsReachTheController) {
  ASSERT_EQ(call("POST", "/api/v1/cohorts/demo/up", "admin").status, 202);
  EXPECT_EQ(desired("demo.alice"), DesiredState::kRunning);
  EXPECT_EQ(desired("demo.bob"), DesiredState::kRunning);
  EXPECT_EQ(desired("other.carol"), DesiredState::kAbsent);
  ASSERT_EQ(call("POST", "/api/v1/cohorts/demo/down", "admin").status, 202);
  EXPECT_EQ(desired("demo.alice"), DesiredState::kAbsent);
  ASSERT_EQ(call("DELETE", "/api/v1/cohorts/demo", "admin").status, 202);
  // Being deleted: it cannot be brought up again.
  auto r = call("POST", "/api/v1/cohorts/demo/up", "admin");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(json(r)["error"]["code"], "conflict");
  auto missing = call("POST", "/api/v1/cohorts/nope/up", "admin");
  EXPECT_EQ(missing.status, 404);
  // Our message, not the store's (which lists every cohort it knows).
  EXPECT_EQ(json(missing)["error"]["message"], "no cohort nope");
}

TEST_F(ApiTest, WithoutAControllerActionsAreUnavailableAndReadsWork) {
  Api api(*store_, registry_, clock_, nullptr, nullptr, ApiOptions{});
  auto as = [&](const std::string& method, const std::string& path) {
    return api.handle(ApiRequest{method, path, {}, "Bearer " + tokens_["admin"], "", "", ""});
  };
  EXPECT_EQ(as("POST", "/api/v1/labs/demo.alice/start").status, 503);
  EXPECT_EQ(as("POST", "/api/v1/cohorts/demo/up").status, 503);
  EXPECT_EQ(as("DELETE", "/api/v1/cohorts/demo").status, 503);
  EXPECT_EQ(as("GET", "/metrics").status, 503);
  EXPECT_EQ(as("GET", "/api/v1/labs/demo.alice").status, 200);
  EXPECT_EQ(json(as("GET", "/readyz"))["controller"], false);
  // A caller without the right still learns nothing more than 403.
  EXPECT_EQ(api.handle(ApiRequest{"POST", "/api/v1/labs/demo.alice/start", {}, "Bearer " + tokens_["carol"], "", "", ""})
                .status,
            403);
}

// ---------------------------------------------------------------- HTTP rules

TEST_F(ApiTest, OversizedBodiesAreRefusedBeforeAnythingElse) {
  makeApi(64);
  std::string body = applyBody("demo");
  ASSERT_LE(body.size(), 64u);
  EXPECT_EQ(call("POST", "/api/v1/cohorts", "admin", body).status, 200);
  std::string big = body + std::string(65 - body.size(), ' ');
  auto r = call("POST", "/api/v1/cohorts", "admin", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(json(r)["error"]["code"], "too-large");
  EXPECT_EQ(call("POST", "/api/v1/cohorts", "none", big).status, 413);
}

TEST_F(ApiTest, AWrongMethodGets405WithAllowAndAnUnknownPath404) {
  auto r = call("PUT", "/api/v1/labs/demo.alice", "admin");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["Allow"], "DELETE, GET");
  EXPECT_EQ(json(r)["error"]["code"], "method-not-allowed");
  r = call("GET", "/api/v1/cohorts/demo/up", "none");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["Allow"], "POST");
  for (const std::string path : {"/", "/api/v1", "/api/v1/", "/api/v1/labs/", "/api/v1/labs/a/b/c", "/api/v2/labs",
                                 "/api/v1/labs//start", "/healthz/", "relative"}) {
    r = call("GET", path, "admin");
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.route, "") << path;
    EXPECT_EQ(json(r)["error"]["code"], "not-found");
  }
}

TEST_F(ApiTest, StoppingAnswers503ExceptHealth) {
  api_->stopAccepting();
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_EQ(call("GET", "/readyz").status, 503);
  EXPECT_EQ(call("GET", "/api/v1/labs", "admin").status, 503);
  EXPECT_EQ(call("POST", "/api/v1/labs/demo.alice/start", "admin").status, 503);
}

// ---------------------------------------------------------------- OpenAPI

// The routes api.h promises, written out here.
const std::set<std::string> kPromised = {
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /api/v1/openapi.json",
    "GET /api/v1/whoami",
    "GET /api/v1/cohorts",
    "POST /api/v1/cohorts",
    "GET /api/v1/cohorts/{cohort}",
    "DELETE /api/v1/cohorts/{cohort}",
    "POST /api/v1/cohorts/{cohort}/up",
    "POST /api/v1/cohorts/{cohort}/down",
    "GET /api/v1/cohorts/{cohort}/schedule",
    "GET /api/v1/cohorts/{cohort}/labs",
    "GET /api/v1/cohorts/{cohort}/credentials",
    "GET /api/v1/cohorts/{cohort}/usage",
    "GET /api/v1/cohorts/{cohort}/plan",
    "GET /api/v1/labs",
    "GET /api/v1/labs/{lab}",
    "DELETE /api/v1/labs/{lab}",
    "POST /api/v1/labs/{lab}/start",
    "POST /api/v1/labs/{lab}/stop",
    "POST /api/v1/labs/{lab}/reset",
    "GET /api/v1/labs/{lab}/credentials",
    "GET /api/v1/tokens",
    "POST /api/v1/tokens",
    "DELETE /api/v1/tokens/{id}",
};

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string fill(std::string pattern, const std::map<std::string, std::string>& values) {
  for (const auto& [name, value] : values) {
    auto at = pattern.find("{" + name + "}");
    if (at != std::string::npos) pattern.replace(at, name.size() + 2, value);
  }
  return pattern;
}

// Checks body against an OpenAPI schema: types, and required properties.
void conforms(const json& doc, const json& schema, const json& value, const std::string& where) {
  if (schema.contains("$ref")) {
    std::string ref = schema["$ref"];
    const std::string prefix = "#/components/schemas/";
    ASSERT_EQ(ref.rfind(prefix, 0), 0u) << where;
    ASSERT_TRUE(doc["components"]["schemas"].contains(ref.substr(prefix.size()))) << where << ": " << ref;
    conforms(doc, doc["components"]["schemas"][ref.substr(prefix.size())], value, where);
    return;
  }
  if (schema.contains("allOf")) {
    for (const auto& s : schema["allOf"]) conforms(doc, s, value, where);
    return;
  }
  if (value.is_null()) {
    EXPECT_TRUE(schema.value("nullable", false)) << where << " is null";
    return;
  }
  std::string type = schema.value("type", "");
  if (type == "object") {
    EXPECT_TRUE(value.is_object()) << where;
    for (const auto& req : schema.value("required", json::array())) EXPECT_TRUE(value.contains(req)) << where << "." << req;
    if (schema.contains("properties"))
      for (const auto& [key, sub] : schema["properties"].items())
        if (value.contains(key)) conforms(doc, sub, value[key], where + "." + key);
  } else if (type == "array") {
    EXPECT_TRUE(value.is_array()) << where;
    if (value.is_array())
      for (size_t i = 0; i < value.size(); ++i) conforms(doc, schema["items"], value[i], where + "[" + std::to_string(i) + "]");
  } else if (type == "string") {
    EXPECT_TRUE(value.is_string()) << where;
    if (schema.contains("enum")) {
      bool listed = false;
      for (const auto& e : schema["enum"]) listed |= e == value;
      EXPECT_TRUE(listed) << where << " = " << value;
    }
  } else if (type == "integer") {
    EXPECT_TRUE(value.is_number_integer()) << where;
  } else if (type == "boolean") {
    EXPECT_TRUE(value.is_boolean()) << where;
  }
}

TEST_F(ApiTest, TheOpenApiDocumentListsExactlyTheRoutesServed) {
  auto doc = json::parse(Api::openApiJson());
  EXPECT_EQ(doc["openapi"], "3.0.3");
  std::set<std::string> documented;
  std::map<std::string, std::set<std::string>> methodsOf;
  for (const auto& [path, ops] : doc["paths"].items())
    for (const auto& [method, op] : ops.items()) {
      documented.insert(upper(method) + " " + path);
      methodsOf[path].insert(upper(method));
    }
  EXPECT_EQ(documented, kPromised);

  const std::map<std::string, std::string> ids = {{"cohort", "demo"}, {"lab", "demo.alice"}, {"id", ids_["bob"]}};
  // Document → router: every documented operation is served by that route,
  // answers its documented success status (as admin), and its body fits the
  // documented schema.
  for (const auto& [path, ops] : doc["paths"].items())
    for (const auto& [method, op] : ops.items()) {
      makeApi();
      std::string body;
      if (op.contains("requestBody"))
        body = path == "/api/v1/tokens" ? R"({"role": "trainee", "cohort": "demo", "trainee": "alice"})"
                                        : applyBody("demo");
      auto r = call(upper(method), fill(path, ids), "admin", body);
      EXPECT_EQ(r.route, path) << method << " " << path;
      std::string okStatus;
      for (const auto& [status, resp] : op["responses"].items())
        if (status[0] == '2') okStatus = status;
      EXPECT_EQ(std::to_string(r.status), okStatus) << method << " " << path << ": " << r.body;
      auto content = op["responses"][okStatus]["content"];
      if (content.contains("application/json")) {
        EXPECT_EQ(r.contentType, "application/json");
        conforms(doc, content["application/json"]["schema"], json::parse(r.body), method + " " + path);
      } else {
        EXPECT_THAT(r.contentType, HasSubstr("text/plain"));
      }
      // Every documented error response is an Error.
      EXPECT_TRUE(op["responses"].contains("500"));
      EXPECT_EQ(op.contains("security") && !op["security"].empty(), path.rfind("/api/v1/", 0) == 0 &&
                                                                        path != "/api/v1/openapi.json")
          << path;
    }
  // Router → document: on every documented path, each method the document
  // does not list is refused with 405 and an Allow header that is exactly
  // the documented methods; paths the document does not know are 404.
  for (const auto& [path, methods] : methodsOf)
    for (const std::string m : {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}) {
      if (methods.count(m)) continue;
      auto r = call(m, fill(path, ids), "admin");
      EXPECT_EQ(r.status, 405) << m << " " << path;
      std::string allow;
      for (const auto& x : methods) allow += (allow.empty() ? "" : ", ") + x;
      EXPECT_EQ(r.headers["Allow"], allow) << path;
    }
  for (const std::string path : {"/api/v1/labs/demo.alice/logs", "/api/v1/cohorts/demo/trainees", "/api/v1/templates",
                                 "/api/v1/usage", "/api/v1/tokens/x/y", "/openapi.json", "/api/v1/metrics"})
    for (const std::string m : {"GET", "POST", "DELETE"}) EXPECT_EQ(call(m, path, "admin").status, 404) << m << " " << path;
}

TEST_F(ApiTest, TheOpenApiRouteServesTheDocument) {
  auto r = call("GET", "/api/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, Api::openApiJson());
  auto doc = json(r);
  EXPECT_EQ(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

// ---------------------------------------------------------------- reads

TEST_F(ApiTest, LabsCarryStateAndEndpointsButNoSecrets) {
  auto r = call("GET", "/api/v1/labs/demo.alice", "alice");
  ASSERT_EQ(r.status, 200);
  auto j = json(r);
  EXPECT_EQ(j["lab"], "demo.alice");
  EXPECT_EQ(j["state"], "ready");
  EXPECT_EQ(j["endpoints"][0]["port"], 2201);
  EXPECT_EQ(j["readyAt"], "2026-01-12T06:00:00Z");
  EXPECT_EQ(j["error"], nullptr);
  auto list = json(call("GET", "/api/v1/cohorts/demo/labs", "instructor-demo"));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1]["name"], "Name of bob");
  EXPECT_EQ(call("GET", "/api/v1/labs/demo.zed", "admin").status, 404);
}

TEST_F(ApiTest, CohortsListAndDetail) {
  auto list = json(call("GET", "/api/v1/cohorts", "admin"));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["name"], "demo");
  auto mine = json(call("GET", "/api/v1/cohorts", "instructor-other"));
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0]["name"], "other");
  auto detail = json(call("GET", "/api/v1/cohorts/demo", "instructor-demo"));
  EXPECT_EQ(detail["labs"]["ready"], 2);
  EXPECT_EQ(detail["spec"]["timezone"], "Africa/Nairobi");
  EXPECT_EQ(call("GET", "/api/v1/cohorts/nope", "admin").status, 404);
}

TEST_F(ApiTest, TheScheduleShowsSessionsAndActionsInUtcAndTheCohortsZone) {
  // The clock is at 2026-01-12T06:01:01Z = 09:01 in Nairobi, inside session 1.
  auto r = call("GET", "/api/v1/cohorts/demo/schedule", "alice");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json(r);
  EXPECT_EQ(j["timezone"], "Africa/Nairobi");
  EXPECT_EQ(j["desiredNow"], "running");
  ASSERT_EQ(j["sessions"].size(), 3u);
  EXPECT_EQ(j["sessions"][0]["start"], "2026-01-12T06:00:00Z");
  EXPECT_EQ(j["sessions"][0]["localStart"], "2026-01-12T09:00:00");
  EXPECT_EQ(j["sessions"][2]["end"], "2026-01-26T10:00:00Z");
  EXPECT_EQ(j["nextChange"], "2026-01-12T10:15:00Z");  // end + grace
  ASSERT_FALSE(j["actions"].empty());
  EXPECT_EQ(j["actions"][0]["at"], "2026-01-12T10:15:00Z");
  EXPECT_EQ(j["actions"][0]["local"], "2026-01-12T13:15:00+03:00");
  EXPECT_EQ(j["actions"][0]["desired"], "stopped");
  EXPECT_EQ(j["actions"].back()["desired"], "absent");
  // A window in the cohort's local time.
  j = json(call("GET", "/api/v1/cohorts/demo/schedule", "alice", "", {{"from", "2026-01-19T00:00"}, {"to", "2026-01-20T00:00"}}));
  ASSERT_EQ(j["sessions"].size(), 1u);
  EXPECT_EQ(j["sessions"][0]["start"], "2026-01-19T06:00:00Z");
  r = call("GET", "/api/v1/cohorts/demo/schedule", "alice", "", {{"from", "next tuesday"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(json(r)["error"]["message"].get<std::string>(), HasSubstr("from"));
}

TEST_F(ApiTest, UsageComesFromTheLedger) {
  // The fixture's labs became ready at 06:00:00; the clock is at 06:01:01.
  clock_.advance(std::chrono::hours(1));
  ASSERT_TRUE(store_->recordObserved("demo.bob", LabPhase::kStopped, "res-demo.bob", "[]", 1).isOk());
  clock_.advance(std::chrono::minutes(30));
  auto r = call("GET", "/api/v1/cohorts/demo/usage", "instructor-demo");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json(r);
  EXPECT_EQ(j["timezone"], "Africa/Nairobi");
  EXPECT_EQ(j["to"], "2026-01-12T07:31:01Z");
  ASSERT_EQ(j["labs"].size(), 2u);
  EXPECT_EQ(j["labs"][0]["lab"], "demo.alice");
  EXPECT_EQ(j["labs"][0]["labSeconds"], 61 + 3600 + 1800);
  EXPECT_EQ(j["labs"][1]["labSeconds"], 61 + 3600);
  EXPECT_EQ(j["total"]["labSeconds"], 2 * 61 + 2 * 3600 + 1800);
  EXPECT_EQ(j["trainees"][1]["trainee"], "bob");
  EXPECT_EQ(j["trainees"][1]["total"]["stoppedSeconds"], 1800);
  EXPECT_EQ(j["days"]["2026-01-12"]["labSeconds"], j["total"]["labSeconds"]);
  // A window, in the cohort's local time (06:30Z-07:00Z).
  j = json(call("GET", "/api/v1/cohorts/demo/usage", "admin", "", {{"from", "2026-01-12T09:30"}, {"to", "2026-01-12T10:00"}}));
  EXPECT_EQ(j["labs"][0]["labSeconds"], 1800);
  EXPECT_EQ(j["labs"][1]["labSeconds"], 1800);
  EXPECT_EQ(call("GET", "/api/v1/cohorts/demo/usage", "admin", "", {{"from", "2026-01-12T10:00"}, {"to", "2026-01-12T09:00"}})
                .status,
            400);
  // The other cohort's labs ran too, but are not in this answer.
  EXPECT_EQ(json(call("GET", "/api/v1/cohorts/other/usage", "admin"))["total"]["labSeconds"], 61 + 3600 + 1800);
}

TEST_F(ApiTest, HealthReadinessAndMetrics) {
  EXPECT_EQ(json(call("GET", "/healthz"))["version"], "test");
  EXPECT_EQ(json(call("GET", "/readyz"))["status"], "ready");
  auto m = call("GET", "/metrics");
  EXPECT_EQ(m.contentType, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(m.body, HasSubstr("darasa_labs{provider=\"fake\",state=\"ready\"} 3\n"));
}

// ---------------------------------------------------------------- tokens

TEST_F(ApiTest, TokensCreatedThroughTheApiWorkAtOnceAndListWithoutSecrets) {
  auto r = call("POST", "/api/v1/tokens", "instructor-demo",
                R"({"role": "trainee", "cohort": "demo", "trainee": "bob", "name": "bob's laptop", "ttlSeconds": 3600})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto j = json(r);
  EXPECT_THAT(j["token"].get<std::string>(), ::testing::MatchesRegex("darasa_[A-Za-z0-9_-]{43}"));
  EXPECT_EQ(j["expiresAt"], "2026-01-12T07:01:01Z");
  tokens_["new"] = j["token"];
  auto who = json(call("GET", "/api/v1/whoami", "new"));
  EXPECT_EQ(who["role"], "trainee");
  EXPECT_EQ(who["lab"], "demo.bob");
  EXPECT_EQ(who["tokenId"], j["id"]);

  auto list = call("GET", "/api/v1/tokens", "instructor-demo");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find(j["token"].get<std::string>()), std::string::npos);
  std::set<std::string> cohorts;
  for (const auto& t : json(list)) cohorts.insert(t["cohort"].get<std::string>());
  EXPECT_EQ(cohorts, std::set<std::string>{"demo"});
  EXPECT_EQ(json(call("GET", "/api/v1/tokens", "admin")).size(), 9u);  // the fixture's 8 and the new one

  AuditFilter f;
  f.action = "create-token";
  auto audit = store_->listAudit(f);
  ASSERT_TRUE(audit && audit->size() == 1u);
  EXPECT_EQ((*audit)[0].actor, "token:" + ids_["instructor-demo"]);
  EXPECT_EQ((*audit)[0].subject, "token:" + j["id"].get<std::string>());
  EXPECT_EQ((*audit)[0].detail.find(j["token"].get<std::string>()), std::string::npos);
}

TEST_F(ApiTest, BadTokenRequestsAreRefusedWithReasons) {
  struct Case {
    std::string body;
    int status;
    std::string message;
  };
  for (const auto& c : std::vector<Case>{
           {"not json", 400, "not JSON"},
           {"[]", 422, "expected an object"},
           {R"({"role": "root"})", 422, "role \"root\" is not one of"},
           {R"({"role": "trainee", "cohort": "demo"})", 422, "a trainee token needs a cohort and a trainee"},
           {R"({"role": "trainee", "cohort": "demo", "trainee": "zed"})", 422, "no trainee zed in cohort demo"},
           {R"({"role": "admin", "ttlSeconds": -1})", 422, "ttlSeconds"},
           {R"({"role": "admin", "ttl": 5})", 422, "unknown field \"ttl\""},
           {R"({"role": 3})", 422, "strings"},
       }) {
    auto r = call("POST", "/api/v1/tokens", "admin", c.body);
    EXPECT_EQ(r.status, c.status) << c.body;
    EXPECT_THAT(json(r)["error"]["message"].get<std::string>(), HasSubstr(c.message)) << c.body;
  }
}

TEST_F(ApiTest, RevokingAnUnknownTokenIs404ForAdminsOnly) {
  EXPECT_EQ(call("DELETE", "/api/v1/tokens/tok_000000000000", "admin").status, 404);
  // An instructor cannot tell an unknown id from another cohort's.
  EXPECT_EQ(call("DELETE", "/api/v1/tokens/tok_000000000000", "instructor-demo").status, 403);
  EXPECT_EQ(call("DELETE", "/api/v1/tokens/" + ids_["carol"], "instructor-demo").status, 403);
}

// createToken: the secret's form, only its hash stored, the role rules.
TEST_F(ApiTest, CreatedTokensAreRandomAndStoredOnlyAsHashes) {
  auto a = createToken(*store_, TokenRole::kTrainee, "demo", "alice", "alice laptop", std::chrono::hours(2), clock_);
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  auto b = createToken(*store_, TokenRole::kAdmin, "", "", "ci", std::chrono::seconds(0), clock_);
  ASSERT_TRUE(b.isOk()) << b.status().toString();
  EXPECT_THAT(a->token, ::testing::MatchesRegex("darasa_[A-Za-z0-9_-]{43}"));
  EXPECT_NE(a->token, b->token);
  EXPECT_NE(a->record.id, b->record.id);
  EXPECT_THAT(a->record.id, ::testing::MatchesRegex("tok_[0-9a-f]{12}"));
  EXPECT_EQ(a->record.expiresAt, toUnixSeconds(clock_.now()) + 7200);
  EXPECT_EQ(b->record.expiresAt, 0);
  EXPECT_EQ(a->record.name, "alice laptop");

  // Nowhere in the database file (or its WAL) is a secret.
  for (const char* suffix : {"", "-wal"}) {
    std::ifstream in(store_->databaseFile().string() + suffix, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_FALSE(bytes.empty()) << suffix;
    EXPECT_EQ(bytes.find(a->token.substr(7)), std::string::npos) << suffix;
    EXPECT_EQ(bytes.find(b->token.substr(7)), std::string::npos) << suffix;
    EXPECT_EQ(bytes.find(tokens_["alice"].substr(7)), std::string::npos) << suffix;
  }

  const auto zero = std::chrono::seconds(0);
  EXPECT_EQ(createToken(*store_, TokenRole::kTrainee, "demo", "", "", zero, clock_).status().code(), Code::kInvalid);
  EXPECT_EQ(createToken(*store_, TokenRole::kInstructor, "", "", "", zero, clock_).status().code(), Code::kInvalid);
  EXPECT_EQ(createToken(*store_, TokenRole::kAdmin, "demo", "", "", zero, clock_).status().code(), Code::kInvalid);
  EXPECT_EQ(createToken(*store_, TokenRole::kTrainee, "demo", "zed", "", zero, clock_).status().code(), Code::kNotFound);
  EXPECT_EQ(createToken(*store_, TokenRole::kAdmin, "", "", "", std::chrono::seconds(-5), clock_).status().code(),
            Code::kInvalid);
}

}  // namespace
}  // namespace darasa::apitest
