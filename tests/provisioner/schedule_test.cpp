// Schedule expansion and the step function: sessions in real zones (with and
// without DST), .ics text, windows with lead time and grace, and the errors a
// cohort author can cause. Expected instants are written out by hand in UTC.
#include "provisioner/schedule.h"

#include <date/date.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace darasa {
namespace {

using namespace std::chrono_literals;

// A UTC instant written by hand: utc(2026, 1, 12, 6, 0) = 2026-01-12T06:00:00Z.
Clock::TimePoint utc(int y, unsigned mo, unsigned d, int h, int mi = 0, int s = 0) {
  return Clock::TimePoint(date::sys_days{date::year{y} / mo / d} + std::chrono::hours(h) + std::chrono::minutes(mi) +
                          std::chrono::seconds(s));
}

CohortSpec cohortIn(const std::string& tz) {
  CohortSpec c;
  c.name = "c";
  c.templateName = "t";
  c.timezone = tz;
  c.leadTime = 15min;
  c.grace = 10min;
  return c;
}

SessionSpec session(const std::string& start, const std::string& end, const std::string& repeat = "",
                    std::vector<std::string> exdates = {}) {
  SessionSpec s;
  s.start = start;
  s.end = end;
  s.repeat = repeat;
  s.exdates = std::move(exdates);
  return s;
}

std::vector<SessionOccurrence> expand(const CohortSpec& c) {
  auto r = expandSchedule(c);
  EXPECT_TRUE(r.isOk()) << r.status().toString();
  return r.isOk() ? *r : std::vector<SessionOccurrence>{};
}

std::vector<Clock::TimePoint> starts(const std::vector<SessionOccurrence>& occ) {
  std::vector<Clock::TimePoint> out;
  for (const auto& o : occ) out.push_back(o.start);
  return out;
}

// ------------------------------------------------------------ sessions

TEST(ScheduleExpand, WeeklyRuleWithExdateInNairobi) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  c.schedule.sessions.push_back(session("2026-01-12T09:00:00", "2026-01-12T12:00:00", "FREQ=WEEKLY;BYDAY=MO;COUNT=4",
                                        {"2026-01-19T09:00:00"}));
  auto occ = expand(c);
  // Nairobi is UTC+3 all year: 09:00 local is 06:00 UTC; the 19th is skipped.
  ASSERT_EQ(occ.size(), 3u);
  EXPECT_EQ(starts(occ), (std::vector<Clock::TimePoint>{utc(2026, 1, 12, 6), utc(2026, 1, 26, 6), utc(2026, 2, 2, 6)}));
  EXPECT_EQ(occ[0].end, utc(2026, 1, 12, 9));
  EXPECT_EQ(occ[0].localStart, "2026-01-12T09:00:00");
  EXPECT_EQ(occ[0].localEnd, "2026-01-12T12:00:00");
  EXPECT_EQ(occ[2].localStart, "2026-02-02T09:00:00");
  EXPECT_EQ(occ[1].summary, "session 1");
}

TEST(ScheduleExpand, SingleSessionsAreNamedByTheirPositionAndSorted) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  c.schedule.sessions.push_back(session("2026-02-10T14:00:00", "2026-02-10T17:00:00"));
  c.schedule.sessions.push_back(session("2026-02-03T14:00:00", "2026-02-03T17:00:00"));
  auto occ = expand(c);
  ASSERT_EQ(occ.size(), 2u);
  EXPECT_EQ(occ[0].start, utc(2026, 2, 3, 11));
  EXPECT_EQ(occ[0].summary, "session 2");
  EXPECT_EQ(occ[1].summary, "session 1");
}

TEST(ScheduleExpand, UntilIncludesItsDayAndUtcUntilIsCompared) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  c.schedule.sessions.push_back(
      session("2026-01-12T14:00:00", "2026-01-12T17:00:00", "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20260119"));
  // Mon 12, Wed 14, Fri 16, Mon 19 (a DATE UNTIL includes that day).
  EXPECT_EQ(expand(c).size(), 4u);
  c.schedule.sessions[0].repeat = "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20260119T105959Z";
  // 14:00 Nairobi on the 19th is 11:00Z, after 10:59:59Z: not included.
  EXPECT_EQ(expand(c).size(), 3u);
  c.schedule.sessions[0].repeat = "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20260119T110000Z";
  EXPECT_EQ(expand(c).size(), 4u);
}

TEST(ScheduleExpand, StartOffTheRuleIsTheFirstOccurrenceAndCountsTowardsCount) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  // A Tuesday start with a Monday rule (RFC 5545: DTSTART is always the first).
  c.schedule.sessions.push_back(session("2026-01-13T09:00:00", "2026-01-13T10:00:00", "FREQ=WEEKLY;BYDAY=MO;COUNT=3"));
  EXPECT_EQ(starts(expand(c)),
            (std::vector<Clock::TimePoint>{utc(2026, 1, 13, 6), utc(2026, 1, 19, 6), utc(2026, 1, 26, 6)}));
}

TEST(ScheduleExpand, LondonWeeklySessionFollowsLocalTimeAcrossBothDstChanges) {
  CohortSpec c = cohortIn("Europe/London");
  // Mondays 09:00-11:00 local from 16 March to 2 November 2026. BST runs
  // from 29 March to 25 October 2026.
  c.schedule.sessions.push_back(
      session("2026-03-16T09:00:00", "2026-03-16T11:00:00", "FREQ=WEEKLY;BYDAY=MO;UNTIL=20261102"));
  auto occ = expand(c);
  ASSERT_EQ(occ.size(), 34u);
  EXPECT_EQ(occ[0].start, utc(2026, 3, 16, 9));   // GMT
  EXPECT_EQ(occ[1].start, utc(2026, 3, 23, 9));   // GMT, the last Monday before the change
  EXPECT_EQ(occ[2].start, utc(2026, 3, 30, 8));   // BST: 09:00 local is 08:00 UTC
  EXPECT_EQ(occ[2].end, utc(2026, 3, 30, 10));
  EXPECT_EQ(occ[31].start, utc(2026, 10, 19, 8)); // still BST
  EXPECT_EQ(occ[32].start, utc(2026, 10, 26, 9)); // GMT again
  for (const auto& o : occ) {
    EXPECT_EQ(o.localStart.substr(11), "09:00:00");
    EXPECT_EQ(o.end - o.start, 2h);
  }
}

TEST(ScheduleExpand, LondonSkippedLocalTimeMovesForwardByTheGap) {
  CohortSpec c = cohortIn("Europe/London");
  // 01:30 on 29 March 2026 does not exist (01:00 GMT -> 02:00 BST): it
  // becomes 02:30 BST = 01:30 UTC.
  c.schedule.sessions.push_back(session("2026-03-29T01:30:00", "2026-03-29T03:00:00"));
  auto occ = expand(c);
  ASSERT_EQ(occ.size(), 1u);
  EXPECT_EQ(occ[0].start, utc(2026, 3, 29, 1, 30));
  EXPECT_EQ(occ[0].localStart, "2026-03-29T02:30:00");
  EXPECT_EQ(occ[0].end, utc(2026, 3, 29, 2));  // 03:00 BST
}

TEST(ScheduleExpand, LondonAmbiguousLocalTimeTakesTheFirstInstant) {
  CohortSpec c = cohortIn("Europe/London");
  // 01:30 on 25 October 2026 happens twice: 00:30 UTC (BST) and 01:30 UTC (GMT).
  c.schedule.sessions.push_back(session("2026-10-25T01:30:00", "2026-10-25T04:00:00"));
  auto occ = expand(c);
  ASSERT_EQ(occ.size(), 1u);
  EXPECT_EQ(occ[0].start, utc(2026, 10, 25, 0, 30));
  EXPECT_EQ(occ[0].end, utc(2026, 10, 25, 4));  // 04:00 GMT
  EXPECT_EQ(occ[0].localStart, "2026-10-25T01:30:00");
}

TEST(ScheduleExpand, NewYorkEveningSessionAcrossSpringForward) {
  CohortSpec c = cohortIn("America/New_York");
  // Thursdays 18:00-20:00; DST starts 8 March 2026 (EST -5 -> EDT -4).
  c.schedule.sessions.push_back(session("2026-03-05T18:00:00", "2026-03-05T20:00:00", "FREQ=WEEKLY;COUNT=2"));
  auto occ = expand(c);
  ASSERT_EQ(occ.size(), 2u);
  EXPECT_EQ(occ[0].start, utc(2026, 3, 5, 23));
  EXPECT_EQ(occ[1].start, utc(2026, 3, 12, 22));
  EXPECT_EQ(occ[1].end, utc(2026, 3, 13, 0));
}

TEST(ScheduleExpand, EmptyScheduleIsEmpty) {
  CohortSpec c = cohortIn("");
  auto r = expandSchedule(c);
  ASSERT_TRUE(r.isOk());
  EXPECT_TRUE(r->empty());
  EXPECT_TRUE(scheduleSteps(*r, c).empty());
}

// ------------------------------------------------------------ errors

TEST(ScheduleExpand, UnknownZoneIsInvalid) {
  CohortSpec c = cohortIn("Africa/Nairobbi");
  c.schedule.sessions.push_back(session("2026-01-12T09:00:00", "2026-01-12T12:00:00"));
  auto r = expandSchedule(c);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("Africa/Nairobbi"), std::string::npos) << r.status().message();
}

TEST(ScheduleExpand, BadRuleNamesTheSession) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  c.schedule.sessions.push_back(session("2026-01-12T09:00:00", "2026-01-12T12:00:00", "FREQ=WEEKLY;COUNT=2"));
  c.schedule.sessions.push_back(session("2026-01-13T09:00:00", "2026-01-13T12:00:00", "FREQ=SOMETIMES;COUNT=2"));
  auto r = expandSchedule(c);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("session 2"), std::string::npos) << r.status().message();
}

TEST(ScheduleExpand, TenThousandOccurrencesIsTheCap) {
  CohortSpec c = cohortIn("UTC");
  c.schedule.sessions.push_back(session("2026-01-01T09:00:00", "2026-01-01T09:30:00", "FREQ=HOURLY;COUNT=10000"));
  auto ok = expandSchedule(c);
  ASSERT_TRUE(ok.isOk()) << ok.status().toString();
  EXPECT_EQ(ok->size(), 10000u);
  c.schedule.sessions[0].repeat = "FREQ=HOURLY;COUNT=10001";
  auto over = expandSchedule(c);
  ASSERT_FALSE(over.isOk());
  EXPECT_NE(over.status().message().find("10000"), std::string::npos) << over.status().message();
  // A rule that never ends is stopped by the cap, not by running forever.
  c.schedule.sessions[0].repeat = "FREQ=DAILY";
  EXPECT_FALSE(expandSchedule(c).isOk());
  // The cap counts the whole schedule, not each session.
  c.schedule.sessions[0].repeat = "FREQ=HOURLY;COUNT=6000";
  c.schedule.sessions.push_back(session("2027-01-01T09:00:00", "2027-01-01T09:30:00", "FREQ=HOURLY;COUNT=6000"));
  EXPECT_FALSE(expandSchedule(c).isOk());
}

// ------------------------------------------------------------ iCalendar

std::string ics(const std::string& events) {
  return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//darasa//test//EN\r\n" + events + "END:VCALENDAR\r\n";
}

TEST(ScheduleIcal, TzidFloatingAndUtcTimes) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  c.schedule.icalPath = "/x/timetable.ics";
  c.schedule.icalText = ics(
      "BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:London lecture\r\n"
      "DTSTART;TZID=Europe/London:20260706T090000\r\nDTEND;TZID=Europe/London:20260706T100000\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:b\r\nSUMMARY:Floating lab\r\n"
      "DTSTART:20260707T090000\r\nDTEND:20260707T110000\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:c\r\nSUMMARY:UTC review\r\n"
      "DTSTART:20260708T120000Z\r\nDTEND:20260708T130000Z\r\nEND:VEVENT\r\n");
  auto occ = expand(c);
  ASSERT_EQ(occ.size(), 3u);
  EXPECT_EQ(occ[0].summary, "London lecture");
  EXPECT_EQ(occ[0].start, utc(2026, 7, 6, 8));  // 09:00 BST
  EXPECT_EQ(occ[0].localStart, "2026-07-06T11:00:00");  // shown in the cohort's zone
  EXPECT_EQ(occ[1].summary, "Floating lab");
  EXPECT_EQ(occ[1].start, utc(2026, 7, 7, 6));  // floating = cohort zone, UTC+3
  EXPECT_EQ(occ[1].end, utc(2026, 7, 7, 8));
  EXPECT_EQ(occ[2].summary, "UTC review");
  EXPECT_EQ(occ[2].start, utc(2026, 7, 8, 12));
  EXPECT_EQ(occ[2].localEnd, "2026-07-08T16:00:00");
}

TEST(ScheduleIcal, DurationRruleAndExdate) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  c.schedule.icalText = ics(
      "BEGIN:VEVENT\r\nUID:w\r\nSUMMARY:Workshop\r\n"
      "DTSTART;TZID=Africa/Nairobi:20260112T140000\r\nDURATION:PT2H30M\r\n"
      "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4\r\n"
      "EXDATE;TZID=Africa/Nairobi:20260114T140000\r\nEND:VEVENT\r\n");
  auto occ = expand(c);
  ASSERT_EQ(occ.size(), 3u);
  EXPECT_EQ(starts(occ), (std::vector<Clock::TimePoint>{utc(2026, 1, 12, 11), utc(2026, 1, 19, 11), utc(2026, 1, 21, 11)}));
  EXPECT_EQ(occ[0].end, utc(2026, 1, 12, 13, 30));
  // An EXDATE in UTC names the same instant.
  c.schedule.icalText = ics(
      "BEGIN:VEVENT\r\nUID:w\r\nSUMMARY:Workshop\r\n"
      "DTSTART;TZID=Africa/Nairobi:20260112T140000\r\nDURATION:PT2H30M\r\n"
      "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4\r\nEXDATE:20260119T110000Z\r\nEND:VEVENT\r\n");
  EXPECT_EQ(starts(expand(c)),
            (std::vector<Clock::TimePoint>{utc(2026, 1, 12, 11), utc(2026, 1, 14, 11), utc(2026, 1, 21, 11)}));
}

TEST(ScheduleIcal, RecurringTzidEventKeepsLocalTimeAcrossDst) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  c.schedule.icalText = ics(
      "BEGIN:VEVENT\r\nUID:ny\r\nSUMMARY:Evening class\r\n"
      "DTSTART;TZID=America/New_York:20261026T180000\r\nDTEND;TZID=America/New_York:20261026T200000\r\n"
      "RRULE:FREQ=WEEKLY;COUNT=2\r\nEND:VEVENT\r\n");
  auto occ = expand(c);
  ASSERT_EQ(occ.size(), 2u);
  EXPECT_EQ(occ[0].start, utc(2026, 10, 26, 22));  // EDT
  EXPECT_EQ(occ[1].start, utc(2026, 11, 2, 23));   // EST after 1 November
  EXPECT_EQ(occ[1].end - occ[1].start, 2h);
}

TEST(ScheduleIcal, CancelledEventsAndMovedInstances) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  c.schedule.icalText = ics(
      "BEGIN:VEVENT\r\nUID:m\r\nSUMMARY:Lab\r\nDTSTART:20260112T140000\r\nDTEND:20260112T150000\r\n"
      "RRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:m\r\nSUMMARY:Lab (moved)\r\nRECURRENCE-ID:20260113T140000\r\n"
      "DTSTART:20260113T160000\r\nDTEND:20260113T170000\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:x\r\nSUMMARY:Called off\r\nSTATUS:CANCELLED\r\n"
      "DTSTART:20260115T140000\r\nDTEND:20260115T150000\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:m\r\nSUMMARY:Lab\r\nRECURRENCE-ID:20260114T140000\r\nSTATUS:CANCELLED\r\n"
      "DTSTART:20260114T140000\r\nDTEND:20260114T150000\r\nEND:VEVENT\r\n");
  auto occ = expand(c);
  // The 13th moved to 16:00; the 14th cancelled as one instance; the 15th's event called off.
  ASSERT_EQ(occ.size(), 2u);
  EXPECT_EQ(occ[0].start, utc(2026, 1, 12, 11));
  EXPECT_EQ(occ[1].start, utc(2026, 1, 13, 13));
  EXPECT_EQ(occ[1].summary, "Lab (moved)");
}

TEST(ScheduleIcal, BadTextAndEventsWithoutEndAreInvalid) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  c.schedule.icalText = "this is not a calendar";
  auto r = expandSchedule(c);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::kInvalid);

  c.schedule.icalText = ics("BEGIN:VEVENT\r\nUID:n\r\nSUMMARY:No end\r\nDTSTART:20260112T140000\r\nEND:VEVENT\r\n");
  r = expandSchedule(c);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("No end"), std::string::npos) << r.status().message();

  c.schedule.icalText = ics(
      "BEGIN:VEVENT\r\nUID:z\r\nSUMMARY:Odd zone\r\nDTSTART;TZID=Mars/Olympus:20260112T140000\r\n"
      "DURATION:PT1H\r\nEND:VEVENT\r\n");
  r = expandSchedule(c);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("Mars/Olympus"), std::string::npos) << r.status().message();

  c.schedule.icalText = ics("");
  EXPECT_FALSE(expandSchedule(c).isOk());  // no events

  c.schedule.icalText = ics(
      "BEGIN:VEVENT\r\nUID:f\r\nSUMMARY:Forever\r\nDTSTART:20260112T140000\r\nDURATION:PT1H\r\n"
      "RRULE:FREQ=HOURLY\r\nEND:VEVENT\r\n");
  r = expandSchedule(c);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("10000"), std::string::npos) << r.status().message();
}

TEST(ScheduleIcal, PathWithoutCapturedTextIsAnError) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  c.schedule.icalPath = "/srv/timetable.ics";
  auto r = expandSchedule(c);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("/srv/timetable.ics"), std::string::npos);
}

// ------------------------------------------------------------ steps

SessionOccurrence occ(Clock::TimePoint s, Clock::TimePoint e, const std::string& summary = "session 1") {
  SessionOccurrence o;
  o.start = s;
  o.end = e;
  o.summary = summary;
  o.localStart = "2026-01-12T09:00:00";
  o.localEnd = "2026-01-12T12:00:00";
  return o;
}

void expectNoEqualNeighbours(const std::vector<ScheduleStep>& steps) {
  for (size_t i = 1; i < steps.size(); ++i) {
    EXPECT_NE(steps[i].desired, steps[i - 1].desired) << "steps " << i - 1 << " and " << i;
    EXPECT_LT(steps[i - 1].at, steps[i].at);
  }
}

TEST(ScheduleSteps, LeadGraceAndStopBetweenThenAbsentAfterTheLast) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  std::vector<SessionOccurrence> o = {occ(utc(2026, 1, 12, 6), utc(2026, 1, 12, 9)),
                                      occ(utc(2026, 1, 14, 6), utc(2026, 1, 14, 9))};
  auto steps = scheduleSteps(o, c);
  ASSERT_EQ(steps.size(), 4u);
  EXPECT_EQ(steps[0].at, utc(2026, 1, 12, 5, 45));
  EXPECT_EQ(steps[0].desired, DesiredState::kRunning);
  EXPECT_EQ(steps[0].session, 0);
  EXPECT_NE(steps[0].reason.find("starts in 15m"), std::string::npos) << steps[0].reason;
  EXPECT_NE(steps[0].reason.find("Africa/Nairobi"), std::string::npos) << steps[0].reason;
  EXPECT_EQ(steps[1].at, utc(2026, 1, 12, 9, 10));
  EXPECT_EQ(steps[1].desired, DesiredState::kStopped);
  EXPECT_NE(steps[1].reason.find("ended 10m ago"), std::string::npos) << steps[1].reason;
  EXPECT_EQ(steps[2].at, utc(2026, 1, 14, 5, 45));
  EXPECT_EQ(steps[2].desired, DesiredState::kRunning);
  EXPECT_EQ(steps[2].session, 1);
  EXPECT_EQ(steps[3].at, utc(2026, 1, 14, 9, 10));
  EXPECT_EQ(steps[3].desired, DesiredState::kAbsent);
  EXPECT_NE(steps[3].reason.find("cohort over"), std::string::npos) << steps[3].reason;
  expectNoEqualNeighbours(steps);
}

TEST(ScheduleSteps, BetweenDestroyLeavesNothingBetweenSessions) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  c.between = BetweenSessions::kDestroy;
  std::vector<SessionOccurrence> o = {occ(utc(2026, 1, 12, 6), utc(2026, 1, 12, 9)),
                                      occ(utc(2026, 1, 14, 6), utc(2026, 1, 14, 9)),
                                      occ(utc(2026, 1, 16, 6), utc(2026, 1, 16, 9))};
  auto steps = scheduleSteps(o, c);
  ASSERT_EQ(steps.size(), 6u);
  for (size_t i = 0; i < steps.size(); ++i)
    EXPECT_EQ(steps[i].desired, i % 2 == 0 ? DesiredState::kRunning : DesiredState::kAbsent) << i;
  expectNoEqualNeighbours(steps);
}

TEST(ScheduleSteps, OverlappingAndTouchingWindowsMerge) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  // 09:00-10:00 and 10:20-11:00: grace 10m + lead 15m makes the windows
  // overlap ([08:45,10:10) and [10:05,11:10)); 11:35 touches 11:10 exactly.
  std::vector<SessionOccurrence> o = {occ(utc(2026, 1, 12, 9), utc(2026, 1, 12, 10), "a"),
                                      occ(utc(2026, 1, 12, 10, 20), utc(2026, 1, 12, 11), "b"),
                                      occ(utc(2026, 1, 12, 11, 25), utc(2026, 1, 12, 12), "c"),
                                      occ(utc(2026, 1, 13, 9), utc(2026, 1, 13, 10), "d")};
  auto steps = scheduleSteps(o, c);
  ASSERT_EQ(steps.size(), 4u);
  EXPECT_EQ(steps[0].at, utc(2026, 1, 12, 8, 45));
  EXPECT_EQ(steps[0].session, 0);
  EXPECT_EQ(steps[1].at, utc(2026, 1, 12, 12, 10));
  EXPECT_EQ(steps[1].desired, DesiredState::kStopped);
  EXPECT_EQ(steps[1].session, 2);
  EXPECT_NE(steps[1].reason.find("c ("), std::string::npos) << steps[1].reason;
  EXPECT_EQ(steps[2].at, utc(2026, 1, 13, 8, 45));
  EXPECT_EQ(steps[3].desired, DesiredState::kAbsent);
  expectNoEqualNeighbours(steps);

  // A window that lies inside a longer one adds no step.
  std::vector<SessionOccurrence> nested = {occ(utc(2026, 1, 12, 9), utc(2026, 1, 12, 17), "day"),
                                           occ(utc(2026, 1, 12, 10), utc(2026, 1, 12, 11), "inner")};
  auto n = scheduleSteps(nested, c);
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n[1].at, utc(2026, 1, 12, 17, 10));
  EXPECT_EQ(n[1].session, 0);
}

TEST(ScheduleSteps, ZeroLeadAndGraceGiveTheSessionItself) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  c.leadTime = 0s;
  c.grace = 0s;
  // Back-to-back sessions touch: one window.
  std::vector<SessionOccurrence> o = {occ(utc(2026, 1, 12, 9), utc(2026, 1, 12, 10)),
                                      occ(utc(2026, 1, 12, 10), utc(2026, 1, 12, 11))};
  auto steps = scheduleSteps(o, c);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].at, utc(2026, 1, 12, 9));
  EXPECT_EQ(steps[1].at, utc(2026, 1, 12, 11));
}

TEST(ScheduleState, BoundariesStartInclusiveEndExclusive) {
  CohortSpec c = cohortIn("Africa/Nairobi");
  std::vector<SessionOccurrence> o = {occ(utc(2026, 1, 12, 6), utc(2026, 1, 12, 9)),
                                      occ(utc(2026, 1, 14, 6), utc(2026, 1, 14, 9))};
  auto steps = scheduleSteps(o, c);
  const auto up = utc(2026, 1, 12, 5, 45), down = utc(2026, 1, 12, 9, 10);

  auto before = scheduleStateAt(steps, up - 1s);
  EXPECT_EQ(before.desired, DesiredState::kAbsent);
  EXPECT_EQ(before.step, -1);
  EXPECT_EQ(before.nextChange, up);

  auto atStart = scheduleStateAt(steps, up);
  EXPECT_EQ(atStart.desired, DesiredState::kRunning);
  EXPECT_EQ(atStart.step, 0);
  EXPECT_EQ(atStart.nextChange, down);
  EXPECT_EQ(atStart.reason, steps[0].reason);

  EXPECT_EQ(scheduleStateAt(steps, down - 1s).desired, DesiredState::kRunning);
  auto atEnd = scheduleStateAt(steps, down);
  EXPECT_EQ(atEnd.desired, DesiredState::kStopped);
  EXPECT_EQ(atEnd.step, 1);

  auto last = scheduleStateAt(steps, utc(2026, 1, 14, 9, 10));
  EXPECT_EQ(last.desired, DesiredState::kAbsent);
  EXPECT_EQ(last.step, 3);
  EXPECT_FALSE(last.nextChange.has_value());
  EXPECT_EQ(scheduleStateAt(steps, utc(2027, 1, 1, 0)).desired, DesiredState::kAbsent);

  auto none = scheduleStateAt({}, up);
  EXPECT_EQ(none.desired, DesiredState::kAbsent);
  EXPECT_FALSE(none.nextChange.has_value());
}

TEST(ScheduleSteps, LondonDstScheduleEndToEnd) {
  CohortSpec c = cohortIn("Europe/London");
  c.schedule.sessions.push_back(
      session("2026-03-23T09:00:00", "2026-03-23T11:00:00", "FREQ=WEEKLY;BYDAY=MO;COUNT=2"));
  auto steps = scheduleSteps(expand(c), c);
  ASSERT_EQ(steps.size(), 4u);
  EXPECT_EQ(steps[0].at, utc(2026, 3, 23, 8, 45));  // GMT
  EXPECT_EQ(steps[2].at, utc(2026, 3, 30, 7, 45));  // BST
  EXPECT_EQ(steps[3].at, utc(2026, 3, 30, 10, 10));
  EXPECT_NE(steps[2].reason.find("2026-03-30T09:00 Europe/London"), std::string::npos) << steps[2].reason;
}

// ------------------------------------------------------------ formatting

TEST(ScheduleTime, FormatInZone) {
  EXPECT_EQ(formatInZone(utc(2026, 1, 12, 6), "Africa/Nairobi"), "2026-01-12T09:00:00+03:00");
  EXPECT_EQ(formatInZone(utc(2026, 7, 6, 8), "Europe/London"), "2026-07-06T09:00:00+01:00");
  EXPECT_EQ(formatInZone(utc(2026, 1, 6, 9), "Europe/London"), "2026-01-06T09:00:00+00:00");
  EXPECT_EQ(formatInZone(utc(2026, 1, 6, 23), "America/New_York"), "2026-01-06T18:00:00-05:00");
  EXPECT_EQ(formatInZone(utc(2026, 1, 6, 9), ""), "2026-01-06T09:00:00Z");
  EXPECT_EQ(formatInZone(utc(2026, 1, 6, 9), "Nowhere/Special"), "2026-01-06T09:00:00Z");
}

TEST(ScheduleTime, ParseTimeInZone) {
  auto p = [](const std::string& s, const std::string& tz) {
    auto r = parseTimeInZone(s, tz);
    EXPECT_TRUE(r.isOk()) << s << ": " << r.status().toString();
    return r.isOk() ? *r : Clock::TimePoint{};
  };
  EXPECT_EQ(p("2026-01-12T09:00", "Africa/Nairobi"), utc(2026, 1, 12, 6));
  EXPECT_EQ(p("2026-01-12T09:00:30", "Africa/Nairobi"), utc(2026, 1, 12, 6, 0, 30));
  EXPECT_EQ(p("2026-07-06T09:00", "Europe/London"), utc(2026, 7, 6, 8));
  EXPECT_EQ(p("2026-03-29T01:30", "Europe/London"), utc(2026, 3, 29, 1, 30));  // skipped: forward
  EXPECT_EQ(p("2026-10-25T01:30", "Europe/London"), utc(2026, 10, 25, 0, 30));  // ambiguous: first
  EXPECT_EQ(p("2026-01-12T06:00:00Z", "Africa/Nairobi"), utc(2026, 1, 12, 6));
  EXPECT_EQ(p("2026-01-12T09:00:00+03:00", "Europe/London"), utc(2026, 1, 12, 6));
  EXPECT_EQ(p("2026-01-12T01:00:00-05:00", ""), utc(2026, 1, 12, 6));
  EXPECT_EQ(p("2026-01-12T06:00:00.250Z", ""), utc(2026, 1, 12, 6));
  EXPECT_EQ(p("2026-01-12T06:00", ""), utc(2026, 1, 12, 6));
  // Round trip through formatInZone.
  EXPECT_EQ(p(formatInZone(utc(2026, 3, 30, 7, 45), "Europe/London"), "Africa/Nairobi"), utc(2026, 3, 30, 7, 45));

  for (const char* bad : {"", "2026-01-12", "2026-01-12 09:00", "2026-02-30T09:00", "2026-01-12T25:00",
                          "2026-01-12T09:00+3", "2026-01-12T09:00:00 Z", "tomorrow"}) {
    auto r = parseTimeInZone(bad, "Africa/Nairobi");
    EXPECT_FALSE(r.isOk()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalid) << bad;
  }
  EXPECT_FALSE(parseTimeInZone("2026-01-12T09:00", "Nowhere/Special").isOk());
}

}  // namespace
}  // namespace darasa
