// What ValidateOptions adds to the checks of the files themselves: the
// daemon's config (kind DaemonConfig, for darasa validate), and the
// template's provider asked whether it can ever run such a lab, its answer
// located at the fields it names.
#include "test_util.h"

namespace darasa::templates {
namespace {
using testing::dump;
using testing::errorsOf;

ValidateOptions withConfig() {
  ValidateOptions o;
  o.daemonConfig = ConfigOptions{};
  return o;
}

TEST(ValidateKinds, DaemonConfigIsCheckedAsServeReadsIt) {
  const std::string head = "apiVersion: darasa/v1\nkind: DaemonConfig\n";
  struct Case {
    std::string content;
    bool takesConfig;
    int line, column;
    std::string message;  // "" = valid
  };
  const std::vector<Case> cases = {
      {head + "listen: 127.0.0.1:8440\ntick: 5s\n", true, 0, 0, ""},
      {head + "tik: 5s\n", true, 3, 1, "unknown field \"tik\" (did you mean \"tick\"?)"},
      {head + "listen: 127.0.0.1:99999\n", true, 3, 9,
       "listen \"127.0.0.1:99999\" is not an address: port \"99999\" is not a number from 0 to 65535 (0 = any free port)"},
      {head + "tick: 5s\n", false, 2, 7,
       "a DaemonConfig is the daemon's config (darasa serve --config FILE), not a template or cohort: check it with "
       "`darasa validate`"},
      {head + "---\n" + testing::kTemplateHead + "spec: {provider: local}\n", true, 2, 7,
       "a DaemonConfig is a file of its own (darasa serve --config FILE reads one document)"},
      {"apiVersion: darasa/v1\nkind: DaemonConfg\n", true, 2, 7,
       "unknown kind \"DaemonConfg\" (did you mean \"DaemonConfig\"?); expected LabTemplate, Cohort or DaemonConfig"},
  };
  for (const auto& c : cases) {
    Bundle b = testing::load(c.content, "darasa.yaml", c.takesConfig ? withConfig() : ValidateOptions{});
    if (c.message.empty()) {
      EXPECT_TRUE(b.ok()) << dump(b.diagnostics);
      EXPECT_EQ(b.daemonConfigs, std::vector<std::string>{"darasa.yaml"});
      continue;
    }
    EXPECT_ONE_ERROR(b, c.line, c.column, c.message);
    if (!c.takesConfig) {
      EXPECT_TRUE(b.daemonConfigs.empty());
    }
  }
}

// Rosters and schedules given on their own: checked alone by validate
// (dataFiles), else refused with where they belong.
TEST(ValidateKinds, RostersAndSchedulesAloneAreCheckedOrSentToTheirCohort) {
  testing::TempDir dir;
  const std::string ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:1\r\n"
                          "DTSTART:20260112T090000Z\r\nDTEND:20260112T120000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  std::string goodCsv = dir.write("class.csv", "id,name,email\nt1,Wanjiku Kamau,w@example.org\n");
  std::string badCsv = dir.write("bad.CSV", "id,name,email\nt1,A,a@example.org\nt1,B,b@example.org\n");
  std::string goodIcs = dir.write("class.ics", ics);
  std::string badIcs = dir.write("bad.ics", ics.substr(0, ics.find("END:VEVENT")) + "END:VCALENDAR\r\n");
  ValidateOptions o;
  o.dataFiles = true;
  Bundle ok = loadFiles({goodCsv, goodIcs}, o);
  EXPECT_TRUE(ok.diagnostics.empty()) << dump(ok.diagnostics);
  EXPECT_EQ(ok.rosters, std::vector<std::string>{goodCsv});
  EXPECT_EQ(ok.schedules, std::vector<std::string>{goodIcs});
  Bundle bad = loadFiles({badCsv, badIcs}, o);
  auto errs = errorsOf(bad);
  ASSERT_EQ(errs.size(), 2u) << dump(bad.diagnostics);
  EXPECT_EQ(errs[0].file, badCsv);
  EXPECT_EQ(errs[0].line, 3);
  EXPECT_EQ(errs[0].message, "duplicate trainee id \"t1\" (first on line 2)");
  EXPECT_EQ(errs[1].file, badIcs);
  EXPECT_EQ(errs[1].line, 4);  // its BEGIN:VEVENT
  // Without the option (apply, render): where it belongs.
  Bundle refused = loadFiles({goodCsv}, {});
  EXPECT_ONE_ERROR(refused, 0, 0,
                   "a roster is read by the cohort that names it (spec.roster): give the cohort's file; `darasa "
                   "validate` checks this file alone");
}

// A provider stand-in: records what it was asked, answers what it is told.
struct FakeProvider {
  std::vector<LabSpec> asked;
  Status answer = Status::ok();
  std::function<Status(const LabSpec&)> hook() {
    return [this](const LabSpec& s) {
      asked.push_back(s);
      return answer;
    };
  }
};

// Template "lab" (lines 1-11): resources on line 9, ports on lines 10-11.
const std::string kLab =
    "apiVersion: darasa/v1\n"
    "kind: LabTemplate\n"
    "metadata: {name: lab}\n"
    "parameters:\n"
    "  - {name: memory, type: size, default: 512Mi}\n"
    "spec:\n"
    "  provider: local\n"
    "  access: {user: trainee}\n"
    "  resources: {cpus: 64, memory: \"${memory}\"}\n"
    "  ports:\n"
    "    - {name: ssh, port: 2222}\n"
    "    - {name: web, port: 80}\n";

TEST(ValidateProvider, ItsProblemsAreLocatedAtTheFieldsTheyName) {
  FakeProvider p;
  p.answer = invalidError(
      "resources.cpus 64000m is more than this machine's 2 CPUs; resources.memory 512Mi is more than this machine has "
      "(256Mi); ports[1].port 80 is below 1024; nothing to run: add a command");
  ValidateOptions o;
  o.askProvider = p.hook();
  Bundle b = testing::load(kLab, "lab.yaml", o);
  ASSERT_EQ(p.asked.size(), 1u);
  EXPECT_EQ(p.asked[0].provider, "local");
  EXPECT_EQ(p.asked[0].resources.cpuMillis, 64000);
  EXPECT_EQ(p.asked[0].resources.memoryBytes, 512 << 20);  // the parameter's default
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 4u) << dump(b.diagnostics);
  struct Want {
    int line, column;
    std::string path, message;
  };
  const std::vector<Want> want = {
      {6, 1, "spec", "provider \"local\": nothing to run: add a command"},
      {9, 21, "spec.resources.cpus", "provider \"local\": resources.cpus 64000m is more than this machine's 2 CPUs"},
      {9, 33, "spec.resources.memory",
       "provider \"local\": resources.memory 512Mi is more than this machine has (256Mi) (with ${memory} = \"512Mi\")"},
      {12, 25, "spec.ports[1].port", "provider \"local\": ports[1].port 80 is below 1024"},
  };
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(errs[i].line, want[i].line) << dump(errs);
    EXPECT_EQ(errs[i].column, want[i].column) << dump(errs);
    EXPECT_EQ(errs[i].path, want[i].path) << dump(errs);
    EXPECT_EQ(errs[i].message, want[i].message) << dump(errs);
  }
}

TEST(ValidateProvider, OneNoteWhenItCouldNotBeAsked) {
  FakeProvider p;
  p.answer = unavailableError("cannot reach the engine");
  ValidateOptions o;
  o.askProvider = p.hook();
  std::string two = kLab + "---\n" + "apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: other}\n" +
                    "spec: {provider: local, access: {user: trainee}, ports: [{name: ssh, port: 2222}]}\n";
  Bundle b = testing::load(two, "lab.yaml", o);
  EXPECT_EQ(p.asked.size(), 2u);
  EXPECT_TRUE(b.ok()) << dump(b.diagnostics);
  ASSERT_EQ(b.diagnostics.size(), 1u) << dump(b.diagnostics);
  EXPECT_EQ(b.diagnostics[0].severity, Severity::kNote);
  EXPECT_EQ(b.diagnostics[0].line, 7);  // the first template's provider
  EXPECT_EQ(b.diagnostics[0].message,
            "provider \"local\" was not asked whether it can run this lab: cannot reach the engine");
}

TEST(ValidateProvider, AskedForEachCohortWithItsParameters) {
  // A required parameter: the template alone is not a lab yet; the cohort's is.
  std::string tpl = kLab;
  tpl.replace(tpl.find("default: 512Mi"), 14, "required: true");
  std::string cohort = "---\napiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: c1}\nspec:\n  template: lab\n"
                       "  parameters: {memory: 64Gi}\n  trainees: [{id: t1, name: A}]\n";
  FakeProvider p;
  p.answer = invalidError("resources.memory 64Gi is more than this machine has (23Gi)");
  ValidateOptions o;
  o.askProvider = p.hook();
  Bundle b = testing::load(tpl + cohort, "lab.yaml", o);
  ASSERT_EQ(p.asked.size(), 1u);
  EXPECT_EQ(p.asked[0].resources.memoryBytes, int64_t{64} << 30);
  EXPECT_EQ(p.asked[0].labId.rfind("c1.", 0), 0u);
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 1u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].line, 9);
  EXPECT_NE(errs[0].message.find("resources.memory 64Gi is more than this machine has (23Gi)"), std::string::npos);
}

TEST(ValidateProvider, NotAskedWithoutAHookOrAboutABrokenTemplate) {
  FakeProvider p;
  ValidateOptions o;
  o.askProvider = p.hook();
  std::string broken = kLab;
  broken.replace(broken.find("cpus: 64"), 8, "cpus: lots");
  Bundle b = testing::load(broken, "lab.yaml", o);
  EXPECT_FALSE(b.ok());
  EXPECT_TRUE(p.asked.empty());
  EXPECT_TRUE(testing::load(kLab).ok());  // no hook: the files alone decide
}

}  // namespace
}  // namespace darasa::templates
