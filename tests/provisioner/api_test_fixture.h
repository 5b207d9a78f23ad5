// A state for API tests: a real store in a temporary directory with two
// cohorts on a FakeProvider ("demo": alice, bob; "other": carol), issued
// credentials, ready labs, and one token per kind of caller, plus an Api over
// it with a real Controller (never ticked: actions are only recorded) and
// Metrics. Not thread-safe (one test at a time).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "fakes/fake_clock.h"
#include "fakes/fake_provider.h"
#include "provisioner/api.h"
#include "provisioner/cohort.h"
#include "provisioner/controller.h"
#include "provisioner/metrics.h"
#include "provisioner/model_json.h"
#include "provisioner/service.h"
#include "provisioner/store.h"
#include "support/command.h"

namespace darasa::apitest {

// The cohort as the fake parseApply renders it: demo/other with their
// trainees, a weekly timetable in Nairobi for demo.
inline RenderedCohort renderedCohort(const std::string& name, const std::vector<std::string>& trainees) {
  RenderedCohort r;
  r.cohort.name = name;
  r.cohort.templateName = "shell";
  r.cohort.timezone = "Africa/Nairobi";
  if (name == "demo") {
    SessionSpec s;
    s.start = "2026-01-12T09:00:00";
    s.end = "2026-01-12T13:00:00";
    s.repeat = "FREQ=WEEKLY;COUNT=3";
    r.cohort.schedule.sessions.push_back(s);
  }
  r.snapshot = {"shell", "sha256:shell", "{}"};
  for (const auto& t : trainees) {
    LabSpec spec = fakeLabSpec(name, t);
    spec.templateHash = r.snapshot.hash;
    r.cohort.trainees.push_back({t, "Name of " + t, t + "@example.org"});
    r.labs.push_back(std::move(spec));
  }
  return r;
}

// A stand-in for darasa::templates: the body is JSON
// {"cohort": NAME, "trainees": [ids]}; anything else is a located error.
inline Result<ApplyRequest> fakeParseApply(const std::string& body, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const std::exception&) {
    return invalidError(source + ":1:1: not a cohort document");
  }
  if (!j.is_object() || !j.contains("cohort") || !j["cohort"].is_string())
    return invalidError(source + ":1:2: cohort: required\n" + source + ":1:3: trainees: required");
  std::vector<std::string> trainees;
  for (const auto& t : j.value("trainees", nlohmann::json::array())) trainees.push_back(t.get<std::string>());
  ApplyRequest request;
  request.rendered = renderedCohort(j["cohort"].get<std::string>(), trainees);
  return request;
}

inline std::string applyBody(const std::string& cohort) {
  if (cohort == "demo") return R"({"cohort": "demo", "trainees": ["alice", "bob"]})";
  if (cohort == "other") return R"({"cohort": "other", "trainees": ["carol"]})";
  return R"({"cohort": ")" + cohort + R"(", "trainees": ["zed"]})";
}

class ApiFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::open(dir_.path(), OpenMode::kCreate, clock_);
    ASSERT_TRUE(store) << store.status().toString();
    store_ = std::move(store.value());
    auto fake = std::make_unique<FakeProvider>();
    fake_ = fake.get();
    ASSERT_TRUE(registry_.addInstance("fake", std::move(fake)));
    LabService service(*store_, registry_, clock_, "test");
    for (const auto& [cohort, trainees] :
         std::map<std::string, std::vector<std::string>>{{"demo", {"alice", "bob"}}, {"other", {"carol"}}}) {
      auto applied = service.apply({renderedCohort(cohort, trainees), {}, false});
      ASSERT_TRUE(applied) << applied.status().toString();
      for (const auto& t : trainees) {
        auto creds = generateCredentials("trainee", "darasa:" + cohort + "." + t);
        ASSERT_TRUE(creds);
        ASSERT_TRUE(store_->putCredentials(cohort, t, *creds).isOk());
        secrets_.push_back(creds->password.reveal());
        secrets_.push_back(creds->privateKey.reveal());
        const std::string lab = cohort + "." + t;
        ASSERT_TRUE(store_->recordObserved(lab, LabPhase::kReady, "res-" + lab,
                                           R"([{"name":"ssh","protocol":"tcp","host":"127.0.0.1","port":2201}])", 1)
                        .isOk());
        ASSERT_TRUE(store_->markReady(lab, clock_.now()).isOk());
      }
    }
    issue("admin", TokenRole::kAdmin, "", "");
    issue("instructor-demo", TokenRole::kInstructor, "demo", "");
    issue("instructor-other", TokenRole::kInstructor, "other", "");
    issue("alice", TokenRole::kTrainee, "demo", "alice");
    issue("bob", TokenRole::kTrainee, "demo", "bob");
    issue("carol", TokenRole::kTrainee, "other", "carol");
    issue("expired", TokenRole::kAdmin, "", "", std::chrono::seconds(60));
    issue("revoked", TokenRole::kAdmin, "", "");
    clock_.advance(std::chrono::seconds(61));  // "expired" has expired
    ASSERT_TRUE(store_->revokeToken(ids_["revoked"]).isOk());
    // Well formed, never issued.
    tokens_["unknown"] = "darasa_" + std::string(43, 'A');
    tokens_["malformed"] = "darasa_not-a-token";
    tokens_["none"] = "";
    makeApi();
  }

  void issue(const std::string& who, TokenRole role, const std::string& cohort, const std::string& trainee,
             std::chrono::seconds ttl = std::chrono::seconds(0)) {
    auto t = createToken(*store_, role, cohort, trainee, who, ttl, clock_);
    ASSERT_TRUE(t) << t.status().toString();
    tokens_[who] = t->token;
    ids_[who] = t->record.id;
    secrets_.push_back(t->token);
  }

  // A fresh controller and API over the same state (a controller remembers
  // cohorts being deleted; tests of one call at a time start clean).
  void makeApi(size_t maxBody = 4 << 20) {
    api_.reset();
    controller_ = std::make_unique<Controller>(*store_, registry_, clock_, ControllerOptions{});
    metrics_ = std::make_unique<Metrics>(clock_);
    ApiOptions options;
    options.parseApply = fakeParseApply;
    options.maxBodyBytes = maxBody;
    options.version = "test";
    api_ = std::make_unique<Api>(*store_, registry_, clock_, controller_.get(), metrics_.get(), options);
  }

  ApiResponse call(const std::string& method, const std::string& path, const std::string& who = "none",
                   const std::string& body = "", std::map<std::string, std::string> query = {}) {
    ApiRequest r;
    r.method = method;
    r.path = path;
    r.query = std::move(query);
    const std::string& token = tokens_.at(who);
    if (!token.empty()) r.authorization = "Bearer " + token;
    r.body = body;
    r.contentType = "application/json";
    r.remote = "127.0.0.1:1";
    return api_->handle(r);
  }

  static nlohmann::json json(const ApiResponse& r) { return nlohmann::json::parse(r.body); }

  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  ProviderRegistry registry_;
  FakeProvider* fake_ = nullptr;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<Api> api_;
  std::map<std::string, std::string> tokens_;  // caller → the Authorization token
  std::map<std::string, std::string> ids_;     // caller → token id
  std::vector<std::string> secrets_;           // every password, private key and token issued
};

}  // namespace darasa::apitest
