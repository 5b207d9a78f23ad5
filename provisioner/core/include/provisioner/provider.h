// The provider contract: the plugin boundary between the core and whatever
// runs labs (sandboxed processes, containers, VMs, out-of-process plugins).
// Every call is idempotent and carries a deadline. Implementations must be
// safe to call from several threads at once (the reconciler runs calls in
// parallel, up to ProviderInfo::maxParallel).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "provisioner/clock.h"
#include "provisioner/model.h"
#include "provisioner/status.h"

namespace darasa {

// A point in (steady) time by which a call must have returned.
class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Deadline(Clock::time_point at) : at_(at) {}
  static Deadline after(std::chrono::milliseconds d) { return Deadline(Clock::now() + d); }
  static Deadline never() { return Deadline(Clock::time_point::max()); }
  Clock::time_point at() const { return at_; }
  bool expired() const { return Clock::now() >= at_; }
  // Time left, never negative; capped at one day so it can be added to now().
  std::chrono::milliseconds remaining() const;
  // The earlier of this deadline and now + d.
  Deadline capped(std::chrono::milliseconds d) const;

 private:
  Clock::time_point at_;
};

enum class ProviderKind { kProcess, kContainer, kVm, kOther };
const char* providerKindName(ProviderKind k);

struct ProviderCapabilities {
  bool stopStart = false;  // stop() keeps the lab's data and start() resumes it
  bool exec = false;       // exec() runs commands inside a lab
  bool reset = false;      // destroy+create gives a clean lab with the same id
};

struct ProviderInfo {
  std::string name;         // "local", "docker"
  ProviderKind kind = ProviderKind::kOther;
  std::string version;      // of the provider (and engine, when known)
  ProviderCapabilities capabilities;
  int maxParallel = 4;      // calls worth running at once on this provider
};

// Matches labels by equality on every listed key ({} matches everything that
// carries a darasa.lab label).
struct LabelSelector {
  Labels equals;
  bool matches(const Labels& labels) const;
  static LabelSelector all() { return {}; }
  static LabelSelector cohort(const std::string& name);
};

struct ExecResult {
  int exitCode = 0;
  std::string output;  // stdout and stderr, interleaved, possibly truncated
};

// What a lab is doing, for idle culling and the usage ledger.
struct LabActivity {
  // The last time the lab showed activity: traffic on its access ports, a
  // new connection, CPU use above the provider's noise floor. Unset: unknown.
  std::optional<Clock::TimePoint> lastActive;
  int openConnections = -1;  // connections open now on its access ports; -1 unknown. >0 = active now
  int64_t cpuMillis = -1;    // CPU time used since the lab (re)started, ms; -1 unknown
  int64_t memoryBytes = -1;  // memory in use now; -1 unknown
  std::string source;        // how it was measured, for `status` ("proxy traffic", "engine stats")
};

// How much a provider may run at once (admission control, issue 8). 0 = no cap.
struct ProviderCapacity {
  int64_t maxLabs = 0;
  int64_t cpuMillis = 0;    // total CPUs × 1000 the labs may ask for
  int64_t memoryBytes = 0;  // total memory the labs may ask for
  std::string source;       // "host: 2 CPUs, 23.5 GiB" / "config"
};

class Provider {
 public:
  virtual ~Provider() = default;

  virtual ProviderInfo info() const = 0;

  // Whether this provider can work on this machine; a not-ok status says why
  // and what to do (e.g. "bubblewrap is not installed: apt-get install bubblewrap").
  virtual Status usable() = 0;

  // Problems with a spec before anything is created (kInvalid with a message
  // naming the field), e.g. a memory cap the host cannot give.
  virtual Status validate(const LabSpec& spec) = 0;

  // Creates the lab and starts it. Idempotent: if a resource for spec.labId
  // exists already it is returned as it is (whatever its state), and no
  // second resource is made. The returned endpoints are where the lab's
  // ports are reachable from this host.
  virtual Result<ObservedLab> create(const LabSpec& spec, const Deadline& deadline) = 0;

  // The lab's current state; kNotFound if there is no resource for labId.
  virtual Result<ObservedLab> inspect(const std::string& labId, const Deadline& deadline) = 0;

  // All darasa-labelled resources of this provider that match the selector,
  // whoever made them (for adoption after a crash and for gc).
  virtual Result<std::vector<ObservedLab>> list(const LabelSelector& selector,
                                                const Deadline& deadline) = 0;

  // Starts a stopped lab; ok if it is running already; kNotFound if missing.
  virtual Status start(const std::string& labId, const Deadline& deadline);
  // Stops a lab, keeping its data; ok if stopped already; kNotFound if missing.
  virtual Status stop(const std::string& labId, const Deadline& deadline);

  // Removes the lab and everything the provider made for it. Destroying a
  // lab that does not exist succeeds.
  virtual Status destroy(const std::string& labId, const Deadline& deadline) = 0;

  // Ok when the lab passes its readiness check (spec.readiness), kUnavailable
  // while it does not yet, another code when it never will (e.g. exited).
  // The default checks that inspect() reports kRunning.
  virtual Status probe(const LabSpec& spec, const Deadline& deadline);

  // What the lab is doing now (see LabActivity). kNotFound if missing; the
  // default answers kNotSupported (the lab is then never culled as idle).
  virtual Result<LabActivity> activity(const std::string& labId, const Deadline& deadline);

  // The provider's capacity. The default: this host's memory (MemTotal:
  // memory is never promised twice) and its CPUs × kCpuOvercommit (a lab's
  // CPU limit is a ceiling the kernel enforces, not a reservation, and a
  // class of labs is mostly idle), no cap on the number of labs — right for
  // providers that run labs on this machine; remote ones override it, and
  // the daemon's config can set any of it per provider.
  static constexpr int kCpuOvercommit = 8;
  virtual Result<ProviderCapacity> capacity();

  // Runs argv inside the lab. kNotSupported unless capabilities.exec.
  virtual Result<ExecResult> exec(const std::string& labId, const std::vector<std::string>& argv,
                                  const Deadline& deadline);
};

// Configuration handed to a provider factory.
struct ProviderConfig {
  std::string name;                            // the name it is registered under
  std::string stateDir;                        // darasa's state directory
  std::map<std::string, std::string> options;  // from the config file
};

using ProviderFactory = std::function<Result<std::unique_ptr<Provider>>(const ProviderConfig&)>;

// Provider names → factories and, once made, instances. The CLI fills it
// (registerBuiltinProviders); the core never names a provider. Fill it (add,
// configure) from one thread before sharing it; get() may then be called
// from any thread (the daemon's API threads and its controller do), and the
// Provider pointers are shared (providers themselves are thread-safe).
class ProviderRegistry {
 public:
  // kConflict if the name is taken; kInvalid if it is not [a-z0-9-]+.
  Status add(const std::string& name, ProviderFactory factory, std::string description = "");
  bool has(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  std::string description(const std::string& name) const;
  // Options passed to the factory of `name` when it is made.
  void configure(const std::string& name, std::map<std::string, std::string> options);
  void setStateDir(std::string dir) { stateDir_ = std::move(dir); }
  // Makes (once) and returns the provider; kNotFound listing the known names.
  Result<Provider*> get(const std::string& name);
  // Only for tests: installs an already-made instance under `name`.
  Status addInstance(const std::string& name, std::unique_ptr<Provider> provider);

 private:
  struct Entry {
    ProviderFactory factory;
    std::string description;
    std::map<std::string, std::string> options;
    std::unique_ptr<Provider> instance;
  };
  std::map<std::string, Entry> entries_;
  std::string stateDir_;
  std::mutex getMu_;  // get() makes instances lazily
};

}  // namespace darasa
