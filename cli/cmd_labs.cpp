// plan, up, down, status, creds, gc, providers: the commands that act on or
// report the labs of the state.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <fstream>
#include <thread>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "commands.h"
#include "context.h"
#include "progress.h"
#include "provisioner/model_json.h"
#include "provisioner/service.h"
#include "provisioner/state_lock.h"
#include "provisioner/wire.h"
#include "client.h"

namespace darasa::cli {
namespace {
using nlohmann::json;

std::atomic<bool> gInterrupted{false};
extern "C" void onInterrupt(int) { gInterrupted.store(true); }

// SIGINT/SIGTERM ask the running reconcile to stop; a second one kills.
class InterruptScope {
 public:
  InterruptScope() {
    struct sigaction sa {};
    sa.sa_handler = onInterrupt;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, &oldInt_);
    sigaction(SIGTERM, &sa, &oldTerm_);
  }
  ~InterruptScope() {
    sigaction(SIGINT, &oldInt_, nullptr);
    sigaction(SIGTERM, &oldTerm_, nullptr);
  }

 private:
  struct sigaction oldInt_ {}, oldTerm_ {};
};

struct LabOptions {
  std::string cohort;
  std::vector<std::string> trainees;
  std::string output = "table";
  int parallel = 0;
  int timeoutSeconds = 120;
  bool down = false;
  bool dryRun = false;
  std::string keyDir;
  int lockWaitSeconds = 0;
};

Format formatOf(const LabOptions& o) {
  Format f = Format::kTable;
  parseFormat(o.output, &f);
  return f;
}

void printTable(const Table& t, Format f) {
  if (f == Format::kCsv) t.printCsv(std::cout);
  else if (f == Format::kJson) std::cout << t.toJson().dump(2) << "\n";
  else t.printText(std::cout);
}

Result<StateLock> lockState(Context& ctx, const std::string& what, int waitSeconds) {
  auto lock = StateLock::acquire(ctx.stateDir(), what, std::chrono::seconds(waitSeconds));
  if (!lock) return withDaemonHint(ctx, lock.status());
  return lock;
}

RunOptions runOptions(const LabOptions& o) {
  RunOptions r;
  r.cohort = o.cohort;
  r.trainees = o.trainees;
  r.parallelism = o.parallel;
  r.callTimeout = std::chrono::seconds(o.timeoutSeconds);
  return r;
}

int runPlan(Client& client, const LabOptions& o) {
  auto plan = client.plan(runOptions(o), o.down ? DesiredState::kAbsent : DesiredState::kRunning);
  if (!plan) return fail(plan.status());
  Format f = formatOf(o);
  if (plan->actions.empty() && f == Format::kTable) {
    std::cout << "nothing to do: cohort " << o.cohort << " is as `darasa " << (o.down ? "down" : "up")
              << "` wants it\n";
    return kExitOk;
  }
  Table t({"action", "lab", "reason"});
  for (const auto& a : plan->actions) t.addRow({actionKindName(a.kind), a.labId, a.reason});
  printTable(t, f);
  return kExitOk;
}

int runUpDown(Context& ctx, Client& client, const LabOptions& o, bool up) {
  const std::string verb = up ? "up" : "down";
  auto selection = client.status(o.cohort);
  if (!selection) return fail(selection.status());
  int total = 0;
  for (const auto& s : selection.value())
    if (o.trainees.empty() || std::find(o.trainees.begin(), o.trainees.end(), s.lab.trainee) != o.trainees.end())
      ++total;

  ProgressPrinter progress(total, verb, stderr, stderrIsTerminal() && !ctx.globals().quiet, ctx.globals().verbose);
  LabRun run;
  run.run = runOptions(o);
  run.lockWait = std::chrono::seconds(o.lockWaitSeconds);
  if (!ctx.globals().quiet) run.run.events = &progress;
  gInterrupted.store(false);
  run.run.cancel = &gInterrupted;
  auto started = std::chrono::steady_clock::now();
  Result<LabRunResult> result = [&] {
    InterruptScope interrupts;
    return up ? client.up(run) : client.down(run);
  }();
  progress.finish();
  if (!result) return fail(result.status());
  const RunReport& report = result->report;
  const auto& rec = report.reconcile;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char took[32];
  std::snprintf(took, sizeof took, "%.1fs", secs);
  std::cout << "cohort " << o.cohort << ": " << report.ready << "/" << report.labs << " labs "
            << (up ? "ready" : "destroyed") << " in " << took;
  if (!rec.failures.empty()) std::cout << ", " << rec.failures.size() << " failed";
  std::cout << "\n";
  for (const auto& [lab, status] : rec.failures) std::cout << "  " << lab << ": " << status.toString() << "\n";
  if (rec.cancelled) {
    if (result->serverContinues)
      std::cout << "stopped waiting: the server goes on; see `darasa status " << o.cohort << " --server "
                << ctx.globals().server << "`\n";
    else
      std::cout << "interrupted: run `darasa " << verb << " " << o.cohort << "` again to finish\n";
    return 130;
  }
  if (!rec.failures.empty() || report.ready < report.labs) {
    if (rec.failures.empty()) {
      if (result->serverContinues)
        std::cout << "not converged in time: see `darasa status " << o.cohort << "` (the server keeps trying)\n";
      else
        std::cout << "not converged after " << rec.passes << " passes: see `darasa status " << o.cohort << "`\n";
    }
    return kExitFailure;
  }
  if (up && !ctx.globals().quiet) std::cout << "next: darasa creds " << o.cohort << "\n";
  return kExitOk;
}

std::string endpointText(const std::vector<Endpoint>& eps) {
  std::string s;
  for (const auto& e : eps) s += (s.empty() ? "" : " ") + e.name + "=" + e.host + ":" + std::to_string(e.port);
  return s;
}

std::string timeText(int64_t unixSeconds) {
  return unixSeconds > 0 ? formatUtc(Clock::TimePoint(std::chrono::seconds(unixSeconds))) : "";
}

int runStatus(Client& client, const LabOptions& o) {
  auto labs = client.status(o.cohort);
  if (!labs) return fail(labs.status());
  Format f = formatOf(o);
  if (f == Format::kJson) {
    std::cout << json(labs.value()).dump(2) << "\n";
    return kExitOk;
  }
  bool allCohorts = o.cohort.empty();
  std::vector<std::string> cols;
  if (allCohorts) cols.push_back("cohort");
  for (const char* c : {"trainee", "name", "state", "desired", "endpoints", "ready at", "error"}) cols.push_back(c);
  Table t(cols);
  std::map<std::string, int> counts;
  for (const auto& s : labs.value()) {
    const LabRecord& l = s.lab;
    std::vector<std::string> row;
    if (allCohorts) row.push_back(l.cohort);
    std::string state = labPhaseName(l.phase);
    ++counts[state];
    if (l.removed) state += " (removed)";
    // Waiting for capacity (the daemon's admission queue): position and ETA.
    if (l.queuePosition > 0) {
      state = "waiting #" + std::to_string(l.queuePosition);
      if (l.queueEta > 0) state += " (eta " + timeText(l.queueEta) + ")";
    }
    std::string note = l.lastError.isOk() ? l.stopReason : l.lastError.toString();
    row.insert(row.end(), {l.trainee, s.trainee.name, state, desiredStateName(l.desired), endpointText(s.endpoints),
                           timeText(l.readyAt), note});
    t.addRow(row);
  }
  printTable(t, f);
  if (f == Format::kTable) {
    std::string summary;
    for (const auto& [state, n] : counts) summary += (summary.empty() ? "" : ", ") + std::to_string(n) + " " + state;
    std::cout << labs->size() << " lab(s)" << (summary.empty() ? "" : ": " + summary) << "\n";
  }
  return kExitOk;
}

// Writes a private key file readable by its owner only; returns its path.
Result<std::string> writeKeyFile(const std::filesystem::path& dir, const std::string& name, const Secret& key) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return internalError("cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  auto path = dir / name;
  auto tmp = dir / (name + ".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return internalError("cannot write " + tmp.string());
  ::fchmod(fd, 0600);
  const std::string& data = key.reveal();
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  if (!ok) return internalError("cannot write " + tmp.string());
  std::filesystem::rename(tmp, path, ec);
  if (ec) return internalError("cannot write " + path.string() + ": " + ec.message());
  return path.string();
}

const Endpoint* mainEndpoint(const std::vector<Endpoint>& eps) {
  for (const auto& e : eps)
    if (e.name == "ssh") return &e;
  return eps.empty() ? nullptr : &eps.front();
}

int runCreds(Context& ctx, Client& client, const LabOptions& o) {
  auto creds = client.credentials(o.cohort, o.trainees);
  if (!creds) return fail(creds.status());
  // Key files go where the person runs the command (the state dir's keys/ by default).
  std::filesystem::path keyDir = o.keyDir.empty() ? ctx.stateDir() / "keys" / o.cohort : std::filesystem::path(o.keyDir);
  Format f = formatOf(o);
  json out = json::array();
  Table t({"trainee", "name", "state", "host", "port", "user", "password", "key file"});
  for (const auto& c : creds.value()) {
    const Endpoint* e = mainEndpoint(c.endpoints);
    std::string keyPath;
    if (c.issued && !c.credentials.privateKey.empty()) {
      auto written = writeKeyFile(keyDir, c.trainee.id + ".key", c.credentials.privateKey);
      if (!written) return fail(written.status());
      keyPath = written.value();
    }
    std::string host = e ? e->host : "", port = e ? std::to_string(e->port) : "";
    if (f == Format::kJson) {
      json j = c;
      if (c.issued) {
        j["keyFile"] = keyPath;
        if (e) j["ssh"] = "ssh -i " + keyPath + " -p " + port + " " + c.credentials.user + "@" + host;
      }
      out.push_back(std::move(j));
    } else {
      t.addRow({c.trainee.id, c.trainee.name, labPhaseName(c.phase), host, port,
                c.issued ? c.credentials.user : "", c.issued ? c.credentials.password.reveal() : "(not issued yet)",
                keyPath});
    }
  }
  if (f == Format::kJson) std::cout << out.dump(2) << "\n";
  else printTable(t, f);
  return kExitOk;
}

int runGc(Context& ctx, const LabOptions& o) {
  if (auto s = requireLocal(ctx, "gc"); !s) return fail(s);
  auto lock = lockState(ctx, "darasa gc", o.lockWaitSeconds);
  if (!lock) return fail(lock.status());
  auto store = ctx.openStore(OpenMode::kMustExist);
  if (!store) return fail(store.status());
  LabService service(*store.value(), ctx.registry(), SystemClock::instance(), ctx.actor());
  auto items = service.gc(o.dryRun, std::chrono::seconds(o.timeoutSeconds));
  if (!items) return fail(items.status());
  Format f = formatOf(o);
  bool failed = false;
  Table t({"provider", "lab", "resource", "reason", "result"});
  for (const auto& i : items.value()) {
    failed |= !i.result.isOk();
    t.addRow({i.provider, i.lab.labId, i.lab.resourceId, i.reason,
              o.dryRun ? "would remove" : (i.result.isOk() ? "removed" : i.result.toString())});
  }
  if (items->empty() && f == Format::kTable) std::cout << "no orphaned labs\n";
  else printTable(t, f);
  return failed ? kExitFailure : kExitOk;
}

int runProviders(Context& ctx, const LabOptions& o) {
  if (auto s = requireLocal(ctx, "providers"); !s) return fail(s);
  auto& registry = ctx.registry();
  Table t({"name", "kind", "usable", "detail"});
  for (const auto& name : registry.names()) {
    auto p = registry.get(name);
    if (!p) {
      t.addRow({name, "", "no", p.status().message()});
      continue;
    }
    auto usable = p.value()->usable();
    auto info = p.value()->info();
    std::string detail = usable ? registry.description(name) : usable.message();
    if (usable && !info.version.empty()) detail += " (" + info.version + ")";
    t.addRow({name, providerKindName(info.kind), usable ? "yes" : "no", detail});
  }
  printTable(t, formatOf(o));
  return kExitOk;
}

}  // namespace

void addLabCommands(CLI::App& app, Context& ctx, int* rc) {
  auto o = std::make_shared<LabOptions>();
  auto formats = CLI::IsMember({"table", "json", "csv"});
  auto addTrainee = [&](CLI::App* c) {
    c->add_option("--trainee", o->trainees, "only this trainee's lab (repeatable)");
  };
  auto addRunFlags = [&](CLI::App* c) {
    c->add_option("--parallel", o->parallel, "provider calls at once (default: what the provider suggests)")
        ->check(CLI::Range(1, 256));
    c->add_option("--timeout", o->timeoutSeconds, "deadline of each provider call, in seconds")
        ->check(CLI::Range(1, 3600));
    c->add_option("--wait-lock", o->lockWaitSeconds,
                  "seconds to wait when another darasa is working on this state (default 0: refuse at once)");
  };

  auto* plan = app.add_subcommand("plan", "Show what `up` (or `down`) would do now, without doing it");
  plan->add_option("cohort", o->cohort, "cohort name")->required();
  addTrainee(plan);
  plan->add_flag("--down", o->down, "plan a teardown instead");
  plan->add_option("-o,--output", o->output, "table, json or csv")->check(formats);
  plan->callback([&ctx, o, rc] { *rc = withClient(ctx, [&](Client& c) { return runPlan(c, *o); }); });

  auto* up = app.add_subcommand("up", "Provision a cohort's labs now and wait until they are ready");
  up->add_option("cohort", o->cohort, "cohort name (applied with `darasa apply`)")->required();
  addTrainee(up);
  addRunFlags(up);
  up->footer("Exit status: 0 when every selected lab is ready, 1 when any failed, 130 when interrupted.");
  up->callback([&ctx, o, rc] { *rc = withClient(ctx, [&](Client& c) { return runUpDown(ctx, c, *o, true); }); });

  auto* down = app.add_subcommand("down", "Tear down a cohort's labs (all, or --trainee)");
  down->add_option("cohort", o->cohort, "cohort name")->required();
  addTrainee(down);
  addRunFlags(down);
  down->callback([&ctx, o, rc] { *rc = withClient(ctx, [&](Client& c) { return runUpDown(ctx, c, *o, false); }); });

  auto* status = app.add_subcommand("status", "Labs, their state and endpoints");
  status->add_option("cohort", o->cohort, "cohort name (default: every cohort)");
  status->add_option("-o,--output", o->output, "table, json or csv")->check(formats);
  status->callback([&ctx, o, rc] { *rc = withClient(ctx, [&](Client& c) { return runStatus(c, *o); }); });

  auto* creds = app.add_subcommand("creds", "Trainees' lab credentials: endpoint, user, password, SSH key (audited)");
  creds->add_option("cohort", o->cohort, "cohort name")->required();
  addTrainee(creds);
  creds->add_option("-o,--output", o->output, "table, json or csv")->check(formats);
  creds->add_option("--key-dir", o->keyDir, "where private key files are written (default STATE/keys/COHORT)");
  creds->footer("Every read is written to the audit log. Key files are created mode 0600.");
  creds->callback([&ctx, o, rc] { *rc = withClient(ctx, [&](Client& c) { return runCreds(ctx, c, *o); }); });

  auto* gc = app.add_subcommand("gc", "Find labelled resources this state does not know, and remove them");
  gc->add_flag("--dry-run", o->dryRun, "list them, remove nothing");
  gc->add_option("-o,--output", o->output, "table, json or csv")->check(formats);
  gc->add_option("--timeout", o->timeoutSeconds, "deadline of each provider call, in seconds");
  gc->callback([&ctx, o, rc] { *rc = runGc(ctx, *o); });

  auto* providers = app.add_subcommand("providers", "Providers, and whether each is usable here (and why not)");
  providers->add_option("-o,--output", o->output, "table, json or csv")->check(formats);
  providers->callback([&ctx, o, rc] { *rc = runProviders(ctx, *o); });
}

}  // namespace darasa::cli
