// Issue 8's policies in the daemon's Controller, over a real SQLite store, a
// FakeProvider and a FakeClock: the admission queue on a provider with
// finite capacity (positions, ETAs, fair hand-over, round-robin between
// cohorts), lab-hours enforced live (warning at 80 %, stop at the limit),
// and idle labs stopped, never destroyed.
#include <gtest/gtest.h>

#include <algorithm>

#include "controller_fixture.h"
#include "provisioner/usage.h"

namespace darasa::testing {
namespace {

// Ticks at every due time up to t, then sets the clock to t.
void runUntil(ControllerHarness& h, Clock::TimePoint t) {
  for (int guard = 0; guard < 100000; ++guard) {
    auto due = h.controller().nextDue();
    if (!due || *due > t) break;
    if (*due > h.clock_.now()) h.clock_.set(*due);
    h.cleanTick();
  }
  if (h.clock_.now() < t) h.clock_.set(t);
}

ControllerOptions withCapacity(int64_t maxLabs) {
  ControllerOptions o = ControllerHarness::fastOptions();
  ProviderCapacity c;
  c.maxLabs = maxLabs;
  o.capacity["fake"] = c;
  return o;
}

std::vector<LabRecord> waitingLabs(ControllerHarness& h, const std::string& cohort) {
  std::vector<LabRecord> out;
  auto labs = h.store_->listLabs(cohort);  // kept alive: the loop reads into it
  for (const auto& l : labs.value())
    if (l.queuePosition > 0) out.push_back(l);
  std::sort(out.begin(), out.end(), [](const LabRecord& a, const LabRecord& b) { return a.queuePosition < b.queuePosition; });
  return out;
}

TEST(Admission, SixtyTraineesOnFortySlotsQueueTwentyWithPositionsAndEtas) {
  // Mondays 09:00-12:00 Nairobi (06:00-09:00 UTC), grace 10m: the labs
  // that run now are due to stop at 09:10 UTC, which is what frees slots.
  ControllerHarness h(utc(2026, 1, 12, 5, 50));
  h.apply(scheduledCohort("big", 60, "Africa/Nairobi",
                          {{"2026-01-12T09:00:00", "2026-01-12T12:00:00", "FREQ=WEEKLY;BYDAY=MO;COUNT=2", {}}},
                          BetweenSessions::kStop));
  h.start(withCapacity(40));
  TickReport r = h.cleanTick();
  EXPECT_EQ(r.waiting, 20);
  EXPECT_EQ(h.readyLabs("big"), 40);
  EXPECT_EQ(h.existingLabs("big"), 40) << "nothing is made for a waiting lab";
  auto waiting = waitingLabs(h, "big");
  ASSERT_EQ(waiting.size(), 20u);
  const int64_t now = toUnixSeconds(h.clock_.now());
  const int64_t stopAt = toUnixSeconds(utc(2026, 1, 12, 9, 10));
  for (size_t i = 0; i < waiting.size(); ++i) {
    EXPECT_EQ(waiting[i].queuePosition, static_cast<int>(i) + 1);
    // First come first served, then by lab id: t0040 … t0059 wait.
    char id[16];
    std::snprintf(id, sizeof id, "big.t%04zu", 40 + i);
    EXPECT_EQ(waiting[i].labId, id);
    EXPECT_EQ(waiting[i].queueReason, "provider fake: provider is full: no lab slot free");
    EXPECT_EQ(waiting[i].queuedAt, now);
    // A slot frees when the session's labs stop; then provisioning (no
    // measurement yet: 30 s).
    EXPECT_EQ(waiting[i].queueEta, stopAt + 30) << waiting[i].labId;
  }
  // Readiness is what the status shows; a waiting lab is not failed.
  EXPECT_EQ(h.lab("big.t0045").phase, LabPhase::kPending);
  EXPECT_TRUE(h.lab("big.t0045").lastError.isOk());
}

TEST(Admission, SlotsFreedByStopsGoToTheQueueInOrder) {
  ControllerHarness h(utc(2026, 1, 12, 6, 0));
  h.apply(fakeCohort("c", 10));
  Controller& c = h.start(withCapacity(6));
  ASSERT_TRUE(c.upCohort("c"));
  h.cleanTick();
  ASSERT_EQ(h.readyLabs("c"), 6);
  ASSERT_EQ(waitingLabs(h, "c").size(), 4u);

  // An instructor stops two labs: the first two in the queue get their slots.
  ASSERT_TRUE(c.stopLab("c.t0002"));
  ASSERT_TRUE(c.stopLab("c.t0004"));
  runUntil(h, h.clock_.now() + 1min);
  EXPECT_EQ(h.lab("c.t0002").phase, LabPhase::kStopped);
  EXPECT_EQ(h.lab("c.t0006").phase, LabPhase::kReady);
  EXPECT_EQ(h.lab("c.t0007").phase, LabPhase::kReady);
  EXPECT_EQ(h.lab("c.t0008").phase, LabPhase::kPending);
  auto waiting = waitingLabs(h, "c");
  ASSERT_EQ(waiting.size(), 2u);
  EXPECT_EQ(waiting[0].labId, "c.t0008");
  EXPECT_EQ(waiting[0].queuePosition, 1);
  EXPECT_EQ(waiting[1].labId, "c.t0009");
  EXPECT_EQ(h.readyLabs("c"), 6) << "never more than the capacity";
  EXPECT_EQ(h.lab("c.t0006").queuePosition, 0) << "admitted labs leave the queue";
}

TEST(Admission, TwoCohortsCompetingShareRoundRobin) {
  ControllerHarness h(utc(2026, 1, 12, 6, 0));
  h.apply(fakeCohort("a", 5));
  h.apply(fakeCohort("b", 5));
  Controller& c = h.start(withCapacity(6));
  ASSERT_TRUE(c.upCohort("a"));
  ASSERT_TRUE(c.upCohort("b"));
  h.cleanTick();
  EXPECT_EQ(h.readyLabs("a"), 3);
  EXPECT_EQ(h.readyLabs("b"), 3);
  // The queue alternates too: a's 4th, b's 4th, a's 5th, b's 5th.
  std::vector<std::pair<int, std::string>> q;
  for (const char* name : {"a", "b"})
    for (const auto& l : waitingLabs(h, name)) q.emplace_back(l.queuePosition, l.labId);
  std::sort(q.begin(), q.end());
  ASSERT_EQ(q.size(), 4u);
  EXPECT_EQ(q[0].second, "a.t0003");
  EXPECT_EQ(q[1].second, "b.t0003");
  EXPECT_EQ(q[2].second, "a.t0004");
  EXPECT_EQ(q[3].second, "b.t0004");
}

TEST(Admission, ACohortsMaxLabsCapsItWithoutBlockingOthers) {
  ControllerHarness h(utc(2026, 1, 12, 6, 0));
  RenderedCohort a = fakeCohort("a", 5);
  a.cohort.quota.maxLabs = 2;
  h.apply(a);
  h.apply(fakeCohort("b", 3));
  Controller& c = h.start(withCapacity(10));
  ASSERT_TRUE(c.upCohort("a"));
  ASSERT_TRUE(c.upCohort("b"));
  h.cleanTick();
  EXPECT_EQ(h.readyLabs("a"), 2);
  EXPECT_EQ(h.readyLabs("b"), 3);
  auto w = waitingLabs(h, "a");
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].queueReason, "provider fake: cohort a runs its quota.maxLabs of 2 labs");
}

TEST(LabHoursQuota, StoppedAtTheLimitWithAWarningAtEightyPercent) {
  const auto t0 = utc(2026, 1, 12, 6, 0);
  ControllerHarness h(t0);
  RenderedCohort r = fakeCohort("q", 2);
  r.cohort.quota.labSeconds = 2 * 3600;
  h.apply(r);
  Controller& c = h.start();
  ASSERT_TRUE(c.startLab("q.t0000"));
  // A day of one-minute ticks.
  for (auto t = t0; t <= t0 + 24h; t += 1min) {
    h.clock_.set(t);
    h.cleanTick();
  }
  // The warning came at 1.6 h, the stop at 2 h, each within a tick.
  auto warn = h.store_->listAudit({"", "quota-warning", "q.t0000", 0});
  ASSERT_EQ(warn->size(), 1u) << "warned once";
  EXPECT_NEAR(static_cast<double>(warn->front().at - toUnixSeconds(t0)), 5760, 60);
  EXPECT_NE(warn->front().detail.find("trainee t0000 used 1h36m of 2h lab-hours (80%)"), std::string::npos)
      << warn->front().detail;
  auto stop = h.store_->listAudit({"", "quota-stop", "q.t0000", 0});
  ASSERT_EQ(stop->size(), 1u);
  EXPECT_NEAR(static_cast<double>(stop->front().at - toUnixSeconds(t0)), 7200, 60);
  LabRecord lab = h.lab("q.t0000");
  EXPECT_EQ(lab.phase, LabPhase::kStopped);
  EXPECT_EQ(lab.desired, DesiredState::kStopped);
  EXPECT_NE(lab.stopReason.find("lab-hours quota spent"), std::string::npos) << lab.stopReason;
  EXPECT_EQ(h.fake_->lab("q.t0000")->state, ObservedState::kStopped) << "stopped, kept";

  // The totals are the sum of the running intervals, to the second.
  auto ivs = h.store_->listUsage("q", 0, toUnixSeconds(t0 + 48h)).value();
  int64_t sum = 0;
  for (const auto& iv : ivs)
    if (iv.running) sum += iv.endedAt - iv.startedAt;
  UsageReport report = computeUsage(ivs, "q", "", 0, toUnixSeconds(t0 + 48h));
  EXPECT_EQ(report.total.labSeconds, sum);
  EXPECT_EQ(report.byTrainee["t0000"].labSeconds, sum);
  EXPECT_NEAR(static_cast<double>(sum), 7200, 60);
  EXPECT_EQ(report.byTrainee["t0001"].labSeconds, 0) << "the other trainee never ran";

  // Starting it again does not get round the quota.
  ASSERT_TRUE(c.startLab("q.t0000"));
  h.cleanTick();
  EXPECT_EQ(h.lab("q.t0000").desired, DesiredState::kStopped);
  EXPECT_NE(h.fake_->lab("q.t0000")->state, ObservedState::kRunning);
}

TEST(LabHoursQuota, JumpingToTheNextDueTimeStopsExactlyAtTheLimit) {
  const auto t0 = utc(2026, 1, 12, 6, 0);
  ControllerHarness h(t0);
  RenderedCohort r = fakeCohort("q", 1);
  r.cohort.quota.labSeconds = 2 * 3600;
  h.apply(r);
  ControllerOptions o = ControllerHarness::fastOptions();
  o.resync = 6h;  // nothing else wakes the lab: the quota must
  Controller& c = h.start(o);
  ASSERT_TRUE(c.startLab("q.t0000"));
  runUntil(h, t0 + 12h);
  auto stop = h.store_->listAudit({"", "quota-stop", "q.t0000", 0});
  ASSERT_EQ(stop->size(), 1u);
  EXPECT_EQ(stop->front().at - toUnixSeconds(t0), 7200);
}

TEST(IdleCulling, AnIdleLabIsStoppedAndABusyOneIsNot) {
  const auto t0 = utc(2026, 1, 12, 6, 0);
  ControllerHarness h(t0);
  RenderedCohort r = fakeCohort("i", 2);
  for (auto& spec : r.labs) spec.lifetime.idleTimeout = 30min;
  h.apply(r);
  ControllerOptions o = ControllerHarness::fastOptions();
  o.idleCheck = 1min;
  Controller& c = h.start(o);
  ASSERT_TRUE(c.upCohort("i"));
  h.cleanTick();
  ASSERT_EQ(h.readyLabs("i"), 2);
  // t0000: nobody touched it since it started. t0001: a session stays open.
  LabActivity quiet;
  quiet.lastActive = t0;  // its last traffic: when it started
  quiet.openConnections = 0;
  quiet.source = "test";
  h.fake_->setActivity("i.t0000", quiet);
  LabActivity busy;
  busy.openConnections = 1;
  busy.source = "test";
  h.fake_->setActivity("i.t0001", busy);
  runUntil(h, t0 + 29min);
  EXPECT_EQ(h.lab("i.t0000").phase, LabPhase::kReady) << "not before its idleTimeout";
  runUntil(h, t0 + 32min);
  LabRecord idle = h.lab("i.t0000");
  EXPECT_EQ(idle.phase, LabPhase::kStopped);
  EXPECT_NE(idle.stopReason.find("idle"), std::string::npos) << idle.stopReason;
  EXPECT_EQ(h.fake_->lab("i.t0000")->state, ObservedState::kStopped) << "stopped, never destroyed";
  runUntil(h, t0 + 5h);
  EXPECT_EQ(h.lab("i.t0001").phase, LabPhase::kReady) << "an open session keeps a lab alive";
  EXPECT_GT(h.lab("i.t0001").lastActiveAt, toUnixSeconds(t0 + 4h));
}

}  // namespace
}  // namespace darasa::testing
