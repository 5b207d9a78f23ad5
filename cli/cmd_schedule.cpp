// darasa schedule COHORT: the stored cohort's upcoming sessions and the lab
// actions the schedule plans (up and ready by start - leadTime, stopped or
// destroyed at end + grace, destroyed after the last session), in the
// cohort's zone and in UTC. The JSON is the shape of the daemon's
// GET /api/v1/cohorts/{cohort}/schedule, so --server gives the same output.
#include <CLI/CLI.hpp>
#include <date/date.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "provisioner/wire.h"

namespace darasa::cli {
namespace {
using nlohmann::json;

constexpr std::chrono::seconds kDefaultWindow = std::chrono::hours(24 * 14);

struct ScheduleOptions {
  std::string cohort;
  std::string from, to;
  bool all = false;
  std::string output = "table";
};

// "Mon 2026-04-20 14:00" from a local "2026-04-20T14:00:00[+03:00]".
std::string dayAndTime(const std::string& local) {
  if (local.size() < 16) return local;
  int y = std::atoi(local.substr(0, 4).c_str());
  unsigned m = static_cast<unsigned>(std::atoi(local.substr(5, 2).c_str()));
  unsigned d = static_cast<unsigned>(std::atoi(local.substr(8, 2).c_str()));
  date::year_month_day ymd{date::year{y}, date::month{m}, date::day{d}};
  std::string out = local.substr(0, 10) + " " + local.substr(11, 5);
  if (!ymd.ok()) return out;
  return date::format("%a ", date::weekday{date::sys_days{ymd}}) + out;
}

// "2026-04-20 11:00" from "2026-04-20T11:00:00Z".
std::string utcText(const std::string& rfc) { return rfc.size() < 16 ? rfc : rfc.substr(0, 10) + " " + rfc.substr(11, 5); }

std::string labsText(const std::string& desired) {
  if (desired == "running") return "up (ready)";
  if (desired == "stopped") return "stop";
  if (desired == "absent") return "destroy";
  return desired;
}

void printTableView(const ScheduleView& v) {
  const std::string tz = v.timezone.empty() ? "UTC" : v.timezone;
  if (!v.hasSchedule) {
    std::cout << "Cohort " << v.cohort
              << " has no schedule: its labs are started and stopped by hand (darasa up / darasa down).\n";
    return;
  }
  std::string window = "from " + dayAndTime(formatInZone(v.from, tz));
  if (v.to) window += " to " + dayAndTime(formatInZone(*v.to, tz));
  const auto& sessions = v.sessions;
  std::cout << v.cohort << ": "
            << (sessions.empty() ? std::string("no sessions ")
                                 : std::to_string(sessions.size()) + (sessions.size() == 1 ? " session " : " sessions "))
            << window << " (" << tz << ")\n";
  if (!sessions.empty()) {
    std::cout << "\n";
    Table t({"session", "start (" + tz + ")", "end", "start (UTC)", "end (UTC)"});
    for (const auto& s : sessions) {
      const std::string& ls = s.localStart;
      const std::string& le = s.localEnd;
      // The end's date only when the session ends on another day.
      std::string end = le.substr(0, 10) == ls.substr(0, 10) && le.size() >= 16 ? le.substr(11, 5) : dayAndTime(le);
      t.addRow({s.summary, dayAndTime(ls), end, utcText(formatUtc(s.start)), utcText(formatUtc(s.end))});
    }
    t.printText(std::cout);
  }
  if (!v.actions.empty()) {
    std::cout << "\nPlanned lab actions:\n";
    Table t({"at (" + tz + ")", "at (UTC)", "labs", "why"});
    for (const auto& a : v.actions)
      t.addRow({dayAndTime(formatInZone(a.at, v.timezone)), utcText(formatUtc(a.at)), labsText(desiredStateName(a.desired)),
                a.reason});
    t.printText(std::cout);
  }
  std::cout << "\nNow (" << utcText(formatUtc(v.now)) << " UTC) the schedule wants the labs "
            << desiredStateName(v.desiredNow) << ": " << v.reason;
  if (v.nextChange) std::cout << "; next change " << dayAndTime(formatInZone(*v.nextChange, tz)) << " (" << tz << ")";
  std::cout << ".\n";
}

int runSchedule(Client& client, const ScheduleOptions& o) {
  Format format = Format::kTable;
  if (!parseFormat(o.output, &format) || format == Format::kCsv)
    return fail(invalidError("-o " + o.output + ": use table or json"));
  ScheduleQuery q;
  q.window = {o.from, o.to};
  q.all = o.all;
  q.span = kDefaultWindow;
  auto view = client.schedule(o.cohort, q);
  if (!view) return fail(view.status());
  if (format == Format::kJson)
    std::cout << json(view.value()).dump(2) << "\n";
  else
    printTableView(view.value());
  return kExitOk;
}

}  // namespace

void addScheduleCommands(CLI::App& app, Context& ctx, int* rc) {
  auto o = std::make_shared<ScheduleOptions>();
  auto* cmd = app.add_subcommand("schedule", "A cohort's upcoming sessions and the lab actions its schedule plans");
  cmd->add_option("cohort", o->cohort, "cohort name (applied with `darasa apply`)")->required();
  cmd->add_option("--from", o->from,
                  "start of the window: now (default), a date 2026-04-20 (midnight in the cohort's zone), a local "
                  "time 2026-04-20T14:00 (cohort's zone) or RFC 3339 (2026-04-20T11:00:00Z)");
  cmd->add_option("--to", o->to, "end of the window, same forms (default: 14 days after --from)");
  cmd->add_flag("--all", o->all, "the whole schedule, first session to last");
  cmd->add_option("-o,--output", o->output, "table or json")->check(CLI::IsMember({"table", "json"}));
  cmd->footer(
      "Sessions that overlap the window are listed with their start and end in the cohort's time zone and in\n"
      "UTC; below them, the lab actions in the window: labs up and ready by start - leadTime, stopped (between:\n"
      "stop) or destroyed (between: destroy) at end + grace, and destroyed after the last session. Sessions whose\n"
      "windows overlap or touch share one action. -o json has the shape of the daemon's\n"
      "GET /api/v1/cohorts/COHORT/schedule. A cohort without a schedule says so (exit 0); an unknown cohort\n"
      "exits 2.");
  cmd->callback([&ctx, rc, o] { *rc = withClient(ctx, [&](Client& c) { return runSchedule(c, *o); }); });
}

}  // namespace darasa::cli
