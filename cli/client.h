// The one way the CLI's commands reach labs: each command is written once
// over a Client and only turns options into one call and its answer into
// output. LocalClient runs LabService on the local state (taking the state
// lock where it changes things); RemoteClient makes the same request of a
// darasa daemon's REST API and reads the answer back with the wire format
// (provisioner/wire.h). Both give the same view types and, for the same
// mistake, the same Status (code and message), so that a command prints the
// same bytes and exits with the same code either way. Not thread-safe: one
// command at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "context.h"
#include "provisioner/api.h"
#include "provisioner/service.h"

namespace darasa::cli {

// up/down: what to run and how long to wait.
struct LabRun {
  RunOptions run;  // cohort, trainees, parallelism, callTimeout, events, cancel
  // Local: how long to wait for another darasa working on the state.
  std::chrono::seconds lockWait{0};
};

// What up/down did, as the command reports it.
struct LabRunResult {
  RunReport report;
  // Remote: the daemon goes on after the client stops waiting; the hints
  // for an unfinished run say so.
  bool serverContinues = false;
};

struct TokenRequest {
  TokenRole role = TokenRole::kTrainee;
  std::string cohort;
  std::string trainee;
  std::string name;
  std::chrono::seconds ttl{0};  // 0 = never expires
};

class Client {
 public:
  virtual ~Client() = default;
  virtual bool isRemote() const = 0;

  virtual Result<std::vector<LabStatus>> status(const std::string& cohort) = 0;
  virtual Result<std::vector<CredentialView>> credentials(const std::string& cohort,
                                                          const std::vector<std::string>& trainees) = 0;
  virtual Result<ScheduleView> schedule(const std::string& cohort, const ScheduleQuery& query) = 0;
  virtual Result<UsageView> usage(const std::string& cohort, const UsageQuery& query) = 0;
  virtual Result<PlanView> plan(const RunOptions& options, DesiredState wanted) = 0;
  // Wants the selection running (absent) and waits until it is ready
  // (destroyed), failed, or options.run.cancel is set.
  virtual Result<LabRunResult> up(const LabRun& options) = 0;
  virtual Result<LabRunResult> down(const LabRun& options) = 0;

  virtual Result<std::vector<TokenView>> tokens() = 0;
  virtual Result<IssuedToken> createToken(const TokenRequest& request) = 0;
  virtual Status revokeToken(const std::string& id) = 0;
};

// The client the global options ask for: remote with --server /
// $DARASA_SERVER, else the local state.
Result<std::unique_ptr<Client>> makeClient(Context& ctx);

// Runs one command on the client the context asks for (a client that
// cannot be made, e.g. for a bad --server URL, is the command's error).
template <typename F>
int withClient(Context& ctx, F&& command) {
  auto client = makeClient(ctx);
  if (!client) return fail(client.status());
  return command(*client.value());
}

}  // namespace darasa::cli
