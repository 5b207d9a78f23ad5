// The on-disk records of one local lab, shared by the provider (which writes
// lab.json) and its supervisor process (which writes run.json): where the
// files are, and their JSON form. Value types; not synchronised — writers
// serialise through the lab's lock, readers rely on atomic renames.
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

// Layout of <root>/labs/<labId>/.
struct LabPaths {
  explicit LabPaths(std::string labDir);
  std::string dir;
  std::string labJson() const { return dir + "/lab.json"; }      // LabRecord (provider)
  std::string runJson() const { return dir + "/run.json"; }      // RunRecord (supervisor)
  std::string runLock() const { return dir + "/run.lock"; }      // held by the live supervisor
  std::string supervisorLog() const { return dir + "/supervisor.log"; }
  std::string sandboxLog() const { return dir + "/lab.log"; }    // stdout/stderr of the sandbox
  std::string activity() const { return dir + "/activity"; }     // mtime = last proxied traffic
  std::string etcDir() const { return dir + "/etc"; }            // files bound into the sandbox
  std::string homeDir() const { return dir + "/home"; }          // the trainee's writable home
  std::string hostKey() const { return etcDir() + "/dropbear_ed25519_host_key"; }
  std::string initJson() const { return etcDir() + "/init.json"; }
};

struct LabPort {
  std::string name;
  int inner = 0;             // the port inside the lab's network namespace
  std::string protocol = "tcp";
  int lastHostPort = 0;      // the 127.0.0.1 port it had last; tried first on start
};

// lab.json: ownership, labels and everything needed to start the lab again.
// Written atomically by the provider before any process of the lab starts,
// so list() finds a lab even if darasa died while creating it. Holds no
// secret (credentials live only in the generated etc/ and home/ files).
struct LabRecord {
  int version = 1;
  std::string labId;
  std::string cohort;
  std::string trainee;
  int64_t generation = 0;
  Labels labels;
  std::string templateHash;

  // "running" or "stopped": what the last create/start/stop asked for.
  std::string desired = "running";
  // False until create() has written every file the sandbox needs; a lab
  // found unprepared was interrupted and is prepared again by create().
  bool prepared = false;
  int64_t createdAt = 0;  // Unix seconds

  // Sandbox identity.
  uid_t hostUid = 0;   // the host uid the sandbox runs as (maps to sandboxUid)
  gid_t hostGid = 0;
  int uidSlot = -1;    // index in the provider's uid range; -1 when not root
  uid_t sandboxUid = 1000;
  gid_t sandboxGid = 1000;
  std::string user = "trainee";
  std::string home = "/home/trainee";
  std::string hostname;

  std::vector<LabPort> ports;
  Resources resources;
  NetworkMode network = NetworkMode::kIsolated;
  std::string cgroupParent;  // e.g. "darasa"; "" when the provider runs without cgroups
  std::string cgroupName;    // the lab's group below cgroupParent

  // How the supervisor starts it (filled from the provider's options).
  std::string bwrap;
  std::string labBinary;
  std::vector<std::string> etcBinds;  // host /etc entries bound read-only
};

// run.json: written by the supervisor, one per launch.
struct RunRecord {
  pid_t pid = 0;               // the supervisor
  uint64_t startTime = 0;      // its /proc start time
  std::string state;           // starting | ready | exited | stopped
  std::string detail;          // why it exited, or what limits apply
  std::map<std::string, int> hostPorts;  // port name -> 127.0.0.1 port
  pid_t sandboxPid = 0;        // the lab's PID 1, as seen from the host
  uint64_t sandboxStartTime = 0;
  std::string limits;          // "memory=..., cpu=..., pids=..." or why none
  int64_t startedAt = 0;
  int64_t readyAt = 0;
  int64_t endedAt = 0;
};

std::string toJson(const LabRecord& r);
Result<LabRecord> labRecordFromJson(const std::string& text);
std::string toJson(const RunRecord& r);
Result<RunRecord> runRecordFromJson(const std::string& text);

Result<LabRecord> readLabRecord(const LabPaths& paths);  // kNotFound if no lab.json
Status writeLabRecord(const LabPaths& paths, const LabRecord& r);
Result<RunRecord> readRunRecord(const LabPaths& paths);  // kNotFound if no run.json
Status writeRunRecord(const LabPaths& paths, const RunRecord& r);

// The configuration the in-sandbox init reads (etc/init.json, bound at
// /run/darasa/init.json).
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
std::string toJson(const InitConfig& c);
Result<InitConfig> initConfigFromJson(const std::string& text);

int64_t unixNow();

// Whether s is a lab id the local provider can use as a directory and cgroup
// name: [A-Za-z0-9][A-Za-z0-9._-]*, at most 128 characters.
bool isSafeLabId(const std::string& s);

}  // namespace darasa::providers::local
