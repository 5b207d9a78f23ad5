// Cohort validation rules: template reference, parameters, trainees (inline
// and CSV rosters), time zones, sessions and RRULEs, .ics files, quotas.
#include <chrono>

#include "test_util.h"

namespace darasa::templates {
namespace {
using testing::dump;
using testing::errorsOf;

// 14 lines; the cohort document starts on line 15.
const std::string kTpl =
    "apiVersion: darasa/v1\n"
    "kind: LabTemplate\n"
    "metadata: {name: lab}\n"
    "parameters:\n"
    "  - {name: memory, type: size, default: 512Mi}\n"
    "  - {name: level, type: enum, values: [easy, hard], default: easy}\n"
    "  - {name: flags, type: int, default: 3}\n"
    "  - {name: hints, type: bool, default: \"false\"}\n"
    "  - {name: course, type: string, required: true}\n"
    "spec:\n"
    "  provider: local\n"
    "  env: {LEVEL: \"${level}\", FLAGS: \"${flags}\", HINTS: \"${hints}\", COURSE: \"${course}\"}\n"
    "  resources: {cpus: 1, memory: \"${memory}\"}\n"
    "---\n";

// Cohort "c1" whose spec body starts on line 20 ("spec:" is line 18, template line 19).
std::string cohortText(const std::string& body, const std::string& tpl = kTpl) {
  return tpl + "apiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: c1}\nspec:\n  template: lab\n" + body;
}
Bundle cohort(const std::string& body, ValidateOptions opts = {}, const std::string& file = "t.yaml") {
  return loadString(file, cohortText(body), opts);
}
const std::string kOne = "  trainees: [{id: t1, name: Wanjiku Kamau, email: wanjiku@example.org}]\n";
const std::string kParams = "  parameters: {course: sec}\n";

TEST(CohortValidation, ValidCohortRendersParametersAndDefaults) {
  Bundle b = cohort(kParams + kOne);
  ASSERT_TRUE(b.diagnostics.empty()) << dump(b.diagnostics);
  ASSERT_EQ(b.cohorts.size(), 1u);
  const CohortSpec& c = b.cohorts[0].spec;
  EXPECT_EQ(c.name, "c1");
  EXPECT_EQ(c.templateName, "lab");
  EXPECT_EQ(c.parameters, (std::map<std::string, std::string>{
                              {"course", "sec"}, {"flags", "3"}, {"hints", "false"}, {"level", "easy"}, {"memory", "512Mi"}}));
  ASSERT_EQ(c.trainees.size(), 1u);
  EXPECT_EQ(c.trainees[0], (Trainee{"t1", "Wanjiku Kamau", "wanjiku@example.org"}));
  EXPECT_EQ(c.leadTime, std::chrono::minutes(15));
  EXPECT_EQ(c.between, BetweenSessions::kStop);
  EXPECT_EQ(c.sourceFile, "t.yaml");
}

TEST(CohortValidation, UnknownTemplateListsKnownNames) {
  Bundle b = loadString("t.yaml", kTpl + "apiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: c1}\nspec:\n  template: lb\n" + kOne, {});
  EXPECT_ONE_ERROR(b, 19, 13, "unknown template \"lb\" (did you mean \"lab\"?); known templates: lab");
}

TEST(CohortValidation, NoTemplateKnownAtAll) {
  Bundle b = testing::load("apiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: c1}\nspec:\n  template: lab\n" + kOne);
  EXPECT_ONE_ERROR(b, 5, 13,
                   "unknown template \"lab\"; no templates are known (give the template's file too, or apply it first)");
}

TEST(CohortValidation, UndeclaredParameterIsAnErrorAtTheKey) {
  Bundle b = cohort("  parameters: {course: x, memroy: 1Gi}\n" + kOne);
  EXPECT_ONE_ERROR(b, 20, 27,
                   "template \"lab\" has no parameter \"memroy\" (did you mean \"memory\"?); its parameters: memory, level, "
                   "flags, hints, course");
  EXPECT_EQ(errorsOf(b)[0].path, "spec.parameters.memroy");
}

TEST(CohortValidation, ParameterValuesAreCheckedAgainstTheirTypes) {
  Bundle b = cohort("  parameters: {course: x, memory: 2 GB, level: expert, flags: many, hints: yes}\n" + kOne);
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 4u) << dump(b.diagnostics);
  auto at = [&](size_t i) { return std::make_tuple(errs[i].line, errs[i].column, errs[i].message); };
  EXPECT_EQ(at(0), std::make_tuple(20, 35, std::string("parameter \"memory\": \"2 GB\" is not a size (use e.g. 2Gi)")));
  EXPECT_EQ(at(1), std::make_tuple(20, 48, std::string("parameter \"level\": \"expert\" is not one of easy, hard")));
  EXPECT_EQ(at(2), std::make_tuple(20, 63, std::string("parameter \"flags\": \"many\" is not a whole number")));
  EXPECT_EQ(at(3), std::make_tuple(20, 76, std::string("parameter \"hints\": \"yes\" is not true or false")));
}

TEST(CohortValidation, MissingRequiredParameter) {
  EXPECT_ONE_ERROR(cohort(kOne), 18, 1, "missing required parameter \"course\" of template \"lab\"");
  EXPECT_ONE_ERROR(cohort("  parameters: {memory: 1Gi}\n" + kOne), 20, 3,
                   "missing required parameter \"course\" of template \"lab\"");
}

TEST(CohortValidation, ParameterValuesReachTheLab) {
  Bundle b = cohort("  parameters: {course: web-sec, memory: 1Gi, level: hard, flags: 007, hints: True}\n" + kOne);
  auto r = renderCohort({&b, "c1", 1}, nullptr);
  ASSERT_TRUE(r.isOk()) << dump(b.diagnostics);
  const LabSpec& l = r->labs[0];
  EXPECT_EQ(l.env.at("COURSE"), "web-sec");
  EXPECT_EQ(l.env.at("LEVEL"), "hard");
  EXPECT_EQ(l.env.at("FLAGS"), "7");  // ints are normalised
  EXPECT_EQ(l.env.at("HINTS"), "true");
  EXPECT_EQ(l.resources.memoryBytes, 1073741824);
}

TEST(CohortValidation, RosterOrTrainees) {
  EXPECT_ONE_ERROR(cohort(kParams), 18, 1,
                   "missing \"roster\" (a CSV file) or \"trainees\" (an inline list) in spec");
  EXPECT_ONE_ERROR(cohort(kParams + "  roster: x.csv\n" + kOne), 22, 3, "use either roster or trainees, not both");
}

TEST(CohortValidation, InlineTraineeProblems) {
  Bundle b = cohort(kParams +
                    "  trainees:\n"
                    "    - {id: wkamau, name: Wanjiku Kamau, email: w@example.org}\n"
                    "    - {id: WKamau, name: Other, email: o@example.org}\n"
                    "    - {id: \"bad id\", name: X}\n"
                    "    - {id: t4, name: Y, email: not-an-email}\n"
                    "    - {id: t5}\n");
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 4u) << dump(b.diagnostics);
  auto at = [&](size_t i) { return std::make_tuple(errs[i].line, errs[i].column, errs[i].message); };
  EXPECT_EQ(at(0), std::make_tuple(23, 12, std::string("duplicate trainee id \"WKamau\" (first on line 22)")));
  EXPECT_EQ(at(1), std::make_tuple(24, 12, std::string("trainee id \"bad id\" is not valid: use letters, digits, '.', '_' and '-', starting with a letter or digit (at most 63)")));
  EXPECT_EQ(at(2), std::make_tuple(25, 32, std::string("email \"not-an-email\" is not a valid address")));
  EXPECT_EQ(at(3), std::make_tuple(26, 7, std::string("missing required field \"name\" in spec.trainees[4]")));
}

TEST(CohortValidation, CohortNameMustBeADnsLabel) {
  Bundle b = loadString("t.yaml", kTpl + "apiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: KSG.2026}\nspec:\n  template: lab\n" + kParams + kOne, {});
  EXPECT_ONE_ERROR(b, 17, 18,
                   "cohort name \"KSG.2026\" is not valid: use lower-case letters, digits and '-', starting and ending "
                   "with a letter or digit (at most 63)");
}

TEST(CohortValidation, DuplicateCohortNames) {
  std::string c = "---\napiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: c1}\nspec: {template: lab, parameters: {course: x}, trainees: [{id: a, name: A}]}\n";
  Bundle b = loadString("t.yaml", cohortText(kParams + kOne) + c, {});
  EXPECT_ONE_ERROR(b, 25, 18, "duplicate cohort \"c1\" (also defined at t.yaml:17)");
  EXPECT_EQ(b.cohorts.size(), 1u);
}

TEST(CohortValidation, BetweenLeadTimeAndPriority) {
  Bundle b = cohort(kParams + kOne + "  between: pause\n  leadTime: soon\n  grace: 5m\n  priority: high\n");
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 3u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].message, "between \"pause\" is not one of stop, destroy");
  EXPECT_EQ(errs[0].line, 22);
  EXPECT_EQ(errs[0].column, 12);
  EXPECT_EQ(errs[1].message, "leadTime \"soon\" is not a duration (use e.g. 90s, 15m, 1h30m or 2d)");
  EXPECT_EQ(errs[2].message, "priority must be a whole number, got \"high\"");
}

// ---------------------------------------------------------------- quota

TEST(CohortValidation, QuotaInExactUnits) {
  Bundle b = cohort(kParams + kOne +
                    "  quota: {maxLabs: 30, perTrainee: {cpus: 1.5, memory: 1.5Gi, disk: 10Gi}, labHours: 12.5, budget: 120.50}\n");
  ASSERT_TRUE(b.ok()) << dump(b.diagnostics);
  const QuotaSpec& q = b.cohorts[0].spec.quota;
  EXPECT_EQ(q.maxLabs, 30);
  EXPECT_EQ(q.perTrainee.cpuMillis, 1500);
  EXPECT_EQ(q.perTrainee.memoryBytes, 1610612736);
  EXPECT_EQ(q.perTrainee.diskBytes, 10737418240);
  EXPECT_EQ(q.labSeconds, 45000);
  EXPECT_EQ(q.budgetMilli, 120500);
}

TEST(CohortValidation, QuotaProblems) {
  Bundle b = cohort(kParams + kOne + "  quota: {maxLabs: -1, labHours: forty, perTrainee: {memory: 256Mi}}\n");
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 3u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].message, "maxLabs must be between 0 and 1000000, got -1");
  EXPECT_EQ(errs[1].message, "labHours must be a number of 0 or more (e.g. 40 or 12.5), got \"forty\"");
  EXPECT_EQ(errs[2].message,
            "template \"lab\" asks for memory 512Mi per lab, more than quota.perTrainee.memory 256Mi");
  EXPECT_EQ(errs[2].line, 22);
  EXPECT_EQ(errs[2].column, 62);
}

// ---------------------------------------------------------------- rosters

TEST(Roster, ReadsQuotedUtf8CrlfWithBomInAnyColumnOrder) {
  testing::TempDir dir;
  dir.write("r/class.csv",
            "\xEF\xBB\xBF" "email,id,name\r\n"
            "wanjiku@example.ac.ke,wkamau,Wanjiku Kamau\r\n"
            "achieng@example.ac.ke,aodhiambo,Achieng' Odhiambo\r\n"
            "\"njeri@example.ac.ke\",nwairimu,\"Njeri Wairimu, Jr.\"\r\n"
            "zawadi@example.ac.ke,zmwangi,\"Zawadi \"\"Zee\"\"\r\nMwangi\"\r\n"
            "li@example.org,lwei,李伟\r\n"
            "\r\n");
  std::string file = dir.write("c.yaml", cohortText(kParams + "  roster: r/class.csv\n"));
  Bundle b = loadFiles({file}, {});
  ASSERT_TRUE(b.diagnostics.empty()) << dump(b.diagnostics);
  const auto& t = b.cohorts[0].spec.trainees;
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(t[0], (Trainee{"wkamau", "Wanjiku Kamau", "wanjiku@example.ac.ke"}));
  EXPECT_EQ(t[1].name, "Achieng' Odhiambo");
  EXPECT_EQ(t[2].name, "Njeri Wairimu, Jr.");
  EXPECT_EQ(t[2].email, "njeri@example.ac.ke");
  EXPECT_EQ(t[3].name, "Zawadi \"Zee\"\r\nMwangi");
  EXPECT_EQ(t[4].name, "李伟");
}

Bundle rosterBundle(const testing::TempDir& dir, const std::string& csv, std::string* csvPath) {
  *csvPath = dir.write("roster.csv", csv);
  return loadFiles({dir.write("c.yaml", cohortText(kParams + "  roster: roster.csv\n"))}, {});
}

TEST(Roster, DuplicateIdIsLocatedInTheCsv) {
  testing::TempDir dir;
  std::string csv;
  Bundle b = rosterBundle(dir, "name,id,email\nA,a1,a@x.org\nB,b1,b@x.org\nC,A1,c@x.org\n", &csv);
  EXPECT_ONE_ERROR(b, 4, 3, "duplicate trainee id \"A1\" (first on line 2)");
  EXPECT_EQ(errorsOf(b)[0].file, csv);
}

TEST(Roster, EmptyIdIsLocated) {
  testing::TempDir dir;
  std::string csv;
  Bundle b = rosterBundle(dir, "id,name,email\na1,A,a@x.org\n,B,b@x.org\n", &csv);
  EXPECT_ONE_ERROR(b, 3, 1, "empty trainee id");
  EXPECT_EQ(errorsOf(b)[0].file, csv);
}

TEST(Roster, HeaderMustNameAllThreeColumns) {
  testing::TempDir dir;
  std::string csv;
  EXPECT_ONE_ERROR(rosterBundle(dir, "id,name\na,A\n", &csv), 1, 1,
                   "roster header is missing the \"email\" column (the header must name id, name and email)");
}

TEST(Roster, UnknownColumnIsAnError) {
  testing::TempDir dir;
  std::string csv;
  EXPECT_ONE_ERROR(rosterBundle(dir, "id,name,email,phone\na,A,a@x.org,0700\n", &csv), 1, 15,
                   "unknown roster column \"phone\"; the columns are id, name and email");
  Bundle b = rosterBundle(dir, "id,name,emial\na,A,a@x.org\n", &csv);
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 2u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].message, "roster header is missing the \"email\" column (the header must name id, name and email)");
  EXPECT_EQ(errs[1].message, "unknown roster column \"emial\" (did you mean \"email\"?); the columns are id, name and email");
}

TEST(Roster, RowWithTheWrongNumberOfFields) {
  testing::TempDir dir;
  std::string csv;
  EXPECT_ONE_ERROR(rosterBundle(dir, "id,name,email\na,A,a@x.org\nb,B\n", &csv), 3, 1,
                   "this row has 2 fields, the header has 3");
}

TEST(Roster, UnclosedQuote) {
  testing::TempDir dir;
  std::string csv;
  EXPECT_ONE_ERROR(rosterBundle(dir, "id,name,email\na,\"Amina Hassan,a@x.org\n", &csv), 2, 3,
                   "unclosed quote in roster: this field has no closing \"");
}

TEST(Roster, BadEmailAndBadId) {
  testing::TempDir dir;
  std::string csv;
  Bundle b = rosterBundle(dir, "id,name,email\nok,A,a@x\nbad/id,B,b@x.org\n", &csv);
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 2u) << dump(b.diagnostics);
  EXPECT_EQ(std::make_tuple(errs[0].line, errs[0].column), std::make_tuple(2, 6));
  EXPECT_EQ(errs[0].message, "email \"a@x\" is not a valid address");
  EXPECT_EQ(std::make_tuple(errs[1].line, errs[1].column), std::make_tuple(3, 1));
}

TEST(Roster, Latin1IsNotUtf8) {
  testing::TempDir dir;
  std::string csv;
  EXPECT_ONE_ERROR(rosterBundle(dir, "id,name,email\njn,Jos\xE9 N,j@x.org\n", &csv), 2, 7,
                   "not a text file: invalid UTF-8 (save it as UTF-8)");
}

TEST(Roster, MissingFileIsReportedAtTheCohort) {
  testing::TempDir dir;
  std::string file = dir.write("c.yaml", cohortText(kParams + "  roster: nope.csv\n"));
  Bundle b = loadFiles({file}, {});
  EXPECT_ONE_ERROR(b, 21, 11, "roster \"" + dir.path() + "/nope.csv\" not found");
  EXPECT_EQ(errorsOf(b)[0].file, file);
}

TEST(Roster, EmptyRoster) {
  testing::TempDir dir;
  std::string csv;
  EXPECT_ONE_ERROR(rosterBundle(dir, "\n", &csv), 0, 0,
                   "roster is empty: it needs a header line id,name,email and one line per trainee");
  EXPECT_ONE_ERROR(rosterBundle(dir, "id,name,email\n", &csv), 1, 1, "roster has a header but no trainees");
}

TEST(Roster, TenThousandTraineesAreFast) {
  testing::TempDir dir;
  std::string csv = "id,name,email\n";
  for (int i = 0; i < 10000; ++i)
    csv += "t" + std::to_string(i) + ",\"Mwanafunzi " + std::to_string(i) + ", Nairobi\",t" + std::to_string(i) + "@example.org\n";
  std::string path;
  auto start = std::chrono::steady_clock::now();
  Bundle b = rosterBundle(dir, csv, &path);
  ASSERT_TRUE(b.ok()) << dump(b.diagnostics);
  auto r = renderCohort({&b, "c1", 3}, nullptr);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.isOk());
  ASSERT_EQ(r->labs.size(), 10000u);
  EXPECT_EQ(r->labs[9999].labId, "c1.t9999");
  EXPECT_EQ(r->labs[9999].labels.at("darasa.generation"), "3");
  EXPECT_LT(elapsed, std::chrono::seconds(5));  // milliseconds in practice; generous for sanitizer builds
}

// ---------------------------------------------------------------- time zones and sessions

TEST(Schedule, UnknownTimeZoneSuggests) {
  EXPECT_ONE_ERROR(cohort(kParams + kOne + "  timezone: Africa/Nairobbi\n"), 22, 13,
                   "unknown time zone \"Africa/Nairobbi\" (did you mean \"Africa/Nairobi\"?) (use an IANA name such as "
                   "Africa/Nairobi)");
}

TEST(Schedule, ScheduleNeedsATimeZone) {
  EXPECT_ONE_ERROR(cohort(kParams + kOne +
                          "  schedule:\n    sessions: [{start: 2026-01-12T09:00, end: 2026-01-12T13:00}]\n"),
                   22, 3, "a schedule needs spec.timezone (an IANA name such as Africa/Nairobi)");
}

Bundle sessions(const std::string& items, const std::string& tz = "Africa/Nairobi") {
  // The first session item is on line 25.
  return cohort(kParams + kOne + "  timezone: " + tz + "\n  schedule:\n    sessions:\n" + items);
}

TEST(Schedule, WeeklySessionsAreNormalised) {
  Bundle b = sessions("      - {start: 2026-01-12T09:00, end: 2026-01-12T13:00, repeat: \"FREQ=WEEKLY;BYDAY=MO,WE;COUNT=8\","
                      " exdates: [2026-01-21T09:00]}\n");
  ASSERT_TRUE(b.diagnostics.empty()) << dump(b.diagnostics);
  const ScheduleSpec& s = b.cohorts[0].spec.schedule;
  ASSERT_EQ(s.sessions.size(), 1u);
  EXPECT_EQ(s.sessions[0].start, "2026-01-12T09:00:00");
  EXPECT_EQ(s.sessions[0].end, "2026-01-12T13:00:00");
  EXPECT_EQ(s.sessions[0].repeat, "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=8");
  EXPECT_EQ(s.sessions[0].exdates, std::vector<std::string>{"2026-01-21T09:00:00"});
  EXPECT_EQ(b.cohorts[0].spec.timezone, "Africa/Nairobi");
}

TEST(Schedule, BadDateTimes) {
  Bundle b = sessions("      - {start: 2026-01-12 09:00, end: 2026-02-30T13:00}\n");
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 2u) << dump(b.diagnostics);
  EXPECT_EQ(std::make_tuple(errs[0].line, errs[0].column), std::make_tuple(25, 17));
  EXPECT_EQ(errs[0].message,
            "start \"2026-01-12 09:00\" is not a local date-time (use e.g. 2026-01-12T09:00 with a T between date and time)");
  EXPECT_EQ(errs[1].message, "end \"2026-02-30T13:00\" is not a local date-time (use e.g. 2026-01-12T09:00)");
}

TEST(Schedule, EndMustBeAfterStart) {
  EXPECT_ONE_ERROR(sessions("      - {start: 2026-01-12T09:00, end: 2026-01-12T08:00}\n"), 25, 40,
                   "end 2026-01-12T08:00 is not after start 2026-01-12T09:00");
}

TEST(Schedule, RuleMustEnd) {
  EXPECT_ONE_ERROR(sessions("      - {start: 2026-01-12T09:00, end: 2026-01-12T13:00, repeat: FREQ=WEEKLY;BYDAY=MO}\n"),
                   25, 66, "repeat never ends: add COUNT=n or UNTIL=YYYYMMDD (a cohort ends)");
}

TEST(Schedule, RuleProblemsAreLocatedInTheRule) {
  Bundle b = sessions(
      "      - start: 2026-01-12T09:00\n"
      "        end: 2026-01-12T13:00\n"
      "        repeat: FREQ=WEEKY;BYDAY=MO,XX;COUNT=8;FOO=1\n");
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 3u) << dump(b.diagnostics);
  auto at = [&](size_t i) { return std::make_tuple(errs[i].line, errs[i].column, errs[i].message); };
  EXPECT_EQ(at(0), std::make_tuple(27, 17, std::string("FREQ \"WEEKY\" is not one of SECONDLY, MINUTELY, HOURLY, DAILY, WEEKLY, MONTHLY, YEARLY (did you mean \"WEEKLY\"?)")));
  EXPECT_EQ(at(1), std::make_tuple(27, 28, std::string("BYDAY \"XX\" is not a weekday (MO, TU, WE, TH, FR, SA, SU)")));
  EXPECT_EQ(at(2), std::make_tuple(27, 48, std::string("unknown RRULE part \"FOO\"")));
}

TEST(Schedule, CountAndUntilTogether) {
  EXPECT_ONE_ERROR(sessions("      - {start: 2026-01-12T09:00, end: 2026-01-12T13:00, repeat: \"FREQ=DAILY;COUNT=3;UNTIL=20260201\"}\n"),
                   25, 66, "repeat takes COUNT or UNTIL, not both");
}

TEST(Schedule, ExdateThatSkipsNothingIsAWarning) {
  Bundle b = sessions("      - {start: 2026-01-12T09:00, end: 2026-01-12T13:00, repeat: \"FREQ=WEEKLY;COUNT=4\","
                      " exdates: [2026-01-13T09:00]}\n");
  EXPECT_TRUE(b.ok()) << dump(b.diagnostics);
  ASSERT_EQ(b.diagnostics.size(), 1u);
  EXPECT_EQ(b.diagnostics[0].severity, Severity::kWarning);
  EXPECT_EQ(b.diagnostics[0].message,
            "exdate 2026-01-13T09:00 is not one of this session's occurrences (it skips nothing)");
}

TEST(Schedule, LocalTimeInADaylightSavingGap) {
  EXPECT_ONE_ERROR(sessions("      - {start: 2026-03-08T02:30, end: 2026-03-08T04:00}\n", "America/New_York"), 25, 17,
                   "start 2026-03-08T02:30 does not exist in America/New_York (the clocks skip it)");
}

TEST(Schedule, SessionsOrIcalNotBoth) {
  EXPECT_ONE_ERROR(cohort(kParams + kOne + "  timezone: UTC\n  schedule: {sessions: [], ical: x.ics}\n"), 23, 28,
                   "use either sessions or ical, not both");
}

// ---------------------------------------------------------------- iCalendar

Bundle icalBundle(const testing::TempDir& dir, const std::string& ics, std::string* icsPath) {
  *icsPath = dir.write("s/class.ics", ics);
  return loadFiles({dir.write("c.yaml", cohortText(kParams + kOne + "  timezone: Africa/Nairobi\n  schedule: {ical: s/class.ics}\n"))}, {});
}

const std::string kIcsHead = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n";

TEST(Ical, ValidFileGivesAnAbsolutePath) {
  testing::TempDir dir;
  std::string ics;
  Bundle b = icalBundle(dir,
                        kIcsHead + "BEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Class\r\nDTSTART;TZID=Africa/Nairobi:20260112T090000\r\n"
                                   "DTEND;TZID=Africa/Nairobi:20260112T130000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                        &ics);
  ASSERT_TRUE(b.diagnostics.empty()) << dump(b.diagnostics);
  EXPECT_EQ(b.cohorts[0].spec.schedule.icalPath, std::filesystem::absolute(ics).lexically_normal().string());
  EXPECT_TRUE(b.cohorts[0].spec.schedule.sessions.empty());
}

TEST(Ical, MissingFile) {
  testing::TempDir dir;
  Bundle b = loadFiles({dir.write("c.yaml", cohortText(kParams + kOne + "  timezone: UTC\n  schedule: {ical: none.ics}\n"))}, {});
  EXPECT_ONE_ERROR(b, 23, 20, "schedule file \"" + dir.path() + "/none.ics\" not found");
}

TEST(Ical, NotAnIcalFile) {
  testing::TempDir dir;
  std::string ics;
  EXPECT_ONE_ERROR(icalBundle(dir, "this is not a calendar\n", &ics), 0, 0,
                   "not an iCalendar file: no complete BEGIN:VCALENDAR ... END:VCALENDAR");
}

TEST(Ical, NoEvents) {
  testing::TempDir dir;
  std::string ics;
  EXPECT_ONE_ERROR(icalBundle(dir, kIcsHead + "END:VCALENDAR\r\n", &ics), 0, 0, "the schedule file has no events (VEVENT)");
}

TEST(Ical, BadPropertyIsLocatedInTheIcsFileAndReportedOnce) {
  testing::TempDir dir;
  std::string ics;
  Bundle b = icalBundle(dir, kIcsHead + "BEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Class\r\nDTSTART:2026011xT090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", &ics);
  auto errs = errorsOf(b);
  // Once, at the value: not again as libical's complaint, nor as "no DTSTART"
  // for the event libical dropped it from.
  ASSERT_EQ(errs.size(), 1u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].file, ics);
  EXPECT_EQ(errs[0].line, 7);
  EXPECT_EQ(errs[0].column, 9);
  EXPECT_EQ(errs[0].message,
            "DTSTART \"2026011xT090000\" is not a date-time (YYYYMMDDTHHMMSS, Z for UTC) or a date (YYYYMMDD)");
}

// What libical only calls "no complete VCALENDAR" (a component left open),
// and dates it reads leniently (DTSTART:2026011x became 2026-01-01), each
// located at the line to fix, once.
TEST(Ical, UnendedComponentsAndMalformedDatesAreLocated) {
  const std::string ev = "BEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Class\r\n";  // lines 4-6
  const std::string times = "DTSTART:20260112T090000Z\r\nDTEND:20260112T120000Z\r\n";
  struct Case {
    std::string body;  // after kIcsHead (3 lines)
    int line;
    std::string message;
  };
  const std::vector<Case> cases = {
      {ev + times + "END:VCALENDAR\r\n", 4, "BEGIN:VEVENT is not ended before END:VCALENDAR (line 9): add END:VEVENT"},
      {ev + times + ev + times + "END:VEVENT\r\nEND:VCALENDAR\r\n", 4,
       "BEGIN:VEVENT is not ended before the next BEGIN:VEVENT (line 9): add END:VEVENT"},
      {ev + times + "END:VEVENT\r\n", 1, "BEGIN:VCALENDAR is never ended (no END:VCALENDAR after it)"},
      {ev + times + "END:VEVENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", 10, "END:VEVENT without a BEGIN:VEVENT before it"},
      {ev + "DTSTART:2026011x\r\nDTEND:20260112T120000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", 7,
       "DTSTART \"2026011x\" is not a date-time (YYYYMMDDTHHMMSS, Z for UTC) or a date (YYYYMMDD)"},
      {ev + "DTSTART:20260112T090000Z\r\nDTEND:20260132T120000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", 8,
       "DTEND \"20260132T120000Z\" is not a date-time: 2026-01 has no day 32"},
      {ev + "DTSTART:20260112T250000Z\r\nDTEND:20260112T120000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", 7,
       "DTSTART \"20260112T250000Z\" is not a date-time: there is no hour 25"},
      {ev + times + "EXDATE:20260119T090000Z,2026012\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", 9,
       "EXDATE \"2026012\" is not a date-time (YYYYMMDDTHHMMSS, Z for UTC) or a date (YYYYMMDD)"},
      {ev + "DTSTART;VALUE=DATE:20260112T090000\r\nDTEND;VALUE=DATE:20260113\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", 7,
       "DTSTART \"20260112T090000\" is not a date (YYYYMMDD)"},
      {ev + "DTSTART:20250229T090000Z\r\nDTEND:20250301T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", 7,
       "DTSTART \"20250229T090000Z\" is not a date-time: 2025-02 has no day 29"},
  };
  for (const auto& c : cases) {
    testing::TempDir dir;
    std::string ics;
    Bundle b = icalBundle(dir, kIcsHead + c.body, &ics);
    auto errs = errorsOf(b);
    ASSERT_EQ(errs.size(), 1u) << c.message << "\n" << dump(b.diagnostics);  // one mistake, one error
    EXPECT_EQ(errs[0].file, ics) << c.message;
    EXPECT_EQ(errs[0].line, c.line) << dump(b.diagnostics);
    EXPECT_EQ(errs[0].message, c.message) << dump(b.diagnostics);
  }
  // Well-formed dates on 29 February of a leap year, and a date list, pass.
  testing::TempDir dir;
  std::string ics;
  Bundle ok = icalBundle(dir,
                         kIcsHead + ev + "DTSTART:20280229T090000Z\r\nDTEND:20280229T100000Z\r\n"
                                         "RRULE:FREQ=DAILY;COUNT=3\r\nEXDATE:20280301T090000Z,20280302T090000Z\r\n"
                                         "END:VEVENT\r\nEND:VCALENDAR\r\n",
                         &ics);
  EXPECT_TRUE(errorsOf(ok).empty()) << dump(ok.diagnostics);
}

TEST(Ical, RepeatingForeverAndWindowsZoneNames) {
  testing::TempDir dir;
  std::string ics;
  Bundle b = icalBundle(dir,
                        kIcsHead + "BEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Class\r\n"
                                   "DTSTART;TZID=E. Africa Standard Time:20260112T090000\r\n"
                                   "RRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                        &ics);
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 2u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].line, 7);
  EXPECT_EQ(errs[0].message, "time zone \"E. Africa Standard Time\" of event \"Class\" is not an IANA name (use e.g. Africa/Nairobi)");
  EXPECT_EQ(errs[1].line, 8);
  EXPECT_EQ(errs[1].message, "event \"Class\" repeats forever: its RRULE needs COUNT or UNTIL (a cohort ends)");
}

}  // namespace
}  // namespace darasa::templates
