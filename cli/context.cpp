#include "context.h"

#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "providers/builtin.h"
#include "provisioner/state_lock.h"

namespace darasa::cli {

std::filesystem::path Context::stateDir() const { return stateLocation().dir; }

StateLocation Context::stateLocation() const { return parseStateLocation(globals_.stateDir, defaultStateDir()); }

ProviderRegistry& Context::registry() {
  if (!registry_) {
    registry_ = std::make_unique<ProviderRegistry>();
    registry_->setStateDir(stateDir().string());
    auto s = providers::registerBuiltinProviders(*registry_);
    if (!s) std::cerr << "darasa: warning: " << s.message() << "\n";
    s = providers::registerPluginProviders(*registry_);
    if (!s) std::cerr << "darasa: warning: plugins: " << s.message() << "\n";
  }
  return *registry_;
}

Result<std::unique_ptr<Store>> Context::openStore(OpenMode mode) const { return Store::open(stateLocation(), mode); }

std::string Context::actor() const {
  const char* user = std::getenv("USER");
  if (!user || !*user) {
    if (passwd* pw = getpwuid(getuid())) user = pw->pw_name;
  }
  return std::string("cli:") + (user && *user ? user : std::to_string(getuid()));
}

Result<Remote*> Context::remote() {
  if (!remote_) {
    RemoteOptions o;
    o.url = globals_.server;
    o.token = globals_.token;
    o.caFile = globals_.serverCa;
    auto r = Remote::make(o);
    if (!r) return r.status();
    remote_ = std::move(r.value());
  }
  return remote_.get();
}

Status requireLocal(const Context& ctx, const std::string& command) {
  if (!ctx.isRemote()) return Status::ok();
  return invalidError("`darasa " + command + "` works on the local state only, not through --server " +
                      ctx.globals().server + " (run it on the server's machine, or unset DARASA_SERVER)");
}

bool daemonHoldsState(const Context& ctx) {
  auto holder = StateLock::currentHolder(ctx.stateDir());
  return holder && holder->has_value() && (*holder)->description.rfind("darasa serve", 0) == 0;
}

Status withDaemonHint(const Context& ctx, const Status& lockFailure) {
  if (lockFailure.isOk() || lockFailure.message().find("darasa serve") == std::string::npos) return lockFailure;
  std::ifstream in(ctx.stateDir() / "daemon.json");
  auto j = nlohmann::json::parse(in, nullptr, false);
  std::string url = j.is_object() ? j.value("url", "") : "";
  if (url.empty()) return lockFailure;
  return Status(lockFailure.code(), lockFailure.message() + "\n  the daemon serves this state at " + url +
                                        ": run the command with --server " + url + " (and DARASA_TOKEN)");
}

int exitCodeFor(const Status& status) {
  switch (status.code()) {
    case Code::kOk: return kExitOk;
    case Code::kInvalid:
    case Code::kNotFound: return kExitInvalid;
    default: return kExitFailure;
  }
}

int fail(const Status& status) {
  std::cerr << "darasa: error: " << status.message() << "\n";
  return exitCodeFor(status);
}

bool stdoutIsTerminal() { return isatty(STDOUT_FILENO) == 1; }
bool stderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

}  // namespace darasa::cli
