// The usage ledger, the admission queue fields and stop reasons in the state
// store, on both backends (store_fixture.h): intervals opened and closed by
// the database itself (triggers) on every phase change, at the store
// clock's time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "fakes/fake_clock.h"
#include "provisioner/store.h"
#include "provisioner/usage.h"
#include "store_fixture.h"
#include "support/command.h"

namespace darasa {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// The spec's resources are what the ledger bills: 1.5 CPUs, 512Mi.
CohortApply cohortWith(const std::string& name, const std::vector<std::string>& trainees) {
  return testCohort(name, trainees, [](const std::string& id) {
    return R"({"resources":{"cpuMillis":1500,"memoryBytes":536870912},"t":")" + id + "\"}";
  });
}

class UsageLedgerTest : public BackendFixture {
 protected:
  void SetUp() override {
    BackendFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto s = Store::open(location(), OpenMode::kCreate, clock_);
    ASSERT_TRUE(s.isOk()) << s.status().toString();
    store_ = std::move(s.value());
    ASSERT_TRUE(store_->applyCohort(cohortWith("c", {"alice", "bob"})).isOk());
    t0_ = toUnixSeconds(clock_.now());
  }
  void phase(const std::string& lab, LabPhase p) {
    if (p == LabPhase::kReady)
      ASSERT_TRUE(store_->markReady(lab, clock_.now()).isOk());
    else if (p == LabPhase::kDestroyed)
      ASSERT_TRUE(store_->markDestroyed(lab).isOk());
    else
      ASSERT_TRUE(store_->recordObserved(lab, p, "r-" + lab, "[]", 1).isOk());
  }
  std::vector<UsageInterval> all() {
    auto u = store_->listUsage("", 0, t0_ + 100000000);
    EXPECT_TRUE(u.isOk()) << u.status().toString();
    return u.isOk() ? u.value() : std::vector<UsageInterval>{};
  }

  std::unique_ptr<Store> store_;
  int64_t t0_ = 0;
};

DARASA_STORE_BACKENDS(UsageLedgerTest);

TEST_P(UsageLedgerTest, PhaseChangesOpenAndCloseIntervalsAtTheStoreClock) {
  phase("c.alice", LabPhase::kCreating);
  clock_.advance(7s);
  phase("c.alice", LabPhase::kReady);  // still running: no new interval
  clock_.advance(3600s);
  phase("c.alice", LabPhase::kStopped);
  clock_.advance(600s);
  phase("c.alice", LabPhase::kCreating);  // started again
  clock_.advance(100s);
  phase("c.alice", LabPhase::kDestroyed);

  auto ivs = all();
  ASSERT_EQ(ivs.size(), 3u);
  EXPECT_TRUE(ivs[0].running);
  EXPECT_EQ(ivs[0].startedAt, t0_);
  EXPECT_EQ(ivs[0].endedAt, t0_ + 3607);
  EXPECT_EQ(ivs[0].cpuMillis, 1500);
  EXPECT_EQ(ivs[0].memoryBytes, 512 << 20);
  EXPECT_EQ(ivs[0].trainee, "alice");
  EXPECT_EQ(ivs[0].provider, "fake");
  EXPECT_FALSE(ivs[1].running);
  EXPECT_EQ(ivs[1].startedAt, t0_ + 3607);
  EXPECT_EQ(ivs[1].endedAt, t0_ + 4207);
  EXPECT_TRUE(ivs[2].running);
  EXPECT_EQ(ivs[2].endedAt, t0_ + 4307);
  // Totals are the sum of the running intervals to the second.
  EXPECT_EQ(runningSeconds(ivs, "alice", t0_ + 999999), 3607 + 100);
  UsageReport r = computeUsage(ivs, "c", "", t0_, t0_ + 86400);
  EXPECT_EQ(r.byTrainee["alice"].labSeconds, 3707);
  EXPECT_EQ(r.byTrainee["alice"].stoppedSeconds, 600);
}

TEST_P(UsageLedgerTest, AnOpenIntervalIsListedAndFailedLabsHoldNothing) {
  phase("c.bob", LabPhase::kCreating);
  clock_.advance(50s);
  ASSERT_TRUE(store_->recordObserved("c.bob", LabPhase::kFailed, "r", "[]", 1).isOk());
  clock_.advance(50s);
  phase("c.alice", LabPhase::kCreating);
  auto ivs = all();
  ASSERT_EQ(ivs.size(), 2u);
  EXPECT_EQ(ivs[0].labId, "c.bob");
  EXPECT_EQ(ivs[0].endedAt - ivs[0].startedAt, 50);
  EXPECT_EQ(ivs[1].labId, "c.alice");
  EXPECT_EQ(ivs[1].endedAt, 0);  // open
  // The period filter: intervals overlapping [from, to).
  auto late = store_->listUsage("c", t0_ + 60, t0_ + 200);
  ASSERT_TRUE(late.isOk());
  ASSERT_EQ(late->size(), 1u);
  EXPECT_EQ(late->front().labId, "c.alice");
  auto other = store_->listUsage("nope", 0, t0_ + 1000);
  ASSERT_TRUE(other.isOk());
  EXPECT_TRUE(other->empty());
}

TEST_P(UsageLedgerTest, UsageOutlivesTheLabAndTheCohort) {
  phase("c.alice", LabPhase::kCreating);
  clock_.advance(30s);
  phase("c.alice", LabPhase::kDestroyed);
  ASSERT_TRUE(store_->forgetLab("c.alice").isOk());
  ASSERT_TRUE(store_->forgetLab("c.bob").isOk());
  ASSERT_TRUE(store_->deleteCohort("c").isOk());
  auto ivs = all();
  ASSERT_EQ(ivs.size(), 1u);
  EXPECT_EQ(ivs[0].endedAt - ivs[0].startedAt, 30);
}

TEST_P(UsageLedgerTest, QueueFieldsAreSetAndClearedAsAWhole) {
  ASSERT_TRUE(store_->recordQueue({{"c.alice", 1, "provider fake is full", t0_ + 300}}).isOk());
  clock_.advance(60s);
  ASSERT_TRUE(store_->recordQueue({{"c.alice", 2, "still full", 0}, {"c.bob", 1, "full", t0_ + 400}}).isOk());
  auto alice = store_->getLab("c.alice");
  ASSERT_TRUE(alice.isOk());
  EXPECT_EQ(alice->queuePosition, 2);
  EXPECT_EQ(alice->queueReason, "still full");
  EXPECT_EQ(alice->queuedAt, t0_);  // waiting since the first time
  EXPECT_EQ(store_->getLab("c.bob")->queuedAt, t0_ + 60);
  ASSERT_TRUE(store_->recordQueue({{"c.bob", 1, "full", 0}}).isOk());
  alice = store_->getLab("c.alice");
  EXPECT_EQ(alice->queuePosition, 0);
  EXPECT_EQ(alice->queueReason, "");
  EXPECT_EQ(alice->queuedAt, 0);
}

TEST_P(UsageLedgerTest, StopWithReasonAndRunningAgainClearsIt) {
  ASSERT_TRUE(store_->setDesired({"c.alice"}, DesiredState::kRunning).isOk());
  ASSERT_TRUE(store_->stopWithReason({"c.alice"}, "lab-hours quota spent").isOk());
  auto lab = store_->getLab("c.alice");
  EXPECT_EQ(lab->desired, DesiredState::kStopped);
  EXPECT_EQ(lab->stopReason, "lab-hours quota spent");
  Status missing = store_->stopWithReason({"c.bob", "c.nobody"}, "x");
  EXPECT_EQ(missing.code(), Code::kNotFound);
  EXPECT_EQ(store_->getLab("c.bob")->stopReason, "");  // all or nothing
  ASSERT_TRUE(store_->setDesired({"c.alice"}, DesiredState::kRunning).isOk());
  EXPECT_EQ(store_->getLab("c.alice")->stopReason, "");
  ASSERT_TRUE(store_->recordActivity("c.alice", t0_ + 5).isOk());
  EXPECT_EQ(store_->getLab("c.alice")->lastActiveAt, t0_ + 5);
}

}  // namespace
}  // namespace darasa
