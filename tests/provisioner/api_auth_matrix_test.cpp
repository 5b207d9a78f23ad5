// The authorisation matrix: every route × every kind of caller (admin,
// instructor of the cohort, instructor of another cohort, the trainee, other
// trainees, no token, a malformed, unknown, expired or revoked token) × own
// and other resources, with the status each must get. Also: 401s are alike
// whatever the reason, a trainee never sees another trainee's lab or
// credentials (list routes included), and no response but the credential
// routes ever carries a password, private key or token.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "api_test_fixture.h"

namespace darasa::apitest {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

const std::vector<std::string> kValid = {"admin", "instructor-demo", "instructor-other", "alice", "bob", "carol"};
const std::vector<std::string> kInvalid = {"none", "malformed", "unknown", "expired", "revoked"};

// Who each valid caller is, for the rules below.
struct Who {
  std::string role;  // admin | instructor | trainee
  std::string cohort;
  std::string trainee;
};
const std::map<std::string, Who> kWho = {{"admin", {"admin", "", ""}},
                                         {"instructor-demo", {"instructor", "demo", ""}},
                                         {"instructor-other", {"instructor", "other", ""}},
                                         {"alice", {"trainee", "demo", "alice"}},
                                         {"bob", {"trainee", "demo", "bob"}},
                                         {"carol", {"trainee", "other", "carol"}}};

// The rules of the API, written out independently of its code.
enum class Rule {
  kPublic,          // anyone, no token needed
  kAnyToken,        // any valid token
  kManagers,        // admin or instructor (lists filtered by the handler)
  kCohortManager,   // admin, instructor of the cohort
  kCohortMember,    // admin, instructor of the cohort, trainees of the cohort
  kLabOwner,        // admin, instructor of the lab's cohort, the lab's trainee
  kLabManager,      // admin, instructor of the lab's cohort
  kTokenCreate,     // admin; instructor: trainee tokens of its cohort
  kTokenRevoke,     // admin; instructor: tokens of its cohort; anyone: its own
};

struct Target {
  std::string label;   // for messages
  std::string path;    // with the ids filled in
  std::string cohort;  // the resource's cohort
  std::string trainee; // the resource's trainee ("" for cohort resources)
  std::string body;
  std::string tokenOf;  // token routes: whose token ("self": the caller's own)
};

struct RouteCase {
  std::string method;
  std::string pattern;
  Rule rule;
  int ok;
  std::vector<Target> targets;
};

// gtest names a parameter in messages; without this it dumps its raw bytes
// (struct padding included, which memory checkers rightly flag).
void PrintTo(const RouteCase& rc, std::ostream* os) { *os << rc.method << " " << rc.pattern; }

bool allowed(Rule rule, const Who& w, const Target& t, const std::map<std::string, std::string>& tokenCohort) {
  const bool admin = w.role == "admin", instructor = w.role == "instructor", trainee = w.role == "trainee";
  switch (rule) {
    case Rule::kPublic:
    case Rule::kAnyToken: return true;
    case Rule::kManagers: return admin || instructor;
    case Rule::kCohortManager: return admin || (instructor && w.cohort == t.cohort);
    case Rule::kCohortMember: return admin || w.cohort == t.cohort;
    case Rule::kLabOwner:
      return admin || (instructor && w.cohort == t.cohort) || (trainee && w.cohort == t.cohort && w.trainee == t.trainee);
    case Rule::kLabManager: return admin || (instructor && w.cohort == t.cohort);
    case Rule::kTokenCreate: return admin || (instructor && w.cohort == t.cohort && !t.trainee.empty());
    case Rule::kTokenRevoke:
      if (t.tokenOf == "self" || admin) return true;
      return instructor && tokenCohort.at(t.tokenOf) == w.cohort;
  }
  return false;
}

std::vector<RouteCase> routeCases() {
  const std::vector<Target> none = {{"-", "", "", "", "", ""}};
  auto cohorts = [](const std::string& suffix) {
    return std::vector<Target>{{"demo", "/api/v1/cohorts/demo" + suffix, "demo", "", "", ""},
                               {"other", "/api/v1/cohorts/other" + suffix, "other", "", "", ""}};
  };
  auto labs = [](const std::string& suffix) {
    return std::vector<Target>{{"demo.alice", "/api/v1/labs/demo.alice" + suffix, "demo", "alice", "", ""},
                               {"demo.bob", "/api/v1/labs/demo.bob" + suffix, "demo", "bob", "", ""},
                               {"other.carol", "/api/v1/labs/other.carol" + suffix, "other", "carol", "", ""}};
  };
  auto at = [](std::vector<Target> v, const std::string& path) {
    for (auto& t : v) t.path = path;
    return v;
  };
  std::vector<Target> applies = {{"demo", "/api/v1/cohorts", "demo", "", applyBody("demo"), ""},
                                 {"other", "/api/v1/cohorts", "other", "", applyBody("other"), ""}};
  std::vector<Target> newTokens = {
      {"trainee demo/alice", "/api/v1/tokens", "demo", "alice", R"({"role":"trainee","cohort":"demo","trainee":"alice"})", ""},
      {"trainee other/carol", "/api/v1/tokens", "other", "carol",
       R"({"role":"trainee","cohort":"other","trainee":"carol"})", ""},
      {"instructor demo", "/api/v1/tokens", "demo", "", R"({"role":"instructor","cohort":"demo"})", ""},
      {"admin", "/api/v1/tokens", "", "", R"({"role":"admin"})", ""}};
  // Revoking: a spare token of each cohort, then the caller's own (last: it
  // ends the caller's access for the rest of this route's cells).
  std::vector<Target> revokes = {{"spare demo token", "", "demo", "", "", "spare-demo"},
                                 {"spare other token", "", "other", "", "", "spare-other"},
                                 {"own token", "", "", "", "", "self"}};
  return {
      {"GET", "/healthz", Rule::kPublic, 200, at(none, "/healthz")},
      {"GET", "/readyz", Rule::kPublic, 200, at(none, "/readyz")},
      {"GET", "/metrics", Rule::kPublic, 200, at(none, "/metrics")},
      {"GET", "/api/v1/openapi.json", Rule::kPublic, 200, at(none, "/api/v1/openapi.json")},
      {"GET", "/api/v1/whoami", Rule::kAnyToken, 200, at(none, "/api/v1/whoami")},
      {"GET", "/api/v1/cohorts", Rule::kManagers, 200, at(none, "/api/v1/cohorts")},
      {"POST", "/api/v1/cohorts", Rule::kCohortManager, 200, applies},
      {"GET", "/api/v1/cohorts/{cohort}", Rule::kCohortManager, 200, cohorts("")},
      {"DELETE", "/api/v1/cohorts/{cohort}", Rule::kCohortManager, 202, cohorts("")},
      {"POST", "/api/v1/cohorts/{cohort}/up", Rule::kCohortManager, 202, cohorts("/up")},
      {"POST", "/api/v1/cohorts/{cohort}/down", Rule::kCohortManager, 202, cohorts("/down")},
      {"GET", "/api/v1/cohorts/{cohort}/schedule", Rule::kCohortMember, 200, cohorts("/schedule")},
      {"GET", "/api/v1/cohorts/{cohort}/labs", Rule::kCohortManager, 200, cohorts("/labs")},
      {"GET", "/api/v1/cohorts/{cohort}/credentials", Rule::kCohortManager, 200, cohorts("/credentials")},
      {"GET", "/api/v1/cohorts/{cohort}/usage", Rule::kCohortManager, 200, cohorts("/usage")},
      {"GET", "/api/v1/cohorts/{cohort}/plan", Rule::kCohortManager, 200, cohorts("/plan")},
      {"GET", "/api/v1/labs", Rule::kAnyToken, 200, at(none, "/api/v1/labs")},
      {"GET", "/api/v1/labs/{lab}", Rule::kLabOwner, 200, labs("")},
      {"DELETE", "/api/v1/labs/{lab}", Rule::kLabManager, 202, labs("")},
      {"POST", "/api/v1/labs/{lab}/start", Rule::kLabOwner, 202, labs("/start")},
      {"POST", "/api/v1/labs/{lab}/stop", Rule::kLabOwner, 202, labs("/stop")},
      {"POST", "/api/v1/labs/{lab}/reset", Rule::kLabOwner, 202, labs("/reset")},
      {"GET", "/api/v1/labs/{lab}/credentials", Rule::kLabOwner, 200, labs("/credentials")},
      {"GET", "/api/v1/tokens", Rule::kManagers, 200, at(none, "/api/v1/tokens")},
      {"POST", "/api/v1/tokens", Rule::kTokenCreate, 201, newTokens},
      {"DELETE", "/api/v1/tokens/{id}", Rule::kTokenRevoke, 200, revokes},
  };
}

class AuthMatrixTest : public ApiFixture, public ::testing::WithParamInterface<RouteCase> {};

TEST_P(AuthMatrixTest, EveryCallerGetsTheStatusTheRulesSay) {
  const RouteCase& rc = GetParam();
  issue("spare-demo", TokenRole::kTrainee, "demo", "bob");
  issue("spare-other", TokenRole::kTrainee, "other", "carol");
  const std::map<std::string, std::string> tokenCohort = {{"spare-demo", "demo"}, {"spare-other", "other"}};
  const std::string unauthenticated = call("GET", "/api/v1/whoami", "none").body;
  int cells = 0;
  for (const auto& who : kInvalid) {
    for (const auto& t : rc.targets) {
      std::string path = t.tokenOf.empty() ? t.path : "/api/v1/tokens/" + (t.tokenOf == "self" ? ids_["admin"] : ids_[t.tokenOf]);
      auto r = call(rc.method, path, who, t.body);
      ++cells;
      if (rc.rule == Rule::kPublic) {
        EXPECT_EQ(r.status, rc.ok) << rc.method << " " << path << " as " << who;
        continue;
      }
      EXPECT_EQ(r.status, 401) << rc.method << " " << path << " as " << who;
      EXPECT_EQ(r.body, unauthenticated) << "a 401 says nothing about why (" << who << ")";
      EXPECT_EQ(r.headers["WWW-Authenticate"], "Bearer realm=\"darasa\"");
      EXPECT_EQ(r.route, rc.pattern);
    }
  }
  for (const auto& who : kValid) {
    for (const auto& t : rc.targets) {
      makeApi();  // a fresh controller: earlier cells' deletes do not leak into this one
      std::string path = t.path;
      if (!t.tokenOf.empty()) path = "/api/v1/tokens/" + (t.tokenOf == "self" ? ids_[who] : ids_[t.tokenOf]);
      auto r = call(rc.method, path, who, t.body);
      ++cells;
      const bool may = allowed(rc.rule, kWho.at(who), t, tokenCohort);
      EXPECT_EQ(r.status, may ? rc.ok : 403)
          << rc.method << " " << path << " (" << t.label << ") as " << who << ": " << r.body;
      EXPECT_EQ(r.route, rc.pattern);
      if (!may) {
        EXPECT_EQ(json(r)["error"]["code"], "denied");
        for (const auto& secret : secrets_) EXPECT_EQ(r.body.find(secret), std::string::npos);
      }
    }
  }
  EXPECT_GE(cells, 11);
}

INSTANTIATE_TEST_SUITE_P(Routes, AuthMatrixTest, ::testing::ValuesIn(routeCases()),
                         [](const ::testing::TestParamInfo<RouteCase>& info) {
                           std::string name = info.param.method + info.param.pattern;
                           for (auto& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

// Every route the API serves is in the matrix (the matrix cannot silently miss one).
TEST(AuthMatrixCoverageTest, TheMatrixCoversEveryRouteOfTheOpenApiDocument) {
  std::set<std::string> inMatrix, inDocument;
  for (const auto& rc : routeCases()) inMatrix.insert(rc.method + " " + rc.pattern);
  auto doc = nlohmann::json::parse(Api::openApiJson());
  for (const auto& [path, ops] : doc["paths"].items())
    for (const auto& [method, op] : ops.items()) {
      std::string m = method;
      for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      inDocument.insert(m + " " + path);
    }
  EXPECT_EQ(inMatrix, inDocument);
}

class AuthTest : public ApiFixture {};

TEST_F(AuthTest, UnauthorisedAnswersAreIdenticalWhateverTheReason) {
  std::set<std::string> bodies;
  for (const auto& who : kInvalid) {
    auto r = call("GET", "/api/v1/labs/demo.alice", who);
    EXPECT_EQ(r.status, 401) << who;
    bodies.insert(r.body);
    EXPECT_EQ(r.headers, (std::map<std::string, std::string>{{"WWW-Authenticate", "Bearer realm=\"darasa\""}}));
  }
  // Other ways to present a token badly.
  for (const std::string& header : {std::string("Basic YWxhZGRpbjpvcGVuc2VzYW1l"), std::string("Bearer"),
                                    std::string("Bearer "), "bearer " + tokens_["unknown"] + "x",
                                    "Bearer " + tokens_["admin"].substr(0, 20), std::string("Token abc")}) {
    ApiRequest r{"GET", "/api/v1/labs", {}, header, "", "", ""};
    auto resp = api_->handle(r);
    EXPECT_EQ(resp.status, 401) << header;
    bodies.insert(resp.body);
  }
  EXPECT_EQ(bodies.size(), 1u);
  EXPECT_EQ(json(call("GET", "/api/v1/whoami", "revoked"))["error"]["code"], "unauthenticated");
  // The scheme is case-insensitive (RFC 7235).
  ApiRequest lower{"GET", "/api/v1/whoami", {}, "bearer " + tokens_["alice"], "", "", ""};
  EXPECT_EQ(api_->handle(lower).status, 200);
}

TEST_F(AuthTest, ATokenExpiresAndIsRevokedAtOnce) {
  auto t = createToken(*store_, TokenRole::kTrainee, "demo", "alice", "short", std::chrono::seconds(30), clock_);
  ASSERT_TRUE(t);
  tokens_["short"] = t->token;
  EXPECT_EQ(call("GET", "/api/v1/labs/demo.alice", "short").status, 200);
  clock_.advance(std::chrono::seconds(29));
  EXPECT_EQ(call("GET", "/api/v1/labs/demo.alice", "short").status, 200);
  clock_.advance(std::chrono::seconds(1));
  EXPECT_EQ(call("GET", "/api/v1/labs/demo.alice", "short").status, 401);

  EXPECT_EQ(call("GET", "/api/v1/labs/demo.alice", "alice").status, 200);
  EXPECT_EQ(call("DELETE", "/api/v1/tokens/" + ids_["alice"], "admin").status, 200);
  EXPECT_EQ(call("GET", "/api/v1/labs/demo.alice", "alice").status, 401);  // the very next request
}

TEST_F(AuthTest, ATraineeSeesOnlyItsOwnLabAndCredentialsEvenThroughLists) {
  auto labs = json(call("GET", "/api/v1/labs", "alice"));
  ASSERT_EQ(labs.size(), 1u);
  EXPECT_EQ(labs[0]["lab"], "demo.alice");
  EXPECT_EQ(json(call("GET", "/api/v1/labs", "carol"))[0]["lab"], "other.carol");
  EXPECT_EQ(json(call("GET", "/api/v1/labs", "instructor-demo")).size(), 2u);
  EXPECT_EQ(json(call("GET", "/api/v1/labs", "admin")).size(), 3u);
  for (const std::string path : {"/api/v1/cohorts/demo/labs", "/api/v1/cohorts/demo/credentials",
                                 "/api/v1/cohorts/demo/usage", "/api/v1/cohorts/demo", "/api/v1/cohorts",
                                 "/api/v1/tokens", "/api/v1/labs/demo.bob", "/api/v1/labs/demo.bob/credentials"})
    EXPECT_EQ(call("GET", path, "alice").status, 403) << path;
  // A made-up lab id answers like an existing one: no probing for trainees.
  auto zed = call("GET", "/api/v1/labs/demo.zed", "alice");
  auto bob = call("GET", "/api/v1/labs/demo.bob", "alice");
  EXPECT_EQ(zed.status, 403);
  ASSERT_NE(bob.body.find("demo.bob"), std::string::npos);
  EXPECT_EQ(zed.body, bob.body.replace(bob.body.find("demo.bob"), 8, "demo.zed"));

  auto own = call("GET", "/api/v1/labs/demo.alice/credentials", "alice");
  ASSERT_EQ(own.status, 200);
  auto creds = json(own);
  EXPECT_EQ(creds["trainee"], "alice");
  EXPECT_EQ(creds["issued"], true);
  auto stored = store_->readCredentials("demo", "alice", "test");
  ASSERT_TRUE(stored);
  EXPECT_EQ(creds["password"], stored->password.reveal());
  EXPECT_EQ(creds["privateKey"], stored->privateKey.reveal());
  auto bobs = store_->readCredentials("demo", "bob", "test");
  ASSERT_TRUE(bobs);
  EXPECT_EQ(own.body.find(bobs->password.reveal()), std::string::npos);
}

TEST_F(AuthTest, CredentialReadsAreAuditedWithTheTokenAsActor) {
  ASSERT_EQ(call("GET", "/api/v1/labs/demo.alice/credentials", "alice").status, 200);
  ASSERT_EQ(call("GET", "/api/v1/cohorts/demo/credentials", "instructor-demo").status, 200);
  AuditFilter f;
  f.action = "read-credentials";
  auto audit = store_->listAudit(f);
  ASSERT_TRUE(audit);
  std::vector<std::string> seen;
  for (const auto& a : *audit)
    if (a.actor.rfind("token:", 0) == 0) seen.push_back(a.actor + " " + a.subject);
  EXPECT_EQ(seen, (std::vector<std::string>{"token:" + ids_["alice"] + " demo/alice",
                                            "token:" + ids_["instructor-demo"] + " demo/alice",
                                            "token:" + ids_["instructor-demo"] + " demo/bob"}));
}

// Every GET route, called by every valid caller: only the credential routes
// (and a new token, once) may carry a secret.
TEST_F(AuthTest, SecretsAppearOnlyInCredentialRoutes) {
  std::vector<std::string> needles;
  for (const auto& s : secrets_) {
    // A private key is JSON-escaped in a body: look for one of its lines.
    auto nl = s.find('\n');
    needles.push_back(nl == std::string::npos ? s : s.substr(nl + 1, 40));
  }
  int withSecrets = 0;
  for (const auto& rc : routeCases()) {
    if (rc.method != "GET") continue;
    for (const auto& who : kValid)
      for (const auto& t : rc.targets) {
        auto r = call("GET", t.path, who);
        bool credentialRoute = rc.pattern.find("/credentials") != std::string::npos;
        for (const auto& needle : needles) {
          bool found = r.body.find(needle) != std::string::npos;
          if (found) ++withSecrets;
          if (!credentialRoute) {
            EXPECT_FALSE(found) << "a secret in GET " << t.path << " as " << who;
          }
        }
      }
  }
  EXPECT_GT(withSecrets, 0);  // the credential routes did hand some out
}

}  // namespace
}  // namespace darasa::apitest
