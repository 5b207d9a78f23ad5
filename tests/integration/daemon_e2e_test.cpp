// `darasa serve` in real time: a cohort whose only session starts ~20 s after
// it is applied and lasts 30 s (leadTime 10 s, grace 5 s). Observed through
// the API only: its labs are ready before the session starts (and not made
// long before the lead time), and are gone after the session's end plus
// grace. On the local provider always; on Podman (docker provider) at the
// same time when its API socket is there — with DARASA_REQUIRE_ENGINE=1 a
// missing engine is a failure, not a skip.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/daemon_support.h"
#include "support/command.h"

namespace darasa::testing {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::system_clock;

const char* kPodmanSocket = "/run/podman/podman.sock";
const char* kPodmanImage = "localhost/darasa/busybox-lab:1";

std::string utcLocal(Clock::time_point t) {
  std::time_t s = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

std::string templateFor(const std::string& provider) {
  if (provider == "local")
    return R"(apiVersion: darasa/v1
kind: LabTemplate
metadata: {name: timed-shell}
spec:
  provider: local
  resources: {cpus: 0.5, memory: 128Mi, pids: 64}
  ports: [{name: ssh, port: 2222}]
  access: {user: trainee, credentials: [password, ssh-key]}
  readiness: {tcp: ssh, timeout: 60s}
)";
  return std::string(R"(apiVersion: darasa/v1
kind: LabTemplate
metadata: {name: timed-box}
spec:
  provider: docker
  image: )") + kPodmanImage + R"(
  command: [/sbin/darasa-lab-init]
  resources: {cpus: 0.5, memory: 64Mi, pids: 64}
  ports: [{name: ssh, port: 22}]
  access: {user: trainee, credentials: [password, ssh-key]}
  readiness: {tcp: ssh, timeout: 90s}
)";
}

std::string timedCohort(const std::string& name, const std::string& provider, Clock::time_point start,
                        Clock::time_point end, int trainees) {
  std::string tmpl = provider == "local" ? "timed-shell" : "timed-box";
  return templateFor(provider) + "---\napiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: " + name +
         "}\nspec:\n  template: " + tmpl + "\n  timezone: UTC\n  leadTime: 10s\n  grace: 5s\n  schedule:\n" +
         "    sessions: [{start: \"" + utcLocal(start) + "\", end: \"" + utcLocal(end) + "\"}]\n  trainees:\n" +
         traineesYaml(trainees);
}

// What one run saw, in seconds from the moment the cohort was applied.
struct Timeline {
  double firstNotAbsent = -1;  // a lab left pending/destroyed (made by the daemon)
  double allReady = -1;
  double allGoneAfterReady = -1;
  std::string lastStates;
  std::string failure;
};

// Applies the cohort through the API and watches its labs until they are
// gone after the session or `limit` passes.
Timeline watchTimedCohort(ServeProcess& daemon, const std::string& token, const std::string& cohort,
                          const std::string& provider, int trainees, std::string workDir) {
  Timeline t;
  auto applied = Clock::now();
  auto start = applied + std::chrono::seconds(20), end = start + std::chrono::seconds(30);
  std::string file = workDir + "/" + cohort + ".yaml";
  writeFile(file, timedCohort(cohort, provider, start, end, trainees));
  auto r = runCommand({darasaBinary(), "apply", file, "--server", daemon.url()},
                      {{"DARASA_TOKEN", token}, {"DARASA_HOME", workDir + "/client-state"}}, 60);
  if (r.exitCode != 0) {
    t.failure = "apply --server failed: " + r.out + r.err;
    return t;
  }
  auto since = [&] { return std::chrono::duration<double>(Clock::now() - applied).count(); };
  while (since() < 90) {
    json labs = apiLabs(daemon, token, cohort);
    int ready = 0, gone = 0;
    std::string states;
    for (const auto& l : labs) {
      std::string s = labState(l);
      states += s + " ";
      if (s == "ready") ++ready;
      if (s == "destroyed") ++gone;
      if (s != "pending" && s != "destroyed" && t.firstNotAbsent < 0) t.firstNotAbsent = since();
    }
    t.lastStates = states;
    if (static_cast<int>(labs.size()) == trainees) {
      if (ready == trainees && t.allReady < 0) t.allReady = since();
      if (t.allReady >= 0 && gone == trainees) {
        t.allGoneAfterReady = since();
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return t;
}

void expectFollowsTheTimetable(const Timeline& t, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_TRUE(t.failure.empty()) << t.failure;
  std::printf("[ TIMELINE ] %s: first lab made at %.1fs, all ready at %.1fs (session at 20s), all gone at %.1fs "
              "(end+grace at 55s)\n",
              what.c_str(), t.firstNotAbsent, t.allReady, t.allGoneAfterReady);
  // Labs are made once the lead time begins (start - 10 s = 10 s after
  // apply), not at apply time; allow the daemon's tick as slack.
  EXPECT_GE(t.firstNotAbsent, 8.0) << "labs made long before the lead time";
  ASSERT_GE(t.allReady, 0) << "labs never all ready; last states: " << t.lastStates;
  EXPECT_LT(t.allReady, 20.0) << "labs must be ready before the session starts (20 s after apply)";
  // Session end 50 s + grace 5 s = 55 s: gone after that, within a few ticks.
  ASSERT_GE(t.allGoneAfterReady, 0) << "labs not gone after the session; last states: " << t.lastStates;
  EXPECT_GE(t.allGoneAfterReady, 54.0) << "labs gone before the session's end plus grace";
  EXPECT_LT(t.allGoneAfterReady, 75.0);
}

bool podmanWanted(std::string* why) {
  bool require = std::getenv("DARASA_REQUIRE_ENGINE") && std::string(std::getenv("DARASA_REQUIRE_ENGINE")) == "1";
  if (fs::exists(kPodmanSocket)) return true;
  *why = std::string("the Podman API service is not running at ") + kPodmanSocket;
  if (require) ADD_FAILURE() << *why << " and DARASA_REQUIRE_ENGINE=1";
  return false;
}

TEST(DaemonEndToEnd, LabsFollowARealTimeSessionOnLocalAndPodman) {
  TempDir localState, podmanState, work;
  std::string why;
  bool podman = podmanWanted(&why);

  // The first admin token is made on the machine, before the daemon starts.
  std::string localToken = makeToken(localState.path(), {"--role", "admin", "--name", "e2e"});
  ASSERT_EQ(localToken.rfind("darasa_", 0), 0u) << localToken;
  ServeProcess local(localState.path(), work.path(), "local");
  local.writeConfig();
  ASSERT_TRUE(local.start());

  ServeProcess engine(podmanState.path(), work.path(), "podman");
  std::string podmanToken;
  if (podman) {
    podmanToken = makeToken(podmanState.path(), {"--role", "admin"});
    engine.writeConfig(std::string("providers:\n  docker: {host: \"unix://") + kPodmanSocket + "\"}\n");
    ASSERT_TRUE(engine.start());
  }

  // Both timelines run at once: the wall time is that of one.
  Timeline onPodman;
  std::thread podmanRun([&] {
    if (podman) onPodman = watchTimedCohort(engine, podmanToken, "timedpm", "docker", 2, work.path());
  });
  Timeline onLocal = watchTimedCohort(local, localToken, "timedlc", "local", 3, work.path());
  podmanRun.join();

  expectFollowsTheTimetable(onLocal, "local provider");
  if (podman) {
    expectFollowsTheTimetable(onPodman, "docker provider on Podman");
  } else {
    std::cout << "[ SKIPPED  ] Podman part: " << why << "\n";
  }

  EXPECT_EQ(local.stop(SIGTERM), 0) << readFile(local.outputFile());
  if (podman) {
    EXPECT_EQ(engine.stop(SIGTERM), 0) << readFile(engine.outputFile());
  }
  // Nothing of the cohort runs any more.
  auto status = runCommand({darasaBinary(), "status", "timedlc", "-o", "json"}, local.env(), 60);
  ASSERT_EQ(status.exitCode, 0) << status.err;
  for (const auto& l : json::parse(status.out)) EXPECT_EQ(l.at("state"), "destroyed") << l.dump();
  // The log is JSON lines with the ids that apply, and names the lab events.
  std::string log = readFile(local.logFile());
  int lines = 0, withLab = 0;
  size_t at = 0;
  while (at < log.size()) {
    size_t nl = log.find('\n', at);
    std::string line = log.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? log.size() : nl + 1;
    if (line.empty()) continue;
    auto j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << "not a JSON line: " << line;
    EXPECT_TRUE(j.contains("ts") && j.contains("level") && j.contains("msg")) << line;
    ++lines;
    if (j.contains("lab")) {
      ++withLab;
      EXPECT_EQ(j.value("cohort", ""), "timedlc") << line;
      EXPECT_TRUE(j.contains("reconcile")) << line;
    }
  }
  EXPECT_GT(lines, 5);
  EXPECT_GE(withLab, 6) << "a line per lab for ready and for destroyed at least";
  EXPECT_EQ(log.find(localToken), std::string::npos) << "the token must never be logged";
}

}  // namespace
}  // namespace darasa::testing
