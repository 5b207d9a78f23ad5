// The CLI's remote mode against a real `darasa serve`: the same command run
// on the local state and with --server prints the same table, JSON and CSV
// and exits with the same code; apply/up/down go through the API; problems
// (bad token, no server, a mistake in a file) are said clearly.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "integration/daemon_support.h"
#include "support/command.h"

namespace darasa::testing {
namespace {
using nlohmann::json;

const char* kCohort = R"(apiVersion: darasa/v1
kind: LabTemplate
metadata: {name: remote-shell}
spec:
  provider: local
  resources: {cpus: 0.25, memory: 128Mi, pids: 64}
  ports: [{name: ssh, port: 2222}]
  access: {user: trainee, credentials: [password, ssh-key]}
  readiness: {tcp: ssh, timeout: 60s}
---
apiVersion: darasa/v1
kind: Cohort
metadata: {name: remote}
spec:
  template: remote-shell
  trainees:
    - {id: ada, name: Ada Lovelace, email: ada@example.org}
    - {id: bob, name: "Bob, the builder", email: bob@example.org}
)";

class RemoteCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    state_ = new TempDir;
    work_ = new TempDir;
    token_ = new std::string(makeToken(state_->path(), {"--role", "admin", "--name", "remote-test"}));
    daemon_ = new ServeProcess(state_->path(), work_->path());
    daemon_->writeConfig();
    ASSERT_TRUE(daemon_->start());
  }
  static void TearDownTestSuite() {
    runCommand({darasaBinary(), "down", "remote", "--server", daemon_->url()},
               {{"DARASA_HOME", state_->path()}, {"DARASA_TOKEN", *token_}}, 120);
    daemon_->stop(SIGTERM);
    delete daemon_;
    delete token_;
    delete work_;
    delete state_;
  }
  // The command on the local state.
  CommandResult local(std::vector<std::string> args) {
    args.insert(args.begin(), darasaBinary());
    return runCommand(args, {{"DARASA_HOME", state_->path()}}, 120);
  }
  // The same command through the daemon (DARASA_SERVER + DARASA_TOKEN).
  CommandResult remote(std::vector<std::string> args, std::string token = "") {
    args.insert(args.begin(), darasaBinary());
    return runCommand(args,
                      {{"DARASA_HOME", state_->path()},
                       {"DARASA_SERVER", daemon_->url()},
                       {"DARASA_TOKEN", token.empty() ? *token_ : token}},
                      300);
  }
  void applyAndUp() {
    static bool done = false;
    if (done) return;
    writeFile(work_->path() + "/remote.yaml", kCohort);
    auto a = remote({"apply", work_->path() + "/remote.yaml"});
    ASSERT_EQ(a.exitCode, 0) << a.out << a.err;
    EXPECT_NE(a.out.find("cohort remote: created, generation 1, 2 trainee(s), 2 lab(s)"), std::string::npos) << a.out;
    auto up = remote({"up", "remote"});
    ASSERT_EQ(up.exitCode, 0) << up.out << up.err;
    EXPECT_NE(up.out.find("cohort remote: 2/2 labs ready"), std::string::npos) << up.out;
    EXPECT_NE(up.err.find("remote.ada: ready ssh=127.0.0.1:"), std::string::npos) << "progress lines: " << up.err;
    done = true;
  }

  static TempDir* state_;
  static TempDir* work_;
  static std::string* token_;
  static ServeProcess* daemon_;
};
TempDir* RemoteCli::state_ = nullptr;
TempDir* RemoteCli::work_ = nullptr;
std::string* RemoteCli::token_ = nullptr;
ServeProcess* RemoteCli::daemon_ = nullptr;

TEST_F(RemoteCli, StatusIsTheSameTableJsonAndCsv) {
  applyAndUp();
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"status", "remote"}, {"status", "remote", "-o", "json"}, {"status", "remote", "-o", "csv"},
           {"status"}, {"status", "-o", "json"}}) {
    auto l = local(args);
    auto r = remote(args);
    std::string what = args[0] + (args.size() > 1 ? " " + args[1] : "") + (args.size() > 3 ? " -o " + args[3] : "");
    EXPECT_EQ(l.exitCode, 0) << what << l.err;
    EXPECT_EQ(r.exitCode, 0) << what << r.err;
    EXPECT_EQ(r.out, l.out) << what;
  }
  auto j = json::parse(remote({"status", "remote", "-o", "json"}).out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1].at("name"), "Bob, the builder");
  EXPECT_EQ(j[0].at("state"), "ready");
}

TEST_F(RemoteCli, CredsAreTheSameAndKeyFilesAreWritten) {
  applyAndUp();
  for (const char* format : {"table", "json", "csv"}) {
    auto l = local({"creds", "remote", "-o", format});
    auto r = remote({"creds", "remote", "-o", format});
    ASSERT_EQ(l.exitCode, 0) << l.err;
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(r.out, l.out) << format;
  }
  auto r = json::parse(remote({"creds", "remote", "--trainee", "bob", "-o", "json"}).out);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].at("trainee"), "bob");
  EXPECT_EQ(readFile(r[0].at("keyFile").get<std::string>()), r[0].at("privateKey").get<std::string>());
  // Every read through the server is audited under the token.
  auto audit = runCommand({"sqlite3", state_->path() + "/darasa.db",
                           "SELECT count(*) FROM audit WHERE action='read-credentials' AND actor LIKE 'token:%';"});
  ASSERT_EQ(audit.exitCode, 0) << audit.err;
  EXPECT_GE(std::atoi(audit.out.c_str()), 2) << audit.out;
}

TEST_F(RemoteCli, TheSameExitCodesForTheSameMistakes) {
  applyAndUp();
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"status", "nosuch"}, {"creds", "nosuch"}, {"creds", "remote", "--trainee", "zed"}}) {
    auto l = local(args);
    auto r = remote(args);
    EXPECT_EQ(l.exitCode, 2) << l.err;
    EXPECT_EQ(r.exitCode, l.exitCode) << args[0] << " " << args[1] << ": " << r.err;
    EXPECT_NE(r.err.find("darasa: error:"), std::string::npos) << r.err;
  }
}

TEST_F(RemoteCli, TokensListTheSameWithoutSecrets) {
  applyAndUp();
  auto r = remote({"token", "list", "-o", "json"});
  auto l = local({"token", "list", "-o", "json"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, l.out);
  EXPECT_EQ(r.out.find("darasa_"), std::string::npos) << "a list never shows a secret";
  EXPECT_EQ(remote({"token", "list"}).out, local({"token", "list"}).out);

  // A trainee token made through the API works for that trainee's lab only.
  auto made = remote({"token", "create", "--role", "trainee", "--cohort", "remote", "--trainee", "ada", "-o", "json"});
  ASSERT_EQ(made.exitCode, 0) << made.err;
  auto issued = json::parse(made.out);
  std::string ada = issued.at("token");
  EXPECT_EQ(ada.rfind("darasa_", 0), 0u);
  EXPECT_EQ(daemon_->call(ada, "GET", "/api/v1/labs/remote.ada").first, 200);
  EXPECT_EQ(daemon_->call(ada, "GET", "/api/v1/labs/remote.bob").first, 403);
  auto revoked = remote({"token", "revoke", issued.at("id")});
  EXPECT_EQ(revoked.exitCode, 0) << revoked.err;
  EXPECT_EQ(daemon_->call(ada, "GET", "/api/v1/labs/remote.ada").first, 401);
  auto listed = json::parse(local({"token", "list", "-o", "json"}).out);
  bool seen = false;
  for (const auto& t : listed)
    if (t.at("id") == issued.at("id")) {
      seen = true;
      EXPECT_EQ(t.at("state"), "revoked");
    }
  EXPECT_TRUE(seen);
}

TEST_F(RemoteCli, ProblemsAreSaidClearly) {
  applyAndUp();
  auto wrong = remote({"status", "remote"}, "darasa_" + std::string(43, 'A'));
  EXPECT_EQ(wrong.exitCode, 1);
  EXPECT_NE(wrong.err.find("DARASA_TOKEN"), std::string::npos) << wrong.err;

  auto nobody = runCommand({darasaBinary(), "status", "--server", "http://127.0.0.1:9"},
                           {{"DARASA_HOME", state_->path()}, {"DARASA_TOKEN", *token_}}, 60);
  EXPECT_EQ(nobody.exitCode, 1);
  EXPECT_NE(nobody.err.find("cannot reach the darasa server"), std::string::npos) << nobody.err;

  auto badUrl = remote({"status", "--server", "ftp://x"});
  EXPECT_EQ(badUrl.exitCode, 2) << badUrl.err;

  // Commands of the local state say so instead of doing something else.
  auto gc = remote({"gc", "--dry-run"});
  EXPECT_EQ(gc.exitCode, 2);
  EXPECT_NE(gc.err.find("local state only"), std::string::npos) << gc.err;

  // A mistake in a file sent to the server is located in that file.
  std::string bad = std::string(kCohort);
  bad.replace(bad.find("memory: 128Mi"), 13, "memory: 2 GB");
  writeFile(work_->path() + "/bad.yaml", bad);
  auto a = remote({"apply", work_->path() + "/bad.yaml"});
  EXPECT_EQ(a.exitCode, 2) << a.out << a.err;
  EXPECT_NE(a.err.find("bad.yaml:6:"), std::string::npos) << a.err;
  EXPECT_NE(a.err.find("is not a size"), std::string::npos) << a.err;

  // Two files in one apply: the template in one, the cohort in the other;
  // a mistake in the second file is reported against it.
  std::string tmpl = std::string(kCohort).substr(0, std::string(kCohort).find("---"));
  std::string cohort = std::string(kCohort).substr(std::string(kCohort).find("---") + 4);
  writeFile(work_->path() + "/t.yaml", tmpl);
  cohort.replace(cohort.find("remote-shell"), 12, "remote-shel");
  writeFile(work_->path() + "/c.yaml", cohort);
  auto two = remote({"apply", work_->path() + "/t.yaml", work_->path() + "/c.yaml"});
  EXPECT_EQ(two.exitCode, 2);
  EXPECT_NE(two.err.find("c.yaml:5:"), std::string::npos) << two.err;

  // A roster file is not read by the server.
  std::string roster = std::string(kCohort);
  roster.replace(roster.find("  trainees:"), std::string::npos, "  roster: /etc/passwd\n");
  writeFile(work_->path() + "/roster.yaml", roster);
  auto r = remote({"apply", work_->path() + "/roster.yaml"});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_NE(r.err.find("list the trainees inline"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("root:"), std::string::npos) << r.err;
}

TEST_F(RemoteCli, LocalUpRefusesWhileTheDaemonHoldsTheState) {
  applyAndUp();
  auto up = local({"up", "remote"});
  EXPECT_EQ(up.exitCode, 1);
  EXPECT_NE(up.err.find("darasa serve"), std::string::npos) << up.err;
  EXPECT_NE(up.err.find(std::to_string(daemon_->pid())), std::string::npos) << up.err;
  EXPECT_NE(up.err.find("--server " + daemon_->url()), std::string::npos) << "says how to go through it: " << up.err;
  // apply does not wait 30 s for a lock a daemon never lets go of.
  auto started = std::chrono::steady_clock::now();
  auto apply = local({"apply", work_->path() + "/remote.yaml"});
  EXPECT_EQ(apply.exitCode, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_NE(apply.err.find("--server " + daemon_->url()), std::string::npos) << apply.err;
}

TEST_F(RemoteCli, DownThroughTheServer) {
  applyAndUp();
  auto down = remote({"down", "remote", "--trainee", "bob"});
  ASSERT_EQ(down.exitCode, 0) << down.out << down.err;
  EXPECT_NE(down.out.find("cohort remote: 1/1 labs destroyed"), std::string::npos) << down.out;
  auto j = json::parse(local({"status", "remote", "-o", "json"}).out);
  EXPECT_EQ(j[0].at("state"), "ready");
  EXPECT_EQ(j[1].at("state"), "destroyed");
  auto up = remote({"up", "remote", "--trainee", "bob"});
  EXPECT_EQ(up.exitCode, 0) << up.out << up.err;
  EXPECT_NE(up.out.find("1/1 labs ready"), std::string::npos) << up.out;
}

}  // namespace
}  // namespace darasa::testing
