// `darasa-lab init`: PID 1 of a lab's sandbox.
//
// As PID 1 of the lab's PID namespace it cannot be killed from inside the
// lab (the kernel drops signals it has no handler for), so a trainee's
// `kill -9 -1` ends their shells and the ssh server but not the lab: init
// restarts services that exit, with backoff, and only gives up (lab failed)
// when one exits five times in a row within seconds of starting. It also:
//  - reaps every orphan (it is PID 1),
//  - proxies each connection accepted on a host-side 127.0.0.1 listening
//    socket (inherited from darasa via the launcher; it stays in the host's network
//    namespace) to 127.0.0.1:<inner port> inside the lab's namespace,
//  - appends to the lab's status file: "started", then "ready" once every
//    readiness port accepts connections inside the lab (so ready means the
//    service answers, not only our proxy), and "failed <why>" before giving
//    up; touches the status file (its mtime) at most every 10 s while
//    traffic flows or any proxied connection is open (an idle SSH session
//    kept open is a trainee at work), and when the last one closes, for
//    idle culling;
//  - keeps the run.lock descriptor open: the lab counts as running exactly
//    as long as bwrap or init lives.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "local/common/lab_record.h"
#include "local/common/sys_util.h"
#include "tool.h"

namespace darasa::providers::local::tool {

namespace {

int64_t nowMs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void say(int fd, const std::string& line) {
  std::string l = line + "\n";
  ssize_t n = ::write(fd, l.data(), l.size());
  (void)n;
}

void setCloexecNonblock(int fd) {
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

sockaddr_in loopback(int port) {
  sockaddr_in a;
  std::memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

bool portAccepts(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  sockaddr_in a = loopback(port);
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

// One direction of a proxied connection.
struct Pipe {
  static constexpr size_t kSize = 64 * 1024;
  std::unique_ptr<char[]> buf{new char[kSize]};
  size_t start = 0, end = 0;
  bool eof = false;       // the reading side ended
  bool shutDone = false;  // we passed the end on
  size_t room() const { return kSize - end; }
  size_t pending() const { return end - start; }
};

struct Conn {
  int client = -1;
  int upstream = -1;
  bool connected = false;
  Pipe up;    // client -> upstream
  Pipe down;  // upstream -> client
};

class Proxy {
 public:
  Proxy(int epfd, int activityFd) : ep_(epfd), activityFd_(activityFd) {}

  void addListener(int fd, int innerPort) {
    setCloexecNonblock(fd);
    listeners_[fd] = innerPort;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }
  bool isListener(int fd) const { return listeners_.count(fd) > 0; }
  bool hasConnections() const { return !byFd_.empty(); }
  bool owns(int fd) const { return byFd_.count(fd) > 0; }

  void accept(int lfd) {
    for (;;) {
      int c = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c < 0) return;  // EAGAIN or a transient error
      int u = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (u < 0) {
        ::close(c);
        continue;
      }
      sockaddr_in a = loopback(listeners_[lfd]);
      int r = ::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a);
      if (r < 0 && errno != EINPROGRESS) {
        ::close(c);
        ::close(u);
        continue;
      }
      auto conn = std::make_shared<Conn>();
      conn->client = c;
      conn->upstream = u;
      conn->connected = r == 0;
      byFd_[c] = conn;
      byFd_[u] = conn;
      epoll_event ev{};
      ev.data.fd = c;
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, c, &ev);
      ev.data.fd = u;
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, u, &ev);
      update(*conn);
      noteActivity();
    }
  }

  void handle(int fd, uint32_t events) {
    auto it = byFd_.find(fd);
    if (it == byFd_.end()) return;
    std::shared_ptr<Conn> c = it->second;
    if (fd == c->upstream && !c->connected) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return close(*c);
      if (!(events & (EPOLLOUT | EPOLLIN | EPOLLHUP))) return;
      c->connected = true;
    }
    bool fromClient = fd == c->client;
    Pipe& in = fromClient ? c->up : c->down;  // data read from fd
    Pipe& out = fromClient ? c->down : c->up;  // data written to fd
    int other = fromClient ? c->upstream : c->client;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      if (!readInto(fd, in)) return close(*c);
    }
    if (!flush(other, in) || !flush(fd, out)) return close(*c);
    if ((events & EPOLLERR) && !(events & EPOLLIN)) return close(*c);
    if (in.eof && in.pending() == 0 && !in.shutDone) {
      ::shutdown(other, SHUT_WR);
      in.shutDone = true;
    }
    if (out.eof && out.pending() == 0 && !out.shutDone) {
      ::shutdown(fd, SHUT_WR);
      out.shutDone = true;
    }
    if (c->up.shutDone && c->down.shutDone) return close(*c);
    update(*c);
  }

 private:
  bool readInto(int fd, Pipe& p) {
    while (!p.eof && p.room() > 0) {
      ssize_t n = ::read(fd, p.buf.get() + p.end, p.room());
      if (n > 0) {
        p.end += static_cast<size_t>(n);
        noteActivity();
      } else if (n == 0) {
        p.eof = true;
      } else {
        return errno == EAGAIN || errno == EINTR;
      }
    }
    return true;
  }

  // Writes what is pending from p to fd; false on a hard error.
  bool flush(int fd, Pipe& p) {
    if (fd == -1) return false;
    auto it = byFd_.find(fd);
    if (it == byFd_.end()) return false;
    if (fd == it->second->upstream && !it->second->connected) return true;
    while (p.pending() > 0) {
      ssize_t n = ::send(fd, p.buf.get() + p.start, p.pending(), MSG_NOSIGNAL);
      if (n > 0) {
        p.start += static_cast<size_t>(n);
      } else {
        if (errno == EAGAIN || errno == EINTR) break;
        return false;
      }
    }
    if (p.pending() == 0) p.start = p.end = 0;
    return true;
  }

  void update(const Conn& c) {
    uint32_t ce = 0, ue = 0;
    if (!c.up.eof && c.up.room() > 0) ce |= EPOLLIN;
    if (c.down.pending() > 0) ce |= EPOLLOUT;
    if (!c.connected) {
      ue |= EPOLLOUT;
    } else {
      if (!c.down.eof && c.down.room() > 0) ue |= EPOLLIN;
      if (c.up.pending() > 0) ue |= EPOLLOUT;
    }
    epoll_event ev{};
    ev.events = ce;
    ev.data.fd = c.client;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.client, &ev);
    ev.events = ue;
    ev.data.fd = c.upstream;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.upstream, &ev);
  }

  void close(Conn& c) {
    int fds[2] = {c.client, c.upstream};
    for (int fd : fds) {
      if (fd < 0) continue;
      ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
      ::close(fd);
    }
    // Erasing may destroy c: take the fds first.
    byFd_.erase(fds[0]);
    byFd_.erase(fds[1]);
    // The idle time of a lab starts when its last session ends, not at the
    // last touch up to 10 s before.
    if (byFd_.empty()) noteActivity(true);
  }

 public:
  void noteActivity(bool force = false) {
    int64_t now = nowMs();
    if (activityFd_ >= 0 && (force || now - lastActivity_ >= 10000)) {
      lastActivity_ = now;
      ::futimens(activityFd_, nullptr);
    }
  }

 private:
  int ep_;
  int activityFd_;
  int64_t lastActivity_ = -1000000;
  std::map<int, int> listeners_;  // fd -> inner port
  std::map<int, std::shared_ptr<Conn>> byFd_;
};

struct Service {
  InitService spec;
  pid_t pid = 0;
  int64_t startedMs = 0;
  int64_t restartAtMs = 0;
  int quickExits = 0;
};

pid_t startService(const Service& s, const InitConfig& cfg) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::setsid();
  // Undo the launcher's protection: trainee processes are fair game for
  // the OOM killer, the lab's init is not.
  int f = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (f >= 0) {
    ssize_t n = ::write(f, "0", 1);
    (void)n;
    ::close(f);
  }
  std::string dir = s.spec.workdir.empty() ? cfg.home : s.spec.workdir;
  if (::chdir(dir.c_str()) != 0) ::chdir(cfg.home.c_str());
  std::map<std::string, std::string> env = {
      {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
      {"HOME", cfg.home},
      {"USER", cfg.user},
      {"LOGNAME", cfg.user},
      {"SHELL", cfg.shell},
      {"LANG", "C.UTF-8"}};
  for (const auto& [k, v] : s.spec.env) env[k] = v;
  std::vector<std::string> envs;
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (const auto& a : s.spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : envs) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // execvpe searches PATH of the environment we pass.
  ::environ = envp.data();
  ::execvpe(argv[0], argv.data(), envp.data());
  std::fprintf(stderr, "darasa-lab init: cannot run %s: %s\n", argv[0], std::strerror(errno));
  _exit(127);
}

std::string describeExit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

}  // namespace

int initMain(const std::vector<std::string>& args) {
  int configFd = -1, statusFd = -1;
  std::vector<std::pair<std::string, int>> listen;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> std::string { return i + 1 < args.size() ? args[++i] : ""; };
    if (a == "--config-fd") configFd = std::atoi(next().c_str());
    else if (a == "--status-fd") statusFd = std::atoi(next().c_str());
    else if (a == "--lock-fd") (void)next();  // kept open (below), never used
    else if (a == "--listen") {
      std::string v = next();
      auto eq = v.find('=');
      if (eq == std::string::npos) return 2;
      listen.emplace_back(v.substr(0, eq), std::atoi(v.c_str() + eq + 1));
    }
  }
  // Nothing we inherited (sockets, run files, the lock) goes to services.
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  ::signal(SIGPIPE, SIG_IGN);
  say(statusFd, "started");
  std::string text;
  char buf[4096];
  for (ssize_t got; (got = ::read(configFd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(got));
  ::close(configFd);
  auto cfgOr = initConfigFromJson(text);
  if (!cfgOr) {
    say(statusFd, "failed " + cfgOr.status().message());
    return 1;
  }
  const InitConfig cfg = std::move(cfgOr).value();

  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, s);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sigFd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = sigFd;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, sigFd, &ev);

  Proxy proxy(ep, statusFd);
  for (const auto& [name, fd] : listen) {
    auto it = cfg.innerPorts.find(name);
    if (it == cfg.innerPorts.end()) {
      ::close(fd);
      continue;
    }
    proxy.addListener(fd, it->second);
  }

  std::vector<Service> services;
  for (const auto& s : cfg.services) services.push_back(Service{s});
  for (auto& s : services) {
    s.pid = startService(s, cfg);
    s.startedMs = nowMs();
  }

  bool ready = false;
  int64_t nextReadyCheck = 0;
  // Services take a few ms to listen: look often at first, then less.
  int64_t readyInterval = 2;
  constexpr int kMaxQuickExits = 5;
  constexpr int64_t kQuickMs = 5000;
  for (;;) {
    int64_t now = nowMs();
    int timeout = 1000;
    if (!ready) timeout = static_cast<int>(std::max<int64_t>(0, nextReadyCheck - now));
    for (const auto& s : services)
      if (s.pid == 0) timeout = static_cast<int>(std::min<int64_t>(timeout, std::max<int64_t>(0, s.restartAtMs - now)));
    epoll_event events[64];
    int n = ::epoll_wait(ep, events, 64, timeout);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == sigFd) {
        signalfd_siginfo si;
        while (::read(sigFd, &si, sizeof si) == sizeof si) {
          if (si.ssi_signo != SIGCHLD) return 0;  // only the host can reach us
        }
        int status;
        pid_t p;
        while ((p = ::waitpid(-1, &status, WNOHANG)) > 0) {
          for (auto& s : services) {
            if (s.pid != p) continue;
            s.pid = 0;
            int64_t t = nowMs();
            s.quickExits = (t - s.startedMs < kQuickMs) ? s.quickExits + 1 : 1;
            std::string why = "service " + s.spec.name + " (" + s.spec.argv[0] + ") " + describeExit(status);
            std::fprintf(stderr, "darasa-lab init: %s\n", why.c_str());
            if (s.quickExits >= kMaxQuickExits) {
              say(statusFd, "failed " + why + " " + std::to_string(s.quickExits) + " times in a row");
              return 1;
            }
            s.restartAtMs = t + (100LL << std::min(s.quickExits, 6));
          }
        }
      } else if (proxy.isListener(fd)) {
        proxy.accept(fd);
      } else {
        proxy.handle(fd, events[i].events);
      }
    }
    // An open connection is activity even when no byte flows (at most one
    // touch per 10 s; the loop wakes at least once a second).
    if (proxy.hasConnections()) proxy.noteActivity();
    now = nowMs();
    for (auto& s : services) {
      if (s.pid == 0 && now >= s.restartAtMs) {
        s.pid = startService(s, cfg);
        s.startedMs = now;
      }
    }
    if (!ready && now >= nextReadyCheck) {
      bool all = true;
      for (int port : cfg.readyPorts)
        if (!portAccepts(port)) {
          all = false;
          break;
        }
      if (all) {
        ready = true;
        say(statusFd, "ready");
      } else {
        nextReadyCheck = now + readyInterval;
        readyInterval = std::min<int64_t>(readyInterval * 2, 50);
      }
    }
  }
}

}  // namespace darasa::providers::local::tool
