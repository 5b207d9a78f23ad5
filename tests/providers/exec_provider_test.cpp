// The exec provider against real child processes: the example plugin (procs)
// and deliberately broken plugins (a Python script written per test run):
// each fault gives the right error within its deadline, leaves no zombie or
// stray process behind, and another provider keeps serving its labs.
// Compiled only when providers/exec is part of the build.
#if DARASA_HAS_EXEC_PROVIDER
#include "exec/exec_provider.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace darasa::providers::exec {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kProcs = DARASA_SOURCE_DIR "/examples/plugins/procs/darasa-provider-procs";

// A plugin that misbehaves as its first argument says, on "create" only (or
// at start / in the handshake); every other call is answered correctly.
constexpr const char* kFaultPlugin = R"PY(#!/usr/bin/python3
import json, os, subprocess, sys, time
mode = sys.argv[1] if len(sys.argv) > 1 else "good"
if mode == "exit-at-start":
    print("fault: cannot open my config", file=sys.stderr, flush=True)
    sys.exit(3)
for line in sys.stdin:
    req = json.loads(line)
    rid, method, params = req["id"], req["method"], req.get("params", {})
    def answer(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()
    if method == "handshake":
        answer({"id": rid, "result": {"protocol": 7 if mode == "wrong-version" else 1, "name": "fault",
                "version": "9.9", "kind": "process", "capabilities": {"stopStart": False},
                "sawDeadline": "deadlineMs" in params}})
        continue
    if method == "create":
        if mode == "exit-mid-call":
            print("fault: dying in create", file=sys.stderr, flush=True)
            os._exit(5)
        if mode == "hang":
            subprocess.run(["sleep", os.environ.get("DARASA_FAULT_SLEEP", "987.654")])
        if mode == "garbage":
            print("this is not a response", flush=True)
            continue
        if mode == "huge":
            sys.stdout.write("x" * (3 << 20) + "\n")
            sys.stdout.flush()
            continue
        if mode == "wrong-id":
            rid += 100
        if mode == "quota":
            answer({"id": rid, "error": {"code": "quota", "message": "no room for more labs"}})
            continue
        if mode == "bogus-code":
            answer({"id": rid, "error": {"code": "frobbed", "message": "what"}})
            continue
        answer({"id": rid, "result": {"labId": params["spec"]["labId"], "state": "running",
                "detail": "deadline %d" % params["deadlineMs"]}})
        continue
    if method == "list":
        answer({"id": rid, "result": {"labs": []}})
        if mode == "exit-when-idle":
            print("fault: leaving while idle", file=sys.stderr, flush=True)
            sys.exit(4)
        continue
    answer({"id": rid, "error": {"code": "not-found", "message": "no such lab"}})
)PY";

struct ProcInfo {
  pid_t pid;
  pid_t ppid;
  char state;
  std::string comm;
  std::string cmdline;
};

std::vector<ProcInfo> processes() {
  std::vector<ProcInfo> out;
  DIR* d = ::opendir("/proc");
  while (dirent* e = ::readdir(d)) {
    pid_t pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::string base = "/proc/" + std::string(e->d_name);
    std::ifstream st(base + "/stat");
    std::string stat((std::istreambuf_iterator<char>(st)), {});
    auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 4 > stat.size()) continue;
    ProcInfo p{pid, 0, stat[close + 2], stat.substr(open + 1, close - open - 1), ""};
    p.ppid = std::atoi(stat.c_str() + close + 4);
    std::ifstream cl(base + "/cmdline");
    p.cmdline.assign(std::istreambuf_iterator<char>(cl), {});
    for (auto& c : p.cmdline)
      if (c == '\0') c = ' ';
    out.push_back(p);
  }
  ::closedir(d);
  return out;
}

// Children of this test process that are plugins (alive fault plugins,
// zombies of any plugin), and the hang mode's sleep wherever it is.
// The hang mode's sleep argument, unique to this test process: ctest runs
// other test processes at the same time, whose hanging plugins are theirs.
std::string sleepToken() {
  static const std::string token = [] {
    std::string t = "987." + std::to_string(::getpid());
    ::setenv("DARASA_FAULT_SLEEP", t.c_str(), 1);  // plugins inherit it
    return t;
  }();
  return token;
}

std::vector<std::string> leftovers() {
  std::vector<std::string> out;
  for (const auto& p : processes()) {
    // Only ours: other tests in this process may have children of their own.
    bool ours = p.comm.rfind("darasa-fault", 0) == 0 || p.comm == "python3" || p.comm == "sleep";
    if (p.ppid == ::getpid() && p.state == 'Z' && ours)
      out.push_back("zombie " + std::to_string(p.pid) + " " + p.comm);
    if (p.ppid == ::getpid() && p.comm.rfind("darasa-fault", 0) == 0 && p.state != 'Z')
      out.push_back("plugin " + std::to_string(p.pid));
    if (p.cmdline.find("sleep " + sleepToken()) != std::string::npos) out.push_back("sleep " + std::to_string(p.pid));
  }
  return out;
}

std::string makeTempDir() {
  char tmpl[] = "/tmp/darasa-exec-test-XXXXXX";
  return ::mkdtemp(tmpl) ? std::string(tmpl) : std::string();
}

LabSpec labSpec(const std::string& cohort, const std::string& trainee) {
  LabSpec s;
  s.labId = cohort + "." + trainee;
  s.cohort = cohort;
  s.trainee = trainee;
  s.ports = {{"web", 8080, "http"}};
  s.readiness.tcpPort = "web";
  s.labels = {{kLabelLab, s.labId}, {kLabelCohort, cohort}, {kLabelTrainee, trainee}};
  return s;
}

class ExecProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sleepToken();  // before any plugin starts: they inherit the environment
    dir_ = makeTempDir();
    ASSERT_FALSE(dir_.empty());
    fault_ = dir_ + "/darasa-fault";
    {
      std::ofstream f(fault_);
      f << kFaultPlugin;
    }
    ::chmod(fault_.c_str(), 0755);
    // A healthy plugin with a running lab, to show that faults elsewhere do
    // not disturb it.
    auto p = makeExecProvider(ProviderConfig{"procs", dir_ + "/state", {{"path", kProcs}}});
    ASSERT_TRUE(p.isOk()) << p.status().toString();
    healthy_ = std::move(p).value();
    auto lab = healthy_->create(labSpec("ok", "lab"), Deadline::after(20s));
    ASSERT_TRUE(lab.isOk()) << lab.status().toString();
  }

  void TearDown() override {
    if (healthy_) {
      EXPECT_TRUE(healthy_->destroy("ok.lab", Deadline::after(20s)).isOk());
    }
    healthy_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<Provider> fault(const std::string& mode) {
    auto p = makeExecProvider(ProviderConfig{"fault", dir_ + "/state", {{"path", fault_}, {"args", mode}}});
    EXPECT_TRUE(p.isOk()) << p.status().toString();
    return p ? std::move(p).value() : nullptr;
  }

  void expectHealthyStillServes() {
    auto seen = healthy_->inspect("ok.lab", Deadline::after(10s));
    ASSERT_TRUE(seen.isOk()) << seen.status().toString();
    EXPECT_EQ(seen->state, ObservedState::kRunning);
  }

  std::string dir_, fault_;
  std::unique_ptr<Provider> healthy_;
};

struct Fault {
  std::string mode;
  Code code;
  std::string message;  // a part of the error message
  bool handshakeFails;  // the next call fails the same way
  bool killed = true;   // the plugin is stopped (false: an error answer, it stays)
};
void PrintTo(const Fault& f, std::ostream* os) { *os << f.mode; }

class ExecFaultTest : public ExecProviderTest, public ::testing::WithParamInterface<Fault> {};

TEST_P(ExecFaultTest, GivesTheRightErrorWithinTheDeadlineAndLeavesNothingBehind) {
  const Fault& f = GetParam();
  auto provider = fault(f.mode);
  ASSERT_NE(provider, nullptr);
  auto t0 = Clock::now();
  auto made = provider->create(labSpec("c", "x"), Deadline::after(2s));
  auto took = Clock::now() - t0;
  ASSERT_FALSE(made.isOk());
  EXPECT_EQ(made.status().code(), f.code) << made.status().toString();
  EXPECT_NE(made.status().message().find(f.message), std::string::npos) << made.status().toString();
  EXPECT_LE(took, 2s + 250ms);  // the deadline, plus killing and reaping on a loaded machine
  if (f.mode != "hang") {
    EXPECT_LT(took, 1500ms) << "a fault that shows at once is reported at once";
  }
  if (f.killed) {
    EXPECT_EQ(leftovers(), std::vector<std::string>{});
  }
  expectHealthyStillServes();

  // The next call starts the plugin again.
  auto labs = provider->list(LabelSelector::all(), Deadline::after(5s));
  if (f.handshakeFails) {
    ASSERT_FALSE(labs.isOk());
    EXPECT_EQ(labs.status().code(), f.code) << labs.status().toString();
  } else {
    EXPECT_TRUE(labs.isOk()) << labs.status().toString();
  }
  provider.reset();
  EXPECT_EQ(leftovers(), std::vector<std::string>{});
}

INSTANTIATE_TEST_SUITE_P(
    Faults, ExecFaultTest,
    ::testing::Values(
        Fault{"exit-at-start", Code::kUnavailable, "exited with status 3; its stderr ended with: fault: cannot open my config", true},
        Fault{"exit-mid-call", Code::kUnavailable, "exited with status 5; its stderr ended with: fault: dying in create", false},
        Fault{"hang", Code::kTimeout, "did not answer create within", false},
        Fault{"garbage", Code::kInternal, "a line that is not JSON", false},
        Fault{"huge", Code::kInternal, "a line of more than 1048576 bytes", false},
        Fault{"wrong-version", Code::kNotSupported, "speaks protocol 7; this darasa speaks 1 to 1", true},
        Fault{"wrong-id", Code::kInternal, "answered id 102 to request id 2", false},
        Fault{"quota", Code::kQuota, "provider fault: no room for more labs", false, false},
        Fault{"bogus-code", Code::kInternal, "unknown error code \"frobbed\"", false, false}),
    [](const ::testing::TestParamInfo<Fault>& i) {
      std::string n = i.param.mode;
      for (auto& c : n)
        if (c == '-') c = '_';
      return n;
    });

TEST_F(ExecProviderTest, ThePluginGetsTheDeadlineAndTheHandshakeDescribesIt) {
  auto provider = fault("good");
  ProviderInfo i = provider->info();
  EXPECT_EQ(i.name, "fault");
  EXPECT_EQ(i.version, "9.9");
  EXPECT_EQ(i.kind, ProviderKind::kProcess);
  EXPECT_FALSE(i.capabilities.stopStart);
  EXPECT_EQ(i.maxParallel, 1);
  auto made = provider->create(labSpec("c", "y"), Deadline::after(3s));
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  // Told a little less than the caller's 3 s, so its own answer beats ours.
  int told = std::atoi(made->detail.c_str() + std::string("deadline ").size());
  EXPECT_GT(told, 2500);
  EXPECT_LT(told, 3000);
  // Without the capability, stop is refused here, not sent.
  EXPECT_EQ(provider->stop("c.y", Deadline::after(1s)).code(), Code::kNotSupported);
}

TEST_F(ExecProviderTest, APluginThatDiesBetweenCallsIsReapedAndRestarted) {
  auto provider = fault("exit-when-idle");
  ASSERT_TRUE(provider->list(LabelSelector::all(), Deadline::after(5s)).isOk());
  // Reaped without any call from darasa (within about half a second).
  auto until = Clock::now() + 3s;
  while (!leftovers().empty() && Clock::now() < until) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(leftovers(), std::vector<std::string>{});
  EXPECT_TRUE(provider->list(LabelSelector::all(), Deadline::after(5s)).isOk());
  expectHealthyStillServes();
}

TEST_F(ExecProviderTest, AMissingExecutableIsUnavailableWithThePath) {
  auto p = makeExecProvider(ProviderConfig{"gone", "", {{"path", dir_ + "/no-such-plugin"}}});
  ASSERT_TRUE(p.isOk());
  Status s = (*p)->usable();
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.toString();
  EXPECT_NE(s.message().find(dir_ + "/no-such-plugin"), std::string::npos) << s.toString();
  EXPECT_EQ(makeExecProvider(ProviderConfig{"x", "", {}}).status().code(), Code::kInvalid);
  EXPECT_EQ(makeExecProvider(ProviderConfig{"x", "", {{"path", "/bin/true"}, {"handshakeTimeout", "soon"}}})
                .status()
                .code(),
            Code::kInvalid);
}

TEST_F(ExecProviderTest, ConcurrentCallsAreSerialisedAndAllAnswered) {
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i)
        if (healthy_->list(LabelSelector::cohort("ok"), Deadline::after(10s)).isOk()) ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
}

TEST_F(ExecProviderTest, DiscoveryFindsExecutablePluginsFirstDirectoryFirst) {
  const std::string a = dir_ + "/a", b = dir_ + "/b";
  fs::create_directories(a);
  fs::create_directories(b);
  auto put = [](const std::string& path, mode_t mode) {
    std::ofstream(path) << "#!/bin/sh\n";
    ::chmod(path.c_str(), mode);
  };
  put(a + "/darasa-provider-procs", 0755);
  put(b + "/darasa-provider-procs", 0755);  // shadowed by a's
  put(b + "/darasa-provider-extra", 0755);
  put(b + "/darasa-provider-noexec", 0644);  // not executable
  put(b + "/darasa-provider-Bad_Name", 0755);  // not a provider name
  put(b + "/something-else", 0755);
  auto found = discoverPlugins({dir_ + "/missing", a, b});
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].name, "procs");
  EXPECT_EQ(found[0].path, a + "/darasa-provider-procs");
  EXPECT_EQ(found[1].name, "extra");

  ProviderRegistry registry;
  ASSERT_TRUE(registry.add("extra", [](const ProviderConfig&) -> Result<std::unique_ptr<Provider>> {
    return notSupportedError("built-in");
  }).isOk());
  ASSERT_TRUE(registerPluginProviders(registry, {a, b}).isOk());
  EXPECT_EQ(registry.names(), (std::vector<std::string>{"extra", "procs"}));
  EXPECT_EQ(registry.description("procs"), "plugin " + a + "/darasa-provider-procs");
  EXPECT_EQ(registry.description("extra"), "");  // the built-in one stays
}

TEST_F(ExecProviderTest, ARegisteredPluginIsMadeWithItsPathAndConfig) {
  const std::string plugins = dir_ + "/plugins";
  fs::create_directories(plugins);
  fs::create_symlink(kProcs, plugins + "/darasa-provider-procs");
  ProviderRegistry registry;
  registry.setStateDir(dir_ + "/reg-state");
  ASSERT_TRUE(registerPluginProviders(registry, {plugins}).isOk());
  auto p = registry.get("procs");
  ASSERT_TRUE(p.isOk()) << p.status().toString();
  EXPECT_TRUE((*p)->usable().isOk());
  EXPECT_EQ((*p)->info().version, "0.1.0");
  // The plugin keeps its labs under <stateDir>/plugins/<name>.
  auto lab = (*p)->create(labSpec("reg", "one"), Deadline::after(20s));
  ASSERT_TRUE(lab.isOk()) << lab.status().toString();
  EXPECT_TRUE(fs::exists(dir_ + "/reg-state/plugins/procs/labs/reg.one.json"));
  EXPECT_TRUE((*p)->destroy("reg.one", Deadline::after(20s)).isOk());
}

}  // namespace
}  // namespace darasa::providers::exec
#endif  // DARASA_HAS_EXEC_PROVIDER
