// `darasa-lab exec` and `darasa-lab check`.
//
// exec --lab-dir D [--] ARGV...: runs ARGV as the trainee inside the running
// lab D: joins the lab's cgroups, enters the namespaces of the lab's PID 1
// (network, IPC, UTS, PID, mount, then user; an unprivileged caller first
// enters the user namespace that owns them), forks (a new PID
// namespace applies to children only) and execs. Exit status is the
// command's (128+n for a signal); kToolFailure with a "darasa-lab exec:"
// message on stderr when we could not get in.
//
// check --uid U --gid G: starts a trivial sandbox the way a lab starts
// (same privilege drop, namespaces and base mounts) and runs /bin/true.
#include <fcntl.h>
#include <grp.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
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

int toolFail(const char* mode, const std::string& msg) {
  std::fprintf(stderr, "darasa-lab %s: %s\n", mode, msg.c_str());
  return kToolFailure;
}

int waitChild(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return kToolFailure;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return kToolFailure;
}

}  // namespace

int execMain(const std::vector<std::string>& args) {
  std::string labDir;
  std::vector<std::string> argv;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--lab-dir" && i + 1 < args.size()) {
      labDir = args[++i];
    } else if (args[i] == "--") {
      argv.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    } else {
      argv.assign(args.begin() + static_cast<long>(i), args.end());
      break;
    }
  }
  if (labDir.empty() || argv.empty()) return toolFail("exec", "usage: exec --lab-dir DIR -- ARGV...");
  LabPaths paths(labDir);
  auto rec = readLabRecord(paths);
  if (!rec) return toolFail("exec", rec.status().message());
  // While run.json is locked the sandbox lives, and the status file names
  // its PID 1.
  pid_t sandboxPid = readLabStatus(paths).sandboxPid;
  if (!FileLock::isHeld(paths.runJson()) || sandboxPid <= 0) return toolFail("exec", "the lab is not running");
  uint64_t sandboxStart = processStartTime(sandboxPid).value_or(0);
  if (sandboxStart == 0) return toolFail("exec", "the lab is not running");

  const bool privileged = ::geteuid() == 0;
  if (privileged && !rec->cgroupParent.empty()) {
    CgroupManager cg = CgroupManager::detect(rec->cgroupParent);
    if (cg.usable())
      if (Status st = cg.join(rec->cgroupName, ::getpid()); !st) return toolFail("exec", st.message());
  }
  std::string ns = "/proc/" + std::to_string(sandboxPid) + "/ns/";
  // Open them all before entering any: after the mount namespace changes,
  // /proc is the lab's.
  auto openNs = [&](const char* name) { return ::open((ns + name).c_str(), O_RDONLY | O_CLOEXEC); };
  int userFd = openNs("user");
  if (userFd < 0) return toolFail("exec", "cannot open " + ns + "user: " + errnoText(errno));
  const char* others[] = {"net", "ipc", "uts", "pid", "mnt"};
  std::vector<int> fds;
  for (const char* name : others) {
    int fd = openNs(name);
    if (fd < 0) return toolFail("exec", std::string("cannot open ") + ns + name + ": " + errnoText(errno));
    fds.push_back(fd);
  }
  // The start time check above and these opens race with a lab that just
  // ended: check again now that we hold the namespaces.
  if (!processAlive(sandboxPid, sandboxStart) || !FileLock::isHeld(paths.runJson()))
    return toolFail("exec", "the lab is not running");
  if (!privileged) {
    // bwrap makes a user namespace (owning the lab's other namespaces) and,
    // to map uid 1000, a second one inside it where the lab runs. Without
    // privileges we must enter the outer one first to be allowed into the
    // others (as root we enter them directly).
    int parent = ::ioctl(userFd, NS_GET_PARENT);
    struct stat mine, theirs;
    bool ownUserns = parent >= 0 && ::stat("/proc/self/ns/user", &mine) == 0 && ::fstat(parent, &theirs) == 0 &&
                     mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev;
    if (parent >= 0 && !ownUserns && ::setns(parent, CLONE_NEWUSER) != 0)
      return toolFail("exec", "setns user (outer): " + errnoText(errno));
    if (parent >= 0) ::close(parent);
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    if (::setns(fds[i], 0) != 0) return toolFail("exec", std::string("setns ") + others[i] + ": " + errnoText(errno));
    ::close(fds[i]);
  }
  if (::setns(userFd, CLONE_NEWUSER) != 0) return toolFail("exec", "setns user: " + errnoText(errno));
  ::close(userFd);
  if (::setresgid(rec->sandboxGid, rec->sandboxGid, rec->sandboxGid) != 0)
    return toolFail("exec", "setresgid: " + errnoText(errno));
  if (::setresuid(rec->sandboxUid, rec->sandboxUid, rec->sandboxUid) != 0)
    return toolFail("exec", "setresuid: " + errnoText(errno));

  std::vector<std::string> envs = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                   "HOME=" + rec->home, "USER=" + rec->user, "LOGNAME=" + rec->user,
                                   "LANG=C.UTF-8"};
  pid_t pid = ::fork();
  if (pid < 0) return toolFail("exec", "fork: " + errnoText(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::chdir(rec->home.c_str()) != 0) ::chdir("/");
    std::vector<char*> a, e;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    for (const auto& s : envs) e.push_back(const_cast<char*>(s.c_str()));
    e.push_back(nullptr);
    ::environ = e.data();
    ::execvpe(a[0], a.data(), e.data());
    std::fprintf(stderr, "%s: %s\n", a[0], std::strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  // _exit: nothing is left to clean up, and after entering another user
  // namespace LeakSanitizer's exit-time check (sanitizer builds) cannot
  // trace this process and would spin forever.
  int code = waitChild(pid);
  std::fflush(nullptr);
  _exit(code);
}

int checkMain(const std::vector<std::string>& args) {
  std::string bwrap = "bwrap";
  uid_t uid = ::getuid();
  gid_t gid = ::getgid();
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--bwrap") bwrap = args[++i];
    else if (args[i] == "--uid") uid = static_cast<uid_t>(std::strtoul(args[++i].c_str(), nullptr, 10));
    else if (args[i] == "--gid") gid = static_cast<gid_t>(std::strtoul(args[++i].c_str(), nullptr, 10));
  }
  SandboxLaunch l;
  l.bwrap = bwrap;
  l.privileged = ::geteuid() == 0;
  l.hostUid = uid;
  l.hostGid = gid;
  l.argv = {bwrap, "--unshare-user", "--uid", "1000", "--gid", "1000", "--unshare-pid",
            "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--as-pid-1"};
  if (!l.privileged) l.argv.push_back("--unshare-net");
  appendBaseMounts(&l.argv);
  l.argv.insert(l.argv.end(), {"--", "/usr/bin/true"});
  l.env = {"PATH=/usr/bin:/bin"};
  int errPipe[2];
  if (::pipe2(errPipe, O_CLOEXEC) != 0) return toolFail("check", "pipe: " + errnoText(errno));
  l.errorFd = errPipe[1];
  l.stdoutFd = 2;
  l.watchParent = true;
  pid_t pid = ::fork();
  if (pid < 0) return toolFail("check", "fork: " + errnoText(errno));
  if (pid == 0) execSandbox(l);
  ::close(errPipe[1]);
  std::string err;
  char buf[512];
  ssize_t n;
  while ((n = ::read(errPipe[0], buf, sizeof buf)) > 0) err.append(buf, static_cast<size_t>(n));
  int rc = waitChild(pid);
  while (!err.empty() && err.back() == '\n') err.pop_back();
  if (!err.empty()) return toolFail("check", err);
  if (rc != 0) return toolFail("check", "a trivial sandbox exited with status " + std::to_string(rc));
  return 0;
}

}  // namespace darasa::providers::local::tool
