// End-to-end tests of darasa on the docker provider against the real Podman
// API service (scripts/podman-service.sh) and the locally built lab image
// (examples/images/build-busybox-lab.sh): the binary, real containers, real
// SSH logins. No fakes, no skips: without the engine these tests fail.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "support/command.h"

namespace darasa::testing {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

const char* kSocket = "/run/podman/podman.sock";
const char* kImage = "localhost/darasa/busybox-lab:1";

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
  readiness: {tcp: ssh, timeout: 90s}
  network: isolated
)";
}

std::string cohortYaml(const std::string& name, int trainees) {
  std::string s = templateYaml() + "---\napiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: " + name +
                  "}\nspec:\n  template: box\n  trainees:\n";
  return s + traineesYaml(trainees);
}

// GET on the engine's API over its Unix socket.
json engine(const std::string& path) {
  auto r = runCommand({"curl", "-sf", "--noproxy", "*", "--unix-socket", kSocket, "http://d/v1.41" + path}, {}, 60);
  if (r.exitCode != 0) return json();
  return json::parse(r.out, nullptr, false);
}

std::string urlEncode(const std::string& s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.') out += static_cast<char>(c);
    else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// Containers (all states) carrying label key=value.
json containersLabelled(const std::string& label) {
  return engine("/containers/json?all=true&filters=" + urlEncode(json{{"label", {label}}}.dump()));
}

class DockerEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kSocket)) << "the Podman API service is not running at " << kSocket
                                     << ": run scripts/podman-service.sh (scripts/test.sh and .ci/run do)";
    auto image = engine(std::string("/images/") + kImage + "/json");
    ASSERT_FALSE(image.is_null()) << kImage << " is missing: run examples/images/build-busybox-lab.sh";
  }
  void TearDown() override {
    for (const auto& c : cohorts_) darasa({"down", c, "--wait-lock", "60"});
  }
  CommandResult darasa(std::vector<std::string> args, int timeout = 600) {
    args.insert(args.begin(), darasaBinary());
    return runCommand(args, env(), timeout);
  }
  std::map<std::string, std::string> env() const { return {{"DARASA_HOME", state_.path()}}; }
  void apply(const std::string& cohort, int trainees) {
    cohorts_.push_back(cohort);
    writeFile(work_ / (cohort + ".yaml"), cohortYaml(cohort, trainees));
    auto r = darasa({"apply", work_ / (cohort + ".yaml")});
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  }
  std::string stateId() {
    std::string id = readFile(state_ / "instance-id");
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }
  json mine() { return containersLabelled(std::string("darasa.state=") + stateId()); }

  TempDir state_;
  TempDir work_;
  std::vector<std::string> cohorts_;
};

TEST_F(DockerEndToEnd, TwentyTraineesGetLimitedLabelledContainersAndDownRemovesAll) {
  apply("dk20", 20);
  auto up = darasa({"up", "dk20"});
  ASSERT_EQ(up.exitCode, 0) << up.out << up.err;
  EXPECT_NE(up.out.find("20/20 labs ready"), std::string::npos) << up.out;

  auto containers = mine();
  ASSERT_EQ(containers.size(), 20u) << containers.dump();
  std::set<std::string> labs;
  for (const auto& c : containers) {
    EXPECT_EQ(c.at("State"), "running");
    const auto& labels = c.at("Labels");
    labs.insert(labels.at("darasa.lab").get<std::string>());
    EXPECT_EQ(labels.at("darasa.cohort"), "dk20");
    EXPECT_EQ(labels.at("darasa.generation"), "1");
    EXPECT_EQ(labels.at("darasa.lab").get<std::string>(), "dk20." + labels.at("darasa.trainee").get<std::string>());
    auto inspect = engine("/containers/" + c.at("Id").get<std::string>() + "/json");
    const auto& host = inspect.at("HostConfig");
    EXPECT_EQ(host.at("Memory").get<int64_t>(), 64 << 20);
    EXPECT_EQ(host.at("NanoCpus").get<int64_t>(), 500000000);
    EXPECT_EQ(host.at("PidsLimit").get<int64_t>(), 64);
  }
  EXPECT_EQ(labs.size(), 20u);

  auto creds = json::parse(darasa({"creds", "dk20", "-o", "json"}).out);
  ASSERT_EQ(creds.size(), 20u);
  int logins = 0;
  for (const auto& c : creds) {
    int port = c.at("endpoints")[0].at("port");
    EXPECT_EQ(c.at("endpoints")[0].at("host"), "127.0.0.1");
    EXPECT_TRUE(loopbackPortAnswers(port)) << port;
    if (logins >= 5) continue;  // logging in to every lab adds time, not coverage
    auto r = runCommand({"ssh", "-i", c.at("keyFile"), "-p", std::to_string(port), "-o", "BatchMode=yes", "-o",
                         "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                         "-o", "ConnectTimeout=10", "trainee@127.0.0.1", "id -un"},
                        {}, 60);
    EXPECT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(r.out, "trainee\n");
    ++logins;
  }

  auto down = darasa({"down", "dk20"});
  ASSERT_EQ(down.exitCode, 0) << down.out << down.err;
  EXPECT_EQ(mine().size(), 0u);
  auto networks = engine("/networks?filters=" + urlEncode(json{{"label", {"darasa.cohort=dk20"}}}.dump()));
  EXPECT_EQ(networks.size(), 0u) << networks.dump();
}

TEST_F(DockerEndToEnd, KillDuringUpThenUpAgainGivesOneContainerPerTrainee) {
  apply("dkcrash", 10);
  std::string log = work_ / "up.log";
  int pid = spawnCommand({darasaBinary(), "up", "dkcrash"}, env(), log);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
  while (std::chrono::steady_clock::now() < deadline && mine().size() < 3)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  size_t atKill = mine().size();
  ASSERT_GE(atKill, 3u) << readFile(log);

  auto again = darasa({"up", "dkcrash"});
  ASSERT_EQ(again.exitCode, 0) << again.out << again.err;
  auto containers = mine();
  std::set<std::string> labs;
  for (const auto& c : containers) labs.insert(c.at("Labels").at("darasa.lab").get<std::string>());
  EXPECT_EQ(containers.size(), 10u);
  EXPECT_EQ(labs.size(), 10u) << "exactly one container per trainee";
}

TEST_F(DockerEndToEnd, GcRemovesUnknownLabelledContainersAndNeverOthers) {
  apply("dkgc", 1);
  ASSERT_EQ(darasa({"up", "dkgc"}).exitCode, 0);
  std::string id = stateId();
  std::string ghost = "darasa-test-ghost-" + id;
  std::string plain = "darasa-test-plain-" + id;
  auto made = runCommand({"podman", "create", "--name", ghost, "--label", "darasa.lab=ghost.t1", "--label",
                          "darasa.cohort=ghost", "--label", "darasa.state=" + id, kImage, "sleep", "300"});
  ASSERT_EQ(made.exitCode, 0) << made.err;
  made = runCommand({"podman", "create", "--name", plain, kImage, "sleep", "300"});
  ASSERT_EQ(made.exitCode, 0) << made.err;

  auto dry = darasa({"gc", "--dry-run"});
  EXPECT_NE(dry.out.find("ghost.t1"), std::string::npos) << dry.out;
  EXPECT_EQ(dry.out.find("dkgc.t01"), std::string::npos) << dry.out;
  auto gc = darasa({"gc"});
  EXPECT_EQ(gc.exitCode, 0) << gc.out << gc.err;
  EXPECT_EQ(runCommand({"podman", "container", "exists", ghost}).exitCode, 1) << "the orphan is gone";
  EXPECT_EQ(runCommand({"podman", "container", "exists", plain}).exitCode, 0) << "an unlabelled container stays";
  EXPECT_EQ(mine().size(), 1u) << "the known lab stays";
  runCommand({"podman", "rm", "-f", plain});
}

}  // namespace
}  // namespace darasa::testing
