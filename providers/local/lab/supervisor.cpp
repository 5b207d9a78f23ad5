// `darasa-lab supervise`: the host-side keeper of one running lab.
//
// Started by the provider through posix_spawn (own session) and, with
// --daemonize, forked once more so that it is nobody's child in darasa: it
// outlives `darasa up` and is found again through the lab directory. It
//  1. takes <lab>/run.lock (an OFD lock held for its whole life: liveness
//     that survives pid reuse, and a guard so that a lab never gets two
//     process trees — a second supervisor reports "busy" and exits),
//  2. writes run.json and answers on the sync descriptor ("ok"),
//  3. creates the lab's cgroups with its limits,
//  4. forks the bubblewrap sandbox (sandbox.h) whose PID 1 is `darasa-lab
//     init`, passing the 127.0.0.1 listening sockets darasa bound,
//  5. records readiness and exit in run.json; on SIGTERM kills the sandbox
//     (SIGKILL of its PID 1 ends the whole PID namespace), removes the
//     cgroups and exits.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

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

void logLine(const std::string& msg) { std::fprintf(stderr, "darasa-lab[%d]: %s\n", ::getpid(), msg.c_str()); }

// The last non-empty line of a log file, to explain an early exit.
std::string lastLogLine(const std::string& path) {
  auto text = readFile(path);
  if (!text) return "";
  std::string s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  auto nl = s.rfind('\n');
  std::string line = nl == std::string::npos ? s : s.substr(nl + 1);
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return line;
}

int boundPort(int fd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
  return ntohs(a.sin_port);
}

}  // namespace

int superviseMain(const std::vector<std::string>& args) {
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
      std::fprintf(stderr, "darasa-lab supervise: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (labDir.empty()) return 2;
  if (daemonize) {
    // posix_spawn made us a session leader; fork once more so that we are
    // nobody's child in darasa (the spawned process exits at once and is
    // reaped there) and can never reacquire a terminal.
    pid_t p = ::fork();
    if (p < 0) {
      say(syncFd, "error fork: " + errnoText(errno));
      return 1;
    }
    if (p > 0) _exit(0);
  }
  ::signal(SIGPIPE, SIG_IGN);
  LabPaths paths(labDir);

  auto lock = FileLock::tryAcquire(paths.runLock());
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

  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&mask, s);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sigFd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  RunRecord run;
  run.pid = ::getpid();
  run.startTime = processStartTime(run.pid).value_or(0);
  run.state = "starting";
  run.startedAt = unixNow();
  for (const auto& [name, fd] : listen) run.hostPorts[name] = boundPort(fd);

  CgroupManager cgroups = CgroupManager::detect(rec.cgroupParent, !rec.cgroupParent.empty());
  if (cgroups.usable()) {
    auto applied = cgroups.create(rec.cgroupName, rec.resources);
    if (!applied) {
      run.state = "exited";
      run.detail = "cannot apply resource limits: " + applied.status().message();
      run.endedAt = unixNow();
      (void)writeRunRecord(paths, run);
      say(syncFd, "ok");
      (void)cgroups.destroy(rec.cgroupName, std::chrono::seconds(2));
      return 1;
    }
    run.limits = *applied + " (" + cgroups.describe() + ")";
  } else {
    run.limits = "none: " + cgroups.reason();
  }
  if (Status st = writeRunRecord(paths, run); !st) {
    say(syncFd, "error " + st.message());
    return 1;
  }
  say(syncFd, "ok");
  if (syncFd >= 0) ::close(syncFd);

  // The sandbox's stdout/stderr (dropbear's log among them); keep it bounded.
  struct stat st;
  if (::stat(paths.sandboxLog().c_str(), &st) == 0 && st.st_size > (4 << 20))
    ::truncate(paths.sandboxLog().c_str(), 0);
  int logFd = ::open(paths.sandboxLog().c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

  int statusPipe[2], infoPipe[2], errPipe[2];
  if (::pipe2(statusPipe, O_CLOEXEC) || ::pipe2(infoPipe, O_CLOEXEC) || ::pipe2(errPipe, O_CLOEXEC)) {
    run.state = "exited";
    run.detail = "pipe: " + errnoText(errno);
    (void)writeRunRecord(paths, run);
    return 1;
  }
  const bool privileged = ::geteuid() == 0;
  const int n = static_cast<int>(listen.size());
  SandboxLaunch launch;
  buildLabLaunch(rec, paths, privileged, 3 + n, 3 + n + 1, &launch);
  for (const auto& [name, fd] : listen) launch.passFds.push_back(fd);
  launch.passFds.push_back(statusPipe[1]);
  launch.passFds.push_back(infoPipe[1]);
  launch.stdoutFd = logFd;
  launch.cgroups = &cgroups;
  launch.cgroupName = rec.cgroupName;
  launch.errorFd = errPipe[1];

  pid_t bwrapPid = ::fork();
  if (bwrapPid == 0) execSandbox(launch);
  int forkErr = errno;
  ::close(statusPipe[1]);
  ::close(infoPipe[1]);
  ::close(errPipe[1]);
  // The sandbox holds the listening sockets now; ours would keep the ports
  // bound after the sandbox ended.
  for (const auto& [name, fd] : listen) ::close(fd);
  if (bwrapPid < 0) {
    run.state = "exited";
    run.detail = "fork: " + errnoText(forkErr);
    run.endedAt = unixNow();
    (void)writeRunRecord(paths, run);
    (void)cgroups.destroy(rec.cgroupName, std::chrono::seconds(2));
    return 1;
  }

  std::string statusBuf, infoBuf, errBuf, failReason;
  bool statusOpen = true, infoOpen = true, errOpen = true;
  bool stopping = false;
  int waitStatus = 0;
  bool exited = false;
  int64_t lastActivity = 0;

  auto killSandbox = [&]() {
    if (run.sandboxPid > 0 && processAlive(run.sandboxPid, run.sandboxStartTime))
      ::kill(run.sandboxPid, SIGKILL);
    ::kill(bwrapPid, SIGKILL);
  };

  while (!exited) {
    std::vector<pollfd> fds;
    fds.push_back({sigFd, POLLIN, 0});
    if (statusOpen) fds.push_back({statusPipe[0], POLLIN, 0});
    if (infoOpen) fds.push_back({infoPipe[0], POLLIN, 0});
    if (errOpen) fds.push_back({errPipe[0], POLLIN, 0});
    int r = ::poll(fds.data(), fds.size(), 1000);
    if (r < 0 && errno != EINTR) break;
    for (const auto& p : fds) {
      if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (p.fd == sigFd) {
        signalfd_siginfo si;
        while (::read(sigFd, &si, sizeof si) == sizeof si) {
          if (si.ssi_signo == SIGCHLD) continue;
          if (!stopping) logLine("stopping on signal " + std::to_string(si.ssi_signo));
          stopping = true;
          killSandbox();
        }
        continue;
      }
      char buf[4096];
      ssize_t got = ::read(p.fd, buf, sizeof buf);
      if (got <= 0) {
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (p.fd == statusPipe[0]) statusOpen = false;
        if (p.fd == infoPipe[0]) {
          infoOpen = false;
          // bwrap wrote the sandbox's pids and closed the descriptor.
          try {
            auto j = nlohmann::json::parse(infoBuf);
            run.sandboxPid = j.at("child-pid").get<pid_t>();
            run.sandboxStartTime = processStartTime(run.sandboxPid).value_or(0);
            if (Status ws = writeRunRecord(paths, run); !ws) logLine(ws.message());
          } catch (const std::exception&) {
          }
          if (stopping) killSandbox();
        }
        if (p.fd == errPipe[0]) errOpen = false;
        continue;
      }
      if (p.fd == errPipe[0]) errBuf.append(buf, static_cast<size_t>(got));
      if (p.fd == infoPipe[0]) infoBuf.append(buf, static_cast<size_t>(got));
      if (p.fd == statusPipe[0]) {
        statusBuf.append(buf, static_cast<size_t>(got));
        size_t nl;
        while ((nl = statusBuf.find('\n')) != std::string::npos) {
          std::string line = statusBuf.substr(0, nl);
          statusBuf.erase(0, nl + 1);
          if (line == "ready" && run.state != "ready") {
            run.state = "ready";
            run.readyAt = unixNow();
            if (Status ws = writeRunRecord(paths, run); !ws) logLine(ws.message());
          } else if (line.rfind("failed ", 0) == 0) {
            failReason = line.substr(7);
          } else if (line == "activity") {
            int64_t now = unixNow();
            if (now != lastActivity) {
              lastActivity = now;
              int f = ::open(paths.activity().c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
              if (f >= 0) {
                ::futimens(f, nullptr);
                ::close(f);
              }
            }
          }
        }
      }
    }
    pid_t w = ::waitpid(bwrapPid, &waitStatus, WNOHANG);
    if (w == bwrapPid) exited = true;
  }
  killSandbox();
  // Nothing of the lab may outlive it: helpers that joined the cgroup
  // (exec) die here, and the groups go away.
  std::string cleanup;
  if (cgroups.usable())
    if (Status cs = cgroups.destroy(rec.cgroupName, std::chrono::seconds(5)); !cs) cleanup = cs.message();

  run.endedAt = unixNow();
  if (stopping) {
    run.state = "stopped";
    run.detail = "stopped";
  } else {
    run.state = "exited";
    std::string why;
    if (!errBuf.empty()) why = "sandbox setup failed: " + errBuf;
    else if (!failReason.empty()) why = failReason;
    else if (WIFEXITED(waitStatus)) why = "sandbox exited with status " + std::to_string(WEXITSTATUS(waitStatus));
    else if (WIFSIGNALED(waitStatus)) why = "sandbox killed by signal " + std::to_string(WTERMSIG(waitStatus));
    if (run.readyAt == 0 && errBuf.empty() && failReason.empty()) {
      std::string last = lastLogLine(paths.sandboxLog());
      if (!last.empty()) why += " before it was ready (" + last + ")";
    }
    run.detail = why;
  }
  if (!cleanup.empty()) run.detail += "; cleanup: " + cleanup;
  if (Status ws = writeRunRecord(paths, run); !ws) logLine(ws.message());
  logLine("lab " + rec.labId + " " + run.state + ": " + run.detail);
  return 0;
}

}  // namespace darasa::providers::local::tool
