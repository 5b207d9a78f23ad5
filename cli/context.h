// What every command shares: the global options, the state directory, the
// provider registry, the remote server (--server), error printing and exit
// codes. Not thread-safe.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "output.h"
#include "remote.h"
#include "provisioner/provider.h"
#include "provisioner/status.h"
#include "provisioner/store.h"

namespace darasa::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // failure while working
inline constexpr int kExitInvalid = 2;  // invalid input or usage

struct Globals {
  std::string stateDir;  // --state; "" = defaultStateDir()
  bool verbose = false;
  bool quiet = false;
  std::vector<std::string> templateDirs;  // --templates
  // Remote mode: --server / $DARASA_SERVER, with $DARASA_TOKEN and, for a
  // server whose certificate a private CA signed, $DARASA_CA_CERT.
  std::string server;
  std::string token;
  std::string serverCa;
};

class Context {
 public:
  explicit Context(Globals globals) : globals_(std::move(globals)) {}
  const Globals& globals() const { return globals_; }
  std::filesystem::path stateDir() const;
  // --state as a location: a PostgreSQL URL (then stateDir() is the
  // default directory, for local files) or a directory.
  StateLocation stateLocation() const;
  // Registry with the built-in providers, configured for the state dir.
  ProviderRegistry& registry();
  Result<std::unique_ptr<Store>> openStore(OpenMode mode) const;
  // "cli:<user>" for the audit log.
  std::string actor() const;

  // Whether commands go to a daemon (--server or $DARASA_SERVER is set).
  bool isRemote() const { return !globals_.server.empty(); }
  // The client for the daemon (made once); kInvalid for a bad URL.
  Result<Remote*> remote();

 private:
  Globals globals_;
  std::unique_ptr<ProviderRegistry> registry_;
  std::unique_ptr<Remote> remote_;
};

// For commands that only work on the local state: kInvalid naming the
// command when --server is set.
Status requireLocal(const Context& ctx, const std::string& command);

// A state-lock failure with, when `darasa serve` holds the state, where its
// API is (from <state>/daemon.json) and how to use it instead.
Status withDaemonHint(const Context& ctx, const Status& lockFailure);
// Whether `darasa serve` holds the lock of the state now.
bool daemonHoldsState(const Context& ctx);

// Prints "darasa: error: ..." to stderr and returns the exit code for it.
int fail(const Status& status);
int exitCodeFor(const Status& status);
bool stdoutIsTerminal();
bool stderrIsTerminal();

}  // namespace darasa::cli
