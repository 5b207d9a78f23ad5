// Per-lab control groups for the local provider: memory, CPU and pids limits
// plus a freezer to kill a whole process tree, on cgroup v1 (one hierarchy
// per controller, as on this machine) or v2 (one unified tree), and the
// lab's CPU time and memory in use (cpuacct, memory). Groups live at
// <hierarchy>/<parent>/<lab>. Immutable after detect(); thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "provisioner/model.h"
#include "provisioner/status.h"

namespace darasa::providers::local {

class CgroupManager {
 public:
  enum class Version { kNone, kV1, kV2 };

  // Finds the hierarchies in mountinfo and checks that <parent> can be
  // created in each. When it cannot (read-only tree, not root, no
  // controllers) the manager is disabled and reason() says why; labs then
  // run without limits. enabled=false disables on purpose.
  static CgroupManager detect(const std::string& parent, bool enabled = true,
                              const std::string& mountinfo = "/proc/self/mountinfo");

  Version version() const { return version_; }
  bool usable() const { return version_ != Version::kNone; }
  const std::string& reason() const { return reason_; }
  // "cgroup v1 (memory, cpu, cpuacct, pids, freezer)" or "no cgroups: <reason>".
  std::string describe() const;

  // Creates (or reuses) the lab's groups and writes r's limits (0 = no
  // limit, which also clears an old one). Returns what is enforced, e.g.
  // "memory=64Mi cpu=500m pids=64"; an error if a limit could not be set.
  Result<std::string> create(const std::string& name, const Resources& r) const;
  // Moves pid into every group of the lab.
  Status join(const std::string& name, pid_t pid) const;
  // Processes in the lab's groups (union over hierarchies).
  std::vector<pid_t> members(const std::string& name) const;
  // The lab's group directories that exist now.
  std::vector<std::string> existingDirs(const std::string& name) const;
  // Kills every process in the lab's groups and removes the groups; ok if
  // they do not exist. kTimeout if processes outlive the timeout.
  Status destroy(const std::string& name, std::chrono::milliseconds timeout) const;
  // Reads one control file of the lab's group for a controller
  // ("memory", "pids", ...), e.g. for tests; kNotFound if absent.
  Result<std::string> readControl(const std::string& name, const std::string& controller,
                                  const std::string& file) const;

  // What the lab's group has used: CPU time since the group was made (v1
  // cpuacct.usage, v2 cpu.stat usage_usec) and memory in use now (v1
  // memory.usage_in_bytes, v2 memory.current); -1 for what cannot be read
  // (no such controller, or a group made before cpuacct was joined).
  // kNotFound if the lab has no group.
  struct Usage {
    int64_t cpuNanos = -1;
    int64_t memoryBytes = -1;
  };
  Result<Usage> usage(const std::string& name) const;

 private:
  std::string dirFor(const std::string& controller, const std::string& name) const;
  std::vector<std::string> allDirs(const std::string& name) const;

  Version version_ = Version::kNone;
  std::string reason_;
  std::string parent_;
  // v1: controller -> mount point of its hierarchy; v2: each controller ->
  // the cgroup2 mount point.
  std::map<std::string, std::string> mounts_;
};

// "512Mi", "1Gi", "1536Ki", or bytes.
std::string formatBytes(int64_t bytes);

}  // namespace darasa::providers::local
