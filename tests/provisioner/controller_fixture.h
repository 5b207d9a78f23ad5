// Test harness for the daemon's Controller: a real SQLite store in a fresh
// directory (on tmpfs when there is one: the store fsyncs its intents, ~9 ms
// each on this machine's disk, and the simulations make thousands), a
// FakeProvider, a FakeClock, and cohorts built by hand as
// service_test.cpp builds them. Not thread-safe (one test thread).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fakes/fake_clock.h"
#include "fakes/fake_provider.h"
#include "provisioner/controller.h"
#include "provisioner/service.h"

namespace darasa::testing {

using namespace std::chrono_literals;
using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// A fresh directory, removed with its contents at the end.
class StateDir {
 public:
  StateDir() {
    std::filesystem::path base = std::filesystem::temp_directory_path();
    std::error_code ec;
    if (std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0) base = "/dev/shm";
    std::string tmpl = (base / "darasa-controller-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl);
    path_ = tmpl;
  }
  ~StateDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  StateDir(const StateDir&) = delete;
  StateDir& operator=(const StateDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline Clock::TimePoint utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0) {
  using namespace std::chrono;
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi};
}

// A cohort of n trainees on the fake provider; the schedule is left empty
// for the caller to fill in (timezone, sessions, leadTime, grace, between).
inline RenderedCohort fakeCohort(const std::string& name, int n) {
  RenderedCohort r;
  r.cohort.name = name;
  r.cohort.templateName = "shell";
  r.snapshot = {"shell", "sha256:shell", "{}"};
  for (auto& spec : fakeCohortSpecs(name, n)) {
    spec.templateHash = r.snapshot.hash;
    r.cohort.trainees.push_back({spec.trainee, "Trainee " + spec.trainee, spec.trainee + "@example.org"});
    r.labs.push_back(std::move(spec));
  }
  return r;
}

inline RenderedCohort scheduledCohort(const std::string& name, int n, const std::string& tz,
                                      std::vector<SessionSpec> sessions, BetweenSessions between,
                                      seconds leadTime = 15min, seconds grace = 10min) {
  RenderedCohort r = fakeCohort(name, n);
  r.cohort.timezone = tz;
  r.cohort.schedule.sessions = std::move(sessions);
  r.cohort.leadTime = leadTime;
  r.cohort.grace = grace;
  r.cohort.between = between;
  return r;
}

class ControllerHarness {
 public:
  explicit ControllerHarness(Clock::TimePoint start = FakeClock::defaultStart()) : clock_(start) {
    auto store = Store::open(dir_.path(), OpenMode::kCreate, clock_);
    if (!store) throw std::runtime_error(store.status().toString());
    store_ = std::move(store.value());
    auto fake = std::make_unique<FakeProvider>();
    fake_ = fake.get();
    if (!registry_.addInstance("fake", std::move(fake))) throw std::runtime_error("registry");
    service_ = std::make_unique<LabService>(*store_, registry_, clock_, "test");
  }

  // Settings that make a test quick and its failures immediate.
  static ControllerOptions fastOptions() {
    ControllerOptions o;
    o.actor = "test-daemon";
    o.callTimeout = std::chrono::seconds(5);
    o.maxAttempts = 1;
    o.initialBackoff = 1ms;
    o.probeInterval = 1ms;
    return o;
  }

  void apply(const RenderedCohort& r) {
    auto report = service_->apply({r, {}, false});
    ASSERT_TRUE(report) << report.status().toString();
  }

  Controller& start(ControllerOptions options = fastOptions()) {
    controller_.reset();
    controller_ = std::make_unique<Controller>(*store_, registry_, clock_, std::move(options));
    return *controller_;
  }
  Controller& controller() { return *controller_; }

  LabRecord lab(const std::string& id) {
    auto l = store_->getLab(id);
    EXPECT_TRUE(l) << id << ": " << l.status().toString();
    return l ? l.value() : LabRecord{};
  }

  // Labs of the cohort running at the provider and recorded ready in the store.
  int readyLabs(const std::string& cohort) {
    int n = 0;
    auto labs = store_->listLabs(cohort);
    if (!labs) return -1;
    for (const auto& l : labs.value()) {
      auto o = fake_->lab(l.labId);
      if (o && o->state == ObservedState::kRunning && l.phase == LabPhase::kReady) ++n;
    }
    return n;
  }
  // Labs stopped at the provider and in the store.
  int stoppedLabs(const std::string& cohort) {
    int n = 0;
    auto labs = store_->listLabs(cohort);
    if (!labs) return -1;
    for (const auto& l : labs.value()) {
      auto o = fake_->lab(l.labId);
      if (o && o->state == ObservedState::kStopped && l.phase == LabPhase::kStopped) ++n;
    }
    return n;
  }
  // Labs of the cohort that exist at the provider, in any state.
  int existingLabs(const std::string& cohort) {
    int n = 0;
    for (const auto& o : fake_->labs())
      if (o.labels.count(kLabelCohort) && o.labels.at(kLabelCohort) == cohort) ++n;
    return n;
  }
  int runningLabs(const std::string& cohort) {
    int n = 0;
    for (const auto& o : fake_->labs())
      if (o.labels.count(kLabelCohort) && o.labels.at(kLabelCohort) == cohort && o.state == ObservedState::kRunning)
        ++n;
    return n;
  }

  // A tick that must not report problems.
  TickReport cleanTick() {
    TickReport r = controller_->tick();
    EXPECT_TRUE(r.errors.empty()) << r.errors.front();
    return r;
  }

  StateDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  ProviderRegistry registry_;
  FakeProvider* fake_ = nullptr;
  std::unique_ptr<LabService> service_;
  std::unique_ptr<Controller> controller_;
};

}  // namespace darasa::testing
