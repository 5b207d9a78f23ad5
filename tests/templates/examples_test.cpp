// Every file under examples/ (except examples/invalid/) validates, alone or
// together; the invalid example has exactly its three mistakes.
#include <filesystem>

#include "test_util.h"

namespace darasa::templates {
namespace {
namespace fs = std::filesystem;
using testing::dump;

std::vector<std::string> exampleFiles() {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(std::string(DARASA_SOURCE_DIR) + "/examples")) {
    std::string p = e.path().string();
    std::string ext = e.path().extension().string();
    if (p.find("/invalid/") != std::string::npos || p.find("/plugins/") != std::string::npos) continue;
    // The daemon's config is not a template or cohort (tests/templates/config_test.cpp loads it).
    if (e.path().filename() == "darasa.yaml") continue;
    if (ext == ".yaml" || ext == ".yml" || ext == ".json") out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Examples, AllValidateTogetherWithoutWarnings) {
  auto files = exampleFiles();
  ASSERT_GE(files.size(), 8u);
  Bundle b = loadFiles(files, {});
  EXPECT_TRUE(b.diagnostics.empty()) << dump(b.diagnostics);
  // Every Cohort document of the examples is loaded (counted from the files
  // themselves, so that a new example needs no edit here).
  size_t cohortDocs = 0;
  for (const auto& f : files) {
    std::ifstream in(f);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("kind: Cohort", 0) == 0 || line.find("\"kind\": \"Cohort\"") != std::string::npos) ++cohortDocs;
  }
  EXPECT_GE(cohortDocs, 5u);
  EXPECT_EQ(b.cohorts.size(), cohortDocs);
  EXPECT_GE(b.templates.size(), 5u);
  for (const auto& c : b.cohorts) {
    auto r = renderCohort({&b, c.spec.name, 1}, nullptr);
    ASSERT_TRUE(r.isOk()) << r.status().toString();
    EXPECT_EQ(r->labs.size(), c.spec.trainees.size());
    EXPECT_FALSE(r->labs.empty());
  }
}

TEST(Examples, EachCohortValidatesWithTheTemplateDir) {
  ValidateOptions opts;
  opts.templateDirs = {std::string(DARASA_SOURCE_DIR) + "/examples/templates"};
  for (const auto& f : exampleFiles()) {
    if (f.find("/cohorts/") == std::string::npos) continue;
    Bundle b = loadFiles({f}, opts);
    EXPECT_TRUE(b.ok()) << f << "\n" << dump(b.diagnostics);
    ASSERT_EQ(b.cohorts.size(), 1u);
  }
}

TEST(Examples, DemoIsFiveTraineesOnTheLocalProvider) {
  Bundle b = loadFiles({std::string(DARASA_SOURCE_DIR) + "/examples/demo/demo.yaml"}, {});
  ASSERT_TRUE(b.ok()) << dump(b.diagnostics);
  auto r = renderCohort({&b, "demo", 1}, nullptr);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  ASSERT_EQ(r->labs.size(), 5u);
  const LabSpec& l = r->labs[0];
  EXPECT_EQ(l.labId, "demo.t01");
  EXPECT_EQ(l.provider, "local");
  ASSERT_EQ(l.ports.size(), 1u);
  EXPECT_EQ(l.ports[0].name, "ssh");
  EXPECT_EQ(l.ports[0].port, 2222);
  EXPECT_EQ(l.readiness.tcpPort, "ssh");
  EXPECT_EQ(l.resources.cpuMillis, 500);
  EXPECT_EQ(l.resources.memoryBytes, 256 * 1024 * 1024);
  EXPECT_EQ(l.resources.pids, 128);
  EXPECT_EQ(l.access.user, "trainee");
  EXPECT_TRUE(l.access.password);
  EXPECT_TRUE(l.access.sshKey);
}

TEST(Examples, ThreeMistakesGivesThreeLocatedErrors) {
  std::string path = std::string(DARASA_SOURCE_DIR) + "/examples/invalid/three-mistakes.yaml";
  Bundle b = loadFiles({path}, {});
  auto errs = testing::errorsOf(b);
  ASSERT_EQ(errs.size(), 3u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].line, 11);
  EXPECT_EQ(errs[0].column, 13);
  EXPECT_EQ(errs[0].message, "memory \"2 GB\" is not a size (use e.g. 2Gi)");
  EXPECT_EQ(errs[0].path, "spec.resources.memory");
  EXPECT_EQ(errs[1].line, 14);
  EXPECT_EQ(errs[1].column, 20);
  EXPECT_EQ(errs[1].message,
            "readiness port \"sshd\" is not one of the ports (did you mean \"ssh\"?); ports: ssh");
  EXPECT_EQ(errs[2].line, 15);
  EXPECT_EQ(errs[2].column, 3);
  EXPECT_EQ(errs[2].message, "unknown field \"netwrok\" in spec (did you mean \"network\"?)");
  EXPECT_EQ(formatDiagnostic(errs[0]),
            path + ":11:13: error: memory \"2 GB\" is not a size (use e.g. 2Gi)\n"
                   "   11 |     memory: 2 GB\n"
                   "      |             ^\n");
}

}  // namespace
}  // namespace darasa::templates
