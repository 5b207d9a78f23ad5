// darasa-conformance: the provider conformance suite (tests/providers/
// conformance_test.cpp) run against one external plugin, for plugin authors.
//
//   darasa-conformance --plugin PATH [--name NAME] [--spec LABSPEC.json]
//                      [--option KEY=VALUE]... [gtest flags]
//
// Exit codes: 0 every test passed, 1 a test failed, 2 invalid usage.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "providers/conformance.h"

namespace {

constexpr int kExitUsage = 2;

void usage(std::ostream& os) {
  os << "usage: darasa-conformance --plugin PATH [--name NAME] [--spec LABSPEC.json] [--option KEY=VALUE]...\n"
        "                          [gtest flags, e.g. --gtest_filter=*Create*]\n"
        "\n"
        "Runs darasa's provider conformance suite against the provider plugin at PATH\n"
        "(protocol: docs/plugin-protocol.md). Every test starts the plugin through darasa's\n"
        "exec provider, with a fresh state directory, and checks one rule of the contract.\n"
        "\n"
        "  --plugin PATH        the plugin executable (required)\n"
        "  --name NAME          the provider name darasa gives it (default: NAME of\n"
        "                       darasa-provider-NAME, else \"plugin\")\n"
        "  --spec FILE          a LabSpec in JSON that your labs need (image, command...);\n"
        "                       the suite sets labId, cohort, trainee and the darasa.* labels.\n"
        "                       Default: no image, no command, one port\n"
        "                       {\"name\":\"web\",\"port\":8080,\"protocol\":\"http\"}, readiness on it\n"
        "  --option KEY=VALUE   passed to the plugin in the handshake's config (repeatable)\n"
        "\n"
        "Exit status: 0 all passed, 1 a rule is broken (see the summary), 2 usage error.\n";
}

std::string providerNameOf(const std::string& path) {
  std::string base = std::filesystem::path(path).filename().string();
  const std::string prefix = "darasa-provider-";
  if (base.size() > prefix.size() && base.compare(0, prefix.size(), prefix) == 0) return base.substr(prefix.size());
  return "plugin";
}

// After the run: which rules of the contract the plugin broke, in words.
class Summary : public ::testing::EmptyTestEventListener {
 public:
  explicit Summary(std::string plugin) : plugin_(std::move(plugin)) {}

  void OnTestEnd(const ::testing::TestInfo& t) override {
    if (t.result()->Failed()) failed_.push_back(t.name());
    else if (t.result()->Passed() && !t.result()->Skipped()) ++passed_;
  }

  void OnTestProgramEnd(const ::testing::UnitTest& u) override {
    std::cout << "\n";
    if (u.test_to_run_count() == 0) {
      std::cout << "darasa-conformance: no test selected (check --gtest_filter)\n";
      return;
    }
    if (failed_.empty()) {
      std::cout << "darasa-conformance: " << plugin_ << " passes all " << passed_
                << " conformance tests it was given\n";
      return;
    }
    std::cout << "darasa-conformance: " << plugin_ << " FAILS " << failed_.size() << " of "
              << failed_.size() + passed_ << " conformance tests. Rules broken:\n";
    for (const auto& name : failed_) {
      std::string bare = name.substr(0, name.find('/'));  // "CreateIs.../foo"
      std::string rule = darasa::conformance::contractRule(bare);
      std::cout << "  - " << bare << ": " << (rule.empty() ? "(see the test's output above)" : rule) << "\n";
    }
    std::cout << "The failure lines above say what the plugin answered; docs/plugin-protocol.md says what it "
                 "should.\n";
  }

 private:
  std::string plugin_;
  std::vector<std::string> failed_;
  size_t passed_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string plugin, name, spec;
  std::map<std::string, std::string> options;
  // Our flags out, everything else left for gtest.
  std::vector<char*> rest = {argv[0]};
  auto value = [&](int& i, const char* flag, std::string* out) -> bool {
    size_t n = std::strlen(flag);
    if (std::strncmp(argv[i], flag, n) != 0) return false;
    if (argv[i][n] == '=') {
      *out = argv[i] + n + 1;
      return true;
    }
    if (argv[i][n] != '\0') return false;
    if (i + 1 >= argc) {
      std::cerr << "darasa-conformance: " << flag << " needs a value\n";
      std::exit(kExitUsage);
    }
    *out = argv[++i];
    return true;
  };
  for (int i = 1; i < argc; ++i) {
    std::string opt;
    if (std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0) {
      usage(std::cout);
      return 0;
    }
    if (value(i, "--plugin", &plugin) || value(i, "--name", &name) || value(i, "--spec", &spec)) continue;
    if (value(i, "--option", &opt)) {
      auto eq = opt.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "darasa-conformance: --option " << opt << ": expected KEY=VALUE\n";
        return kExitUsage;
      }
      options[opt.substr(0, eq)] = opt.substr(eq + 1);
      continue;
    }
    rest.push_back(argv[i]);
  }
  if (plugin.empty()) {
    std::cerr << "darasa-conformance: --plugin PATH is required\n\n";
    usage(std::cerr);
    return kExitUsage;
  }
  // The exec provider takes the path as it is; make it absolute so that the
  // plugin's own working directory does not matter.
  std::error_code ec;
  auto abs = std::filesystem::absolute(plugin, ec);
  if (!ec) plugin = abs.string();
  if (name.empty()) name = providerNameOf(plugin);

  darasa::conformance::setSuiteTargets({darasa::conformance::pluginTarget(name, plugin, spec, options)});
  int gargc = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  ::testing::InitGoogleTest(&gargc, rest.data());
  for (int i = 1; i < gargc; ++i) {
    std::cerr << "darasa-conformance: unknown argument \"" << rest[i] << "\" (see --help)\n";
    return kExitUsage;
  }
  ::testing::UnitTest::GetInstance()->listeners().Append(new Summary(name + " (" + plugin + ")"));
  return RUN_ALL_TESTS() == 0 ? 0 : 1;
}
