// One test per LabTemplate validation rule: the exact line, column and message
// a person would see.
#include "test_util.h"

namespace darasa::templates {
namespace {
using testing::dump;
using testing::errorsOf;
using testing::kTemplateHead;

// A template whose spec body starts on line 5 ("spec:" is line 4).
Bundle spec(const std::string& body, ValidateOptions opts = {}) {
  return testing::load(std::string(kTemplateHead) + "spec:\n" + body, "t.yaml", opts);
}

TEST(TemplateValidation, MinimalLocalTemplateIsValid) {
  Bundle b = spec("  provider: local\n");
  EXPECT_TRUE(b.diagnostics.empty()) << dump(b.diagnostics);
  ASSERT_EQ(b.templates.size(), 1u);
  EXPECT_EQ(b.templates[0].name, "lab");
  EXPECT_EQ(b.templates[0].sourceFile, "t.yaml");
}

TEST(TemplateValidation, UnknownFieldSuggestsTheNearestName) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  netwrok: isolated\n"), 6, 3,
                   "unknown field \"netwrok\" in spec (did you mean \"network\"?)");
}

TEST(TemplateValidation, UnknownFieldWithoutANearName) {
  Bundle b = spec("  provider: local\n  colour: blue\n");
  EXPECT_ONE_ERROR(b, 6, 3, "unknown field \"colour\" in spec");
  EXPECT_EQ(errorsOf(b)[0].path, "spec.colour");
}

TEST(TemplateValidation, UnknownNestedField) {
  Bundle b = spec("  provider: local\n  resources: {cpus: 1, memroy: 1Gi}\n");
  EXPECT_ONE_ERROR(b, 6, 24, "unknown field \"memroy\" in spec.resources (did you mean \"memory\"?)");
  EXPECT_EQ(errorsOf(b)[0].path, "spec.resources.memroy");
}

TEST(TemplateValidation, CaseSlipIsSuggested) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  lifetime: {idletimeout: 30m}\n"), 6, 14,
                   "unknown field \"idletimeout\" in spec.lifetime (did you mean \"idleTimeout\"?)");
}

TEST(TemplateValidation, UnknownTopLevelField) {
  Bundle b = testing::load(std::string(kTemplateHead) + "spce:\n  provider: local\n");
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 2u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].line, 1);
  EXPECT_EQ(errs[0].message, "missing required field \"spec\"");
  EXPECT_EQ(errs[1].line, 4);
  EXPECT_EQ(errs[1].column, 1);
  EXPECT_EQ(errs[1].message, "unknown field \"spce\" (did you mean \"spec\"?)");
}

TEST(TemplateValidation, MissingProviderPointsAtSpec) {
  Bundle b = spec("  image: img:1\n");
  EXPECT_ONE_ERROR(b, 4, 1, "missing required field \"provider\" in spec");
  EXPECT_EQ(errorsOf(b)[0].path, "spec.provider");
}

TEST(TemplateValidation, ContainerProvidersNeedAnImage) {
  EXPECT_ONE_ERROR(spec("  provider: docker\n"), 4, 1,
                   "missing required field \"image\" in spec (provider docker needs one)");
}

TEST(TemplateValidation, UnknownProviderListsTheKnownOnes) {
  EXPECT_ONE_ERROR(spec("  provider: dockr\n  image: img:1\n"), 5, 13,
                   "unknown provider \"dockr\" (did you mean \"docker\"?); known providers: docker, libvirt, local, "
                   "lxd, podman");
}

TEST(TemplateValidation, KnownProvidersComeFromTheCaller) {
  ValidateOptions opts;
  opts.knownProviders = {"local", "exec-vbox", "docker"};
  EXPECT_TRUE(spec("  provider: exec-vbox\n", opts).ok());
  EXPECT_ONE_ERROR(spec("  provider: podman\n  image: x\n", opts), 5, 13,
                   "unknown provider \"podman\"; known providers: docker, exec-vbox, local");
}

TEST(TemplateValidation, WrongTypesAreReportedAtTheValue) {
  Bundle b = spec("  provider: local\n  resources: 2\n  command: sleep 10\n  env: [A=1]\n");
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 3u) << dump(b.diagnostics);
  EXPECT_EQ(std::make_tuple(errs[0].line, errs[0].column, errs[0].message),
            std::make_tuple(6, 14, std::string("resources must be a map, got \"2\"")));
  EXPECT_EQ(std::make_tuple(errs[1].line, errs[1].column, errs[1].message),
            std::make_tuple(7, 12, std::string("command must be a list, got \"sleep 10\"")));
  EXPECT_EQ(std::make_tuple(errs[2].line, errs[2].column, errs[2].message),
            std::make_tuple(8, 8, std::string("env must be a map, got a list")));
}

TEST(TemplateValidation, CommandItemsMustBeStrings) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  command: [sh, [x]]\n"), 6, 17,
                   "command[1] must be a string, got a list");
}

TEST(TemplateValidation, MemoryMustBeASize) {
  Bundle b = spec("  provider: local\n  resources:\n    memory: 2 GB\n");
  EXPECT_ONE_ERROR(b, 7, 13, "memory \"2 GB\" is not a size (use e.g. 2Gi)");
  EXPECT_EQ(errorsOf(b)[0].path, "spec.resources.memory");
}

TEST(TemplateValidation, ZeroCapsAreRefused) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  resources: {memory: 0}\n"), 6, 23,
                   "memory must be greater than 0 (leave it out for no cap)");
}

TEST(TemplateValidation, CpusMustBeACpuCount) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  resources: {cpus: two}\n"), 6, 21,
                   "cpus \"two\" is not a CPU count (use e.g. 1, 0.5 or 500m)");
}

TEST(TemplateValidation, PidsMustBeAWholeNumber) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  resources: {pids: many}\n"), 6, 21,
                   "pids must be a whole number, got \"many\"");
}

TEST(TemplateValidation, ResourcesParseExactly) {
  Bundle b = spec("  provider: local\n  resources: {cpus: 500m, memory: 1.5Gi, pids: 64, disk: 10G}\n"
                  "---\napiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: c}\n"
                  "spec: {template: lab, trainees: [{id: a, name: A}]}\n");
  ASSERT_TRUE(b.ok()) << dump(b.diagnostics);
  auto r = renderCohort({&b, "c", 1}, nullptr);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->labs[0].resources, (Resources{500, 1610612736, 64, 10000000000}));
}

TEST(TemplateValidation, PortProblems) {
  Bundle b = spec(
      "  provider: local\n"
      "  ports:\n"
      "    - {name: ssh, port: 70000}\n"
      "    - {name: web, port: http}\n"
      "    - {name: ssh, port: 22}\n"
      "    - {name: SSH2, port: 22, protocol: udp}\n"
      "    - {port: 23}\n");
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 7u) << dump(b.diagnostics);
  auto at = [&](size_t i) { return std::make_tuple(errs[i].line, errs[i].column, errs[i].message); };
  EXPECT_EQ(at(0), std::make_tuple(7, 25, std::string("port must be between 1 and 65535, got 70000")));
  EXPECT_EQ(at(1), std::make_tuple(8, 25, std::string("port must be a whole number, got \"http\"")));
  EXPECT_EQ(at(2), std::make_tuple(9, 14, std::string("duplicate port name \"ssh\" (first on line 7)")));
  EXPECT_EQ(at(3), std::make_tuple(10, 14, std::string("port name \"SSH2\" is not valid: use lower-case letters, digits and '-'")));
  EXPECT_EQ(at(4), std::make_tuple(10, 26, std::string("duplicate port 22 (first on line 9)")));
  EXPECT_EQ(at(5), std::make_tuple(10, 40, std::string("protocol \"udp\" is not one of tcp, http, https")));
  EXPECT_EQ(at(6), std::make_tuple(11, 7, std::string("missing required field \"name\" in spec.ports[4]")));
}

TEST(TemplateValidation, ReadinessTcpMustNameAPort) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  ports: [{name: ssh, port: 22}]\n  readiness: {tcp: sshd}\n"), 7, 20,
                   "readiness port \"sshd\" is not one of the ports (did you mean \"ssh\"?); ports: ssh");
  EXPECT_ONE_ERROR(spec("  provider: local\n  readiness: {tcp: ssh}\n"), 6, 20,
                   "readiness port \"ssh\" is not one of the ports; spec.ports is empty");
}

TEST(TemplateValidation, ReadinessTakesTcpOrExec) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  ports: [{name: ssh, port: 22}]\n  readiness: {tcp: ssh, exec: [true]}\n"),
                   7, 25, "readiness takes tcp or exec, not both");
}

TEST(TemplateValidation, ReadinessTimeoutMustBePositive) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  readiness: {exec: [true], timeout: 0s}\n"), 6, 38,
                   "timeout must be longer than 0s");
}

TEST(TemplateValidation, AccessProblems) {
  Bundle b = spec("  provider: local\n  access: {user: Trainee, credentials: [password, pasword, token]}\n");
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 3u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].column, 18);
  EXPECT_EQ(errs[0].message,
            "user \"Trainee\" is not a valid user name: use lower-case letters, digits, '_' and '-' (at most 32)");
  EXPECT_EQ(errs[1].column, 51);
  EXPECT_EQ(errs[1].message,
            "unknown credential kind \"pasword\" (did you mean \"password\"?); use password and/or ssh-key");
  EXPECT_EQ(errs[2].column, 60);
  EXPECT_EQ(errs[2].message, "unknown credential kind \"token\"; use password and/or ssh-key");
}

TEST(TemplateValidation, CredentialsChooseWhatIsHandedOut) {
  Bundle b = spec("  provider: local\n  access: {credentials: [ssh-key]}\n"
                  "---\napiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: c}\n"
                  "spec: {template: lab, trainees: [{id: a, name: A}]}\n");
  auto r = renderCohort({&b, "c", 1}, nullptr);
  ASSERT_TRUE(r.isOk()) << dump(b.diagnostics);
  EXPECT_FALSE(r->labs[0].access.password);
  EXPECT_TRUE(r->labs[0].access.sshKey);
}

TEST(TemplateValidation, NetworkMustBeAMode) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  network: isolate\n"), 6, 12,
                   "network \"isolate\" is not one of none, isolated, cohort, host (did you mean \"isolated\"?)");
}

TEST(TemplateValidation, LifetimeDurations) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  lifetime: {idleTimeout: 5 minutes}\n"), 6, 27,
                   "idleTimeout \"5 minutes\" is not a duration (use e.g. 90s, 15m, 1h30m or 2d)");
}

TEST(TemplateValidation, WorkdirMustBeAbsolute) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  workdir: home/trainee\n"), 6, 12,
                   "workdir must be an absolute path, got \"home/trainee\"");
}

TEST(TemplateValidation, EnvNamesAreChecked) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  env: {MY-VAR: 1, OK_1: two}\n"), 6, 9,
                   "environment variable name \"MY-VAR\" is not valid: use letters, digits and '_'");
}

TEST(TemplateValidation, DarasaLabelsAreReserved) {
  Bundle b = spec("  provider: local\n  labels: {darasa.lab: x, \"bad key\": y, team: blue}\n");
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 2u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].column, 12);
  EXPECT_EQ(errs[0].message, "label \"darasa.lab\" is reserved: darasa sets the darasa.* labels itself");
  EXPECT_EQ(errs[1].column, 27);
  EXPECT_EQ(errs[1].message,
            "label key \"bad key\" is not valid: use letters, digits, '.', '_', '-' and '/' (at most 63)");
}

TEST(TemplateValidation, NameMustBeADnsLabel) {
  Bundle b = testing::load("apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: Cyber_101}\nspec: {provider: local}\n");
  EXPECT_ONE_ERROR(b, 3, 18,
                   "template name \"Cyber_101\" is not valid: use lower-case letters, digits and '-', starting and "
                   "ending with a letter or digit (at most 63)");
}

TEST(TemplateValidation, MissingName) {
  Bundle b = testing::load("apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {labels: {a: b}}\nspec: {provider: local}\n");
  EXPECT_ONE_ERROR(b, 3, 1, "missing required field \"name\" in metadata");
}

TEST(TemplateValidation, ApiVersionAndKind) {
  EXPECT_ONE_ERROR(testing::load("apiVersion: darasa/v2\nkind: LabTemplate\nmetadata: {name: a}\nspec: {provider: local}\n"),
                   1, 13, "unsupported apiVersion \"darasa/v2\" (expected darasa/v1)");
  EXPECT_ONE_ERROR(testing::load("kind: LabTemplate\nmetadata: {name: a}\nspec: {provider: local}\n"), 1, 1,
                   "missing required field \"apiVersion\" (use apiVersion: darasa/v1)");
  EXPECT_ONE_ERROR(testing::load("apiVersion: darasa/v1\nkind: LabTemplat\nmetadata: {name: a}\n"), 2, 7,
                   "unknown kind \"LabTemplat\" (did you mean \"LabTemplate\"?); expected LabTemplate or Cohort");
  EXPECT_ONE_ERROR(testing::load("apiVersion: darasa/v1\nmetadata: {name: a}\n"), 1, 1,
                   "missing required field \"kind\" (LabTemplate or Cohort)");
}

TEST(TemplateValidation, ParameterDeclarations) {
  Bundle b = testing::load(std::string(kTemplateHead) +
                           "parameters:\n"
                           "  - {name: memory, type: size, default: 2 GB}\n"
                           "  - {name: memory, type: int}\n"
                           "  - {name: level, type: number}\n"
                           "  - {name: colour, type: enum}\n"
                           "  - {name: n, type: int, values: [1, 2]}\n"
                           "  - {name: 2fast}\n"
                           "spec: {provider: local}\n");
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 6u) << dump(b.diagnostics);
  auto at = [&](size_t i) { return std::make_tuple(errs[i].line, errs[i].column, errs[i].message); };
  EXPECT_EQ(at(0), std::make_tuple(5, 41, std::string("default of parameter \"memory\": \"2 GB\" is not a size (use e.g. 2Gi)")));
  EXPECT_EQ(at(1), std::make_tuple(6, 12, std::string("duplicate parameter \"memory\" (first on line 5)")));
  EXPECT_EQ(at(2), std::make_tuple(7, 25, std::string("type \"number\" is not one of string, int, bool, size, duration, enum")));
  EXPECT_EQ(at(3), std::make_tuple(8, 5, std::string("parameter \"colour\" of type enum needs values: [...]")));
  EXPECT_EQ(at(4), std::make_tuple(9, 26, std::string("values is only for parameters of type enum")));
  EXPECT_EQ(at(5), std::make_tuple(10, 12, std::string("parameter name \"2fast\" is not valid: use letters, digits and '_', not starting with a digit")));
}

TEST(TemplateValidation, RequiredWithDefaultIsAWarning) {
  Bundle b = testing::load(std::string(kTemplateHead) +
                           "parameters: [{name: m, type: size, default: 1Gi, required: true}]\nspec: {provider: local}\n");
  EXPECT_TRUE(b.ok());
  ASSERT_EQ(b.diagnostics.size(), 1u);
  EXPECT_EQ(b.diagnostics[0].severity, Severity::kWarning);
  EXPECT_EQ(b.diagnostics[0].message, "parameter \"m\" has a default, so required has no effect");
}

TEST(TemplateValidation, UnknownParameterReferenceIsLocatedAtTheDollar) {
  Bundle b = testing::load(std::string(kTemplateHead) +
                           "parameters: [{name: memory, type: size, default: 1Gi}]\n"
                           "spec:\n"
                           "  provider: local\n"
                           "  env: {A: \"x ${memroy} y\", B: \"${nope}\"}\n");
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 2u) << dump(b.diagnostics);
  EXPECT_EQ(std::make_tuple(errs[0].line, errs[0].column, errs[0].message),
            std::make_tuple(7, 15, std::string("unknown parameter \"memroy\" (did you mean \"memory\"?)")));
  EXPECT_EQ(std::make_tuple(errs[1].line, errs[1].column, errs[1].message),
            std::make_tuple(7, 33, std::string("unknown parameter \"nope\"")));
  EXPECT_EQ(errs[0].path, "spec.env.A");
}

TEST(TemplateValidation, ReferenceInATemplateWithoutParameters) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  image: img:${tag}\n"), 6, 14,
                   "unknown parameter \"tag\"; this template declares no parameters");
}

TEST(TemplateValidation, UnterminatedReference) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  image: \"${image\"\n"), 6, 11,
                   "unterminated \"${\" (write $${ for a literal ${)");
}

TEST(TemplateValidation, SubstitutedValueIsTypeChecked) {
  Bundle b = testing::load(std::string(kTemplateHead) +
                           "parameters: [{name: mem, default: lots}]\n"
                           "spec:\n"
                           "  provider: local\n"
                           "  resources: {memory: \"${mem}\"}\n");
  EXPECT_ONE_ERROR(b, 7, 23, "memory \"lots\" is not a size (use e.g. 2Gi) (with ${mem} = \"lots\")");
}

TEST(TemplateValidation, DuplicateYamlKey) {
  EXPECT_ONE_ERROR(spec("  provider: local\n  provider: docker\n"), 6, 3, "duplicate key \"provider\" (first on line 5)");
}

TEST(TemplateValidation, EmptyRequiredValue) {
  EXPECT_ONE_ERROR(spec("  provider:\n"), 5, 3, "\"provider\" is empty: it needs a value");
}

TEST(TemplateValidation, AllProblemsOfAFileAtOnce) {
  Bundle b = testing::load(
      "apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: a}\n"
      "spec:\n  provider: local\n  resources: {memory: 2 GB, cpus: x}\n  network: wide\n  foo: 1\n"
      "---\n"
      "apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: B}\nspec: {provider: nope}\n");
  auto errs = errorsOf(b);
  EXPECT_EQ(errs.size(), 6u) << dump(b.diagnostics);
  // Sorted by line, then column.
  for (size_t i = 1; i < errs.size(); ++i)
    EXPECT_LE(std::make_pair(errs[i - 1].line, errs[i - 1].column), std::make_pair(errs[i].line, errs[i].column));
}

TEST(TemplateValidation, DuplicateTemplateAcrossFiles) {
  testing::TempDir dir;
  std::string body = std::string(kTemplateHead) + "spec: {provider: local}\n";
  std::string a = dir.write("a.yaml", body), c = dir.write("c.yaml", "# again\n" + body);
  Bundle b = loadFiles({a, c}, {});
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 1u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].file, c);
  EXPECT_EQ(errs[0].line, 4);
  EXPECT_EQ(errs[0].column, 18);
  EXPECT_EQ(errs[0].message, "duplicate template \"lab\" (also defined at " + a + ":3)");
  EXPECT_EQ(b.templates.size(), 1u);
}

}  // namespace
}  // namespace darasa::templates
