// Weeks of a cohort's timetable driven through the Controller on a FakeClock:
// every lab is ready before each session starts, stopped (or destroyed)
// within the grace after it ends, and gone after the last one; no lab is made
// twice for one session and nothing happens between transitions. Both ways a
// daemon can be driven are covered: jumping to nextDue(), and a fixed tick.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <iostream>

#include "controller_fixture.h"

namespace darasa::testing {
namespace {

struct Session {
  Clock::TimePoint start, end;
};

struct Drive {
  bool jump = true;                    // tick at each nextDue(); else every `step`
  std::chrono::milliseconds step{60000};
  int ticks = 0;
};

class SimulatedCohort : public ::testing::Test {
 protected:
  // Moves the clock to t, ticking on the way whenever work is due (jump) or
  // at every step (fixed tick). The clock can run ahead of t when a tick's
  // reconcile sleeps on it.
  void runUntil(Clock::TimePoint t) {
    Controller& c = h_->controller();
    if (drive_.jump) {
      for (int guard = 0;; ++guard) {
        ASSERT_LT(guard, 100000) << "the queue never empties before " << formatUtc(t);
        auto due = c.nextDue();
        if (!due || *due > t) break;
        if (*due > h_->clock_.now()) h_->clock_.set(*due);
        TickReport r = h_->cleanTick();
        ++drive_.ticks;
        EXPECT_FALSE(r.cancelled);
      }
    } else {
      while (nextTick_ <= t) {
        if (nextTick_ > h_->clock_.now()) h_->clock_.set(nextTick_);
        h_->cleanTick();
        ++drive_.ticks;
        nextTick_ += drive_.step;
      }
    }
    if (h_->clock_.now() < t) h_->clock_.set(t);
  }

  // Drives the whole timetable and checks each session on the way.
  void simulate(const RenderedCohort& r, const std::vector<Session>& sessions, ControllerOptions options) {
    const std::string name = r.cohort.name;
    const int n = static_cast<int>(r.labs.size());
    const auto lead = r.cohort.leadTime, grace = r.cohort.grace;
    const bool destroyBetween = r.cohort.between == BetweenSessions::kDestroy;
    // A fixed tick may act up to one step late; a jump acts at the due time.
    const auto slack = drive_.jump ? std::chrono::milliseconds(0) : drive_.step;
    h_->apply(r);
    h_->start(std::move(options));
    nextTick_ = h_->clock_.now();

    for (size_t i = 0; i < sessions.size(); ++i) {
      const Session& s = sessions[i];
      SCOPED_TRACE("session " + std::to_string(i + 1) + " at " + formatUtc(s.start));
      if (beforeEachSession_) beforeEachSession_();
      // Nothing runs before the lead time (no lab is started hours early).
      runUntil(s.start - lead - 1min);
      EXPECT_EQ(h_->runningLabs(name), 0);
      if (i > 0 && !destroyBetween) {
        EXPECT_EQ(h_->stoppedLabs(name), n) << "stopped between sessions";
      } else {
        EXPECT_EQ(h_->existingLabs(name), 0);
      }
      // Ready when the session starts...
      runUntil(s.start);
      EXPECT_EQ(h_->readyLabs(name), n) << "every lab ready at the session's start";
      // ...and for the whole session, grace included.
      runUntil(s.end + grace - 1s);
      EXPECT_EQ(h_->readyLabs(name), n) << "every lab still there until the grace ends";
      // Down within the grace after the end.
      runUntil(s.end + grace + slack);
      EXPECT_EQ(h_->runningLabs(name), 0) << "labs stopped within the grace";
      if (i + 1 == sessions.size() || destroyBetween) {
        EXPECT_EQ(h_->existingLabs(name), 0) << "labs destroyed";
      } else {
        EXPECT_EQ(h_->stoppedLabs(name), n);
      }
    }
    // After the last session: everything destroyed, and it stays so.
    runUntil(sessions.back().end + days(1));
    EXPECT_EQ(h_->existingLabs(name), 0);
    auto labs = h_->store_->listLabs(name);
    ASSERT_TRUE(labs);
    for (const auto& l : labs.value()) {
      EXPECT_EQ(l.phase, LabPhase::kDestroyed) << l.labId;
      EXPECT_EQ(l.desired, DesiredState::kAbsent) << l.labId;
    }
  }

  std::unique_ptr<ControllerHarness> h_ = std::make_unique<ControllerHarness>(utc(2026, 1, 11));
  Drive drive_;
  Clock::TimePoint nextTick_;
  std::function<void()> beforeEachSession_;
};

// Mon/Wed/Fri 09:00-12:00 Africa/Nairobi (UTC+3 all year) from Monday
// 2026-01-12: 06:00-09:00 UTC. 12 sessions = 4 weeks.
std::vector<Session> nairobiSessions(int count = 12) {
  std::vector<Session> out;
  for (int week = 0; static_cast<int>(out.size()) < count; ++week)
    for (int day : {0, 2, 4}) {
      if (static_cast<int>(out.size()) == count) break;
      auto start = utc(2026, 1, 12, 6) + days(7 * week + day);
      out.push_back({start, start + hours(3)});
    }
  return out;
}

RenderedCohort nairobiCohort(BetweenSessions between, int count = 12) {
  return scheduledCohort(
      "ksg", 30, "Africa/Nairobi",
      {{"2026-01-12T09:00:00", "2026-01-12T12:00:00", "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=" + std::to_string(count), {}}},
      between, 15min, 10min);
}

// Simulations are about the timetable, not drift repair (controller_test.cpp
// has that): a resync every 6 hours (about 110 quiet reconciles of the whole
// cohort in 4 weeks, where churn would show) keeps them quick under ASan.
ControllerOptions simOptions() {
  ControllerOptions o = ControllerHarness::fastOptions();
  o.resync = hours(6);
  return o;
}

void report(const char* what, std::chrono::steady_clock::time_point since, int ticks) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since);
  std::cout << "[ measured ] " << what << ": " << ms.count() << " ms, " << ticks << " ticks" << std::endl;
}

TEST_F(SimulatedCohort, ThirtyTraineesFourWeeksBetweenStopJumpingToNextDue) {
  auto t = std::chrono::steady_clock::now();
  simulate(nairobiCohort(BetweenSessions::kStop), nairobiSessions(), simOptions());
  report("30 labs, 12 sessions, between stop, nextDue jumps", t, drive_.ticks);
  FakeProvider& f = *h_->fake_;
  EXPECT_EQ(f.calls(FakeCall::kCreate), 30) << "each lab created once, for the first session";
  EXPECT_EQ(f.resourcesCreated(), 30);
  EXPECT_EQ(f.calls(FakeCall::kStart), 30 * 11) << "started again for sessions 2..12, nothing more";
  EXPECT_EQ(f.calls(FakeCall::kStop), 30 * 11) << "stopped after sessions 1..11, nothing more";
  EXPECT_EQ(f.calls(FakeCall::kDestroy), 30) << "destroyed after the last session, once";
}

// One week of it (3 sessions, then the cohort is over) with a tick every
// minute, as a daemon without a due-time driver would: about 10,000 ticks.
TEST_F(SimulatedCohort, ThirtyTraineesOneWeekBetweenStopWithAOneMinuteTick) {
  drive_.jump = false;
  drive_.step = 1min;
  // Ticks off the minute, so that transitions fall between ticks.
  h_->clock_.set(utc(2026, 1, 11) + 17s);
  auto t = std::chrono::steady_clock::now();
  simulate(nairobiCohort(BetweenSessions::kStop, 3), nairobiSessions(3), simOptions());
  report("30 labs, 3 sessions, between stop, 1-minute ticks", t, drive_.ticks);
  FakeProvider& f = *h_->fake_;
  EXPECT_EQ(f.calls(FakeCall::kCreate), 30);
  EXPECT_EQ(f.calls(FakeCall::kStart), 30 * 2);
  EXPECT_EQ(f.calls(FakeCall::kStop), 30 * 2);
  EXPECT_EQ(f.calls(FakeCall::kDestroy), 30);
}

TEST_F(SimulatedCohort, ThirtyTraineesFourWeeksBetweenDestroy) {
  auto t = std::chrono::steady_clock::now();
  simulate(nairobiCohort(BetweenSessions::kDestroy), nairobiSessions(), simOptions());
  report("30 labs, 12 sessions, between destroy, nextDue jumps", t, drive_.ticks);
  FakeProvider& f = *h_->fake_;
  EXPECT_EQ(f.calls(FakeCall::kCreate), 30 * 12) << "one create per lab per session";
  EXPECT_EQ(f.calls(FakeCall::kDestroy), 30 * 12);
  EXPECT_EQ(f.calls(FakeCall::kStop), 0);
  EXPECT_EQ(f.calls(FakeCall::kStart), 0);
  // Every session's lab gets the trainee's same credentials back.
  auto creds = h_->store_->listCredentials("ksg");
  ASSERT_TRUE(creds);
  EXPECT_EQ(creds->size(), 30u);
}

// Readiness that lags makes every tick's reconcile sleep on the FakeClock
// (30 labs x 3 probes x 1 s = 90 s of clock time at each session's start):
// the schedule must still be kept, from the step times, not from the moved
// clock.
TEST_F(SimulatedCohort, SessionsAreKeptWhileReconcilesMoveTheClock) {
  beforeEachSession_ = [this] { h_->fake_->notReadyFor(3); };
  ControllerOptions o = simOptions();
  o.probeInterval = 1s;
  simulate(nairobiCohort(BetweenSessions::kStop), nairobiSessions(), o);
  EXPECT_EQ(h_->fake_->calls(FakeCall::kCreate), 30);
  EXPECT_GE(h_->clock_.totalSlept(), 12 * 90s) << "every session's start moved the clock";
}

// Europe/London: local 09:00 is 09:00Z in winter and 08:00Z in summer. A
// weekly Tuesday session across the March change (2026-03-29) and across
// the October change (2026-10-25).
TEST_F(SimulatedCohort, LondonSessionsFollowLocalTimeAcrossDaylightSavingChanges) {
  h_ = std::make_unique<ControllerHarness>(utc(2026, 3, 1));
  std::vector<Session> sessions;
  for (auto start : {utc(2026, 3, 17, 9), utc(2026, 3, 24, 9), utc(2026, 3, 31, 8), utc(2026, 4, 7, 8),
                     utc(2026, 10, 13, 8), utc(2026, 10, 20, 8), utc(2026, 10, 27, 9), utc(2026, 11, 3, 9)})
    sessions.push_back({start, start + hours(2)});
  auto r = scheduledCohort("london", 3, "Europe/London",
                           {{"2026-03-17T09:00:00", "2026-03-17T11:00:00", "FREQ=WEEKLY;BYDAY=TU;COUNT=4", {}},
                            {"2026-10-13T09:00:00", "2026-10-13T11:00:00", "FREQ=WEEKLY;BYDAY=TU;COUNT=4", {}}},
                           BetweenSessions::kStop, 15min, 10min);
  ControllerOptions o = simOptions();
  o.resync = days(1);
  auto t = std::chrono::steady_clock::now();
  simulate(r, sessions, o);
  report("3 labs, 8 London sessions over 8 months", t, drive_.ticks);
  EXPECT_EQ(h_->fake_->calls(FakeCall::kCreate), 3);
  EXPECT_EQ(h_->fake_->calls(FakeCall::kStart), 3 * 7);
}

}  // namespace
}  // namespace darasa::testing
