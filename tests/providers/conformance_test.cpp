// One conformance suite for every provider, built-in or plugin: the provider
// contract of DESIGN.md (provider.h) as tests a reconciler relies on.
// Linked into darasa_providers_tests (every provider built here, the example
// plugin, $DARASA_CONFORMANCE_PLUGIN) and into darasa-conformance
// (tests/conformance/: one external plugin, `darasa-conformance --plugin PATH`).
// Run only it:  darasa_providers_tests --gtest_filter='Providers/Conformance.*'
// Against an external plugin:
//   darasa-conformance --plugin /path/to/darasa-provider-foo
// or DARASA_CONFORMANCE_PLUGIN=/path/to/darasa-provider-foo
//   darasa_providers_tests --gtest_filter='Providers/Conformance.*/plugin'
// The docker target needs Podman's API at /run/podman/podman.sock
// (scripts/podman-service.sh); without it the docker tests fail, they do not skip.
// Compiled only when providers/exec is part of the build (it defines
// DARASA_HAS_EXEC_PROVIDER for this test executable).
#if DARASA_HAS_EXEC_PROVIDER
#include "conformance.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "exec/exec_provider.h"
#include "provisioner/model_json.h"
#if DARASA_CONFORMANCE_LOCAL
#include "local/local_provider.h"
#endif
#if DARASA_CONFORMANCE_DOCKER
#include "docker/docker_provider.h"
#endif
#if DARASA_CONFORMANCE_LIBVIRT
#include "providers/libvirt_conformance.h"
#endif

namespace darasa::conformance {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

LabSpec conformanceBaseSpec(const std::string& provider, const std::string& cohort, const std::string& trainee) {
  LabSpec s;
  s.labId = cohort + "." + trainee;
  s.cohort = cohort;
  s.trainee = trainee;
  s.generation = 1;
  s.templateName = "conformance";
  s.templateHash = "c0ffee";
  s.provider = provider;
  s.ports = {{"web", 8080, "http"}};
  s.readiness.tcpPort = "web";
  s.access.password = false;
  s.access.sshKey = false;
  s.credentials.user = "trainee";
  s.resources.memoryBytes = 64LL << 20;
  s.resources.pids = 64;
  s.labels = {{kLabelLab, s.labId},
              {kLabelCohort, cohort},
              {kLabelTrainee, trainee},
              {kLabelGeneration, "1"}};
  return s;
}

ConformanceTarget pluginTarget(const std::string& name, const std::string& path, const std::string& specFile,
                               const std::map<std::string, std::string>& options) {
  ConformanceTarget t;
  t.name = name;
  if (::access(path.c_str(), X_OK) != 0)
    t.missing = path + " is not an executable plugin (" + std::strerror(errno) + ")";
  std::map<std::string, std::string> config = options;
  config["path"] = path;
  t.make = [name, config](const std::string& dir) {
    return providers::exec::makeExecProvider(ProviderConfig{name, dir, config});
  };
  t.spec = [name](const std::string& cohort, const std::string& trainee) {
    return conformanceBaseSpec(name, cohort, trainee);
  };
  if (specFile.empty()) return t;
  std::ifstream in(specFile);
  if (!in) {
    t.missing = "cannot read the lab spec " + specFile;
    return t;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = parseJsonAs<LabSpec>(text.str(), specFile.c_str());
  if (!parsed) {
    t.missing = parsed.status().toString();
    return t;
  }
  LabSpec base = *parsed;
  t.spec = [name, base](const std::string& cohort, const std::string& trainee) {
    LabSpec s = base;
    LabSpec ids = conformanceBaseSpec(name, cohort, trainee);
    s.labId = ids.labId;
    s.cohort = cohort;
    s.trainee = trainee;
    s.provider = name;
    for (const auto& [k, v] : ids.labels) s.labels[k] = v;
    return s;
  };
  return t;
}

std::vector<ConformanceTarget> conformanceTargets() {
  std::vector<ConformanceTarget> out;
#if DARASA_CONFORMANCE_LOCAL
  {
    ConformanceTarget t;
    t.name = "local";
    t.make = [](const std::string& dir) {
      uid_t uidBase = 420000000 + static_cast<uid_t>(::getpid() % 100000) * 100;
      return providers::local::makeLocalProvider(
          ProviderConfig{"local", dir + "/state",
                         {{"root", dir + "/root"},
                          {"cgroupParent", "darasa-conf-" + std::to_string(::getpid())},
                          {"stopTimeout", "3"},
                          {"uidBase", std::to_string(uidBase)},
                          {"uidCount", "100"}}});
    };
    t.spec = [](const std::string& cohort, const std::string& trainee) {
      LabSpec s = conformanceBaseSpec("local", cohort, trainee);
      s.command = {"sh", "-c", "exec busybox httpd -f -p 127.0.0.1:8080 -h \"$HOME\""};
      return s;
    };
    out.push_back(t);
  }
#endif
#if DARASA_CONFORMANCE_DOCKER
  {
    constexpr const char* kSocket = "/run/podman/podman.sock";
    ConformanceTarget t;
    t.name = "docker";
    if (!fs::exists(kSocket))
      t.missing = std::string(kSocket) + " is missing: start the engine with scripts/podman-service.sh";
    t.make = [kSocket](const std::string&) {
      return providers::docker::makeDockerProvider(
          ProviderConfig{"docker", "", {{"host", std::string("unix://") + kSocket}}});
    };
    t.spec = [](const std::string& cohort, const std::string& trainee) {
      LabSpec s = conformanceBaseSpec("docker", cohort, trainee);
      s.image = "localhost/darasa/busybox-lab:1";
      s.network = NetworkMode::kIsolated;
      s.command = {"/sbin/darasa-lab-init", "httpd", "-f", "-p", "8080", "-h", "/www"};
      return s;
    };
    out.push_back(t);
  }
#endif
#if DARASA_CONFORMANCE_LIBVIRT
  out.push_back(libvirtConformanceTarget());
#endif
  out.push_back(pluginTarget("procs", DARASA_SOURCE_DIR "/examples/plugins/procs/darasa-provider-procs"));
  if (const char* p = std::getenv("DARASA_CONFORMANCE_PLUGIN"); p && *p) {
    const char* specFile = std::getenv("DARASA_CONFORMANCE_SPEC");
    out.push_back(pluginTarget("plugin", p, specFile ? specFile : ""));
  }
  return out;
}

namespace {

std::optional<std::vector<ConformanceTarget>>& chosenTargets() {
  static std::optional<std::vector<ConformanceTarget>> targets;
  return targets;
}

// Evaluated by InitGoogleTest (gtest builds parameterised tests then), so a
// main() may choose the targets before it.
std::vector<ConformanceTarget> suiteTargets() { return chosenTargets() ? *chosenTargets() : conformanceTargets(); }

}  // namespace

void setSuiteTargets(std::vector<ConformanceTarget> targets) { chosenTargets() = std::move(targets); }

std::string contractRule(const std::string& testName) {
  static const std::map<std::string, std::string> kRules = {
      {"InfoNamesTheProviderAndAllowsAtLeastOneCall",
       "the handshake succeeds and info() names the provider as darasa calls it (handshake)"},
      {"CreateIsIdempotentAndMakesOneLabelledResource",
       "create is idempotent: a second create of the same labId returns the same lab (same resourceId) and makes "
       "nothing new; list finds the lab by its darasa.* labels (create, list)"},
      {"ALabBecomesReadyWithAnEndpointOnLoopback",
       "a created lab becomes ready (probe answers {}), inspect says running, and its endpoint \"web\" is on "
       "127.0.0.1 and accepts TCP connections (create, probe, inspect)"},
      {"DestroyOfAMissingLabSucceedsAndInspectSaysNotFound",
       "destroying a lab that does not exist succeeds; inspect of a missing or destroyed lab answers not-found; "
       "a destroyed lab is no longer listed (destroy, inspect)"},
      {"ListByLabelsSeesLabsAfterARestartOfTheProvider",
       "list selects labs by every entry of selector.equals (empty: all), also after the plugin process was "
       "restarted: what a plugin knows must be recoverable from the engine or stateDir (list, Lifetime)"},
      {"StopAndStartKeepTheLabWhereSupported",
       "with capabilities.stopStart: stop keeps the lab (inspect: stopped), start resumes it, both are "
       "idempotent and answer not-found for a missing lab (start, stop)"},
      {"CallsReturnByTheirDeadline",
       "a call whose deadline has passed returns at once (timeout, or an answer), and the plugin keeps serving "
       "calls afterwards (Deadlines)"},
      {"ErrorsSayWhetherARetryCanHelp",
       "a spec the plugin cannot run is invalid in validate and create, an invalid create leaves nothing "
       "behind, and inspect of a missing lab is not-found (Error codes, validate, create)"},
  };
  auto it = kRules.find(testName);
  return it == kRules.end() ? "" : it->second;
}

// Readable test names in failure lines instead of a byte dump.
void PrintTo(const ConformanceTarget& t, std::ostream* os) { *os << t.name; }

namespace {

bool acceptsTcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::set<std::string> ids(const std::vector<ObservedLab>& labs) {
  std::set<std::string> out;
  for (const auto& l : labs) out.insert(l.labId);
  return out;
}

class Conformance : public ::testing::TestWithParam<ConformanceTarget> {
 protected:
  void SetUp() override {
    const auto& t = GetParam();
    if (!t.missing.empty()) FAIL() << t.name << ": " << t.missing;
    char tmpl[] = "/tmp/darasa-conformance-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    static std::atomic<int> counter{0};
    cohort_ = "cf" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    cohorts_ = {cohort_};
    provider_ = make();
    ASSERT_NE(provider_, nullptr);
    Status usable = provider_->usable();
    ASSERT_TRUE(usable.isOk()) << t.name << " is not usable here: " << usable.toString();
  }

  void TearDown() override {
    if (!dir_.empty() && provider_) {
      for (const auto& c : cohorts_) {
        auto labs = provider_->list(LabelSelector::cohort(c), Deadline::after(30s));
        EXPECT_TRUE(labs.isOk()) << labs.status().toString();
        if (!labs) continue;
        for (const auto& l : *labs) {
          Status s = provider_->destroy(l.labId, Deadline::after(60s));
          EXPECT_TRUE(s.isOk()) << s.toString();
        }
      }
    }
    provider_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
    // The local provider's cgroup parent of this process (empty by now; a
    // later test makes it again). Other providers have none: rmdir fails.
    for (const char* c : {"memory/", "cpu/", "cpuacct/", "pids/", "freezer/", ""})
      ::rmdir(("/sys/fs/cgroup/" + std::string(c) + "darasa-conf-" + std::to_string(::getpid())).c_str());
  }

  std::unique_ptr<Provider> make() {
    auto p = GetParam().make(dir_);
    EXPECT_TRUE(p.isOk()) << p.status().toString();
    return p ? std::move(p).value() : nullptr;
  }

  LabSpec spec(const std::string& trainee, const std::string& cohort = "") {
    return GetParam().spec(cohort.empty() ? cohort_ : cohort, trainee);
  }

  Status waitReady(const LabSpec& s, std::chrono::seconds limit = 60s) {
    auto until = std::chrono::steady_clock::now() + limit;
    Status last = timeoutError("not probed");
    while (std::chrono::steady_clock::now() < until) {
      last = provider_->probe(s, Deadline::after(10s));
      if (last.isOk() || !last.retryable()) return last;
      std::this_thread::sleep_for(50ms);
    }
    return last;
  }

  std::string dir_, cohort_;
  std::vector<std::string> cohorts_;
  std::unique_ptr<Provider> provider_;
};

TEST_P(Conformance, InfoNamesTheProviderAndAllowsAtLeastOneCall) {
  ProviderInfo i = provider_->info();
  EXPECT_EQ(i.name, GetParam().name);
  EXPECT_GE(i.maxParallel, 1);
}

TEST_P(Conformance, CreateIsIdempotentAndMakesOneLabelledResource) {
  LabSpec s = spec("alice");
  auto first = provider_->create(s, Deadline::after(60s));
  ASSERT_TRUE(first.isOk()) << first.status().toString();
  EXPECT_EQ(first->labId, s.labId);
  auto second = provider_->create(s, Deadline::after(60s));
  ASSERT_TRUE(second.isOk()) << second.status().toString();
  EXPECT_EQ(second->resourceId, first->resourceId);
  auto labs = provider_->list(LabelSelector::cohort(cohort_), Deadline::after(30s));
  ASSERT_TRUE(labs.isOk()) << labs.status().toString();
  ASSERT_EQ(labs->size(), 1u);
  EXPECT_EQ(labs->front().labId, s.labId);
  EXPECT_EQ(labs->front().labels.at(kLabelLab), s.labId);
  EXPECT_EQ(labs->front().labels.at(kLabelTrainee), "alice");
}

TEST_P(Conformance, ALabBecomesReadyWithAnEndpointOnLoopback) {
  LabSpec s = spec("bob");
  ASSERT_TRUE(provider_->create(s, Deadline::after(60s)).isOk());
  Status ready = waitReady(s);
  ASSERT_TRUE(ready.isOk()) << ready.toString();
  auto seen = provider_->inspect(s.labId, Deadline::after(10s));
  ASSERT_TRUE(seen.isOk()) << seen.status().toString();
  EXPECT_EQ(seen->state, ObservedState::kRunning);
  int port = 0;
  for (const auto& e : seen->endpoints)
    if (e.name == "web") {
      EXPECT_EQ(e.host, "127.0.0.1");
      port = e.port;
    }
  ASSERT_GT(port, 0) << "no endpoint named web";
  EXPECT_TRUE(acceptsTcp(port)) << "127.0.0.1:" << port;
}

TEST_P(Conformance, DestroyOfAMissingLabSucceedsAndInspectSaysNotFound) {
  const std::string missing = cohort_ + ".nobody";
  EXPECT_TRUE(provider_->destroy(missing, Deadline::after(30s)).isOk());
  EXPECT_EQ(provider_->inspect(missing, Deadline::after(10s)).status().code(), Code::kNotFound);

  LabSpec s = spec("carol");
  ASSERT_TRUE(provider_->create(s, Deadline::after(60s)).isOk());
  Status gone = provider_->destroy(s.labId, Deadline::after(60s));
  ASSERT_TRUE(gone.isOk()) << gone.toString();
  EXPECT_EQ(provider_->inspect(s.labId, Deadline::after(10s)).status().code(), Code::kNotFound);
  EXPECT_TRUE(provider_->destroy(s.labId, Deadline::after(30s)).isOk());
  auto labs = provider_->list(LabelSelector::cohort(cohort_), Deadline::after(30s));
  ASSERT_TRUE(labs.isOk());
  EXPECT_TRUE(labs->empty());
}

TEST_P(Conformance, ListByLabelsSeesLabsAfterARestartOfTheProvider) {
  const std::string other = cohort_ + "x";
  cohorts_.push_back(other);
  for (const auto& s : {spec("a"), spec("b"), spec("c", other)}) {
    auto made = provider_->create(s, Deadline::after(60s));
    ASSERT_TRUE(made.isOk()) << made.status().toString();
  }
  provider_.reset();  // darasa restarts: nothing remembered but what the provider observes
  provider_ = make();
  ASSERT_NE(provider_, nullptr);
  auto mine = provider_->list(LabelSelector::cohort(cohort_), Deadline::after(30s));
  ASSERT_TRUE(mine.isOk()) << mine.status().toString();
  EXPECT_EQ(ids(*mine), (std::set<std::string>{cohort_ + ".a", cohort_ + ".b"}));
  auto theirs = provider_->list(LabelSelector::cohort(other), Deadline::after(30s));
  ASSERT_TRUE(theirs.isOk());
  EXPECT_EQ(ids(*theirs), (std::set<std::string>{other + ".c"}));
  LabelSelector one;
  one.equals = {{kLabelCohort, cohort_}, {kLabelTrainee, "b"}};
  auto b = provider_->list(one, Deadline::after(30s));
  ASSERT_TRUE(b.isOk());
  EXPECT_EQ(ids(*b), (std::set<std::string>{cohort_ + ".b"}));
  auto all = provider_->list(LabelSelector::all(), Deadline::after(30s));
  ASSERT_TRUE(all.isOk());
  for (const auto& id : {cohort_ + ".a", cohort_ + ".b", other + ".c"}) EXPECT_EQ(ids(*all).count(id), 1u) << id;
  // And the restarted provider still knows them as the same labs.
  auto again = provider_->create(spec("a"), Deadline::after(60s));
  ASSERT_TRUE(again.isOk());
  auto listed = provider_->list(LabelSelector::cohort(cohort_), Deadline::after(30s));
  ASSERT_TRUE(listed.isOk());
  EXPECT_EQ(listed->size(), 2u);
}

TEST_P(Conformance, StopAndStartKeepTheLabWhereSupported) {
  LabSpec s = spec("dave");
  ASSERT_TRUE(provider_->create(s, Deadline::after(60s)).isOk());
  if (!provider_->info().capabilities.stopStart) {
    EXPECT_EQ(provider_->stop(s.labId, Deadline::after(10s)).code(), Code::kNotSupported);
    EXPECT_EQ(provider_->start(s.labId, Deadline::after(10s)).code(), Code::kNotSupported);
    return;
  }
  ASSERT_TRUE(waitReady(s).isOk());
  Status stopped = provider_->stop(s.labId, Deadline::after(60s));
  ASSERT_TRUE(stopped.isOk()) << stopped.toString();
  auto seen = provider_->inspect(s.labId, Deadline::after(10s));
  ASSERT_TRUE(seen.isOk());
  EXPECT_EQ(seen->state, ObservedState::kStopped);
  EXPECT_TRUE(provider_->stop(s.labId, Deadline::after(60s)).isOk()) << "stop of a stopped lab";
  Status started = provider_->start(s.labId, Deadline::after(60s));
  ASSERT_TRUE(started.isOk()) << started.toString();
  EXPECT_TRUE(provider_->start(s.labId, Deadline::after(60s)).isOk()) << "start of a running lab";
  ASSERT_TRUE(waitReady(s).isOk());
  EXPECT_EQ(provider_->inspect(s.labId, Deadline::after(10s))->state, ObservedState::kRunning);
  EXPECT_EQ(provider_->stop(cohort_ + ".nobody", Deadline::after(10s)).code(), Code::kNotFound);
  EXPECT_EQ(provider_->start(cohort_ + ".nobody", Deadline::after(10s)).code(), Code::kNotFound);
}

TEST_P(Conformance, CallsReturnByTheirDeadline) {
  LabSpec s = spec("erin");
  ASSERT_TRUE(provider_->create(s, Deadline::after(60s)).isOk());
  // An already-passed deadline: the call gives up at once (kTimeout) or is
  // quick enough to finish; it never blocks.
  for (auto budget : {0ms, 5ms}) {
    auto t0 = std::chrono::steady_clock::now();
    auto seen = provider_->inspect(s.labId, Deadline::after(budget));
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(took, 2s) << budget.count() << " ms";
    if (!seen) {
      EXPECT_EQ(seen.status().code(), Code::kTimeout) << seen.status().toString();
    }
    auto t1 = std::chrono::steady_clock::now();
    auto labs = provider_->list(LabelSelector::cohort(cohort_), Deadline::after(budget));
    EXPECT_LT(std::chrono::steady_clock::now() - t1, 2s);
    if (!labs) {
      EXPECT_EQ(labs.status().code(), Code::kTimeout) << labs.status().toString();
    }
  }
  // And the provider still serves calls with time to spare.
  EXPECT_TRUE(provider_->inspect(s.labId, Deadline::after(10s)).isOk());
}

TEST_P(Conformance, ErrorsSayWhetherARetryCanHelp) {
  LabSpec bad = spec("frank");
  bad.readiness.tcpPort = "nosuch";  // names no port of the lab
  Status v = provider_->validate(bad);
  EXPECT_EQ(v.code(), Code::kInvalid) << v.toString();
  EXPECT_FALSE(v.retryable());
  auto made = provider_->create(bad, Deadline::after(60s));
  ASSERT_FALSE(made.isOk()) << "created a lab from an invalid spec";
  EXPECT_EQ(made.status().code(), Code::kInvalid) << made.status().toString();
  auto labs = provider_->list(LabelSelector::cohort(cohort_), Deadline::after(30s));
  ASSERT_TRUE(labs.isOk());
  EXPECT_TRUE(labs->empty()) << "an invalid spec left a resource behind";

  auto missing = provider_->inspect(cohort_ + ".nobody", Deadline::after(10s));
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_FALSE(missing.status().retryable());
  EXPECT_TRUE(provider_->validate(spec("frank")).isOk());
}

// gtest names may hold letters, digits and '_' only: "my-cloud" runs as my_cloud.
INSTANTIATE_TEST_SUITE_P(Providers, Conformance, ::testing::ValuesIn(suiteTargets()),
                         [](const ::testing::TestParamInfo<ConformanceTarget>& i) {
                           std::string n = i.param.name;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace darasa::conformance
#endif  // DARASA_HAS_EXEC_PROVIDER
