// Black-box tests of the darasa binary's file commands: validate, render,
// apply, version, --help, exit codes.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "support/command.h"

namespace darasa::testing {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> exampleFiles() {
  std::vector<std::string> files;
  fs::path root = fs::path(DARASA_SOURCE_DIR) / "examples";
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    auto rel = fs::relative(e.path(), root).string();
    if (rel.rfind("invalid/", 0) == 0 || rel.rfind("plugins/", 0) == 0 || rel.rfind("images/", 0) == 0) continue;
    if (rel == "darasa.yaml") continue;  // the daemon's config, not a template or cohort
    auto ext = e.path().extension().string();
    if (ext == ".yaml" || ext == ".yml" || ext == ".json") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class CliTest : public ::testing::Test {
 protected:
  CommandResult darasa(std::vector<std::string> args) {
    args.insert(args.begin(), darasaBinary());
    return runCommand(args, {{"DARASA_HOME", state_.path()}});
  }
  TempDir state_;
  TempDir work_;
};

TEST_F(CliTest, VersionAndHelpAtEveryLevel) {
  auto v = darasa({"version"});
  EXPECT_EQ(v.exitCode, 0);
  EXPECT_NE(v.out.find("darasa "), std::string::npos);
  auto vj = darasa({"version", "-o", "json"});
  EXPECT_EQ(nlohmann::json::parse(vj.out).at("version").get<std::string>().empty(), false);

  auto help = darasa({"--help"});
  EXPECT_EQ(help.exitCode, 0);
  for (const char* cmd : {"validate", "render", "apply", "plan", "up", "status", "creds", "down", "gc", "providers"}) {
    EXPECT_NE(help.out.find(cmd), std::string::npos) << cmd;
    auto sub = darasa({cmd, "--help"});
    EXPECT_EQ(sub.exitCode, 0) << cmd;
    EXPECT_NE(sub.out.find("Usage"), std::string::npos) << cmd << ": " << sub.out;
  }
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(darasa({}).exitCode, 2);
  EXPECT_EQ(darasa({"no-such-command"}).exitCode, 2);
  EXPECT_EQ(darasa({"validate"}).exitCode, 2);  // no files
  EXPECT_EQ(darasa({"status", "-o", "yaml"}).exitCode, 2);
}

TEST_F(CliTest, EveryExampleValidates) {
  auto files = exampleFiles();
  ASSERT_FALSE(files.empty());
  std::vector<std::string> args = {"validate"};
  args.insert(args.end(), files.begin(), files.end());
  auto r = darasa(args);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("valid"), std::string::npos);
}

TEST_F(CliTest, ThreeMistakesGiveThreeLocatedErrors) {
  std::string file = std::string(DARASA_SOURCE_DIR) + "/examples/invalid/three-mistakes.yaml";
  auto r = darasa({"validate", file});
  EXPECT_EQ(r.exitCode, 2) << r.out << r.err;
  std::regex located(R"(three-mistakes\.yaml:(\d+):(\d+): error: )");
  auto begin = std::sregex_iterator(r.out.begin(), r.out.end(), located);
  EXPECT_EQ(std::distance(begin, std::sregex_iterator()), 3) << r.out;
  EXPECT_NE(r.out.find("^"), std::string::npos) << "a caret under the error";

  auto j = darasa({"validate", "-o", "json", file});
  EXPECT_EQ(j.exitCode, 2);
  auto parsed = nlohmann::json::parse(j.out);
  EXPECT_FALSE(parsed.at("valid").get<bool>());
  ASSERT_EQ(parsed.at("problems").size(), 3u);
  for (const auto& p : parsed.at("problems")) {
    EXPECT_GT(p.at("line").get<int>(), 0);
    EXPECT_GT(p.at("column").get<int>(), 0);
    EXPECT_FALSE(p.at("message").get<std::string>().empty());
  }
}

const char* kTemplate = R"(apiVersion: darasa/v1
kind: LabTemplate
metadata: {name: shell}
parameters:
  - {name: memory, type: size, default: 256Mi}
spec:
  provider: local
  resources: {cpus: 0.5, memory: "${memory}", pids: 128}
  ports: [{name: ssh, port: 2222}]
  access: {user: trainee, credentials: [password, ssh-key]}
  readiness: {tcp: ssh, timeout: 60s}
)";

std::string cohortYaml(const std::string& name, int trainees, const std::string& memory) {
  std::string s = "apiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: " + name +
                  "}\nspec:\n  template: shell\n  parameters: {memory: " + memory + "}\n  trainees:\n";
  for (int i = 1; i <= trainees; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "t%02d", i);
    s += std::string("    - {id: ") + id + ", name: Trainee " + id + ", email: " + id + "@example.org}\n";
  }
  return s;
}

TEST_F(CliTest, RenderIsDeterministicAndParameterSensitive) {
  writeFile(work_ / "t.yaml", kTemplate);
  writeFile(work_ / "c.yaml", cohortYaml("rcohort", 3, "256Mi"));
  auto a = darasa({"render", work_ / "t.yaml", work_ / "c.yaml"});
  auto b = darasa({"render", work_ / "t.yaml", work_ / "c.yaml"});
  ASSERT_EQ(a.exitCode, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  auto ja = nlohmann::json::parse(a.out);
  EXPECT_EQ(ja.at("labs").size(), 3u);
  EXPECT_EQ(ja.at("labs")[0].at("labId"), "rcohort.t01");
  EXPECT_EQ(ja.at("labs")[0].at("resources").at("memoryBytes"), 268435456);

  writeFile(work_ / "c.yaml", cohortYaml("rcohort", 3, "512Mi"));
  auto c = darasa({"render", work_ / "t.yaml", work_ / "c.yaml"});
  ASSERT_EQ(c.exitCode, 0) << c.err;
  EXPECT_NE(nlohmann::json::parse(c.out).at("templateHash"), ja.at("templateHash"));
}

TEST_F(CliTest, ApplyStoresAndReportsGenerations) {
  writeFile(work_ / "t.yaml", kTemplate);
  writeFile(work_ / "c.yaml", cohortYaml("gen", 3, "256Mi"));
  auto first = darasa({"apply", work_ / "t.yaml", work_ / "c.yaml"});
  ASSERT_EQ(first.exitCode, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("created, generation 1"), std::string::npos) << first.out;

  auto same = darasa({"apply", work_ / "t.yaml", work_ / "c.yaml"});
  EXPECT_NE(same.out.find("unchanged (generation 1)"), std::string::npos) << same.out;

  // The template is in the state now: the cohort file alone is enough.
  writeFile(work_ / "c.yaml", cohortYaml("gen", 4, "256Mi"));
  auto dry = darasa({"apply", "--dry-run", work_ / "c.yaml"});
  ASSERT_EQ(dry.exitCode, 0) << dry.out << dry.err;
  EXPECT_NE(dry.out.find("would change to generation 2"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("+ trainees: t04"), std::string::npos) << dry.out;
  auto changed = darasa({"apply", work_ / "c.yaml"});
  EXPECT_NE(changed.out.find("changed, generation 2"), std::string::npos) << changed.out;

  auto status = darasa({"status", "gen", "-o", "json"});
  ASSERT_EQ(status.exitCode, 0) << status.err;
  EXPECT_EQ(nlohmann::json::parse(status.out).size(), 4u);
}

TEST_F(CliTest, InvalidApplyChangesNothing) {
  writeFile(work_ / "t.yaml", kTemplate);
  writeFile(work_ / "c.yaml", cohortYaml("keep", 2, "256Mi"));
  ASSERT_EQ(darasa({"apply", work_ / "t.yaml", work_ / "c.yaml"}).exitCode, 0);
  auto before = darasa({"status", "-o", "json"}).out;
  auto dbBefore = runCommand({"sqlite3", state_ / "darasa.db", ".dump"});

  writeFile(work_ / "bad.yaml", cohortYaml("keep", 5, "lots"));  // not a size
  auto bad = darasa({"apply", work_ / "bad.yaml"});
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_NE(bad.err.find("bad.yaml:"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("nothing was applied"), std::string::npos) << bad.err;
  EXPECT_EQ(darasa({"status", "-o", "json"}).out, before);
  if (dbBefore.exitCode == 0) {
    EXPECT_EQ(runCommand({"sqlite3", state_ / "darasa.db", ".dump"}).out, dbBefore.out);
  }
}

TEST_F(CliTest, ReadCommandsWithoutStateSayWhatToDo) {
  auto r = darasa({"status"});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_NE(r.err.find("darasa apply"), std::string::npos) << r.err;
  auto u = darasa({"up", "nope"});
  EXPECT_NE(u.exitCode, 0);
}

}  // namespace
}  // namespace darasa::testing
