// darasa usage COHORT: lab-hours, CPU-hours, memory-GiB-hours and cost per
// trainee and per day, from the usage ledger the store keeps on every phase
// change (store.h "usage ledger"); as a table, CSV, JSON or an SVG chart.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "provisioner/units.h"
#include "provisioner/wire.h"
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

Result<int64_t> priceMilli(const std::string& text, const std::string& flag) {
  if (text.empty()) return int64_t{0};
  auto v = templates::parseDecimalScaled(text, 1000);
  if (!v) return invalidError(flag + " \"" + text + "\" is not a non-negative decimal price (e.g. 0.05)");
  return *v;
}

int runUsage(Context& ctx, Client& client, const UsageOptions& o) {
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

  auto view = client.usage(o.cohort, UsageQuery{{o.from, o.to}, prices});
  if (!view) return fail(view.status());
  const UsageReport& report = view->report;
  const bool priced = view->priced;
  const bool quota = view->quotaSeconds > 0;

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
  if (format == Format::kJson) {
    std::cout << json(view.value()).dump(2) << "\n";
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
        if (priced) row.push_back(formatMoney(u.costMilli));
        t.addRow(row);
      }
    }
    t.printCsv(std::cout);
    return kExitOk;
  }
  std::vector<std::string> cols = {"TRAINEE", "LAB-HOURS", "CPU-HOURS", "GIB-HOURS"};
  if (quota) cols.push_back("QUOTA");
  if (priced) cols.push_back("COST");
  Table byTrainee(cols);
  auto row = [&](const std::string& name, const UsageTotals& u, const std::string& quotaText) {
    std::vector<std::string> r = {name, fixed(u.labHours()), fixed(u.cpuHours()), fixed(u.memoryGibHours())};
    if (quota) r.push_back(quotaText);
    if (priced) r.push_back(formatMoney(u.costMilli));
    return r;
  };
  for (const auto& [id, u] : report.byTrainee) {
    auto used = view->quotaUsed.find(id);
    int64_t seconds = used == view->quotaUsed.end() ? 0 : used->second;
    byTrainee.addRow(row(id, u, quota ? formatDuration(std::chrono::seconds(seconds)) + " of " +
                                            formatDuration(std::chrono::seconds(view->quotaSeconds)) + " (" +
                                            std::to_string(seconds * 100 / view->quotaSeconds) + "%)"
                                      : ""));
  }
  byTrainee.addRow(row("total", report.total, ""));
  std::cout << "Usage of cohort " << o.cohort << " from "
            << formatInZone(Clock::TimePoint(std::chrono::seconds(report.from)), report.timezone) << " to "
            << formatInZone(Clock::TimePoint(std::chrono::seconds(report.to)), report.timezone) << "\n\n";
  byTrainee.printText(std::cout);
  if (!report.byDay.empty()) {
    std::cout << "\n";
    std::vector<std::string> dcols = {"DAY (" + (report.timezone.empty() ? std::string("UTC") : report.timezone) + ")",
                                      "LAB-HOURS", "CPU-HOURS", "GIB-HOURS"};
    if (priced) dcols.push_back("COST");
    Table byDay(dcols);
    for (const auto& [day, u] : report.byDay) {
      std::vector<std::string> r = {day, fixed(u.labHours()), fixed(u.cpuHours()), fixed(u.memoryGibHours())};
      if (priced) r.push_back(formatMoney(u.costMilli));
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
  cmd->callback([&ctx, rc, o] { *rc = withClient(ctx, [&](Client& c) { return runUsage(ctx, c, *o); }); });
}

}  // namespace darasa::cli
