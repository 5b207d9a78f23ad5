// The local provider, darasa's embedded default: every lab is a process tree
// on this machine in its own bubblewrap sandbox, limited by cgroups, reached
// through a port on 127.0.0.1 that darasa allocates. Thread-safe (per-lab
// work is serialised by lock files, so several darasa processes may share
// one root too).
//
// Options (ProviderConfig.options; all optional):
//   root         where labs live; default <stateDir>/local
//   labBinary    the darasa-lab helper; default $DARASA_LAB_BINARY, then
//                darasa-lab next to the running executable, then the
//                installed one (<prefix>/libexec/darasa), then the one this
//                build made (install::helperPath)
//   bwrap, dropbear  paths; default: found in PATH
//   cgroups      auto | off (default auto: limits where the tree is writable)
//   cgroupParent group the labs' groups go under; default "darasa"
//   uidBase, uidCount  host uids for sandboxes when darasa runs as root;
//                default 400000000 and 65536 (one uid per lab)
//   maxParallel  default 4 x cores, between 4 and 32
//   etc          extra /etc entries bound read-only into every lab ("vim,gitconfig")
//   shell        the trainee's login shell; default /bin/bash (or /bin/sh)
//   stopTimeout  seconds a lab may take to end after SIGKILL of its bwrap
//                before its cgroups are killed too; default 5
//
// Layout under root:
//   labs/<labId>/lab.json      labels, ownership and how to start it (no secrets);
//                              written once, before any of its processes starts
//   labs/<labId>/run.json      this run: bwrap's pid (+ start time), the 127.0.0.1
//                              ports; its OFD lock is held by the lab's processes
//                              while they live (liveness without pid races; a
//                              second launch sees it and gives up)
//   labs/<labId>/status        lines: limits, bwrap's info (the lab's PID 1),
//                              started, ready, failed <why>; mtime = last traffic
//                              or open connection (touched at most every 10 s)
//   labs/<labId>/etc/          passwd (with the password hash), the ssh host key
//   labs/<labId>/home/         the trainee's writable home (kept across stop/start)
//   labs/<labId>/lab.log       launcher, bwrap, init and dropbear messages
//   locks/<labId>.lock         serialises create/start/stop/destroy of one lab
//   uids/<slot> -> <labId>     which sandbox uid belongs to which lab
//   trash/                     labs being deleted
//
// Credentials (LabSpec.credentials): user (else access.user), passwordHash
// (crypt(3), e.g. "$6$..."; computed from password when only that is given)
// when access.password, authorizedKey (one OpenSSH public key line) when
// access.sshKey. The ssh server is dropbear, for the port named "ssh".
//
// activity(): lastActive from the status file's mtime, or now while any
// connection is established on the lab's 127.0.0.1 ports (counted in
// darasa's network namespace, where the listening sockets are); CPU time
// and memory from the lab's cgroup (cpuacct / cpu.stat, memory), -1 without
// cgroups.
#pragma once

#include <memory>

#include "provisioner/provider.h"

namespace darasa::providers::local {

Result<std::unique_ptr<Provider>> makeLocalProvider(const ProviderConfig& config);

}  // namespace darasa::providers::local
