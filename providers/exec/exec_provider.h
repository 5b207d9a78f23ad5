// The exec provider: a Provider whose work is done by a plugin executable
// running as a child process, spoken to in JSON lines over its stdin/stdout
// (protocol "darasa-provider/1", docs/plugin-protocol.md). Thread-safe: calls
// are serialised, one request in flight per plugin process.
//
// Options (ProviderConfig.options):
//   path              the plugin executable (required)
//   args              extra arguments, separated by spaces (optional)
//   handshakeTimeout  milliseconds the handshake may take; default 10000
//   maxLineBytes      the longest line a plugin may write; default 1048576
//   any other option  passed to the plugin in the handshake's "config"
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "provisioner/provider.h"

namespace darasa::providers::exec {

// The protocol version darasa speaks, and the oldest one it still accepts.
inline constexpr int kProtocolVersion = 1;
inline constexpr int kMinProtocolVersion = 1;
// Executables named <kPluginPrefix>NAME on the plugin path are plugins "NAME".
inline constexpr const char* kPluginPrefix = "darasa-provider-";

// Makes the provider; does not start the plugin (that happens on the first
// call, and again on the next call after the plugin died or was killed).
// kInvalid when options lack "path".
Result<std::unique_ptr<Provider>> makeExecProvider(const ProviderConfig& config);

struct DiscoveredPlugin {
  std::string name;  // "procs" for darasa-provider-procs
  std::string path;  // absolute path of the executable
};

// Executables darasa-provider-NAME in the given directories, in order; the
// first directory that has a NAME wins. Missing directories are skipped.
std::vector<DiscoveredPlugin> discoverPlugins(const std::vector<std::string>& dirs);

// The default plugin path: $DARASA_HOME/plugins (if DARASA_HOME is set), then
// every directory of $PATH.
std::vector<std::string> defaultPluginDirs();

// Registers an exec provider factory for every discovered plugin whose name
// is not taken yet (names already in the registry — built-ins, or plugins
// named in the config — win and are skipped silently). The factory passes the
// registry's options for NAME to the plugin, with "path" set to the
// executable unless the config gave one.
Status registerPluginProviders(ProviderRegistry& registry, const std::vector<std::string>& pluginDirs);

// Registers one plugin by name and executable path (a plugin named in the
// daemon's config): the factory passes the registry's options for NAME with
// "path" set to `path`. kConflict if NAME is taken, kInvalid for a bad name.
Status registerNamedPlugin(ProviderRegistry& registry, const std::string& name, const std::string& path);

}  // namespace darasa::providers::exec
