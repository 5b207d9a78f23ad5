// The daemon config (darasa.yaml): defaults, every field read, and a located
// error (or warning) for each kind of mistake a person makes in it.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "templates/config.h"
#include "test_util.h"

namespace darasa::templates {
namespace {
using testing::dump;
using testing::TempDir;

const std::string kHead = "apiVersion: darasa/v1\nkind: DaemonConfig\n";

ConfigOptions builtins() {
  ConfigOptions o;
  o.builtinProviders = {"docker", "local", "podman"};
  o.discoveredPlugins = {"procs"};
  return o;
}

std::vector<Diagnostic> errorsOf(const ConfigLoad& l) {
  std::vector<Diagnostic> out;
  for (const auto& d : l.diagnostics)
    if (d.severity == Severity::kError) out.push_back(d);
  return out;
}

// Exactly one error, at line:col, whose message contains `text`.
void expectOneError(const ConfigLoad& l, int line, int col, const std::string& text) {
  auto errs = errorsOf(l);
  ASSERT_EQ(errs.size(), 1u) << dump(l.diagnostics);
  EXPECT_EQ(errs[0].line, line) << dump(errs);
  EXPECT_EQ(errs[0].column, col) << dump(errs);
  EXPECT_NE(errs[0].message.find(text), std::string::npos) << errs[0].message;
  EXPECT_FALSE(l.ok());
}

TEST(DaemonConfig, MinimalFileGivesTheDefaults) {
  auto l = parseDaemonConfig("/etc/darasa/darasa.yaml", kHead);
  ASSERT_TRUE(l.ok()) << dump(l.diagnostics);
  const auto& c = *l.config;
  EXPECT_EQ(c.listenAddress(), "127.0.0.1:8440");
  EXPECT_TRUE(c.listenLoopback);
  EXPECT_EQ(c.stateDir, "");
  EXPECT_EQ(c.logFile, "-");
  EXPECT_EQ(c.logLevel, "info");
  EXPECT_EQ(c.tick, std::chrono::seconds(10));
  EXPECT_TRUE(c.plugins.empty());
  EXPECT_TRUE(l.diagnostics.empty()) << dump(l.diagnostics);
}

TEST(DaemonConfig, ReadsEveryFieldAndResolvesPathsAgainstTheFile) {
  TempDir dir;
  dir.write("tls/cert.pem", "cert");
  std::string key = dir.write("tls/key.pem", "key");
  ::chmod(key.c_str(), 0600);
  std::string plugin = dir.write("plugins/darasa-provider-procs", "#!/bin/sh\n");
  ::chmod(plugin.c_str(), 0755);
  std::string yaml = kHead + R"(stateDir: state
listen: 127.0.0.1:0
tls: {cert: tls/cert.pem, key: tls/key.pem}
tick: 500ms
resync: 2m
shutdownTimeout: 3s
reconcile: {parallelism: 8, callTimeout: 90s, maxAttempts: 4, failureBackoff: 10s}
api: {maxBody: 1Mi}
log: {file: logs/daemon.log, level: debug}
providers:
  docker: {host: unix:///run/podman/podman.sock}
  procs: {root: /tmp/x}
plugins:
  - {name: procs, path: plugins/darasa-provider-procs}
)";
  std::filesystem::create_directories(dir.path() + "/logs");
  auto l = parseDaemonConfig(dir.path() + "/darasa.yaml", yaml, builtins());
  ASSERT_TRUE(l.ok()) << dump(l.diagnostics);
  const auto& c = *l.config;
  EXPECT_EQ(c.stateDir, dir.path() + "/state");
  EXPECT_EQ(c.listenPort, 0);
  EXPECT_EQ(c.tlsCert, dir.path() + "/tls/cert.pem");
  EXPECT_EQ(c.tlsKey, dir.path() + "/tls/key.pem");
  EXPECT_EQ(c.tick, std::chrono::milliseconds(500));
  EXPECT_EQ(c.resync, std::chrono::minutes(2));
  EXPECT_EQ(c.shutdownTimeout, std::chrono::seconds(3));
  EXPECT_EQ(c.parallelism, 8);
  EXPECT_EQ(c.callTimeout, std::chrono::seconds(90));
  EXPECT_EQ(c.maxAttempts, 4);
  EXPECT_EQ(c.failureBackoff, std::chrono::seconds(10));
  EXPECT_EQ(c.maxBodyBytes, 1u << 20);
  EXPECT_EQ(c.logFile, dir.path() + "/logs/daemon.log");
  EXPECT_EQ(c.logLevel, "debug");
  EXPECT_EQ(c.providers.at("docker").at("host"), "unix:///run/podman/podman.sock");
  EXPECT_EQ(c.providers.at("procs").at("root"), "/tmp/x");
  ASSERT_EQ(c.plugins.size(), 1u);
  EXPECT_EQ(c.plugins[0].name, "procs");
  EXPECT_EQ(c.plugins[0].path, plugin);
  EXPECT_TRUE(l.diagnostics.empty()) << dump(l.diagnostics);
}

TEST(DaemonConfig, UnknownKeySuggestsTheRightOne) {
  auto l = parseDaemonConfig("d.yaml", kHead + "listen: 127.0.0.1:8440\nlisten_addr: x\nlog:\n  levle: debug\n");
  auto errs = errorsOf(l);
  ASSERT_EQ(errs.size(), 2u) << dump(l.diagnostics);
  EXPECT_EQ(errs[0].line, 4);
  EXPECT_EQ(errs[0].column, 1);
  EXPECT_NE(errs[0].message.find("unknown field \"listen_addr\""), std::string::npos) << errs[0].message;
  EXPECT_EQ(errs[1].line, 6);
  EXPECT_EQ(errs[1].column, 3);
  EXPECT_NE(errs[1].message.find("did you mean \"level\"?"), std::string::npos) << errs[1].message;
  // Printed like every other located error: file:line:col, the line, a caret.
  EXPECT_NE(formatDiagnostic(errs[1]).find("d.yaml:6:3: error:"), std::string::npos);
  EXPECT_NE(formatDiagnostic(errs[1]).find("  levle: debug\n      |   ^"), std::string::npos) << formatDiagnostic(errs[1]);
}

TEST(DaemonConfig, WrongKindOrApiVersion) {
  expectOneError(parseDaemonConfig("d.yaml", "apiVersion: darasa/v2\nkind: DaemonConfig\n"), 1, 13,
                 "unsupported apiVersion");
  auto cohort = parseDaemonConfig("d.yaml", "apiVersion: darasa/v1\nkind: Cohort\n");
  expectOneError(cohort, 2, 7, "not a daemon config");
  EXPECT_NE(errorsOf(cohort)[0].message.find("darasa apply"), std::string::npos);
  expectOneError(parseDaemonConfig("d.yaml", "apiVersion: darasa/v1\n"), 1, 1, "missing required field \"kind\"");
  expectOneError(parseDaemonConfig("d.yaml", ""), 0, 0, "file is empty");
  expectOneError(parseDaemonConfig("d.yaml", "- a\n- b\n"), 1, 1, "must be a map");
}

TEST(DaemonConfig, YamlSyntaxErrorIsLocated) {
  auto l = parseDaemonConfig("d.yaml", kHead + "log: {level: debug\n");
  ASSERT_FALSE(l.ok());
  ASSERT_FALSE(errorsOf(l).empty());
  EXPECT_GT(errorsOf(l)[0].line, 0) << dump(l.diagnostics);
}

TEST(DaemonConfig, WrongTypes) {
  expectOneError(parseDaemonConfig("d.yaml", kHead + "log: debug\n"), 3, 6, "log must be a map, got \"debug\"");
  expectOneError(parseDaemonConfig("d.yaml", kHead + "listen: [a, b]\n"), 3, 9, "must be a single value");
  expectOneError(parseDaemonConfig("d.yaml", kHead + "reconcile: {parallelism: many}\n"), 3, 26,
                 "parallelism must be a whole number");
  expectOneError(parseDaemonConfig("d.yaml", kHead + "reconcile: {parallelism: 1000}\n"), 3, 26,
                 "between 0 and 256");
  expectOneError(parseDaemonConfig("d.yaml", kHead + "plugins: {name: x}\n"), 3, 10, "plugins must be a list");
  expectOneError(parseDaemonConfig("d.yaml", kHead + "providers:\n  docker: {host: [1]}\n"), 4, 18,
                 "must be a string");
  expectOneError(parseDaemonConfig("d.yaml", kHead + "log: {level: verbose}\n"), 3, 14,
                 "level \"verbose\" is not one of debug, info, warn, error");
  expectOneError(parseDaemonConfig("d.yaml", kHead + "api: {maxBody: 2 GB}\n"), 3, 16, "is not a size");
}

TEST(DaemonConfig, BadDurations) {
  expectOneError(parseDaemonConfig("d.yaml", kHead + "tick: soon\n"), 3, 7, "tick \"soon\" is not a duration");
  expectOneError(parseDaemonConfig("d.yaml", kHead + "tick: 10ms\n"), 3, 7, "out of range (100ms to 1h)");
  expectOneError(parseDaemonConfig("d.yaml", kHead + "reconcile:\n  callTimeout: -5s\n"), 4, 16, "not a duration");
  auto ok = parseDaemonConfig("d.yaml", kHead + "tick: 1h\nshutdownTimeout: 0\n");
  ASSERT_TRUE(ok.ok()) << dump(ok.diagnostics);
  EXPECT_EQ(ok.config->tick, std::chrono::hours(1));
  EXPECT_EQ(ok.config->shutdownTimeout, std::chrono::milliseconds(0));
}

TEST(DaemonConfig, BadAddresses) {
  expectOneError(parseDaemonConfig("d.yaml", kHead + "listen: 8440\n"), 3, 9, "use HOST:PORT");
  expectOneError(parseDaemonConfig("d.yaml", kHead + "listen: 127.0.0.1:99999\n"), 3, 9, "port \"99999\"");
  expectOneError(parseDaemonConfig("d.yaml", kHead + "listen: \"127.0.0.1:\"\n"), 3, 9, "port \"\"");
  expectOneError(parseDaemonConfig("d.yaml", kHead + "listen: \"::1:8440\"\n"), 3, 9, "in brackets");
  expectOneError(parseDaemonConfig("d.yaml", kHead + "listen: \"[::g]:8440\"\n"), 3, 9, "not an IPv6 address");
  expectOneError(parseDaemonConfig("d.yaml", kHead + "listen: \"exa mple:80\"\n"), 3, 9, "not a host name");
  auto v6 = parseDaemonConfig("d.yaml", kHead + "listen: \"[::1]:9000\"\n");
  ASSERT_TRUE(v6.ok()) << dump(v6.diagnostics);
  EXPECT_EQ(v6.config->listenHost, "::1");
  EXPECT_TRUE(v6.config->listenLoopback);
  EXPECT_EQ(v6.config->listenAddress(), "[::1]:9000");
  auto lh = parseDaemonConfig("d.yaml", kHead + "listen: localhost:9000\n");
  ASSERT_TRUE(lh.ok());
  EXPECT_TRUE(lh.config->listenLoopback);
  auto other127 = parseListenAddress("127.8.9.1:1", nullptr);
  ASSERT_TRUE(other127);
  EXPECT_TRUE(other127->loopback);
}

TEST(DaemonConfig, NonLoopbackAddressIsAcceptedWithALoudWarning) {
  auto l = parseDaemonConfig("d.yaml", kHead + "listen: 0.0.0.0:8440\n");
  ASSERT_TRUE(l.ok()) << dump(l.diagnostics);
  EXPECT_FALSE(l.config->listenLoopback);
  ASSERT_EQ(l.diagnostics.size(), 1u);
  EXPECT_EQ(l.diagnostics[0].severity, Severity::kWarning);
  EXPECT_EQ(l.diagnostics[0].line, 3);
  EXPECT_NE(l.diagnostics[0].message.find("other machines"), std::string::npos);
  EXPECT_NE(l.diagnostics[0].message.find("configure tls"), std::string::npos) << l.diagnostics[0].message;
}

TEST(DaemonConfig, TlsFilesMustExist) {
  TempDir dir;
  dir.write("cert.pem", "x");
  std::string file = dir.path() + "/d.yaml";
  auto missing = parseDaemonConfig(file, kHead + "tls:\n  cert: cert.pem\n  key: nokey.pem\n");
  expectOneError(missing, 5, 8, "key file \"nokey.pem\" not found (" + dir.path() + "/nokey.pem)");
  expectOneError(parseDaemonConfig(file, kHead + "tls: {cert: cert.pem}\n"), 3, 1, "missing required field \"key\"");
  expectOneError(parseDaemonConfig(file, kHead + "tls: {cert: ., key: cert.pem}\n"), 3, 13, "not a regular file");
  // A key other users can read works but is warned about.
  std::string key = dir.write("key.pem", "k");
  ::chmod(key.c_str(), 0644);
  auto loose = parseDaemonConfig(file, kHead + "tls: {cert: cert.pem, key: key.pem}\n");
  ASSERT_TRUE(loose.ok()) << dump(loose.diagnostics);
  ASSERT_EQ(loose.diagnostics.size(), 1u);
  EXPECT_NE(loose.diagnostics[0].message.find("chmod 600"), std::string::npos);
}

TEST(DaemonConfig, PluginsMustBeExecutableWithFreeNames) {
  TempDir dir;
  std::string exe = dir.write("p.sh", "#!/bin/sh\n");
  ::chmod(exe.c_str(), 0755);
  std::string noexec = dir.write("q.sh", "#!/bin/sh\n");
  ::chmod(noexec.c_str(), 0644);
  std::string file = dir.path() + "/d.yaml";
  expectOneError(parseDaemonConfig(file, kHead + "plugins:\n  - {name: procs, path: q.sh}\n", builtins()), 4, 25,
                 "not an executable file");
  expectOneError(parseDaemonConfig(file, kHead + "plugins:\n  - {name: procs, path: none.sh}\n", builtins()), 4, 25,
                 "not found");
  expectOneError(parseDaemonConfig(file, kHead + "plugins:\n  - {name: docker, path: p.sh}\n", builtins()), 4, 12,
                 "taken by a built-in provider");
  expectOneError(parseDaemonConfig(file, kHead + "plugins:\n  - {name: Procs, path: p.sh}\n", builtins()), 4, 12,
                 "is not valid");
  expectOneError(parseDaemonConfig(file, kHead + "plugins:\n  - {name: a, path: p.sh}\n  - {name: a, path: p.sh}\n",
                                   builtins()),
                 5, 12, "duplicate plugin \"a\" (also at line 4)");
  expectOneError(parseDaemonConfig(file, kHead + "plugins:\n  - {name: a}\n", builtins()), 4, 5,
                 "missing required field \"path\"");
  expectOneError(parseDaemonConfig(file, kHead + "plugins:\n  - {name: a, path: p.sh, args: x}\n", builtins()), 4,
                 27, "unknown field \"args\"");
}

TEST(DaemonConfig, ProviderOptionsOnlyForKnownProviders) {
  auto l = parseDaemonConfig("d.yaml", kHead + "providers:\n  dokcer: {host: x}\n", builtins());
  expectOneError(l, 4, 3, "unknown provider \"dokcer\" (did you mean \"docker\"?)");
  // A plugin named in the same file may be configured, and so may a discovered one.
  TempDir dir;
  std::string exe = dir.write("p.sh", "#!/bin/sh\n");
  ::chmod(exe.c_str(), 0755);
  auto ok = parseDaemonConfig(dir.path() + "/d.yaml",
                              kHead + "plugins: [{name: mine, path: p.sh}]\nproviders:\n  mine: {a: b}\n  procs:\n",
                              builtins());
  ASSERT_TRUE(ok.ok()) << dump(ok.diagnostics);
  EXPECT_EQ(ok.config->providers.at("mine").at("a"), "b");
  EXPECT_TRUE(ok.config->providers.at("procs").empty());
  // Without a list of known providers, names are not checked.
  EXPECT_TRUE(parseDaemonConfig("d.yaml", kHead + "providers:\n  anything: {}\n").ok());
}

TEST(DaemonConfig, EveryMistakeIsReportedAtOnce) {
  auto l = parseDaemonConfig("d.yaml", kHead + "listen: nowhere\ntick: x\nlog: {level: loud}\nfoo: 1\n", builtins());
  EXPECT_EQ(errorsOf(l).size(), 4u) << dump(l.diagnostics);
  // In file order.
  int last = 0;
  for (const auto& e : errorsOf(l)) {
    EXPECT_GE(e.line, last);
    last = e.line;
  }
}

TEST(DaemonConfig, LoadFromFile) {
  TempDir dir;
  std::string file = dir.write("darasa.yaml", kHead + "log: {file: -}\n");
  auto l = loadDaemonConfig(file);
  ASSERT_TRUE(l.ok()) << dump(l.diagnostics);
  EXPECT_EQ(l.config->sourceFile, file);
  auto missing = loadDaemonConfig(dir.path() + "/nope.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.diagnostics.at(0).message.find("config file"), std::string::npos);
  EXPECT_NE(missing.diagnostics.at(0).message.find("not found"), std::string::npos);
  auto nodir = parseDaemonConfig(file, kHead + "log: {file: no/such/dir/d.log}\n");
  expectOneError(nodir, 3, 13, "does not exist");
}

TEST(DaemonConfig, ReloadDiffSaysWhatNeedsARestart) {
  DaemonConfig a;
  DaemonConfig b = a;
  b.logLevel = "debug";
  b.tick = std::chrono::seconds(1);
  b.listenPort = 9999;
  b.plugins.push_back({"new", "/bin/true"});
  b.providers["docker"]["host"] = "unix:///x";
  auto ch = diffDaemonConfig(a, b);
  std::string live, restart;
  for (const auto& s : ch.live) live += s + ";";
  for (const auto& s : ch.needRestart) restart += s + ";";
  EXPECT_NE(live.find("log.level info -> debug"), std::string::npos) << live;
  EXPECT_NE(live.find("tick"), std::string::npos) << live;
  EXPECT_NE(restart.find("plugin new added"), std::string::npos) << restart;
  EXPECT_NE(restart.find("listen 127.0.0.1:8440 -> 127.0.0.1:9999"), std::string::npos) << restart;
  EXPECT_NE(restart.find("providers.docker"), std::string::npos) << restart;
  EXPECT_TRUE(diffDaemonConfig(a, a).live.empty());
  EXPECT_TRUE(diffDaemonConfig(a, a).needRestart.empty());
}

TEST(DaemonConfig, TheExampleLoadsWithoutAProblem) {
  std::string file = std::string(DARASA_SOURCE_DIR) + "/examples/darasa.yaml";
  auto l = loadDaemonConfig(file, builtins());
  ASSERT_TRUE(l.ok()) << dump(l.diagnostics);
  EXPECT_TRUE(l.diagnostics.empty()) << dump(l.diagnostics);
  EXPECT_TRUE(l.config->listenLoopback);
  EXPECT_EQ(l.config->providers.at("podman").at("host"), "unix:///run/podman/podman.sock");
}

}  // namespace
}  // namespace darasa::templates

namespace darasa::templates {
namespace {

TEST(DaemonConfigPolicies, CapacityAndPricesPerProvider) {
  auto l = parseDaemonConfig("d.yaml", kHead +
                                           "capacity:\n  local: {maxLabs: 40, cpus: 500m, memory: 1.5Gi}\n"
                                           "prices:\n  docker: {labHour: 0.05, cpuHour: \"2\", gibHour: 0.125}\n");
  ASSERT_TRUE(l.ok()) << dump(l.diagnostics);
  const auto& c = *l.config;
  ASSERT_EQ(c.capacity.count("local"), 1u);
  EXPECT_EQ(c.capacity.at("local").maxLabs, 40);
  EXPECT_EQ(c.capacity.at("local").cpuMillis, 500);
  EXPECT_EQ(c.capacity.at("local").memoryBytes, 1536LL << 20);
  ASSERT_EQ(c.prices.count("docker"), 1u);
  EXPECT_EQ(c.prices.at("docker").perLabHourMilli, 50);
  EXPECT_EQ(c.prices.at("docker").perCpuHourMilli, 2000);
  EXPECT_EQ(c.prices.at("docker").perGibHourMilli, 125);
}

TEST(DaemonConfigPolicies, BadCapacityAndPricesAreLocated) {
  auto bad = parseDaemonConfig("d.yaml", kHead + "capacity:\n  local: {maxLab: 40}\n");
  expectOneError(bad, 4, 11, "unknown field \"maxLab\"");
  auto price = parseDaemonConfig("d.yaml", kHead + "prices:\n  local:\n    labHour: cheap\n");
  expectOneError(price, 5, 14, "labHour \"cheap\" is not a non-negative decimal price");
}

}  // namespace
}  // namespace darasa::templates
