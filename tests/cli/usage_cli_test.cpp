// Black-box tests of `darasa usage`: the ledger the state keeps while real
// labs (local provider) run, in every output format, with exact agreement
// between formats and with the running time `up`/`down` bracket.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/command.h"

namespace darasa::testing {
namespace {
using nlohmann::json;

class UsageCli : public ::testing::Test {
 protected:
  CommandResult darasa(std::vector<std::string> args) {
    args.insert(args.begin(), darasaBinary());
    return runCommand(args, {{"DARASA_HOME", state_.path()}});
  }
  void TearDown() override { (void)darasa({"down", "u"}); }
  void applyCohort(const std::string& quota) {
    std::string file = work_.path() + "/u.yaml";
    writeFile(file, R"(apiVersion: darasa/v1
kind: LabTemplate
metadata: {name: u-shell}
spec:
  provider: local
  ports: [{name: ssh, port: 2222}]
  access: {user: trainee, credentials: [password]}
  readiness: {tcp: ssh, timeout: 30s}
  resources: {cpus: 500m, memory: 1.5Gi, pids: 64}
---
apiVersion: darasa/v1
kind: Cohort
metadata: {name: u}
spec:
  template: u-shell
  trainees:
    - {id: ann, name: Ann, email: ann@example.org}
    - {id: ben, name: Ben, email: ben@example.org}
    - {id: cy, name: Cy, email: cy@example.org}
)" + quota);
    auto r = darasa({"apply", file});
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  }
  TempDir state_;
  TempDir work_;
};

TEST_F(UsageCli, RunningTimeIsMeteredPerTraineeAndAgreesAcrossFormats) {
  applyCohort("  quota: {labHours: 2}\n");
  // Before any lab ran: everyone on the roster, at zero.
  auto before = darasa({"usage", "u", "-o", "json"});
  ASSERT_EQ(before.exitCode, 0) << before.err;
  json b = json::parse(before.out);
  ASSERT_EQ(b["trainees"].size(), 3u);
  EXPECT_EQ(b["total"]["labSeconds"], 0);

  auto up = darasa({"up", "u", "--trainee", "ann", "--trainee", "ben"});
  ASSERT_EQ(up.exitCode, 0) << up.out << up.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto down = darasa({"down", "u"});
  ASSERT_EQ(down.exitCode, 0) << down.out << down.err;

  auto j = darasa({"usage", "u", "-o", "json"});
  ASSERT_EQ(j.exitCode, 0) << j.err;
  json u = json::parse(j.out);
  std::map<std::string, int64_t> secs;
  for (const auto& t : u["trainees"]) secs[t["trainee"]] = t["total"]["labSeconds"];
  // Each ran from create to destroy: at least the 2.5 s slept, at most the
  // whole test so far (generous: the machine may be loaded).
  EXPECT_GE(secs["ann"], 2);
  EXPECT_GE(secs["ben"], 2);
  EXPECT_LT(secs["ann"], 120);
  EXPECT_EQ(secs["cy"], 0);
  EXPECT_EQ(u["total"]["labSeconds"].get<int64_t>(), secs["ann"] + secs["ben"]);
  // 500m CPUs: CPU-hours are half the lab-hours; 1.5Gi: GiB-hours 1.5×.
  EXPECT_DOUBLE_EQ(u["total"]["cpuHours"].get<double>(), u["total"]["labHours"].get<double>() * 0.5);
  EXPECT_DOUBLE_EQ(u["total"]["memoryGibHours"].get<double>(), u["total"]["labHours"].get<double>() * 1.5);
  for (const auto& t : u["trainees"]) EXPECT_NE(t["labHoursQuota"].get<std::string>().find("of 2h"), std::string::npos);

  // CSV rows (per trainee and day) add up to the same seconds.
  auto c = darasa({"usage", "u", "-o", "csv"});
  ASSERT_EQ(c.exitCode, 0) << c.err;
  int64_t csvTotal = 0;
  std::istringstream lines(c.out);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "trainee,day,lab_seconds,lab_hours,cpu_hours,memory_gib_hours");
  while (std::getline(lines, line)) {
    auto a = line.find(','), b2 = line.find(',', a + 1), c2 = line.find(',', b2 + 1);
    csvTotal += std::stoll(line.substr(b2 + 1, c2 - b2 - 1));
  }
  EXPECT_EQ(csvTotal, u["total"]["labSeconds"].get<int64_t>());

  // The table names the quota column; prices add a cost.
  auto t = darasa({"usage", "u", "--price-lab-hour", "3.6"});
  ASSERT_EQ(t.exitCode, 0) << t.err;
  EXPECT_NE(t.out.find("QUOTA"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("COST"), std::string::npos) << t.out;
  // 3.6 per hour = 0.001 per second: the cost in thousandths is the seconds.
  char cost[32];
  std::snprintf(cost, sizeof cost, "%lld.%03lld", static_cast<long long>(secs["ann"] / 1000),
                static_cast<long long>(secs["ann"] % 1000));
  EXPECT_NE(t.out.find(cost), std::string::npos) << t.out;

  std::string svgFile = work_.path() + "/u.svg";
  auto s = darasa({"usage", "u", "-o", "svg", "--out", svgFile});
  ASSERT_EQ(s.exitCode, 0) << s.err;
  std::string svg = readFile(svgFile);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find(">ann<"), std::string::npos);
  EXPECT_NE(svg.find(">cy<"), std::string::npos);
}

TEST_F(UsageCli, BadInputIsAClearErrorWithExitTwo) {
  applyCohort("");
  auto unknown = darasa({"usage", "nope"});
  EXPECT_EQ(unknown.exitCode, 2) << unknown.out << unknown.err;
  EXPECT_NE(unknown.err.find("nope"), std::string::npos) << unknown.err;
  auto badFrom = darasa({"usage", "u", "--from", "yesterday"});
  EXPECT_EQ(badFrom.exitCode, 2);
  EXPECT_NE(badFrom.err.find("--from"), std::string::npos) << badFrom.err;
  auto badPrice = darasa({"usage", "u", "--price-cpu-hour", "-1"});
  EXPECT_EQ(badPrice.exitCode, 2);
  EXPECT_NE(badPrice.err.find("--price-cpu-hour"), std::string::npos) << badPrice.err;
  auto empty = darasa({"usage", "u", "--from", "2030-01-02T00:00", "--to", "2030-01-01T00:00"});
  EXPECT_EQ(empty.exitCode, 2);
  EXPECT_NE(empty.err.find("period is empty"), std::string::npos) << empty.err;
}

}  // namespace
}  // namespace darasa::testing
