// Chaos rounds (issue 17): a darasa process (`up`, `down`, `serve`) or a
// provider plugin process is killed with SIGKILL at a random moment of the
// command's real duration (measured first, in the same run), then the work
// is run again to completion and the provider's side is checked: never two
// resources for one lab at once, nothing labelled left after `down`, and the
// state agrees with what the provider runs.
//
// A Backend says how one provider's labelled resources are seen from
// outside darasa; adding a provider (LXD) is one more Backend in
// chaosBackends(). Not thread-safe: one round at a time per object.
#pragma once

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace darasa::chaos {

// What a provider holds for one cohort, seen from the provider's side.
struct Observation {
  // Lab id → the resources running it now (sandboxes, containers, lab
  // processes). More than one at any moment is a duplicate.
  std::map<std::string, int> running;
  // Every resource of the cohort that outlives a process ("network
  // darasa-x.t01", "dir labs/x.t01", "uid reservation uids/17 -> x.t01",
  // ...): after `down` this must be empty.
  std::vector<std::string> labelled;
};

class Backend {
 public:
  // provider: the name a template uses; templateSpec: the `spec:` body of a
  // LabTemplate for it, indented two spaces (provider, image, ports...).
  Backend(std::string provider, std::string templateSpec)
      : provider_(std::move(provider)), templateSpec_(std::move(templateSpec)) {}
  virtual ~Backend() = default;
  const std::string& provider() const { return provider_; }
  const std::string& templateSpec() const { return templateSpec_; }
  // Empty when the engine is usable here, else what is missing (the test
  // then fails under DARASA_REQUIRE_ENGINE=1 and is skipped otherwise).
  virtual std::string missing() const = 0;
  // Called once on a fresh state directory before anything runs.
  virtual void prepare(const std::string& /*stateDir*/) {}
  virtual Observation observe(const std::string& stateDir, const std::string& cohort) = 0;
  // The plugin process darasa (pid) talks to for this provider, or -1 when
  // the provider has none or it does not run at this moment.
  virtual int pluginPid(int /*darasaPid*/) { return -1; }

 private:
  std::string provider_, templateSpec_;
};

// Every backend, by provider name ("local", "docker", "procs").
std::unique_ptr<Backend> makeBackend(const std::string& provider);

// What a chaos test kills.
enum class Target {
  kUp,         // `darasa up COHORT`
  kDown,       // `darasa down COHORT`
  kServeUp,    // `darasa serve` while it provisions (POST .../up)
  kServeDown,  // `darasa serve` while it tears down (POST .../down)
  kPlugin,     // the provider's plugin process during `darasa up`
};
const char* targetName(Target t);

// The seed of this test process: $DARASA_CHAOS_SEED, else a random one.
// Printed by every test so that a failure can be replayed.
uint64_t chaosSeed();
// Kills per test: $DARASA_CHAOS_ROUNDS, else `dflt`.
int chaosRounds(int dflt);

// Kill moments spread over [0, duration): one uniform draw in each of n
// equal slices of the duration, in random order.
std::vector<double> spreadMoments(double durationSeconds, int n, std::mt19937_64& rng);

// Totals over one test, for its summary line.
struct Tally {
  int kills = 0;
  int missed = 0;       // kPlugin: no plugin process ran at the chosen moment
  int duplicates = 0;   // labs seen with two resources at once (once per round)
  int leaks = 0;        // resources left after a completed `down` (once per round)
  int disagreements = 0;  // state vs provider after a completed `up`/`down`
  std::vector<std::string> problems;  // what each of the above was, with its round
};

// One cohort on one state directory, driven through the real binary.
class ChaosLab {
 public:
  ChaosLab(Backend& backend, int trainees);
  ~ChaosLab();
  ChaosLab(const ChaosLab&) = delete;
  ChaosLab& operator=(const ChaosLab&) = delete;

  const std::string& cohort() const { return cohort_; }

  // `darasa up`/`down` run to completion (exit 0 expected, else a problem),
  // then the provider is checked. Returns the command's wall time.
  double upToCompletion(Tally& t, const std::string& round);
  double downToCompletion(Tally& t, const std::string& round);

  // Starts target at once, kills it (or its plugin) `atSeconds` later while
  // watching for duplicates, and reaps it. For the serve targets the moment
  // counts from the request that starts the work.
  void killDuring(Target target, double atSeconds, Tally& t, const std::string& round);
  // Finishes what a killed target left: the serve targets restart the
  // daemon and wait until it converged; the others run the CLI command.
  void recover(Target target, Tally& t, const std::string& round);
  // The uninterrupted duration of the work a target does (for the serve
  // targets: from the request until the labs are ready or gone).
  double measure(Target target, Tally& t);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string cohort_;
};

}  // namespace darasa::chaos
