// What the package ships that is generated from the CLI, checked against
// the CLI itself: the bash and zsh completion scripts (run for real: bash's
// completion function, zsh's completion system on a pseudo-terminal, with
// cohort names from real states), the man pages (one per command, every
// option of its --help, no groff warnings), `darasa version`, and the
// daemon's readiness notifications over systemd's protocol.
// The .deb itself is tests/package/deb_test.sh.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/command.h"

namespace {

using darasa::testing::darasaBinary;
using darasa::testing::readFile;
using darasa::testing::runCommand;
using darasa::testing::spawnCommand;
using darasa::testing::TempDir;
using darasa::testing::writeFile;
using Words = std::set<std::string>;

std::string generated(const std::string& rel) { return std::string(DARASA_BINARY_DIR) + "/packaging/" + rel; }

Words lines(const std::string& text) {
  Words out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.insert(l);
  return out;
}

// The names listed under "Subcommands:" in `darasa [path] --help`.
Words helpSubcommands(std::vector<std::string> path = {}) {
  std::vector<std::string> argv = {darasaBinary()};
  argv.insert(argv.end(), path.begin(), path.end());
  argv.push_back("--help");
  auto r = runCommand(argv);
  Words out;
  std::istringstream in(r.out);
  bool inList = false;
  for (std::string l; std::getline(in, l);) {
    if (l == "Subcommands:") { inList = true; continue; }
    if (inList && l.empty()) break;
    if (inList && l.size() > 2 && l[0] == ' ' && l[1] == ' ' && l[2] != ' ') out.insert(l.substr(2, l.find(' ', 2) - 2));
  }
  return out;
}

// The long option names in `darasa CMD --help` ("--output", ...).
Words helpLongOptions(const std::string& cmd) {
  auto r = runCommand({darasaBinary(), cmd, "--help"});
  Words out;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("  -", 0) != 0) continue;
    for (size_t p = l.find("--"); p != std::string::npos && p < l.find_first_of(" ", 2); p = l.find("--", p + 2))
      out.insert(l.substr(p, l.find_first_of(" ,", p) - p));
  }
  return out;
}

// A template and cohorts, applied to a state of their own.
std::string cohortsYaml(const std::vector<std::string>& names) {
  std::string y =
      "apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: shell}\n"
      "spec:\n  provider: local\n  ports: [{name: ssh, port: 2222}]\n  access: {user: trainee}\n";
  for (const auto& n : names)
    y += "---\napiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: " + n +
         "}\nspec:\n  template: shell\n  trainees: [{id: t01, name: A}]\n";
  return y;
}

class Completion : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    for (auto& [state, names] : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"a", {"alpha-101", "beta-202"}}, {"b", {"gamma-303"}}}) {
      writeFile(*dir_ / (state + ".yaml"), cohortsYaml(names));
      auto r = runCommand({darasaBinary(), "--state", *dir_ / state, "-q", "apply", *dir_ / (state + ".yaml")});
      ASSERT_EQ(r.exitCode, 0) << r.err;
    }
    writeFile(*dir_ / "cohort-file.yaml", "x");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string stateA() { return *dir_ / "a"; }
  static std::string stateB() { return *dir_ / "b"; }

  // COMPREPLY of the generated script for the words (the last one is being completed).
  static Words bash(std::vector<std::string> words) {
    std::vector<std::string> argv = {"bash", "--norc", "--noprofile", "-c",
                                     "source \"$1\"; shift; COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); _darasa; "
                                     "printf '%s\\n' \"${COMPREPLY[@]}\"",
                                     "bash", generated("completion/darasa"), darasaBinary()};
    argv.insert(argv.end(), words.begin(), words.end());
    auto r = runCommand(argv, {{"DARASA_HOME", stateA()}}, 60);
    EXPECT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return lines(r.out);
  }

  static TempDir* dir_;
};
TempDir* Completion::dir_ = nullptr;

TEST_F(Completion, BashCompletesSubcommandsOptionsValuesAndCohortNames) {
  struct Case {
    std::vector<std::string> words;
    Words expected;
  };
  const std::string file = *dir_ / "cohort-file.yaml";
  const std::vector<Case> cases = {
      {{"st"}, {"status"}},
      {{"status", ""}, {"alpha-101", "beta-202"}},
      {{"up", "al"}, {"alpha-101"}},
      {{"-q", "down", ""}, {"alpha-101", "beta-202"}},
      {{"--state", stateB(), "creds", ""}, {"gamma-303"}},
      {{"--state", "=", stateB(), "plan", ""}, {"gamma-303"}},  // --state=DIR, split at '=' by bash
      {{"--state", "/nonexistent/state", "up", ""}, {}},        // no state: nothing, and no error
      {{"status", "alpha-101", ""}, {}},                        // status takes one cohort
      {{"status", "-o", ""}, {"table", "json", "csv"}},
      {{"status", "--output", "=", "j"}, {"json"}},
      {{"token", ""}, {"create", "list", "revoke"}},
      {{"token", "create", "--ro"}, {"--role"}},
      {{"token", "create", "--role", ""}, {"admin", "instructor", "trainee"}},
      {{"token", "create", "--cohort", ""}, {"alpha-101", "beta-202"}},
      {{"up", "--tr"}, {"--trainee"}},
      {{"status", "--sta"}, {"--state"}},  // darasa's own options after a command
      {{"validate", *dir_ / "cohort-f"}, {file}},
      {{"completion", ""}, {"bash", "zsh"}},
  };
  for (const auto& c : cases) {
    std::string line;
    for (const auto& w : c.words) line += " " + w;
    EXPECT_EQ(bash(c.words), c.expected) << "darasa" << line;
  }
}

TEST_F(Completion, BashOffersEverySubcommandTheHelpLists) {
  Words top = helpSubcommands();
  ASSERT_GT(top.size(), 10u);
  EXPECT_TRUE(top.count("status"));
  EXPECT_EQ(bash({""}), top);
  EXPECT_EQ(bash({"token", ""}), helpSubcommands({"token"}));
  EXPECT_EQ(bash({"__"}), Words{});  // hidden helpers stay hidden
}

TEST_F(Completion, ZshCompletesSubcommandsAndCohortNames) {
  if (runCommand({"sh", "-c", "command -v zsh"}).exitCode != 0) {
    if (std::getenv("DARASA_REQUIRE_ENGINE")) FAIL() << "zsh is missing (scripts/install-deps.sh installs it)";
    GTEST_SKIP() << "zsh is not installed";
  }
  // The script on $fpath under its installed name, darasa on $PATH.
  TempDir fpath;
  writeFile(fpath / "_darasa", readFile(generated("completion/_darasa")));
  std::string path = std::filesystem::path(darasaBinary()).parent_path().string() + ":" + std::getenv("PATH");
  auto zsh = [&](const std::string& line) {
    auto r = runCommand({"zsh", "-f", std::string(DARASA_SOURCE_DIR) + "/tests/package/zsh_complete.zsh", fpath.path(),
                         line},
                        {{"PATH", path}, {"DARASA_HOME", stateA()}}, 120);
    EXPECT_EQ(r.exitCode, 0) << line << ": " << r.err;
    return lines(r.out);
  };
  EXPECT_EQ(zsh("darasa token "), (Words{"create", "list", "revoke"}));
  EXPECT_EQ(zsh("darasa status "), (Words{"alpha-101", "beta-202"}));
  EXPECT_EQ(zsh("darasa --state " + stateB() + " up "), Words{"gamma-303"});
  EXPECT_EQ(zsh("darasa status -o "), (Words{"table", "json", "csv"}));
  EXPECT_EQ(zsh("darasa st"), Words{"status"});
}

TEST(GeneratedFiles, InstalledScriptsAreWhatTheBinaryPrints) {
  for (const std::string shell : {"bash", "zsh"}) {
    auto r = runCommand({darasaBinary(), "completion", shell});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(readFile(generated(shell == "bash" ? "completion/darasa" : "completion/_darasa")), r.out) << shell;
  }
  auto r = runCommand({darasaBinary(), "completion", "fish"});
  EXPECT_EQ(r.exitCode, 2);
}

TEST(GeneratedFiles, ManPageForEveryCommandWithEveryOptionAndNoWarnings) {
  std::vector<std::string> pages = {"darasa"};
  for (const auto& cmd : helpSubcommands()) pages.push_back("darasa-" + cmd);
  for (const auto& page : pages) {
    std::string file = generated("man/" + page + ".1.gz");
    ASSERT_TRUE(std::filesystem::exists(file)) << file;
    auto r = runCommand({"man", "--warnings", "-l", "-Tutf8", file}, {{"MANWIDTH", "80"}, {"LC_ALL", "C.UTF-8"}});
    EXPECT_EQ(r.exitCode, 0) << page;
    EXPECT_EQ(r.err, "") << page;
    auto text = runCommand({"man", "-l", file}, {{"MANWIDTH", "200"}}).out;
    if (page == "darasa") continue;
    for (const auto& opt : helpLongOptions(page.substr(7)))
      EXPECT_NE(text.find(opt), std::string::npos) << page << " lacks " << opt;
  }
  // Nothing else: no page for a command that does not exist.
  size_t count = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(generated("man"))) ++count;
  EXPECT_EQ(count, pages.size());
}

TEST(Version, JsonNamesTheCommitAndTheLibraries) {
  auto r = runCommand({darasaBinary(), "version", "-o", "json"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["version"], DARASA_VERSION);
  auto head = runCommand({"git", "-C", DARASA_SOURCE_DIR, "rev-parse", "HEAD"});
  if (head.exitCode == 0) {
    EXPECT_EQ(j["commit"], head.out.substr(0, head.out.find('\n')));
  } else {
    EXPECT_TRUE(j["commit"].is_null());
  }
  EXPECT_TRUE(j["modified"].is_boolean());
  for (const char* lib : {"SQLite", "libsodium", "yaml-cpp", "nlohmann_json", "CLI11", "libical"}) {
    ASSERT_TRUE(j["libraries"].contains(lib)) << lib;
    EXPECT_FALSE(j["libraries"][lib].get<std::string>().empty()) << lib;
  }
  auto text = runCommand({darasaBinary(), "version"});
  EXPECT_EQ(text.out.substr(0, text.out.find('\n')), std::string("darasa ") + DARASA_VERSION);
}

// A datagram socket standing in for systemd's notification socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, name.data(), name.size());
    if (name[0] == '@') a.sun_path[0] = '\0';
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0;
  }
  ~NotifySocket() { ::close(fd_); }
  bool ok() const { return ok_; }
  // The next datagram, "" after the timeout.
  std::string next(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count() * 1000)) != 1) return "";
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

TEST(SystemdNotify, ServeReportsReadyReloadingAndStopping) {
  TempDir dir;
  writeFile(dir / "darasa.yaml", "apiVersion: darasa/v1\nkind: DaemonConfig\nlisten: 127.0.0.1:0\n");
  for (const std::string& name : {dir / "notify.sock", "@darasa-notify-test-" + std::to_string(::getpid())}) {
    SCOPED_TRACE(name);
    NotifySocket sock(name);
    ASSERT_TRUE(sock.ok()) << std::strerror(errno);
    int pid = spawnCommand({darasaBinary(), "--state", dir / "state", "serve", "--config", dir / "darasa.yaml"},
                           {{"NOTIFY_SOCKET", name}}, dir / "serve.out");
    std::string ready = sock.next();
    EXPECT_EQ(ready.rfind("READY=1\nSTATUS=listening on http://127.0.0.1:", 0), 0u) << ready;
    ::kill(pid, SIGHUP);
    EXPECT_EQ(sock.next(), "RELOADING=1");
    EXPECT_EQ(sock.next(), "READY=1");
    ::kill(pid, SIGTERM);
    EXPECT_EQ(sock.next(), "STOPPING=1");
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
}

}  // namespace
