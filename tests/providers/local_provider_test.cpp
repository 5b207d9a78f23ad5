// Tests of the local provider with real processes: bubblewrap sandboxes,
// dropbear, OpenSSH's client, cgroups. Every lab lives under a temporary
// root and a cgroup parent of its own, and is destroyed in TearDown.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "local/common/cgroups.h"
#include "local/common/lab_record.h"
#include "local/common/sys_util.h"
#include "local/local_provider.h"

namespace darasa::providers::local {
namespace {

using namespace std::chrono_literals;

const char* kPassword = "correct horse battery";

std::string shellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// Test-wide credentials: an Ed25519 key pair and the SHA-512 crypt hash of
// kPassword, made with the same tools a person would use.
struct Creds {
  std::string dir;
  std::string keyPath;
  std::string publicKey;
  std::string passwordHash;
  std::string askpass;
};

std::string* gCredsDir = nullptr;

// Removes the credentials directory when the test program ends.
class CredsEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    if (gCredsDir) (void)removeTree(*gCredsDir);
  }
};
[[maybe_unused]] ::testing::Environment* const kCredsEnv =
    ::testing::AddGlobalTestEnvironment(new CredsEnvironment);

Creds& creds() {
  static Creds c = [] {
    Creds c;
    char tmpl[] = "/tmp/darasa-local-creds-XXXXXX";
    c.dir = ::mkdtemp(tmpl);
    gCredsDir = new std::string(c.dir);
    c.keyPath = c.dir + "/id_ed25519";
    auto gen = runProcess({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "darasa-test", "-f", c.keyPath},
                          Deadline::after(30s));
    if (!gen || gen->exitCode != 0) throw std::runtime_error("ssh-keygen failed");
    c.publicKey = trim(readFile(c.keyPath + ".pub").value());
    auto hash = runProcess({"openssl", "passwd", "-6", kPassword}, Deadline::after(30s));
    if (!hash || hash->exitCode != 0) throw std::runtime_error("openssl passwd failed");
    c.passwordHash = trim(hash->output);
    c.askpass = c.dir + "/askpass";
    std::ofstream(c.askpass) << "#!/bin/sh\necho " << shellQuote(kPassword) << "\n";
    ::chmod(c.askpass.c_str(), 0700);
    return c;
  }();
  return c;
}

struct Ssh {
  int exitCode = -1;
  std::string output;
};

std::vector<std::string> sshBase(int port) {
  return {"ssh", "-F", "/dev/null", "-p", std::to_string(port), "-o", "StrictHostKeyChecking=no", "-o",
          "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"};
}

Ssh sshKey(int port, const std::string& command, const std::string& user = "trainee") {
  auto argv = sshBase(port);
  argv.insert(argv.end(), {"-i", creds().keyPath, "-o", "BatchMode=yes", "-o", "PasswordAuthentication=no",
                           user + "@127.0.0.1", command});
  auto r = runProcess(argv, Deadline::after(60s));
  if (!r) return {};
  return {r->exitCode, r->output};
}

Ssh sshPassword(int port, const std::string& command, const std::string& askpass) {
  auto argv = sshBase(port);
  argv.insert(argv.end(), {"-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive",
                           "-o", "NumberOfPasswordPrompts=1", "trainee@127.0.0.1", command});
  std::vector<std::string> env = {"PATH=/usr/bin:/bin", "HOME=" + creds().dir, "SSH_ASKPASS=" + askpass,
                                  "SSH_ASKPASS_REQUIRE=force", "DISPLAY=none"};
  auto r = runProcess(argv, Deadline::after(60s), 1 << 20, &env);
  if (!r) return {};
  return {r->exitCode, r->output};
}

bool portAnswers(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

// Whether some socket listens on 127.0.0.1:port or 0.0.0.0:port in this
// network namespace (state 0A in /proc/net/tcp).
bool portListening(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  char want[8];
  std::snprintf(want, sizeof want, "%04X", port);
  while (std::getline(in, line)) {
    auto colon = line.find(':', line.find(':') + 1);
    if (colon == std::string::npos) continue;
    std::string p = line.substr(colon + 1, 4);
    if (p == want && line.find(" 0A ") != std::string::npos) return true;
  }
  return false;
}

struct ProcInfo {
  pid_t pid;
  uid_t uid;
  std::string cmdline;
};

std::vector<ProcInfo> processes() {
  std::vector<ProcInfo> out;
  DIR* d = ::opendir("/proc");
  while (dirent* e = ::readdir(d)) {
    pid_t pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    struct stat st;
    std::string base = "/proc/" + std::string(e->d_name);
    if (::stat(base.c_str(), &st) != 0) continue;
    auto cmd = readFile(base + "/cmdline");
    if (!cmd) continue;
    std::string c = *cmd;
    for (auto& ch : c)
      if (ch == '\0') ch = ' ';
    // Zombies are not running.
    auto stat = readFile(base + "/stat");
    if (stat) {
      auto close = stat->rfind(')');
      if (close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] == 'Z') continue;
    }
    out.push_back({pid, st.st_uid, c});
  }
  ::closedir(d);
  return out;
}

// The lab's process trees: bwrap (the top of a lab) running as its uid.
int countTrees(const LabRecord& rec) {
  int n = 0;
  for (const auto& p : processes())
    if (p.uid == rec.hostUid && p.cmdline.rfind(rec.bwrap + " ", 0) == 0) ++n;
  return n;
}

// Processes running as uid. When darasa is not root its labs run as its own
// uid, like this test: then only the labs' own programs count.
int countUidProcesses(uid_t uid) {
  int n = 0;
  for (const auto& p : processes()) {
    if (p.uid != uid) continue;
    if (uid == ::getuid() && p.cmdline.find("bwrap") == std::string::npos &&
        p.cmdline.find("darasa-lab") == std::string::npos && p.cmdline.find("dropbear") == std::string::npos)
      continue;
    ++n;
  }
  return n;
}

class LocalProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/darasa-local-test-XXXXXX";
    base_ = ::mkdtemp(tmpl);
    root_ = base_ + "/root";
    cgroupParent_ = "darasa-test-" + std::to_string(::getpid());
    uidBase_ = 410000000 + static_cast<uid_t>(::getpid() % 100000) * 100;
    provider_ = make();
    ASSERT_NE(provider_, nullptr);
    Status usable = provider_->usable();
    ASSERT_TRUE(usable.isOk()) << usable.toString();
  }

  void TearDown() override {
    if (!provider_) provider_ = make();
    if (provider_) {
      auto labs = provider_->list(LabelSelector::all(), Deadline::after(30s));
      if (labs) {
        for (const auto& l : *labs) {
          // The launcher and the lab's init write here; in sanitizer builds
          // so do their sanitizers.
          auto log = readFile(labDir(l.labId) + "/lab.log");
          for (const char* bad : {"runtime error:", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer"})
            EXPECT_EQ(log ? log->find(bad) : std::string::npos, std::string::npos) << l.labId << ":\n" << *log;
          EXPECT_TRUE(provider_->destroy(l.labId, Deadline::after(30s)).isOk());
        }
      }
    }
    provider_.reset();
    (void)removeTree(base_);
    for (const char* c : {"memory/", "cpu/", "cpuacct/", "pids/", "freezer/", ""})
      ::rmdir(("/sys/fs/cgroup/" + std::string(c) + cgroupParent_).c_str());
  }

  // A uid range of this test process's own, so that tests running in
  // parallel can tell their labs' processes apart.
  // (Fixed in SetUp: forked "darasa" children must use the same range.)
  uid_t uidBase() const { return uidBase_; }
  std::map<std::string, std::string> options() const {
    return {{"root", root_},
            {"cgroupParent", cgroupParent_},
            {"stopTimeout", "3"},
            {"uidBase", std::to_string(uidBase())},
            {"uidCount", "100"}};
  }

  std::unique_ptr<Provider> make() {
    ProviderConfig config{"local", base_ + "/state", options()};
    auto p = makeLocalProvider(config);
    EXPECT_TRUE(p.isOk()) << p.status().toString();
    return p ? std::move(p).value() : nullptr;
  }

  LabSpec spec(const std::string& trainee, const std::string& cohort = "c1") const {
    LabSpec s;
    s.labId = cohort + "." + trainee;
    s.cohort = cohort;
    s.trainee = trainee;
    s.generation = 1;
    s.templateName = "t";
    s.provider = "local";
    // Unprivileged darasa cannot give labs ports below 1024.
    s.ports = {{"ssh", ::geteuid() == 0 ? 22 : 2222, "tcp"}};
    s.readiness.tcpPort = "ssh";
    s.resources.memoryBytes = 128LL << 20;
    s.resources.pids = 64;
    s.resources.cpuMillis = 500;
    s.labels = {{kLabelLab, s.labId}, {kLabelCohort, cohort}, {kLabelTrainee, trainee}};
    s.credentials.user = "trainee";
    s.credentials.passwordHash = creds().passwordHash;
    s.credentials.authorizedKey = creds().publicKey;
    return s;
  }

  Status waitReady(const LabSpec& s, std::chrono::seconds limit = 30s) {
    auto until = std::chrono::steady_clock::now() + limit;
    Status last;
    while (std::chrono::steady_clock::now() < until) {
      last = provider_->probe(s, Deadline::after(10s));
      if (last.isOk() || !last.retryable()) return last;
      std::this_thread::sleep_for(20ms);
    }
    return last;
  }

  // Creates s, waits for it, returns its ssh port.
  int up(const LabSpec& s) {
    auto lab = provider_->create(s, Deadline::after(30s));
    EXPECT_TRUE(lab.isOk()) << lab.status().toString();
    if (!lab) return 0;
    Status ready = waitReady(s);
    EXPECT_TRUE(ready.isOk()) << ready.toString();
    auto seen = provider_->inspect(s.labId, Deadline::after(10s));
    EXPECT_TRUE(seen.isOk());
    if (!seen || seen->endpoints.empty()) return 0;
    EXPECT_EQ(seen->endpoints[0].host, "127.0.0.1");
    return seen->endpoints[0].port;
  }

  std::string labDir(const std::string& id) const { return root_ + "/labs/" + id; }
  LabRecord record(const std::string& id) const { return readLabRecord(LabPaths(labDir(id))).value(); }
  RunRecord run(const std::string& id) const { return readRunRecord(LabPaths(labDir(id))).value(); }

  std::string base_, root_, cgroupParent_;
  uid_t uidBase_ = 0;
  std::unique_ptr<Provider> provider_;
};

TEST_F(LocalProviderTest, InfoDescribesAProcessProviderWithStopStartAndExec) {
  ProviderInfo i = provider_->info();
  EXPECT_EQ(i.name, "local");
  EXPECT_EQ(i.kind, ProviderKind::kProcess);
  EXPECT_TRUE(i.capabilities.stopStart);
  EXPECT_TRUE(i.capabilities.exec);
  EXPECT_GE(i.maxParallel, 4);
  EXPECT_NE(i.version.find("bubblewrap"), std::string::npos) << i.version;
  // And whether limits apply here (cgroup v1 on the reference machine).
  EXPECT_NE(i.version.find(CgroupManager::detect(cgroupParent_).describe()), std::string::npos) << i.version;
}

TEST_F(LocalProviderTest, ValidateNamesTheFieldsItCannotHonour) {
  LabSpec s = spec("val");
  EXPECT_TRUE(provider_->validate(s).isOk());

  LabSpec bad = s;
  bad.image = "docker.io/library/ubuntu";
  bad.ports.push_back({"ssh", 2222, "tcp"});
  bad.resources.memoryBytes = 1LL << 50;
  bad.network = NetworkMode::kCohort;
  Status st = provider_->validate(bad);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_NE(st.message().find("image \"docker.io/library/ubuntu\""), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("ports[1].name \"ssh\" is used twice"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("resources.memory 1048576Gi is more than this machine has"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("network \"cohort\""), std::string::npos) << st.message();

  LabSpec web = s;
  web.ports.push_back({"web", 8080, "http"});
  EXPECT_NE(provider_->validate(web).message().find("need a command"), std::string::npos);
  LabSpec nothing = s;
  nothing.ports.clear();
  nothing.readiness.tcpPort.clear();
  EXPECT_NE(provider_->validate(nothing).message().find("nothing to run"), std::string::npos);
  LabSpec path = s;
  path.labId = "../etc";
  EXPECT_NE(provider_->validate(path).message().find("labId \"../etc\""), std::string::npos);

  // Nothing was created by validate or by a refused create.
  EXPECT_EQ(provider_->create(bad, Deadline::after(10s)).status().code(), Code::kInvalid);
  EXPECT_TRUE(provider_->list(LabelSelector::all(), Deadline::after(10s))->empty());
}

TEST_F(LocalProviderTest, CreateRefusesMissingCredentials) {
  LabSpec s = spec("nocreds");
  s.credentials.passwordHash.clear();
  auto r = provider_->create(s, Deadline::after(10s));
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("credentials.passwordHash is required"), std::string::npos);
}

TEST_F(LocalProviderTest, TraineeLogsInWithTheKeyAndLandsInTheSandbox) {
  LabSpec s = spec("alice");
  int port = up(s);
  ASSERT_GT(port, 0);
  ASSERT_TRUE(portAnswers(port));

  Ssh host = sshKey(port, "hostname");
  ASSERT_EQ(host.exitCode, 0) << host.output;
  EXPECT_EQ(trim(host.output), "alice");

  Ssh who = sshKey(port, "id -un; id -u; pwd");
  EXPECT_EQ(who.output, "trainee\n1000\n/home/trainee\n");

  // Its own PID namespace: init, dropbear and this session, not the host's.
  Ssh procs = sshKey(port, "ls /proc | grep -c '^[0-9]'");
  ASSERT_EQ(procs.exitCode, 0) << procs.output;
  EXPECT_LE(std::stoi(procs.output), 8) << procs.output;
  EXPECT_EQ(trim(sshKey(port, "cat /proc/1/cmdline | tr '\\0' ' '").output).rfind("/run/darasa/darasa-lab init", 0), 0u);

  // Its own network namespace: a port listening on the host's 127.0.0.1 is
  // not reachable from inside, the lab's own loopback is.
  int hostSock = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(hostSock, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(hostSock, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(hostSock, reinterpret_cast<sockaddr*>(&a), &len);
  int hostPort = ntohs(a.sin_port);
  Ssh net = sshKey(port, "if (exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(hostPort) +
                             ") 2>/dev/null; then echo reached; else echo blocked; fi; "
                             "if (exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(s.ports[0].port) +
                             ") 2>/dev/null; then echo own; fi");
  ::close(hostSock);
  EXPECT_EQ(net.output, "blocked\nown\n");

  // Read-only system, writable home.
  Ssh fs = sshKey(port, "touch /usr/x 2>/dev/null || echo ro; touch ~/y && echo rw; test -e /etc/shadow || echo noshadow");
  EXPECT_EQ(fs.output, "ro\nrw\nnoshadow\n");

  // On the host the lab runs as an unprivileged uid of its own.
  LabRecord rec = record(s.labId);
  EXPECT_NE(rec.hostUid, 0u);
  EXPECT_GE(countUidProcesses(rec.hostUid), 2);  // bwrap, init, dropbear...
}

TEST_F(LocalProviderTest, InteractiveLoginGetsATerminal) {
  int port = up(spec("tty"));
  ASSERT_GT(port, 0);
  auto argv = sshBase(port);
  argv.insert(argv.end(), {"-tt", "-i", creds().keyPath, "-o", "BatchMode=yes", "trainee@127.0.0.1", "tty"});
  auto r = runProcess(argv, Deadline::after(30s));
  ASSERT_TRUE(r.isOk());
  EXPECT_NE(r->output.find("/dev/pts/"), std::string::npos) << r->output;
}

TEST_F(LocalProviderTest, TraineeLogsInWithThePassword) {
  int port = up(spec("bob"));
  ASSERT_GT(port, 0);
  Ssh ok = sshPassword(port, "echo in as $(id -un)", creds().askpass);
  EXPECT_EQ(ok.exitCode, 0) << ok.output;
  EXPECT_EQ(trim(ok.output), "in as trainee");

  std::string wrong = creds().dir + "/askpass-wrong";
  std::ofstream(wrong) << "#!/bin/sh\necho not-the-password\n";
  ::chmod(wrong.c_str(), 0700);
  Ssh denied = sshPassword(port, "true", wrong);
  EXPECT_NE(denied.exitCode, 0);
  EXPECT_NE(denied.output.find("Permission denied"), std::string::npos) << denied.output;
}

TEST_F(LocalProviderTest, PasswordLoginIsOffWhenTheTemplateSaysSo) {
  LabSpec s = spec("keyonly");
  s.access.password = false;
  s.credentials.passwordHash.clear();
  int port = up(s);
  ASSERT_GT(port, 0);
  EXPECT_EQ(sshKey(port, "echo ok").output, "ok\n");
  Ssh pw = sshPassword(port, "true", creds().askpass);
  EXPECT_NE(pw.exitCode, 0) << pw.output;
}

TEST_F(LocalProviderTest, MemoryAndPidsLimitsAreInForce) {
  LabSpec s = spec("limits");
  s.resources.memoryBytes = 64LL << 20;
  s.resources.pids = 24;
  int port = up(s);
  ASSERT_GT(port, 0);

  CgroupManager cg = CgroupManager::detect(cgroupParent_);
  if (!cg.usable()) GTEST_SKIP() << "no writable cgroup tree here: " << cg.reason();
  if (cg.version() == CgroupManager::Version::kV1) {
    EXPECT_EQ(trim(cg.readControl(record(s.labId).cgroupName, "memory", "memory.limit_in_bytes").value()), std::to_string(64LL << 20));
    EXPECT_EQ(trim(cg.readControl(record(s.labId).cgroupName, "cpu", "cpu.cfs_quota_us").value()), "50000");
  } else {
    EXPECT_EQ(trim(cg.readControl(record(s.labId).cgroupName, "memory", "memory.max").value()), std::to_string(64LL << 20));
    EXPECT_EQ(trim(cg.readControl(record(s.labId).cgroupName, "cpu", "cpu.max").value()), "50000 100000");
  }
  EXPECT_EQ(trim(cg.readControl(record(s.labId).cgroupName, "pids", "pids.max").value()), "24");
  auto seen = provider_->inspect(s.labId, Deadline::after(10s));
  EXPECT_NE(seen->detail.find("memory=64Mi"), std::string::npos) << seen->detail;

  // 200 MiB in a shell variable: more than the lab may have; that shell is
  // killed (SIGKILL, 128+9), the lab lives on.
  Ssh mem = sshKey(port, "sh -c 'x=$(head -c 200000000 /dev/zero | tr \"\\\\0\" x); echo survived'; echo status $?");
  // (bash's "Killed" notice comes on stderr, in any order with stdout.)
  EXPECT_NE(mem.output.find("status 137\n"), std::string::npos) << mem.output;
  EXPECT_EQ(mem.output.find("survived\n"), std::string::npos) << mem.output;

  // More processes than pids.max: forks fail (dash says "Cannot fork").
  Ssh pids = sshKey(port, "sh -c 'i=0; while [ $i -lt 40 ]; do sleep 30 </dev/null >/dev/null 2>&1 & i=$((i+1)); done' 2>&1 "
                          "| grep -c 'Cannot fork'; pkill -x sleep; true");
  EXPECT_GT(std::atoi(pids.output.c_str()), 0) << pids.output;
  EXPECT_EQ(sshKey(port, "echo alive").output, "alive\n");
}

TEST_F(LocalProviderTest, StopKeepsTheHomeAndStartBringsItBack) {
  LabSpec s = spec("carol");
  int port = up(s);
  ASSERT_GT(port, 0);
  ASSERT_EQ(sshKey(port, "echo kept > ~/notes.txt").exitCode, 0);
  LabRecord rec = record(s.labId);
  auto hostKey = [](int p) {
    auto r = runProcess({"ssh-keyscan", "-t", "ed25519", "-p", std::to_string(p), "127.0.0.1"}, Deadline::after(20s));
    std::string key = r ? r->output : "";
    auto at = key.find("ssh-ed25519 ");
    return at == std::string::npos ? std::string() : trim(key.substr(at));
  };
  std::string keyBefore = hostKey(port);
  ASSERT_FALSE(keyBefore.empty());

  ASSERT_TRUE(provider_->stop(s.labId, Deadline::after(30s)).isOk());
  auto stopped = provider_->inspect(s.labId, Deadline::after(10s));
  ASSERT_TRUE(stopped.isOk());
  EXPECT_EQ(stopped->state, ObservedState::kStopped);
  EXPECT_TRUE(stopped->endpoints.empty());
  EXPECT_FALSE(portListening(port));
  EXPECT_EQ(countUidProcesses(rec.hostUid), 0);
  EXPECT_EQ(countTrees(rec), 0);
  EXPECT_TRUE(provider_->stop(s.labId, Deadline::after(10s)).isOk());  // idempotent
  EXPECT_EQ(provider_->probe(s, Deadline::after(10s)).code(), Code::kInvalid);

  ASSERT_TRUE(provider_->start(s.labId, Deadline::after(30s)).isOk());
  ASSERT_TRUE(waitReady(s).isOk());
  EXPECT_TRUE(provider_->start(s.labId, Deadline::after(10s)).isOk());  // idempotent
  auto again = provider_->inspect(s.labId, Deadline::after(10s));
  ASSERT_EQ(again->endpoints.size(), 1u);
  EXPECT_EQ(again->endpoints[0].port, port);  // the same port when it is still free
  EXPECT_EQ(sshKey(again->endpoints[0].port, "cat ~/notes.txt").output, "kept\n");
  // The same host key: trainees' known_hosts stay valid.
  EXPECT_EQ(hostKey(again->endpoints[0].port), keyBefore);
}

TEST_F(LocalProviderTest, DestroyLeavesNoProcessPortCgroupOrDirectory) {
  LabSpec s = spec("dave");
  int port = up(s);
  ASSERT_GT(port, 0);
  LabRecord rec = record(s.labId);
  RunRecord r = run(s.labId);
  pid_t init = readLabStatus(LabPaths(labDir(s.labId))).sandboxPid;
  uint64_t initStart = processStartTime(init).value_or(0);
  ASSERT_GT(initStart, 0u);
  CgroupManager cg = CgroupManager::detect(cgroupParent_);
  if (cg.usable()) {
    ASSERT_FALSE(cg.existingDirs(rec.cgroupName).empty());
  }
  ASSERT_EQ(countTrees(rec), 1);

  ASSERT_TRUE(provider_->destroy(s.labId, Deadline::after(30s)).isOk());
  EXPECT_FALSE(processAlive(r.pid, r.startTime));
  EXPECT_FALSE(processAlive(init, initStart));
  EXPECT_EQ(countUidProcesses(rec.hostUid), 0);
  EXPECT_EQ(countTrees(rec), 0);
  EXPECT_FALSE(portListening(port));
  EXPECT_TRUE(cg.existingDirs(rec.cgroupName).empty());
  EXPECT_FALSE(pathExists(labDir(s.labId)));
  EXPECT_FALSE(pathExists(root_ + "/locks/" + s.labId + ".lock"));
  EXPECT_EQ(provider_->inspect(s.labId, Deadline::after(10s)).status().code(), Code::kNotFound);
  EXPECT_TRUE(provider_->destroy(s.labId, Deadline::after(10s)).isOk());  // missing: ok
}

TEST_F(LocalProviderTest, ListFindsLabsAgainAfterDarasaRestarts) {
  ASSERT_GT(up(spec("a1", "cohort-a")), 0);
  ASSERT_GT(up(spec("a2", "cohort-a")), 0);
  ASSERT_GT(up(spec("b1", "cohort-b")), 0);

  provider_.reset();  // darasa goes away; the labs do not
  provider_ = make();
  auto a = provider_->list(LabelSelector::cohort("cohort-a"), Deadline::after(10s));
  ASSERT_TRUE(a.isOk());
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].labId, "cohort-a.a1");
  EXPECT_EQ((*a)[1].labId, "cohort-a.a2");
  for (const auto& lab : *a) {
    EXPECT_EQ(lab.state, ObservedState::kRunning);
    EXPECT_EQ(lab.labels.at(kLabelCohort), "cohort-a");
    EXPECT_EQ(lab.generation, 1);
    ASSERT_EQ(lab.endpoints.size(), 1u);
    EXPECT_EQ(trim(sshKey(lab.endpoints[0].port, "hostname").output), lab.labels.at(kLabelTrainee));
  }
  EXPECT_EQ(provider_->list(LabelSelector::all(), Deadline::after(10s))->size(), 3u);
}

TEST_F(LocalProviderTest, CreatingTwiceMakesOneProcessTree) {
  LabSpec s = spec("erin");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      if (provider_->create(s, Deadline::after(30s)).isOk()) ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  ASSERT_TRUE(waitReady(s).isOk());
  auto again = provider_->create(s, Deadline::after(30s));
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(again->state, ObservedState::kRunning);
  LabRecord rec = record(s.labId);
  EXPECT_EQ(countTrees(rec), 1);
  // One sandbox: one PID 1 (init) in one PID namespace.
  int inits = 0;
  for (const auto& p : processes())
    if (p.uid == rec.hostUid && p.cmdline.rfind("/run/darasa/darasa-lab init", 0) == 0) ++inits;
  EXPECT_EQ(inits, 1);
}

TEST_F(LocalProviderTest, KillingDarasaMidCreateThenCreatingAgainGivesExactlyTheLabs) {
  const int kLabs = 20;
  std::vector<LabSpec> specs;
  for (int i = 0; i < kLabs; ++i) specs.push_back(spec("t" + std::to_string(i), "crash"));
  std::mutex errorsMu;
  std::vector<std::string> errors;
  auto createAll = [&](Provider& p) {
    std::atomic<int> next{0};
    std::vector<std::thread> pool;
    for (int w = 0; w < 4; ++w)
      pool.emplace_back([&] {
        for (int i; (i = next++) < kLabs;) {
          auto r = p.create(specs[static_cast<size_t>(i)], Deadline::after(60s));
          if (!r) {
            std::lock_guard<std::mutex> g(errorsMu);
            errors.push_back(specs[static_cast<size_t>(i)].labId + ": " + r.status().toString());
          }
        }
      });
    for (auto& t : pool) t.join();
  };

  for (int attempt = 0; attempt < 2; ++attempt) {
    // darasa = a child process; SIGKILL it while it creates.
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto p = make();
      if (p) createAll(*p);
      _exit(0);
    }
    std::this_thread::sleep_for(attempt == 0 ? 150ms : 400ms);
    ::kill(child, SIGKILL);
    int status;
    ::waitpid(child, &status, 0);
  }

  createAll(*provider_);
  for (const auto& e : errors) ADD_FAILURE() << e;
  for (const auto& s : specs) {
    Status ready = waitReady(s);
    ASSERT_TRUE(ready.isOk()) << s.labId << ": " << ready.toString() << "\nlab.log:\n"
                              << [&] {
                                   auto log = readFile(labDir(s.labId) + "/lab.log");
                                   return log ? *log : std::string();
                                 }();
  }
  auto labs = provider_->list(LabelSelector::cohort("crash"), Deadline::after(10s));
  ASSERT_TRUE(labs.isOk());
  EXPECT_EQ(labs->size(), static_cast<size_t>(kLabs));
  // Each lab runs: its bwrap (run.json) is alive.
  std::set<uid_t> uids;
  for (const auto& s : specs) {
    LabRecord rec = record(s.labId);
    RunRecord r = run(s.labId);
    EXPECT_TRUE(processAlive(r.pid, r.startTime)) << s.labId;
    uids.insert(rec.hostUid);
  }
  const bool root = ::geteuid() == 0;
  if (root) {
    EXPECT_EQ(uids.size(), static_cast<size_t>(kLabs));  // a uid per lab
  }
  // No leaked sandbox: exactly one init and one bwrap per lab among the
  // processes of this test's labs (its uid range; or its own uid when not
  // root).
  int inits = 0, trees = 0;
  for (const auto& p : processes()) {
    bool ours = root ? p.uid >= uidBase() && p.uid < uidBase() + 100 : p.uid == ::getuid();
    if (!ours) continue;
    if (p.cmdline.rfind("/run/darasa/darasa-lab init", 0) == 0) ++inits;
    if (p.cmdline.find("bwrap --unshare-user") != std::string::npos) ++trees;
  }
  EXPECT_EQ(inits, kLabs);
  EXPECT_EQ(trees, kLabs);
  EXPECT_EQ(trim(sshKey(labs->front().endpoints.at(0).port, "hostname").output), "t0");
}

TEST_F(LocalProviderTest, ExecRunsInsideTheLab) {
  LabSpec s = spec("frank");
  ASSERT_GT(up(s), 0);
  auto r = provider_->exec(s.labId, {"sh", "-c", "echo $(hostname) $(id -un) $$; exit 3"}, Deadline::after(30s));
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->exitCode, 3);
  // Its own PID namespace: the shell's pid there is small.
  std::string out = trim(r->output);
  EXPECT_EQ(out.substr(0, out.rfind(' ')), "frank trainee");
  EXPECT_LT(std::stoi(out.substr(out.rfind(' ') + 1)), 100);

  auto missing = provider_->exec(s.labId, {"no-such-command"}, Deadline::after(30s));
  ASSERT_TRUE(missing.isOk());
  EXPECT_EQ(missing->exitCode, 127);

  auto slow = provider_->exec(s.labId, {"sleep", "30"}, Deadline::after(300ms));
  EXPECT_EQ(slow.status().code(), Code::kTimeout);

  EXPECT_EQ(provider_->exec("c1.nobody", {"true"}, Deadline::after(5s)).status().code(), Code::kNotFound);

  // A readiness command is probed through exec.
  LabSpec withExec = s;
  withExec.readiness.exec = {"test", "-e", "/home/trainee/ready-flag"};
  EXPECT_EQ(provider_->probe(withExec, Deadline::after(10s)).code(), Code::kUnavailable);
  ASSERT_EQ(provider_->exec(s.labId, {"touch", "/home/trainee/ready-flag"}, Deadline::after(10s))->exitCode, 0);
  EXPECT_TRUE(provider_->probe(withExec, Deadline::after(10s)).isOk());
}

TEST_F(LocalProviderTest, ACommandServiceIsProxiedAndReadinessWaitsForIt) {
  LabSpec s = spec("web");
  s.ports.push_back({"web", 8080, "http"});
  s.readiness.tcpPort = "web";
  // Listens only after a while: ready must wait for the service, not our proxy.
  s.command = {"sh", "-c", "sleep 1; exec busybox httpd -f -p 127.0.0.1:8080 -h \"$DOCROOT\""};
  s.env = {{"DOCROOT", "/home/trainee"}};
  auto lab = provider_->create(s, Deadline::after(30s));
  ASSERT_TRUE(lab.isOk()) << lab.status().toString();
  EXPECT_EQ(provider_->probe(s, Deadline::after(5s)).code(), Code::kUnavailable);
  ASSERT_TRUE(waitReady(s).isOk());
  auto seen = provider_->inspect(s.labId, Deadline::after(10s));
  int webPort = 0, sshPort = 0;
  for (const auto& e : seen->endpoints) (e.name == "web" ? webPort : sshPort) = e.port;
  ASSERT_GT(webPort, 0);
  ASSERT_EQ(sshKey(sshPort, "echo hello-from-lab > ~/index.html").exitCode, 0);
  auto page = runProcess({"busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:" + std::to_string(webPort) + "/index.html"},
                         Deadline::after(20s));
  ASSERT_TRUE(page.isOk());
  EXPECT_EQ(page->output, "hello-from-lab\n");
}

TEST_F(LocalProviderTest, ALabThatKeepsDyingIsReportedFailedWithTheReason) {
  LabSpec s = spec("broken");
  s.ports.clear();
  s.readiness.tcpPort.clear();
  s.command = {"sh", "-c", "exit 3"};
  ASSERT_TRUE(provider_->create(s, Deadline::after(30s)).isOk());
  // Restarted with backoff (0.2 + 0.4 + 0.8 + 1.6 s), then given up.
  for (int i = 0; i < 300; ++i) {
    if (provider_->inspect(s.labId, Deadline::after(10s))->state == ObservedState::kFailed) break;
    std::this_thread::sleep_for(50ms);
  }
  Status st = provider_->probe(s, Deadline::after(10s));
  EXPECT_EQ(st.code(), Code::kInternal) << st.toString();
  EXPECT_FALSE(st.retryable());
  EXPECT_NE(st.message().find("service command (sh) exited with status 3 5 times in a row"), std::string::npos)
      << st.message();
  auto seen = provider_->inspect(s.labId, Deadline::after(10s));
  EXPECT_EQ(seen->state, ObservedState::kFailed);
  // create returns it as it is: no second process tree, no restart.
  auto again = provider_->create(s, Deadline::after(10s));
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(again->state, ObservedState::kFailed);
  EXPECT_EQ(countTrees(record(s.labId)), 0);
  // Its cgroups stay (empty) until the lab is stopped or destroyed.
  CgroupManager cg = CgroupManager::detect(cgroupParent_);
  const std::string cgroupName = record(s.labId).cgroupName;
  EXPECT_TRUE(cg.members(cgroupName).empty());
  ASSERT_TRUE(provider_->destroy(s.labId, Deadline::after(30s)).isOk());
  EXPECT_TRUE(cg.existingDirs(cgroupName).empty());
}

TEST_F(LocalProviderTest, TheTraineeCannotKillTheLab) {
  LabSpec s = spec("grace");
  int port = up(s);
  ASSERT_GT(port, 0);
  (void)sshKey(port, "kill -9 -1");  // everything the trainee may signal
  // dropbear is restarted by init (PID 1, which ignores them).
  Ssh back;
  for (int i = 0; i < 50 && back.exitCode != 0; ++i) {
    std::this_thread::sleep_for(100ms);
    back = sshKey(port, "echo back");
  }
  EXPECT_EQ(back.output, "back\n");
  EXPECT_EQ(provider_->inspect(s.labId, Deadline::after(10s))->state, ObservedState::kRunning);
}

TEST_F(LocalProviderTest, KillingTheLabsBwrapEndsItAllAndCreateStartsItAgain) {
  LabSpec s = spec("heidi");
  ASSERT_GT(up(s), 0);
  LabRecord rec = record(s.labId);
  RunRecord r = run(s.labId);
  ASSERT_EQ(::kill(r.pid, SIGKILL), 0);  // e.g. an admin's kill, or OOM
  for (int i = 0; i < 200 && countUidProcesses(rec.hostUid) > 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(countUidProcesses(rec.hostUid), 0);
  auto seen = provider_->inspect(s.labId, Deadline::after(10s));
  EXPECT_EQ(seen->state, ObservedState::kStopped);
  EXPECT_NE(seen->detail.find("ended without a reason"), std::string::npos) << seen->detail;

  auto again = provider_->create(s, Deadline::after(30s));
  ASSERT_TRUE(again.isOk());
  ASSERT_TRUE(waitReady(s).isOk());
  EXPECT_EQ(countTrees(rec), 1);
  auto lab = provider_->inspect(s.labId, Deadline::after(10s));
  EXPECT_EQ(trim(sshKey(lab->endpoints.at(0).port, "hostname").output), "heidi");
}

TEST_F(LocalProviderTest, ASandboxThatCannotStartIsReportedWithBubblewrapsMessage) {
  LabSpec s = spec("ivan");
  ASSERT_TRUE(provider_->create(s, Deadline::after(30s)).isOk());
  ASSERT_TRUE(waitReady(s).isOk());
  ASSERT_TRUE(provider_->stop(s.labId, Deadline::after(30s)).isOk());
  // Take away a file the sandbox binds: bwrap refuses to start.
  ASSERT_EQ(::unlink((labDir(s.labId) + "/etc/passwd").c_str()), 0);
  ASSERT_TRUE(provider_->start(s.labId, Deadline::after(30s)).isOk());
  Status st = waitReady(s, 20s);
  EXPECT_EQ(st.code(), Code::kInternal) << st.toString();
  EXPECT_NE(st.message().find("the sandbox did not start"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("passwd"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace darasa::providers::local
