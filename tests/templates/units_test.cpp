// Units: exact sizes, CPUs, durations, decimals and local date-times.
#include <gtest/gtest.h>

#include "templates/units.h"

namespace darasa::templates {
namespace {
using std::chrono::seconds;

TEST(Units, Sizes) {
  EXPECT_EQ(parseSize("512Mi"), 536870912);
  EXPECT_EQ(parseSize("1.5Gi"), 1610612736);  // exact, no floating point
  EXPECT_EQ(parseSize("2G"), 2000000000);
  EXPECT_EQ(parseSize("1k"), 1000);
  EXPECT_EQ(parseSize("1Ki"), 1024);
  EXPECT_EQ(parseSize("0.5Ki"), 512);
  EXPECT_EQ(parseSize("1.3Ki"), 1332);  // 1331.2 bytes round up
  EXPECT_EQ(parseSize("1048576"), 1048576);
  EXPECT_EQ(parseSize("0"), 0);
  EXPECT_EQ(parseSize("8Ei"), std::nullopt);
  EXPECT_EQ(parseSize("9999999Pi"), std::nullopt);  // overflows int64
  for (const char* bad : {"2 GB", "2GB", "2K", "-1", "", "Gi", "1.Gi", ".5Gi", "1e3", "1,5Gi", "0x10"})
    EXPECT_EQ(parseSize(bad), std::nullopt) << bad;
}

TEST(Units, Cpus) {
  EXPECT_EQ(parseCpus("1"), 1000);
  EXPECT_EQ(parseCpus("0.5"), 500);
  EXPECT_EQ(parseCpus("2.25"), 2250);
  EXPECT_EQ(parseCpus("500m"), 500);
  for (const char* bad : {"0.0001", "1.5m", "m", "two", "", "-1", "1 cpu"}) EXPECT_EQ(parseCpus(bad), std::nullopt) << bad;
}

TEST(Units, Durations) {
  EXPECT_EQ(parseDuration("30s"), seconds(30));
  EXPECT_EQ(parseDuration("15m"), seconds(900));
  EXPECT_EQ(parseDuration("4h"), seconds(14400));
  EXPECT_EQ(parseDuration("1h30m"), seconds(5400));
  EXPECT_EQ(parseDuration("2d"), seconds(172800));
  EXPECT_EQ(parseDuration("1.5h"), seconds(5400));
  EXPECT_EQ(parseDuration("1d2h3m4s"), seconds(93784));
  EXPECT_EQ(parseDuration("0"), seconds(0));
  for (const char* bad : {"90", "1m1h", "1h1h", "5 minutes", "", "h", "1.5s", "-5m", "1w"})
    EXPECT_EQ(parseDuration(bad), std::nullopt) << bad;
}

TEST(Units, Decimals) {
  EXPECT_EQ(parseDecimalScaled("12.5", 3600), 45000);
  EXPECT_EQ(parseDecimalScaled("120.50", 1000), 120500);
  EXPECT_EQ(parseDecimalScaled("40", 3600), 144000);
  EXPECT_EQ(parseDecimalScaled("0.0005", 1000), 1);  // rounds to nearest
  EXPECT_EQ(parseDecimalScaled("-1", 1000), std::nullopt);
  EXPECT_EQ(parseInteger("-42"), -42);
  EXPECT_EQ(parseInteger("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(parseInteger("9223372036854775808"), std::nullopt);
  EXPECT_EQ(parseInteger("4x"), std::nullopt);
}

TEST(Units, Formatting) {
  EXPECT_EQ(formatSize(1610612736), "1.5Gi");
  EXPECT_EQ(formatSize(536870912), "512Mi");
  EXPECT_EQ(formatSize(1000), "1000");
  EXPECT_EQ(formatCpus(500), "500m");
  EXPECT_EQ(formatCpus(2000), "2");
  EXPECT_EQ(formatCpus(1250), "1.25");
  EXPECT_EQ(formatDuration(seconds(5400)), "1h30m");
  EXPECT_EQ(formatDuration(seconds(0)), "0s");
}

TEST(Units, LocalDateTimes) {
  EXPECT_EQ(normalizeLocalDateTime("2026-01-12T09:00"), "2026-01-12T09:00:00");
  EXPECT_EQ(normalizeLocalDateTime("2026-01-12T09:00:30"), "2026-01-12T09:00:30");
  EXPECT_EQ(normalizeLocalDateTime("2028-02-29T09:00"), "2028-02-29T09:00:00");
  for (const char* bad : {"2026-02-29T09:00", "2026-02-30T09:00", "2026-01-12 09:00", "2026-01-12T09:00Z",
                          "2026-01-12T24:00", "2026-13-01T09:00", "2026-1-12T09:00", "2026-01-12"})
    EXPECT_EQ(normalizeLocalDateTime(bad), std::nullopt) << bad;
}

}  // namespace
}  // namespace darasa::templates
