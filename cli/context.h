// What every command shares: the global options, the state directory, the
// provider registry, error printing and exit codes. Not thread-safe.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "output.h"
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
};

class Context {
 public:
  explicit Context(Globals globals) : globals_(std::move(globals)) {}
  const Globals& globals() const { return globals_; }
  std::filesystem::path stateDir() const;
  // Registry with the built-in providers, configured for the state dir.
  ProviderRegistry& registry();
  Result<std::unique_ptr<Store>> openStore(OpenMode mode) const;
  // "cli:<user>" for the audit log.
  std::string actor() const;

 private:
  Globals globals_;
  std::unique_ptr<ProviderRegistry> registry_;
};

// Prints "darasa: error: ..." to stderr and returns the exit code for it.
int fail(const Status& status);
int exitCodeFor(const Status& status);
bool stdoutIsTerminal();
bool stderrIsTerminal();

}  // namespace darasa::cli
