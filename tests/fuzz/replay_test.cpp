// darasa_fuzz_regression_tests: every committed fuzz input through its
// target in the normal build (fuzz_target.h): the seed corpus
// (tests/fuzz/corpus/<target>/), the seeds taken from examples/
// (tests/fuzz/seeds.list, shared with scripts/fuzz.sh) and each input that
// once crashed a target (tests/fuzz/regressions/<target>/). A crash fails
// the test by ending it; a broken property aborts with its message.
#include <glob.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "fuzz_target.h"

namespace darasa::fuzz {

namespace {
std::map<std::string, TargetFn>& registry() {
  static std::map<std::string, TargetFn> r;
  return r;
}
}  // namespace

bool registerTarget(const char* name, TargetFn fn) {
  registry()[name] = fn;
  return true;
}

TargetFn findTarget(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second;
}

namespace {
namespace fs = std::filesystem;
const fs::path kSource = DARASA_SOURCE_DIR;

std::vector<fs::path> filesIn(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file()) out.push_back(e.path());
  return out;
}

// The example files seeds.list names for a target (globs relative to the repo).
std::vector<fs::path> exampleSeeds(const std::string& target) {
  std::vector<fs::path> out;
  std::ifstream list(kSource / "tests/fuzz/seeds.list");
  for (std::string line; std::getline(list, line);) {
    std::istringstream words(line);
    std::string name;
    if (!(words >> name) || name[0] == '#' || name != target) continue;
    for (std::string pattern; words >> pattern;) {
      glob_t g{};
      if (::glob((kSource / pattern).c_str(), 0, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
      ::globfree(&g);
    }
  }
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class FuzzReplay : public ::testing::TestWithParam<std::string> {};

TEST_P(FuzzReplay, EveryCommittedInputRunsWithoutACrash) {
  const std::string& name = GetParam();
  TargetFn fn = findTarget(name);
  ASSERT_NE(fn, nullptr) << "no fuzz target " << name;
  std::vector<fs::path> inputs = filesIn(kSource / "tests/fuzz/corpus" / name);
  size_t seeds = inputs.size();
  for (auto& p : exampleSeeds(name)) inputs.push_back(p);
  size_t regressions = 0;
  for (auto& p : filesIn(kSource / "tests/fuzz/regressions" / name)) {
    inputs.push_back(p);
    ++regressions;
  }
  EXPECT_GT(seeds, 0u) << "tests/fuzz/corpus/" << name << " has no seed";
  for (const auto& p : inputs) {
    SCOPED_TRACE(p.string());
    std::string data = slurp(p);
    fn(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  }
  std::cout << "fuzz replay " << name << ": " << inputs.size() << " inputs (" << regressions << " regressions)"
            << std::endl;
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay,
                         ::testing::Values("cohort", "roster", "ics", "config", "api", "plugin", "engine"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace darasa::fuzz
