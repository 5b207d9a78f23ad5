// The planner's rules, one by one, as a pure function: no provider, no store.
#include "provisioner/planner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "fakes/fake_clock.h"
#include "fakes/fake_provider.h"

namespace darasa {
namespace {

const Clock::TimePoint kNow = FakeClock::defaultStart();

PlannedLab lab(const std::string& trainee, DesiredState desired, LabPhase phase = LabPhase::kPending,
               const std::string& resourceId = "", int64_t generation = 1) {
  PlannedLab p;
  p.spec = fakeLabSpec("c", trainee, generation);
  p.desired = desired;
  p.phase = phase;
  p.resourceId = resourceId;
  return p;
}

ObservedLab seen(const std::string& trainee, ObservedState state, int64_t generation = 1,
                 const std::string& resourceId = "r-1", const std::string& cohort = "c") {
  ObservedLab o;
  o.labId = cohort + "." + trainee;
  o.resourceId = resourceId;
  o.state = state;
  o.generation = generation;
  o.labels = labelsForSpec(fakeLabSpec(cohort, trainee, generation));
  return o;
}

std::vector<Action> plan(const std::vector<PlannedLab>& labs, const std::vector<ObservedLab>& observed,
                         PlanOptions options = {}) {
  return planActions(labs, observed, kNow, options);
}

Action act(ActionKind kind, const std::string& trainee, const std::string& reason) {
  return Action{kind, "c." + trainee, reason};
}

using DS = DesiredState;
using OS = ObservedState;
using LP = LabPhase;
using AK = ActionKind;

// --- desired running

TEST(Planner, RunningWithNothingObservedIsCreated) {
  EXPECT_EQ(plan({lab("alice", DS::kRunning)}, {}),
            std::vector<Action>{act(AK::kCreate, "alice", "not created")});
}

TEST(Planner, RunningThatVanishedAtTheProviderIsCreatedAgainNamingTheLostResource) {
  EXPECT_EQ(plan({lab("alice", DS::kRunning, LP::kReady, "r-9")}, {}),
            std::vector<Action>{act(AK::kCreate, "alice", "resource r-9 is gone")});
}

TEST(Planner, RunningAndReadyWithTheSameResourceNeedsNothing) {
  EXPECT_TRUE(plan({lab("alice", DS::kRunning, LP::kReady, "r-1")}, {seen("alice", OS::kRunning)}).empty());
  // A store that keeps no resource id cannot contradict the provider.
  EXPECT_TRUE(plan({lab("alice", DS::kRunning, LP::kReady, "")}, {seen("alice", OS::kRunning)}).empty());
}

TEST(Planner, RunningResourceTheStoreDoesNotKnowAsReadyIsAdoptedNeverCreatedTwice) {
  // The core crashed after create: the store still says pending or creating.
  for (LP phase : {LP::kPending, LP::kCreating, LP::kStopped, LP::kDestroyed}) {
    auto actions = plan({lab("alice", DS::kRunning, phase)}, {seen("alice", OS::kRunning)});
    ASSERT_EQ(actions.size(), 1u) << labPhaseName(phase);
    EXPECT_EQ(actions[0].kind, AK::kAdopt) << labPhaseName(phase);
    EXPECT_EQ(actions[0].reason, std::string("found running, store has it ") + labPhaseName(phase));
  }
  // Still being created at the provider: adopt too (the probe waits for it).
  EXPECT_EQ(plan({lab("alice", DS::kRunning, LP::kPending)}, {seen("alice", OS::kCreating)}),
            std::vector<Action>{act(AK::kAdopt, "alice", "found creating, store has it pending")});
}

TEST(Planner, RunningWithADifferentResourceThanTheStoreKnowsIsAdopted) {
  EXPECT_EQ(plan({lab("alice", DS::kRunning, LP::kReady, "r-1")}, {seen("alice", OS::kRunning, 1, "r-2")}),
            std::vector<Action>{act(AK::kAdopt, "alice", "resource changed from r-1 to r-2")});
}

TEST(Planner, RunningObservedStoppedIsStarted) {
  EXPECT_EQ(plan({lab("alice", DS::kRunning, LP::kStopped, "r-1")}, {seen("alice", OS::kStopped)}),
            std::vector<Action>{act(AK::kStart, "alice", "stopped")});
}

TEST(Planner, RunningObservedStoppedIsRecreatedWhenTheProviderCannotStart) {
  PlanOptions o;
  o.canStopStart = false;
  EXPECT_EQ(plan({lab("alice", DS::kRunning, LP::kStopped, "r-1")}, {seen("alice", OS::kStopped)}, o),
            std::vector<Action>{
                act(AK::kDestroy, "alice", "stopped, and the provider cannot start it again")});
}

TEST(Planner, RunningObservedFailedIsDestroyedWithTheProvidersDetail) {
  ObservedLab o = seen("alice", OS::kFailed);
  o.detail = "exited with 137";
  EXPECT_EQ(plan({lab("alice", DS::kRunning, LP::kReady, "r-1")}, {o}),
            std::vector<Action>{act(AK::kDestroy, "alice", "failed: exited with 137")});
  o.detail.clear();
  EXPECT_EQ(plan({lab("alice", DS::kRunning, LP::kReady, "r-1")}, {o}),
            std::vector<Action>{act(AK::kDestroy, "alice", "failed")});
}

TEST(Planner, FailedLabIsLeftAloneUntilRetryAfter) {
  PlannedLab p = lab("alice", DS::kRunning, LP::kFailed);
  p.retryAfter = kNow + std::chrono::minutes(5);
  ObservedLab failed = seen("alice", OS::kFailed);
  EXPECT_TRUE(plan({p}, {}).empty());
  EXPECT_TRUE(plan({p}, {failed}).empty());
  EXPECT_TRUE(plan({p}, {seen("alice", OS::kRunning)}).empty());

  p.retryAfter = kNow;  // due now
  EXPECT_EQ(plan({p}, {}), std::vector<Action>{act(AK::kCreate, "alice", "not created")});
  p.retryAfter.reset();  // `darasa up`: repair now
  EXPECT_EQ(plan({p}, {failed}), std::vector<Action>{act(AK::kDestroy, "alice", "failed")});
}

TEST(Planner, RetryAfterDoesNotHoldBackANewGenerationOrTeardown) {
  PlannedLab p = lab("alice", DS::kRunning, LP::kFailed, "r-1", 2);
  p.retryAfter = kNow + std::chrono::hours(1);
  EXPECT_EQ(plan({p}, {seen("alice", OS::kFailed, 1)}),
            std::vector<Action>{act(AK::kDestroy, "alice", "generation 1 → 2")});
  p = lab("alice", DS::kAbsent, LP::kFailed, "r-1");
  p.retryAfter = kNow + std::chrono::hours(1);
  EXPECT_EQ(plan({p}, {seen("alice", OS::kFailed)}),
            std::vector<Action>{act(AK::kDestroy, "alice", "not wanted")});
}

// --- generations

TEST(Planner, OlderGenerationIsDestroyedSoTheNextPassCreatesTheNewOne) {
  EXPECT_EQ(plan({lab("alice", DS::kRunning, LP::kReady, "r-1", 2)}, {seen("alice", OS::kRunning, 1)}),
            std::vector<Action>{act(AK::kDestroy, "alice", "generation 1 → 2")});
  // The same when the lab is wanted stopped: the stopped lab would be the old one.
  EXPECT_EQ(plan({lab("alice", DS::kStopped, LP::kStopped, "r-1", 3)}, {seen("alice", OS::kStopped, 2)}),
            std::vector<Action>{act(AK::kDestroy, "alice", "generation 2 → 3")});
  // Once destroyed (nothing observed) the next pass creates.
  EXPECT_EQ(plan({lab("alice", DS::kRunning, LP::kDestroyed, "", 2)}, {}),
            std::vector<Action>{act(AK::kCreate, "alice", "not created")});
}

TEST(Planner, UnknownOrNewerGenerationIsNotReplaced) {
  // 0: no generation label, cannot tell; newer: do not fight a newer writer.
  for (int64_t g : {0, 3}) {
    EXPECT_TRUE(plan({lab("alice", DS::kRunning, LP::kReady, "r-1", 2)}, {seen("alice", OS::kRunning, g)}).empty())
        << g;
  }
}

// --- desired stopped

TEST(Planner, StoppedWantedAndRunningIsStopped) {
  for (OS s : {OS::kRunning, OS::kCreating, OS::kUnknown}) {
    EXPECT_EQ(plan({lab("alice", DS::kStopped, LP::kReady, "r-1")}, {seen("alice", s)}),
              std::vector<Action>{act(AK::kStop, "alice", "wanted stopped")})
        << observedStateName(s);
  }
}

TEST(Planner, StoppedWantedIsDestroyedWhenTheProviderCannotStop) {
  PlanOptions o;
  o.canStopStart = false;
  EXPECT_EQ(plan({lab("alice", DS::kStopped, LP::kReady, "r-1")}, {seen("alice", OS::kRunning)}, o),
            std::vector<Action>{act(AK::kDestroy, "alice", "wanted stopped, and the provider cannot stop a lab")});
}

TEST(Planner, StoppedWantedWithNothingObservedNeedsNothing) {
  EXPECT_TRUE(plan({lab("alice", DS::kStopped, LP::kPending)}, {}).empty());
  EXPECT_TRUE(plan({lab("alice", DS::kStopped, LP::kDestroyed)}, {}).empty());
  EXPECT_TRUE(plan({lab("alice", DS::kStopped, LP::kFailed)}, {}).empty());
}

TEST(Planner, StoppedWantedStoreClaimsALabNobodyHasIsForgotten) {
  for (LP phase : {LP::kCreating, LP::kReady, LP::kStopped}) {
    EXPECT_EQ(plan({lab("alice", DS::kStopped, phase, "r-1")}, {}),
              std::vector<Action>{act(AK::kForget, "alice", "gone at the provider")})
        << labPhaseName(phase);
  }
}

TEST(Planner, StoppedWantedAndObservedStoppedIsAdoptedOnlyIfTheStoreDisagrees) {
  EXPECT_TRUE(plan({lab("alice", DS::kStopped, LP::kStopped, "r-1")}, {seen("alice", OS::kStopped)}).empty());
  EXPECT_EQ(plan({lab("alice", DS::kStopped, LP::kReady, "r-1")}, {seen("alice", OS::kStopped)}),
            std::vector<Action>{act(AK::kAdopt, "alice", "found stopped, store has it ready")});
  EXPECT_EQ(plan({lab("alice", DS::kStopped, LP::kStopped, "r-1")}, {seen("alice", OS::kStopped, 1, "r-2")}),
            std::vector<Action>{act(AK::kAdopt, "alice", "found stopped, store has it stopped")});
}

TEST(Planner, StoppedWantedAndObservedFailedIsKeptForInspection) {
  EXPECT_TRUE(plan({lab("alice", DS::kStopped, LP::kReady, "r-1")}, {seen("alice", OS::kFailed)}).empty());
}

// --- desired absent

TEST(Planner, AbsentWantedDestroysWhateverExists) {
  for (OS s : {OS::kRunning, OS::kStopped, OS::kFailed, OS::kCreating, OS::kUnknown}) {
    EXPECT_EQ(plan({lab("alice", DS::kAbsent, LP::kReady, "r-1")}, {seen("alice", s)}),
              std::vector<Action>{act(AK::kDestroy, "alice", "not wanted")})
        << observedStateName(s);
  }
}

TEST(Planner, AbsentWantedWithNothingObservedForgetsTheStoreRow) {
  for (LP phase : {LP::kPending, LP::kCreating, LP::kReady, LP::kStopped, LP::kFailed}) {
    EXPECT_EQ(plan({lab("alice", DS::kAbsent, phase)}, {}),
              std::vector<Action>{act(AK::kForget, "alice", "not wanted, nothing at the provider")})
        << labPhaseName(phase);
  }
  EXPECT_TRUE(plan({lab("alice", DS::kAbsent, LP::kDestroyed)}, {}).empty());
}

// --- orphans, duplicates, odd input

TEST(Planner, OrphansMatchingTheSelectorAreDestroyed) {
  PlanOptions o;
  o.orphans = LabelSelector::cohort("c");
  auto actions = plan({lab("alice", DS::kRunning, LP::kReady, "r-1")},
                      {seen("alice", OS::kRunning), seen("bob", OS::kStopped),
                       seen("carol", OS::kRunning, 1, "r-5", "other")},
                      o);
  // carol belongs to another cohort: not this selector's to judge.
  EXPECT_EQ(actions, std::vector<Action>{act(AK::kDestroy, "bob", "orphan")});
}

TEST(Planner, OrphansAreLeftAloneWithoutASelector) {
  EXPECT_TRUE(plan({lab("alice", DS::kRunning, LP::kReady, "r-1")},
                   {seen("alice", OS::kRunning), seen("bob", OS::kRunning)})
                  .empty());
}

TEST(Planner, TwoResourcesForOneLabAreDestroyedSoOneIsMadeAgain) {
  EXPECT_EQ(plan({lab("alice", DS::kRunning, LP::kReady, "r-1")},
                 {seen("alice", OS::kRunning, 1, "r-1"), seen("alice", OS::kRunning, 1, "r-2")}),
            std::vector<Action>{act(AK::kDestroy, "alice", "2 resources for one lab")});
}

TEST(Planner, ObservedLabsWithoutALabIdAreIgnored) {
  ObservedLab o = seen("x", OS::kRunning);
  o.labId.clear();
  PlanOptions opt;
  opt.orphans = LabelSelector::cohort("c");
  EXPECT_TRUE(plan({}, {o}, opt).empty());
}

TEST(Planner, DuplicatePlannedLabsArePlannedOnceFromTheFirst) {
  EXPECT_EQ(plan({lab("alice", DS::kAbsent, LP::kReady), lab("alice", DS::kRunning)}, {}),
            std::vector<Action>{act(AK::kForget, "alice", "not wanted, nothing at the provider")});
}

TEST(Planner, OutputIsSortedByLabIdWhateverTheInputOrder) {
  std::vector<PlannedLab> labs;
  std::vector<ObservedLab> observed;
  for (int i = 0; i < 40; ++i) {
    std::string t = "t" + std::to_string(i);
    labs.push_back(lab(t, i % 3 == 0 ? DS::kRunning : i % 3 == 1 ? DS::kStopped : DS::kAbsent));
    if (i % 2) observed.push_back(seen(t, OS::kRunning));
  }
  observed.push_back(seen("orphan", OS::kRunning));
  PlanOptions o;
  o.orphans = LabelSelector::cohort("c");
  auto first = plan(labs, observed, o);
  ASSERT_FALSE(first.empty());
  EXPECT_TRUE(std::is_sorted(first.begin(), first.end(),
                             [](const Action& a, const Action& b) { return a.labId < b.labId; }));
  std::mt19937 rng(7);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(labs.begin(), labs.end(), rng);
    std::shuffle(observed.begin(), observed.end(), rng);
    EXPECT_EQ(plan(labs, observed, o), first);
  }
}

TEST(Planner, LabelsForSpecFillsTheDarasaLabelsButKeepsGivenOnes) {
  LabSpec s;
  s.labId = "c.alice";
  s.cohort = "c";
  s.trainee = "alice";
  s.generation = 4;
  s.labels = {{"course", "cyber"}, {kLabelTrainee, "alice-renamed"}};
  Labels l = labelsForSpec(s);
  EXPECT_EQ(l.at(kLabelLab), "c.alice");
  EXPECT_EQ(l.at(kLabelCohort), "c");
  EXPECT_EQ(l.at(kLabelTrainee), "alice-renamed");
  EXPECT_EQ(l.at(kLabelGeneration), "4");
  EXPECT_EQ(l.at("course"), "cyber");
}

TEST(Planner, ActionKindNames) {
  EXPECT_STREQ(actionKindName(AK::kCreate), "create");
  EXPECT_STREQ(actionKindName(AK::kStart), "start");
  EXPECT_STREQ(actionKindName(AK::kStop), "stop");
  EXPECT_STREQ(actionKindName(AK::kDestroy), "destroy");
  EXPECT_STREQ(actionKindName(AK::kAdopt), "adopt");
  EXPECT_STREQ(actionKindName(AK::kForget), "forget");
}

}  // namespace
}  // namespace darasa
