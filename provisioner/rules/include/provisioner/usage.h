// The usage ledger's arithmetic: intervals during which a lab was running or
// stopped (the store opens and closes them atomically with every phase
// change), summed per trainee, per day in the cohort's zone, and per cohort,
// into lab-seconds, CPU-hours and memory-GiB-hours (from the resources the
// lab was given: what a trainee holds, whether used or not), and a cost from
// optional prices. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "provisioner/clock.h"
#include "provisioner/records.h"

namespace darasa {


// Prices per unit (thousandths of the currency unit, so that sums are exact).
struct UsagePrices {
  int64_t perLabHourMilli = 0;
  int64_t perCpuHourMilli = 0;
  int64_t perGibHourMilli = 0;
  bool any() const { return perLabHourMilli || perCpuHourMilli || perGibHourMilli; }
};

struct UsageTotals {
  int64_t labSeconds = 0;         // running seconds
  int64_t stoppedSeconds = 0;
  // CPU-milli-seconds and byte-seconds, exact; the hours are derived.
  int64_t cpuMilliSeconds = 0;
  // Byte-seconds overflow int64 after ~290 GiB-years: kept in MiB-seconds.
  int64_t memoryMibSeconds = 0;
  int64_t costMilli = 0;
  double cpuHours() const { return static_cast<double>(cpuMilliSeconds) / 1000.0 / 3600.0; }
  double memoryGibHours() const { return static_cast<double>(memoryMibSeconds) / 1024.0 / 3600.0; }
  double labHours() const { return static_cast<double>(labSeconds) / 3600.0; }
  void add(const UsageTotals& o);
  bool operator==(const UsageTotals&) const = default;
};

struct UsageReport {
  std::string cohort;
  std::string timezone;  // days are cut at local midnight in this zone ("" = UTC)
  int64_t from = 0;      // [from, to) Unix seconds: intervals are clipped to it
  int64_t to = 0;
  UsageTotals total;
  std::map<std::string, UsageTotals> byTrainee;  // trainee id → totals
  std::map<std::string, UsageTotals> byDay;      // "2026-01-12" → totals
  std::map<std::string, std::map<std::string, UsageTotals>> byTraineeDay;  // trainee → day → totals
};

// Sums the intervals over [from, to); an open interval counts up to `to`.
// Days split at local midnight of `timezone` (unknown/empty: UTC). Costs:
// labs × hours × perLabHour + CPU-hours × perCpuHour + GiB-hours ×
// perGibHour, rounded down per interval piece to the thousandth.
UsageReport computeUsage(const std::vector<UsageInterval>& intervals, const std::string& cohort,
                         const std::string& timezone, int64_t from, int64_t to, const UsagePrices& prices = {});

// Running seconds of one trainee (or of every trainee, trainee "") in the
// intervals, counting open intervals up to `now`.
int64_t runningSeconds(const std::vector<UsageInterval>& intervals, const std::string& trainee, int64_t now);

// A small self-contained SVG an instructor can open in a browser: a bar
// chart of lab-hours per trainee and one of lab-hours per day.
std::string usageSvg(const UsageReport& report);

}  // namespace darasa
