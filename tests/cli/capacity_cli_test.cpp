// Black-box test of `darasa apply` against the provider's capacity: a class
// whose labs cannot all run at once on this host is refused with the
// arithmetic (nothing stored), or stored with --allow-partial.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "support/command.h"

namespace darasa::testing {
namespace {

int64_t hostMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  int64_t kib = 0;
  while (in >> key >> kib >> unit)
    if (key == "MemTotal:") return kib * 1024;
  return 0;
}

class CapacityCli : public ::testing::Test {
 protected:
  CommandResult darasa(std::vector<std::string> args) {
    args.insert(args.begin(), darasaBinary());
    return runCommand(args, {{"DARASA_HOME", state_.path()}});
  }
  TempDir state_;
  TempDir work_;
};

TEST_F(CapacityCli, AClassThatCannotFitIsRefusedWithTheArithmeticUnlessPartialIsAllowed) {
  const int64_t mem = hostMemoryBytes();
  ASSERT_GT(mem, 0);
  const int64_t gi = int64_t{1} << 30;
  // 2Gi labs, one more than the host's memory holds.
  const int64_t trainees = mem / (2 * gi) + 1;
  std::string file = work_.path() + "/big.yaml";
  writeFile(file, R"(apiVersion: darasa/v1
kind: LabTemplate
metadata: {name: big-shell}
spec:
  provider: local
  ports: [{name: ssh, port: 2222}]
  access: {user: trainee, credentials: [password]}
  resources: {cpus: 100m, memory: 2Gi, pids: 64}
---
apiVersion: darasa/v1
kind: Cohort
metadata: {name: big}
spec:
  template: big-shell
  trainees:
)" + traineesYaml(static_cast<int>(trainees)));
  auto refused = darasa({"apply", file});
  EXPECT_NE(refused.exitCode, 0) << refused.out << refused.err;
  const std::string want = "cohort big needs " + std::to_string(trainees) + " labs at once × 2Gi memory = " +
                           std::to_string(trainees * 2) + "Gi, but provider local (host:";
  EXPECT_NE(refused.err.find(want), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("set spec.quota.maxLabs to " + std::to_string(trainees - 1)), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("--allow-partial"), std::string::npos) << refused.err;
  // Nothing was stored.
  auto status = darasa({"status", "big"});
  EXPECT_NE(status.exitCode, 0);

  auto partial = darasa({"apply", "--allow-partial", file});
  EXPECT_EQ(partial.exitCode, 0) << partial.out << partial.err;
  EXPECT_NE(partial.err.find("warning: " + want), std::string::npos) << partial.err;
  EXPECT_NE(partial.out.find("created"), std::string::npos) << partial.out;

  // A maxLabs that fits is accepted as it is.
  std::string capped = work_.path() + "/capped.yaml";
  std::string text = readFile(file);
  text.replace(text.find("metadata: {name: big}"), 21, "metadata: {name: capped}");
  text += "  quota: {maxLabs: " + std::to_string(trainees - 1) + "}\n";
  writeFile(capped, text);
  // (in a state of its own: here, big's promise counts against it)
  TempDir other;
  auto ok = runCommand({darasaBinary(), "apply", capped}, {{"DARASA_HOME", other.path()}});
  EXPECT_EQ(ok.exitCode, 0) << ok.out << ok.err;
}

}  // namespace
}  // namespace darasa::testing
