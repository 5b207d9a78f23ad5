// Idle culling end to end on the local provider: a cohort made by the real
// `darasa` binary whose template has `lifetime: {idleTimeout: 15s}`; one
// trainee holds a real SSH session open without typing, the other does not
// connect. findIdleLabs (what the daemon calls each tick) over the same
// state and providers must find the second idle and the first active; the
// idle lab is then stopped the way the daemon does it (stopWithReason, then
// reconcileStored) and keeps the trainee's work.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "providers/builtin.h"
#include "provisioner/idle_scan.h"
#include "provisioner/service.h"
#include "provisioner/store.h"
#include "support/command.h"

namespace darasa::testing {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

// The template language takes any duration here (no minimum), so the test
// needs no knob: 15 s.
constexpr auto kIdleTimeout = 15s;

const char* kCohort = R"(apiVersion: darasa/v1
kind: LabTemplate
metadata: {name: idle-shell}
spec:
  provider: local
  resources: {cpus: 0.5, memory: 256Mi, pids: 64}
  ports: [{name: ssh, port: 2222}]
  access: {user: trainee, credentials: [password, ssh-key]}
  readiness: {tcp: ssh, timeout: 60s}
  lifetime: {idleTimeout: 15s}
---
apiVersion: darasa/v1
kind: Cohort
metadata: {name: idle}
spec:
  template: idle-shell
  trainees:
)";

class IdleLocal : public ::testing::Test {
 protected:
  void TearDown() override {
    for (pid_t pid : sessions_) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    darasa({"down", "idle", "--wait-lock", "60"});
  }
  CommandResult darasa(std::vector<std::string> args, int timeout = 300) {
    args.insert(args.begin(), darasaBinary());
    return runCommand(args, {{"DARASA_HOME", state_.path()}}, timeout);
  }
  std::vector<std::string> sshArgs(const json& cred) const {
    return {"ssh", "-F", "/dev/null", "-i", cred.at("keyFile").get<std::string>(), "-p",
            std::to_string(cred.at("endpoints")[0].at("port").get<int>()), "-o", "BatchMode=yes", "-o",
            "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o",
            "ConnectTimeout=10", "trainee@127.0.0.1"};
  }
  CommandResult ssh(const json& cred, const std::string& command) {
    auto argv = sshArgs(cred);
    argv.push_back(command);
    return runCommand(argv, {}, 60);
  }
  // `ssh -N`: logged in, no command, no terminal, nothing sent — a trainee
  // who opened a session and walked away from the keyboard.
  pid_t holdSession(const json& cred) {
    auto argv = sshArgs(cred);
    argv.insert(argv.begin() + 1, "-N");
    pid_t pid = spawnCommand(argv, {}, work_ / "ssh.log");
    sessions_.push_back(pid);
    return pid;
  }
  std::map<std::string, json> creds() {
    auto r = darasa({"creds", "idle", "-o", "json"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    std::map<std::string, json> byTrainee;
    for (const auto& c : json::parse(r.out)) byTrainee[c.at("trainee")] = c;
    return byTrainee;
  }

  TempDir state_;
  TempDir work_;
  std::vector<pid_t> sessions_;
};

const IdleVerdict* verdictOf(const std::vector<IdleVerdict>& vs, const std::string& trainee) {
  for (const auto& v : vs)
    if (v.trainee == trainee) return &v;
  return nullptr;
}

TEST_F(IdleLocal, AnIdleLabIsFoundAfterItsTimeoutAndALabWithAnOpenSshSessionIsNot) {
  writeFile(work_ / "idle.yaml", std::string(kCohort) + traineesYaml(2));
  auto applied = darasa({"apply", work_ / "idle.yaml"});
  ASSERT_EQ(applied.exitCode, 0) << applied.out << applied.err;
  auto up = darasa({"up", "idle"});
  ASSERT_EQ(up.exitCode, 0) << up.out << up.err;
  auto cred = creds();
  ASSERT_EQ(cred.size(), 2u);
  const json& busy = cred.at("t01");  // keeps a session open
  const json& away = cred.at("t02");  // leaves after writing some work

  ASSERT_EQ(ssh(away, "echo 'my notes' > ~/notes.txt").exitCode, 0);
  pid_t session = holdSession(busy);

  // The daemon's view: the same state and providers, in this process.
  auto store = Store::open(state_.path(), OpenMode::kMustExist);
  ASSERT_TRUE(store) << store.status().toString();
  ProviderRegistry registry;
  registry.setStateDir(state_.path());
  ASSERT_TRUE(providers::registerBuiltinProviders(registry));
  std::map<std::string, ActivityMemory> memory;

  // The session is up once the provider counts it.
  std::vector<IdleVerdict> first;
  for (auto until = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < until;) {
    auto v = findIdleLabs(**store, registry, "idle", std::chrono::system_clock::now(), &memory);
    ASSERT_TRUE(v) << v.status().toString();
    first = *v;
    const IdleVerdict* b = verdictOf(first, "t01");
    if (b && b->activity.openConnections >= 1) break;
    ASSERT_EQ(::waitpid(session, nullptr, WNOHANG), 0) << "ssh -N ended: " << readFile(work_ / "ssh.log");
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(verdictOf(first, "t01")->activity.openConnections, 1) << verdictOf(first, "t01")->reason;
  for (const auto& v : first) {
    EXPECT_TRUE(v.measured) << v.reason;
    EXPECT_FALSE(v.idle) << "just used: " << v.reason;
    EXPECT_EQ(v.idleTimeout, kIdleTimeout);
  }

  // Past the idle timeout (and past the 10 s the lab's init waits between
  // two touches of its activity file), observed the way the daemon's ticks do.
  auto quietSince = std::chrono::steady_clock::now();
  std::vector<IdleVerdict> later;
  while (std::chrono::steady_clock::now() - quietSince < kIdleTimeout + 5s) {
    std::this_thread::sleep_for(2s);
    auto v = findIdleLabs(**store, registry, "idle", std::chrono::system_clock::now(), &memory);
    ASSERT_TRUE(v) << v.status().toString();
    later = *v;
    const IdleVerdict* b = verdictOf(later, "t01");
    ASSERT_NE(b, nullptr);
    EXPECT_FALSE(b->idle) << "culled with an SSH session open: " << b->reason;
  }
  const IdleVerdict* b = verdictOf(later, "t01");
  const IdleVerdict* a = verdictOf(later, "t02");
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(b->idle) << b->reason;
  EXPECT_EQ(b->reason, "1 open connection on ssh");
  EXPECT_LT(b->idleFor, 2s);
  EXPECT_TRUE(a->idle) << a->reason;
  EXPECT_GE(a->idleFor, kIdleTimeout);
  EXPECT_EQ(a->activity.openConnections, 0);
  EXPECT_EQ(a->reason.rfind("no activity on ssh for ", 0), 0u) << a->reason;
  std::cout << "idle: " << a->labId << ": " << a->reason << "; active: " << b->labId << ": " << b->reason << "\n";

  // The daemon stops what is idle — never destroys it — with the reason.
  ASSERT_TRUE((*store)->stopWithReason({a->labId}, "idle: " + a->reason));
  LabService service(**store, registry, SystemClock::instance(), "test:idle");
  RunOptions run;
  run.cohort = "idle";
  run.trainees = {"t02"};
  run.callTimeout = 60s;
  auto stopped = service.reconcileStored(run);
  ASSERT_TRUE(stopped) << stopped.status().toString();
  EXPECT_EQ(stopped->ready, 1);
  auto labA = (*store)->getLab(a->labId);
  ASSERT_TRUE(labA);
  EXPECT_EQ(labA->phase, LabPhase::kStopped);
  EXPECT_EQ(labA->desired, DesiredState::kStopped);
  EXPECT_EQ(labA->stopReason, "idle: " + a->reason);
  EXPECT_FALSE(loopbackPortAnswers(away.at("endpoints")[0].at("port").get<int>()));
  // A stopped lab is not judged; the busy one still is, still active.
  auto after = findIdleLabs(**store, registry, "idle", std::chrono::system_clock::now(), &memory);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].trainee, "t01");
  EXPECT_FALSE((*after)[0].idle);
  EXPECT_EQ(::waitpid(session, nullptr, WNOHANG), 0) << "the open session was not disturbed";

  // The trainee comes back: `up` starts the lab again and the work is there.
  auto again = darasa({"up", "idle", "--trainee", "t02"});
  ASSERT_EQ(again.exitCode, 0) << again.out << again.err;
  auto back = creds().at("t02");
  auto notes = ssh(back, "cat ~/notes.txt");
  EXPECT_EQ(notes.exitCode, 0) << notes.err;
  EXPECT_EQ(notes.out, "my notes\n");
}

// A plugin (providers/exec) that answers `activity` as its mode says:
// "capable" lists capabilities.activity and reports one open connection and
// counters; "silent" does not list it (and fails the test if asked);
// "garbage" lists it and answers a malformed lastActive.
constexpr const char* kActivityPlugin = R"PY(#!/usr/bin/python3
import json, sys
mode = sys.argv[1]
for line in sys.stdin:
    req = json.loads(line)
    rid, method, params = req["id"], req["method"], req.get("params", {})
    def answer(obj):
        sys.stdout.write(json.dumps(dict(obj, id=rid)) + "\n")
        sys.stdout.flush()
    if method == "handshake":
        answer({"result": {"protocol": 1, "name": "acts", "version": "1", "kind": "process",
                "capabilities": {"stopStart": True, "activity": mode != "silent"}}})
    elif method == "activity" and mode == "capable":
        answer({"result": {"lastActive": 1768197780, "openConnections": 1, "cpuMillis": 81234,
                           "memoryBytes": 52428800, "source": "conntrack"}})
    elif method == "activity" and mode == "garbage":
        answer({"result": {"lastActive": "yesterday"}})
    else:
        answer({"error": {"code": "internal", "message": "unexpected " + method}})
)PY";

TEST(IdlePlugin, AnExecPluginReportsActivityOnlyWhenItsHandshakeSaysSo) {
  TempDir dir;
  std::string path = dir / "darasa-provider-acts";
  writeFile(path, kActivityPlugin);
  ASSERT_EQ(::chmod(path.c_str(), 0755), 0);
  for (const char* mode : {"capable", "silent", "garbage"}) {
    std::string wrapper = dir / (std::string("acts-") + mode);
    writeFile(wrapper, "#!/bin/sh\nexec " + path + " " + mode + "\n");
    ASSERT_EQ(::chmod(wrapper.c_str(), 0755), 0);
  }
  ProviderRegistry registry;
  registry.setStateDir(dir.path());
  for (const char* mode : {"capable", "silent", "garbage"})
    ASSERT_TRUE(providers::registerPlugin(registry, mode, dir / (std::string("acts-") + mode)));

  auto capable = registry.get("capable").value()->activity("c.alice", Deadline::after(10s));
  ASSERT_TRUE(capable) << capable.status().toString();
  ASSERT_TRUE(capable->lastActive.has_value());
  EXPECT_EQ(formatUtc(*capable->lastActive), "2026-01-12T06:03:00Z");
  EXPECT_EQ(capable->openConnections, 1);
  EXPECT_EQ(capable->cpuMillis, 81234);
  EXPECT_EQ(capable->memoryBytes, 52428800);
  EXPECT_EQ(capable->source, "conntrack");

  auto silent = registry.get("silent").value()->activity("c.alice", Deadline::after(10s));
  EXPECT_EQ(silent.status().code(), Code::kNotSupported) << silent.status().toString();
  // The policy never culls such a lab.
  IdleLab lab{"c.alice", 30min, {"ssh"}, std::chrono::system_clock::now() - 5h};
  EXPECT_FALSE(judgeIdle(lab, silent, std::chrono::system_clock::now(), nullptr).idle);

  auto garbage = registry.get("garbage").value()->activity("c.alice", Deadline::after(10s));
  EXPECT_EQ(garbage.status().code(), Code::kInternal);
  EXPECT_NE(garbage.status().message().find("malformed"), std::string::npos) << garbage.status().toString();
}

}  // namespace
}  // namespace darasa::testing
