// FakeProvider: an in-memory Provider for tests, with labs that carry labels,
// scriptable faults per call kind and per lab (fail N times, hang until
// released, delay), readiness that can lag, and counters (calls, calls in
// flight at once). Thread-safe. Its state outlives the object for calls still
// running (a hung call abandoned by the reconciler may return after the test
// destroyed the fake); the destructor releases every hung call.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "provisioner/model.h"
#include "provisioner/provider.h"
#include "provisioner/status.h"

namespace darasa {

enum class FakeCall { kUsable, kValidate, kCreate, kInspect, kList, kStart, kStop, kDestroy, kProbe, kExec };
inline constexpr int kFakeCallCount = 10;
const char* fakeCallName(FakeCall call);

// A spec as the template renderer would make it: labId "<cohort>.<trainee>",
// the darasa.* labels, one ssh port, tcp readiness on it (timeout 60 s).
LabSpec fakeLabSpec(const std::string& cohort, const std::string& trainee, int64_t generation = 1);
// n specs, trainees "t0000", "t0001", ...
std::vector<LabSpec> fakeCohortSpecs(const std::string& cohort, int n, int64_t generation = 1);

class FakeProvider : public Provider {
 public:
  static constexpr int kForever = -1;

  // name "fake", kind kOther, capabilities stopStart and exec, maxParallel 4.
  static ProviderInfo defaultInfo();
  explicit FakeProvider(ProviderInfo info = defaultInfo());
  ~FakeProvider() override;
  FakeProvider(const FakeProvider&) = delete;
  FakeProvider& operator=(const FakeProvider&) = delete;

  // --- Provider. Calls hit scripted faults first (see below), then act on
  // the in-memory labs as the contract says (create is idempotent, destroy of
  // a missing lab succeeds, start/stop need capabilities.stopStart, exec
  // needs capabilities.exec and answers exit 0 with argv joined).
  ProviderInfo info() const override;
  Status usable() override;
  Status validate(const LabSpec& spec) override;
  Result<ObservedLab> create(const LabSpec& spec, const Deadline& deadline) override;
  Result<ObservedLab> inspect(const std::string& labId, const Deadline& deadline) override;
  Result<std::vector<ObservedLab>> list(const LabelSelector& selector, const Deadline& deadline) override;
  Status start(const std::string& labId, const Deadline& deadline) override;
  Status stop(const std::string& labId, const Deadline& deadline) override;
  Status destroy(const std::string& labId, const Deadline& deadline) override;
  // Ok for a running lab once its not-ready count (notReadyFor) is used up;
  // kUnavailable for creating/unknown labs and while not ready; kInvalid for
  // stopped, kInternal for failed labs, kNotFound for missing ones.
  Status probe(const LabSpec& spec, const Deadline& deadline) override;
  Result<ExecResult> exec(const std::string& labId, const std::vector<std::string>& argv,
                          const Deadline& deadline) override;
  // What setActivity gave for the lab; kNotSupported when nothing was set
  // (like a provider that cannot tell), kNotFound for a missing lab.
  Result<LabActivity> activity(const std::string& labId, const Deadline& deadline) override;
  // setCapacity's value; without one, the default (this host's).
  Result<ProviderCapacity> capacity() override;

  // --- Faults. A fault applies to the next `times` calls of that kind
  // (kForever: all of them) for labId ("" = any lab; list and usable have no
  // lab). Faults are tried in the order they were added; the first that
  // matches is used up by one.
  // The call returns `error` (nothing is done).
  void failNext(FakeCall call, Status error, int times = 1, const std::string& labId = "");
  // The call blocks, ignoring its deadline, until releaseHangs() or the
  // destructor, and then does its work as usual.
  void hangNext(FakeCall call, int times = 1, const std::string& labId = "");
  // The call sleeps d (real time), then does its work.
  void delayNext(FakeCall call, std::chrono::milliseconds d, int times = kForever,
                 const std::string& labId = "");
  // probe answers kUnavailable "not ready yet" this many times per lab
  // (kForever: never ready) before it looks at the lab; labId "" sets it for
  // every lab and restarts every lab's count.
  void notReadyFor(int probes, const std::string& labId = "");
  void clearFaults();
  // Lets every call hung now go on.
  void releaseHangs();
  int hungCalls() const;
  // Waits (real time) until at least n calls hang; false on timeout.
  bool waitForHung(int n, std::chrono::milliseconds timeout) const;
  // Waits until no call is in flight; false on timeout.
  bool waitIdle(std::chrono::milliseconds timeout) const;

  // --- The engine's state, as a test sees or changes it behind the core's back.
  // Puts a lab as if an earlier process had made it (adoption tests). The
  // darasa.lab label is filled from labId when missing; resourceId is made
  // up when empty.
  void putLab(ObservedLab lab);
  void setState(const std::string& labId, ObservedState state, const std::string& detail = "");
  void removeLab(const std::string& labId);
  // What activity() reports for the lab from now on.
  void setActivity(const std::string& labId, LabActivity activity);
  void setCapacity(ProviderCapacity capacity);
  // The state new labs start in (default kRunning).
  void setCreateState(ObservedState state);
  std::optional<ObservedLab> lab(const std::string& labId) const;
  std::vector<ObservedLab> labs() const;  // sorted by lab id
  // The credentials create received for the lab (the latest).
  std::optional<LabCredentials> credentialsOf(const std::string& labId) const;

  // A "restart" of the engine's client: faults and counters are cleared,
  // labs persist (so that a new reconciler finds them and adopts them).
  void restart();

  // --- Counters.
  int calls(FakeCall call) const;
  int calls(FakeCall call, const std::string& labId) const;
  // Resources made (idempotent creates of an existing lab do not count).
  // Counters count since construction, restart() or resetCounters().
  int resourcesCreated() const;
  int inFlight() const;          // calls inside the fake now, hung ones included
  int maxInFlight() const;       // the most calls inside the fake at once
  void resetCounters();

  struct State;  // shared with calls in flight (fake_provider.cpp)

 private:
  std::shared_ptr<State> state_;
};

}  // namespace darasa
