// The local provider's activity(): real labs, a real SSH client holding a
// session open without traffic, the lab's status file touched by its init,
// CPU time and memory from its cgroup; and the TCP table parser it counts
// connections with.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "local/common/cgroups.h"
#include "local/common/lab_record.h"
#include "local/common/sys_util.h"
#include "local/common/tcp_table.h"
#include "local/local_provider.h"

namespace darasa::providers::local {
namespace {

using namespace std::chrono_literals;

// --- the TCP table parser

// A /proc/net/tcp as the kernel prints it (little-endian host): a listener
// on 127.0.0.1:40001 (0x9C41), two sessions accepted on it, the client end
// of one of them, a session on another port, one on 10.0.0.5:40001, one in
// TIME_WAIT.
const char* kTable =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 0100007F:9C41 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0 100 0 0 10 0\n"
    "   1: 0100007F:9C41 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000  1000        0 1002 1 0 20 4 30 10 -1\n"
    "   2: 0100007F:9C41 0100007F:D2A6 01 00000000:00000000 00:00000000 00000000  1000        0 1003 1 0 20 4 30 10 -1\n"
    "   3: 0100007F:D2A4 0100007F:9C41 01 00000000:00000000 00:00000000 00000000     0        0 1004 1 0 20 4 30 10 -1\n"
    "   4: 0100007F:9C42 0100007F:D2B0 01 00000000:00000000 00:00000000 00000000  1000        0 1005 1 0 20 4 30 10 -1\n"
    "   5: 0500000A:9C41 0600000A:D2B0 01 00000000:00000000 00:00000000 00000000  1000        0 1006 1 0 20 4 30 10 -1\n"
    "   6: 0100007F:9C41 0100007F:D2C0 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0\n"
    "   7: 0100007F:9C4";  // cut short while the kernel was writing

TEST(TcpTable, CountsEstablishedSessionsOnLoopbackPorts) {
  if (htonl(INADDR_LOOPBACK) != 0x0100007FUL) GTEST_SKIP() << "the table above is a little-endian host's";
  // The client end of a session (local port 0xD2A4) is a port like any
  // other: darasa only looks up its labs' listening ports.
  EXPECT_EQ(establishedOnLoopback(kTable), (std::map<int, int>{{40001, 2}, {40002, 1}, {53924, 1}}));
  EXPECT_TRUE(establishedOnLoopback("").empty());
}

TEST(TcpTable, SeesAConnectionToAListenerOfThisProcess) {
  int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(l, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  auto none = readEstablishedOnLoopback();
  ASSERT_TRUE(none) << none.status().toString();
  EXPECT_EQ(none->count(port), 0u);
  int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  // Not accepted yet: it is established all the same (a trainee connected).
  EXPECT_EQ(readEstablishedOnLoopback().value().at(port), 1);
  ::close(c);
  ::close(l);
}

// --- activity() of real labs

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class LocalActivityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/darasa-activity-test-XXXXXX";
    base_ = ::mkdtemp(tmpl);
    root_ = base_ + "/root";
    cgroupParent_ = "darasa-activity-" + std::to_string(::getpid());
    keyPath_ = base_ + "/id_ed25519";
    auto gen = runProcess({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "activity-test", "-f", keyPath_},
                          Deadline::after(30s));
    ASSERT_TRUE(gen && gen->exitCode == 0);
    publicKey_ = trim(readFile(keyPath_ + ".pub").value());
    ProviderConfig config{"local", base_ + "/state",
                          {{"root", root_},
                           {"cgroupParent", cgroupParent_},
                           {"stopTimeout", "3"},
                           {"uidBase", std::to_string(430000000 + (::getpid() % 100000) * 100)},
                           {"uidCount", "100"}}};
    auto p = makeLocalProvider(config);
    ASSERT_TRUE(p) << p.status().toString();
    provider_ = std::move(p).value();
    Status usable = provider_->usable();
    ASSERT_TRUE(usable) << usable.toString();
  }

  void TearDown() override {
    if (sshPid_ > 0) {
      ::kill(sshPid_, SIGKILL);
      ::waitpid(sshPid_, nullptr, 0);
    }
    if (provider_) {
      if (auto labs = provider_->list(LabelSelector::all(), Deadline::after(30s))) {
        for (const auto& l : *labs) {
          // The lab's launcher and init (the proxy that touches the status
          // file) write here; in sanitizer builds so do their sanitizers.
          auto log = readFile(root_ + "/labs/" + l.labId + "/lab.log");
          for (const char* bad : {"runtime error:", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer"})
            EXPECT_EQ(log ? log->find(bad) : std::string::npos, std::string::npos) << l.labId << ":\n" << *log;
          EXPECT_TRUE(provider_->destroy(l.labId, Deadline::after(30s)));
        }
      }
    }
    provider_.reset();
    (void)removeTree(base_);
    for (const char* c : {"memory/", "cpu/", "cpuacct/", "pids/", "freezer/", ""})
      ::rmdir(("/sys/fs/cgroup/" + std::string(c) + cgroupParent_).c_str());
  }

  LabSpec spec(const std::string& trainee) const {
    LabSpec s;
    s.labId = "act." + trainee;
    s.cohort = "act";
    s.trainee = trainee;
    s.generation = 1;
    s.templateName = "t";
    s.provider = "local";
    s.ports = {{"ssh", ::geteuid() == 0 ? 22 : 2222, "tcp"}};
    s.readiness.tcpPort = "ssh";
    s.resources.memoryBytes = 256LL << 20;
    s.resources.pids = 64;
    s.labels = {{kLabelLab, s.labId}, {kLabelCohort, s.cohort}, {kLabelTrainee, trainee}};
    s.access.password = false;
    s.credentials.user = "trainee";
    s.credentials.authorizedKey = publicKey_;
    return s;
  }

  // Creates the lab, waits until it is ready, returns its ssh port.
  int up(const LabSpec& s) {
    auto lab = provider_->create(s, Deadline::after(30s));
    EXPECT_TRUE(lab) << lab.status().toString();
    auto until = std::chrono::steady_clock::now() + 60s;
    Status st;
    while (std::chrono::steady_clock::now() < until) {
      st = provider_->probe(s, Deadline::after(10s));
      if (st || !st.retryable()) break;
      std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(st) << st.toString();
    auto seen = provider_->inspect(s.labId, Deadline::after(10s));
    return seen && !seen->endpoints.empty() ? seen->endpoints[0].port : 0;
  }

  std::vector<std::string> ssh(int port) const {
    return {"ssh", "-F", "/dev/null", "-p", std::to_string(port), "-i", keyPath_, "-o", "BatchMode=yes", "-o",
            "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o",
            "ConnectTimeout=10", "trainee@127.0.0.1"};
  }

  // An SSH session that stays open and sends nothing (ssh -N: no command,
  // no terminal, no keep-alives), in the background.
  void holdSession(int port) {
    auto argv = ssh(port);
    argv.insert(argv.begin() + 1, "-N");
    sshPid_ = ::fork();
    ASSERT_GE(sshPid_, 0);
    if (sshPid_ == 0) {
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      _exit(127);
    }
  }
  void endSession() {
    ::kill(sshPid_, SIGTERM);
    ::waitpid(sshPid_, nullptr, 0);
    sshPid_ = -1;
  }

  // Polls activity() until pred holds (or 20 s pass); returns the last answer.
  template <typename Pred>
  LabActivity waitActivity(const std::string& labId, Pred pred) {
    LabActivity last;
    auto until = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < until) {
      auto a = provider_->activity(labId, Deadline::after(10s));
      EXPECT_TRUE(a) << a.status().toString();
      if (!a) break;
      last = *a;
      if (pred(last)) break;
      std::this_thread::sleep_for(50ms);
    }
    return last;
  }

  std::string statusFile(const std::string& labId) const { return root_ + "/labs/" + labId + "/status"; }
  // Dates the status file's mtime back, as if the lab had been quiet since.
  void backdate(const std::string& labId, std::chrono::seconds ago) const {
    auto t = std::chrono::system_clock::now() - ago;
    timespec times[2];
    times[0].tv_sec = times[1].tv_sec = std::chrono::system_clock::to_time_t(t);
    times[0].tv_nsec = times[1].tv_nsec = 0;
    ASSERT_EQ(::utimensat(AT_FDCWD, statusFile(labId).c_str(), times, 0), 0);
  }
  std::chrono::seconds sinceModified(const std::string& labId) const {
    struct stat st;
    if (::stat(statusFile(labId).c_str(), &st) != 0) return std::chrono::seconds(-1);
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() -
                                                            std::chrono::system_clock::from_time_t(st.st_mtime));
  }

  std::string base_, root_, cgroupParent_, keyPath_, publicKey_;
  std::unique_ptr<Provider> provider_;
  pid_t sshPid_ = -1;
};

TEST_F(LocalActivityTest, AnOpenIdleSshSessionIsActivityAndItsEndStartsTheIdleTime) {
  LabSpec s = spec("alice");
  int port = up(s);
  ASSERT_GT(port, 0);

  // Just ready: its start is its last activity, nobody is connected.
  auto fresh = provider_->activity(s.labId, Deadline::after(10s));
  ASSERT_TRUE(fresh) << fresh.status().toString();
  EXPECT_EQ(fresh->openConnections, 0);
  ASSERT_TRUE(fresh->lastActive.has_value());
  EXPECT_LT(std::chrono::system_clock::now() - *fresh->lastActive, 30s);
  EXPECT_NE(fresh->source.find("connections"), std::string::npos) << fresh->source;

  // Quiet for an hour, then a trainee opens a session and types nothing.
  backdate(s.labId, 3600s);
  auto quiet = provider_->activity(s.labId, Deadline::after(10s));
  ASSERT_TRUE(quiet && quiet->lastActive);
  EXPECT_GT(std::chrono::system_clock::now() - *quiet->lastActive, 3590s);
  holdSession(port);
  auto open = waitActivity(s.labId, [](const LabActivity& a) { return a.openConnections == 1; });
  EXPECT_EQ(open.openConnections, 1);
  ASSERT_TRUE(open.lastActive.has_value());
  EXPECT_LT(std::chrono::system_clock::now() - *open.lastActive, 5s) << "an open session is activity now";

  // The lab's init dates the status file while the session is open, even
  // with no byte flowing (at most every 10 s), so the activity survives a
  // reader in another network namespace too.
  backdate(s.labId, 3600s);
  auto until = std::chrono::steady_clock::now() + 25s;
  while (sinceModified(s.labId) > 60s && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(200ms);
  EXPECT_LT(sinceModified(s.labId), 60s) << "init did not touch the status file while the session was open";

  // The session ends: no connection, and the idle time starts now (init
  // touches the file when the last connection closes).
  backdate(s.labId, 3600s);
  endSession();
  auto closed = waitActivity(s.labId, [](const LabActivity& a) { return a.openConnections == 0; });
  EXPECT_EQ(closed.openConnections, 0);
  until = std::chrono::steady_clock::now() + 10s;
  while (sinceModified(s.labId) > 60s && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
  auto after = provider_->activity(s.labId, Deadline::after(10s));
  ASSERT_TRUE(after && after->lastActive);
  EXPECT_LT(std::chrono::system_clock::now() - *after->lastActive, 30s);
}

TEST_F(LocalActivityTest, CpuTimeAndMemoryComeFromTheLabsCgroup) {
  CgroupManager cg = CgroupManager::detect(cgroupParent_);
  if (!cg.usable()) GTEST_SKIP() << "no writable cgroup tree here: " << cg.reason();
  LabSpec s = spec("bob");
  int port = up(s);
  ASSERT_GT(port, 0);
  auto before = provider_->activity(s.labId, Deadline::after(10s));
  ASSERT_TRUE(before) << before.status().toString();
  ASSERT_GE(before->cpuMillis, 0) << before->source;
  EXPECT_GT(before->memoryBytes, 0);
  EXPECT_NE(before->source.find("cgroup"), std::string::npos) << before->source;
  // About a second of CPU work inside the lab (hashing 400 MB of zeros).
  auto argv = ssh(port);
  argv.push_back("head -c 400000000 /dev/zero | sha256sum");
  auto work = runProcess(argv, Deadline::after(120s));
  ASSERT_TRUE(work && work->exitCode == 0) << (work ? work->output : work.status().toString());
  auto after = provider_->activity(s.labId, Deadline::after(10s));
  ASSERT_TRUE(after);
  EXPECT_GE(after->cpuMillis - before->cpuMillis, 200) << before->cpuMillis << " -> " << after->cpuMillis;
  // The counter is the cgroup's own.
  auto direct = cg.usage(readLabRecord(LabPaths(root_ + "/labs/" + s.labId)).value().cgroupName);
  ASSERT_TRUE(direct);
  EXPECT_GE(direct->cpuNanos / 1000000, after->cpuMillis);
}

TEST_F(LocalActivityTest, AStoppedLabHasNoConnectionsAndUsesNothingAndAMissingOneIsNotFound) {
  LabSpec s = spec("carol");
  ASSERT_GT(up(s), 0);
  ASSERT_TRUE(provider_->stop(s.labId, Deadline::after(30s)));
  auto stopped = provider_->activity(s.labId, Deadline::after(10s));
  ASSERT_TRUE(stopped) << stopped.status().toString();
  EXPECT_EQ(stopped->openConnections, 0);
  EXPECT_EQ(stopped->memoryBytes, 0);
  EXPECT_TRUE(stopped->lastActive.has_value()) << "when it was last active before the stop";
  ASSERT_TRUE(provider_->destroy(s.labId, Deadline::after(30s)));
  EXPECT_EQ(provider_->activity(s.labId, Deadline::after(10s)).status().code(), Code::kNotFound);
  EXPECT_EQ(provider_->activity("../etc", Deadline::after(10s)).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace darasa::providers::local
