// End-to-end tests of darasa on the embedded local provider: real processes,
// real sandboxes, real SSH logins, the real binary. No fakes.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "support/command.h"

namespace darasa::testing {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

const char* kTemplate = R"(apiVersion: darasa/v1
kind: LabTemplate
metadata: {name: e2e-shell}
spec:
  provider: local
  resources: {cpus: 0.5, memory: 256Mi, pids: 64}
  ports: [{name: ssh, port: 2222}]
  access: {user: trainee, credentials: [password, ssh-key]}
  readiness: {tcp: ssh, timeout: 60s}
)";

std::string cohortYaml(const std::string& name, int trainees) {
  std::string s = std::string(kTemplate) + "---\napiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: " + name +
                  "}\nspec:\n  template: e2e-shell\n  trainees:\n";
  return s + traineesYaml(trainees);
}

// Pids of processes whose command line or environment mentions `needle`.
std::vector<int> processesMentioning(const std::string& needle) {
  std::vector<int> pids;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    int pid = std::stoi(name);
    if (pid == getpid()) continue;
    for (const char* file : {"cmdline", "environ"}) {
      std::string content = readFile(e.path().string() + "/" + file);
      if (content.find(needle) != std::string::npos) {
        pids.push_back(pid);
        break;
      }
    }
  }
  return pids;
}

// Sandboxes of the local lab in `labDir`: bubblewrap processes whose
// output goes to that lab's log (one per running lab).
int sandboxesOf(const std::string& labDir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec;
    auto exe = fs::read_symlink(e.path() / "exe", ec);
    if (ec || exe.filename() != "bwrap") continue;
    auto out = fs::read_symlink(e.path() / "fd" / "1", ec);
    if (!ec && out == fs::path(labDir) / "lab.log") ++n;
  }
  return n;
}

// cgroup directories (any controller, v1 or v2) whose name contains `needle`.
std::vector<std::string> cgroupsMentioning(const std::string& needle) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator("/sys/fs/cgroup", fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it.depth() > 3) it.disable_recursion_pending();
    if (it->is_directory(ec) && it->path().filename().string().find(needle) != std::string::npos)
      found.push_back(it->path().string());
  }
  return found;
}

class LocalEndToEnd : public ::testing::Test {
 protected:
  void TearDown() override {
    // Whatever a test left running is torn down, so one failure does not leak labs.
    for (const auto& c : cohorts_) darasa({"down", c, "--wait-lock", "60"});
  }
  CommandResult darasa(std::vector<std::string> args, int timeout = 300) {
    args.insert(args.begin(), darasaBinary());
    return runCommand(args, env(), timeout);
  }
  std::map<std::string, std::string> env() const { return {{"DARASA_HOME", state_.path()}}; }
  void apply(const std::string& cohort, int trainees) {
    cohorts_.push_back(cohort);
    writeFile(work_ / (cohort + ".yaml"), cohortYaml(cohort, trainees));
    auto r = darasa({"apply", work_ / (cohort + ".yaml")});
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  }
  json statusOf(const std::string& cohort) {
    auto r = darasa({"status", cohort, "-o", "json"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return json::parse(r.out);
  }
  CommandResult ssh(const json& cred, const std::string& command, const std::string& keyFile = "") {
    return runCommand({"ssh", "-i", keyFile.empty() ? cred.at("keyFile").get<std::string>() : keyFile, "-p",
                       std::to_string(cred.at("endpoints")[0].at("port").get<int>()), "-o", "BatchMode=yes", "-o",
                       "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                       "-o", "ConnectTimeout=10", "trainee@127.0.0.1", command},
                      {}, 60);
  }

  TempDir state_;
  TempDir work_;
  std::vector<std::string> cohorts_;
};

TEST_F(LocalEndToEnd, FiveTraineesLogInAndDownLeavesNothing) {
  apply("e2e", 5);
  auto up = darasa({"up", "e2e"});
  ASSERT_EQ(up.exitCode, 0) << up.out << up.err;
  EXPECT_NE(up.out.find("5/5 labs ready"), std::string::npos) << up.out;

  auto status = statusOf("e2e");
  ASSERT_EQ(status.size(), 5u);
  for (const auto& lab : status) EXPECT_EQ(lab.at("state"), "ready") << lab.dump();

  auto creds = darasa({"creds", "e2e", "-o", "json"});
  ASSERT_EQ(creds.exitCode, 0) << creds.err;
  auto list = json::parse(creds.out);
  ASSERT_EQ(list.size(), 5u);
  std::set<int> ports;
  for (const auto& c : list) {
    ASSERT_TRUE(c.at("issued").get<bool>());
    int port = c.at("endpoints")[0].at("port");
    ports.insert(port);
    EXPECT_EQ(c.at("endpoints")[0].at("host"), "127.0.0.1");
    EXPECT_TRUE(loopbackPortAnswers(port));
    auto keyPerm = fs::status(c.at("keyFile").get<std::string>()).permissions();
    EXPECT_EQ(keyPerm & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
    // The trainee logs in with the handed-out key and runs a command in the sandbox.
    auto who = ssh(c, "id -un; hostname; echo hello > ~/work.txt; cat ~/work.txt");
    EXPECT_EQ(who.exitCode, 0) << who.err;
    EXPECT_NE(who.out.find("trainee"), std::string::npos) << who.out;
    EXPECT_NE(who.out.find("hello"), std::string::npos) << who.out;
    EXPECT_EQ(c.at("password").get<std::string>().size(), 20u);
  }
  EXPECT_EQ(ports.size(), 5u) << "every lab has its own port";

  // A trainee's key does not open another trainee's lab.
  auto cross = ssh(list[1], "true", list[0].at("keyFile"));
  EXPECT_NE(cross.exitCode, 0);

  // Limits are in force where the cgroup tree is writable (it is, as root here).
  if (access("/sys/fs/cgroup", W_OK) == 0 || geteuid() == 0) {
    auto small = ssh(list[0], "dd if=/dev/zero of=/dev/null bs=32M count=1 2>&1; echo rc=$?");
    EXPECT_NE(small.out.find("rc=0"), std::string::npos) << small.out;
    auto big = ssh(list[0], "dd if=/dev/zero of=/dev/null bs=400M count=1 2>&1; echo rc=$?");
    EXPECT_EQ(big.out.find("rc=0"), std::string::npos) << "a 400M buffer must not fit in 256Mi: " << big.out;
    auto forks = ssh(list[0], "for i in $(seq 100); do sleep 3 & done 2>&1 | tail -1; wait; echo done");
    EXPECT_NE(forks.out + forks.err, "") << "pids limit 64 stops 100 sleeps";
    EXPECT_NE((forks.out + forks.err).find("fork"), std::string::npos) << forks.out << forks.err;
  }

  auto down = darasa({"down", "e2e"});
  ASSERT_EQ(down.exitCode, 0) << down.out << down.err;
  for (int port : ports) EXPECT_FALSE(loopbackPortAnswers(port)) << port;
  EXPECT_TRUE(processesMentioning(state_.path()).empty());
  EXPECT_TRUE(cgroupsMentioning("e2e.t0").empty());
  for (const auto& lab : statusOf("e2e")) EXPECT_EQ(lab.at("state"), "destroyed");
}

TEST_F(LocalEndToEnd, KillDuringUpThenUpAgainGivesExactlyOneLabEach) {
  apply("crash", 20);
  std::string log = work_ / "up.log";
  std::vector<std::string> argv = {darasaBinary(), "up", "crash"};
  int pid = spawnCommand(argv, env(), log);
  // Wait until provisioning is under way (some labs ready), then kill -9.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int ready = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    ready = 0;
    auto r = darasa({"status", "crash", "-o", "json"});
    if (r.exitCode == 0)
      for (const auto& l : json::parse(r.out)) ready += l.at("state") == "ready";
    if (ready >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_GE(ready, 3) << readFile(log);
  ASSERT_LT(ready, 20) << "killed too late to test a crash mid-way";

  auto again = darasa({"up", "crash"});
  ASSERT_EQ(again.exitCode, 0) << again.out << again.err;
  auto status = statusOf("crash");
  std::set<int> ports;
  for (const auto& l : status) {
    EXPECT_EQ(l.at("state"), "ready");
    ports.insert(l.at("endpoints")[0].at("port").get<int>());
  }
  EXPECT_EQ(ports.size(), 20u);
  auto gc = darasa({"gc", "--dry-run"});
  EXPECT_NE(gc.out.find("no orphaned labs"), std::string::npos) << gc.out;

  // Exactly one sandbox per lab, and no lab directory the state does not know.
  for (int i = 1; i <= 20; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "crash.t%02d", i);
    EXPECT_EQ(sandboxesOf(state_ / (std::string("local/labs/") + id)), 1) << id;
  }
  int dirs = 0;
  for (const auto& e : fs::directory_iterator(state_ / "local/labs")) dirs += e.is_directory();
  EXPECT_EQ(dirs, 20);
  auto down = darasa({"down", "crash"});
  EXPECT_EQ(down.exitCode, 0) << down.out << down.err;
  EXPECT_TRUE(processesMentioning(state_.path()).empty());
}

TEST_F(LocalEndToEnd, GcRemovesALabTheStateForgot) {
  apply("gc", 2);
  ASSERT_EQ(darasa({"up", "gc"}).exitCode, 0);
  auto status = statusOf("gc");
  int port = status[1].at("endpoints")[0].at("port");
  ASSERT_TRUE(loopbackPortAnswers(port));
  // Behind darasa's back: the lab's rows vanish from the store.
  auto del = runCommand({"sqlite3", state_ / "darasa.db",
                         "PRAGMA foreign_keys=ON; DELETE FROM operations WHERE lab_id='gc.t02'; "
                         "DELETE FROM labs WHERE lab_id='gc.t02';"});
  ASSERT_EQ(del.exitCode, 0) << del.err;
  auto dry = darasa({"gc", "--dry-run"});
  EXPECT_EQ(dry.exitCode, 0);
  EXPECT_NE(dry.out.find("gc.t02"), std::string::npos) << dry.out;
  EXPECT_EQ(dry.out.find("gc.t01"), std::string::npos) << dry.out;
  EXPECT_TRUE(loopbackPortAnswers(port)) << "a dry run removes nothing";
  auto gc = darasa({"gc"});
  EXPECT_EQ(gc.exitCode, 0) << gc.out << gc.err;
  EXPECT_NE(gc.out.find("removed"), std::string::npos) << gc.out;
  EXPECT_FALSE(loopbackPortAnswers(port));
  EXPECT_TRUE(loopbackPortAnswers(status[0].at("endpoints")[0].at("port").get<int>())) << "the known lab is untouched";
}

TEST_F(LocalEndToEnd, TwoUpsAtOnceDoNotCorruptTheState) {
  apply("twice", 8);
  std::string log = work_ / "first.log";
  int pid = spawnCommand({darasaBinary(), "up", "twice"}, env(), log);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto second = darasa({"up", "twice"});
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0) << readFile(log);
  if (second.exitCode != 0) {
    EXPECT_NE(second.err.find("another darasa is working on this state"), std::string::npos) << second.err;
  }
  auto status = statusOf("twice");
  ASSERT_EQ(status.size(), 8u);
  for (const auto& l : status) EXPECT_EQ(l.at("state"), "ready");
  // The integrity of the database itself.
  auto check = runCommand({"sqlite3", state_ / "darasa.db", "PRAGMA integrity_check;"});
  EXPECT_EQ(check.out, "ok\n");
}

}  // namespace
}  // namespace darasa::testing
