// The daemon's Controller over a real SQLite store, a FakeProvider and a
// FakeClock: adoption after a restart, API wishes (stop, start, reset,
// delete) and how long they stand, failure backoff, wake(), stop() during a
// hung provider call, and a schedule change that passes while a tick runs.
#include "provisioner/controller.h"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "controller_fixture.h"
#include "provisioner/metrics.h"

namespace darasa::testing {
namespace {

// 4 trainees, Mondays 09:00-12:00 Africa/Nairobi (06:00-09:00 UTC) from
// 2026-01-12, three weeks; lead 15m, grace 10m, stopped in between.
RenderedCohort mondays(const std::string& name = "c", int n = 4) {
  return scheduledCohort(name, n, "Africa/Nairobi",
                         {{"2026-01-12T09:00:00", "2026-01-12T12:00:00", "FREQ=WEEKLY;BYDAY=MO;COUNT=3", {}}},
                         BetweenSessions::kStop, 15min, 10min);
}

// Ticks at every due time up to t, then sets the clock to t.
void runUntil(ControllerHarness& h, Clock::TimePoint t) {
  for (int guard = 0; guard < 10000; ++guard) {
    auto due = h.controller().nextDue();
    if (!due || *due > t) break;
    if (*due > h.clock_.now()) h.clock_.set(*due);
    h.cleanTick();
  }
  if (h.clock_.now() < t) h.clock_.set(t);
}

std::optional<QueuedLab> queued(Controller& c, const std::string& labId) {
  for (auto& q : c.queue())
    if (q.labId == labId) return q;
  return std::nullopt;
}

TEST(Controller, FirstTickAdoptsWhatRunsAfterARestartAndCreatesNothingTwice) {
  ControllerHarness h(utc(2026, 1, 12, 5, 50));  // inside the first session's lead time
  h.apply(mondays());
  h.start();
  TickReport first = h.cleanTick();
  EXPECT_EQ(first.due, 4);
  EXPECT_EQ(first.desiredChanges, 4) << "the schedule wants the labs running";
  ASSERT_EQ(h.readyLabs("c"), 4);

  // The daemon dies. One lab's create had been called but not recorded
  // (the store still says creating, without a resource), and a lab this
  // state made for the cohort is unknown to the store.
  ASSERT_TRUE(h.store_->recordObserved("c.t0001", LabPhase::kCreating, "", "[]", 0));
  ASSERT_TRUE(h.store_->beginOperation("c.t0001", "create", "not created"));
  ObservedLab ghost;
  ghost.labId = "c.ghost";
  ghost.state = ObservedState::kRunning;
  ghost.labels = h.service_->cohortSelector("c").equals;
  ghost.labels[kLabelTrainee] = "ghost";
  h.fake_->putLab(ghost);
  h.fake_->restart();  // counters from zero; the labs stay

  h.start();  // a new Controller on the same store and provider
  TickReport again = h.cleanTick();
  EXPECT_EQ(again.due, 4) << "every lab of the state is looked at after a start";
  EXPECT_EQ(again.failed, 0);
  EXPECT_EQ(h.fake_->calls(FakeCall::kCreate), 0) << "no duplicate create";
  EXPECT_EQ(h.fake_->resourcesCreated(), 0);
  EXPECT_EQ(h.readyLabs("c"), 4);
  EXPECT_EQ(h.lab("c.t0001").phase, LabPhase::kReady);
  EXPECT_EQ(h.lab("c.t0001").resourceId, h.fake_->lab("c.t0001")->resourceId) << "adopted";
  EXPECT_FALSE(h.fake_->lab("c.ghost")) << "the unknown lab of the cohort is removed";
  EXPECT_EQ(h.fake_->calls(FakeCall::kDestroy), 1);

  // And it stays quiet.
  runUntil(h, utc(2026, 1, 12, 8, 0));
  EXPECT_EQ(h.fake_->calls(FakeCall::kCreate), 0);
  EXPECT_EQ(h.fake_->calls(FakeCall::kDestroy), 1);
}

TEST(Controller, ManualStopStandsUntilTheNextTransition) {
  ControllerHarness h(utc(2026, 1, 12, 5, 50));
  h.apply(mondays());
  ControllerOptions o = ControllerHarness::fastOptions();
  o.resync = 30min;
  Controller& c = h.start(o);
  h.cleanTick();
  ASSERT_EQ(h.readyLabs("c"), 4);

  ASSERT_TRUE(c.stopLab("c.t0001"));
  auto q = queued(c, "c.t0001");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->due, h.clock_.now()) << "due at once";
  EXPECT_EQ(q->why, "api: stop");
  h.cleanTick();
  EXPECT_EQ(h.lab("c.t0001").phase, LabPhase::kStopped);
  EXPECT_EQ(h.fake_->lab("c.t0001")->state, ObservedState::kStopped);
  EXPECT_EQ(h.readyLabs("c"), 3);

  // Resyncs during the session leave the instructor's stop alone.
  runUntil(h, utc(2026, 1, 12, 9, 0));
  EXPECT_EQ(h.fake_->lab("c.t0001")->state, ObservedState::kStopped);
  EXPECT_EQ(h.fake_->calls(FakeCall::kStart), 0);
  EXPECT_EQ(h.readyLabs("c"), 3);

  // A start between sessions stands too, until the next transition...
  runUntil(h, utc(2026, 1, 14));
  EXPECT_EQ(h.stoppedLabs("c"), 4);
  ASSERT_TRUE(c.startLab("c.t0002"));
  h.cleanTick();
  EXPECT_EQ(h.lab("c.t0002").phase, LabPhase::kReady);
  runUntil(h, utc(2026, 1, 16));
  EXPECT_EQ(h.lab("c.t0002").phase, LabPhase::kReady);
  EXPECT_EQ(h.stoppedLabs("c"), 3);

  // ...and the next session's transitions apply the schedule to every lab again.
  runUntil(h, utc(2026, 1, 19, 6, 0));
  EXPECT_EQ(h.readyLabs("c"), 4);
  runUntil(h, utc(2026, 1, 19, 9, 10));
  EXPECT_EQ(h.stoppedLabs("c"), 4);
}

TEST(Controller, ResetMakesAFreshLabWithTheSameCredentials) {
  ControllerHarness h(utc(2026, 1, 12, 5, 50));
  h.apply(mondays());
  Controller& c = h.start();
  h.cleanTick();
  ASSERT_EQ(h.readyLabs("c"), 4);
  const std::string before = h.fake_->lab("c.t0002")->resourceId;
  const std::string key = h.fake_->credentialsOf("c.t0002")->authorizedKey;
  h.fake_->resetCounters();

  ASSERT_TRUE(c.resetLab("c.t0002"));
  TickReport r = h.cleanTick();
  EXPECT_EQ(r.due, 1);
  EXPECT_EQ(r.reconciled, 1);
  EXPECT_EQ(h.fake_->calls(FakeCall::kDestroy, "c.t0002"), 1);
  EXPECT_EQ(h.fake_->calls(FakeCall::kCreate, "c.t0002"), 1);
  EXPECT_EQ(h.fake_->calls(FakeCall::kDestroy) + h.fake_->calls(FakeCall::kCreate), 2) << "the others untouched";
  ASSERT_TRUE(h.fake_->lab("c.t0002"));
  EXPECT_NE(h.fake_->lab("c.t0002")->resourceId, before) << "a new resource";
  EXPECT_EQ(h.fake_->credentialsOf("c.t0002")->authorizedKey, key) << "the trainee's credentials stay valid";
  EXPECT_EQ(h.lab("c.t0002").phase, LabPhase::kReady);

  // Done once: later ticks do not reset it again.
  runUntil(h, utc(2026, 1, 12, 8, 0));
  EXPECT_EQ(h.fake_->calls(FakeCall::kCreate, "c.t0002"), 1);

  EXPECT_EQ(c.resetLab("c.nobody").code(), Code::kNotFound);
}

TEST(Controller, DeleteCohortDestroysItsLabsThenTheCohort) {
  ControllerHarness h(utc(2026, 1, 12, 5, 50));
  h.apply(mondays("c"));
  h.apply(mondays("other", 2));
  ControllerOptions o = ControllerHarness::fastOptions();
  o.resync = hours(1);
  Controller& c = h.start(o);
  h.cleanTick();
  ASSERT_EQ(h.readyLabs("c"), 4);

  ASSERT_TRUE(c.deleteCohort("c"));
  EXPECT_EQ(c.startLab("c.t0000").code(), Code::kConflict) << "no start while it is being deleted";
  EXPECT_EQ(c.upCohort("c").code(), Code::kConflict);
  h.cleanTick();
  EXPECT_EQ(h.existingLabs("c"), 0);
  EXPECT_EQ(h.store_->getCohort("c").status().code(), Code::kNotFound);
  for (const auto& q : c.queue()) EXPECT_EQ(q.cohort, "other") << q.labId;
  EXPECT_EQ(c.queueDepth(), 2u);
  EXPECT_EQ(h.readyLabs("other"), 2) << "the other cohort runs on";

  // The schedule does not bring anything back.
  runUntil(h, utc(2026, 1, 19, 7, 0));
  EXPECT_EQ(h.existingLabs("c"), 0);
  EXPECT_EQ(h.fake_->calls(FakeCall::kCreate), 6);
  EXPECT_EQ(c.deleteCohort("c").code(), Code::kNotFound);
}

TEST(Controller, FailedLabIsRetriedWithDoublingBackoff) {
  ControllerHarness h(utc(2026, 1, 12, 5, 50));
  h.apply(mondays());
  ControllerOptions o = ControllerHarness::fastOptions();
  o.failureBackoff = 30s;
  o.maxFailureBackoff = 2min;
  o.resync = hours(1);
  Controller& c = h.start(o);
  h.fake_->failNext(FakeCall::kCreate, invalidError("image not found"), FakeProvider::kForever, "c.t0001");

  TickReport r = h.controller().tick();
  EXPECT_EQ(r.due, 4);
  EXPECT_EQ(r.reconciled, 3);
  EXPECT_EQ(r.failed, 1);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_NE(r.errors.front().find("image not found"), std::string::npos) << r.errors.front();
  EXPECT_EQ(h.lab("c.t0001").phase, LabPhase::kFailed);

  // 30 s, 60 s, 120 s, then capped at 120 s.
  for (auto expected : {30s, 60s, 120s, 120s}) {
    auto q = queued(c, "c.t0001");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->due - h.clock_.now(), expected);
    EXPECT_NE(q->why.find("retry after failure"), std::string::npos) << q->why;
    EXPECT_EQ(c.nextDue(), q->due) << "the failed lab is the next work";
    h.clock_.set(q->due);
    r = c.tick();
    EXPECT_EQ(r.due, 1) << "only the failed lab";
    EXPECT_EQ(r.failed, 1);
  }
  EXPECT_EQ(h.fake_->calls(FakeCall::kCreate, "c.t0001"), 5);
  EXPECT_EQ(h.fake_->calls(FakeCall::kCreate, "c.t0000"), 1) << "the others are left alone";

  h.fake_->clearFaults();
  h.clock_.set(*c.nextDue());
  r = h.cleanTick();
  EXPECT_EQ(r.reconciled, 1);
  EXPECT_EQ(h.lab("c.t0001").phase, LabPhase::kReady);
  auto q = queued(c, "c.t0001");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->failures, 0);
  EXPECT_EQ(q->due - h.clock_.now(), o.resync)
      << "back to the resync interval";
}

TEST(Controller, WakeMakesALabDueAtOnce) {
  ControllerHarness h(utc(2026, 1, 12, 6, 30));
  h.apply(mondays());
  Controller& c = h.start();
  h.cleanTick();
  ASSERT_EQ(h.readyLabs("c"), 4);
  ASSERT_TRUE(c.nextDue());
  EXPECT_EQ(*c.nextDue(), h.clock_.now() + 5min) << "a resync";

  // Nothing due: waitForWork returns after its wait, with work or not.
  auto t = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.waitForWork(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t, 40ms);

  // A lab removed behind darasa's back; the API wakes it.
  h.fake_->removeLab("c.t0002");
  std::thread waker([&] {
    std::this_thread::sleep_for(100ms);
    c.wake("c", {"c.t0002"}, "api: check");
  });
  t = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.waitForWork(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - t, 3s) << "woken, not timed out";
  waker.join();
  EXPECT_EQ(c.nextDue(), h.clock_.now());
  EXPECT_EQ(c.queue().front().labId, "c.t0002");
  EXPECT_EQ(c.queue().front().why, "api: check");
  TickReport r = h.cleanTick();
  EXPECT_EQ(r.due, 1);
  EXPECT_EQ(h.fake_->calls(FakeCall::kCreate, "c.t0002"), 2) << "made again";
  EXPECT_EQ(h.readyLabs("c"), 4);

  // A lab that is due by the clock ends the wait at once.
  h.clock_.set(*c.nextDue());
  t = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.waitForWork(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - t, 1s);
}

TEST(Controller, StopDuringAHungProviderCallReturnsPromptly) {
  ControllerHarness h(utc(2026, 1, 12, 5, 50));
  h.apply(mondays());
  ControllerOptions o = ControllerHarness::fastOptions();
  o.callTimeout = std::chrono::minutes(10);
  Controller& c = h.start(o);
  h.fake_->hangNext(FakeCall::kCreate, FakeProvider::kForever);

  TickReport r;
  std::thread ticker([&] { r = c.tick(); });
  ASSERT_TRUE(h.fake_->waitForHung(1, 10s));
  auto t = std::chrono::steady_clock::now();
  c.stop();
  EXPECT_FALSE(c.waitForWork(10s)) << "stopped";
  ticker.join();
  auto took = std::chrono::steady_clock::now() - t;
  EXPECT_LT(took, 2s) << "the tick abandons the hung calls";
  EXPECT_TRUE(r.cancelled);
  EXPECT_EQ(r.failed, 0) << "a cancelled lab is not the lab's failure";
  EXPECT_EQ(h.lab("c.t0000").phase == LabPhase::kFailed, false);

  // Later ticks do nothing.
  int calls = h.fake_->calls(FakeCall::kList);
  TickReport later = c.tick();
  EXPECT_TRUE(later.cancelled);
  EXPECT_EQ(later.due, 0);
  EXPECT_EQ(h.fake_->calls(FakeCall::kList), calls);
  h.fake_->releaseHangs();
}

// The first session is 09:00-09:20 local (06:00-06:20 UTC), lead 15m, no
// grace: the labs are wanted from 05:45 to 06:20 UTC. Creates that fail and
// are retried by the reconciler move the FakeClock past 06:20 during the
// tick that starts them; the end of the window must not be lost.
TEST(Controller, TransitionPassedDuringALongTickIsNotSkipped) {
  ControllerHarness h(utc(2026, 1, 12, 5, 45));
  h.apply(scheduledCohort("c", 4, "Africa/Nairobi",
                          {{"2026-01-12T09:00:00", "2026-01-12T09:20:00", "FREQ=WEEKLY;BYDAY=MO;COUNT=2", {}}},
                          BetweenSessions::kStop, 15min, 0s));
  ControllerOptions o = ControllerHarness::fastOptions();
  o.maxAttempts = 50;
  o.initialBackoff = 30s;
  Controller& c = h.start(o);
  for (int i = 0; i < 4; ++i)
    h.fake_->failNext(FakeCall::kCreate, unavailableError("engine busy"), 40, "c.t000" + std::to_string(i));

  h.cleanTick();
  EXPECT_EQ(h.readyLabs("c"), 4) << "ready in the end";
  ASSERT_GT(h.clock_.now(), utc(2026, 1, 12, 6, 20)) << "the retries moved the clock past the session's end";
  ASSERT_TRUE(c.nextDue());
  EXPECT_LE(*c.nextDue(), utc(2026, 1, 12, 6, 20)) << "the end of the window is due, not forgotten";
  TickReport r = h.cleanTick();
  EXPECT_EQ(r.desiredChanges, 4);
  EXPECT_EQ(h.stoppedLabs("c"), 4);
}

TEST(Controller, CohortWithoutScheduleKeepsTheDesiredStateItIsGiven) {
  ControllerHarness h;
  h.apply(fakeCohort("plain", 3));
  Controller& c = h.start();
  TickReport r = h.cleanTick();
  EXPECT_EQ(r.due, 3);
  EXPECT_EQ(r.desiredChanges, 0);
  EXPECT_EQ(h.existingLabs("plain"), 0) << "nobody asked for labs";

  ASSERT_TRUE(c.upCohort("plain"));
  h.cleanTick();
  EXPECT_EQ(h.readyLabs("plain"), 3);
  runUntil(h, h.clock_.now() + hours(6));
  EXPECT_EQ(h.readyLabs("plain"), 3);
  EXPECT_EQ(h.fake_->calls(FakeCall::kCreate), 3) << "resyncs change nothing";

  // A lab process that died is repaired by the next resync.
  h.fake_->setState("plain.t0001", ObservedState::kFailed, "exited with 137");
  runUntil(h, h.clock_.now() + 5min);
  EXPECT_EQ(h.readyLabs("plain"), 3);
  EXPECT_EQ(h.fake_->calls(FakeCall::kCreate), 4);

  ASSERT_TRUE(c.downCohort("plain"));
  h.cleanTick();
  EXPECT_EQ(h.existingLabs("plain"), 0);
  EXPECT_EQ(h.lab("plain.t0000").phase, LabPhase::kDestroyed);
}

TEST(Controller, ApiErrors) {
  ControllerHarness h;
  h.apply(fakeCohort("c", 3));
  Controller& c = h.start();
  EXPECT_EQ(c.startLab("c.nobody").code(), Code::kNotFound);
  EXPECT_EQ(c.stopLab("nope.t0000").code(), Code::kNotFound);
  EXPECT_EQ(c.upCohort("nope").code(), Code::kNotFound);
  EXPECT_EQ(c.deleteCohort("nope").code(), Code::kNotFound);

  auto smaller = fakeCohort("c", 3);
  smaller.labs.pop_back();  // t0002 leaves the roster
  smaller.cohort.trainees.pop_back();
  h.apply(smaller);
  EXPECT_EQ(c.startLab("c.t0002").code(), Code::kConflict);
  EXPECT_EQ(c.resetLab("c.t0002").code(), Code::kConflict);
  EXPECT_TRUE(c.destroyLab("c.t0002"));
  ASSERT_TRUE(c.upCohort("c")) << "the removed lab is left out";
  h.cleanTick();
  EXPECT_EQ(h.readyLabs("c"), 2);
  EXPECT_EQ(h.store_->getLab("c.t0002").status().code(), Code::kNotFound) << "forgotten once gone";
}

TEST(Controller, CohortAppliedWhileRunningFollowsItsScheduleOnceWoken) {
  ControllerHarness h(utc(2026, 1, 12, 5, 0));
  Controller& c = h.start();
  h.cleanTick();
  EXPECT_EQ(c.queueDepth(), 0u);

  h.clock_.set(utc(2026, 1, 12, 6, 30));  // mid-session
  h.apply(mondays("c", 2));
  c.wake("c");
  h.cleanTick();
  EXPECT_EQ(h.readyLabs("c"), 2);

  // Applied again with a third trainee: the new lab joins the session.
  h.clock_.advance(10min);
  h.apply(mondays("c", 3));
  c.wake("c");
  TickReport r = h.cleanTick();
  EXPECT_EQ(r.desiredChanges, 1);
  EXPECT_EQ(h.readyLabs("c"), 3);
  EXPECT_EQ(h.fake_->calls(FakeCall::kCreate), 3);
}

TEST(Controller, MetricsSeeEveryReconcileAndTheQueue) {
  ControllerHarness h(utc(2026, 1, 12, 5, 50));
  h.apply(mondays());
  Metrics metrics(h.clock_);
  ControllerOptions o = ControllerHarness::fastOptions();
  o.metrics = &metrics;
  h.start(o);
  h.cleanTick();
  std::string text = metrics.render(nullptr);
  EXPECT_NE(text.find("\ndarasa_queue_depth 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\ndarasa_reconcile_duration_seconds_count 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("darasa_time_to_ready_seconds_count 4\n"), std::string::npos)
      << "the reconcile's events reach the metrics\n" << text;
}

}  // namespace
}  // namespace darasa::testing
