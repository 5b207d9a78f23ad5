// Black-box tests of `darasa schedule COHORT`: the stored cohort's sessions
// and planned lab actions, in the cohort's zone and UTC, as a table and as
// JSON; windows, DST, a cohort without a schedule, exit codes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "integration/daemon_support.h"
#include "support/command.h"

namespace darasa::testing {
namespace {
using nlohmann::json;

const std::string kNairobi = std::string(DARASA_SOURCE_DIR) + "/examples/cohorts/nairobi-sysadmin-2026-04.yaml";

class ScheduleCli : public ::testing::Test {
 protected:
  CommandResult darasa(std::vector<std::string> args) {
    args.insert(args.begin(), darasaBinary());
    return runCommand(args, {{"DARASA_HOME", state_.path()}}, 60);
  }
  void apply(const std::string& file) {
    auto r = darasa({"apply", file});
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  }
  json scheduleJson(std::vector<std::string> args) {
    args.insert(args.begin(), "schedule");
    args.insert(args.end(), {"-o", "json"});
    auto r = darasa(args);
    EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
    try {
      return json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what() << "\n" << r.out;
      return json::object();
    }
  }
  TempDir state_;
  TempDir work_;
};

std::vector<std::string> field(const json& list, const char* key) {
  std::vector<std::string> out;
  for (const auto& e : list) out.push_back(e.value(key, ""));
  return out;
}

TEST_F(ScheduleCli, OneWeekOfTheNairobiTimetableAsJson) {
  apply(kNairobi);
  json j = scheduleJson({"nairobi-sysadmin-2026-04", "--from", "2026-04-20", "--to", "2026-04-27"});
  EXPECT_EQ(j["cohort"], "nairobi-sysadmin-2026-04");
  EXPECT_EQ(j["timezone"], "Africa/Nairobi");
  EXPECT_EQ(j["from"], "2026-04-19T21:00:00Z");  // midnight in Nairobi
  EXPECT_EQ(j["to"], "2026-04-26T21:00:00Z");
  // Mon, Wed, Fri 14:00-17:00 EAT = 11:00-14:00 UTC.
  EXPECT_EQ(field(j["sessions"], "start"),
            (std::vector<std::string>{"2026-04-20T11:00:00Z", "2026-04-22T11:00:00Z", "2026-04-24T11:00:00Z"}));
  EXPECT_EQ(field(j["sessions"], "end"),
            (std::vector<std::string>{"2026-04-20T14:00:00Z", "2026-04-22T14:00:00Z", "2026-04-24T14:00:00Z"}));
  EXPECT_EQ(j["sessions"][0]["localStart"], "2026-04-20T14:00:00");
  // leadTime 15m, grace 10m, between: stop.
  EXPECT_EQ(field(j["actions"], "at"),
            (std::vector<std::string>{"2026-04-20T10:45:00Z", "2026-04-20T14:10:00Z", "2026-04-22T10:45:00Z",
                                      "2026-04-22T14:10:00Z", "2026-04-24T10:45:00Z", "2026-04-24T14:10:00Z"}));
  EXPECT_EQ(field(j["actions"], "desired"),
            (std::vector<std::string>{"running", "stopped", "running", "stopped", "running", "stopped"}));
  EXPECT_EQ(j["actions"][0]["local"], "2026-04-20T13:45:00+03:00");
  for (const char* key : {"now", "desiredNow", "reason", "nextChange"}) EXPECT_TRUE(j.contains(key)) << key;
}

TEST_F(ScheduleCli, TableShowsZoneAndUtcSideBySide) {
  apply(kNairobi);
  auto r = darasa({"schedule", "nairobi-sysadmin-2026-04", "--from", "2026-04-20", "--to", "2026-04-21"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1 session from Mon 2026-04-20 00:00 to Tue 2026-04-21 00:00 (Africa/Nairobi)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Mon 2026-04-20 14:00"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2026-04-20 11:00"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Mon 2026-04-20 13:45  2026-04-20 10:45  up (ready)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Mon 2026-04-20 17:10  2026-04-20 14:10  stop"), std::string::npos) << r.out;
}

TEST_F(ScheduleCli, WholeScheduleSkipsTheHolidayAndEndsWithDestroy) {
  apply(kNairobi);
  json j = scheduleJson({"nairobi-sysadmin-2026-04", "--all"});
  ASSERT_EQ(j["sessions"].size(), 17u);  // 18 Mon/Wed/Fri less Labour Day
  for (const auto& s : j["sessions"]) EXPECT_NE(s["localStart"], "2026-05-01T14:00:00");
  ASSERT_EQ(j["actions"].size(), 34u);
  EXPECT_EQ(j["actions"].back()["at"], "2026-05-29T14:10:00Z");
  EXPECT_EQ(j["actions"].back()["desired"], "absent");
  EXPECT_NE(j["actions"].back()["reason"].get<std::string>().find("cohort over"), std::string::npos);
  EXPECT_EQ(j["to"], nullptr);

  // The default window is 14 days from --from: Mon 20 April to Mon 4 May
  // (00:00), less Labour Day.
  json two = scheduleJson({"nairobi-sysadmin-2026-04", "--from", "2026-04-20"});
  EXPECT_EQ(two["to"], "2026-05-03T21:00:00Z");
  EXPECT_EQ(two["sessions"].size(), 5u);
}

TEST_F(ScheduleCli, LondonSessionsMoveInUtcAcrossTheDstChange) {
  writeFile(work_ / "london.yaml", R"(apiVersion: darasa/v1
kind: LabTemplate
metadata: {name: shell}
spec:
  provider: local
  ports: [{name: ssh, port: 2222}]
---
apiVersion: darasa/v1
kind: Cohort
metadata: {name: london}
spec:
  template: shell
  trainees: [{id: t1, name: T One, email: t1@example.org}]
  timezone: Europe/London
  schedule:
    sessions:
      - {start: 2026-03-23T09:00, end: 2026-03-23T12:00, repeat: "FREQ=WEEKLY;BYDAY=MO;COUNT=2"}
  between: destroy
)");
  apply(work_ / "london.yaml");
  json j = scheduleJson({"london", "--all"});
  EXPECT_EQ(field(j["sessions"], "start"),
            (std::vector<std::string>{"2026-03-23T09:00:00Z", "2026-03-30T08:00:00Z"}));
  EXPECT_EQ(field(j["sessions"], "localStart"),
            (std::vector<std::string>{"2026-03-23T09:00:00", "2026-03-30T09:00:00"}));
  EXPECT_EQ(field(j["actions"], "local"),
            (std::vector<std::string>{"2026-03-23T08:45:00+00:00", "2026-03-23T12:15:00+00:00",
                                      "2026-03-30T08:45:00+01:00", "2026-03-30T12:15:00+01:00"}));
  EXPECT_EQ(field(j["actions"], "desired"),
            (std::vector<std::string>{"running", "absent", "running", "absent"}));
  // --from in the cohort's zone: 09:00 BST is 08:00 UTC.
  json after = scheduleJson({"london", "--from", "2026-03-30T09:00"});
  EXPECT_EQ(after["from"], "2026-03-30T08:00:00Z");
  EXPECT_EQ(after["sessions"].size(), 1u);
}

TEST_F(ScheduleCli, CohortWithoutScheduleSaysSo) {
  apply(std::string(DARASA_SOURCE_DIR) + "/examples/demo/demo.yaml");
  auto r = darasa({"schedule", "demo"});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("has no schedule"), std::string::npos) << r.out;
  json j = scheduleJson({"demo"});
  EXPECT_TRUE(j["sessions"].empty());
  EXPECT_TRUE(j["actions"].empty());
  EXPECT_EQ(j["desiredNow"], "absent");
}

TEST_F(ScheduleCli, ErrorsAndExitCodes) {
  apply(kNairobi);
  auto unknown = darasa({"schedule", "no-such-cohort"});
  EXPECT_EQ(unknown.exitCode, 2);
  EXPECT_NE(unknown.err.find("no-such-cohort"), std::string::npos) << unknown.err;

  auto badFrom = darasa({"schedule", "nairobi-sysadmin-2026-04", "--from", "next tuesday"});
  EXPECT_EQ(badFrom.exitCode, 2);
  EXPECT_NE(badFrom.err.find("--from"), std::string::npos) << badFrom.err;

  auto backwards = darasa({"schedule", "nairobi-sysadmin-2026-04", "--from", "2026-05-01", "--to", "2026-04-01"});
  EXPECT_EQ(backwards.exitCode, 2);

  EXPECT_EQ(darasa({"schedule", "nairobi-sysadmin-2026-04", "-o", "csv"}).exitCode, 2);
  EXPECT_EQ(darasa({"schedule"}).exitCode, 2);

  auto help = darasa({"schedule", "--help"});
  EXPECT_EQ(help.exitCode, 0);
  EXPECT_NE(help.out.find("14 days"), std::string::npos) << help.out;
}

TEST_F(ScheduleCli, ServerModeGivesTheSameAnswer) {
  apply(kNairobi);
  ServeProcess serve(state_.path(), work_.path());
  ASSERT_TRUE(serve.start());
  const std::string token = makeToken(state_.path(), {"--role", "admin"});
  ASSERT_FALSE(token.empty());
  auto remote = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {darasaBinary(), "--server", serve.url()});
    return runCommand(args, {{"DARASA_HOME", work_ / "no-state"}, {"DARASA_TOKEN", token}}, 60);
  };
  for (const auto& window : std::vector<std::vector<std::string>>{
           {"--from", "2026-04-20"}, {"--from", "2026-04-22T14:00", "--to", "2026-05-05"}, {"--all"}}) {
    std::vector<std::string> args = {"schedule", "nairobi-sysadmin-2026-04", "-o", "json"};
    args.insert(args.end(), window.begin(), window.end());
    auto r = remote(args);
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
    json fromServer = json::parse(r.out);
    std::vector<std::string> localArgs = {"nairobi-sysadmin-2026-04"};
    localArgs.insert(localArgs.end(), window.begin(), window.end());
    json local = scheduleJson(localArgs);
    fromServer.erase("now");
    local.erase("now");
    EXPECT_EQ(fromServer, local) << window[0];
  }
  auto table = remote({"schedule", "nairobi-sysadmin-2026-04", "--from", "2026-04-20", "--to", "2026-04-21"});
  EXPECT_EQ(table.exitCode, 0) << table.err;
  EXPECT_NE(table.out.find("Mon 2026-04-20 13:45  2026-04-20 10:45  up (ready)"), std::string::npos) << table.out;
  EXPECT_EQ(remote({"schedule", "no-such-cohort"}).exitCode, 2);
  EXPECT_EQ(serve.stop(), 0);
}

}  // namespace
}  // namespace darasa::testing
