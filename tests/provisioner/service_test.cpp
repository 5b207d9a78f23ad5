// LabService over a real SQLite store and a FakeProvider: what apply, up,
// down, credentials and gc do to the state and to the provider.
#include "provisioner/service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "fakes/fake_clock.h"
#include "fakes/fake_provider.h"
#include "support/command.h"

namespace darasa {
namespace {
using darasa::testing::TempDir;

RenderedCohort cohortOf(const std::string& name, int trainees, int64_t memory = 256 << 20) {
  RenderedCohort r;
  r.cohort.name = name;
  r.cohort.templateName = "shell";
  r.snapshot = {"shell", "sha256:" + std::to_string(memory), "{}"};
  for (auto& spec : fakeCohortSpecs(name, trainees)) {
    spec.resources.memoryBytes = memory;
    spec.templateHash = r.snapshot.hash;
    r.cohort.trainees.push_back({spec.trainee, "Trainee " + spec.trainee, spec.trainee + "@example.org"});
    r.labs.push_back(std::move(spec));
  }
  return r;
}

class LabServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::open(dir_.path(), OpenMode::kCreate, clock_);
    ASSERT_TRUE(store) << store.status().toString();
    store_ = std::move(store.value());
    auto fake = std::make_unique<FakeProvider>();
    fake_ = fake.get();
    ASSERT_TRUE(registry_.addInstance("fake", std::move(fake)));
    service_ = std::make_unique<LabService>(*store_, registry_, clock_, "test:alice");
  }
  void apply(const RenderedCohort& r) {
    auto report = service_->apply({r, {}, false});
    ASSERT_TRUE(report) << report.status().toString();
  }
  RunOptions run(const std::string& cohort, std::vector<std::string> trainees = {}) {
    RunOptions o;
    o.cohort = cohort;
    o.trainees = std::move(trainees);
    o.callTimeout = std::chrono::seconds(5);
    o.initialBackoff = std::chrono::milliseconds(1);
    o.probeInterval = std::chrono::milliseconds(1);
    return o;
  }
  LabRecord lab(const std::string& id) {
    auto l = store_->getLab(id);
    EXPECT_TRUE(l) << id;
    return l ? l.value() : LabRecord{};
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  ProviderRegistry registry_;
  FakeProvider* fake_ = nullptr;
  std::unique_ptr<LabService> service_;
};

TEST_F(LabServiceTest, UpMakesEveryLabReadyWithItsOwnInjectedCredentials) {
  apply(cohortOf("c", 10));
  auto report = service_->up(run("c"));
  ASSERT_TRUE(report) << report.status().toString();
  EXPECT_EQ(report->labs, 10);
  EXPECT_EQ(report->ready, 10);
  EXPECT_TRUE(report->reconcile.failures.empty());
  EXPECT_EQ(fake_->resourcesCreated(), 10);

  std::set<std::string> keys;
  for (const auto& o : fake_->labs()) {
    EXPECT_EQ(lab(o.labId).phase, LabPhase::kReady);
    EXPECT_EQ(lab(o.labId).resourceId, o.resourceId);
    EXPECT_FALSE(o.labels.at(kLabelState).empty()) << "resources carry the state's id";
    auto creds = fake_->credentialsOf(o.labId);
    ASSERT_TRUE(creds);
    EXPECT_EQ(creds->user, "trainee");
    EXPECT_EQ(creds->authorizedKey.rfind("ssh-ed25519 ", 0), 0u);
    EXPECT_EQ(creds->passwordHash.rfind("$6$", 0), 0u);
    keys.insert(creds->authorizedKey);
  }
  EXPECT_EQ(keys.size(), 10u) << "every trainee has a key of their own";

  // The credentials handed to trainees are the ones injected, and reading them is audited.
  auto views = service_->credentials("c", {"t0003"});
  ASSERT_TRUE(views);
  ASSERT_EQ(views->size(), 1u);
  EXPECT_TRUE(views->front().issued);
  EXPECT_EQ(views->front().credentials.publicKey.substr(0, 60),
            fake_->credentialsOf("c.t0003")->authorizedKey.substr(0, 60));
  AuditFilter f;
  f.actor = "test:alice";
  f.action = "read-credentials";
  auto audit = store_->listAudit(f);
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ(audit->front().subject, "c/t0003");
}

TEST_F(LabServiceTest, UpAgainChangesNothing) {
  apply(cohortOf("c", 4));
  ASSERT_TRUE(service_->up(run("c")));
  fake_->resetCounters();
  auto again = service_->up(run("c"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->ready, 4);
  EXPECT_EQ(fake_->calls(FakeCall::kCreate), 0);
  EXPECT_EQ(fake_->calls(FakeCall::kDestroy), 0);
}

TEST_F(LabServiceTest, ApplyRefusedByTheProviderStoresNothing) {
  fake_->failNext(FakeCall::kValidate, invalidError("memory 64Gi is more than this host has"), 1, "c.t0001");
  auto report = service_->apply({cohortOf("c", 3), {}, false});
  ASSERT_FALSE(report);
  EXPECT_EQ(report.status().code(), Code::kInvalid);
  EXPECT_NE(report.status().message().find("c.t0001"), std::string::npos);
  EXPECT_NE(report.status().message().find("more than this host has"), std::string::npos);
  EXPECT_EQ(store_->getCohort("c").status().code(), Code::kNotFound);
}

TEST_F(LabServiceTest, RemovedTraineesLabsAreDestroyedAndForgotten) {
  apply(cohortOf("c", 3));
  ASSERT_TRUE(service_->up(run("c")));
  auto smaller = cohortOf("c", 3);
  smaller.labs.pop_back();  // t0002 leaves the roster
  smaller.cohort.trainees.pop_back();
  apply(smaller);
  EXPECT_TRUE(lab("c.t0002").removed);
  auto report = service_->up(run("c"));
  ASSERT_TRUE(report) << report.status().toString();
  EXPECT_EQ(report->ready, 2);
  EXPECT_FALSE(fake_->lab("c.t0002"));
  EXPECT_EQ(store_->getLab("c.t0002").status().code(), Code::kNotFound);
  EXPECT_EQ(fake_->labs().size(), 2u);
}

TEST_F(LabServiceTest, TraineeSelectionLeavesTheOthersAlone) {
  apply(cohortOf("c", 3));
  ASSERT_TRUE(service_->up(run("c", {"t0001"})));
  EXPECT_EQ(fake_->labs().size(), 1u);
  EXPECT_TRUE(fake_->lab("c.t0001"));
  ASSERT_TRUE(service_->up(run("c")));
  EXPECT_EQ(fake_->labs().size(), 3u);
  auto down = service_->down(run("c", {"t0000", "t0002"}));
  ASSERT_TRUE(down) << down.status().toString();
  EXPECT_EQ(down->ready, 2);
  ASSERT_EQ(fake_->labs().size(), 1u);
  EXPECT_TRUE(fake_->lab("c.t0001"));
  EXPECT_EQ(lab("c.t0000").phase, LabPhase::kDestroyed);
  EXPECT_EQ(lab("c.t0001").phase, LabPhase::kReady);

  auto unknown = service_->up(run("c", {"nobody"}));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  EXPECT_NE(unknown.status().message().find("t0000"), std::string::npos) << "lists the trainees it knows";
}

TEST_F(LabServiceTest, FailedLabIsReportedAndRecorded) {
  apply(cohortOf("c", 3));
  fake_->failNext(FakeCall::kCreate, invalidError("image not found"), FakeProvider::kForever, "c.t0002");
  auto report = service_->up(run("c"));
  ASSERT_TRUE(report);
  EXPECT_EQ(report->ready, 2);
  ASSERT_EQ(report->reconcile.failures.count("c.t0002"), 1u);
  auto failed = lab("c.t0002");
  EXPECT_EQ(failed.phase, LabPhase::kFailed);
  EXPECT_EQ(failed.lastError.code(), Code::kInvalid);
  EXPECT_NE(failed.lastError.message().find("image not found"), std::string::npos);
}

TEST_F(LabServiceTest, ChangedTemplateReplacesLabsOnTheNextUp) {
  apply(cohortOf("c", 2));
  ASSERT_TRUE(service_->up(run("c")));
  apply(cohortOf("c", 2, 512 << 20));
  EXPECT_EQ(lab("c.t0000").generation, 2);
  fake_->resetCounters();
  auto report = service_->up(run("c"));
  ASSERT_TRUE(report) << report.status().toString();
  EXPECT_EQ(report->ready, 2);
  EXPECT_EQ(fake_->calls(FakeCall::kDestroy), 2);
  EXPECT_EQ(fake_->resourcesCreated(), 2);
  EXPECT_EQ(fake_->lab("c.t0000")->generation, 2);
  EXPECT_EQ(lab("c.t0000").observedGeneration, 2);
}

TEST_F(LabServiceTest, GcRemovesOnlyThisStatesOrphans) {
  apply(cohortOf("c", 1));
  ASSERT_TRUE(service_->up(run("c")));
  std::string mine = fake_->lab("c.t0000")->labels.at(kLabelState);

  ObservedLab orphan;
  orphan.labId = "gone.t1";
  orphan.state = ObservedState::kRunning;
  orphan.labels = {{kLabelLab, "gone.t1"}, {kLabelCohort, "gone"}, {kLabelState, mine}};
  fake_->putLab(orphan);
  ObservedLab otherState = orphan;
  otherState.labId = "other.t1";
  otherState.labels = {{kLabelLab, "other.t1"}, {kLabelCohort, "other"}, {kLabelState, "0123456789abcdef"}};
  fake_->putLab(otherState);

  auto dry = service_->gc(true, std::chrono::seconds(5));
  ASSERT_TRUE(dry);
  ASSERT_EQ(dry->size(), 1u);
  EXPECT_EQ(dry->front().lab.labId, "gone.t1");
  EXPECT_TRUE(fake_->lab("gone.t1")) << "a dry run removes nothing";

  auto gc = service_->gc(false, std::chrono::seconds(5));
  ASSERT_TRUE(gc);
  ASSERT_EQ(gc->size(), 1u);
  EXPECT_TRUE(gc->front().result.isOk());
  EXPECT_FALSE(fake_->lab("gone.t1"));
  EXPECT_TRUE(fake_->lab("other.t1")) << "another state's lab is never touched";
  EXPECT_TRUE(fake_->lab("c.t0000")) << "a known lab is never touched";
}

TEST_F(LabServiceTest, PlanShowsWhatUpAndDownWouldDo) {
  apply(cohortOf("c", 2));
  auto up = service_->plan(run("c"), DesiredState::kRunning);
  ASSERT_TRUE(up);
  ASSERT_EQ(up->actions.size(), 2u);
  EXPECT_EQ(up->actions.front().kind, ActionKind::kCreate);
  EXPECT_EQ(fake_->labs().size(), 0u) << "plan does nothing";
  ASSERT_TRUE(service_->up(run("c")));
  auto down = service_->plan(run("c"), DesiredState::kAbsent);
  ASSERT_TRUE(down);
  ASSERT_EQ(down->actions.size(), 2u);
  EXPECT_EQ(down->actions.front().kind, ActionKind::kDestroy);
}

}  // namespace
}  // namespace darasa
