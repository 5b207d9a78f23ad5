// Schedules at load time: the .ics text is captured into the cohort (from a
// path, a file:// URL or, through ValidateOptions::fetchUrl, an https:// URL),
// checked with located errors, and expanded once so that apply refuses what
// the daemon could not run. URLs here go to a fake fetcher, never the network.
#include <filesystem>
#include <fstream>

#include "provisioner/schedule.h"
#include "test_util.h"

namespace darasa::templates {
namespace {
using testing::dump;
using testing::errorsOf;

const std::string kTpl = std::string(testing::kTemplateHead) + "spec:\n  provider: local\n---\n";

// The cohort document (after the 6-line template); the ical value is on
// line 16, its quoted scalar at column 11.
std::string cohortWithIcal(const std::string& value) {
  return kTpl +
         "apiVersion: darasa/v1\n"                                  // 7
         "kind: Cohort\n"                                           // 8
         "metadata: {name: c1}\n"                                   // 9
         "spec:\n"                                                  // 10
         "  template: lab\n"                                        // 11
         "  trainees: [{id: t1, name: T One, email: t1@example.org}]\n"  // 12
         "  timezone: Africa/Nairobi\n"                             // 13
         "  leadTime: 15m\n"                                        // 14
         "  schedule:\n"                                            // 15
         "    ical: \"" + value + "\"\n";                           // 16
}

const std::string kIcs =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
    "BEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Class\r\n"
    "DTSTART;TZID=Africa/Nairobi:20260112T140000\r\nDTEND;TZID=Africa/Nairobi:20260112T170000\r\n"
    "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

// A fetcher that serves one URL and records what it was asked.
struct FakeFetcher {
  std::string url;
  Result<std::string> body = std::string();
  std::vector<std::string> asked;
  std::function<Result<std::string>(const std::string&)> fn() {
    return [this](const std::string& u) -> Result<std::string> {
      asked.push_back(u);
      if (u != url) return notFoundError("HTTP 404 from " + u);
      return body;
    };
  }
};

TEST(IcalCapture, PathTextIsCapturedAndExpands) {
  testing::TempDir dir;
  std::string ics = dir.write("s/class.ics", kIcs);
  Bundle b = loadFiles({dir.write("c.yaml", cohortWithIcal("s/class.ics"))}, {});
  ASSERT_TRUE(b.diagnostics.empty()) << dump(b.diagnostics);
  const ScheduleSpec& s = b.cohorts[0].spec.schedule;
  EXPECT_EQ(s.icalPath, std::filesystem::absolute(ics).lexically_normal().string());
  EXPECT_EQ(s.icalText, kIcs);
  // The stored cohort needs no file any more: the file can go.
  std::filesystem::remove(ics);
  auto occ = expandSchedule(b.cohorts[0].spec);
  ASSERT_TRUE(occ.isOk()) << occ.status().toString();
  ASSERT_EQ(occ->size(), 4u);
  EXPECT_EQ(occ->front().localStart, "2026-01-12T14:00:00");
  EXPECT_EQ(occ->front().summary, "Class");
}

TEST(IcalCapture, FileUrlIsReadLikeAPath) {
  testing::TempDir dir;
  std::string ics = dir.write("with space.ics", kIcs);
  std::string url = "file://" + dir.path() + "/with%20space.ics";
  Bundle b = loadString("c.yaml", cohortWithIcal(url), {});
  ASSERT_TRUE(b.diagnostics.empty()) << dump(b.diagnostics);
  EXPECT_EQ(b.cohorts[0].spec.schedule.icalText, kIcs);
  EXPECT_EQ(b.cohorts[0].spec.schedule.icalPath, ics);

  EXPECT_ONE_ERROR(loadString("c.yaml", cohortWithIcal("file://relative/x.ics"), {}), 16, 11,
                   "\"file://relative/x.ics\" is not a file URL of this machine (use file:///absolute/path.ics)");
}

TEST(IcalCapture, UrlWithoutFetcherIsALocatedError) {
  Bundle b = loadString("c.yaml", cohortWithIcal("https://calendar.example.org/class.ics"), {});
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 1u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].file, "c.yaml");
  EXPECT_EQ(errs[0].line, 16);
  EXPECT_EQ(errs[0].path, "spec.schedule.ical");
  EXPECT_NE(errs[0].message.find("URLs need the URL fetcher"), std::string::npos) << errs[0].message;
}

TEST(IcalCapture, HttpsUrlIsFetchedCapturedAndKeptAsThePath) {
  FakeFetcher f{"https://calendar.example.org/class.ics", kIcs, {}};
  ValidateOptions opts;
  opts.fetchUrl = f.fn();
  Bundle b = loadString("c.yaml", cohortWithIcal(f.url), opts);
  ASSERT_TRUE(b.diagnostics.empty()) << dump(b.diagnostics);
  EXPECT_EQ(f.asked, std::vector<std::string>{f.url});
  EXPECT_EQ(b.cohorts[0].spec.schedule.icalPath, f.url);
  EXPECT_EQ(b.cohorts[0].spec.schedule.icalText, kIcs);
  auto r = renderCohort({&b, "c1", 1}, nullptr);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->cohort.schedule.icalText, kIcs);
}

TEST(IcalCapture, FetchErrorNamesTheUrl) {
  FakeFetcher f{"https://calendar.example.org/other.ics", kIcs, {}};
  ValidateOptions opts;
  opts.fetchUrl = f.fn();
  EXPECT_ONE_ERROR(loadString("c.yaml", cohortWithIcal("https://calendar.example.org/class.ics"), opts), 16, 11,
                   "cannot fetch schedule URL \"https://calendar.example.org/class.ics\": HTTP 404 from "
                   "https://calendar.example.org/class.ics");
}

TEST(IcalCapture, FetchedTextIsCheckedWithTheUrlAsItsName) {
  const std::string url = "https://calendar.example.org/class.ics";
  FakeFetcher f{url,
                std::string("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:1\r\n"
                            "SUMMARY:Class\r\nDTSTART;TZID=Mars/Olympus:20260112T090000\r\nDURATION:PT1H\r\n"
                            "END:VEVENT\r\nEND:VCALENDAR\r\n"),
                {}};
  ValidateOptions opts;
  opts.fetchUrl = f.fn();
  Bundle b = loadString("c.yaml", cohortWithIcal(url), opts);
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 1u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].file, url);
  EXPECT_EQ(errs[0].line, 7);
  EXPECT_NE(errs[0].message.find("Mars/Olympus"), std::string::npos) << errs[0].message;

  f.body = std::string("<html>Sign in to see this calendar</html>");
  b = loadString("c.yaml", cohortWithIcal(url), opts);
  errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 1u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].file, url);
  EXPECT_EQ(errs[0].message, "not an iCalendar file: no complete BEGIN:VCALENDAR ... END:VCALENDAR");
}

TEST(IcalCapture, FetchedTextIsHeldToTheFileLimit) {
  const std::string url = "https://calendar.example.org/class.ics";
  FakeFetcher f{url, kIcs + std::string(4096, '\n'), {}};
  ValidateOptions opts;
  opts.fetchUrl = f.fn();
  opts.maxFileBytes = 2048;
  // The cohort file itself is under 2 KiB; the fetched body is not.
  Bundle b = loadString("c.yaml", cohortWithIcal(url), opts);
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 1u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].line, 16);
  EXPECT_NE(errs[0].message.find("too large"), std::string::npos) << errs[0].message;
}

TEST(IcalCapture, PlainHttpOnlyToThisMachine) {
  FakeFetcher f{"http://127.0.0.1:8080/class.ics", kIcs, {}};
  ValidateOptions opts;
  opts.fetchUrl = f.fn();
  EXPECT_ONE_ERROR(loadString("c.yaml", cohortWithIcal("http://calendar.example.org/class.ics"), opts), 16, 11,
                   "schedule URL \"http://calendar.example.org/class.ics\" must use https:// (plain http:// only to "
                   "127.0.0.1 or localhost)");
  EXPECT_TRUE(f.asked.empty());  // refused before any fetch
  Bundle b = loadString("c.yaml", cohortWithIcal(f.url), opts);
  EXPECT_TRUE(b.diagnostics.empty()) << dump(b.diagnostics);
  EXPECT_EQ(f.asked.size(), 1u);
  EXPECT_ONE_ERROR(loadString("c.yaml", cohortWithIcal("ftp://calendar.example.org/class.ics"), opts), 16, 11,
                   "schedule \"ftp://calendar.example.org/class.ics\": the scheme ftp:// is not supported (use a "
                   "path, file://, or https://)");
}

TEST(IcalCapture, EventWithoutAnEndIsRefusedAtLoad) {
  testing::TempDir dir;
  dir.write("e.ics",
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Open-ended\r\n"
            "DTSTART;TZID=Africa/Nairobi:20260112T140000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
  Bundle b = loadFiles({dir.write("c.yaml", cohortWithIcal("e.ics"))}, {});
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 1u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].line, 16);
  EXPECT_EQ(errs[0].message, "event \"Open-ended\" has no DTEND or DURATION (a session needs an end)");
}

TEST(IcalCapture, SessionsOverTheOccurrenceCapAreRefusedAtLoad) {
  std::string doc = kTpl +
                    "apiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: c1}\nspec:\n  template: lab\n"
                    "  trainees: [{id: t1, name: T One, email: t1@example.org}]\n"
                    "  timezone: Africa/Nairobi\n"
                    "  schedule:\n"
                    "    sessions:\n"
                    "      - {start: 2026-01-12T09:00, end: 2026-01-12T09:30, repeat: \"FREQ=HOURLY;COUNT=20000\"}\n";
  Bundle b = loadString("c.yaml", doc, {});
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 1u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].line, 16);
  EXPECT_NE(errs[0].message.find("more than 10000 occurrences"), std::string::npos) << errs[0].message;
}

TEST(IcalCapture, NairobiExampleSessionsAndIcsGiveTheSameTimetable) {
  const std::string root = std::string(DARASA_SOURCE_DIR) + "/examples";
  Bundle yaml = loadFiles({root + "/cohorts/nairobi-sysadmin-2026-04.yaml"}, {});
  ASSERT_TRUE(yaml.ok()) << dump(yaml.diagnostics);
  CohortSpec fromIcs = yaml.cohorts[0].spec;
  fromIcs.schedule = {};
  std::ifstream in(root + "/schedules/nairobi-sysadmin.ics");
  fromIcs.schedule.icalText.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  auto a = expandSchedule(yaml.cohorts[0].spec);
  auto b = expandSchedule(fromIcs);
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  ASSERT_TRUE(b.isOk()) << b.status().toString();
  // Six weeks of Mon/Wed/Fri less Labour Day (Friday 1 May).
  ASSERT_EQ(a->size(), 17u);
  ASSERT_EQ(b->size(), a->size());
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].start, (*b)[i].start) << i;
    EXPECT_EQ((*a)[i].end, (*b)[i].end) << i;
    EXPECT_NE((*a)[i].localStart, "2026-05-01T14:00:00");
  }
  EXPECT_EQ(a->front().localStart, "2026-04-20T14:00:00");
  EXPECT_EQ(a->back().localEnd, "2026-05-29T17:00:00");
  EXPECT_EQ(formatInZone(a->front().start, "UTC"), "2026-04-20T11:00:00+00:00");
}

}  // namespace
}  // namespace darasa::templates
