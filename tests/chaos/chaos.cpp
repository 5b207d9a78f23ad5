// The chaos harness: kills, recovery and the checks after each round (see
// chaos.h). Everything goes through the real darasa binary and is checked
// from the provider's side through a Backend.
#include "chaos/chaos.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "integration/daemon_support.h"
#include "support/command.h"

namespace darasa::chaos {
namespace {
using nlohmann::json;
using darasa::testing::CommandResult;
using darasa::testing::darasaBinary;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void sleepFor(double seconds) {
  if (seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

std::string firstLines(const std::string& s, size_t max = 600) {
  return s.size() > max ? s.substr(0, max) + "..." : s;
}

}  // namespace

const char* targetName(Target t) {
  switch (t) {
    case Target::kUp: return "up";
    case Target::kDown: return "down";
    case Target::kServeUp: return "serve-up";
    case Target::kServeDown: return "serve-down";
    case Target::kPlugin: return "plugin";
  }
  return "?";
}

uint64_t chaosSeed() {
  static const uint64_t seed = []() -> uint64_t {
    if (const char* s = std::getenv("DARASA_CHAOS_SEED"); s && *s) return std::strtoull(s, nullptr, 10);
    return (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  }();
  return seed;
}

int chaosRounds(int dflt) {
  if (const char* s = std::getenv("DARASA_CHAOS_ROUNDS"); s && *s) return std::max(1, std::atoi(s));
  return dflt;
}

std::vector<double> spreadMoments(double durationSeconds, int n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> out;
  for (int i = 0; i < n; ++i) out.push_back(durationSeconds * (i + unit(rng)) / n);
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

struct ChaosLab::Impl {
  Backend& backend;
  int trainees;
  darasa::testing::TempDir state, work;
  darasa::testing::ServeProcess serve{state.path(), work.path()};
  std::string token;
  std::string cohort;

  Impl(Backend& b, int n) : backend(b), trainees(n) {}

  std::map<std::string, std::string> env() const {
    // Labs and engines in tests never reach out (TEAM.md's network rule).
    return {{"DARASA_HOME", state.path()},
            {"HTTP_PROXY", "http://127.0.0.1:9"},
            {"HTTPS_PROXY", "http://127.0.0.1:9"},
            {"NO_PROXY", "127.0.0.1,localhost"}};
  }
  CommandResult darasa(std::vector<std::string> args, int timeout = 300) const {
    args.insert(args.begin(), darasaBinary());
    return darasa::testing::runCommand(args, env(), timeout);
  }
  std::vector<std::string> labIds() const {
    std::vector<std::string> ids;
    for (int i = 1; i <= trainees; ++i) {
      char id[16];
      std::snprintf(id, sizeof id, "t%02d", i);
      ids.push_back(cohort + "." + id);
    }
    return ids;
  }

  // Counted once per round: a duplicate seen in ten observations is one.
  void problem(Tally& t, int& counter, const std::string& round, const std::string& what) {
    std::string line = round + ": " + what;
    if (std::find(t.problems.begin(), t.problems.end(), line) != t.problems.end()) return;
    ++counter;
    t.problems.push_back(line);
  }

  // Duplicates in one observation; returns it for further checks.
  Observation watch(Tally& t, const std::string& round) {
    Observation o = backend.observe(state.path(), cohort);
    for (const auto& [lab, n] : o.running)
      if (n > 1) problem(t, t.duplicates, round, lab + " runs " + std::to_string(n) + " times at once");
    return o;
  }

  json status() {
    auto r = darasa({"status", cohort, "-o", "json"});
    if (r.exitCode != 0) return json();
    return json::parse(r.out, nullptr, false);
  }

  // After a completed `up`: every lab runs exactly once, the state says
  // ready, and its endpoints answer.
  void checkUp(Tally& t, const std::string& round) {
    Observation o = watch(t, round);
    for (const auto& id : labIds()) {
      int n = o.running.count(id) ? o.running.at(id) : 0;
      if (n == 0) problem(t, t.disagreements, round, id + ": up succeeded but the provider runs nothing for it");
    }
    json labs = status();
    if (!labs.is_array() || labs.size() != static_cast<size_t>(trainees)) {
      problem(t, t.disagreements, round, "status lists " + firstLines(labs.dump()));
      return;
    }
    for (const auto& l : labs) {
      std::string id = l.value("lab", "");
      if (l.value("state", "") != "ready") {
        problem(t, t.disagreements, round, id + " is " + l.value("state", "?") + " after a completed up");
        continue;
      }
      for (const auto& e : l.value("endpoints", json::array()))
        if (!darasa::testing::loopbackPortAnswers(e.value("port", 0)))
          problem(t, t.disagreements, round,
                  id + ": the state's endpoint " + e.dump() + " does not answer");
    }
  }

  // After a completed `down`: nothing runs, nothing labelled is left, the
  // state says destroyed and gc finds no orphan.
  void checkDown(Tally& t, const std::string& round) {
    Observation o = watch(t, round);
    for (const auto& [lab, n] : o.running)
      if (n > 0) problem(t, t.leaks, round, lab + " still runs after a completed down");
    for (const auto& r : o.labelled) problem(t, t.leaks, round, "left after a completed down: " + r);
    json labs = status();
    for (const auto& l : labs.is_array() ? labs : json::array())
      if (l.value("state", "") != "destroyed")
        problem(t, t.disagreements, round,
                l.value("lab", "?") + " is " + l.value("state", "?") + " after a completed down");
    auto gc = darasa({"gc", "--dry-run"});
    if (gc.exitCode != 0 || gc.out.find("no orphaned labs") == std::string::npos)
      problem(t, t.disagreements, round, "gc --dry-run after down: " + firstLines(gc.out + gc.err));
  }

  double completed(const std::string& verb, Tally& t, const std::string& round) {
    auto start = Clock::now();
    auto r = darasa({verb, cohort, "--wait-lock", "60"}, 600);
    double took = since(start);
    if (r.exitCode != 0)
      problem(t, t.disagreements, round,
              "darasa " + verb + " after the kill exited " + std::to_string(r.exitCode) + ": " +
                  firstLines(r.out + r.err));
    return took;
  }

  // The daemon's view: true when pred holds for the labs it lists.
  template <typename Pred>
  bool waitApi(Pred pred, double seconds) {
    auto start = Clock::now();
    while (since(start) < seconds) {
      json labs = darasa::testing::apiLabs(serve, token, cohort);
      if (labs.size() == static_cast<size_t>(trainees) && pred(labs)) return true;
      sleepFor(0.05);
    }
    return false;
  }
  static bool all(const json& labs, const char* state) {
    return std::all_of(labs.begin(), labs.end(),
                       [&](const json& l) { return darasa::testing::labState(l) == state; });
  }
  bool post(const std::string& verb, Tally& t, const std::string& round) {
    auto r = serve.call(token, "POST", "/api/v1/cohorts/" + cohort + "/" + verb);
    if (r.first >= 200 && r.first < 300) return true;
    problem(t, t.disagreements, round, "POST " + verb + ": " + std::to_string(r.first) + " " + firstLines(r.second));
    return false;
  }
  // Starts the daemon, asks for verb, waits until it converged, stops it.
  double serveToCompletion(const std::string& verb, Tally& t, const std::string& round) {
    if (!serve.start()) {
      problem(t, t.disagreements, round, "darasa serve did not start: " + firstLines(readFile(serve.outputFile())));
      return 0;
    }
    auto start = Clock::now();
    double took = 0;
    if (post(verb, t, round)) {
      const char* want = verb == "up" ? "ready" : "destroyed";
      if (!waitApi([&](const json& l) { return all(l, want); }, 180))
        problem(t, t.disagreements, round, "the restarted daemon did not get every lab " + std::string(want) + ": " +
                                               firstLines(darasa::testing::apiLabs(serve, token, cohort).dump()));
      took = since(start);
    }
    int code = serve.stop(SIGTERM, 60);
    if (code != 0) problem(t, t.disagreements, round, "darasa serve exited " + std::to_string(code) + " on SIGTERM");
    return took;
  }
  static std::string readFile(const std::string& p) { return darasa::testing::readFile(p); }
};

ChaosLab::ChaosLab(Backend& backend, int trainees) : impl_(std::make_unique<Impl>(backend, trainees)) {
  // Unique on this host: container names, cgroups and plugin processes of
  // tests running side by side must not meet.
  cohort_ = "chaos-" + backend.provider() + "-" + std::to_string(::getpid());
  impl_->cohort = cohort_;
  backend.prepare(impl_->state.path());
  std::string file = impl_->work / "cohort.yaml";
  darasa::testing::writeFile(
      file, "apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: chaos-lab}\nspec:\n" + backend.templateSpec() +
                "---\napiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: " + cohort_ +
                "}\nspec:\n  template: chaos-lab\n  trainees:\n" + darasa::testing::traineesYaml(trainees));
  auto r = impl_->darasa({"apply", file});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  impl_->token = darasa::testing::makeToken(impl_->state.path(), {"--role", "admin"});
}

ChaosLab::~ChaosLab() {
  impl_->serve.stop(SIGKILL, 10);
  impl_->darasa({"down", cohort_, "--wait-lock", "60"}, 600);
}

double ChaosLab::upToCompletion(Tally& t, const std::string& round) {
  double took = impl_->completed("up", t, round);
  impl_->checkUp(t, round);
  return took;
}

double ChaosLab::downToCompletion(Tally& t, const std::string& round) {
  double took = impl_->completed("down", t, round);
  impl_->checkDown(t, round);
  return took;
}

double ChaosLab::measure(Target target, Tally& t) {
  const std::string round = std::string("measuring ") + targetName(target);
  double took = 0;
  switch (target) {
    case Target::kUp:
    case Target::kPlugin:
      took = upToCompletion(t, round);
      downToCompletion(t, round);
      break;
    case Target::kDown:
      upToCompletion(t, round);
      took = downToCompletion(t, round);
      break;
    case Target::kServeUp:
      took = impl_->serveToCompletion("up", t, round);
      impl_->checkUp(t, round);
      downToCompletion(t, round);
      break;
    case Target::kServeDown:
      upToCompletion(t, round);
      took = impl_->serveToCompletion("down", t, round);
      impl_->checkDown(t, round);
      break;
  }
  return took;
}

void ChaosLab::killDuring(Target target, double at, Tally& t, const std::string& round) {
  Impl& m = *impl_;
  const bool serve = target == Target::kServeUp || target == Target::kServeDown;
  int pid = -1;
  Clock::time_point start;
  if (serve) {
    if (!m.serve.start()) {
      m.problem(t, t.disagreements, round, "darasa serve did not start");
      return;
    }
    pid = m.serve.pid();
    start = Clock::now();
    if (!m.post(target == Target::kServeUp ? "up" : "down", t, round)) return;
  } else {
    const char* verb = target == Target::kDown ? "down" : "up";
    start = Clock::now();
    pid = darasa::testing::spawnCommand({darasaBinary(), verb, m.cohort}, m.env(), m.work / "killed.out");
    // A plugin's life starts at darasa's first call to it: count from there.
    if (target == Target::kPlugin) {
      while (m.backend.pluginPid(pid) < 0 && since(start) < 30 && waitpid(pid, nullptr, WNOHANG) == 0) sleepFor(0.002);
      start = Clock::now();
    }
  }
  // Watch while waiting for the moment, as long as an observation fits.
  double cost = 0;
  while (since(start) + cost < at) {
    auto before = Clock::now();
    m.watch(t, round);
    cost = since(before);
  }
  sleepFor(at - since(start));
  int victim = pid;
  if (target == Target::kPlugin) victim = m.backend.pluginPid(pid);
  int st = 0;
  bool alive = victim > 0 && (serve || target == Target::kPlugin || waitpid(pid, &st, WNOHANG) == 0);
  if (alive && ::kill(victim, SIGKILL) == 0)
    ++t.kills;
  else
    ++t.missed;
  if (serve) {
    m.serve.stop(SIGKILL, 10);
  } else if (alive || target == Target::kPlugin) {
    // The command itself goes on after its plugin was killed: it must end.
    auto until = Clock::now() + std::chrono::seconds(target == Target::kPlugin ? 300 : 10);
    while (waitpid(pid, &st, WNOHANG) == 0) {
      if (Clock::now() > until) {
        ::kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        m.problem(t, t.disagreements, round, "darasa up did not end after its plugin was killed");
        break;
      }
      sleepFor(0.02);
    }
  }
  m.watch(t, round);
}

void ChaosLab::recover(Target target, Tally& t, const std::string& round) {
  switch (target) {
    case Target::kUp:
    case Target::kPlugin:
      upToCompletion(t, round);
      break;
    case Target::kDown:
      downToCompletion(t, round);
      break;
    case Target::kServeUp:
      impl_->serveToCompletion("up", t, round);
      impl_->checkUp(t, round);
      break;
    case Target::kServeDown:
      impl_->serveToCompletion("down", t, round);
      impl_->checkDown(t, round);
      break;
  }
}

}  // namespace darasa::chaos
