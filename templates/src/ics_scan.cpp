#include "ics_scan.h"

#include <array>
#include <cctype>
#include <set>
#include <string>
#include <string_view>

namespace darasa::templates {

namespace {

// One content line, unfolded (RFC 5545 3.1: a line that starts with a space
// or a tab continues the one before).
struct IcsLine {
  std::string text;
  size_t offset = 0;     // of its first character in the file
  size_t firstPart = 0;  // bytes of it that are on its first physical line
};

std::vector<IcsLine> unfold(const std::string& c) {
  std::vector<IcsLine> out;
  size_t at = 0;
  while (at < c.size()) {
    size_t end = c.find('\n', at);
    if (end == std::string::npos) end = c.size();
    std::string_view line(c.data() + at, end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!out.empty() && !line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      out.back().text.append(line.substr(1));
    } else {
      out.push_back({std::string(line), at, line.size()});
    }
    at = end + 1;
  }
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

// NAME;PARAM=...;PARAM="...:...":VALUE → name, params, value (the value
// starts at the first colon outside quotes).
struct Property {
  std::string name;
  std::vector<std::string> params;  // "VALUE=DATE", as written
  std::string value;
  size_t valueAt = 0;               // byte index of the value in the line
};

Property splitProperty(const std::string& line) {
  Property p;
  bool quoted = false;
  size_t partStart = 0;
  bool inName = true;
  for (size_t i = 0; i < line.size(); ++i) {
    char ch = line[i];
    if (ch == '"') quoted = !quoted;
    if (quoted || (ch != ';' && ch != ':')) continue;
    std::string part = line.substr(partStart, i - partStart);
    if (inName) p.name = upper(part);
    else p.params.push_back(part);
    inName = false;
    partStart = i + 1;
    if (ch == ':') {
      p.value = line.substr(i + 1);
      p.valueAt = i + 1;
      return p;
    }
  }
  if (inName) p.name = upper(line);
  return p;
}

bool allDigits(std::string_view s) {
  for (char ch : s)
    if (!std::isdigit(static_cast<unsigned char>(ch))) return false;
  return !s.empty();
}

int number(std::string_view s) {
  int n = 0;
  for (char ch : s) n = n * 10 + (ch - '0');
  return n;
}

// Why s is not a DATE (YYYYMMDD): "" when it is one; "shape" when it is
// not even of that form, else what is wrong with the date.
std::string dateProblem(std::string_view s) {
  if (s.size() != 8 || !allDigits(s)) return "shape";
  int y = number(s.substr(0, 4)), m = number(s.substr(4, 2)), day = number(s.substr(6, 2));
  if (m < 1 || m > 12) return "there is no month " + std::string(s.substr(4, 2));
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  int last = kDays[static_cast<size_t>(m - 1)] + (m == 2 && leap ? 1 : 0);
  if (day < 1 || day > last)
    return std::string(s.substr(0, 4)) + "-" + std::string(s.substr(4, 2)) + " has no day " +
           std::string(s.substr(6, 2));
  return "";
}

// The same for a DATE-TIME (YYYYMMDDTHHMMSS, Z for UTC).
std::string dateTimeProblem(std::string_view s) {
  if (s.size() < 15 || s.size() > 16 || s[8] != 'T' || (s.size() == 16 && s[15] != 'Z') ||
      !allDigits(s.substr(9, 6)))
    return "shape";
  if (std::string why = dateProblem(s.substr(0, 8)); !why.empty()) return why;
  if (number(s.substr(9, 2)) > 23) return "there is no hour " + std::string(s.substr(9, 2));
  if (number(s.substr(11, 2)) > 59) return "there is no minute " + std::string(s.substr(11, 2));
  if (number(s.substr(13, 2)) > 60) return "there is no second " + std::string(s.substr(13, 2));
  return "";
}

// What is wrong with value v of a date property whose VALUE parameter is
// `type` ("" = either): "" when nothing.
std::string dateValueProblem(const std::string& v, const std::string& type) {
  static const std::string kDate = "a date (YYYYMMDD)";
  static const std::string kDateTime = "a date-time (YYYYMMDDTHHMMSS, Z for UTC)";
  if (type == "DATE") {
    std::string why = dateProblem(v);
    return why.empty() ? "" : why == "shape" ? "is not " + kDate : "is not a date: " + why;
  }
  std::string why = dateTimeProblem(v);
  if (type != "DATE-TIME" && why == "shape") {
    why = dateProblem(v);
    if (why == "shape") return "is not " + kDateTime + " or " + kDate;
    return why.empty() ? "" : "is not a date: " + why;
  }
  return why.empty() ? "" : why == "shape" ? "is not " + kDateTime : "is not a date-time: " + why;
}

bool isDateProperty(const std::string& name) {
  static const std::set<std::string> kNames = {"DTSTART", "DTEND", "DUE", "RECURRENCE-ID", "EXDATE", "RDATE"};
  return kNames.count(name) > 0;
}

}  // namespace

IcsScan scanIcs(const SourcePtr& src, Diags& d) {
  IcsScan scan;
  struct Open {
    std::string component;
    Pos begin;
    int event = -1;  // index in scan.events for a VEVENT
  };
  std::vector<Open> open;
  bool anyBegin = false;
  auto posOf = [&](const IcsLine& l, size_t inLine) {
    return posAtOffset(src, l.offset + (inLine <= l.firstPart ? inLine : 0));
  };
  for (const IcsLine& l : unfold(src->content)) {
    if (l.text.empty()) continue;
    Property p = splitProperty(l.text);
    if (p.name == "BEGIN") {
      anyBegin = true;
      Open o{upper(p.value), posOf(l, 0)};
      // No component contains one of its own kind: an open one of the same
      // name lacks its END (the usual slip: an END:VEVENT left out).
      for (size_t i = 0; i < open.size(); ++i) {
        if (open[i].component != o.component) continue;
        d.error(open[i].begin, "",
                "BEGIN:" + o.component + " is not ended before the next BEGIN:" + o.component + " (line " +
                    std::to_string(o.begin.line) + "): add END:" + o.component);
        scan.structureOk = false;
        open.resize(i);
        break;
      }
      if (o.component == "VEVENT") {
        o.event = static_cast<int>(scan.events.size());
        scan.events.push_back({o.begin});
      }
      open.push_back(std::move(o));
      continue;
    }
    if (p.name == "END") {
      std::string component = upper(p.value);
      size_t match = open.size();
      while (match > 0 && open[match - 1].component != component) --match;
      if (match == 0) {
        d.error(posOf(l, 0), "", "END:" + component + " without a BEGIN:" + component + " before it");
        scan.structureOk = false;
        continue;
      }
      // Components still open inside the one that ends are never ended.
      for (size_t i = open.size(); i > match; --i) {
        const Open& o = open[i - 1];
        d.error(o.begin, "",
                "BEGIN:" + o.component + " is not ended before END:" + component + " (line " +
                    std::to_string(posOf(l, 0).line) + "): add END:" + o.component);
        scan.structureOk = false;
      }
      open.resize(match - 1);
      continue;
    }
    if (!isDateProperty(p.name)) continue;
    std::string type;
    for (const auto& param : p.params)
      if (upper(param.substr(0, 6)) == "VALUE=") type = upper(param.substr(6));
    if (type == "PERIOD") continue;
    int event = !open.empty() ? open.back().event : -1;
    if (p.name == "DTSTART" && event >= 0) scan.events[static_cast<size_t>(event)].hasStart = true;
    size_t at = 0;
    while (at <= p.value.size()) {
      size_t comma = p.name == "EXDATE" || p.name == "RDATE" ? p.value.find(',', at) : std::string::npos;
      std::string v = p.value.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
      if (std::string why = dateValueProblem(v, type); !why.empty()) {
        d.error(posOf(l, p.valueAt + at), "", p.name + " \"" + v + "\" " + why);
        scan.badDates = true;
        scan.reportedValues.push_back(v);
        if (p.name == "DTSTART" && event >= 0) scan.events[static_cast<size_t>(event)].badStart = true;
      }
      if (comma == std::string::npos) break;
      at = comma + 1;
    }
  }
  for (size_t i = open.size(); i > 0; --i) {
    d.error(open[i - 1].begin, "", "BEGIN:" + open[i - 1].component + " is never ended (no END:" +
                                       open[i - 1].component + " after it)");
    scan.structureOk = false;
  }
  if (!anyBegin) {
    Pos p;
    p.src = src;
    d.error(p, "", "not an iCalendar file: no complete BEGIN:VCALENDAR ... END:VCALENDAR");
    scan.structureOk = false;
  }
  return scan;
}

}  // namespace darasa::templates
