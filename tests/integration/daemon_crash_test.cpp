// `darasa serve` killed and stopped in the middle of its work, on the local
// provider (real sandboxes): kill -9 while it provisions 20 labs, then start
// it again — it converges with exactly one sandbox per lab and nothing the
// state does not know; SIGTERM during work exits 0 and leaves a store that
// `darasa status` reads and the next start resolves (no pending operation
// left). And the daemon's log never holds a credential or a token.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "integration/daemon_support.h"
#include "support/command.h"

namespace darasa::testing {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

std::string cohortFile(const std::string& name, int trainees) {
  return std::string(R"(apiVersion: darasa/v1
kind: LabTemplate
metadata: {name: crash-shell}
spec:
  provider: local
  resources: {cpus: 0.25, memory: 128Mi, pids: 64}
  ports: [{name: ssh, port: 2222}]
  access: {user: trainee, credentials: [password, ssh-key]}
  readiness: {tcp: ssh, timeout: 60s}
---
apiVersion: darasa/v1
kind: Cohort
metadata: {name: )") + name + "}\nspec:\n  template: crash-shell\n  trainees:\n" + traineesYaml(trainees);
}

// Running sandboxes of a local lab: bubblewrap processes writing its log.
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

int countState(const json& labs, const std::string& state) {
  int n = 0;
  for (const auto& l : labs) n += labState(l) == state;
  return n;
}

class DaemonCrash : public ::testing::Test {
 protected:
  void TearDown() override {
    daemon_.stop(SIGTERM, 30);
    for (const auto& c : cohorts_) run({"down", c, "--wait-lock", "60"});
  }
  CommandResult run(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), darasaBinary());
    env["DARASA_HOME"] = state_.path();
    return runCommand(args, env, 300);
  }
  void applyLocally(const std::string& cohort, int trainees) {
    cohorts_.push_back(cohort);
    writeFile(work_ / (cohort + ".yaml"), cohortFile(cohort, trainees));
    auto r = run({"apply", work_ / (cohort + ".yaml")});
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  }
  // Waits until `pred(labs)` or the timeout; returns the last labs seen.
  template <typename Pred>
  json waitFor(const std::string& cohort, Pred pred, int seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    json labs;
    while (std::chrono::steady_clock::now() < deadline) {
      labs = apiLabs(daemon_, token_, cohort);
      if (pred(labs)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return labs;
  }
  int pendingOperations() {
    auto r = runCommand({"sqlite3", state_ / "darasa.db", "SELECT count(*) FROM operations WHERE status='pending';"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return std::atoi(r.out.c_str());
  }

  TempDir state_, work_;
  ServeProcess daemon_{state_.path(), work_.path()};
  std::string token_;
  std::vector<std::string> cohorts_;
};

TEST_F(DaemonCrash, KillDashNineWhileProvisioningTwentyThenRestartConvergesWithoutDuplicatesOrLeaks) {
  applyLocally("crash", 20);
  token_ = makeToken(state_.path(), {"--role", "admin"});
  ASSERT_TRUE(daemon_.start());
  auto up = daemon_.call(token_, "POST", "/api/v1/cohorts/crash/up");
  ASSERT_TRUE(up.first >= 200 && up.first < 300) << up.first << " " << up.second;

  json labs = waitFor("crash", [](const json& l) { return countState(l, "ready") >= 3; }, 120);
  daemon_.stop(SIGKILL, 10);
  int readyAtKill = countState(labs, "ready");
  ASSERT_GE(readyAtKill, 3) << labs.dump();
  ASSERT_LT(readyAtKill, 20) << "killed too late to test a crash mid-way";

  // A local `up` cannot race the daemon's next start: the lock is free again
  // only while no daemon runs, and the restarted daemon takes it back.
  ASSERT_TRUE(daemon_.start());
  auto holder = run({"up", "crash"});
  EXPECT_NE(holder.exitCode, 0);
  EXPECT_NE(holder.err.find("darasa serve"), std::string::npos) << "names the holder: " << holder.err;

  labs = waitFor("crash", [](const json& l) { return l.size() == 20 && countState(l, "ready") == 20; }, 180);
  ASSERT_EQ(countState(labs, "ready"), 20) << labs.dump(1);
  std::set<int> ports;
  for (const auto& l : labs) ports.insert(l.at("endpoints")[0].at("port").get<int>());
  EXPECT_EQ(ports.size(), 20u) << "one endpoint per lab";

  // The provider's side: exactly one sandbox per lab, no lab directory the
  // state does not know.
  for (int i = 1; i <= 20; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "crash.t%02d", i);
    EXPECT_EQ(sandboxesOf(state_ / (std::string("local/labs/") + id)), 1) << id;
  }
  int dirs = 0;
  for (const auto& e : fs::directory_iterator(state_ / "local/labs")) dirs += e.is_directory();
  EXPECT_EQ(dirs, 20);

  // Credentials through the API, then: none of them, and no token, in the log.
  auto creds = daemon_.getJson(token_, "/api/v1/cohorts/crash/credentials");
  ASSERT_FALSE(creds.is_null());
  json list = creds.is_object() && creds.contains("credentials") ? creds["credentials"] : creds;
  std::vector<std::string> secrets = {token_};
  std::string trainee = makeToken(state_.path(), {"--role", "trainee", "--cohort", "crash", "--trainee", "t01"});
  secrets.push_back(trainee);
  auto own = daemon_.call(trainee, "GET", "/api/v1/labs/crash.t01/credentials");
  EXPECT_EQ(own.first, 200) << own.second;
  for (const auto& c : list) {
    const json& cr = c.contains("credentials") && c["credentials"].is_object() ? c["credentials"] : c;
    for (const char* k : {"password", "privateKey"})
      if (cr.contains(k) && cr[k].is_string() && !cr[k].get<std::string>().empty())
        secrets.push_back(cr[k].get<std::string>());
  }
  EXPECT_GE(secrets.size(), 2u + 20u) << "a password per trainee at least: " << creds.dump().substr(0, 400);

  EXPECT_EQ(daemon_.stop(SIGTERM), 0);
  auto gc = run({"gc", "--dry-run"});
  EXPECT_EQ(gc.exitCode, 0) << gc.err;
  EXPECT_NE(gc.out.find("no orphaned labs"), std::string::npos) << gc.out;
  EXPECT_EQ(pendingOperations(), 0);

  std::string log = readFile(daemon_.logFile());
  ASSERT_FALSE(log.empty());
  for (const auto& s : secrets) {
    // Private keys: their base64 body lines, which is what a leak would show.
    std::string needle = s.size() > 80 ? s.substr(40, 40) : s;
    EXPECT_EQ(log.find(needle), std::string::npos) << "a secret appears in the daemon's log";
  }
}

TEST_F(DaemonCrash, SigtermDuringWorkExitsCleanlyAndTheNextStartFinishes) {
  applyLocally("term", 8);
  token_ = makeToken(state_.path(), {"--role", "admin"});
  ASSERT_TRUE(daemon_.start());
  auto up = daemon_.call(token_, "POST", "/api/v1/cohorts/term/up");
  ASSERT_TRUE(up.first >= 200 && up.first < 300) << up.first << " " << up.second;
  json labs = waitFor("term", [](const json& l) { return countState(l, "ready") >= 1; }, 120);
  ASSERT_GE(countState(labs, "ready"), 1);

  auto asked = std::chrono::steady_clock::now();
  int code = daemon_.stop(SIGTERM, 40);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count();
  EXPECT_EQ(code, 0) << readFile(daemon_.outputFile());
  EXPECT_LT(took, 10.0 + 5.0) << "within shutdownTimeout (10 s) and a little";
  std::string log = readFile(daemon_.logFile());
  EXPECT_NE(log.find("stop requested"), std::string::npos);
  EXPECT_NE(log.find("darasa serve stopped"), std::string::npos);

  // The store is consistent and readable without the daemon.
  auto status = run({"status", "term", "-o", "json"});
  ASSERT_EQ(status.exitCode, 0) << status.err;
  EXPECT_EQ(json::parse(status.out).size(), 8u);
  auto check = runCommand({"sqlite3", state_ / "darasa.db", "PRAGMA integrity_check;"});
  EXPECT_EQ(check.out, "ok\n");

  // The next start resolves whatever was left in flight and finishes the work.
  ASSERT_TRUE(daemon_.start());
  labs = waitFor("term", [](const json& l) { return l.size() == 8 && countState(l, "ready") == 8; }, 120);
  EXPECT_EQ(countState(labs, "ready"), 8) << labs.dump(1);
  EXPECT_EQ(pendingOperations(), 0);
  for (int i = 1; i <= 8; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "term.t%02d", i);
    EXPECT_EQ(sandboxesOf(state_ / (std::string("local/labs/") + id)), 1) << id;
  }
}

TEST_F(DaemonCrash, SighupReloadsWhatCanChangeLiveAndNamesWhatNeedsARestart) {
  token_ = makeToken(state_.path(), {"--role", "admin"});
  ASSERT_TRUE(daemon_.start());
  ASSERT_EQ(daemon_.call(token_, "GET", "/api/v1/labs").first, 200);
  std::string before = readFile(daemon_.logFile());
  EXPECT_NE(before.find("\"msg\":\"request\""), std::string::npos) << "GETs are logged at debug";

  // A broken config is not taken: the daemon keeps running with the old one.
  std::string good = readFile(daemon_.configFile());
  writeFile(daemon_.configFile(), good + "tick: often\n");
  ::kill(daemon_.pid(), SIGHUP);
  auto waitLog = [&](const std::string& text) {
    for (int i = 0; i < 100 && readFile(daemon_.logFile()).find(text) == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return readFile(daemon_.logFile()).find(text) != std::string::npos;
  };
  EXPECT_TRUE(waitLog("config not reloaded")) << readFile(daemon_.logFile());
  EXPECT_EQ(daemon_.call("", "GET", "/healthz").first, 200);

  // Level and tick change live; a new listen address needs a restart.
  std::string next = good;
  next.replace(next.find("level: debug"), 12, "level: warn");
  next.replace(next.find("tick: 1s"), 8, "tick: 2s");
  next.replace(next.find("listen: 127.0.0.1:8440"), 22, "listen: 127.0.0.1:8441");
  writeFile(daemon_.configFile(), next);
  ::kill(daemon_.pid(), SIGHUP);
  ASSERT_TRUE(waitLog("log.level debug -> warn")) << readFile(daemon_.logFile());
  std::string log = readFile(daemon_.logFile());
  EXPECT_NE(log.find("tick 1000ms -> 2000ms"), std::string::npos) << log;
  // --listen given at start wins over the file, so the file's change is moot.
  EXPECT_EQ(log.find("listen 127.0.0.1"), std::string::npos) << log;
  size_t mark = log.size();
  ASSERT_EQ(daemon_.call(token_, "GET", "/api/v1/labs").first, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string after = readFile(daemon_.logFile()).substr(mark);
  EXPECT_EQ(after.find("\"msg\":\"request\""), std::string::npos) << "debug lines stop at level warn: " << after;

  next.replace(next.find("reconcile: {failureBackoff: 2s}"), 31, "reconcile: {failureBackoff: 3s}");
  writeFile(daemon_.configFile(), next);
  ::kill(daemon_.pid(), SIGHUP);
  EXPECT_TRUE(waitLog("needs a restart")) << readFile(daemon_.logFile());
  EXPECT_EQ(daemon_.stop(SIGTERM), 0);
}

TEST_F(DaemonCrash, ASecondDaemonOnTheSameStateRefusesNamingTheFirst) {
  token_ = makeToken(state_.path(), {"--role", "admin"});
  ASSERT_TRUE(daemon_.start());
  ServeProcess second(state_.path(), work_.path(), "second");
  second.writeConfig();
  auto r = runCommand({darasaBinary(), "serve", "--config", second.configFile(), "--listen", "127.0.0.1:0"},
                      second.env(), 60);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("darasa serve"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::to_string(daemon_.pid())), std::string::npos) << "names the holder's pid: " << r.err;
  // The first one is unharmed.
  EXPECT_EQ(daemon_.call("", "GET", "/healthz").first, 200);
}

}  // namespace
}  // namespace darasa::testing
