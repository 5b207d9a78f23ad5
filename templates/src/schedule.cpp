// Schedules: sessions (local date-times in the cohort's IANA time zone, with an
// optional RRULE) or an iCalendar file. Time zones come from date-tz, which
// Debian builds with USE_OS_TZDB: it reads /usr/share/zoneinfo (tzdata), no
// download. RRULEs and .ics files are checked with libical.
#include <date/tz.h>
#include <libical/ical.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "internal.h"
#include "provisioner/schedule.h"
#include "ics_scan.h"
#include "templates/units.h"

namespace darasa::templates {
namespace fs = std::filesystem;

namespace {

constexpr int kMaxOccurrences = 10000;

// 0 = exists once, 1 = falls in a gap (clocks jump forward), 2 = ambiguous.
int localTimeKind(const std::string& tz, const std::string& normalized) {
  try {
    const date::time_zone* z = date::locate_zone(tz);
    int y = std::stoi(normalized.substr(0, 4)), mo = std::stoi(normalized.substr(5, 2)),
        dd = std::stoi(normalized.substr(8, 2));
    auto day = date::local_days{date::year{y} / mo / dd};
    auto t = day + std::chrono::hours(std::stoi(normalized.substr(11, 2))) +
             std::chrono::minutes(std::stoi(normalized.substr(14, 2))) +
             std::chrono::seconds(std::stoi(normalized.substr(17, 2)));
    auto info = z->get_info(date::local_seconds(t));
    if (info.result == date::local_info::nonexistent) return 1;
    if (info.result == date::local_info::ambiguous) return 2;
  } catch (const std::exception&) {
  }
  return 0;
}

icaltimetype toIcalTime(const std::string& n) {
  icaltimetype t = icaltime_null_time();
  t.year = std::stoi(n.substr(0, 4));
  t.month = std::stoi(n.substr(5, 2));
  t.day = std::stoi(n.substr(8, 2));
  t.hour = std::stoi(n.substr(11, 2));
  t.minute = std::stoi(n.substr(14, 2));
  t.second = std::stoi(n.substr(17, 2));
  t.is_date = 0;
  return t;
}

std::string fromIcalTime(const icaltimetype& t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", t.year, t.month, t.day, t.hour, t.minute, t.second);
  return buf;
}

const std::vector<std::string> kRuleParts = {"FREQ",     "UNTIL",     "COUNT",      "INTERVAL", "BYSECOND",
                                             "BYMINUTE", "BYHOUR",    "BYDAY",      "BYMONTHDAY", "BYYEARDAY",
                                             "BYWEEKNO", "BYMONTH",   "BYSETPOS",   "WKST"};
const std::vector<std::string> kFreqs = {"SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"};
const std::vector<std::string> kDays = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"};

bool isDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool isUntil(std::string_view v) {
  if (v.size() == 8) return isDigits(v);
  if (v.size() == 15 || v.size() == 16)
    return isDigits(v.substr(0, 8)) && v[8] == 'T' && isDigits(v.substr(9, 6)) && (v.size() == 15 || v[15] == 'Z');
  return false;
}

// Our own reading of the RRULE first, because libical only says "malformed"
// without where; libical stays the judge of what it accepts.
bool checkRule(const Node& n, const std::string& rule, const std::string& path, Diags& d) {
  const int before = d.errors();
  if (rule.empty()) {
    d.error(n.pos, path, "repeat is empty (leave it out for a single session)");
    return false;
  }
  std::set<std::string> seen;
  size_t i = 0;
  while (i <= rule.size()) {
    size_t semi = rule.find(';', i);
    std::string part = rule.substr(i, semi == std::string::npos ? std::string::npos : semi - i);
    if (part.empty()) {
      if (semi != std::string::npos || i == 0)
        d.error(posInScalar(n, ";;"), path, "empty part in repeat (two ';' in a row?)");
    } else {
      size_t eq = part.find('=');
      Pos at = posInScalar(n, part);
      if (eq == std::string::npos) {
        d.error(at, path, "repeat part \"" + part + "\" is not NAME=VALUE");
      } else {
        std::string name = part.substr(0, eq), value = part.substr(eq + 1);
        if (std::find(kRuleParts.begin(), kRuleParts.end(), name) == kRuleParts.end()) {
          d.error(at, path, "unknown RRULE part \"" + name + "\"" + didYouMean(name, kRuleParts));
        } else if (!seen.insert(name).second) {
          d.error(at, path, "RRULE part " + name + " is given twice");
        } else if (name == "FREQ" && std::find(kFreqs.begin(), kFreqs.end(), value) == kFreqs.end()) {
          d.error(at, path, "FREQ \"" + value + "\" is not one of " + joinNames(kFreqs) + didYouMean(value, kFreqs));
        } else if ((name == "COUNT" || name == "INTERVAL") && (!isDigits(value) || value.size() > 6 || std::stoi(value) == 0)) {
          d.error(at, path, name + " must be a whole number of 1 or more, got \"" + value + "\"");
        } else if (name == "UNTIL" && !isUntil(value)) {
          d.error(at, path, "UNTIL \"" + value + "\" is not a date like 20260430 or 20260430T235959Z");
        } else if (name == "BYDAY") {
          size_t b = 0;
          while (b <= value.size()) {
            size_t comma = value.find(',', b);
            std::string day = value.substr(b, comma == std::string::npos ? std::string::npos : comma - b);
            std::string wd = day.size() >= 2 ? day.substr(day.size() - 2) : day;
            std::string ord = day.size() >= 2 ? day.substr(0, day.size() - 2) : "";
            bool ordOk = ord.empty() || isDigits(ord[0] == '+' || ord[0] == '-' ? ord.substr(1) : ord);
            if (std::find(kDays.begin(), kDays.end(), wd) == kDays.end() || !ordOk) {
              d.error(at, path, "BYDAY \"" + day + "\" is not a weekday (MO, TU, WE, TH, FR, SA, SU)" + didYouMean(day, kDays));
              break;
            }
            if (comma == std::string::npos) break;
            b = comma + 1;
          }
        }
      }
    }
    if (semi == std::string::npos) break;
    i = semi + 1;
  }
  if (d.errors() != before) return false;
  if (!seen.count("FREQ")) {
    d.error(n.pos, path, "repeat needs FREQ (e.g. FREQ=WEEKLY;BYDAY=MO;COUNT=8)");
    return false;
  }
  if (seen.count("COUNT") && seen.count("UNTIL")) {
    d.error(n.pos, path, "repeat takes COUNT or UNTIL, not both");
    return false;
  }
  if (!seen.count("COUNT") && !seen.count("UNTIL")) {
    d.error(n.pos, path, "repeat never ends: add COUNT=n or UNTIL=YYYYMMDD (a cohort ends)");
    return false;
  }
  icalerror_clear_errno();
  icalrecurrencetype r = icalrecurrencetype_from_string(rule.c_str());
  if (r.freq == ICAL_NO_RECURRENCE) {
    d.error(n.pos, path, std::string("repeat is not a valid RRULE: ") + icalerror_strerror(icalerrno));
    return false;
  }
  return true;
}

std::set<std::string> occurrences(const std::string& rule, const std::string& start) {
  std::set<std::string> out;
  icalrecurrencetype r = icalrecurrencetype_from_string(rule.c_str());
  if (r.freq == ICAL_NO_RECURRENCE) return out;
  icalrecur_iterator* it = icalrecur_iterator_new(r, toIcalTime(start));
  if (!it) return out;
  for (int k = 0; k < kMaxOccurrences; ++k) {
    icaltimetype t = icalrecur_iterator_next(it);
    if (icaltime_is_null_time(t)) break;
    out.insert(fromIcalTime(t));
  }
  icalrecur_iterator_free(it);
  return out;
}

std::optional<std::string> readDateTime(const Node* n, const std::string& path, const std::string& what, Diags& d) {
  if (!n || !expectScalar(*n, path, d)) return std::nullopt;
  auto v = normalizeLocalDateTime(n->text);
  if (!v) {
    std::string hint = n->text.find(' ') != std::string::npos ? " with a T between date and time"
                       : (n->text.find('Z') != std::string::npos || n->text.find('+') != std::string::npos)
                           ? " without a zone (spec.timezone applies)"
                           : "";
    d.error(n->pos, path,
            what + " \"" + n->text + "\" is not a local date-time (use e.g. 2026-01-12T09:00" + hint + ")");
  }
  return v;
}

void checkLocal(const Node& n, const std::string& path, const std::string& what, const std::string& value,
                const std::string& tz, Diags& d) {
  if (tz.empty()) return;
  int kind = localTimeKind(tz, value);
  if (kind == 1)
    d.error(n.pos, path, what + " " + n.text + " does not exist in " + tz + " (the clocks skip it)");
  else if (kind == 2)
    d.warning(n.pos, path, what + " " + n.text + " happens twice in " + tz + " (the clocks go back); the first is used");
}

// ---------------------------------------------------------------- iCalendar

int lineOf(const SourcePtr& src, const std::string& text) {
  if (text.empty()) return 0;
  size_t at = src->content.find(text);
  return at == std::string::npos ? 0 : src->lineColOf(at).first;
}

Pos icsPos(const SourcePtr& src, const std::string& text) {
  Pos p;
  p.src = src;
  int line = lineOf(src, text);
  if (line > 0) {
    p.line = line;
    p.col = 1;
  }
  return p;
}

void collectErrors(icalcomponent* c, std::vector<std::string>* out) {
  for (icalproperty* p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY); p;
       p = icalcomponent_get_next_property(c, ICAL_XLICERROR_PROPERTY))
    out->push_back(icalproperty_get_xlicerror(p));
  for (icalcomponent* s = icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT); s;
       s = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT))
    collectErrors(s, out);
}

// Checks the text of an .ics (read from a file or fetched from a URL, named
// `display` in diagnostics) and returns it when it is text at all.
std::optional<std::string> checkIcalText(std::string content, const std::string& display, Diags& d) {
  SourcePtr src = makeSource(display, "", std::move(content));
  if (!checkText(src->content, src, d)) return std::nullopt;
  // Our own reading first: libical says neither where a component is left
  // open nor that it read a malformed date leniently.
  IcsScan scan = scanIcs(src, d);
  if (!scan.structureOk) return src->content;
  icalerror_clear_errno();
  icalcomponent* root = icalparser_parse_string(src->content.c_str());
  if (!root) {
    Pos p;
    p.src = src;
    d.error(p, "", "not an iCalendar file: no complete BEGIN:VCALENDAR ... END:VCALENDAR");
    return src->content;
  }
  std::vector<std::string> errors;
  collectErrors(root, &errors);
  for (const std::string& e : errors) {
    // libical: "Can't parse as DATE-TIME value in DTSTART property. Removing entire property: 2026011x"
    std::string msg = e, value;
    size_t cut = msg.find(". Removing entire property: ");
    if (cut != std::string::npos) {
      value = msg.substr(cut + 28);
      msg = msg.substr(0, cut) + ": " + value;
    } else if (size_t colon = msg.rfind(": "); colon != std::string::npos) {
      value = msg.substr(colon + 2);
    }
    if (!msg.empty()) msg[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(msg[0])));
    if (std::find(scan.reportedValues.begin(), scan.reportedValues.end(), value) != scan.reportedValues.end())
      continue;  // the scan said it, at the value
    d.error(icsPos(src, value), "", msg);
  }
  std::vector<icalcomponent*> events;
  if (icalcomponent_isa(root) == ICAL_VEVENT_COMPONENT) {
    events.push_back(root);
  } else {
    for (icalcomponent* e = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); e;
         e = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT))
      events.push_back(e);
  }
  if (events.empty()) {
    Pos p;
    p.src = src;
    d.error(p, "", "the schedule file has no events (VEVENT)");
  }
  // libical keeps the VEVENTs in file order, as the scan does.
  bool sameEvents = scan.events.size() == events.size();
  for (size_t i = 0; i < events.size(); ++i) {
    icalcomponent* ev = events[i];
    const char* summary = icalcomponent_get_summary(ev);
    const char* uid = icalcomponent_get_uid(ev);
    std::string label = summary ? "event \"" + std::string(summary) + "\"" : uid ? "event " + std::string(uid) : "an event";
    icalproperty* start = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
    if (!start) {
      // A DTSTART libical dropped as malformed was reported at its line already.
      if (sameEvents && scan.events[i].badStart) continue;
      d.error(sameEvents ? scan.events[i].begin : icsPos(src, summary ? summary : uid ? uid : "BEGIN:VEVENT"), "",
              label + " has no DTSTART");
      continue;
    }
    if (icalparameter* tzp = icalproperty_get_first_parameter(start, ICAL_TZID_PARAMETER)) {
      std::string tzid = icalparameter_get_tzid(tzp) ? icalparameter_get_tzid(tzp) : "";
      if (!isKnownTimeZone(tzid))
        d.error(icsPos(src, "TZID=" + tzid), "",
                "time zone \"" + tzid + "\" of " + label + " is not an IANA name" + didYouMean(tzid, timeZoneNames()) +
                    " (use e.g. Africa/Nairobi)");
    }
    for (icalproperty* rr = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY); rr;
         rr = icalcomponent_get_next_property(ev, ICAL_RRULE_PROPERTY)) {
      icalrecurrencetype r = icalproperty_get_rrule(rr);
      if (r.count == 0 && icaltime_is_null_time(r.until)) {
        const char* text = icalproperty_get_value_as_string(rr);
        d.error(icsPos(src, text ? text : "RRULE"), "",
                label + " repeats forever: its RRULE needs COUNT or UNTIL (a cohort ends)");
      }
    }
  }
  icalcomponent_free(root);
  return src->content;
}

// "http://127.0.0.1:8080/x.ics" -> "127.0.0.1"; "" when there is no host.
std::string urlHost(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  std::string rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest[0] == '[') return rest.substr(0, rest.find(']') + 1);
  return lower(rest.substr(0, rest.find(':')));
}

// "file:///srv/a%20b.ics" -> "/srv/a b.ics"; nullopt when it is not a local absolute path.
std::optional<std::string> fileUrlPath(const std::string& url) {
  std::string rest = url.substr(7);
  if (rest.rfind("localhost/", 0) == 0) rest = rest.substr(9);
  if (rest.empty() || rest[0] != '/') return std::nullopt;
  std::string out;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '%' && i + 2 < rest.size() && std::isxdigit(static_cast<unsigned char>(rest[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(rest[i + 2]))) {
      out += static_cast<char>(std::stoi(rest.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += rest[i];
    }
  }
  return out;
}

// The .ics of `schedule: {ical: X}`: a path (relative to the cohort file), a
// file:// URL, or an https:// URL (http:// only to this machine, for tests)
// fetched with limits.fetchUrl. Fills icalPath and icalText.
void readIcal(const Node& ical, const std::string& path, const SourcePtr& src, const ReadLimits& limits, Diags& d,
              ScheduleSpec* out) {
  auto value = getString(&ical, path, d);
  if (!value) return;
  std::string v = *value;
  std::string scheme = lower(v.substr(0, v.find("://") == std::string::npos ? 0 : v.find("://") + 3));
  if (scheme == "https://" || scheme == "http://") {
    std::string host = urlHost(v);
    if (host.empty()) {
      d.error(ical.pos, path, "schedule URL \"" + v + "\" has no host");
      return;
    }
    if (scheme == "http://" && host != "127.0.0.1" && host != "localhost" && host != "[::1]") {
      d.error(ical.pos, path, "schedule URL \"" + v + "\" must use https:// (plain http:// only to 127.0.0.1 or localhost)");
      return;
    }
    if (!limits.fetchUrl) {
      d.error(ical.pos, path,
              "schedule URL \"" + v + "\" cannot be fetched here: URLs need the URL fetcher (darasa apply/validate "
              "has one; or download the .ics and give its path)");
      return;
    }
    Result<std::string> body = limits.fetchUrl(v);
    if (!body) {
      d.error(ical.pos, path, "cannot fetch schedule URL \"" + v + "\": " + body.status().message());
      return;
    }
    if (body->size() > limits.maxFileBytes) {
      d.error(ical.pos, path,
              "schedule URL \"" + v + "\" is too large (" + formatSize(static_cast<int64_t>(body->size())) +
                  ", the limit is " + formatSize(static_cast<int64_t>(limits.maxFileBytes)) + ")");
      return;
    }
    std::string text = std::move(*body);
    if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
    if (auto checked = checkIcalText(std::move(text), v, d)) out->icalText = std::move(*checked);
    out->icalPath = v;
    return;
  }
  std::string file = v;
  if (scheme == "file://") {
    auto p = fileUrlPath(v);
    if (!p) {
      d.error(ical.pos, path, "\"" + v + "\" is not a file URL of this machine (use file:///absolute/path.ics)");
      return;
    }
    file = *p;
  } else if (!scheme.empty()) {
    d.error(ical.pos, path,
            "schedule \"" + v + "\": the scheme " + scheme + " is not supported (use a path, file://, or https://)");
    return;
  }
  fs::path p(file);
  std::string display = p.is_absolute() || src->dir.empty() ? p.lexically_normal().string()
                                                             : (fs::path(src->dir) / p).lexically_normal().string();
  auto content = readTextFile(display, display, limits, d, &ical.pos, "schedule file");
  if (content) {
    if (auto checked = checkIcalText(std::move(*content), display, d)) out->icalText = std::move(*checked);
  }
  std::error_code ec;
  out->icalPath = fs::absolute(display, ec).lexically_normal().string();
}

}  // namespace

namespace {

// What the daemon will do with the schedule, done once now: the provisioner's
// expansion catches what the checks above let through (too many occurrences,
// an event without an end), so that apply refuses what serve would.
void checkExpansion(const std::string& timezone, const ScheduleSpec& schedule, const Pos& where,
                    const std::string& path, int errorsBefore, Diags& d) {
  if (d.errors() != errorsBefore || timezone.empty()) return;
  CohortSpec probe;
  probe.timezone = timezone;
  probe.schedule = schedule;
  auto r = expandSchedule(probe);
  if (!r) {
    d.error(where, path, r.status().message());
  } else if (r->empty()) {
    d.warning(where, path, "the schedule has no sessions left (every occurrence is excluded or cancelled)");
  }
}

}  // namespace

bool checkIcalFile(std::string content, const std::string& display, Diags& d) {
  const int before = d.errors();
  (void)checkIcalText(std::move(content), display, d);
  return d.errors() == before;
}

bool isKnownTimeZone(const std::string& name) {
  if (name.empty()) return false;
  try {
    return date::locate_zone(name) != nullptr;
  } catch (const std::exception&) {
    return false;
  }
}

std::vector<std::string> timeZoneNames() {
  std::vector<std::string> out;
  try {
    for (const auto& z : date::get_tzdb().zones) out.push_back(z.name());
  } catch (const std::exception&) {
  }
  return out;
}

void readSchedule(const Node& schedule, const std::string& path, const SourcePtr& src, const std::string& timezone,
                  const Pos& /*timezonePos*/, const ReadLimits& limits, Diags& d, ScheduleSpec* out) {
  Fields f(schedule, path, d, {"sessions", "ical"});
  const Node* sessions = f.get("sessions");
  const Node* ical = f.get("ical");
  if (sessions && ical) {
    d.error(f.entry("ical")->keyPos, childPath(path, "ical"), "use either sessions or ical, not both");
    return;
  }
  if (!sessions && !ical) {
    d.error(schedule.pos, path, "a schedule needs sessions (a list) or ical (an .ics file)");
    return;
  }
  const int before = d.errors();
  if (ical) {
    readIcal(*ical, childPath(path, "ical"), src, limits, d, out);
    checkExpansion(timezone, *out, ical->pos, childPath(path, "ical"), before, d);
    return;
  }
  std::string sp = childPath(path, "sessions");
  if (!expectSeq(*sessions, sp, d)) return;
  if (sessions->items.empty()) d.error(sessions->pos, sp, "sessions is empty");
  for (size_t i = 0; i < sessions->items.size(); ++i) {
    const Node& sn = sessions->items[i];
    std::string p = indexPath(sp, i);
    if (!expectMap(sn, p, d)) continue;
    Fields s(sn, p, d, {"start", "end", "repeat", "exdates"});
    SessionSpec session;
    const Node* startN = s.require("start", sn.pos);
    const Node* endN = s.require("end", sn.pos);
    auto start = readDateTime(startN, childPath(p, "start"), "start", d);
    auto end = readDateTime(endN, childPath(p, "end"), "end", d);
    if (start) checkLocal(*startN, childPath(p, "start"), "start", *start, timezone, d);
    if (end) checkLocal(*endN, childPath(p, "end"), "end", *end, timezone, d);
    if (start && end && *end <= *start)
      d.error(endN->pos, childPath(p, "end"), "end " + endN->text + " is not after start " + startN->text);
    session.start = start.value_or("");
    session.end = end.value_or("");
    bool ruleOk = false;
    if (const Node* rep = s.get("repeat")) {
      if (auto rule = getString(rep, childPath(p, "repeat"), d)) {
        std::string r = *rule;
        if (r.rfind("RRULE:", 0) == 0) r = r.substr(6);
        ruleOk = checkRule(*rep, r, childPath(p, "repeat"), d);
        session.repeat = r;
      }
    }
    if (const Node* ex = s.get("exdates"); ex && expectSeq(*ex, childPath(p, "exdates"), d)) {
      std::set<std::string> occ;
      if (ruleOk && start) occ = occurrences(session.repeat, *start);
      for (size_t k = 0; k < ex->items.size(); ++k) {
        std::string ep = indexPath(childPath(p, "exdates"), k);
        auto v = readDateTime(&ex->items[k], ep, "exdate", d);
        if (!v) continue;
        session.exdates.push_back(*v);
        if (start && (ruleOk || !s.get("repeat")) && !occ.count(*v) && *v != *start)
          d.warning(ex->items[k].pos, ep,
                    "exdate " + ex->items[k].text + " is not one of this session's occurrences (it skips nothing)");
      }
    }
    out->sessions.push_back(std::move(session));
  }
  checkExpansion(timezone, *out, sessions->pos, sp, before, d);
}

}  // namespace darasa::templates
