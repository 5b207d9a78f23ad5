#include "provisioner/idle.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "provisioner/model_json.h"

namespace darasa {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

// "12:03 UTC" on the day of `now`, else "2026-01-12 12:03 UTC".
std::string clockTime(Clock::TimePoint t, Clock::TimePoint now) {
  auto tm = [](Clock::TimePoint p) {
    std::time_t tt = std::chrono::system_clock::to_time_t(p);
    std::tm out{};
    gmtime_r(&tt, &out);
    return out;
  };
  std::tm a = tm(t), b = tm(now);
  char buf[40];
  bool sameDay = a.tm_year == b.tm_year && a.tm_yday == b.tm_yday;
  std::strftime(buf, sizeof buf, sameDay ? "%H:%M UTC" : "%Y-%m-%d %H:%M UTC", &a);
  return buf;
}

std::string joinNames(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
  return s;
}

void later(std::optional<Clock::TimePoint>* at, Clock::TimePoint t) {
  if (!*at || t > **at) *at = t;
}

}  // namespace

std::string formatIdleDuration(std::chrono::seconds d) {
  int64_t s = std::max<int64_t>(0, d.count());
  if (s < 60) return std::to_string(s) + "s";
  int64_t days = s / 86400, hours = s % 86400 / 3600, minutes = s % 3600 / 60;
  std::string out;
  if (days) out += std::to_string(days) + "d";
  if (hours) out += std::to_string(hours) + "h";
  // Minutes are dropped past a day: "2d3h" says enough.
  if (minutes && !days) out += std::to_string(minutes) + "m";
  if (out.empty()) out = std::to_string(s / 60) + "m";
  return out;
}

IdleVerdict judgeIdle(const IdleLab& lab, const Result<LabActivity>& observed, Clock::TimePoint now,
                      std::optional<ActivityMemory>* memory, const IdlePolicy& policy) {
  IdleVerdict v;
  v.labId = lab.labId;
  v.idleTimeout = lab.idleTimeout;
  const std::string never = lab.idleTimeout.count() > 0 ? "never stopped as idle" : "no idle timeout";
  if (!observed) {
    v.error = observed.status();
    v.reason = observed.status().code() == Code::kNotSupported
                   ? "activity unknown (the provider cannot report it): " + never
                   : "activity not measured (" + observed.status().toString() + "): " + never;
    return v;
  }
  const LabActivity& a = *observed;
  v.activity = a;
  if (!a.lastActive && a.openConnections < 0 && a.cpuMillis < 0) {
    v.error = notSupportedError("the provider reported nothing about the lab's activity");
    v.reason = "activity unknown (nothing reported): " + never;
    return v;
  }
  v.measured = true;

  const ActivityMemory* prev = memory && *memory ? &**memory : nullptr;
  // Memory of an earlier run (before a restart) says nothing about this one.
  if (prev && prev->observedAt < lab.readyAt) prev = nullptr;

  std::optional<Clock::TimePoint> last = lab.readyAt;
  std::string activeNow;  // why the lab counts as active at `now`, if it does
  if (a.lastActive) later(&last, *a.lastActive);
  if (prev && prev->lastActive) later(&last, *prev->lastActive);
  if (a.openConnections > 0) {
    activeNow = std::to_string(a.openConnections) + " open connection" + (a.openConnections == 1 ? "" : "s") +
                (lab.ports.empty() ? "" : " on " + joinNames(lab.ports));
  }
  if (prev && prev->cpuMillis >= 0 && a.cpuMillis >= prev->cpuMillis && now > prev->observedAt) {
    double elapsedMs = static_cast<double>(duration_cast<milliseconds>(now - prev->observedAt).count());
    double share = static_cast<double>(a.cpuMillis - prev->cpuMillis) / elapsedMs;
    if (share > policy.cpuActiveShare && activeNow.empty()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "CPU in use (%.0f%% of a CPU)", share * 100.0);
      activeNow = buf;
    }
  }
  // Only counters and nothing remembered: nothing says it was idle before.
  bool firstLook = !prev && !a.lastActive;
  if (!activeNow.empty() || firstLook) later(&last, now);

  v.lastActive = last;
  v.idleFor = std::max(seconds(0), duration_cast<seconds>(now - *last));
  v.idle = lab.idleTimeout.count() > 0 && v.idleFor >= lab.idleTimeout;
  if (v.idle) {
    v.reason = "no activity" + (lab.ports.empty() ? std::string() : " on " + joinNames(lab.ports)) + " for " +
               formatIdleDuration(v.idleFor) + " (last " + clockTime(*last, now) + ")";
  } else if (!activeNow.empty()) {
    v.reason = activeNow;
  } else {
    v.reason = "last activity " + clockTime(*last, now) + ", " + formatIdleDuration(v.idleFor) + " ago" +
               (lab.idleTimeout.count() > 0 ? " (idle after " + formatIdleDuration(lab.idleTimeout) + ")"
                                            : " (no idle timeout)");
  }

  if (memory) {
    ActivityMemory next;
    next.observedAt = now;
    next.cpuMillis = a.cpuMillis;
    next.lastActive = last;
    *memory = next;
  }
  return v;
}
}  // namespace darasa
