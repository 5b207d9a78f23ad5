// darasa-lab: the helper executable of the local provider. One binary, four
// modes, each a small single-threaded program:
//   launch     per lab start, on the host, detached from darasa: run lock,
//              cgroups, network namespace, then it execs bubblewrap
//   init       PID 1 inside the sandbox: services (dropbear, the template's
//              command), the TCP proxy from 127.0.0.1 on the host into the
//              lab's network namespace, readiness
//   exec       runs a command inside a running lab (setns into its namespaces)
//   check      starts a trivial sandbox, for Provider::usable()
#pragma once

#include <string>
#include <vector>

namespace darasa::providers::local::tool {

int launchMain(const std::vector<std::string>& args);
int initMain(const std::vector<std::string>& args);
int execMain(const std::vector<std::string>& args);
int checkMain(const std::vector<std::string>& args);

// Exit code of `exec` and `check` when the tool itself failed (not the command).
inline constexpr int kToolFailure = 125;

}  // namespace darasa::providers::local::tool
