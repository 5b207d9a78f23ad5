// Schedule expansion: RRULEs are iterated by libical in local (floating) time
// and every local occurrence is then placed in UTC with date-tz (Debian builds
// it with USE_OS_TZDB: /usr/share/zoneinfo). Iterating in local time is what
// keeps "09:00 every Monday" at 09:00 on both sides of a DST change.
#include "provisioner/schedule.h"

#include <date/date.h>
#include <date/tz.h>
#include <libical/ical.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <tuple>

namespace darasa {

namespace {

using std::chrono::seconds;
using LocalSeconds = date::local_seconds;
using SysSeconds = date::sys_seconds;

constexpr size_t kMaxOccurrences = 10000;

// Clock::TimePoint counts nanoseconds in 64 bits (the years 1678 to 2262):
// an occurrence outside these years is refused, never converted (a DTSTART
// in the year 1013 overflowed; found by fuzzing).
constexpr int kFirstYear = 1970, kLastYear = 2200;
std::optional<std::string> outOfRange(SysSeconds t, const std::string& what) {
  auto y = date::year_month_day(date::floor<date::days>(t)).year();
  if (y >= date::year(kFirstYear) && y <= date::year(kLastYear)) return std::nullopt;
  return what + " falls in the year " + std::to_string(static_cast<int>(y)) + ", outside " +
         std::to_string(kFirstYear) + " to " + std::to_string(kLastYear);
}

// nullptr for "" (UTC) and for an unknown name: callers decide which is an error.
const date::time_zone* findZone(const std::string& tz) {
  if (tz.empty()) return nullptr;
  try {
    return date::locate_zone(tz);
  } catch (const std::exception&) {
    return nullptr;
  }
}

// A local time the clocks skip moves forward by the gap and an ambiguous one
// takes the first instant. Both come from the offset in force just before
// the local time: date-tz's local_info.first is exactly that sys_info.
SysSeconds localToSys(const date::time_zone* zone, LocalSeconds local) {
  if (!zone) return SysSeconds(local.time_since_epoch());
  auto info = zone->get_info(local);
  return SysSeconds(local.time_since_epoch() - info.first.offset);
}

LocalSeconds sysToLocal(const date::time_zone* zone, SysSeconds t) {
  if (!zone) return LocalSeconds(t.time_since_epoch());
  return zone->to_local(t);
}

std::string formatLocal(LocalSeconds t) { return date::format("%FT%T", t); }

// "2026-01-12T09:00:00" (the normalised form the templates store).
std::optional<LocalSeconds> parseLocal(const std::string& s) {
  int y, mo, d, h, mi, sec;
  char tail;
  if (s.size() != 19 || std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &tail) != 6)
    return std::nullopt;
  date::year_month_day ymd{date::year{y}, date::month(static_cast<unsigned>(mo)), date::day(static_cast<unsigned>(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  return LocalSeconds(date::local_days(ymd)) + std::chrono::hours(h) + std::chrono::minutes(mi) + seconds(sec);
}

icaltimetype toIcal(LocalSeconds t) {
  auto day = date::floor<date::days>(t);
  date::year_month_day ymd(day);
  date::hh_mm_ss<seconds> hms(t - day);
  icaltimetype out = icaltime_null_time();
  out.year = static_cast<int>(ymd.year());
  out.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  out.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  out.hour = static_cast<int>(hms.hours().count());
  out.minute = static_cast<int>(hms.minutes().count());
  out.second = static_cast<int>(hms.seconds().count());
  out.is_date = 0;
  return out;
}

// The wall-clock fields of t, ignoring any zone it carries.
LocalSeconds fromIcal(const icaltimetype& t) {
  date::year_month_day ymd{date::year{t.year}, date::month(static_cast<unsigned>(t.month)),
                           date::day(static_cast<unsigned>(t.day))};
  LocalSeconds out{date::local_days(ymd)};
  if (!t.is_date) out += std::chrono::hours(t.hour) + std::chrono::minutes(t.minute) + seconds(t.second);
  return out;
}

bool icalFieldsOk(const icaltimetype& t) {
  if (icaltime_is_null_time(t)) return false;
  date::year_month_day ymd{date::year{t.year}, date::month(static_cast<unsigned>(t.month)),
                           date::day(static_cast<unsigned>(t.day))};
  return ymd.ok();
}

// "15m", "1h30m", "2d" — for reasons people read.
std::string humanDuration(seconds d) {
  long long s = d.count();
  if (s <= 0) return "0s";
  std::string out;
  long long days = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, r = s % 60;
  if (days) out += std::to_string(days) + "d";
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (r) out += std::to_string(r) + "s";
  return out;
}

// Occurrence starts of one rule, as local wall-clock times (the frame
// dtstart is in). DTSTART always counts as the first occurrence (RFC 5545),
// even when the rule would not produce it. `budget` is how many occurrences
// the whole schedule may still have.
Result<std::vector<LocalSeconds>> iterateRule(const std::string& rule, LocalSeconds dtstart, const date::time_zone* zone,
                                              size_t budget, const std::string& what) {
  icalerror_clear_errno();
  icalrecurrencetype r = icalrecurrencetype_from_string(rule.c_str());
  if (r.freq == ICAL_NO_RECURRENCE)
    return invalidError(what + ": repeat \"" + rule + "\" is not a valid RRULE");
  // libical compares UNTIL with the occurrences field by field, so a UTC
  // UNTIL must be brought into the local frame, and a DATE UNTIL includes
  // its whole day.
  if (!icaltime_is_null_time(r.until)) {
    if (!icalFieldsOk(r.until)) return invalidError(what + ": UNTIL of \"" + rule + "\" is not a date");
    if (r.until.is_date) {
      r.until = toIcal(fromIcal(r.until) + std::chrono::hours(23) + std::chrono::minutes(59) + seconds(59));
    } else if (icaltime_is_utc(r.until)) {
      r.until = toIcal(sysToLocal(zone, SysSeconds(fromIcal(r.until).time_since_epoch())));
    } else {
      r.until.zone = nullptr;
    }
  }
  icalrecur_iterator* it = icalrecur_iterator_new(r, toIcal(dtstart));
  if (!it) return invalidError(what + ": libical refuses the rule \"" + rule + "\"");
  std::vector<LocalSeconds> out{dtstart};
  bool over = false, dtstartProduced = false;
  for (;;) {
    icaltimetype t = icalrecur_iterator_next(it);
    if (icaltime_is_null_time(t)) break;
    LocalSeconds l = fromIcal(t);
    if (l == dtstart) {
      dtstartProduced = true;
      continue;
    }
    if (out.size() >= budget) {
      over = true;
      break;
    }
    out.push_back(l);
  }
  icalrecur_iterator_free(it);
  if (over || out.size() > budget)
    return invalidError(what + ": the schedule has more than " + std::to_string(kMaxOccurrences) +
                        " occurrences (does the rule end? \"" + rule + "\")");
  std::sort(out.begin(), out.end());
  // libical leaves out a DTSTART the rule does not match; it still counts
  // towards COUNT, so the rule's last occurrence goes.
  if (!dtstartProduced && r.count > 0 && out.size() > static_cast<size_t>(r.count)) out.pop_back();
  return out;
}

// ------------------------------------------------------------ sessions

Result<std::vector<SessionOccurrence>> expandSessions(const CohortSpec& cohort, const date::time_zone* zone) {
  std::vector<SessionOccurrence> out;
  const auto& sessions = cohort.schedule.sessions;
  for (size_t i = 0; i < sessions.size(); ++i) {
    const SessionSpec& s = sessions[i];
    const std::string name = "session " + std::to_string(i + 1);
    auto start = parseLocal(s.start);
    auto end = parseLocal(s.end);
    if (!start) return invalidError(name + ": start \"" + s.start + "\" is not a local date-time");
    if (!end) return invalidError(name + ": end \"" + s.end + "\" is not a local date-time");
    if (*end <= *start) return invalidError(name + ": end " + s.end + " is not after start " + s.start);
    const seconds length = *end - *start;
    std::vector<LocalSeconds> starts{*start};
    if (!s.repeat.empty()) {
      std::string rule = s.repeat.rfind("RRULE:", 0) == 0 ? s.repeat.substr(6) : s.repeat;
      auto r = iterateRule(rule, *start, zone, kMaxOccurrences - std::min(out.size(), kMaxOccurrences), name);
      if (!r) return r.status();
      starts = std::move(*r);
    }
    std::set<LocalSeconds> skip;
    for (const std::string& e : s.exdates) {
      auto v = parseLocal(e);
      if (!v) return invalidError(name + ": exdate \"" + e + "\" is not a local date-time");
      skip.insert(*v);
    }
    for (LocalSeconds l : starts) {
      if (skip.count(l)) continue;
      for (SysSeconds t : {localToSys(zone, l), localToSys(zone, l + length)})
        if (auto why = outOfRange(t, name)) return invalidError(*why);
      SessionOccurrence o;
      o.start = localToSys(zone, l);
      // The session keeps its wall-clock length: 09:00-12:00 stays that on a
      // DST day; only if the change falls inside it does the UTC length differ.
      o.end = localToSys(zone, l + length);
      if (o.end <= o.start) o.end = o.start + length;
      o.summary = name;
      o.localStart = formatLocal(sysToLocal(zone, date::floor<seconds>(o.start)));
      o.localEnd = formatLocal(sysToLocal(zone, date::floor<seconds>(o.end)));
      out.push_back(std::move(o));
    }
    if (out.size() > kMaxOccurrences)
      return invalidError(name + ": the schedule has more than " + std::to_string(kMaxOccurrences) + " occurrences");
  }
  return out;
}

// ------------------------------------------------------------ iCalendar

// A time of an .ics property: its wall-clock fields and the zone they are in
// (nullptr with utc=true for "Z", the cohort's zone for a floating time).
struct IcsTime {
  LocalSeconds local;
  const date::time_zone* zone = nullptr;
  bool utc = false;
  bool isDate = false;
  SysSeconds sys() const { return utc ? SysSeconds(local.time_since_epoch()) : localToSys(zone, local); }
};

std::string tzidOf(icalproperty* p) {
  icalparameter* tzp = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
  const char* v = tzp ? icalparameter_get_tzid(tzp) : nullptr;
  return v ? v : "";
}

Result<IcsTime> icsTime(icalproperty* p, const icaltimetype& t, const date::time_zone* cohortZone,
                        const std::string& what) {
  if (!icalFieldsOk(t)) return invalidError(what + " is not a date or date-time");
  IcsTime out;
  out.local = fromIcal(t);
  out.isDate = t.is_date != 0;
  std::string tzid = tzidOf(p);
  if (icaltime_is_utc(t)) {
    out.utc = true;
  } else if (!tzid.empty() && !out.isDate) {
    // Some exporters write TZID=/mozilla.org/20050126_1/Europe/London.
    std::string name = tzid;
    const date::time_zone* z = findZone(name);
    for (size_t slash = name.find('/'); !z && slash != std::string::npos; slash = name.find('/', slash + 1))
      z = findZone(name.substr(slash + 1));
    if (!z) return invalidError(what + " has the unknown time zone \"" + tzid + "\" (not an IANA name)");
    out.zone = z;
  } else {
    out.zone = cohortZone;
  }
  return out;
}

struct EventRef {
  std::string uid;
  SysSeconds recurrenceId;
  bool operator<(const EventRef& o) const { return std::tie(uid, recurrenceId) < std::tie(o.uid, o.recurrenceId); }
};

Result<std::vector<SessionOccurrence>> expandIcal(const CohortSpec& cohort, const date::time_zone* zone) {
  const std::string& text = cohort.schedule.icalText;
  icalerror_clear_errno();
  icalcomponent* root = icalparser_parse_string(text.c_str());
  if (!root) return invalidError("the schedule's iCalendar text does not parse (no BEGIN:VCALENDAR ... END:VCALENDAR)");
  std::unique_ptr<icalcomponent, void (*)(icalcomponent*)> guard(root, icalcomponent_free);

  std::vector<icalcomponent*> events;
  if (icalcomponent_isa(root) == ICAL_VEVENT_COMPONENT) {
    events.push_back(root);
  } else {
    for (icalcomponent* e = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); e;
         e = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT))
      events.push_back(e);
  }
  if (events.empty()) return invalidError("the schedule's iCalendar text has no events (VEVENT)");

  std::vector<SessionOccurrence> out;
  std::set<EventRef> overridden;  // instances a RECURRENCE-ID event replaces
  std::vector<std::pair<EventRef, size_t>> masterOccurrences;  // (uid, start) -> index in out
  for (size_t i = 0; i < events.size(); ++i) {
    icalcomponent* ev = events[i];
    const char* summaryC = icalcomponent_get_summary(ev);
    const char* uidC = icalcomponent_get_uid(ev);
    std::string summary = summaryC && *summaryC ? summaryC : "event " + std::to_string(i + 1);
    std::string label = summaryC && *summaryC ? "event \"" + summary + "\""
                        : uidC                ? "event " + std::string(uidC)
                                              : "event " + std::to_string(i + 1);
    for (icalproperty* err = icalcomponent_get_first_property(ev, ICAL_XLICERROR_PROPERTY); err;
         err = icalcomponent_get_next_property(ev, ICAL_XLICERROR_PROPERTY))
      return invalidError(label + ": " + icalproperty_get_xlicerror(err));
    // An instance moved or cancelled by its own VEVENT (same UID, RECURRENCE-ID)
    // takes the place of the series' occurrence at that instant.
    std::optional<EventRef> replaces;
    if (icalproperty* rid = icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY)) {
      auto t = icsTime(rid, icalproperty_get_recurrenceid(rid), zone, label + ": RECURRENCE-ID");
      if (!t) return t.status();
      replaces = EventRef{uidC ? uidC : "", t->sys()};
      overridden.insert(*replaces);
    }
    if (icalcomponent_get_status(ev) == ICAL_STATUS_CANCELLED) continue;

    icalproperty* startP = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
    if (!startP) return invalidError(label + " has no DTSTART");
    auto start = icsTime(startP, icalproperty_get_dtstart(startP), zone, label + ": DTSTART");
    if (!start) return start.status();

    // Length: exact from DTEND (RFC 5545 3.8.5.3), nominal days + exact
    // time from DURATION, one day for a DATE event without either.
    std::optional<seconds> exactLength;
    date::days nominalDays{0};
    if (icalproperty* endP = icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY)) {
      auto end = icsTime(endP, icalproperty_get_dtend(endP), zone, label + ": DTEND");
      if (!end) return end.status();
      if (start->isDate && end->isDate) {
        nominalDays = date::floor<date::days>(end->local) - date::floor<date::days>(start->local);
        if (nominalDays.count() <= 0) return invalidError(label + ": DTEND is not after DTSTART");
      } else {
        exactLength = end->sys() - start->sys();
        if (*exactLength <= seconds(0)) return invalidError(label + ": DTEND is not after DTSTART");
      }
    } else if (icalproperty* durP = icalcomponent_get_first_property(ev, ICAL_DURATION_PROPERTY)) {
      icaldurationtype d = icalproperty_get_duration(durP);
      if (d.is_neg) return invalidError(label + ": DURATION is negative");
      nominalDays = date::days(d.days + 7 * d.weeks);
      exactLength = std::chrono::hours(d.hours) + std::chrono::minutes(d.minutes) + seconds(d.seconds);
      if (nominalDays.count() == 0 && *exactLength <= seconds(0)) return invalidError(label + ": DURATION is zero");
    } else if (start->isDate) {
      nominalDays = date::days(1);
    } else {
      return invalidError(label + " has no DTEND or DURATION (a session needs an end)");
    }

    std::vector<LocalSeconds> starts{start->local};
    int rules = 0;
    for (icalproperty* rr = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY); rr;
         rr = icalcomponent_get_next_property(ev, ICAL_RRULE_PROPERTY)) {
      if (++rules > 1) return invalidError(label + " has more than one RRULE");
      const char* ruleText = icalproperty_get_value_as_string(rr);
      std::string rule = ruleText ? ruleText : "";
      const date::time_zone* frame = start->utc ? nullptr : start->zone;
      auto r = iterateRule(rule, start->local, frame, kMaxOccurrences - std::min(out.size(), kMaxOccurrences), label);
      if (!r) return r.status();
      starts = std::move(*r);
    }
    for (icalproperty* rd = icalcomponent_get_first_property(ev, ICAL_RDATE_PROPERTY); rd;
         rd = icalcomponent_get_next_property(ev, ICAL_RDATE_PROPERTY)) {
      icaldatetimeperiodtype v = icalproperty_get_rdate(rd);
      if (icaltime_is_null_time(v.time)) return invalidError(label + ": only date-time RDATEs are supported");
      auto t = icsTime(rd, v.time, zone, label + ": RDATE");
      if (!t) return t.status();
      IcsTime frameTime = *start;
      // The RDATE's instant, in the frame DTSTART's wall clock is in.
      LocalSeconds l = frameTime.utc ? LocalSeconds(t->sys().time_since_epoch()) : sysToLocal(frameTime.zone, t->sys());
      starts.push_back(l);
    }
    std::sort(starts.begin(), starts.end());
    starts.erase(std::unique(starts.begin(), starts.end()), starts.end());

    std::set<SysSeconds> skipInstants;
    std::set<date::local_days> skipDays;
    for (icalproperty* ex = icalcomponent_get_first_property(ev, ICAL_EXDATE_PROPERTY); ex;
         ex = icalcomponent_get_next_property(ev, ICAL_EXDATE_PROPERTY)) {
      auto t = icsTime(ex, icalproperty_get_exdate(ex), zone, label + ": EXDATE");
      if (!t) return t.status();
      if (t->isDate)
        skipDays.insert(date::floor<date::days>(t->local));
      else
        skipInstants.insert(t->sys());
    }

    for (LocalSeconds l : starts) {
      IcsTime occ = *start;
      occ.local = l;
      SysSeconds s = occ.sys();
      if (skipInstants.count(s) || skipDays.count(date::floor<date::days>(l))) continue;
      IcsTime endLocal = occ;
      endLocal.local = l + nominalDays;
      SysSeconds e = endLocal.sys() + exactLength.value_or(seconds(0));
      if (e <= s) e = s + seconds(1);
      for (SysSeconds t : {s, e})
        if (auto why = outOfRange(t, label)) return invalidError(*why);
      SessionOccurrence o;
      o.start = s;
      o.end = e;
      o.summary = summary;
      o.localStart = formatLocal(sysToLocal(zone, s));
      o.localEnd = formatLocal(sysToLocal(zone, e));
      if (!replaces && uidC) {
        masterOccurrences.push_back({EventRef{uidC, s}, out.size()});
      }
      out.push_back(std::move(o));
      if (out.size() > kMaxOccurrences)
        return invalidError(label + ": the schedule has more than " + std::to_string(kMaxOccurrences) + " occurrences");
    }
  }
  if (!overridden.empty()) {
    std::vector<bool> drop(out.size(), false);
    for (const auto& [ref, index] : masterOccurrences)
      if (overridden.count(ref)) drop[index] = true;
    std::vector<SessionOccurrence> kept;
    for (size_t i = 0; i < out.size(); ++i)
      if (!drop[i]) kept.push_back(std::move(out[i]));
    out = std::move(kept);
  }
  return out;
}

}  // namespace

Result<std::vector<SessionOccurrence>> expandSchedule(const CohortSpec& cohort) {
  const ScheduleSpec& s = cohort.schedule;
  if (s.sessions.empty() && s.icalText.empty()) {
    if (!s.icalPath.empty())
      return invalidError("the schedule's iCalendar file " + s.icalPath + " was not captured (apply the cohort again)");
    return std::vector<SessionOccurrence>{};
  }
  const date::time_zone* zone = findZone(cohort.timezone);
  if (!zone && !cohort.timezone.empty())
    return invalidError("unknown time zone \"" + cohort.timezone + "\" (not an IANA name such as Africa/Nairobi)");
  if (!zone && !s.sessions.empty()) return invalidError("a schedule with sessions needs a time zone (spec.timezone)");
  auto r = s.sessions.empty() ? expandIcal(cohort, zone) : expandSessions(cohort, zone);
  if (!r) return r;
  std::sort(r->begin(), r->end(), [](const SessionOccurrence& a, const SessionOccurrence& b) {
    return std::tie(a.start, a.end) < std::tie(b.start, b.end);
  });
  return r;
}

std::vector<ScheduleStep> scheduleSteps(const std::vector<SessionOccurrence>& occurrences, const CohortSpec& cohort) {
  struct Window {
    Clock::TimePoint from, to;
    int first, last;  // occurrence indexes
  };
  std::vector<int> order(occurrences.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return std::tie(occurrences[a].start, occurrences[a].end, a) < std::tie(occurrences[b].start, occurrences[b].end, b);
  });
  std::vector<Window> windows;
  for (int i : order) {
    const auto& o = occurrences[i];
    Clock::TimePoint from = o.start - cohort.leadTime, to = o.end + cohort.grace;
    if (!windows.empty() && from <= windows.back().to) {
      // Overlapping or touching windows are one: labs stay up across them.
      if (to > windows.back().to) {
        windows.back().to = to;
        windows.back().last = i;
      }
      continue;
    }
    windows.push_back({from, to, i, i});
  }
  const std::string tz = cohort.timezone.empty() ? "UTC" : cohort.timezone;
  auto name = [&](int i) {
    const auto& o = occurrences[i];
    return o.summary + " (" + o.localStart.substr(0, 16) + " " + tz + ")";
  };
  const DesiredState between =
      cohort.between == BetweenSessions::kDestroy ? DesiredState::kAbsent : DesiredState::kStopped;
  std::vector<ScheduleStep> steps;
  for (size_t w = 0; w < windows.size(); ++w) {
    const Window& win = windows[w];
    ScheduleStep up;
    up.at = win.from;
    up.desired = DesiredState::kRunning;
    up.session = win.first;
    up.reason = cohort.leadTime.count() > 0 ? name(win.first) + " starts in " + humanDuration(cohort.leadTime)
                                            : name(win.first) + " starts";
    steps.push_back(std::move(up));
    ScheduleStep down;
    down.at = win.to;
    down.session = win.last;
    std::string ended = cohort.grace.count() > 0 ? name(win.last) + " ended " + humanDuration(cohort.grace) + " ago"
                                                 : name(win.last) + " ended";
    if (w + 1 == windows.size()) {
      down.desired = DesiredState::kAbsent;
      down.reason = "last session ended: cohort over (" + ended + ")";
    } else {
      down.desired = between;
      down.reason = ended;
    }
    steps.push_back(std::move(down));
  }
  return steps;
}

ScheduleState scheduleStateAt(const std::vector<ScheduleStep>& steps, Clock::TimePoint t) {
  ScheduleState out;
  auto next = std::upper_bound(steps.begin(), steps.end(), t,
                               [](Clock::TimePoint v, const ScheduleStep& s) { return v < s.at; });
  if (next != steps.end()) out.nextChange = next->at;
  if (next == steps.begin()) {
    out.desired = DesiredState::kAbsent;
    out.reason = steps.empty() ? "no scheduled sessions" : "before the first session";
    return out;
  }
  const ScheduleStep& in = *std::prev(next);
  out.desired = in.desired;
  out.reason = in.reason;
  out.step = static_cast<int>(std::prev(next) - steps.begin());
  return out;
}

std::string formatInZone(Clock::TimePoint t, const std::string& tz) {
  const date::time_zone* zone = findZone(tz);
  auto s = date::floor<seconds>(t);
  if (!zone) return date::format("%FT%TZ", s);
  try {
    return date::format("%FT%T%Ez", date::make_zoned(zone, s));
  } catch (const std::exception&) {
    return date::format("%FT%TZ", s);
  }
}

Result<Clock::TimePoint> parseTimeInZone(const std::string& text, const std::string& tz) {
  auto bad = [&] {
    return invalidError("\"" + text + "\" is not a time (use e.g. 2026-01-12T09:00 in the cohort's zone, or "
                        "2026-01-12T06:00:00Z)");
  };
  // Date and hours:minutes, then optional :SS, optional .fraction, optional zone.
  if (text.size() < 16 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':') return bad();
  auto digits = [&](size_t from, size_t n) {
    for (size_t k = from; k < from + n; ++k)
      if (k >= text.size() || text[k] < '0' || text[k] > '9') return false;
    return true;
  };
  if (!digits(0, 4) || !digits(5, 2) || !digits(8, 2) || !digits(11, 2) || !digits(14, 2)) return bad();
  int y = std::stoi(text.substr(0, 4)), mo = std::stoi(text.substr(5, 2)), d = std::stoi(text.substr(8, 2));
  int h = std::stoi(text.substr(11, 2)), mi = std::stoi(text.substr(14, 2)), sec = 0;
  size_t i = 16;
  if (i < text.size() && text[i] == ':') {
    if (!digits(i + 1, 2)) return bad();
    sec = std::stoi(text.substr(i + 1, 2));
    i += 3;
    if (i < text.size() && text[i] == '.') {
      size_t k = i + 1;
      while (k < text.size() && text[k] >= '0' && text[k] <= '9') ++k;
      if (k == i + 1) return bad();
      i = k;  // fractions of a second are dropped: schedules work in seconds
    }
  }
  date::year_month_day ymd{date::year{y}, date::month(static_cast<unsigned>(mo)), date::day(static_cast<unsigned>(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) return bad();
  LocalSeconds local =
      LocalSeconds(date::local_days(ymd)) + std::chrono::hours(h) + std::chrono::minutes(mi) + seconds(sec);
  if (i == text.size()) {
    const date::time_zone* zone = findZone(tz);
    if (!zone && !tz.empty()) return invalidError("unknown time zone \"" + tz + "\"");
    return Clock::TimePoint(localToSys(zone, local));
  }
  std::string rest = text.substr(i);
  if (rest == "Z" || rest == "z") return Clock::TimePoint(SysSeconds(local.time_since_epoch()));
  if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' && digits(i + 1, 2) && digits(i + 4, 2)) {
    int oh = std::stoi(rest.substr(1, 2)), om = std::stoi(rest.substr(4, 2));
    if (oh > 23 || om > 59) return bad();
    seconds offset = std::chrono::hours(oh) + std::chrono::minutes(om);
    if (rest[0] == '-') offset = -offset;
    return Clock::TimePoint(SysSeconds(local.time_since_epoch() - offset));
  }
  return bad();
}

}  // namespace darasa
