// `darasa-lab launch`: starts one lab and becomes its bubblewrap process.
//
// The provider spawns it in a session of its own; with --daemonize it forks
// once more (the spawned process exits at once and is reaped by darasa), so
// the lab belongs to nobody in darasa and outlives it. Then, in this one
// process:
//  1. take an OFD lock on <lab>/run.json whose descriptor is passed on to
//     bwrap and the lab's init: it stays held exactly as long as the sandbox
//     lives (liveness without pid races), and a second launch for the same
//     lab finds it held, answers "busy" and exits — a lab never gets two
//     process trees;
//  2. write run.json (this pid, which bwrap keeps, and the ports) in place
//     and answer "ok" on the sync descriptor, so that darasa can go on;
//  3. create the lab's cgroups and write its limits; note them in the status
//     file;
//  4. make the lab's generated /etc files and init's configuration in
//     memory (memfds: no files on disk per run), make the network
//     namespace, stage the bind sources, drop to the lab's uid and exec
//     bwrap (sandbox.h), whose PID 1 is `darasa-lab init`.
// There is no supervising process besides bwrap itself: killing bwrap ends
// the sandbox (its PID 1 has a parent-death signal, and the PID namespace
// dies with it). bwrap appends its info (the sandbox's pid) to the status
// file, the lab's init "started", "ready" and "failed ...".
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "local/common/cgroups.h"
#include "local/common/lab_record.h"
#include "local/common/sys_util.h"
#include "sandbox.h"
#include "tool.h"

namespace darasa::providers::local::tool {

namespace {

void say(int fd, const std::string& line) {
  if (fd < 0) return;
  std::string l = line + "\n";
  ssize_t n = ::write(fd, l.data(), l.size());
  (void)n;
}

int boundPort(int fd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
  return ntohs(a.sin_port);
}

}  // namespace

int launchMain(const std::vector<std::string>& args) {
  std::string labDir;
  int syncFd = -1;
  bool daemonize = false;
  std::vector<std::pair<std::string, int>> listen;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> std::string { return i + 1 < args.size() ? args[++i] : ""; };
    if (a == "--lab-dir") labDir = next();
    else if (a == "--sync-fd") syncFd = std::atoi(next().c_str());
    else if (a == "--daemonize") daemonize = true;
    else if (a == "--listen") {
      std::string v = next();
      auto eq = v.find('=');
      if (eq == std::string::npos) return 2;
      listen.emplace_back(v.substr(0, eq), std::atoi(v.c_str() + eq + 1));
    } else {
      std::fprintf(stderr, "darasa-lab launch: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (labDir.empty()) return 2;
  if (daemonize) {
    pid_t p = ::fork();
    if (p < 0) {
      say(syncFd, "error fork: " + errnoText(errno));
      return 1;
    }
    if (p > 0) _exit(0);
  }
  // darasa may be gone by the time we answer on the sync pipe; that must
  // not kill the lab. (execSandbox restores every signal for bwrap.)
  ::signal(SIGPIPE, SIG_IGN);
  LabPaths paths(labDir);

  auto lock = FileLock::tryAcquire(paths.runJson());
  if (!lock) {
    say(syncFd, lock.status().code() == Code::kConflict ? "busy" : "error " + lock.status().message());
    return 0;
  }
  auto recOr = readLabRecord(paths);
  if (!recOr) {
    say(syncFd, "error " + recOr.status().message());
    return 1;
  }
  const LabRecord rec = std::move(recOr).value();

  // Opened by us (root), written through the descriptor by bwrap and init;
  // init touches it on traffic, which needs ownership.
  int statusFd = ::open(paths.status().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (statusFd < 0) {
    say(syncFd, "error cannot open " + paths.status() + ": " + errnoText(errno));
    return 1;
  }
  if (::geteuid() == 0) (void)::fchown(statusFd, rec.hostUid, rec.hostGid);
  int infoFd = ::fcntl(statusFd, F_DUPFD_CLOEXEC, 0);  // bwrap closes its --info-fd

  RunRecord run;
  run.pid = ::getpid();  // bwrap's pid once we exec it
  run.startTime = processStartTime(run.pid).value_or(0);
  run.startedAt = unixNow();
  for (const auto& [name, fd] : listen) run.hostPorts[name] = boundPort(fd);
  // In place: the file is our lock. Readers tolerate a half-written record.
  std::string runJson = toJson(run);
  if (::ftruncate(lock->fd(), 0) != 0 ||
      ::pwrite(lock->fd(), runJson.data(), runJson.size(), 0) != static_cast<ssize_t>(runJson.size())) {
    say(syncFd, "error cannot write " + paths.runJson() + ": " + errnoText(errno));
    return 1;
  }
  say(syncFd, "ok");
  if (syncFd >= 0) ::close(syncFd);

  CgroupManager cgroups = CgroupManager::detect(rec.cgroupParent, !rec.cgroupParent.empty());
  if (cgroups.usable()) {
    // Leftovers of an earlier run of this lab (an exec helper) go first.
    (void)cgroups.destroy(rec.cgroupName, std::chrono::seconds(2));
    auto applied = cgroups.create(rec.cgroupName, rec.resources);
    if (!applied) {
      say(statusFd, "failed cannot apply resource limits: " + applied.status().message());
      (void)cgroups.destroy(rec.cgroupName, std::chrono::seconds(2));
      return 1;
    }
    say(statusFd, "limits " + *applied + " (" + cgroups.describe() + ")");
  } else {
    say(statusFd, "limits NONE (" + (rec.cgroupParent.empty() ? rec.noLimitsReason : cgroups.reason()) + ")");
  }

  // init's configuration and the generated /etc files, as memfds.
  auto memfd = [&](const std::string& name, const std::string& content) {
    int fd = ::memfd_create(name.c_str(), MFD_CLOEXEC);
    if (fd < 0 || ::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size()) ||
        ::lseek(fd, 0, SEEK_SET) != 0) {
      say(statusFd, "failed memfd " + name + ": " + errnoText(errno));
      _exit(1);
    }
    return fd;
  };
  int configFd = memfd("init.json", toJson(initConfigFor(rec)));
  std::vector<std::pair<std::string, int>> etcData;
  for (const auto& [name, content] : generatedEtcFiles(rec)) etcData.emplace_back(name, memfd(name, content));

  // The sandbox's stdout/stderr is ours (lab.log, opened by the provider);
  // keep it bounded.
  struct stat st;
  if (::fstat(1, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > (4 << 20)) (void)::ftruncate(1, 0);

  const bool privileged = ::geteuid() == 0;
  const int n = static_cast<int>(listen.size());
  SandboxFds fds;
  fds.status = 3 + n;
  fds.info = 3 + n + 1;
  fds.lock = 3 + n + 2;
  fds.config = 3 + n + 3;
  SandboxLaunch launch;
  for (const auto& [name, fd] : listen) launch.passFds.push_back(fd);
  launch.passFds.insert(launch.passFds.end(), {statusFd, infoFd, lock->fd(), configFd});
  for (size_t i = 0; i < etcData.size(); ++i) {
    fds.etcData.emplace_back(etcData[i].first, 3 + n + 4 + static_cast<int>(i));
    launch.passFds.push_back(etcData[i].second);
  }
  buildLabLaunch(rec, paths, privileged, fds, &launch);
  launch.cgroups = &cgroups;
  launch.cgroupName = rec.cgroupName;
  launch.errorFd = statusFd;
  execSandbox(launch);
}

}  // namespace darasa::providers::local::tool
