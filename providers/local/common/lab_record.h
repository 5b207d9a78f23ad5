// The on-disk records of one local lab, shared by the provider (which writes
// lab.json) and the lab's launcher and init (run.json, status): where the
// files are, their JSON form, and what the sandbox is made of (its generated
// /etc files and init's configuration). Value types and free functions; not
// synchronised — writers serialise through the lab's locks, readers rely on
// atomic renames (lab.json) or tolerate a record being written (run.json).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "provisioner/model.h"
#include "provisioner/status.h"

namespace darasa::providers::local {

// Layout of <root>/labs/<labId>/. Kept to a few files on purpose: every new
// inode costs, and on some filesystems (ext4 without a journal) much more so
// shortly after many were deleted — as when a cohort is replaced.
struct LabPaths {
  explicit LabPaths(std::string labDir);
  std::string dir;
  std::string labJson() const { return dir + "/lab.json"; }    // LabRecord (provider)
  // RunRecord of the current or last run, rewritten in place by the
  // launcher; its OFD lock is held by the lab's processes while they live.
  std::string runJson() const { return dir + "/run.json"; }
  std::string status() const { return dir + "/status"; }      // see LabStatus
  std::string sandboxLog() const { return dir + "/lab.log"; }  // launcher, bwrap, init, dropbear
  std::string etcDir() const { return dir + "/etc"; }          // passwd (with the hash), host key
  std::string passwd() const { return etcDir() + "/passwd"; }
  std::string hostKey() const { return etcDir() + "/dropbear_ed25519_host_key"; }
  std::string homeDir() const { return dir + "/home"; }        // the trainee's writable home
};

struct LabPort {
  std::string name;
  int inner = 0;             // the port inside the lab's network namespace
  std::string protocol = "tcp";
};

// lab.json: ownership, labels and everything needed to start the lab again
// (the template's command, environment, readiness). Written once by
// create(), atomically, after the lab's files and before any of its
// processes starts; rewritten only when stop/start change `desired`. Holds
// no secret (the password hash is in etc/passwd, the key in home/.ssh).
struct LabRecord {
  int version = 2;
  std::string labId;
  std::string cohort;
  std::string trainee;
  int64_t generation = 0;
  Labels labels;
  std::string templateHash;

  // "running" or "stopped": what the last create/start/stop asked for.
  std::string desired = "running";
  int64_t createdAt = 0;  // Unix seconds

  // Sandbox identity.
  uid_t hostUid = 0;   // the host uid the sandbox runs as (maps to sandboxUid)
  gid_t hostGid = 0;
  int uidSlot = -1;    // index in the provider's uid range; -1 when not root
  uid_t sandboxUid = 1000;
  gid_t sandboxGid = 1000;
  std::string user = "trainee";
  std::string home = "/home/trainee";
  std::string shell = "/bin/sh";
  std::string hostname;

  // What runs inside.
  std::vector<LabPort> ports;
  std::vector<int> readyPorts;         // inner ports that must accept before "ready"
  bool passwordLogin = true;           // dropbear without -s
  std::vector<std::string> command;    // the template's command, if any
  std::map<std::string, std::string> env;
  std::string workdir;

  Resources resources;
  NetworkMode network = NetworkMode::kIsolated;
  std::string cgroupParent;    // e.g. "darasa"; "" when the provider runs without cgroups
  std::string noLimitsReason;  // why, when cgroupParent is ""
  std::string cgroupName;      // the lab's group below cgroupParent

  // How darasa-lab launch starts it (filled from the provider's options).
  std::string bwrap;
  std::string labBinary;
  std::string dropbear;
  std::vector<std::string> etcBinds;  // host /etc entries bound read-only
};

// run.json: written by `darasa-lab launch`, which then becomes the
// sandbox's bubblewrap process (same pid).
struct RunRecord {
  pid_t pid = 0;               // bwrap outside the sandbox: kill it and the lab ends
  uint64_t startTime = 0;      // its /proc start time (defeats pid reuse)
  std::map<std::string, int> hostPorts;  // port name -> 127.0.0.1 port
  int64_t startedAt = 0;
};

// The status file of a run, appended to (never replaced, so it costs no new
// inode per event): "limits ..." and "failed ..." by the launcher, bwrap's
// info JSON (with "child-pid"), then "started", "ready" and "failed ..." by
// the lab's init. Its mtime is also the last proxied traffic.
struct LabStatus {
  bool started = false;  // init runs
  bool ready = false;    // every readiness port accepted inside the lab
  std::string failed;    // why the lab gave up, if it did
  std::string limits;    // what the cgroups enforce, or why nothing
  pid_t sandboxPid = 0;  // the lab's PID 1 as the host sees it
};
LabStatus parseLabStatus(const std::string& text);
LabStatus readLabStatus(const LabPaths& paths);  // empty if there is no file

std::string toJson(const LabRecord& r);
Result<LabRecord> labRecordFromJson(const std::string& text);
std::string toJson(const RunRecord& r);
Result<RunRecord> runRecordFromJson(const std::string& text);

Result<LabRecord> readLabRecord(const LabPaths& paths);  // kNotFound if no lab.json
Status writeLabRecord(const LabPaths& paths, const LabRecord& r);
Result<RunRecord> readRunRecord(const LabPaths& paths);  // kNotFound if no run.json

// The configuration of the in-sandbox init, made from lab.json by the
// launcher and handed to init through a descriptor.
struct InitService {
  std::string name;                  // "ssh", "command"
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string workdir;
};
struct InitConfig {
  std::string user;
  std::string home;
  std::string shell;
  std::vector<InitService> services;
  std::map<std::string, int> innerPorts;  // port name -> inner port
  std::vector<int> readyPorts;            // must accept before "ready"
};
InitConfig initConfigFor(const LabRecord& rec);
std::string toJson(const InitConfig& c);
Result<InitConfig> initConfigFromJson(const std::string& text);

// Where the sandbox's dropbear finds its host key.
inline constexpr const char* kSandboxHostKey = "/etc/dropbear/dropbear_ed25519_host_key";

// The generated /etc files of a lab other than passwd (which holds the
// password hash and is a file in etc/): name -> content.
std::map<std::string, std::string> generatedEtcFiles(const LabRecord& rec);
// /etc/passwd of a lab: root, the trainee (uid 1000) with passwordHash,
// nobody.
std::string passwdFile(const LabRecord& rec, const std::string& passwordHash);

int64_t unixNow();

// Whether s is a lab id the local provider can use as a directory and cgroup
// name: [A-Za-z0-9][A-Za-z0-9._-]*, at most 128 characters.
bool isSafeLabId(const std::string& s);

}  // namespace darasa::providers::local
