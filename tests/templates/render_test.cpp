// extends (merge, cycles, unknown bases), rendering (snapshot, hash,
// determinism, per-trainee LabSpecs), stored templates and template dirs.
#include <nlohmann/json.hpp>

#include "provisioner/cohort.h"
#include "test_util.h"

namespace darasa::templates {
namespace {
using testing::dump;
using testing::errorsOf;

const std::string kBase =
    "apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: base, labels: {family: linux}}\n"
    "parameters:\n"
    "  - {name: memory, type: size, default: 512Mi}\n"
    "  - {name: track, type: enum, values: [a, b], default: a}\n"
    "spec:\n"
    "  provider: docker\n"
    "  image: localhost/darasa/busybox-lab:1\n"
    "  command: [sh, -c, sleep]\n"
    "  env: {TZ: Africa/Nairobi, TRACK: \"${track}\", DROP: x}\n"
    "  resources: {cpus: 1, memory: \"${memory}\", pids: 256}\n"
    "  ports: [{name: ssh, port: 22}]\n"
    "  readiness: {tcp: ssh}\n";

const std::string kChild =
    "---\napiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: child, labels: {course: admin}}\n"
    "extends: base\n"
    "parameters:\n"
    "  - {name: memory, type: size, default: 1Gi}\n"
    "  - {name: extra, type: string, default: hello}\n"
    "spec:\n"
    "  command: [bash]\n"
    "  env: {EXTRA: \"${extra}\", DROP: null}\n"
    "  resources: {pids: 512}\n"
    "  ports: [{name: ssh, port: 22}, {name: web, port: 8080, protocol: http}]\n";

std::string cohortFor(const std::string& tpl, const std::string& params = "{}", const std::string& name = "c1") {
  return "---\napiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: " + name + "}\nspec:\n  template: " + tpl +
         "\n  parameters: " + params + "\n  trainees: [{id: wkamau, name: Wanjiku Kamau}, {id: aodhiambo, name: \"Achieng' Odhiambo\"}]\n";
}

Result<RenderedCohort> render(const Bundle& b, const std::string& cohort = "c1", int64_t gen = 1) {
  return renderCohort({&b, cohort, gen}, nullptr);
}

TEST(Extends, ChildMergesOverBase) {
  Bundle b = testing::load(kBase + kChild + cohortFor("child", "{track: b}"));
  ASSERT_TRUE(b.diagnostics.empty()) << dump(b.diagnostics);
  auto r = render(b);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  const LabSpec& l = r->labs[0];
  EXPECT_EQ(l.provider, "docker");                                  // inherited scalar
  EXPECT_EQ(l.command, (std::vector<std::string>{"bash"}));         // lists replace
  EXPECT_EQ(l.env, (std::map<std::string, std::string>{{"EXTRA", "hello"}, {"TRACK", "b"}, {"TZ", "Africa/Nairobi"}}));  // maps merge, null removes
  EXPECT_EQ(l.resources.cpuMillis, 1000);                           // kept from base
  EXPECT_EQ(l.resources.pids, 512);                                 // child wins
  EXPECT_EQ(l.resources.memoryBytes, 1073741824);                   // child's parameter default wins
  ASSERT_EQ(l.ports.size(), 2u);
  EXPECT_EQ(l.ports[1].protocol, "http");
  EXPECT_EQ(l.labels.at("family"), "linux");                        // template labels, merged along the chain
  EXPECT_EQ(l.labels.at("course"), "admin");
  EXPECT_EQ(r->cohort.parameters, (std::map<std::string, std::string>{
                                      {"extra", "hello"}, {"memory", "1Gi"}, {"track", "b"}}));
}

TEST(Extends, UnknownBaseListsKnownTemplates) {
  std::string child = kChild;
  child.replace(child.find("extends: base"), 13, "extends: bse");
  Bundle b = testing::load(kBase + child);
  EXPECT_ONE_ERROR(b, 19, 10, "unknown template \"bse\" in extends (did you mean \"base\"?); known templates: base, child");
}

TEST(Extends, CycleIsNamedOnce) {
  std::string t =
      "apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: b}\nextends: a\nspec: {provider: local}\n---\n"
      "apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: a}\nextends: c\nspec: {provider: local}\n---\n"
      "apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: c}\nextends: b\nspec: {provider: local}\n";
  Bundle b = testing::load(t);
  EXPECT_ONE_ERROR(b, 10, 10, "extends cycle: a → c → b → a");
}

TEST(Extends, SelfExtension) {
  Bundle b = testing::load("apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: a}\nextends: a\nspec: {provider: local}\n");
  EXPECT_ONE_ERROR(b, 4, 10, "template \"a\" extends itself");
}

TEST(Render, LabsCarryIdsAndLabels) {
  Bundle b = testing::load(kBase + cohortFor("base"));
  auto r = render(b, "c1", 4);
  ASSERT_TRUE(r.isOk()) << dump(b.diagnostics);
  ASSERT_EQ(r->labs.size(), 2u);
  const LabSpec& l = r->labs[1];
  EXPECT_EQ(l.labId, "c1.aodhiambo");
  EXPECT_EQ(l.cohort, "c1");
  EXPECT_EQ(l.trainee, "aodhiambo");
  EXPECT_EQ(l.generation, 4);
  EXPECT_EQ(l.templateName, "base");
  EXPECT_EQ(l.templateHash, r->snapshot.hash);
  EXPECT_EQ(l.labels, (Labels{{"darasa.cohort", "c1"},
                              {"darasa.generation", "4"},
                              {"darasa.lab", "c1.aodhiambo"},
                              {"darasa.template-hash", r->snapshot.hash},
                              {"darasa.trainee", "aodhiambo"},
                              {"family", "linux"}}));
  EXPECT_EQ(l.image, "localhost/darasa/busybox-lab:1");
  EXPECT_EQ(l.readiness.tcpPort, "ssh");
  EXPECT_EQ(l.readiness.timeout, std::chrono::seconds(120));  // the default
  EXPECT_EQ(l.network, NetworkMode::kIsolated);
  EXPECT_EQ(r->cohort.trainees[1].name, "Achieng' Odhiambo");
}

TEST(Render, SnapshotIsCanonicalAndHashed) {
  Bundle b = testing::load(kBase + cohortFor("base", "{memory: 2Gi}"));
  auto r = render(b);
  ASSERT_TRUE(r.isOk()) << dump(b.diagnostics);
  const TemplateSnapshot& s = r->snapshot;
  EXPECT_EQ(s.name, "base");
  ASSERT_EQ(s.hash.size(), 7u + 64u);
  EXPECT_EQ(s.hash.rfind("sha256:", 0), 0u);
  auto j = nlohmann::json::parse(s.canonicalJson);
  EXPECT_EQ(j.dump(), s.canonicalJson);  // sorted keys, no whitespace
  EXPECT_EQ(j["spec"]["resources"]["memory"], "2Gi");  // substituted
  EXPECT_EQ(j["spec"]["resources"]["pids"], 256);      // plain numbers stay numbers
  EXPECT_EQ(j["parameters"]["memory"], "2Gi");
  EXPECT_EQ(j["metadata"]["name"], "base");
  EXPECT_FALSE(j.contains("extends"));
}

TEST(Render, SameInputsSameHashWhateverTheLayout) {
  Bundle a = testing::load(kBase + cohortFor("base", "{memory: 2Gi}"));
  Bundle b = testing::load(kBase + cohortFor("base", "{memory: 2Gi}"));
  // The same template written differently: keys reordered, flow vs block, comments.
  std::string reordered =
      "kind: LabTemplate\napiVersion: darasa/v1\nmetadata:\n  labels: {family: linux}\n  name: base\n"
      "spec:\n"
      "  readiness: {tcp: ssh}   # comment\n"
      "  ports:\n    - port: 22\n      name: ssh\n"
      "  resources: {memory: \"${memory}\", pids: 256, cpus: 1}\n"
      "  env: {DROP: x, TRACK: \"${track}\", TZ: Africa/Nairobi}\n"
      "  command: [sh, -c, sleep]\n"
      "  image: localhost/darasa/busybox-lab:1\n"
      "  provider: docker\n"
      "parameters:\n"
      "  - {name: track, type: enum, values: [a, b], default: a}\n"
      "  - {name: memory, type: size, default: 512Mi}\n";
  Bundle c = testing::load(reordered + cohortFor("base", "{memory: 2Gi}"));
  auto ra = render(a), rb = render(b), rc = render(c);
  ASSERT_TRUE(ra.isOk() && rb.isOk() && rc.isOk()) << dump(c.diagnostics);
  EXPECT_EQ(ra->snapshot, rb->snapshot);
  EXPECT_EQ(ra->snapshot.hash, rc->snapshot.hash);
  EXPECT_EQ(ra->snapshot.canonicalJson, rc->snapshot.canonicalJson);
}

TEST(Render, EveryParameterChangesTheHash) {
  std::set<std::string> hashes;
  for (const char* params :
       {"{}", "{memory: 2Gi}", "{memory: 2048Mi}", "{track: b}", "{memory: 2Gi, track: b}"}) {
    Bundle b = testing::load(kBase + cohortFor("base", params));
    auto r = render(b);
    ASSERT_TRUE(r.isOk()) << params << dump(b.diagnostics);  // NOLINT
    hashes.insert(r->snapshot.hash);
  }
  EXPECT_EQ(hashes.size(), 5u);
  // An unused parameter still changes the snapshot (its value is part of it).
  Bundle x = testing::load(kBase + kChild + cohortFor("child", "{extra: one}"));
  Bundle y = testing::load(kBase + kChild + cohortFor("child", "{extra: two}"));
  EXPECT_NE(render(x)->snapshot.hash, render(y)->snapshot.hash);
}

TEST(Render, GenerationDoesNotChangeTheSnapshot) {
  Bundle b = testing::load(kBase + cohortFor("base"));
  EXPECT_EQ(render(b, "c1", 1)->snapshot, render(b, "c1", 2)->snapshot);
}

TEST(Render, LabsFromSnapshotMatchTheRender) {
  Bundle b = testing::load(kBase + kChild + cohortFor("child", "{track: b}"));
  auto r = render(b, "c1", 7);
  ASSERT_TRUE(r.isOk());
  auto labs = labsFromSnapshot(r->cohort, r->snapshot, 7);
  ASSERT_TRUE(labs.isOk()) << labs.status().toString();
  ASSERT_EQ(labs->size(), r->labs.size());
  for (size_t i = 0; i < labs->size(); ++i) {
    EXPECT_EQ((*labs)[i].labId, r->labs[i].labId);
    EXPECT_EQ((*labs)[i].env, r->labs[i].env);
    EXPECT_EQ((*labs)[i].resources, r->labs[i].resources);
    EXPECT_EQ((*labs)[i].ports, r->labs[i].ports);
    EXPECT_EQ((*labs)[i].labels, r->labs[i].labels);
  }
  EXPECT_FALSE(labsFromSnapshot(r->cohort, TemplateSnapshot{"x", "sha256:0", "not json"}, 1).isOk());
}

TEST(Render, LiteralDollarBraceSurvives) {
  Bundle b = testing::load(
      "apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: t}\n"
      "spec: {provider: local, command: [sh, -c, \"echo $${HOME} $$5\"]}\n" + cohortFor("t"));
  auto r = render(b);
  ASSERT_TRUE(r.isOk()) << dump(b.diagnostics);
  EXPECT_EQ(r->labs[0].command[2], "echo ${HOME} $$5");
}

TEST(Render, UnknownAndInvalidCohorts) {
  Bundle b = testing::load(kBase + cohortFor("base", "{memory: lots}"));
  auto missing = render(b, "nope");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().message(), "no cohort \"nope\" in the given files; cohorts: c1");
  std::vector<Diagnostic> problems;
  auto bad = renderCohort({&b, "c1", 1}, &problems);
  EXPECT_EQ(bad.status().code(), Code::kInvalid);
  EXPECT_EQ(bad.status().message(), "cohort c1 has 1 error");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].message, "parameter \"memory\": \"lots\" is not a size (use e.g. 2Gi)");
}

TEST(Render, BrokenTemplateRendersNothing) {
  Bundle b = testing::load("apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: t}\nspek: {provider: local}\n" +
                           cohortFor("t"));
  EXPECT_EQ(errorsOf(b).size(), 2u) << dump(b.diagnostics);  // spek unknown, spec missing
  auto r = render(b);
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_EQ(r.status().message(), "cohort c1 is not valid (see the diagnostics of its files)");
}

TEST(StoredTemplates, RoundTripThroughJson) {
  Bundle b = testing::load(kBase + kChild);
  ASSERT_TRUE(b.ok()) << dump(b.diagnostics);
  std::string json = templateToJson(*b.findTemplate("child"));
  EXPECT_EQ(nlohmann::json::parse(json).dump(), json);
  auto back = templateFromStoredJson("child", json);
  ASSERT_TRUE(back.isOk()) << back.status().toString();
  EXPECT_EQ(back->name, "child");
  EXPECT_EQ(back->extends, "base");
  EXPECT_EQ(back->origin, TemplateOrigin::kStored);
  ASSERT_EQ(back->parameters.size(), 2u);
  EXPECT_EQ(back->parameters[0].defaultValue, "1Gi");
  EXPECT_EQ(templateFromStoredJson("other", json).status().message(), "stored template other is named \"child\" inside");
  EXPECT_EQ(templateFromStoredJson("x", "{oops").status().code(), Code::kInvalid);
}

TEST(StoredTemplates, CohortFindsItsTemplateInTheState) {
  Bundle files = testing::load(kBase + kChild);
  ValidateOptions opts;
  for (const auto& t : files.templates) opts.storedTemplates.push_back({t.name, templateToJson(t)});
  Bundle fromState = testing::load(cohortFor("child", "{track: b}").substr(4), "cohort.yaml", opts);
  ASSERT_TRUE(fromState.diagnostics.empty()) << dump(fromState.diagnostics);
  Bundle fromFiles = testing::load(kBase + kChild + cohortFor("child", "{track: b}"));
  EXPECT_EQ(render(fromState)->snapshot, render(fromFiles)->snapshot);
  // Both templates it needed are in the bundle, marked as coming from the state.
  ASSERT_EQ(fromState.templates.size(), 2u);
  EXPECT_EQ(fromState.templates[0].origin, TemplateOrigin::kStored);
}

TEST(TemplateDirs, TemplatesAreFoundAndOnlyUsedOnesCount) {
  testing::TempDir dir;
  dir.write("tpl/base.yaml", kBase);
  dir.write("tpl/broken.yaml", "apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: broken}\nspec: {provider: nope}\n");
  dir.write("tpl/notes.txt", "not a template");
  ValidateOptions opts;
  opts.templateDirs = {dir.path() + "/tpl"};
  Bundle b = testing::load(cohortFor("base").substr(4), "cohort.yaml", opts);
  EXPECT_TRUE(b.diagnostics.empty()) << dump(b.diagnostics);
  ASSERT_EQ(b.templates.size(), 1u);
  EXPECT_EQ(b.templates[0].origin, TemplateOrigin::kTemplateDir);
  EXPECT_TRUE(render(b).isOk());
  // The broken one is reported when a cohort uses it, in its own file.
  Bundle c = testing::load(cohortFor("broken").substr(4), "cohort.yaml", opts);
  auto errs = errorsOf(c);
  ASSERT_EQ(errs.size(), 1u) << dump(c.diagnostics);
  EXPECT_EQ(errs[0].file, dir.path() + "/tpl/broken.yaml");
  EXPECT_EQ(errs[0].message.rfind("unknown provider \"nope\"", 0), 0u);
}

TEST(TemplateDirs, FilesGivenWinOverDirs) {
  testing::TempDir dir;
  std::string other = kBase;
  other.replace(other.find("pids: 256"), 9, "pids: 100");
  dir.write("tpl/base.yaml", other);
  ValidateOptions opts;
  opts.templateDirs = {dir.path() + "/tpl"};
  Bundle b = testing::load(kBase + cohortFor("base"), "t.yaml", opts);
  EXPECT_EQ(render(b)->labs[0].resources.pids, 256);
}

TEST(CohortJson, RoundTrip) {
  testing::TempDir dir;
  Bundle b = loadFiles({std::string(DARASA_SOURCE_DIR) + "/examples/templates/cyber-101.yaml",
                        std::string(DARASA_SOURCE_DIR) + "/examples/cohorts/ksg-cyber-2026-01.yaml"},
                       {});
  ASSERT_TRUE(b.ok()) << dump(b.diagnostics);
  auto r = render(b, "ksg-cyber-2026-01");
  ASSERT_TRUE(r.isOk());
  nlohmann::json j = r->cohort;
  EXPECT_EQ(j["quota"]["labSeconds"], 144000);
  EXPECT_EQ(j["quota"]["budgetMilli"], 120500);
  EXPECT_EQ(j["between"], "stop");
  EXPECT_EQ(j["leadTimeSeconds"], 900);
  EXPECT_EQ(j["graceSeconds"], 600);
  EXPECT_EQ(j["schedule"]["sessions"][0]["repeat"], "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=8");
  EXPECT_EQ(j.get<CohortSpec>(), r->cohort);
  nlohmann::json s = r->snapshot;
  EXPECT_EQ(s.get<TemplateSnapshot>(), r->snapshot);
  EXPECT_EQ(r->cohort.trainees.size(), 8u);
  EXPECT_EQ(r->cohort.trainees[5].name, "Njeri Wairimu, Jr.");
}

}  // namespace
}  // namespace darasa::templates
