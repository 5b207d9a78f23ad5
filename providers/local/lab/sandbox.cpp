#include "sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "local/common/sys_util.h"

namespace darasa::providers::local::tool {

namespace {

[[noreturn]] void fail(int errorFd, const std::string& msg) {
  if (errorFd >= 0) {
    std::string line = "failed sandbox setup: " + msg + "\n";
    ssize_t n = ::write(errorFd, line.data(), line.size());
    (void)n;
  }
  _exit(127);
}

// Brings up the loopback interface of a fresh network namespace (bwrap does
// this itself when it makes the namespace).
bool loopbackUp() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  struct ifreq req;
  std::memset(&req, 0, sizeof req);
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ::ioctl(s, SIOCGIFFLAGS, &req) == 0;
  req.ifr_flags |= IFF_UP | IFF_RUNNING;
  ok = ok && ::ioctl(s, SIOCSIFFLAGS, &req) == 0;
  ::close(s);
  return ok;
}

bool writeSmallFile(const char* path, const char* value) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, value, std::strlen(value)) == static_cast<ssize_t>(std::strlen(value));
  ::close(fd);
  return ok;
}

}  // namespace

void appendBaseMounts(std::vector<std::string>* argv) {
  auto add = [&](std::initializer_list<std::string> xs) { argv->insert(argv->end(), xs); };
  add({"--ro-bind", "/usr", "/usr"});
  // Debian and most distributions have merged /usr (/bin -> usr/bin); keep
  // whatever the host has.
  for (const char* top : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    struct stat st;
    if (::lstat(top, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlink(top, target, sizeof target - 1);
      if (n <= 0) continue;
      add({"--symlink", std::string(target, static_cast<size_t>(n)), top});
    } else if (S_ISDIR(st.st_mode)) {
      add({"--ro-bind", top, top});
    }
  }
  add({"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run"});
}

void buildLabLaunch(const LabRecord& rec, const LabPaths& paths, bool privileged, const SandboxFds& fds,
                    SandboxLaunch* l) {
  l->bwrap = rec.bwrap;
  l->privileged = privileged;
  l->hostUid = rec.hostUid;
  l->hostGid = rec.hostGid;
  std::string etc = privileged ? std::string(kStageDir) + "/etc" : paths.etcDir();
  std::string home = privileged ? std::string(kStageDir) + "/home" : paths.homeDir();
  std::string toolPath = privileged ? std::string(kStageDir) + "/darasa-lab" : rec.labBinary;
  if (privileged)
    l->stage = {{paths.etcDir(), "etc"}, {paths.homeDir(), "home"}, {rec.labBinary, "darasa-lab"}};

  auto& a = l->argv;
  auto add = [&](std::initializer_list<std::string> xs) { a.insert(a.end(), xs); };
  a = {rec.bwrap};
  add({"--unshare-user", "--uid", std::to_string(rec.sandboxUid), "--gid",
       std::to_string(rec.sandboxGid), "--unshare-pid", "--unshare-ipc", "--unshare-uts",
       "--unshare-cgroup-try"});
  if (!privileged) add({"--unshare-net"});
  add({"--die-with-parent", "--as-pid-1", "--new-session", "--hostname", rec.hostname,
       "--info-fd", std::to_string(fds.info)});
  appendBaseMounts(&a);
  add({"--dir", "/var", "--tmpfs", "/var/tmp", "--symlink", "../run", "/var/run", "--dir", "/etc"});
  for (const auto& e : rec.etcBinds) add({"--ro-bind-try", "/etc/" + e, "/etc/" + e});
  for (const auto& [name, fd] : fds.etcData) add({"--ro-bind-data", std::to_string(fd), "/etc/" + name});
  add({"--ro-bind", etc + "/passwd", "/etc/passwd"});
  if (pathExists(paths.hostKey())) add({"--ro-bind", etc + "/dropbear_ed25519_host_key", kSandboxHostKey});
  add({"--ro-bind", toolPath, kSandboxToolPath, "--bind", home, rec.home, "--chdir", rec.home, "--remount-ro", "/",
       "--", kSandboxToolPath, "init", "--config-fd", std::to_string(fds.config), "--status-fd",
       std::to_string(fds.status), "--lock-fd", std::to_string(fds.lock)});
  for (size_t i = 0; i < rec.ports.size(); ++i)
    add({"--listen", rec.ports[i].name + "=" + std::to_string(3 + i)});

  l->env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME=" + rec.home,
            "USER=" + rec.user,
            "LOGNAME=" + rec.user,
            "LANG=C.UTF-8"};
}

void execSandbox(const SandboxLaunch& l) {
  const int errFd = l.errorFd;
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);

  if (l.cgroups && l.cgroups->usable()) {
    if (Status st = l.cgroups->join(l.cgroupName, ::getpid()); !st)
      fail(errFd, "cannot join the lab's cgroups: " + st.message());
  }
  pid_t parent = ::getppid();
  if (l.privileged) {
    // The lab's processes lose to a trainee's memory hog when the cgroup
    // runs out of memory; init raises its children back to 0.
    writeSmallFile("/proc/self/oom_score_adj", "-900");
    // A network namespace shares the host's TCP hash table (262144 buckets
    // here) unless its parent asks otherwise; every read of /proc/net/tcp
    // walks all of it, and dropbear reads it at each start to seed its RNG.
    // Ask, from a throwaway namespace (the host's setting stays as it is),
    // for a small table of the lab's own (Linux >= 6.1; ignored before).
    if (::unshare(CLONE_NEWNET) != 0) fail(errFd, "unshare(net): " + errnoText(errno));
    writeSmallFile("/proc/sys/net/ipv4/tcp_child_ehash_entries", "1024");
    if (::unshare(CLONE_NEWNS | CLONE_NEWNET) != 0)
      fail(errFd, "unshare(mount, net): " + errnoText(errno));
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      fail(errFd, "making / private: " + errnoText(errno));
    if (!loopbackUp()) fail(errFd, "cannot bring up lo: " + errnoText(errno));
    // Services of a lab listen on their usual ports (ssh on 22) although
    // they run unprivileged; this namespace belongs to the lab alone.
    if (!writeSmallFile("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0"))
      fail(errFd, "cannot set ip_unprivileged_port_start: " + errnoText(errno));
    // Open the sources before the tmpfs hides them (they may live in /tmp).
    std::vector<int> sources;
    for (const auto& [path, name] : l.stage) {
      int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
      if (fd < 0) fail(errFd, "cannot open " + path + ": " + errnoText(errno));
      sources.push_back(fd);
    }
    if (::mount("darasa-stage", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") != 0)
      fail(errFd, "mount tmpfs on /tmp: " + errnoText(errno));
    ::mkdir(kStageDir, 0755);
    for (size_t i = 0; i < l.stage.size(); ++i) {
      std::string target = std::string(kStageDir) + "/" + l.stage[i].second;
      struct stat st;
      if (::fstat(sources[i], &st) != 0) fail(errFd, "stat " + l.stage[i].first);
      if (S_ISDIR(st.st_mode)) {
        ::mkdir(target.c_str(), 0755);
      } else {
        int f = ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (f >= 0) ::close(f);
      }
      std::string src = "/proc/self/fd/" + std::to_string(sources[i]);
      if (::mount(src.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0)
        fail(errFd, "bind " + l.stage[i].first + ": " + errnoText(errno));
      ::close(sources[i]);
    }
    if (::setgroups(0, nullptr) != 0) fail(errFd, "setgroups: " + errnoText(errno));
    if (::setresgid(l.hostGid, l.hostGid, l.hostGid) != 0) fail(errFd, "setresgid: " + errnoText(errno));
    if (::setresuid(l.hostUid, l.hostUid, l.hostUid) != 0) fail(errFd, "setresuid: " + errnoText(errno));
  }
  if (l.watchParent) {
    // Set after the uid change, which clears it. bwrap sets its own too.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(127);
  }

  // Move every descriptor we keep above the target range first, so that
  // placing them at 1, 2, 3... never overwrites one still to be placed.
  const int n = static_cast<int>(l.passFds.size());
  const int high = 3 + n + 16;
  int err = errFd >= 0 ? ::fcntl(errFd, F_DUPFD_CLOEXEC, high) : -1;
  std::vector<int> tmp;
  for (int fd : l.passFds) tmp.push_back(::fcntl(fd, F_DUPFD_CLOEXEC, high));
  int out = l.stdoutFd >= 0 ? ::fcntl(l.stdoutFd, F_DUPFD_CLOEXEC, high) : -1;
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull >= 0) ::dup2(devnull, 0);
  if (out >= 0) {
    ::dup2(out, 1);
    ::dup2(out, 2);
  }
  for (int i = 0; i < n; ++i)
    if (tmp[i] < 0 || ::dup2(tmp[i], 3 + i) < 0) fail(err, "cannot pass descriptor " + std::to_string(i));
  // Everything else closes at exec (the error pipe included, which tells
  // the caller that exec worked).
  ::close_range(3 + n, ~0U, CLOSE_RANGE_CLOEXEC);

  std::vector<char*> argv, envp;
  for (const auto& s : l.argv) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  for (const auto& s : l.env) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);
  ::execve(l.bwrap.c_str(), argv.data(), envp.data());
  fail(err, "cannot run " + l.bwrap + ": " + errnoText(errno));
}

}  // namespace darasa::providers::local::tool
