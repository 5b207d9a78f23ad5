// darasa usage COHORT: lab-hours, CPU-hours, memory-GiB-hours and cost per
// trainee and per day, from the usage ledger the store keeps on every phase
// change (store.h "usage ledger"); as a table, CSV, JSON or an SVG chart.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "context.h"
#include "provisioner/cohort.h"
#include "provisioner/schedule.h"
#include "provisioner/usage.h"
#include "templates/units.h"

namespace darasa::cli {
namespace {
using nlohmann::json;

struct UsageOptions {
  std::string cohort;
  std::string from, to;
  std::string output = "table";
  std::string outFile;
  std::string priceLabHour, priceCpuHour, priceGibHour;
};

std::string fixed(double v, int decimals = 2) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string money(int64_t milli) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(milli / 1000),
                static_cast<long long>(milli % 1000));
  return buf;
}

json totalsJson(const UsageTotals& t, bool priced) {
  json j = {{"labSeconds", t.labSeconds},
            {"labHours", t.labHours()},
            {"stoppedSeconds", t.stoppedSeconds},
            {"cpuHours", t.cpuHours()},
            {"memoryGibHours", t.memoryGibHours()}};
  if (priced) j["cost"] = money(t.costMilli);
  return j;
}

Result<int64_t> priceMilli(const std::string& text, const std::string& flag) {
  if (text.empty()) return int64_t{0};
  auto v = templates::parseDecimalScaled(text, 1000);
  if (!v) return invalidError(flag + " \"" + text + "\" is not a non-negative decimal price (e.g. 0.05)");
  return *v;
}

int runUsage(Context& ctx, const UsageOptions& o) {
  Format format = Format::kTable;
  bool svg = o.output == "svg";
  if (!svg && !parseFormat(o.output, &format))
    return fail(invalidError("-o " + o.output + ": use table, csv, json or svg"));
  UsagePrices prices;
  auto lab = priceMilli(o.priceLabHour, "--price-lab-hour");
  auto cpu = priceMilli(o.priceCpuHour, "--price-cpu-hour");
  auto gib = priceMilli(o.priceGibHour, "--price-gib-hour");
  for (const auto* r : {&lab, &cpu, &gib})
    if (!*r) return fail(r->status());
  prices.perLabHourMilli = lab.value();
  prices.perCpuHourMilli = cpu.value();
  prices.perGibHourMilli = gib.value();

  auto store = ctx.openStore(OpenMode::kMustExist);
  if (!store) return fail(store.status());
  auto record = store.value()->getCohort(o.cohort);
  if (!record) return fail(record.status());
  CohortSpec spec;
  try {
    spec = json::parse(record->specJson).get<CohortSpec>();
  } catch (const std::exception& e) {
    return fail(internalError("cohort " + o.cohort + ": stored spec does not read back: " + e.what()));
  }
  auto now = std::chrono::system_clock::now();
  int64_t from = record->createdAt, to = toUnixSeconds(now);
  if (!o.from.empty()) {
    auto t = parseTimeInZone(o.from, spec.timezone);
    if (!t) return fail(t.status().withContext("--from"));
    from = toUnixSeconds(t.value());
  }
  if (!o.to.empty()) {
    auto t = parseTimeInZone(o.to, spec.timezone);
    if (!t) return fail(t.status().withContext("--to"));
    to = std::min(to, toUnixSeconds(t.value()));
  }
  // A cohort applied this very second has an empty default period: nothing
  // was used yet. An empty period asked for is a mistake.
  if (to <= from) {
    if (o.from.empty() && o.to.empty())
      to = from;
    else
      return fail(invalidError("the period is empty: --to must be after --from (and not before the cohort was applied)"));
  }
  auto intervals = store.value()->listUsage(o.cohort, from, to);
  if (!intervals) return fail(intervals.status());
  UsageReport report = computeUsage(intervals.value(), o.cohort, spec.timezone, from, to, prices);
  auto trainees = store.value()->listTrainees(o.cohort);
  if (!trainees) return fail(trainees.status());
  // Everyone on the roster is listed, with zeros when they never ran a lab.
  for (const auto& t : trainees.value()) report.byTrainee[t.id];
  bool priced = prices.any();

  if (svg) {
    std::string text = usageSvg(report);
    if (o.outFile.empty()) {
      std::cout << text;
    } else {
      std::ofstream out(o.outFile, std::ios::trunc);
      out << text;
      if (!out) return fail(internalError("cannot write " + o.outFile));
      if (!ctx.globals().quiet) std::cerr << "wrote " << o.outFile << " (open it in a browser)\n";
    }
    return kExitOk;
  }
  auto quotaText = [&](const std::string& trainee) -> std::string {
    if (spec.quota.labSeconds <= 0) return "";
    int64_t used = runningSeconds(intervals.value(), trainee, to);
    return formatDuration(std::chrono::seconds(used)) + " of " +
           formatDuration(std::chrono::seconds(spec.quota.labSeconds)) + " (" +
           std::to_string(used * 100 / spec.quota.labSeconds) + "%)";
  };
  if (format == Format::kJson) {
    json out = {{"cohort", o.cohort},
                {"timezone", report.timezone.empty() ? "UTC" : report.timezone},
                {"from", formatUtc(Clock::TimePoint(std::chrono::seconds(from)))},
                {"to", formatUtc(Clock::TimePoint(std::chrono::seconds(to)))},
                {"total", totalsJson(report.total, priced)}};
    json ts = json::array();
    for (const auto& [id, totals] : report.byTrainee) {
      json days = json::object();
      for (const auto& [day, t] : report.byTraineeDay[id]) days[day] = totalsJson(t, priced);
      json tj = {{"trainee", id}, {"total", totalsJson(totals, priced)}, {"days", days}};
      if (spec.quota.labSeconds > 0) tj["labHoursQuota"] = quotaText(id);
      ts.push_back(tj);
    }
    out["trainees"] = ts;
    json days = json::object();
    for (const auto& [day, t] : report.byDay) days[day] = totalsJson(t, priced);
    out["days"] = days;
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  if (format == Format::kCsv) {
    std::vector<std::string> cols = {"trainee", "day", "lab_seconds", "lab_hours", "cpu_hours", "memory_gib_hours"};
    if (priced) cols.push_back("cost");
    Table t(cols);
    for (const auto& [id, days] : report.byTraineeDay) {
      for (const auto& [day, u] : days) {
        std::vector<std::string> row = {id, day, std::to_string(u.labSeconds), fixed(u.labHours(), 4),
                                        fixed(u.cpuHours(), 4), fixed(u.memoryGibHours(), 4)};
        if (priced) row.push_back(money(u.costMilli));
        t.addRow(row);
      }
    }
    t.printCsv(std::cout);
    return kExitOk;
  }
  std::vector<std::string> cols = {"TRAINEE", "LAB-HOURS", "CPU-HOURS", "GIB-HOURS"};
  if (spec.quota.labSeconds > 0) cols.push_back("QUOTA");
  if (priced) cols.push_back("COST");
  Table byTrainee(cols);
  auto row = [&](const std::string& name, const UsageTotals& u, const std::string& quota) {
    std::vector<std::string> r = {name, fixed(u.labHours()), fixed(u.cpuHours()), fixed(u.memoryGibHours())};
    if (spec.quota.labSeconds > 0) r.push_back(quota);
    if (priced) r.push_back(money(u.costMilli));
    return r;
  };
  for (const auto& [id, u] : report.byTrainee) byTrainee.addRow(row(id, u, quotaText(id)));
  byTrainee.addRow(row("total", report.total, ""));
  std::cout << "Usage of cohort " << o.cohort << " from " << formatInZone(Clock::TimePoint(std::chrono::seconds(from)), spec.timezone)
            << " to " << formatInZone(Clock::TimePoint(std::chrono::seconds(to)), spec.timezone) << "\n\n";
  byTrainee.printText(std::cout);
  if (!report.byDay.empty()) {
    std::cout << "\n";
    std::vector<std::string> dcols = {"DAY (" + (report.timezone.empty() ? std::string("UTC") : report.timezone) + ")",
                                      "LAB-HOURS", "CPU-HOURS", "GIB-HOURS"};
    if (priced) dcols.push_back("COST");
    Table byDay(dcols);
    for (const auto& [day, u] : report.byDay) {
      std::vector<std::string> r = {day, fixed(u.labHours()), fixed(u.cpuHours()), fixed(u.memoryGibHours())};
      if (priced) r.push_back(money(u.costMilli));
      byDay.addRow(r);
    }
    byDay.printText(std::cout);
  }
  return kExitOk;
}

}  // namespace

void addUsageCommands(CLI::App& app, Context& ctx, int* rc) {
  auto o = std::make_shared<UsageOptions>();
  auto* cmd = app.add_subcommand(
      "usage",
      "Lab-hours, CPU-hours, memory-GiB-hours (and cost) per trainee and per day of a cohort.\n"
      "Metered from the state: a lab counts as running from create/start to stop/destroy, with the\n"
      "resources its template gives it (what the trainee holds, used or not).");
  cmd->add_option("cohort", o->cohort, "the cohort")->required();
  cmd->add_option("--from", o->from,
                  "start of the period: 2026-01-12T09:00 (cohort's zone) or RFC 3339 (default: when the cohort was applied)");
  cmd->add_option("--to", o->to, "end of the period, same forms (default: now)");
  cmd->add_option("-o,--output", o->output, "table, csv (per trainee and day), json, or svg (a chart for a browser)")
      ->check(CLI::IsMember({"table", "csv", "json", "svg"}));
  cmd->add_option("--out", o->outFile, "with -o svg: write the chart to this file instead of stdout");
  cmd->add_option("--price-lab-hour", o->priceLabHour, "price of one lab-hour, for the COST column (e.g. 0.05)");
  cmd->add_option("--price-cpu-hour", o->priceCpuHour, "price of one CPU-hour");
  cmd->add_option("--price-gib-hour", o->priceGibHour, "price of one GiB-hour of memory");
  cmd->callback([&ctx, rc, o] { *rc = runUsage(ctx, *o); });
}

}  // namespace darasa::cli
