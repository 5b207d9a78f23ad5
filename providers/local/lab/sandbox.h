// How darasa-lab starts a bubblewrap sandbox: the bwrap command line for a
// lab, and the steps between fork() and execve(bwrap) (cgroups, network
// namespace, staging of bind sources, dropping to the lab's uid).
// Single-threaded use only (it runs in a freshly forked child).
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "local/common/cgroups.h"
#include "local/common/lab_record.h"

namespace darasa::providers::local::tool {

struct SandboxLaunch {
  std::string bwrap;
  // Running as root: we make the network namespace ourselves (so that the
  // lab may bind ports below 1024, and its user cannot reconfigure it) and
  // drop to hostUid/hostGid before bwrap. Otherwise bwrap makes it.
  bool privileged = false;
  uid_t hostUid = 0;
  gid_t hostGid = 0;
  // Host paths bound under kStageDir/<name> in a private mount namespace
  // before bwrap runs, so that bwrap (running as hostUid) can reach them even
  // when their parent directories are root-only. Only when privileged.
  std::vector<std::pair<std::string, std::string>> stage;  // host path, name
  std::vector<std::string> argv;  // bwrap and all its arguments
  std::vector<std::string> env;
  // Descriptors that must arrive at 3, 4, ... in this order.
  std::vector<int> passFds;
  int stdoutFd = -1;  // stdout+stderr of the sandbox; -1 keeps ours
  const CgroupManager* cgroups = nullptr;
  std::string cgroupName;
  // Where "failed sandbox setup: <why>" goes if we fail before exec.
  int errorFd = -1;
  // In a forked child: give up if the parent is gone, and die with it.
  bool watchParent = false;
};

// Where the lab's run descriptors arrive in bwrap and init (after the
// listening sockets at 3, 4, ...).
struct SandboxFds {
  int status = -1;  // append-only status file: init writes started/ready/failed
  int info = -1;    // bwrap --info-fd (a second descriptor of the status file)
  int lock = -1;    // run.json's lock, held as long as any sandbox process keeps it
  int config = -1;  // init's configuration (a memfd)
  std::vector<std::pair<std::string, int>> etcData;  // /etc/<name> contents (memfds)
};

inline constexpr const char* kStageDir = "/tmp/darasa-stage";
inline constexpr const char* kSandboxToolPath = "/run/darasa/darasa-lab";

// Fills argv/stage/env of a launch for lab `rec` stored in `paths`. The
// sandbox command is `darasa-lab init` with the listen descriptors numbered
// from 3 and the run descriptors at `fds`.
void buildLabLaunch(const LabRecord& rec, const LabPaths& paths, bool privileged, const SandboxFds& fds,
                    SandboxLaunch* launch);

// The mounts every sandbox gets: /usr read-only, the /bin, /lib... links or
// directories of the host, /proc, /dev, tmpfs on /tmp and /run.
void appendBaseMounts(std::vector<std::string>* argv);

// Does the steps above and execs bwrap (in a forked child, or as the
// launcher itself). Never returns; on failure writes a line to errorFd and
// exits 127.
[[noreturn]] void execSandbox(const SandboxLaunch& launch);

}  // namespace darasa::providers::local::tool
