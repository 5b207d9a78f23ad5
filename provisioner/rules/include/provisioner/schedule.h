// Schedules in time: a cohort's sessions (local date-times with RRULEs and
// EXDATEs in the cohort's IANA zone, or the text of an iCalendar file)
// expanded into UTC intervals, and the state the schedule wants its labs in
// at any instant, as a step function. Pure functions of their inputs (no
// clock reads, no I/O); thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "provisioner/clock.h"
#include "provisioner/cohort.h"
#include "provisioner/model.h"
#include "provisioner/status.h"

namespace darasa {

// One occurrence of a session, in UTC, [start, end).
struct SessionOccurrence {
  Clock::TimePoint start;
  Clock::TimePoint end;
  std::string summary;  // the .ics event's SUMMARY, or "session N" (1-based, of spec.schedule.sessions)
  std::string localStart;  // "2026-01-12T09:00:00" in the cohort's zone (for people)
  std::string localEnd;
  bool operator==(const SessionOccurrence&) const = default;
};

// Every occurrence of the cohort's schedule, sorted by start (ties by end):
// spec.schedule.sessions expanded with their RRULEs in spec.timezone (a local
// time the clocks skip moves forward by the gap, an ambiguous one takes the
// first instant; EXDATEs remove occurrences), or the events of
// spec.schedule.icalText (DTSTART/DTEND or DURATION, RRULE, EXDATE; a TZID
// names its own zone, a floating time is in spec.timezone, a "Z" time is UTC).
// An empty schedule gives an empty list. Errors (kInvalid, with the session
// or event named): an unknown zone, a rule libical refuses, an ical text that
// does not parse, more than 10,000 occurrences.
Result<std::vector<SessionOccurrence>> expandSchedule(const CohortSpec& cohort);

// From `at` on (until the next step), the schedule wants the cohort's labs
// `desired`.
struct ScheduleStep {
  Clock::TimePoint at;
  DesiredState desired = DesiredState::kAbsent;
  // For people and logs: "session 2 (2026-01-14T09:00 Africa/Nairobi) starts in 15m",
  // "session 2 ended 15m ago", "last session ended: cohort over".
  std::string reason;
  int session = -1;  // index into the occurrences this step belongs to
  bool operator==(const ScheduleStep&) const = default;
};

// The step function of the cohort's labs: running on
// [start - leadTime, end + grace) of every occurrence (windows that overlap
// or touch merge into one), between windows kStopped (between: stop) or
// kAbsent (between: destroy), kAbsent after the last window. Before the
// first step the schedule wants nothing (kAbsent). Sorted by `at`, no two
// consecutive steps with the same desired state. Empty for no occurrences.
std::vector<ScheduleStep> scheduleSteps(const std::vector<SessionOccurrence>& occurrences,
                                        const CohortSpec& cohort);

// Where the step function stands at t.
struct ScheduleState {
  DesiredState desired = DesiredState::kAbsent;
  std::string reason;
  int step = -1;  // index of the step in force; -1 before the first step
  std::optional<Clock::TimePoint> nextChange;  // `at` of the next step, if any
};
ScheduleState scheduleStateAt(const std::vector<ScheduleStep>& steps, Clock::TimePoint t);

// A UTC time in the zone, "2026-01-12T09:00:00+03:00" (RFC 3339 with the
// zone's offset at that instant). tz "" or unknown: UTC with "Z".
std::string formatInZone(Clock::TimePoint t, const std::string& tz);

// Parses "2026-01-12T09:00[:SS]" as a local time in tz, or a full RFC 3339
// time with "Z" or an offset (tz ignored). kInvalid otherwise.
Result<Clock::TimePoint> parseTimeInZone(const std::string& text, const std::string& tz);

}  // namespace darasa
