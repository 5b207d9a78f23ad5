// Usage arithmetic (provisioner/usage.h): totals equal the sum of running
// intervals to the second, clipped to the period, cut at local midnight.
#include "provisioner/usage.h"

#include <gtest/gtest.h>

namespace darasa {
namespace {

constexpr int64_t kMi = int64_t{1} << 20;
// 2026-01-12T00:00:00Z
constexpr int64_t kDay0 = 1768176000;

UsageInterval iv(std::string trainee, int64_t start, int64_t end, bool running = true, int64_t cpu = 1000,
                 int64_t mem = 512 * kMi) {
  UsageInterval u;
  u.labId = "c." + trainee;
  u.cohort = "c";
  u.trainee = std::move(trainee);
  u.provider = "local";
  u.running = running;
  u.startedAt = start;
  u.endedAt = end;
  u.cpuMillis = cpu;
  u.memoryBytes = mem;
  return u;
}

TEST(UsageTest, TotalsAreTheSumOfRunningIntervalsToTheSecond) {
  std::vector<UsageInterval> ivs = {iv("alice", kDay0 + 100, kDay0 + 3701), iv("alice", kDay0 + 5000, kDay0 + 5007),
                                    iv("alice", kDay0 + 3701, kDay0 + 5000, false), iv("bob", kDay0 + 10, kDay0 + 20)};
  UsageReport r = computeUsage(ivs, "c", "", kDay0, kDay0 + 86400);
  EXPECT_EQ(r.byTrainee["alice"].labSeconds, 3601 + 7);
  EXPECT_EQ(r.byTrainee["alice"].stoppedSeconds, 1299);
  EXPECT_EQ(r.byTrainee["bob"].labSeconds, 10);
  EXPECT_EQ(r.total.labSeconds, 3601 + 7 + 10);
  EXPECT_EQ(r.total.cpuMilliSeconds, 1000 * (3601 + 7 + 10));
  EXPECT_EQ(r.total.memoryMibSeconds, 512 * (3601 + 7 + 10));
  EXPECT_EQ(runningSeconds(ivs, "alice", kDay0 + 99999), 3608);
  EXPECT_EQ(runningSeconds(ivs, "", kDay0 + 99999), 3618);
}

TEST(UsageTest, OpenIntervalsCountUpToTheEndOfThePeriodOrNow) {
  std::vector<UsageInterval> ivs = {iv("alice", kDay0 + 60, 0)};
  EXPECT_EQ(computeUsage(ivs, "c", "", kDay0, kDay0 + 600).total.labSeconds, 540);
  EXPECT_EQ(runningSeconds(ivs, "alice", kDay0 + 7260), 7200);
}

TEST(UsageTest, IntervalsAreClippedToThePeriod) {
  std::vector<UsageInterval> ivs = {iv("alice", kDay0 - 1000, kDay0 + 1000)};
  EXPECT_EQ(computeUsage(ivs, "c", "", kDay0, kDay0 + 500).total.labSeconds, 500);
}

TEST(UsageTest, DaysAreCutAtLocalMidnight) {
  // 20:00–23:30 UTC on Jan 12 is 23:00 Jan 12 – 02:30 Jan 13 in Nairobi (UTC+3).
  std::vector<UsageInterval> ivs = {iv("alice", kDay0 + 20 * 3600, kDay0 + 23 * 3600 + 1800)};
  UsageReport r = computeUsage(ivs, "c", "Africa/Nairobi", kDay0, kDay0 + 2 * 86400);
  ASSERT_EQ(r.byDay.size(), 2u);
  EXPECT_EQ(r.byDay["2026-01-12"].labSeconds, 3600);
  EXPECT_EQ(r.byDay["2026-01-13"].labSeconds, 2 * 3600 + 1800);
  EXPECT_EQ(r.byTraineeDay["alice"]["2026-01-13"].labSeconds, 9000);
  UsageReport utc = computeUsage(ivs, "c", "", kDay0, kDay0 + 2 * 86400);
  ASSERT_EQ(utc.byDay.size(), 1u);
  EXPECT_EQ(utc.byDay["2026-01-12"].labSeconds, 12600);
}

TEST(UsageTest, ADstDayIsTwentyFiveHoursLong) {
  // Europe/London, 2026-10-25: clocks go back at 02:00 BST → 01:00 GMT.
  // 2026-10-24T23:00:00Z is local midnight of Oct 25 (BST); the next local
  // midnight is 2026-10-26T00:00:00Z (GMT): 25 hours.
  const int64_t oct24_23z = 1792882800;
  std::vector<UsageInterval> ivs = {iv("alice", oct24_23z - 3600, oct24_23z + 26 * 3600)};
  UsageReport r = computeUsage(ivs, "c", "Europe/London", oct24_23z - 86400, oct24_23z + 2 * 86400);
  EXPECT_EQ(r.byDay["2026-10-24"].labSeconds, 3600);
  EXPECT_EQ(r.byDay["2026-10-25"].labSeconds, 25 * 3600);
  EXPECT_EQ(r.byDay["2026-10-26"].labSeconds, 3600);  // the interval ends at 01:00 GMT
}

TEST(UsageTest, CostFromPricesIsExactInThousandths) {
  UsagePrices p;
  p.perLabHourMilli = 100;   // 0.1 per lab-hour
  p.perCpuHourMilli = 2000;  // 2 per CPU-hour
  p.perGibHourMilli = 500;   // 0.5 per GiB-hour
  // 2 hours, 1.5 CPUs, 1.5Gi: 0.2 + 6 + 1.5 = 7.7
  std::vector<UsageInterval> ivs = {iv("alice", kDay0, kDay0 + 7200, true, 1500, 1536 * kMi)};
  UsageReport r = computeUsage(ivs, "c", "", kDay0, kDay0 + 86400, p);
  EXPECT_EQ(r.total.costMilli, 7700);
  EXPECT_DOUBLE_EQ(r.total.cpuHours(), 3.0);
  EXPECT_DOUBLE_EQ(r.total.memoryGibHours(), 3.0);
  // Stopped time costs nothing.
  std::vector<UsageInterval> stopped = {iv("alice", kDay0, kDay0 + 7200, false, 1500, 1536 * kMi)};
  EXPECT_EQ(computeUsage(stopped, "c", "", kDay0, kDay0 + 86400, p).total.costMilli, 0);
}

TEST(UsageTest, SvgIsWellFormedAndEscapesNames) {
  std::vector<UsageInterval> ivs = {iv("a<b&c", kDay0, kDay0 + 3600), iv("bob", kDay0, kDay0 + 1800)};
  std::string svg = usageSvg(computeUsage(ivs, "c", "Africa/Nairobi", kDay0, kDay0 + 86400));
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("a&lt;b&amp;c"), std::string::npos);
  EXPECT_EQ(svg.find("a<b"), std::string::npos);
  EXPECT_NE(svg.find("1.00 h"), std::string::npos);
  EXPECT_NE(svg.find("0.50 h"), std::string::npos);
  EXPECT_NE(svg.find("Lab-hours per day (Africa/Nairobi)"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

}  // namespace
}  // namespace darasa
