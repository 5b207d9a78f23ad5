// `darasa up` when the container engine goes away, against real Podman: a
// private `podman system service` on its own socket (never the shared one at
// /run/podman/podman.sock), the darasa binary pointed at it with DOCKER_HOST.
//
// What "the engine stopped" means here, honestly: the API service process is
// killed (SIGKILL, as a crash or `kill` of the service would) and its socket
// stops accepting connections. With Podman the API service is only the API:
// containers run under conmon, so containers already started keep running,
// as they do on a real machine when the service stops. What darasa sees is an
// engine it cannot reach ("connection refused", retryable): it retries with
// backoff, then gives up with a message naming the socket and what to start.
// A lab whose readiness probe was running when the engine died fails when its
// readiness timeout has passed (a probe that cannot reach the engine is "not
// ready yet", retryable, like any other probe failure); the template here
// keeps that timeout short (30 s) so the test does not wait long for it.
// Nothing may be recorded as ready that has no running container, and once
// the service is back, `darasa up` must converge: every lab ready, exactly
// one container per trainee, the trainee's credentials working.
//
// Cleanup removes only what carries this test's state id or cohort labels.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "support/command.h"

namespace darasa::testing {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

const char* kImage = "localhost/darasa/busybox-lab:1";

// The containers.conf of /work/shared/ENGINES.md, plus the network backend
// the shared service uses (both services share Podman's storage and network
// configuration, so they must agree on it).
const char* kContainersConf = R"([containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
[network]
network_backend = "netavark"
)";

std::string templateYaml() {
  return std::string(R"(apiVersion: darasa/v1
kind: LabTemplate
metadata: {name: box}
spec:
  provider: docker
  image: )") + kImage + R"(
  command: [/sbin/darasa-lab-init]
  resources: {cpus: 0.5, memory: 64Mi, pids: 64}
  ports: [{name: ssh, port: 22}]
  access: {user: trainee, credentials: [password, ssh-key]}
  readiness: {tcp: ssh, timeout: 30s}
  network: isolated
)";
}

std::string cohortYaml(const std::string& name, int trainees) {
  return templateYaml() + "---\napiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: " + name +
         "}\nspec:\n  template: box\n  trainees:\n" + traineesYaml(trainees);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

// A `podman system service` of this test only, on <dir>/podman.sock.
class PrivatePodman {
 public:
  explicit PrivatePodman(std::string dir) : dir_(std::move(dir)) {
    writeFile(dir_ + "/containers.conf", kContainersConf);
  }
  ~PrivatePodman() { kill(); }

  std::string socket() const { return dir_ + "/podman.sock"; }
  std::string host() const { return "unix://" + socket(); }
  std::string log() const { return readFile(dir_ + "/service.log"); }

  // Starts the service and waits until its API answers /_ping.
  ::testing::AssertionResult start() {
    std::error_code ec;
    fs::remove(socket(), ec);  // a killed service leaves its socket file behind
    pid_ = spawnCommand({"podman", "system", "service", "--time=0", host()},
                        {{"CONTAINERS_CONF", dir_ + "/containers.conf"},
                         {"HTTP_PROXY", "http://127.0.0.1:9"},
                         {"HTTPS_PROXY", "http://127.0.0.1:9"},
                         {"NO_PROXY", "127.0.0.1,localhost"},
                         {"http_proxy", "http://127.0.0.1:9"},
                         {"https_proxy", "http://127.0.0.1:9"},
                         {"no_proxy", "127.0.0.1,localhost"}},
                        dir_ + "/service.log");
    auto until = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < until) {
      if (ping()) return ::testing::AssertionSuccess();
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return ::testing::AssertionFailure() << "podman system service exited: " << log();
      }
      std::this_thread::sleep_for(100ms);
    }
    return ::testing::AssertionFailure() << "podman system service did not answer on " << host()
                                         << " within 60 s: " << log();
  }

  // The engine "stops": the API service dies at once.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
  }

  bool running() const { return pid_ > 0; }

  bool ping() const {
    auto r = runCommand({"curl", "-sf", "--max-time", "5", "--noproxy", "*", "--unix-socket", socket(),
                         "http://d/v1.41/_ping"},
                        {}, 10);
    return r.exitCode == 0 && r.out == "OK";
  }

 private:
  std::string dir_;
  int pid_ = -1;
};

class DockerEngineOutage : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(runCommand({"podman", "--version"}).exitCode, 0)
        << "podman is not installed: run scripts/podman-service.sh (scripts/test.sh does)";
    ASSERT_EQ(runCommand({"podman", "image", "exists", kImage}).exitCode, 0)
        << kImage << " is missing: run examples/images/build-busybox-lab.sh";
    ASSERT_TRUE(engine_.start());
  }

  void TearDown() override {
    if (!stateId().empty()) {
      if (!engine_.running()) (void)engine_.start();
      for (const auto& c : cohorts_) darasa({"down", c, "--wait-lock", "60"});
      // Whatever a failed step left: only this state's containers, this
      // test's cohorts' networks (through the CLI: it needs no service).
      for (const auto& id : lines(
               runCommand({"podman", "ps", "-aq", "--filter", "label=darasa.state=" + stateId()}).out))
        runCommand({"podman", "rm", "-f", "-v", id});
      // And storage-only containers (no labels) a dying service may leave
      // holding a name of this test's cohorts.
      for (const auto& name : lines(runCommand({"podman", "ps", "-a", "--external", "--format", "{{.Names}}"}).out))
        for (const auto& c : cohorts_)
          if (name.rfind("darasa-" + c + ".", 0) == 0) runCommand({"podman", "rm", "-f", name});
      for (const auto& c : cohorts_)
        for (const auto& net : lines(runCommand({"podman", "network", "ls", "-q", "--filter",
                                                 "label=darasa.cohort=" + c}).out))
          runCommand({"podman", "network", "rm", "-f", net});
    }
    engine_.kill();
  }

  std::map<std::string, std::string> env() const {
    return {{"DARASA_HOME", state_.path()}, {"DOCKER_HOST", engine_.host()}};
  }

  CommandResult darasa(std::vector<std::string> args, int timeout = 600) {
    args.insert(args.begin(), darasaBinary());
    return runCommand(args, env(), timeout);
  }

  std::string cohortName(const char* tag) {
    std::string name = std::string("outage-") + tag + "-" + std::to_string(::getpid());
    cohorts_.push_back(name);
    return name;
  }

  void apply(const std::string& cohort, int trainees) {
    trainees_ = trainees;
    writeFile(work_ / (cohort + ".yaml"), cohortYaml(cohort, trainees));
    auto r = darasa({"apply", work_ / (cohort + ".yaml")});
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  }

  std::string stateId() const {
    std::string id = readFile(state_ / "instance-id");
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }

  // This state's containers as the engine's CLI sees them (no service
  // needed): lab id → states of its containers.
  std::map<std::string, std::vector<std::string>> containers() {
    std::map<std::string, std::vector<std::string>> out;
    auto r = runCommand({"podman", "ps", "-a", "--filter", "label=darasa.state=" + stateId(), "--format", "json"});
    auto j = json::parse(r.out, nullptr, false);
    if (!j.is_array()) return out;
    for (const auto& c : j) {
      std::string lab = c.at("Labels").value("darasa.lab", "");
      out[lab].push_back(c.value("State", ""));
    }
    return out;
  }

  json status(const std::string& cohort) {
    auto r = darasa({"status", cohort, "-o", "json"});
    EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
    return json::parse(r.out, nullptr, false);
  }

  // The rule of this test: a lab recorded ready has a running container.
  void expectNothingReadyThatIsNot(const std::string& cohort) {
    auto seen = containers();
    auto labs = status(cohort);
    ASSERT_TRUE(labs.is_array()) << labs.dump();
    ASSERT_EQ(labs.size(), static_cast<size_t>(trainees_));
    for (const auto& l : labs) {
      if (l.at("state") != "ready") continue;
      const auto& states = seen[l.at("lab").get<std::string>()];
      EXPECT_EQ(std::count(states.begin(), states.end(), "running"), 1)
          << l.at("lab") << " is recorded ready but its containers are: " << json(states).dump();
    }
  }

  // Engine back: `up` converges to one running, reachable lab per trainee
  // whose credentials work.
  void expectUpConverges(const std::string& cohort) {
    auto up = darasa({"up", cohort});
    ASSERT_EQ(up.exitCode, 0) << up.out << up.err;
    EXPECT_NE(up.out.find(std::to_string(trainees_) + "/" + std::to_string(trainees_) + " labs ready"),
              std::string::npos)
        << up.out;
    auto seen = containers();
    EXPECT_EQ(seen.size(), static_cast<size_t>(trainees_)) << "labs with containers";
    for (const auto& [lab, states] : seen)
      EXPECT_EQ(states, std::vector<std::string>{"running"}) << lab << ": exactly one container, running";
    for (const auto& l : status(cohort)) EXPECT_EQ(l.at("state"), "ready") << l.dump();

    auto creds = json::parse(darasa({"creds", cohort, "-o", "json"}).out, nullptr, false);
    ASSERT_TRUE(creds.is_array());
    ASSERT_EQ(creds.size(), static_cast<size_t>(trainees_));
    for (const auto& c : creds) {
      int port = c.at("endpoints")[0].at("port");
      auto r = runCommand({"ssh", "-i", c.at("keyFile"), "-p", std::to_string(port), "-o", "BatchMode=yes", "-o",
                           "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                           "-o", "ConnectTimeout=10", "trainee@127.0.0.1", "id -un"},
                          {}, 60);
      EXPECT_EQ(r.exitCode, 0) << c.at("lab") << ": the trainee's key does not log in: " << r.err;
      EXPECT_EQ(r.out, "trainee\n") << c.at("lab");
    }
  }

  // What `up` printed names the engine's socket and what to do about it.
  void expectClearEngineError(const std::string& output) {
    EXPECT_NE(output.find("cannot reach the container engine at " + engine_.host()), std::string::npos)
        << output;
    EXPECT_NE(output.find("podman system service"), std::string::npos) << "says what to start: " << output;
  }

  TempDir state_;
  TempDir work_;
  TempDir engineDir_;
  PrivatePodman engine_{engineDir_.path()};
  std::vector<std::string> cohorts_;
  int trainees_ = 0;
};

TEST_F(DockerEngineOutage, EngineStoppedBeforeUpFailsClearlyAndUpConvergesWhenItIsBack) {
  std::string cohort = cohortName("before");
  apply(cohort, 4);  // validation asks the engine: it is up for apply
  engine_.kill();

  auto t0 = std::chrono::steady_clock::now();
  auto up = darasa({"up", cohort}, 300);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(up.exitCode, 1) << up.out << up.err;
  expectClearEngineError(up.out + up.err);
  EXPECT_LT(took, 120s) << "an unreachable engine is retried, not waited for forever";
  EXPECT_TRUE(containers().empty());
  for (const auto& l : status(cohort)) EXPECT_NE(l.at("state"), "ready") << l.dump();

  ASSERT_TRUE(engine_.start());
  expectUpConverges(cohort);
}

TEST_F(DockerEngineOutage, EngineDiesDuringUpFailsClearlyRecordsNoFalseReadyAndUpConvergesWhenItIsBack) {
  std::string cohort = cohortName("during");
  // More labs than the provider makes at once (8): when the first lab is
  // ready, others are still being made, probed or waiting for their turn.
  apply(cohort, 12);

  std::string log = work_ / "up.log";
  int pid = spawnCommand({darasaBinary(), "up", cohort}, env(), log);
  // Kill the service as soon as a lab is recorded ready: the state then
  // holds a ready lab (which must stay true) next to labs in every stage of
  // being made.
  auto until = std::chrono::steady_clock::now() + 180s;
  bool someReady = false;
  while (!someReady && std::chrono::steady_clock::now() < until) {
    auto r = darasa({"status", cohort, "-o", "json"}, 30);
    auto labs = json::parse(r.out, nullptr, false);
    if (labs.is_array())
      for (const auto& l : labs) someReady = someReady || l.value("state", "") == "ready";
    if (!someReady) std::this_thread::sleep_for(20ms);
  }
  engine_.kill();
  ASSERT_TRUE(someReady) << "no lab was ready within 180 s: " << readFile(log);

  int st = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (::waitpid(pid, &st, WNOHANG) == 0 && std::chrono::steady_clock::now() - t0 < 300s)
    std::this_thread::sleep_for(100ms);
  if (std::chrono::steady_clock::now() - t0 >= 300s) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, &st, 0);
    FAIL() << "darasa up still ran 300 s after the engine died: " << readFile(log);
  }
  std::string output = readFile(log);
  ASSERT_TRUE(WIFEXITED(st)) << output;
  EXPECT_EQ(WEXITSTATUS(st), 1) << output;
  expectClearEngineError(output);
  expectNothingReadyThatIsNot(cohort);
  // Where the outage caught the labs (it varies from run to run), for the log.
  std::map<std::string, int> phases;
  for (const auto& l : status(cohort)) ++phases[l.at("state").get<std::string>()];
  std::cout << "after the engine died: " << json(phases).dump() << ", containers: " << json(containers()).dump()
            << "\n";

  ASSERT_TRUE(engine_.start());
  expectUpConverges(cohort);
}

}  // namespace
}  // namespace darasa::testing
