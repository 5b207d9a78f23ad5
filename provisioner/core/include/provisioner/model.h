// The core model of darasa: what a lab should be (LabSpec, rendered from a
// template for one trainee), what a provider reports (ObservedLab), and what
// the state store keeps about cohorts, trainees and labs.
// Plain value types; not synchronised.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "provisioner/secret.h"

namespace darasa {

using Labels = std::map<std::string, std::string>;

// Label keys every provider resource carries.
inline constexpr const char* kLabelLab = "darasa.lab";
inline constexpr const char* kLabelCohort = "darasa.cohort";
inline constexpr const char* kLabelTrainee = "darasa.trainee";
inline constexpr const char* kLabelGeneration = "darasa.generation";
inline constexpr const char* kLabelTemplateHash = "darasa.template-hash";
// Which darasa state made the resource (a random id per state directory), so
// that gc of one state never touches the labs of another on a shared engine.
inline constexpr const char* kLabelState = "darasa.state";

// Resource caps of one lab. 0 means "not set" (no cap).
struct Resources {
  int64_t cpuMillis = 0;    // 1 CPU = 1000; "500m" = 500
  int64_t memoryBytes = 0;  // "512Mi" = 536870912
  int64_t pids = 0;
  int64_t diskBytes = 0;
  bool operator==(const Resources&) const = default;
};

struct PortSpec {
  std::string name;             // "ssh"
  int port = 0;                 // the port inside the lab, 1..65535
  std::string protocol = "tcp"; // tcp | http | https
  bool operator==(const PortSpec&) const = default;
};

struct AccessSpec {
  std::string user = "trainee";
  bool password = true;  // a generated password is handed out
  bool sshKey = true;    // a generated Ed25519 key pair is handed out
  bool operator==(const AccessSpec&) const = default;
};

struct ReadinessSpec {
  std::string tcpPort;            // name of a PortSpec whose port must accept
  std::vector<std::string> exec;  // or a command that must exit 0 inside the lab
  std::chrono::seconds timeout{120};
  bool operator==(const ReadinessSpec&) const = default;
};

struct LifetimeSpec {
  std::chrono::seconds idleTimeout{0};  // 0: never culled
  std::chrono::seconds maxDuration{0};  // 0: unlimited
  bool operator==(const LifetimeSpec&) const = default;
};

enum class NetworkMode { kNone, kIsolated, kCohort, kHost };
const char* networkModeName(NetworkMode m);                       // "none", ...
std::optional<NetworkMode> networkModeFromName(const std::string& s);

// Credentials as injected into a lab at creation. Never logged.
struct LabCredentials {
  std::string user;
  Secret password;              // plain text, for providers that must set it
  std::string passwordHash;     // crypt(3) SHA-512 "$6$..." of password
  std::string authorizedKey;    // "ssh-ed25519 AAAA... darasa:<lab>"
};

// One trainee's lab, fully rendered from the cohort's frozen template snapshot.
// This is what crosses the provider boundary (and the plugin protocol).
struct LabSpec {
  std::string labId;         // "<cohort>.<trainee>", stable across generations
  std::string cohort;
  std::string trainee;
  int64_t generation = 1;
  std::string templateName;
  std::string templateHash;  // hash of the frozen snapshot
  std::string provider;      // "local", "docker", ...

  std::string image;                    // container/VM image; "" for local
  std::vector<std::string> command;     // argv; "" = image default / provider default
  std::map<std::string, std::string> env;
  std::string workdir;
  std::string user;                     // the OS user the lab's command runs as
  Resources resources;
  std::vector<PortSpec> ports;
  AccessSpec access;
  ReadinessSpec readiness;
  LifetimeSpec lifetime;
  NetworkMode network = NetworkMode::kIsolated;
  std::map<std::string, std::string> providerOptions;  // spec.options, provider-specific
  Labels labels;  // the darasa.* labels above, plus template labels

  // Filled by the core just before create; empty in rendered/stored specs.
  LabCredentials credentials;
};

// Where a trainee reaches a lab port from the host.
struct Endpoint {
  std::string name;      // the PortSpec name
  std::string protocol;  // tcp | http | https
  std::string host;      // "127.0.0.1"
  int port = 0;
  bool operator==(const Endpoint&) const = default;
};

// What a provider reports about one of its resources.
enum class ObservedState { kCreating, kRunning, kStopped, kFailed, kUnknown };
const char* observedStateName(ObservedState s);

struct ObservedLab {
  std::string labId;
  std::string resourceId;  // the provider's own id (container id, pid, domain uuid)
  ObservedState state = ObservedState::kUnknown;
  Labels labels;
  std::vector<Endpoint> endpoints;
  int64_t generation = 0;  // from the darasa.generation label; 0 if absent
  std::string detail;      // human readable, e.g. "exited with 137"
};

// What the core wants a lab to be.
enum class DesiredState { kRunning, kStopped, kAbsent };
const char* desiredStateName(DesiredState s);
std::optional<DesiredState> desiredStateFromName(const std::string& s);

// The core's view of a lab's life, stored per lab.
enum class LabPhase {
  kPending,    // known, nothing asked of the provider yet
  kCreating,   // create called, not ready yet
  kReady,      // running and the readiness probe passed
  kStopped,
  kDestroyed,  // gone (absent and confirmed)
  kFailed,     // a terminal error; lastError says why
};
const char* labPhaseName(LabPhase p);
std::optional<LabPhase> labPhaseFromName(const std::string& s);

struct Trainee {
  std::string id;
  std::string name;
  std::string email;
  bool operator==(const Trainee&) const = default;
};

}  // namespace darasa
