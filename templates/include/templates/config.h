// The daemon's configuration file, darasa.yaml (apiVersion darasa/v1, kind
// DaemonConfig): read and checked with the same located diagnostics as
// template and cohort files (file:line:col, a caret, did-you-mean).
// Plain value types; every function is thread-safe and never throws.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "provisioner/provider.h"
#include "provisioner/usage.h"
#include "templates/diagnostic.h"

namespace darasa::templates {

inline constexpr const char* kDaemonConfigKind = "DaemonConfig";
inline constexpr const char* kDefaultListen = "127.0.0.1:8440";

// A provider plugin named in the config: registered under `name` with the
// exec provider, running the executable at `path`.
struct PluginConfig {
  std::string name;  // [a-z0-9-]+, the provider name cohorts use
  std::string path;  // absolute (relative paths are taken from the config file's directory)
  bool operator==(const PluginConfig&) const = default;
};

struct DaemonConfig {
  std::string sourceFile;  // the file it was read from ("" for the defaults)
  std::string stateDir;    // absolute; "" = the default state directory (or --state)
  // state: {url, vaultKey}. url "" = SQLite in stateDir; "postgresql://..."
  // = that database, shared by every daemon given the same url (one leads).
  std::string stateUrl;
  std::string vaultKeyFile;  // absolute; "" = <stateDir>/vault.key (daemons of one state share one key)

  // Where the API listens: host and port (0 = any free port, printed at start).
  std::string listenHost = "127.0.0.1";
  int listenPort = 8440;
  bool listenLoopback = true;  // false: reachable from other machines (warned about)
  std::string tlsCert;         // absolute PEM paths; both or neither
  std::string tlsKey;

  // The controller: the longest sleep between two ticks (work due earlier
  // wakes it sooner), how often every lab is looked at again, and the
  // reconciler's settings.
  std::chrono::milliseconds tick{std::chrono::seconds(10)};
  std::chrono::milliseconds resync{std::chrono::minutes(5)};
  int parallelism = 0;  // 0: each provider's own
  std::chrono::milliseconds callTimeout{std::chrono::seconds(120)};
  int maxAttempts = 3;
  std::chrono::milliseconds failureBackoff{std::chrono::seconds(30)};
  // On SIGTERM: how long calls in flight may take before they are abandoned.
  std::chrono::milliseconds shutdownTimeout{std::chrono::seconds(10)};

  size_t maxBodyBytes = 4u << 20;  // API request bodies larger than this: 413

  std::string logFile = "-";     // "-" = stderr; else an absolute path (appended to)
  std::string logLevel = "info";  // debug | info | warn | error

  // Per-provider options, handed to the provider's factory as strings
  // (docker: host; libvirt: uri; a plugin: anything it understands).
  std::map<std::string, std::map<std::string, std::string>> providers;
  // Admission control per provider (`capacity: {local: {maxLabs: 40, cpus: 16,
  // memory: 20Gi}}`), overriding what the provider reports; and prices per
  // provider (`prices: {docker: {labHour: 0.05, cpuHour: 0.02, gibHour: 0.01}}`)
  // for cohort budgets. Changing either needs a restart.
  std::map<std::string, ProviderCapacity> capacity;
  std::map<std::string, UsagePrices> prices;
  std::vector<PluginConfig> plugins;

  // "127.0.0.1:8440", "[::1]:8440".
  std::string listenAddress() const;
};

struct ConfigOptions {
  // Names `providers:` may configure besides the plugins the file names
  // itself. When both lists are empty, provider names are not checked.
  std::vector<std::string> builtinProviders;   // a plugin may not take these names
  std::vector<std::string> discoveredPlugins;  // found on the plugin path; the file's plugins may shadow them
};

struct ConfigLoad {
  std::optional<DaemonConfig> config;    // set when there is no error
  std::vector<Diagnostic> diagnostics;   // errors and warnings, in file order
  bool ok() const { return config.has_value(); }
};

// Reads and checks a darasa.yaml. Relative paths in it (stateDir, tls,
// log.file, plugin paths) are resolved against the file's directory. Errors
// for every mistake, each at its place: unknown keys (with a suggestion),
// wrong types, bad durations, sizes, addresses and levels, TLS files that do
// not exist, plugins that are not executable; a warning for a listen address
// other machines can reach.
ConfigLoad loadDaemonConfig(const std::string& path, const ConfigOptions& options = {});
// The same for content in memory; displayName names it in diagnostics and
// its directory is where relative paths are resolved.
ConfigLoad parseDaemonConfig(const std::string& displayName, const std::string& content,
                             const ConfigOptions& options = {});

// Parses "HOST:PORT" ("127.0.0.1:8440", "[::1]:0", "localhost:8440"): host,
// port, and whether the host is a loopback address. An error message
// (without location) when it is not an address.
struct ListenAddress {
  std::string host;
  int port = 0;
  bool loopback = false;
};
std::optional<ListenAddress> parseListenAddress(const std::string& text, std::string* error);

// What differs between two configs, for a reload (SIGHUP): settings applied
// live (log level and file, tick, shutdownTimeout), and settings that need a
// restart (listen address, TLS, state dir, reconcile settings, plugins and
// provider options: providers are registered once), each as a short phrase.
struct ConfigChanges {
  std::vector<std::string> live;
  std::vector<std::string> needRestart;
};
ConfigChanges diffDaemonConfig(const DaemonConfig& before, const DaemonConfig& after);

}  // namespace darasa::templates
