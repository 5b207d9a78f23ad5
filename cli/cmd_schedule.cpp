// darasa schedule COHORT: the stored cohort's upcoming sessions and the lab
// actions the schedule plans (up and ready by start - leadTime, stopped or
// destroyed at end + grace, destroyed after the last session), in the
// cohort's zone and in UTC. The JSON is the shape of the daemon's
// GET /api/v1/cohorts/{cohort}/schedule, so --server gives the same output.
#include <CLI/CLI.hpp>
#include <date/date.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "context.h"
#include "provisioner/cohort.h"
#include "provisioner/schedule.h"

namespace darasa::cli {
namespace {
using nlohmann::json;

constexpr auto kDefaultWindow = std::chrono::hours(24 * 14);

struct ScheduleOptions {
  std::string cohort;
  std::string from, to;
  bool all = false;
  std::string output = "table";
};

// --from/--to as the API takes them: "now", a date (local midnight), a local
// date-time in the cohort's zone, or RFC 3339.
std::string normalizeWhen(const std::string& text) {
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') return text + "T00:00";
  return text;
}

Result<Clock::TimePoint> parseWhen(const std::string& text, const std::string& tz, Clock::TimePoint now,
                                   const std::string& flag) {
  if (text == "now") return now;
  auto t = parseTimeInZone(normalizeWhen(text), tz);
  if (!t) return t.status().withContext(flag);
  return t.value();
}

Clock::TimePoint parseUtc(const json& v) {
  auto t = v.is_string() ? parseTimeInZone(v.get<std::string>(), "") : Result<Clock::TimePoint>(Clock::TimePoint{});
  return t ? t.value() : Clock::TimePoint{};
}

bool inWindow(Clock::TimePoint start, Clock::TimePoint end, Clock::TimePoint from, std::optional<Clock::TimePoint> to) {
  return end > from && (!to || start < *to);
}

// The view the API gives, built from the stored spec (local mode).
Result<json> localView(Context& ctx, const ScheduleOptions& o, bool* hasSchedule) {
  auto store = ctx.openStore(OpenMode::kMustExist);
  if (!store) return store.status();
  auto record = store.value()->getCohort(o.cohort);
  if (!record) return record.status();
  CohortSpec spec;
  try {
    spec = json::parse(record->specJson).get<CohortSpec>();
  } catch (const std::exception& e) {
    return internalError("cohort " + o.cohort + ": the stored spec does not read back: " + e.what());
  }
  *hasSchedule = !spec.schedule.empty();
  const Clock::TimePoint now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  auto occurrences = expandSchedule(spec);
  if (!occurrences) return occurrences.status().withContext("cohort " + o.cohort);
  auto steps = scheduleSteps(occurrences.value(), spec);

  Clock::TimePoint from = now;
  std::optional<Clock::TimePoint> to;
  if (o.all) {
    if (!steps.empty()) from = std::min(steps.front().at, occurrences->front().start);
  } else {
    if (!o.from.empty()) {
      auto t = parseWhen(o.from, spec.timezone, now, "--from");
      if (!t) return t.status();
      from = t.value();
    }
    if (!o.to.empty()) {
      auto t = parseWhen(o.to, spec.timezone, now, "--to");
      if (!t) return t.status();
      to = t.value();
    } else {
      to = from + kDefaultWindow;
    }
    if (*to < from) return invalidError("--to is before --from");
  }
  ScheduleState state = scheduleStateAt(steps, now);
  json sessions = json::array();
  for (const auto& occ : occurrences.value()) {
    if (!inWindow(occ.start, occ.end, from, to)) continue;
    sessions.push_back({{"summary", occ.summary},
                        {"start", formatUtc(occ.start)},
                        {"end", formatUtc(occ.end)},
                        {"localStart", occ.localStart},
                        {"localEnd", occ.localEnd}});
  }
  json actions = json::array();
  for (const auto& s : steps) {
    if (s.at < from || (to && s.at >= *to)) continue;
    actions.push_back({{"at", formatUtc(s.at)},
                       {"local", formatInZone(s.at, spec.timezone)},
                       {"desired", desiredStateName(s.desired)},
                       {"reason", s.reason}});
  }
  return json{{"cohort", o.cohort},
              {"timezone", spec.timezone},
              {"now", formatUtc(now)},
              {"from", formatUtc(from)},
              {"to", to ? json(formatUtc(*to)) : json(nullptr)},
              {"desiredNow", desiredStateName(state.desired)},
              {"reason", state.reason},
              {"nextChange", state.nextChange ? json(formatUtc(*state.nextChange)) : json(nullptr)},
              {"sessions", sessions},
              {"actions", actions}};
}

// The daemon's view; the default window is cut here, as the API has none.
Result<json> remoteView(Context& ctx, const ScheduleOptions& o, bool* hasSchedule) {
  auto remote = ctx.remote();
  if (!remote) return remote.status();
  std::vector<std::pair<std::string, std::string>> query;
  if (o.all) {
    query.push_back({"from", "1970-01-01T00:00:00Z"});
  } else {
    if (!o.from.empty() && o.from != "now") query.push_back({"from", normalizeWhen(o.from)});
    if (!o.to.empty() && o.to != "now") query.push_back({"to", normalizeWhen(o.to)});
    if (o.to == "now") return invalidError("--to now: give a time after --from");
  }
  auto j = remote.value()->get("/api/v1/cohorts/" + urlSegment(o.cohort) + "/schedule", query);
  if (!j) return j.status();
  json view = std::move(j.value());
  if (!view.is_object() || !view.contains("sessions") || !view.contains("actions"))
    return internalError("the server's schedule answer has an unexpected shape");
  *hasSchedule = !(view["sessions"].empty() && view["actions"].empty() &&
                   view.value("reason", "") == "no scheduled sessions");
  // --all starts where the schedule does, as locally (the API was asked from 1970).
  if (o.all) view["from"] = view["actions"].empty() ? view["now"] : view["actions"][0]["at"];
  if (!o.all && o.to.empty()) {
    Clock::TimePoint from = parseUtc(view["from"]);
    Clock::TimePoint to = from + kDefaultWindow;
    json sessions = json::array(), actions = json::array();
    for (const auto& s : view["sessions"])
      if (inWindow(parseUtc(s["start"]), parseUtc(s["end"]), from, to)) sessions.push_back(s);
    for (const auto& a : view["actions"])
      if (parseUtc(a["at"]) < to) actions.push_back(a);
    view["sessions"] = sessions;
    view["actions"] = actions;
    view["to"] = formatUtc(to);
  }
  return view;
}

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

void printTableView(const json& v, bool hasSchedule) {
  const std::string cohort = v.value("cohort", "");
  const std::string tz = v.value("timezone", "").empty() ? "UTC" : v.value("timezone", "");
  if (!hasSchedule) {
    std::cout << "Cohort " << cohort
              << " has no schedule: its labs are started and stopped by hand (darasa up / darasa down).\n";
    return;
  }
  const Clock::TimePoint from = parseUtc(v["from"]);
  std::string window = "from " + dayAndTime(formatInZone(from, tz));
  if (v["to"].is_string()) window += " to " + dayAndTime(formatInZone(parseUtc(v["to"]), tz));
  const auto& sessions = v["sessions"];
  std::cout << cohort << ": "
            << (sessions.empty() ? std::string("no sessions ")
                                 : std::to_string(sessions.size()) + (sessions.size() == 1 ? " session " : " sessions "))
            << window << " (" << tz << ")\n";
  if (!sessions.empty()) {
    std::cout << "\n";
    Table t({"session", "start (" + tz + ")", "end", "start (UTC)", "end (UTC)"});
    for (const auto& s : sessions) {
      std::string ls = s.value("localStart", ""), le = s.value("localEnd", "");
      // The end's date only when the session ends on another day.
      std::string end = le.substr(0, 10) == ls.substr(0, 10) && le.size() >= 16 ? le.substr(11, 5) : dayAndTime(le);
      t.addRow({s.value("summary", ""), dayAndTime(ls), end, utcText(s.value("start", "")),
                utcText(s.value("end", ""))});
    }
    t.printText(std::cout);
  }
  const auto& actions = v["actions"];
  if (!actions.empty()) {
    std::cout << "\nPlanned lab actions:\n";
    Table t({"at (" + tz + ")", "at (UTC)", "labs", "why"});
    for (const auto& a : actions)
      t.addRow({dayAndTime(a.value("local", "")), utcText(a.value("at", "")), labsText(a.value("desired", "")),
                a.value("reason", "")});
    t.printText(std::cout);
  }
  std::cout << "\nNow (" << utcText(v.value("now", "")) << " UTC) the schedule wants the labs "
            << v.value("desiredNow", "") << ": " << v.value("reason", "");
  if (v["nextChange"].is_string())
    std::cout << "; next change " << dayAndTime(formatInZone(parseUtc(v["nextChange"]), tz)) << " (" << tz << ")";
  std::cout << ".\n";
}

int runSchedule(Context& ctx, const ScheduleOptions& o) {
  Format format = Format::kTable;
  if (!parseFormat(o.output, &format) || format == Format::kCsv)
    return fail(invalidError("-o " + o.output + ": use table or json"));
  if (o.all && (!o.from.empty() || !o.to.empty())) return fail(invalidError("--all takes no --from or --to"));
  bool hasSchedule = true;
  auto view = ctx.isRemote() ? remoteView(ctx, o, &hasSchedule) : localView(ctx, o, &hasSchedule);
  if (!view) return fail(view.status());
  if (format == Format::kJson)
    std::cout << view->dump(2) << "\n";
  else
    printTableView(view.value(), hasSchedule);
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
  cmd->callback([&ctx, rc, o] { *rc = runSchedule(ctx, *o); });
}

}  // namespace darasa::cli
