// Usage arithmetic. Days are cut at local midnight with date-tz (Debian's
// build reads the system tzdata), so a day in a DST zone may be 23 or 25
// hours long, as the people reading the report live it.
#include "provisioner/usage.h"

#include <date/tz.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace darasa {

void UsageTotals::add(const UsageTotals& o) {
  labSeconds += o.labSeconds;
  stoppedSeconds += o.stoppedSeconds;
  cpuMilliSeconds += o.cpuMilliSeconds;
  memoryMibSeconds += o.memoryMibSeconds;
  costMilli += o.costMilli;
}

namespace {

const date::time_zone* zoneOrNull(const std::string& tz) {
  if (tz.empty()) return nullptr;
  try {
    return date::locate_zone(tz);
  } catch (const std::exception&) {
    return nullptr;
  }
}

// The local day of t ("2026-01-12") and the Unix second its next day starts.
std::pair<std::string, int64_t> dayOf(int64_t t, const date::time_zone* zone) {
  using namespace std::chrono;
  date::sys_seconds st{seconds(t)};
  date::local_days day;
  int64_t next;
  if (zone) {
    auto local = zone->to_local(st);
    day = date::floor<date::days>(local);
    // Midnight can be skipped by a DST change: earliest picks the instant the clocks jump to.
    next = zone->to_sys(date::local_seconds(day + date::days(1)), date::choose::earliest).time_since_epoch().count();
  } else {
    auto utcDay = date::floor<date::days>(st);
    day = date::local_days(utcDay.time_since_epoch());
    next = date::sys_seconds(utcDay + date::days(1)).time_since_epoch().count();
  }
  date::year_month_day ymd{day};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return {buf, next};
}

UsageTotals piece(const UsageInterval& iv, int64_t seconds, const UsagePrices& prices) {
  UsageTotals t;
  if (seconds <= 0) return t;
  if (!iv.running) {
    t.stoppedSeconds = seconds;
    return t;
  }
  t.labSeconds = seconds;
  t.cpuMilliSeconds = iv.cpuMillis * seconds;
  t.memoryMibSeconds = (iv.memoryBytes >> 20) * seconds;
  if (prices.any()) {
    __int128 cost = static_cast<__int128>(seconds) * prices.perLabHourMilli / 3600 +
                    static_cast<__int128>(t.cpuMilliSeconds) * prices.perCpuHourMilli / (1000 * 3600) +
                    static_cast<__int128>(t.memoryMibSeconds) * prices.perGibHourMilli / (1024 * 3600);
    t.costMilli = static_cast<int64_t>(cost);
  }
  return t;
}

}  // namespace

UsageReport computeUsage(const std::vector<UsageInterval>& intervals, const std::string& cohort,
                         const std::string& timezone, int64_t from, int64_t to, const UsagePrices& prices) {
  UsageReport r;
  r.cohort = cohort;
  r.timezone = zoneOrNull(timezone) ? timezone : "";
  r.from = from;
  r.to = to;
  const date::time_zone* zone = zoneOrNull(timezone);
  for (const auto& iv : intervals) {
    int64_t s = std::max(iv.startedAt, from);
    int64_t e = iv.endedAt == 0 ? to : std::min(iv.endedAt, to);
    while (s < e) {
      auto [day, next] = dayOf(s, zone);
      int64_t cut = std::min(e, next);
      UsageTotals t = piece(iv, cut - s, prices);
      r.total.add(t);
      r.byTrainee[iv.trainee].add(t);
      r.byDay[day].add(t);
      r.byTraineeDay[iv.trainee][day].add(t);
      s = cut;
    }
  }
  return r;
}

int64_t runningSeconds(const std::vector<UsageInterval>& intervals, const std::string& trainee, int64_t now) {
  int64_t sum = 0;
  for (const auto& iv : intervals) {
    if (!iv.running || (!trainee.empty() && iv.trainee != trainee)) continue;
    int64_t end = iv.endedAt == 0 ? now : iv.endedAt;
    if (end > iv.startedAt) sum += end - iv.startedAt;
  }
  return sum;
}

namespace {

std::string xmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string hours(int64_t seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(seconds) / 3600.0);
  return buf;
}

// One horizontal bar chart at vertical offset y; returns its height.
int barChart(std::ostringstream& o, int y, const std::string& title,
             const std::vector<std::pair<std::string, int64_t>>& rows) {
  constexpr int kLabel = 180, kBar = 420, kRow = 22;
  int64_t max = 1;
  for (const auto& r : rows) max = std::max(max, r.second);
  o << "<text x=\"10\" y=\"" << y + 18 << "\" class=\"title\">" << xmlEscape(title) << "</text>\n";
  int row = y + 30;
  if (rows.empty()) {
    o << "<text x=\"10\" y=\"" << row + 15 << "\">no usage in this period</text>\n";
    return 30 + kRow + 10;
  }
  for (const auto& [name, secs] : rows) {
    int w = static_cast<int>(static_cast<double>(secs) * kBar / static_cast<double>(max));
    o << "<text x=\"" << kLabel - 6 << "\" y=\"" << row + 15 << "\" text-anchor=\"end\">" << xmlEscape(name)
      << "</text>\n";
    o << "<rect x=\"" << kLabel << "\" y=\"" << row + 3 << "\" width=\"" << std::max(w, secs > 0 ? 1 : 0)
      << "\" height=\"" << kRow - 6 << "\"><title>" << xmlEscape(name) << ": " << hours(secs)
      << " lab-hours</title></rect>\n";
    o << "<text x=\"" << kLabel + w + 6 << "\" y=\"" << row + 15 << "\">" << hours(secs) << " h</text>\n";
    row += kRow;
  }
  return 30 + static_cast<int>(rows.size()) * kRow + 10;
}

}  // namespace

std::string usageSvg(const UsageReport& report) {
  std::vector<std::pair<std::string, int64_t>> trainees, days;
  for (const auto& [t, u] : report.byTrainee) trainees.emplace_back(t, u.labSeconds);
  for (const auto& [d, u] : report.byDay) days.emplace_back(d, u.labSeconds);
  std::ostringstream body;
  int y = 36;
  y += barChart(body, y, "Lab-hours per trainee", trainees);
  y += barChart(body, y, "Lab-hours per day (" + (report.timezone.empty() ? std::string("UTC") : report.timezone) + ")",
                days);
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"" << y + 10 << "\" viewBox=\"0 0 720 "
    << y + 10 << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
    << "<style>rect{fill:#3b7dd8} .title{font-size:15px;font-weight:bold}</style>\n"
    << "<text x=\"10\" y=\"22\" class=\"title\">Usage of cohort " << xmlEscape(report.cohort) << ": "
    << hours(report.total.labSeconds) << " lab-hours</text>\n"
    << body.str() << "</svg>\n";
  return o.str();
}

}  // namespace darasa
