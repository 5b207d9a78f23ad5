// The local provider bringing N real labs (bubblewrap sandbox + dropbear) to
// ready and back down, against a floor measured in the same run.
//
// Provider: create() for all N through a bounded pool of info().maxParallel
// threads (as the reconciler runs calls), one poller calling probe() on the
// labs not ready yet (a sweep over them every 20 ms); "up" ends when every lab passed
// its readiness probe (its ssh server accepts inside the lab). "down" is
// destroy() of all N through the same pool, until no process, port, cgroup
// or directory of a lab is left.
//
// Floor: the same sandbox started N times directly, all at once: bwrap with
// the same uid drop, namespaces, mounts and /etc binds as a lab (taken from a
// real lab's lab.json) around dropbear, which listens on a host port itself
// (the floor has no network namespace and no proxy, so it is reachable
// without them); "up" ends when all N ports accept, "down" when all N
// sandboxes are killed and reaped. What the provider adds on top: per-lab
// files and host key, cgroups, the detached supervisor, its own network
// namespace, the proxy and the readiness handshake.
//
// Usage: bench_local_provider [N...]   (default 30 100); needs root here.
// The labs' state goes below $TMPDIR (default /tmp).
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "local/common/cgroups.h"
#include "local/common/lab_record.h"
#include "local/common/sys_util.h"
#include "local/local_provider.h"

namespace {

using namespace darasa;
using namespace darasa::providers::local;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "bench_local_provider: %s\n", msg.c_str());
  std::exit(1);
}

bool portAccepts(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

int freePort() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

struct Creds {
  std::string publicKey;
  std::string passwordHash;
};

struct Env {
  std::string base;  // temp dir of this run
  Creds creds;
  std::string cgroupParent;
};

LabSpec labSpec(const Env& env, int i) {
  char trainee[16];
  std::snprintf(trainee, sizeof trainee, "t%04d", i);
  LabSpec s;
  s.cohort = "bench";
  s.trainee = trainee;
  s.labId = s.cohort + "." + s.trainee;
  s.generation = 1;
  s.provider = "local";
  s.ports = {{"ssh", 22, "tcp"}};
  s.readiness.tcpPort = "ssh";
  s.resources.memoryBytes = 256LL << 20;
  s.resources.pids = 128;
  s.resources.cpuMillis = 1000;
  s.labels = {{kLabelLab, s.labId}, {kLabelCohort, s.cohort}, {kLabelTrainee, s.trainee}};
  s.credentials.user = "trainee";
  s.credentials.passwordHash = env.creds.passwordHash;
  s.credentials.authorizedKey = env.creds.publicKey;
  return s;
}

std::unique_ptr<Provider> makeProvider(const Env& env) {
  ProviderConfig config{"local", env.base + "/state",
                        {{"root", env.base + "/root"}, {"cgroupParent", env.cgroupParent}}};
  auto p = makeLocalProvider(config);
  if (!p) die(p.status().toString());
  return std::move(p).value();
}

// Runs f(i) for i in [0, n) on `threads` threads.
template <typename F>
void pool(int n, int threads, F f) {
  std::atomic<int> next{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      for (int i; (i = next++) < n;) f(i);
    });
  for (auto& t : ts) t.join();
}

struct Times {
  double up = 0, down = 0;
  double created = 0;  // provider: when the last create() returned
};

Times runProvider(const Env& env, Provider& provider, int n) {
  std::vector<LabSpec> specs;
  for (int i = 0; i < n; ++i) specs.push_back(labSpec(env, i));
  const int threads = provider.info().maxParallel;
  std::vector<std::atomic<bool>> created(static_cast<size_t>(n));
  std::mutex errMu;
  std::vector<std::string> errors;

  auto t0 = Clock::now();
  std::thread poller;
  std::vector<char> ready(static_cast<size_t>(n), 0);
  int readyCount = 0;
  poller = std::thread([&] {
    while (readyCount < n) {
      for (int i = 0; i < n; ++i) {
        if (ready[static_cast<size_t>(i)] || !created[static_cast<size_t>(i)]) continue;
        Status st = provider.probe(specs[static_cast<size_t>(i)], Deadline::after(10s));
        if (st.isOk()) {
          ready[static_cast<size_t>(i)] = 1;
          ++readyCount;
        } else if (!st.retryable()) {
          die(specs[static_cast<size_t>(i)].labId + ": " + st.toString());
        }
      }
      std::this_thread::sleep_for(20ms);
      if (secondsSince(t0) > 600) die("labs not ready after 600 s");
    }
  });
  pool(n, threads, [&](int i) {
    auto r = provider.create(specs[static_cast<size_t>(i)], Deadline::after(120s));
    if (!r) {
      std::lock_guard<std::mutex> g(errMu);
      errors.push_back(specs[static_cast<size_t>(i)].labId + ": " + r.status().toString());
    }
    created[static_cast<size_t>(i)] = true;
  });
  double createdAt = secondsSince(t0);
  if (!errors.empty()) die(errors.front());
  poller.join();
  Times t;
  t.up = secondsSince(t0);
  t.created = createdAt;

  // Every endpoint answers on 127.0.0.1.
  auto labs = provider.list(LabelSelector::cohort("bench"), Deadline::after(30s));
  if (!labs || labs->size() != static_cast<size_t>(n)) die("list does not show the labs");
  for (const auto& l : *labs)
    if (l.endpoints.empty() || !portAccepts(l.endpoints[0].port)) die(l.labId + " does not answer");

  auto t1 = Clock::now();
  pool(n, threads, [&](int i) {
    Status st = provider.destroy(specs[static_cast<size_t>(i)].labId, Deadline::after(120s));
    if (!st) die(specs[static_cast<size_t>(i)].labId + ": destroy: " + st.toString());
  });
  t.down = secondsSince(t1);
  if (!provider.list(LabelSelector::all(), Deadline::after(30s))->empty()) die("labs left after destroy");
  return t;
}

// What the floor's sandboxes need, made once (not timed): the same /etc
// files and host key a lab has, a home, all owned by the sandbox uid.
struct FloorSetup {
  std::string dir;
  uid_t uid = 0;
  LabRecord rec;  // of a real lab: bwrap path, /etc binds, hostname pattern
};

FloorSetup prepareFloor(const Env& env, Provider& provider) {
  // One real lab, to copy its sandbox recipe and files.
  LabSpec s = labSpec(env, 99999);
  if (auto r = provider.create(s, Deadline::after(60s)); !r) die(r.status().toString());
  std::string labDir = env.base + "/root/labs/" + s.labId;
  FloorSetup f;
  f.rec = readLabRecord(LabPaths(labDir)).value();
  f.dir = env.base + "/floor";
  f.uid = f.rec.hostUid + 1;  // a uid of its own, near the labs'
  ::mkdir(f.dir.c_str(), 0755);
  ::chmod(env.base.c_str(), 0755);  // bwrap (as f.uid) resolves these paths itself
  auto copy = [&](const std::string& from, const std::string& to, mode_t mode) {
    auto text = readFile(from);
    if (!text) die(text.status().toString());
    if (Status st = writeFileAtomic(to, *text, mode); !st) die(st.toString());
    if (::chown(to.c_str(), f.uid, f.uid) != 0) die("chown " + to);
  };
  ::mkdir((f.dir + "/etc").c_str(), 0755);
  for (const char* name : {"passwd", "dropbear_ed25519_host_key"})
    copy(labDir + "/etc/" + name, f.dir + "/etc/" + name, 0600);
  // The files a lab gets generated at each start, as files for the floor.
  for (const auto& [name, content] : generatedEtcFiles(f.rec)) {
    std::string to = f.dir + "/etc/" + name;
    if (Status st = writeFileAtomic(to, content, 0644); !st) die(st.toString());
  }
  ::mkdir((f.dir + "/home").c_str(), 0755);
  ::mkdir((f.dir + "/home/.ssh").c_str(), 0700);
  copy(labDir + "/home/.ssh/authorized_keys", f.dir + "/home/.ssh/authorized_keys", 0600);
  for (const char* d : {"etc", "home", "home/.ssh"})
    if (::chown((f.dir + "/" + d).c_str(), f.uid, f.uid) != 0) die("chown");
  if (Status st = provider.destroy(s.labId, Deadline::after(60s)); !st) die(st.toString());
  return f;
}

std::vector<std::string> floorArgv(const FloorSetup& f, int i, int port) {
  std::vector<std::string> a = {f.rec.bwrap, "--unshare-user", "--uid", "1000", "--gid", "1000", "--unshare-pid",
                                "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent",
                                "--new-session", "--hostname", "f" + std::to_string(i), "--ro-bind", "/usr", "/usr"};
  for (const char* top : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    struct stat st;
    if (::lstat(top, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlink(top, target, sizeof target - 1);
      if (n > 0) a.insert(a.end(), {"--symlink", std::string(target, static_cast<size_t>(n)), top});
    } else {
      a.insert(a.end(), {"--ro-bind", top, top});
    }
  }
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run", "--dir", "/var",
                     "--tmpfs", "/var/tmp", "--symlink", "../run", "/var/run", "--dir", "/etc"});
  for (const auto& e : f.rec.etcBinds) a.insert(a.end(), {"--ro-bind-try", "/etc/" + e, "/etc/" + e});
  for (const char* name : {"passwd", "group", "shells", "hosts", "hostname", "nsswitch.conf"})
    a.insert(a.end(), {"--ro-bind", f.dir + "/etc/" + name, std::string("/etc/") + name});
  a.insert(a.end(), {"--ro-bind", f.dir + "/etc/dropbear_ed25519_host_key", "/etc/dropbear/dropbear_ed25519_host_key",
                     "--bind", f.dir + "/home", "/home/trainee", "--chdir", "/home/trainee", "--remount-ro", "/",
                     "--", "/usr/sbin/dropbear", "-F", "-E", "-p", "127.0.0.1:" + std::to_string(port), "-r",
                     "/etc/dropbear/dropbear_ed25519_host_key", "-P", "/run/dropbear.pid"});
  return a;
}

Times runFloor(const FloorSetup& f, int n) {
  std::vector<int> ports;
  std::vector<std::vector<std::string>> argvs;
  for (int i = 0; i < n; ++i) {
    ports.push_back(freePort());
    argvs.push_back(floorArgv(f, i, ports.back()));
  }
  std::vector<std::string> env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                  "HOME=/home/trainee", "USER=trainee", "LANG=C.UTF-8"};
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);

  auto t0 = Clock::now();
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    std::vector<char*> argv;
    for (auto& s : argvs[static_cast<size_t>(i)]) argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
      if (::setgroups(0, nullptr) || ::setresgid(f.uid, f.uid, f.uid) || ::setresuid(f.uid, f.uid, f.uid)) _exit(126);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    if (pid < 0) die("fork");
    pids.push_back(pid);
  }
  std::vector<char> up(static_cast<size_t>(n), 0);
  for (int left = n; left > 0;) {
    for (int i = 0; i < n; ++i)
      if (!up[static_cast<size_t>(i)] && portAccepts(ports[static_cast<size_t>(i)])) {
        up[static_cast<size_t>(i)] = 1;
        --left;
      }
    if (left > 0) std::this_thread::sleep_for(2ms);
    if (secondsSince(t0) > 600) die("floor sandboxes not up after 600 s");
  }
  Times t;
  t.up = secondsSince(t0);
  auto t1 = Clock::now();
  for (pid_t p : pids) ::kill(p, SIGKILL);
  for (pid_t p : pids) ::waitpid(p, nullptr, 0);
  t.down = secondsSince(t1);
  ::close(devnull);
  return t;
}

Creds makeCreds(const std::string& dir) {
  Creds c;
  std::string key = dir + "/id_ed25519";
  auto gen = runProcess({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key}, Deadline::after(30s));
  if (!gen || gen->exitCode != 0) die("ssh-keygen failed");
  c.publicKey = trim(readFile(key + ".pub").value());
  auto hash = runProcess({"openssl", "passwd", "-6", "bench-password"}, Deadline::after(30s));
  if (!hash || hash->exitCode != 0) die("openssl passwd failed");
  c.passwordHash = trim(hash->output);
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {30, 100};
  if (::geteuid() != 0) die("run me as root (the floor drops to a sandbox uid like the provider does)");

  Env env;
  // $TMPDIR picks the filesystem the labs' state lives on (default /tmp).
  const char* tmpdir = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/darasa-bench-local-XXXXXX";
  if (!::mkdtemp(tmpl.data())) die("mkdtemp " + tmpl);
  env.base = tmpl;
  env.cgroupParent = "darasa-bench-" + std::to_string(::getpid());
  env.creds = makeCreds(env.base);
  auto provider = makeProvider(env);
  if (Status st = provider->usable(); !st) die(st.toString());
  std::printf("local provider: %s, maxParallel %d, %u cores\n", provider->info().version.c_str(),
              provider->info().maxParallel, std::thread::hardware_concurrency());
  FloorSetup floor = prepareFloor(env, *provider);

  // DARASA_BENCH_ONLY=floor|provider runs one side only, e.g. under
  // `perf stat` to compare the CPU time of both process trees.
  const char* only = std::getenv("DARASA_BENCH_ONLY");
  std::string side = only ? only : "";
  std::printf("%6s  %10s %10s %7s   %10s %10s %7s   %s\n", "N", "up", "floor", "ratio", "down", "floor", "ratio",
              "(all create() calls returned after)");
  for (int n : sizes) {
    Times fl, pr;
    if (side != "provider") fl = runFloor(floor, n);
    if (side != "floor") pr = runProvider(env, *provider, n);
    std::printf("%6d  %9.2fs %9.2fs %6.2fx   %9.2fs %9.2fs %6.2fx   %.2fs\n", n, pr.up, fl.up, pr.up / fl.up, pr.down,
                fl.down, pr.down / fl.down, pr.created);
    std::fflush(stdout);
  }

  // Nothing may be left behind.
  CgroupManager cg = CgroupManager::detect(env.cgroupParent);
  int leftovers = 0;
  int most = *std::max_element(sizes.begin(), sizes.end());
  for (int i = 0; i < most && cg.usable(); ++i)
    leftovers += static_cast<int>(cg.existingDirs(labSpec(env, i).labId).size());
  provider.reset();
  for (const char* c : {"memory/", "cpu/", "pids/", "freezer/", ""})
    ::rmdir(("/sys/fs/cgroup/" + std::string(c) + env.cgroupParent).c_str());
  (void)removeTree(env.base);
  if (leftovers) die(std::to_string(leftovers) + " cgroups left behind");
  return 0;
}
