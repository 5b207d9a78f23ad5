// The reconciler against FakeProvider: convergence, idempotence, retries
// with backoff (through FakeClock, so no real waiting), terminal errors,
// deadlines on hung calls (small real deadlines: they are steady-clock),
// the parallelism bound, adoption after a crash, generation changes, cancel.
#include "provisioner/reconciler.h"

#include <gtest/gtest.h>

#include <thread>

#include "fakes/fake_clock.h"
#include "fakes/fake_provider.h"
#include "fakes/memory_journal.h"
#include "fakes/recording_sink.h"

namespace darasa {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using AK = ActionKind;
using DS = DesiredState;

class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest() {
    options.parallelism = 4;
    options.callTimeout = 2s;
    options.maxAttempts = 4;
    options.initialBackoff = 100ms;
    options.backoffMultiplier = 2.0;
    options.maxBackoff = 1s;
    options.jitter = 0.0;
    options.probeInterval = 500ms;
  }
  ~ReconcilerTest() override {
    // Hung calls must finish before the fake goes (it would survive them,
    // but the test should leave no thread behind).
    provider.releaseHangs();
    EXPECT_TRUE(provider.waitIdle(5s));
  }

  ReconcileReport run(const std::vector<LabSpec>& specs, DS desired, const LabelSelector& selector) {
    Reconciler r(provider, journal, &sink, options, clock);
    return r.run(journal.planned(specs, desired), selector);
  }
  ReconcileReport run(const std::vector<LabSpec>& specs, DS desired = DS::kRunning) {
    return run(specs, desired, LabelSelector::cohort("c"));
  }

  FakeProvider provider;
  MemoryJournal journal;
  RecordingSink sink;
  FakeClock clock;
  ReconcilerOptions options;
};

Result<LabCredentials> testCredentials(const LabSpec& spec) {
  LabCredentials c;
  c.user = "trainee";
  c.password = Secret("pw-" + spec.trainee + "-s3cret");
  c.authorizedKey = "ssh-ed25519 AAAAtest darasa:" + spec.labId;
  return c;
}

TEST_F(ReconcilerTest, CreatesEveryLabWaitsForReadinessAndConverges) {
  options.credentials = testCredentials;
  auto specs = fakeCohortSpecs("c", 20);
  auto report = run(specs);

  EXPECT_TRUE(report.status.isOk()) << report.status.toString();
  EXPECT_TRUE(report.converged);
  EXPECT_EQ(report.passes, 2);  // one that creates, one that finds nothing to do
  EXPECT_EQ(report.count(AK::kCreate), 20);
  EXPECT_TRUE(report.failures.empty());
  EXPECT_EQ(provider.resourcesCreated(), 20);
  for (const auto& s : specs) {
    auto lab = provider.lab(s.labId);
    ASSERT_TRUE(lab) << s.labId;
    EXPECT_EQ(lab->state, ObservedState::kRunning);
    auto rec = journal.lab(s.labId);
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->phase, LabPhase::kReady) << s.labId;
    EXPECT_EQ(rec->resourceId, lab->resourceId);
    ASSERT_EQ(rec->endpoints.size(), 1u);
    EXPECT_EQ(rec->endpoints[0].host, "127.0.0.1");
    // The vault's credentials reached the provider...
    auto creds = provider.credentialsOf(s.labId);
    ASSERT_TRUE(creds);
    EXPECT_EQ(creds->password.reveal(), "pw-" + s.trainee + "-s3cret");
  }
  // ...and never an event.
  for (const auto& line : sink.lines()) EXPECT_EQ(line.find("s3cret"), std::string::npos) << line;
  EXPECT_EQ(sink.count(EventKind::kReady), 20);
  // The intent was journalled before the call and closed after it.
  auto ops = journal.operationsFor("c.t0007");
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].kind, AK::kCreate);
  EXPECT_EQ(ops[0].detail, "not created");
  EXPECT_TRUE(ops[0].ended);
  EXPECT_TRUE(ops[0].result.isOk());
}

TEST_F(ReconcilerTest, SecondRunOnAConvergedCohortDoesNothing) {
  auto specs = fakeCohortSpecs("c", 10);
  ASSERT_TRUE(run(specs).converged);
  provider.resetCounters();
  size_t opsBefore = journal.operations().size();

  auto report = run(specs);
  EXPECT_TRUE(report.converged);
  EXPECT_EQ(report.passes, 1);
  for (auto call : {FakeCall::kCreate, FakeCall::kStart, FakeCall::kStop, FakeCall::kDestroy, FakeCall::kProbe})
    EXPECT_EQ(provider.calls(call), 0) << fakeCallName(call);
  EXPECT_EQ(provider.calls(FakeCall::kList), 1);
  EXPECT_EQ(journal.operations().size(), opsBefore);
}

TEST_F(ReconcilerTest, RetryableErrorsAreRetriedWithExponentialBackoffThroughTheClock) {
  provider.failNext(FakeCall::kCreate, unavailableError("engine busy"), 3, "c.t0001");
  auto report = run(fakeCohortSpecs("c", 3));

  EXPECT_TRUE(report.converged);
  EXPECT_TRUE(report.failures.empty());
  EXPECT_EQ(provider.calls(FakeCall::kCreate, "c.t0001"), 4);
  EXPECT_EQ(report.retries, 3);
  EXPECT_EQ(clock.sleeps(), (std::vector<milliseconds>{100ms, 200ms, 400ms}));
  std::vector<Event> retries;
  for (const auto& e : sink.eventsFor("c.t0001"))
    if (e.kind == EventKind::kRetrying) retries.push_back(e);
  ASSERT_EQ(retries.size(), 3u);
  EXPECT_EQ(retries[2].attempt, 3);
  EXPECT_EQ(retries[2].delay, 400ms);
  EXPECT_EQ(retries[2].status.code(), Code::kUnavailable);
  EXPECT_EQ(describeEvent(retries[0]),
            "c.t0001: create attempt 1 failed (unavailable: engine busy), retrying in 100ms");
  EXPECT_EQ(journal.phase("c.t0001"), LabPhase::kReady);
}

TEST_F(ReconcilerTest, BackoffIsCappedAndJitterOnlyShortensIt) {
  options.maxAttempts = 7;
  options.jitter = 0.5;
  provider.failNext(FakeCall::kCreate, timeoutError("slow"), 6, "c.t0000");
  auto report = run(fakeCohortSpecs("c", 1));
  EXPECT_TRUE(report.converged);
  auto sleeps = clock.sleeps();
  const std::vector<int64_t> caps = {100, 200, 400, 800, 1000, 1000};
  ASSERT_EQ(sleeps.size(), caps.size());
  for (size_t i = 0; i < caps.size(); ++i) {
    EXPECT_LE(sleeps[i].count(), caps[i]) << i;
    EXPECT_GE(sleeps[i].count(), caps[i] / 2) << i;
  }
}

TEST_F(ReconcilerTest, RetriesExhaustedAreRecordedOnceAndNotRetriedInLaterPasses) {
  options.maxAttempts = 3;
  provider.failNext(FakeCall::kCreate, unavailableError("engine down"), FakeProvider::kForever, "c.t0000");
  auto report = run(fakeCohortSpecs("c", 2));

  EXPECT_FALSE(report.converged);
  EXPECT_EQ(provider.calls(FakeCall::kCreate, "c.t0000"), 3);
  ASSERT_EQ(report.failures.count("c.t0000"), 1u);
  EXPECT_EQ(report.failures.at("c.t0000").toString(), "unavailable: after 3 attempts: engine down");
  auto rec = journal.lab("c.t0000");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->errorsRecorded, 1);
  EXPECT_EQ(rec->phase, LabPhase::kFailed);
  EXPECT_EQ(journal.phase("c.t0001"), LabPhase::kReady);
}

TEST_F(ReconcilerTest, TerminalErrorIsReportedOnceAndNeverRetried) {
  options.maxPasses = 5;
  provider.failNext(FakeCall::kCreate, invalidError("memory cap too large"), FakeProvider::kForever, "c.t0002");
  auto report = run(fakeCohortSpecs("c", 5));

  EXPECT_EQ(provider.calls(FakeCall::kCreate, "c.t0002"), 1);
  EXPECT_EQ(report.retries, 0);
  EXPECT_TRUE(clock.sleeps().empty());
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_EQ(report.failures.at("c.t0002").code(), Code::kInvalid);
  EXPECT_EQ(report.failedCount(AK::kCreate), 1);
  EXPECT_EQ(report.count(AK::kCreate), 4);
  EXPECT_FALSE(report.converged);
  EXPECT_EQ(report.passes, 2);  // the second pass had only the failed lab left
  EXPECT_EQ(journal.lab("c.t0002")->errorsRecorded, 1);
  EXPECT_EQ(journal.lab("c.t0002")->lastError->message(), "memory cap too large");
  EXPECT_EQ(sink.count(EventKind::kFailed), 1);
  auto ops = journal.operationsFor("c.t0002");
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].result.code(), Code::kInvalid);
}

TEST_F(ReconcilerTest, HungCallIsCutOffAtItsDeadlineAndCountedAsTimeout) {
  options.callTimeout = 150ms;
  options.maxAttempts = 2;
  provider.hangNext(FakeCall::kCreate, FakeProvider::kForever, "c.t0000");
  auto start = std::chrono::steady_clock::now();
  Reconciler r(provider, journal, &sink, options, clock);
  auto report = r.run(journal.planned(fakeCohortSpecs("c", 5), DS::kRunning), LabelSelector::cohort("c"));
  auto elapsed = std::chrono::steady_clock::now() - start;

  ASSERT_EQ(report.failures.count("c.t0000"), 1u);
  EXPECT_EQ(report.failures.at("c.t0000").toString(),
            "timeout: after 2 attempts: create did not return within 150ms");
  EXPECT_EQ(report.timeouts, 2);
  EXPECT_EQ(report.count(AK::kCreate), 4);  // the others were not held up
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 3s);
  EXPECT_EQ(provider.hungCalls(), 2);  // still running in the provider...
  EXPECT_EQ(r.abandonedCalls(), 2);   // ...and known to be abandoned

  provider.releaseHangs();
  ASSERT_TRUE(provider.waitIdle(2s));
  for (int i = 0; i < 200 && r.abandonedCalls() > 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(r.abandonedCalls(), 0);
  // Both abandoned creates finished late: still one resource for the lab.
  EXPECT_EQ(provider.resourcesCreated(), 5);
}

TEST_F(ReconcilerTest, ParallelismBoundIsNeverExceeded) {
  options.parallelism = 4;
  provider.delayNext(FakeCall::kCreate, 20ms);
  provider.delayNext(FakeCall::kProbe, 2ms);
  auto report = run(fakeCohortSpecs("c", 50));
  EXPECT_TRUE(report.converged);
  EXPECT_EQ(report.count(AK::kCreate), 50);
  // Bound respected, and actually used.
  EXPECT_EQ(provider.maxInFlight(), 4);
}

TEST_F(ReconcilerTest, ParallelismDefaultsToTheProvidersMaxParallel) {
  options.parallelism = 0;
  ProviderInfo info = FakeProvider::defaultInfo();
  info.maxParallel = 3;
  FakeProvider three(info);
  three.delayNext(FakeCall::kCreate, 10ms);
  Reconciler r(three, journal, &sink, options, clock);
  EXPECT_EQ(r.parallelism(), 3);
  auto report = r.run(journal.planned(fakeCohortSpecs("c", 20), DS::kRunning), LabelSelector::cohort("c"));
  EXPECT_TRUE(report.converged);
  EXPECT_LE(three.maxInFlight(), 3);
}

TEST_F(ReconcilerTest, AbandonedCallsStillCountAgainstTheBound) {
  // A wedged provider is never sent more than `parallelism` calls.
  options.parallelism = 3;
  options.callTimeout = 100ms;
  options.maxAttempts = 1;
  provider.hangNext(FakeCall::kCreate, FakeProvider::kForever, "c.t0000");
  provider.hangNext(FakeCall::kCreate, FakeProvider::kForever, "c.t0001");
  provider.delayNext(FakeCall::kCreate, 5ms);
  auto report = run(fakeCohortSpecs("c", 12));
  EXPECT_LE(provider.maxInFlight(), 3);
  EXPECT_EQ(report.count(AK::kCreate), 10);
  EXPECT_EQ(report.failures.size(), 2u);
  EXPECT_EQ(report.failures.at("c.t0001").code(), Code::kTimeout);
}

TEST_F(ReconcilerTest, AfterACrashLabelledLabsAreAdoptedNeverCreatedAgain) {
  auto specs = fakeCohortSpecs("c", 10);
  ASSERT_TRUE(run(specs).converged);

  // The process died: a new journal (store) knows nothing, the engine keeps its labs.
  provider.restart();
  MemoryJournal fresh;
  RecordingSink freshSink;
  Reconciler r(provider, fresh, &freshSink, options, clock);
  auto report = r.run(fresh.planned(specs, DS::kRunning), LabelSelector::cohort("c"));

  EXPECT_TRUE(report.converged);
  EXPECT_EQ(report.count(AK::kAdopt), 10);
  EXPECT_EQ(report.count(AK::kCreate), 0);
  EXPECT_EQ(provider.calls(FakeCall::kCreate), 0);
  EXPECT_EQ(provider.resourcesCreated(), 0);
  for (const auto& s : specs) {
    auto rec = fresh.lab(s.labId);
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->phase, LabPhase::kReady);
    EXPECT_EQ(rec->resourceId, provider.lab(s.labId)->resourceId);
    EXPECT_EQ(rec->endpoints, provider.lab(s.labId)->endpoints);
  }
}

TEST_F(ReconcilerTest, CrashBetweenCreateAndRecordIsAdoptedWithTheLabStillCreating) {
  // The engine made the lab (it is still starting) but the store never heard of it.
  auto spec = fakeLabSpec("c", "alice");
  ObservedLab made;
  made.labId = spec.labId;
  made.state = ObservedState::kCreating;
  made.labels = labelsForSpec(spec);
  provider.putLab(made);
  provider.notReadyFor(2, spec.labId);
  // While the reconciler probes, the engine finishes starting the lab.
  RecordingSink events([&](const Event& e) {
    if (e.kind == EventKind::kActionStarted) provider.setState(spec.labId, ObservedState::kRunning);
  });
  Reconciler r(provider, journal, &events, options, clock);
  auto report = r.run({journal.planned(spec, DS::kRunning)}, LabelSelector::cohort("c"));

  EXPECT_TRUE(report.converged);
  EXPECT_EQ(report.count(AK::kAdopt), 1);
  EXPECT_EQ(provider.calls(FakeCall::kCreate), 0);
  EXPECT_EQ(provider.calls(FakeCall::kProbe, spec.labId), 3);
  EXPECT_EQ(journal.phase(spec.labId), LabPhase::kReady);
  auto ops = journal.operationsFor(spec.labId);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].kind, AK::kAdopt);
  EXPECT_EQ(ops[0].detail, "found creating, store has it pending");
}

TEST_F(ReconcilerTest, GenerationChangeDestroysThenCreatesInTheNextPass) {
  auto v1 = fakeCohortSpecs("c", 3, 1);
  ASSERT_TRUE(run(v1).converged);
  auto v2 = fakeCohortSpecs("c", 3, 2);
  auto report = run(v2);

  EXPECT_TRUE(report.converged);
  EXPECT_EQ(report.passes, 3);  // destroy, create, nothing left
  EXPECT_EQ(report.count(AK::kDestroy), 3);
  EXPECT_EQ(report.count(AK::kCreate), 3);
  auto ops = journal.operationsFor("c.t0001");
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[1].kind, AK::kDestroy);
  EXPECT_EQ(ops[1].detail, "generation 1 → 2");
  EXPECT_EQ(ops[2].kind, AK::kCreate);
  EXPECT_EQ(provider.lab("c.t0001")->generation, 2);
  EXPECT_EQ(provider.lab("c.t0001")->labels.at(kLabelGeneration), "2");
  EXPECT_EQ(provider.labs().size(), 3u);
}

TEST_F(ReconcilerTest, StopStartAndTeardown) {
  auto specs = fakeCohortSpecs("c", 4);
  ASSERT_TRUE(run(specs).converged);

  auto stopped = run(specs, DS::kStopped);
  EXPECT_TRUE(stopped.converged);
  EXPECT_EQ(stopped.count(AK::kStop), 4);
  EXPECT_EQ(provider.lab("c.t0000")->state, ObservedState::kStopped);
  EXPECT_EQ(journal.phase("c.t0000"), LabPhase::kStopped);

  auto started = run(specs, DS::kRunning);
  EXPECT_TRUE(started.converged);
  EXPECT_EQ(started.count(AK::kStart), 4);
  EXPECT_EQ(journal.phase("c.t0003"), LabPhase::kReady);
  EXPECT_EQ(provider.resourcesCreated(), 4);  // started, not re-created

  auto gone = run(specs, DS::kAbsent);
  EXPECT_TRUE(gone.converged);
  EXPECT_EQ(gone.count(AK::kDestroy), 4);
  EXPECT_TRUE(provider.labs().empty());
  EXPECT_EQ(journal.phase("c.t0002"), LabPhase::kDestroyed);
  EXPECT_EQ(journal.lab("c.t0002")->resourceId, "");
}

TEST_F(ReconcilerTest, FailedLabAtTheProviderIsReplaced) {
  auto specs = fakeCohortSpecs("c", 1);
  ASSERT_TRUE(run(specs).converged);
  provider.setState("c.t0000", ObservedState::kFailed, "exited with 137");
  auto report = run(specs);
  EXPECT_TRUE(report.converged);
  auto ops = journal.operationsFor("c.t0000");
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[1].kind, AK::kDestroy);
  EXPECT_EQ(ops[1].detail, "failed: exited with 137");
  EXPECT_EQ(ops[2].kind, AK::kCreate);
  EXPECT_EQ(provider.lab("c.t0000")->state, ObservedState::kRunning);
}

TEST_F(ReconcilerTest, ProviderWithoutStopStartDestroysLabsThatShouldStop) {
  ProviderInfo info = FakeProvider::defaultInfo();
  info.capabilities.stopStart = false;
  FakeProvider p(info);
  auto specs = fakeCohortSpecs("c", 2);
  {
    Reconciler r(p, journal, &sink, options, clock);
    ASSERT_TRUE(r.run(journal.planned(specs, DS::kRunning), LabelSelector::cohort("c")).converged);
  }
  Reconciler r(p, journal, &sink, options, clock);
  auto report = r.run(journal.planned(specs, DS::kStopped), LabelSelector::cohort("c"));
  EXPECT_TRUE(report.converged);
  EXPECT_EQ(report.count(AK::kDestroy), 2);
  EXPECT_EQ(p.calls(FakeCall::kStop), 0);
  EXPECT_TRUE(p.labs().empty());
}

TEST_F(ReconcilerTest, OrphansOfTheSelectorAreDestroyedOthersKept) {
  auto keep = fakeLabSpec("c", "alice");
  ObservedLab orphan;
  orphan.labId = "c.gone";
  orphan.state = ObservedState::kRunning;
  orphan.labels = labelsForSpec(fakeLabSpec("c", "gone"));
  provider.putLab(orphan);
  ObservedLab other;
  other.labId = "d.bob";
  other.state = ObservedState::kRunning;
  other.labels = labelsForSpec(fakeLabSpec("d", "bob"));
  provider.putLab(other);

  auto report = run({keep});
  EXPECT_TRUE(report.converged);
  EXPECT_EQ(report.count(AK::kDestroy), 1);
  EXPECT_FALSE(provider.lab("c.gone"));
  EXPECT_TRUE(provider.lab("d.bob"));  // another cohort: not ours to judge
  EXPECT_EQ(journal.operationsFor("c.gone").at(0).detail, "orphan");
}

TEST_F(ReconcilerTest, OrphansAreKeptWhenTurnedOffAndRefusedWithAnEmptySelector) {
  ObservedLab orphan;
  orphan.labId = "c.gone";
  orphan.state = ObservedState::kRunning;
  orphan.labels = labelsForSpec(fakeLabSpec("c", "gone"));
  provider.putLab(orphan);

  auto refused = run({fakeLabSpec("c", "alice")}, DS::kRunning, LabelSelector::all());
  EXPECT_EQ(refused.status.code(), Code::kInvalid);
  EXPECT_NE(refused.status.message().find("empty selector"), std::string::npos);
  EXPECT_EQ(provider.calls(FakeCall::kList), 0);

  options.destroyOrphans = false;
  auto report = run({fakeLabSpec("c", "alice")}, DS::kRunning, LabelSelector::all());
  EXPECT_TRUE(report.converged);
  EXPECT_TRUE(provider.lab("c.gone"));
}

TEST_F(ReconcilerTest, ReadinessIsProbedAtTheIntervalUntilReady) {
  provider.notReadyFor(3);
  auto report = run(fakeCohortSpecs("c", 1));
  EXPECT_TRUE(report.converged);
  EXPECT_EQ(provider.calls(FakeCall::kProbe), 4);
  EXPECT_EQ(clock.sleeps(), (std::vector<milliseconds>{500ms, 500ms, 500ms}));
}

TEST_F(ReconcilerTest, ReadinessTimeoutIsRecordedAndTheLabIsNotProbedAgain) {
  options.probeInterval = 1s;
  auto spec = fakeLabSpec("c", "alice");
  spec.readiness.timeout = std::chrono::seconds(5);
  provider.notReadyFor(FakeProvider::kForever);
  auto report = run({spec});

  ASSERT_EQ(report.failures.count(spec.labId), 1u);
  EXPECT_EQ(report.failures.at(spec.labId).toString(), "timeout: not ready after 5s: not ready yet");
  EXPECT_EQ(provider.calls(FakeCall::kProbe), 6);  // at 0, 1, ..., 5 s of clock time
  EXPECT_EQ(journal.lab(spec.labId)->errorsRecorded, 1);
  EXPECT_EQ(journal.lab(spec.labId)->phase, LabPhase::kFailed);
  EXPECT_EQ(provider.resourcesCreated(), 1);
}

TEST_F(ReconcilerTest, ProbeThatSaysNeverFailsAtOnce) {
  provider.setCreateState(ObservedState::kFailed);
  auto report = run(fakeCohortSpecs("c", 1));
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_EQ(report.failures.begin()->second.code(), Code::kInternal);
  EXPECT_EQ(report.failures.begin()->second.message(), "readiness: lab failed: ");
  EXPECT_EQ(provider.calls(FakeCall::kProbe), 1);
}

TEST_F(ReconcilerTest, CancelStopsStartingActionsAndReturnsPromptly) {
  options.parallelism = 2;
  provider.delayNext(FakeCall::kCreate, 50ms);
  Reconciler r(provider, journal, &sink, options, clock);
  std::thread canceller([&] {
    std::this_thread::sleep_for(120ms);
    r.cancel();
  });
  auto start = std::chrono::steady_clock::now();
  auto report = r.run(journal.planned(fakeCohortSpecs("c", 40), DS::kRunning), LabelSelector::cohort("c"));
  auto elapsed = std::chrono::steady_clock::now() - start;
  canceller.join();

  EXPECT_TRUE(report.cancelled);
  EXPECT_FALSE(report.converged);
  EXPECT_LT(elapsed, 600ms);  // uncancelled it takes 40 * 50ms / 2 = 1 s
  EXPECT_LT(provider.calls(FakeCall::kCreate), 20);
  EXPECT_TRUE(report.failures.empty());  // cancelling is not the labs' fault
  for (const auto& op : journal.operations()) EXPECT_NE(op.labId, "");
  // Every action that started has exactly one outcome.
  EXPECT_EQ(sink.count(EventKind::kActionStarted),
            sink.count(EventKind::kReady) + sink.count(EventKind::kCancelled) + sink.count(EventKind::kFailed));
}

TEST_F(ReconcilerTest, CancelCutsAHungCallShort) {
  options.callTimeout = 30s;
  provider.hangNext(FakeCall::kCreate, FakeProvider::kForever);
  Reconciler r(provider, journal, &sink, options, clock);
  std::thread canceller([&] {
    provider.waitForHung(2, 2s);  // both labs are stuck in create
    r.cancel();
  });
  auto start = std::chrono::steady_clock::now();
  auto report = r.run(journal.planned(fakeCohortSpecs("c", 2), DS::kRunning), LabelSelector::cohort("c"));
  auto elapsed = std::chrono::steady_clock::now() - start;
  canceller.join();
  EXPECT_TRUE(report.cancelled);
  EXPECT_LT(elapsed, 1s);
  EXPECT_TRUE(report.failures.empty());
  EXPECT_EQ(sink.count(EventKind::kCancelled), 2);
  EXPECT_EQ(journal.phase("c.t0000"), LabPhase::kPending);
}

TEST_F(ReconcilerTest, ReconcilerMayBeDestroyedWhileAnAbandonedCallRuns) {
  options.callTimeout = 100ms;
  options.maxAttempts = 1;
  provider.hangNext(FakeCall::kCreate);
  {
    Reconciler r(provider, journal, &sink, options, clock);
    auto report = r.run(journal.planned(fakeCohortSpecs("c", 1), DS::kRunning), LabelSelector::cohort("c"));
    EXPECT_EQ(report.failures.at("c.t0000").code(), Code::kTimeout);
    EXPECT_EQ(r.abandonedCalls(), 1);
  }
  EXPECT_EQ(provider.hungCalls(), 1);
  provider.releaseHangs();  // the call returns to a reconciler that is gone
  EXPECT_TRUE(provider.waitIdle(2s));
  EXPECT_EQ(provider.resourcesCreated(), 1);  // the late create did its work; a next run adopts it
  auto report = run(fakeCohortSpecs("c", 1));
  EXPECT_EQ(report.count(AK::kAdopt), 1);
  EXPECT_EQ(provider.resourcesCreated(), 1);
}

TEST_F(ReconcilerTest, JournalFailureStopsTheCallBeforeTheProviderIsTouched) {
  journal.failAll(internalError("disk full"));
  auto report = run(fakeCohortSpecs("c", 2));
  EXPECT_EQ(provider.calls(FakeCall::kCreate), 0);
  ASSERT_EQ(report.failures.size(), 2u);
  EXPECT_EQ(report.failures.at("c.t0000").message().rfind("journal: disk full", 0), 0u)
      << report.failures.at("c.t0000").message();
}

TEST_F(ReconcilerTest, JournalAndEventCallsAreSerialised) {
  journal.setCallDelay(1ms);
  provider.delayNext(FakeCall::kCreate, 2ms);
  auto report = run(fakeCohortSpecs("c", 16));
  EXPECT_TRUE(report.converged);
  EXPECT_EQ(journal.maxConcurrentCalls(), 1);
}

TEST_F(ReconcilerTest, ListFailureEndsTheRunWithThatError) {
  options.maxAttempts = 2;
  provider.failNext(FakeCall::kList, unavailableError("engine down"), FakeProvider::kForever);
  auto report = run(fakeCohortSpecs("c", 2));
  EXPECT_EQ(report.status.toString(), "unavailable: listing labs: after 2 attempts: engine down");
  EXPECT_EQ(provider.calls(FakeCall::kCreate), 0);
  EXPECT_EQ(sink.lines().at(0), "list attempt 1 failed (unavailable: engine down), retrying in 100ms");
}

TEST_F(ReconcilerTest, CredentialsErrorFailsTheLabWithoutCreatingIt) {
  options.credentials = [](const LabSpec& s) -> Result<LabCredentials> {
    if (s.trainee == "t0001") return deniedError("vault is locked");
    return testCredentials(s);
  };
  auto report = run(fakeCohortSpecs("c", 2));
  EXPECT_EQ(report.failures.at("c.t0001").toString(), "denied: credentials: vault is locked");
  EXPECT_EQ(provider.calls(FakeCall::kCreate, "c.t0001"), 0);
  EXPECT_EQ(journal.phase("c.t0000"), LabPhase::kReady);
}

TEST_F(ReconcilerTest, InvalidInputIsRefusedBeforeAnyCall) {
  auto a = fakeLabSpec("c", "alice");
  auto dup = run({a, a});
  EXPECT_EQ(dup.status.toString(), "invalid: lab c.alice is planned twice");
  auto other = run({fakeLabSpec("d", "bob")});
  EXPECT_EQ(other.status.toString(), "invalid: lab d.bob does not match the selector, so it would never be observed");
  EXPECT_EQ(provider.calls(FakeCall::kList), 0);
}

TEST_F(ReconcilerTest, EventsTellTheStoryOfARun) {
  provider.failNext(FakeCall::kCreate, unavailableError("busy"), 1, "c.t0000");
  options.parallelism = 1;  // one line after the other
  auto report = run(fakeCohortSpecs("c", 2));
  ASSERT_TRUE(report.converged);
  EXPECT_EQ(sink.lines(), (std::vector<std::string>{
                              "pass 1: 2 actions",
                              "c.t0000: create (not created)",
                              "c.t0000: create attempt 1 failed (unavailable: busy), retrying in 100ms",
                              "c.t0000: ready ssh=127.0.0.1:20010",
                              "c.t0001: create (not created)",
                              "c.t0001: ready ssh=127.0.0.1:20020",
                              "pass 1: 2 done, 0 failed of 2 actions",
                          }));
}

}  // namespace
}  // namespace darasa
