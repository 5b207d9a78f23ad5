// Idle culling's policy (judgeIdle) on hand-made observations, and
// findIdleLabs over a real SQLite store and a provider that reports scripted
// activity: which ready labs are idle after their idleTimeout, and why.
#include "provisioner/idle_scan.h"

#include <gtest/gtest.h>

#include <mutex>

#include "fakes/fake_clock.h"
#include "fakes/fake_provider.h"
#include "provisioner/model_json.h"
#include "support/command.h"

namespace darasa {
namespace {
using darasa::testing::TempDir;
using namespace std::chrono_literals;

const Clock::TimePoint kT0 = FakeClock::defaultStart();  // 2026-01-12T06:00:00Z

IdleLab lab(std::chrono::seconds idleTimeout = 30min, Clock::TimePoint readyAt = kT0) {
  IdleLab l;
  l.labId = "c.alice";
  l.idleTimeout = idleTimeout;
  l.ports = {"ssh"};
  l.readyAt = readyAt;
  return l;
}

LabActivity traffic(Clock::TimePoint last, int connections = 0) {
  LabActivity a;
  a.lastActive = last;
  a.openConnections = connections;
  a.source = "test";
  return a;
}

LabActivity connectionsOnly(int n) {
  LabActivity a;
  a.openConnections = n;
  return a;
}

LabActivity cpuOnly(int64_t millis) {
  LabActivity a;
  a.cpuMillis = millis;
  return a;
}

TEST(JudgeIdle, ALabJustStartedIsNotIdle) {
  // The provider saw nothing since before the start: the start itself counts.
  std::optional<ActivityMemory> mem;
  auto v = judgeIdle(lab(), traffic(kT0 - 3h), kT0 + 1min, &mem);
  EXPECT_TRUE(v.measured);
  EXPECT_FALSE(v.idle);
  EXPECT_EQ(v.idleFor, 60s);
  EXPECT_EQ(v.lastActive, kT0);
  EXPECT_EQ(v.reason, "last activity 06:00 UTC, 1m ago (idle after 30m)");
}

TEST(JudgeIdle, IdleExactlyWhenTheTimeoutHasPassedSinceTheLastTraffic) {
  Clock::TimePoint last = kT0 + 5min;
  auto before = judgeIdle(lab(), traffic(last), last + 30min - 1s, nullptr);
  EXPECT_FALSE(before.idle);
  EXPECT_EQ(before.idleFor, 30min - 1s);
  auto at = judgeIdle(lab(), traffic(last), last + 30min, nullptr);
  EXPECT_TRUE(at.idle);
  EXPECT_EQ(at.idleFor, 30min);
  EXPECT_EQ(at.reason, "no activity on ssh for 30m (last 06:05 UTC)");
  auto days = judgeIdle(lab(), traffic(last), last + 50h, nullptr);
  EXPECT_EQ(days.reason, "no activity on ssh for 2d2h (last 2026-01-12 06:05 UTC)");
}

TEST(JudgeIdle, AnOpenConnectionIsActivityEvenWhenNoByteFlows) {
  std::optional<ActivityMemory> mem;
  // Last byte three hours ago, but an SSH session is open.
  auto v = judgeIdle(lab(), traffic(kT0 + 1min, 1), kT0 + 3h, &mem);
  EXPECT_FALSE(v.idle);
  EXPECT_EQ(v.idleFor, 0s);
  EXPECT_EQ(v.reason, "1 open connection on ssh");
  ASSERT_TRUE(mem);
  EXPECT_EQ(mem->lastActive, kT0 + 3h);
  // The session closed; the provider still reports the old traffic. The
  // idle time counts from when the session was last seen open.
  auto later = judgeIdle(lab(), traffic(kT0 + 1min, 0), kT0 + 3h + 29min, &mem);
  EXPECT_FALSE(later.idle);
  EXPECT_EQ(later.idleFor, 29min);
  auto idle = judgeIdle(lab(), traffic(kT0 + 1min, 0), kT0 + 3h + 30min, &mem);
  EXPECT_TRUE(idle.idle);
  EXPECT_EQ(idle.reason, "no activity on ssh for 30m (last 09:00 UTC)");
}

TEST(JudgeIdle, APortListNamesEveryPortAndConnectionsArePlural) {
  IdleLab l = lab();
  l.ports = {"ssh", "web"};
  auto v = judgeIdle(l, connectionsOnly(3), kT0 + 2h, nullptr);
  EXPECT_EQ(v.reason, "3 open connections on ssh, web");
}

TEST(JudgeIdle, AProviderThatOnlyCountsConnectionsGetsALastActiveFromMemory) {
  std::optional<ActivityMemory> mem;
  // Ready long ago; first look (say, after a daemon restart): nothing says
  // it was idle before, so it is not culled on sight.
  auto first = judgeIdle(lab(), connectionsOnly(0), kT0 + 5h, &mem);
  EXPECT_FALSE(first.idle);
  EXPECT_EQ(first.idleFor, 0s);
  auto seen = judgeIdle(lab(), connectionsOnly(2), kT0 + 5h + 20min, &mem);
  EXPECT_FALSE(seen.idle);
  auto quiet = judgeIdle(lab(), connectionsOnly(0), kT0 + 5h + 49min, &mem);
  EXPECT_FALSE(quiet.idle);
  EXPECT_EQ(quiet.idleFor, 29min);
  auto idle = judgeIdle(lab(), connectionsOnly(0), kT0 + 5h + 50min, &mem);
  EXPECT_TRUE(idle.idle);
  EXPECT_EQ(idle.lastActive, kT0 + 5h + 20min);
}

TEST(JudgeIdle, CpuUseAboveTheNoiseFloorIsActivity) {
  std::optional<ActivityMemory> mem;
  ASSERT_FALSE(judgeIdle(lab(), cpuOnly(1000), kT0 + 1h, &mem).idle);  // first look
  // A training run: 10 minutes at 60% of a CPU, nobody connected.
  auto busy = judgeIdle(lab(), cpuOnly(1000 + 360'000), kT0 + 1h + 10min, &mem);
  EXPECT_FALSE(busy.idle);
  EXPECT_EQ(busy.reason, "CPU in use (60% of a CPU)");
  EXPECT_EQ(mem->lastActive, kT0 + 1h + 10min);
  // Then background noise only: 1% of a CPU is below the default 5%.
  auto quiet = judgeIdle(lab(), cpuOnly(361'000 + 18'000), kT0 + 1h + 40min, &mem);
  EXPECT_TRUE(quiet.idle);
  EXPECT_EQ(quiet.idleFor, 30min);
  // A stricter policy counts that 1% as use.
  std::optional<ActivityMemory> mem2 = ActivityMemory{kT0 + 1h + 10min, 361'000, kT0 + 1h + 10min};
  IdlePolicy strict;
  strict.cpuActiveShare = 0.005;
  EXPECT_FALSE(judgeIdle(lab(), cpuOnly(361'000 + 18'000), kT0 + 1h + 40min, &mem2, strict).idle);
}

TEST(JudgeIdle, ARestartForgetsTheMemoryOfTheRunBefore) {
  // Remembered: a CPU counter of the old run and activity long ago.
  std::optional<ActivityMemory> mem = ActivityMemory{kT0 + 1h, 900'000, kT0 + 10min};
  Clock::TimePoint restartedAt = kT0 + 2h;
  // The new run's counter is lower; the restart is the last activity.
  auto v = judgeIdle(lab(30min, restartedAt), cpuOnly(500), restartedAt + 10min, &mem);
  EXPECT_FALSE(v.idle);
  EXPECT_EQ(v.idleFor, 0s) << "first look at the new run";
  ASSERT_TRUE(mem);
  EXPECT_EQ(mem->cpuMillis, 500);
  auto idle = judgeIdle(lab(30min, restartedAt), cpuOnly(600), restartedAt + 40min, &mem);
  EXPECT_TRUE(idle.idle);
  EXPECT_EQ(idle.idleFor, 30min);
}

TEST(JudgeIdle, UnknownActivityIsNeverIdle) {
  std::optional<ActivityMemory> mem = ActivityMemory{kT0, 10, kT0};
  auto unsupported = judgeIdle(lab(), Result<LabActivity>(notSupportedError("no")), kT0 + 30h, &mem);
  EXPECT_FALSE(unsupported.idle);
  EXPECT_FALSE(unsupported.measured);
  EXPECT_EQ(unsupported.error.code(), Code::kNotSupported);
  EXPECT_EQ(unsupported.reason, "activity unknown (the provider cannot report it): never stopped as idle");
  auto nothing = judgeIdle(lab(), LabActivity{}, kT0 + 30h, &mem);
  EXPECT_FALSE(nothing.idle);
  EXPECT_FALSE(nothing.measured);
  auto down = judgeIdle(lab(), Result<LabActivity>(unavailableError("engine down")), kT0 + 30h, &mem);
  EXPECT_FALSE(down.idle);
  EXPECT_EQ(down.reason, "activity not measured (unavailable: engine down): never stopped as idle");
  // What was remembered stays as it was.
  ASSERT_TRUE(mem);
  EXPECT_EQ(mem->observedAt, kT0);
  EXPECT_EQ(mem->cpuMillis, 10);
}

TEST(JudgeIdle, NoIdleTimeoutMeansNeverIdle) {
  auto v = judgeIdle(lab(0s), traffic(kT0), kT0 + 72h, nullptr);
  EXPECT_TRUE(v.measured);
  EXPECT_FALSE(v.idle);
  EXPECT_EQ(v.idleFor, 72h);
  EXPECT_EQ(v.reason, "last activity 2026-01-12 06:00 UTC, 3d ago (no idle timeout)");
}

TEST(JudgeIdle, ActivityAheadOfTheClockIsNotNegativeIdleTime) {
  auto v = judgeIdle(lab(), traffic(kT0 + 10min), kT0 + 5min, nullptr);
  EXPECT_EQ(v.idleFor, 0s);
  EXPECT_FALSE(v.idle);
}

TEST(FormatIdleDuration, ReadsAsPeopleWriteIt) {
  EXPECT_EQ(formatIdleDuration(0s), "0s");
  EXPECT_EQ(formatIdleDuration(59s), "59s");
  EXPECT_EQ(formatIdleDuration(60s), "1m");
  EXPECT_EQ(formatIdleDuration(30min + 59s), "30m");
  EXPECT_EQ(formatIdleDuration(1h), "1h");
  EXPECT_EQ(formatIdleDuration(1h + 5min), "1h5m");
  EXPECT_EQ(formatIdleDuration(51h + 7min), "2d3h");
  EXPECT_EQ(formatIdleDuration(48h), "2d");
  EXPECT_EQ(formatIdleDuration(-5s), "0s");
}

// Reports activity set per lab by the test; kNotFound for labs it was not told about.
class ActivityProvider : public FakeProvider {
 public:
  void set(const std::string& labId, Result<LabActivity> a) {
    std::lock_guard lock(mu_);
    activity_.insert_or_assign(labId, std::move(a));
  }
  int calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  Result<LabActivity> activity(const std::string& labId, const Deadline&) override {
    std::lock_guard lock(mu_);
    ++calls_;
    auto it = activity_.find(labId);
    if (it == activity_.end()) return notFoundError("no lab " + labId);
    return it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Result<LabActivity>> activity_;
  int calls_ = 0;
};

class FindIdleLabsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::open(dir_.path(), OpenMode::kCreate, clock_);
    ASSERT_TRUE(store) << store.status().toString();
    store_ = std::move(store.value());
    auto p = std::make_unique<ActivityProvider>();
    provider_ = p.get();
    ASSERT_TRUE(registry_.addInstance("fake", std::move(p)));
  }

  // A cohort of the given trainees whose labs have this idle timeout.
  void apply(const std::string& cohort, const std::vector<std::string>& trainees, std::chrono::seconds idleTimeout,
             const std::string& provider = "fake") {
    CohortApply a;
    a.name = cohort;
    a.templateName = "shell";
    a.snapshotJson = "{}";
    a.snapshotHash = "sha256:x";
    a.cohortSpecJson = "{}";
    a.provider = provider;
    for (const auto& t : trainees) {
      LabSpec spec = fakeLabSpec(cohort, t);
      spec.provider = provider;
      spec.lifetime.idleTimeout = idleTimeout;
      a.trainees.push_back({t, t, t + "@example.org"});
      a.labs.push_back({spec.labId, t, nlohmann::json(spec).dump()});
    }
    auto r = store_->applyCohort(a);
    ASSERT_TRUE(r) << r.status().toString();
  }
  void ready(const std::string& labId, Clock::TimePoint at) {
    ASSERT_TRUE(store_->setDesired({labId}, DesiredState::kRunning));
    ASSERT_TRUE(store_->markReady(labId, at));
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  ProviderRegistry registry_;
  ActivityProvider* provider_ = nullptr;
};

TEST_F(FindIdleLabsTest, JudgesEveryReadyLabOfTheCohortFromItsProvidersActivity) {
  apply("c", {"alice", "bob", "carol", "dave"}, 30min);
  ready("c.alice", kT0);
  ready("c.bob", kT0);
  ready("c.carol", kT0);
  // dave's lab is not ready: not judged, its provider not asked.
  provider_->set("c.alice", traffic(kT0 + 2min, 0));
  provider_->set("c.bob", traffic(kT0 + 2min, 1));  // an open SSH session, quiet
  provider_->set("c.carol", Result<LabActivity>(notSupportedError("cannot tell")));

  std::map<std::string, ActivityMemory> memory;
  auto v = findIdleLabs(*store_, registry_, "c", kT0 + 40min, &memory);
  ASSERT_TRUE(v) << v.status().toString();
  ASSERT_EQ(v->size(), 3u);
  EXPECT_EQ(provider_->calls(), 3);
  const IdleVerdict& alice = (*v)[0];
  EXPECT_EQ(alice.labId, "c.alice");
  EXPECT_EQ(alice.cohort, "c");
  EXPECT_EQ(alice.trainee, "alice");
  EXPECT_TRUE(alice.idle);
  EXPECT_EQ(alice.idleTimeout, 30min);
  EXPECT_EQ(alice.idleFor, 38min);
  EXPECT_EQ(alice.reason, "no activity on ssh for 38m (last 06:02 UTC)");
  EXPECT_EQ((*v)[1].labId, "c.bob");
  EXPECT_FALSE((*v)[1].idle);
  EXPECT_EQ((*v)[1].activity.openConnections, 1);
  EXPECT_EQ((*v)[2].labId, "c.carol");
  EXPECT_FALSE((*v)[2].idle);
  EXPECT_FALSE((*v)[2].measured);
  EXPECT_EQ(memory.size(), 2u) << "alice and bob; carol's activity is unknown";

  // Bob closes his session: idle 30 min after it was last seen open.
  provider_->set("c.bob", traffic(kT0 + 2min, 0));
  auto later = findIdleLabs(*store_, registry_, "c", kT0 + 40min + 29min, &memory);
  ASSERT_TRUE(later);
  EXPECT_FALSE((*later)[1].idle);
  auto idle = findIdleLabs(*store_, registry_, "c", kT0 + 40min + 30min, &memory);
  ASSERT_TRUE(idle);
  EXPECT_TRUE((*idle)[1].idle) << (*idle)[1].reason;
}

TEST_F(FindIdleLabsTest, StoppedLabsAreNotJudgedAndTheirMemoryIsDropped) {
  apply("c", {"alice", "bob"}, 30min);
  ready("c.alice", kT0);
  ready("c.bob", kT0);
  provider_->set("c.alice", traffic(kT0));
  provider_->set("c.bob", traffic(kT0));
  std::map<std::string, ActivityMemory> memory;
  ASSERT_TRUE(findIdleLabs(*store_, registry_, "c", kT0 + 1h, &memory));
  ASSERT_EQ(memory.size(), 2u);
  // The controller stops alice's idle lab (desired stopped, never destroyed).
  ASSERT_TRUE(store_->setDesired({"c.alice"}, DesiredState::kStopped));
  auto v = findIdleLabs(*store_, registry_, "c", kT0 + 1h + 1min, &memory);
  ASSERT_TRUE(v);
  ASSERT_EQ(v->size(), 1u);
  EXPECT_EQ((*v)[0].labId, "c.bob");
  EXPECT_EQ(memory.count("c.alice"), 0u);
}

TEST_F(FindIdleLabsTest, ALabWithoutIdleTimeoutIsReportedButNeverIdle) {
  apply("c", {"alice"}, 0s);
  ready("c.alice", kT0);
  provider_->set("c.alice", traffic(kT0));
  auto v = findIdleLabs(*store_, registry_, "c", kT0 + 48h, nullptr);
  ASSERT_TRUE(v);
  ASSERT_EQ(v->size(), 1u);
  EXPECT_FALSE((*v)[0].idle);
  EXPECT_TRUE((*v)[0].measured);
  EXPECT_EQ((*v)[0].idleFor, 48h);
}

TEST_F(FindIdleLabsTest, AnUnknownProviderGivesANotMeasuredVerdictNotAnError) {
  apply("c", {"alice"}, 30min, "gone");
  ready("c.alice", kT0);
  auto v = findIdleLabs(*store_, registry_, "c", kT0 + 2h, nullptr);
  ASSERT_TRUE(v) << v.status().toString();
  ASSERT_EQ(v->size(), 1u);
  EXPECT_FALSE((*v)[0].idle);
  EXPECT_FALSE((*v)[0].measured);
  EXPECT_EQ((*v)[0].error.code(), Code::kNotFound);
  EXPECT_NE((*v)[0].reason.find("gone"), std::string::npos) << (*v)[0].reason;
}

TEST_F(FindIdleLabsTest, EveryCohortAtOnceAndUnknownCohorts) {
  apply("a", {"alice"}, 30min);
  apply("b", {"bob"}, 30min);
  ready("a.alice", kT0);
  ready("b.bob", kT0);
  provider_->set("a.alice", traffic(kT0));
  provider_->set("b.bob", traffic(kT0 + 20min));
  auto all = findIdleLabs(*store_, registry_, "", kT0 + 45min, nullptr);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_TRUE((*all)[0].idle);
  EXPECT_FALSE((*all)[1].idle);
  EXPECT_EQ(findIdleLabs(*store_, registry_, "nope", kT0, nullptr).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace darasa
