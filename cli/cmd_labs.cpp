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
#include "remote.h"

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

std::string ago(int64_t unixSeconds) {
  if (unixSeconds <= 0) return "";
  return formatUtc(std::chrono::system_clock::time_point(std::chrono::seconds(unixSeconds)));
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

int runPlan(Context& ctx, const LabOptions& o) {
  // The daemon plans from its schedule: `darasa schedule` shows that.
  if (auto s = requireLocal(ctx, "plan"); !s) return fail(s);
  auto store = ctx.openStore(OpenMode::kMustExist);
  if (!store) return fail(store.status());
  LabService service(*store.value(), ctx.registry(), SystemClock::instance(), ctx.actor());
  auto actions = service.plan(runOptions(o), o.down ? DesiredState::kAbsent : DesiredState::kRunning);
  if (!actions) return fail(actions.status());
  Format f = formatOf(o);
  if (actions->empty() && f == Format::kTable) {
    std::cout << "nothing to do: cohort " << o.cohort << " is as `darasa " << (o.down ? "down" : "up")
              << "` wants it\n";
    return kExitOk;
  }
  Table t({"action", "lab", "reason"});
  for (const auto& a : actions.value()) t.addRow({actionKindName(a.kind), a.labId, a.reason});
  printTable(t, f);
  return kExitOk;
}

int runUpDownRemote(Context& ctx, const LabOptions& o, bool up);

int runUpDown(Context& ctx, const LabOptions& o, bool up) {
  if (ctx.isRemote()) return runUpDownRemote(ctx, o, up);
  std::string verb = up ? "up" : "down";
  auto lock = lockState(ctx, "darasa " + verb + " " + o.cohort, o.lockWaitSeconds);
  if (!lock) return fail(lock.status());
  auto store = ctx.openStore(OpenMode::kMustExist);
  if (!store) return fail(store.status());
  LabService service(*store.value(), ctx.registry(), SystemClock::instance(), ctx.actor());

  auto selection = service.status(o.cohort);
  if (!selection) return fail(selection.status());
  int total = 0;
  for (const auto& s : selection.value())
    if (o.trainees.empty() || std::find(o.trainees.begin(), o.trainees.end(), s.lab.trainee) != o.trainees.end())
      ++total;

  ProgressPrinter progress(total, verb, stderr, stderrIsTerminal() && !ctx.globals().quiet, ctx.globals().verbose);
  RunOptions r = runOptions(o);
  if (!ctx.globals().quiet) r.events = &progress;
  gInterrupted.store(false);
  r.cancel = &gInterrupted;
  auto started = std::chrono::steady_clock::now();
  Result<RunReport> report = [&] {
    InterruptScope interrupts;
    return up ? service.up(r) : service.down(r);
  }();
  progress.finish();
  if (!report) return fail(report.status());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto& rec = report->reconcile;
  char took[32];
  std::snprintf(took, sizeof took, "%.1fs", secs);
  if (up)
    std::cout << "cohort " << o.cohort << ": " << report->ready << "/" << report->labs << " labs ready in " << took;
  else
    std::cout << "cohort " << o.cohort << ": " << report->ready << "/" << report->labs << " labs destroyed in "
              << took;
  if (!rec.failures.empty()) std::cout << ", " << rec.failures.size() << " failed";
  std::cout << "\n";
  for (const auto& [lab, status] : rec.failures) std::cout << "  " << lab << ": " << status.toString() << "\n";
  if (rec.cancelled) {
    std::cout << "interrupted: run `darasa " << verb << " " << o.cohort << "` again to finish\n";
    return 130;
  }
  if (!rec.failures.empty() || report->ready < report->labs) {
    if (rec.failures.empty())
      std::cout << "not converged after " << rec.passes << " passes: see `darasa status " << o.cohort << "`\n";
    return kExitFailure;
  }
  if (up && !ctx.globals().quiet) std::cout << "next: darasa creds " << o.cohort << "\n";
  return kExitOk;
}

// up/down through the daemon: the wish goes to the API (the daemon's
// controller does the work), then the labs are polled until every selected
// one is ready (up) or gone (down), with the same progress lines and summary
// as the local command. Interrupting stops the waiting, not the daemon.
Result<json> remoteLabs(Context& ctx, const std::string& cohort);

int runUpDownRemote(Context& ctx, const LabOptions& o, bool up) {
  std::string verb = up ? "up" : "down";
  auto remote = ctx.remote();
  if (!remote) return fail(remote.status());
  Remote& api = *remote.value();
  auto before = remoteLabs(ctx, o.cohort);
  if (!before) return fail(before.status());
  auto selected = [&](const json& l) {
    return o.trainees.empty() ||
           std::find(o.trainees.begin(), o.trainees.end(), l.value("trainee", "")) != o.trainees.end();
  };
  for (const auto& t : o.trainees) {
    bool found = std::any_of(before->begin(), before->end(), [&](const json& l) { return l.value("trainee", "") == t; });
    if (!found) return fail(notFoundError("no trainee \"" + t + "\" in cohort " + o.cohort));
  }
  std::set<std::string> labs;
  for (const auto& l : before.value())
    if (selected(l) && !(up && l.value("removed", false))) labs.insert(l.value("lab", ""));

  auto started = std::chrono::steady_clock::now();
  if (o.trainees.empty()) {
    auto r = api.post("/api/v1/cohorts/" + urlSegment(o.cohort) + "/" + verb, json::object());
    if (!r) return fail(r.status());
  } else {
    for (const auto& lab : labs) {
      auto r = up ? api.post("/api/v1/labs/" + urlSegment(lab) + "/start", json::object())
                  : api.del("/api/v1/labs/" + urlSegment(lab));
      if (!r) return fail(r.status().withContext(lab));
    }
  }

  ProgressPrinter progress(static_cast<int>(labs.size()), verb, stderr, stderrIsTerminal() && !ctx.globals().quiet,
                           ctx.globals().verbose);
  std::map<std::string, std::string> seen;  // lab → the last state reported
  std::map<std::string, Status> failures;
  int done = 0;
  bool interrupted = false;
  gInterrupted.store(false);
  {
    InterruptScope interrupts;
    auto deadline = started + std::chrono::seconds(std::max(o.timeoutSeconds, 1) * 5);
    while (true) {
      auto now = remoteLabs(ctx, o.cohort);
      if (!now) {
        progress.finish();
        return fail(now.status());
      }
      done = 0;
      std::set<std::string> present;
      for (const auto& l : now.value()) {
        std::string id = l.value("lab", "");
        if (!labs.count(id)) continue;
        present.insert(id);
        std::string state = l.value("state", "");
        bool finished = up ? state == "ready" : state == "destroyed";
        bool failed = state == "failed";
        if (finished) ++done;
        if (failed) failures[id] = Status(codeFromName(l["error"].value("code", "internal")).value_or(Code::kInternal),
                                          l["error"].value("message", "failed"));
        else failures.erase(id);
        if (seen[id] != state && !ctx.globals().quiet) {
          Event e;
          e.labId = id;
          e.action = up ? ActionKind::kCreate : ActionKind::kDestroy;
          if (finished) {
            e.kind = up ? EventKind::kReady : EventKind::kDestroyed;
            if (up) e.endpoints = l["endpoints"].get<std::vector<Endpoint>>();
          } else if (failed) {
            e.kind = EventKind::kFailed;
            e.status = failures[id];
          } else {
            e.kind = EventKind::kActionStarted;
            e.reason = "the server is working on it (" + state + ")";
          }
          progress.onEvent(e);
        }
        seen[id] = state;
      }
      // A lab of a removed trainee is forgotten once destroyed: gone is done.
      if (!up)
        for (const auto& id : labs)
          if (!present.count(id)) ++done;
      if (done + static_cast<int>(failures.size()) >= static_cast<int>(labs.size())) break;
      if (gInterrupted.load()) {
        interrupted = true;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
  progress.finish();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char took[32];
  std::snprintf(took, sizeof took, "%.1fs", secs);
  std::cout << "cohort " << o.cohort << ": " << done << "/" << labs.size() << " labs "
            << (up ? "ready" : "destroyed") << " in " << took;
  if (!failures.empty()) std::cout << ", " << failures.size() << " failed";
  std::cout << "\n";
  for (const auto& [lab, status] : failures) std::cout << "  " << lab << ": " << status.toString() << "\n";
  if (interrupted) {
    std::cout << "stopped waiting: the server goes on; see `darasa status " << o.cohort << " --server "
              << api.url() << "`\n";
    return 130;
  }
  if (!failures.empty() || done < static_cast<int>(labs.size())) {
    if (failures.empty())
      std::cout << "not converged in time: see `darasa status " << o.cohort << "` (the server keeps trying)\n";
    return kExitFailure;
  }
  if (up && !ctx.globals().quiet) std::cout << "next: darasa creds " << o.cohort << "\n";
  return kExitOk;
}

// One lab as `status -o json` shows it; the remote mode reads the same
// fields from the daemon's answer (normalizeRemoteLab).
json labStatusJson(const LabStatus& s) {
  json j = {{"lab", s.lab.labId},
          {"cohort", s.lab.cohort},
          {"trainee", s.trainee.id},
          {"name", s.trainee.name},
          {"state", labPhaseName(s.lab.phase)},
          {"desired", desiredStateName(s.lab.desired)},
          {"removed", s.lab.removed},
          {"provider", s.lab.provider},
          {"resourceId", s.lab.resourceId},
          {"generation", s.lab.generation},
          {"observedGeneration", s.lab.observedGeneration},
          {"endpoints", s.endpoints},
          {"readyAt", ago(s.lab.readyAt)},
          {"error", s.lab.lastError.isOk() ? json(nullptr)
                                           : json{{"code", codeName(s.lab.lastError.code())},
                                                  {"message", s.lab.lastError.message()}}}};
  j.update(labPolicyJson(s.lab));
  return j;
}

// A lab of the daemon's answer in the shape of labStatusJson: the API may
// name a field differently or leave one out; what is missing is shown empty.
json normalizeRemoteLab(const json& in) {
  auto str = [&](std::initializer_list<const char*> keys) -> std::string {
    for (const char* k : keys)
      if (in.contains(k) && in[k].is_string()) return in[k].get<std::string>();
    return "";
  };
  auto num = [&](const char* k) -> int64_t {
    return in.contains(k) && in[k].is_number_integer() ? in[k].get<int64_t>() : 0;
  };
  json out;
  out["lab"] = str({"lab", "id", "labId"});
  out["cohort"] = str({"cohort"});
  out["trainee"] = str({"trainee", "traineeId"});
  std::string name = str({"name", "traineeName"});
  if (name.empty() && in.contains("trainee") && in["trainee"].is_object()) {
    out["trainee"] = in["trainee"].value("id", "");
    name = in["trainee"].value("name", "");
  }
  out["name"] = name;
  out["state"] = str({"state", "phase"});
  out["desired"] = str({"desired"});
  out["removed"] = in.contains("removed") && in["removed"].is_boolean() ? in["removed"].get<bool>() : false;
  out["provider"] = str({"provider"});
  out["resourceId"] = str({"resourceId"});
  out["generation"] = num("generation");
  out["observedGeneration"] = num("observedGeneration");
  out["endpoints"] = in.contains("endpoints") && in["endpoints"].is_array() ? in["endpoints"] : json::array();
  std::string readyAt = str({"readyAt"});
  if (readyAt.empty() && in.contains("readyAt") && in["readyAt"].is_number_integer())
    readyAt = ago(in["readyAt"].get<int64_t>());
  out["readyAt"] = readyAt;
  out["error"] = in.contains("error") && in["error"].is_object() ? in["error"] : json(nullptr);
  // The policies' view (labPolicyJson), as the daemon gives it.
  out["queue"] = in.contains("queue") && in["queue"].is_object() ? in["queue"] : json(nullptr);
  out["stopReason"] = str({"stopReason"});
  out["lastActiveAt"] = in.contains("lastActiveAt") && in["lastActiveAt"].is_string() ? in["lastActiveAt"] : json(nullptr);
  return out;
}

Result<json> remoteLabs(Context& ctx, const std::string& cohort) {
  auto remote = ctx.remote();
  if (!remote) return remote.status();
  auto r = cohort.empty() ? remote.value()->get("/api/v1/labs")
                          : remote.value()->get("/api/v1/cohorts/" + urlSegment(cohort) + "/labs");
  if (!r) return r.status();
  const json& list = r->is_object() && r->contains("labs") ? (*r)["labs"] : *r;
  if (!list.is_array()) return internalError("the server's list of labs is not a list");
  json out = json::array();
  for (const auto& l : list) out.push_back(normalizeRemoteLab(l));
  return out;
}

std::string endpointText(const json& eps) {
  std::string s;
  for (const auto& e : eps)
    s += (s.empty() ? "" : " ") + e.value("name", "") + "=" + e.value("host", "") + ":" +
         std::to_string(e.value("port", 0));
  return s;
}

std::string errorText(const json& err) {
  if (!err.is_object()) return "";
  auto code = codeFromName(err.value("code", "internal"));
  return Status(code.value_or(Code::kInternal), err.value("message", "")).toString();
}

int runStatus(Context& ctx, const LabOptions& o) {
  json labs = json::array();
  if (ctx.isRemote()) {
    auto r = remoteLabs(ctx, o.cohort);
    if (!r) return fail(r.status());
    labs = std::move(r.value());
  } else {
    auto store = ctx.openStore(OpenMode::kMustExist);
    if (!store) return fail(store.status());
    LabService service(*store.value(), ctx.registry(), SystemClock::instance(), ctx.actor());
    auto local = service.status(o.cohort);
    if (!local) return fail(local.status());
    for (const auto& s : local.value()) labs.push_back(labStatusJson(s));
  }
  Format f = formatOf(o);
  if (f == Format::kJson) {
    std::cout << labs.dump(2) << "\n";
    return kExitOk;
  }
  bool allCohorts = o.cohort.empty();
  std::vector<std::string> cols;
  if (allCohorts) cols.push_back("cohort");
  for (const char* c : {"trainee", "name", "state", "desired", "endpoints", "ready at", "error"}) cols.push_back(c);
  Table t(cols);
  std::map<std::string, int> counts;
  for (const auto& l : labs) {
    std::vector<std::string> row;
    if (allCohorts) row.push_back(l.value("cohort", ""));
    std::string state = l.value("state", "");
    ++counts[state];
    if (l.value("removed", false)) state += " (removed)";
    // Waiting for capacity (the daemon's admission queue): position and ETA.
    if (l.contains("queue") && l["queue"].is_object()) {
      const json& q = l["queue"];
      state = "waiting #" + std::to_string(q.value("position", 0));
      if (q.contains("eta") && q["eta"].is_string()) state += " (eta " + q["eta"].get<std::string>() + ")";
    }
    std::string note = errorText(l["error"]);
    if (note.empty() && l.contains("stopReason") && l["stopReason"].is_string())
      note = l["stopReason"].get<std::string>();
    row.insert(row.end(), {l.value("trainee", ""), l.value("name", ""), state, l.value("desired", ""),
                           endpointText(l["endpoints"]), l.value("readyAt", ""), note});
    t.addRow(row);
  }
  printTable(t, f);
  if (f == Format::kTable) {
    std::string summary;
    for (const auto& [state, n] : counts) summary += (summary.empty() ? "" : ", ") + std::to_string(n) + " " + state;
    std::cout << labs.size() << " lab(s)" << (summary.empty() ? "" : ": " + summary) << "\n";
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

// The daemon's answer for a cohort's credentials, as LabService gives them
// locally (the server audits the read).
Result<std::vector<CredentialView>> remoteCredentials(Context& ctx, const LabOptions& o) {
  auto remote = ctx.remote();
  if (!remote) return remote.status();
  auto r = remote.value()->get("/api/v1/cohorts/" + urlSegment(o.cohort) + "/credentials");
  if (!r) return r.status();
  const json& list = r->is_object() && r->contains("credentials") ? (*r)["credentials"] : *r;
  if (!list.is_array()) return internalError("the server's list of credentials is not a list");
  std::vector<CredentialView> out;
  try {
    for (const auto& c : list) {
      CredentialView v;
      v.cohort = c.value("cohort", o.cohort);
      if (c.contains("trainee") && c["trainee"].is_object()) {
        v.trainee.id = c["trainee"].value("id", "");
        v.trainee.name = c["trainee"].value("name", "");
        v.trainee.email = c["trainee"].value("email", "");
      } else {
        v.trainee.id = c.value("trainee", "");
        v.trainee.name = c.value("name", "");
        v.trainee.email = c.value("email", "");
      }
      if (!o.trainees.empty() && std::find(o.trainees.begin(), o.trainees.end(), v.trainee.id) == o.trainees.end())
        continue;
      v.labId = c.value("lab", v.cohort + "." + v.trainee.id);
      v.phase = labPhaseFromName(c.value("state", "pending")).value_or(LabPhase::kPending);
      if (c.contains("endpoints") && c["endpoints"].is_array()) v.endpoints = c["endpoints"].get<std::vector<Endpoint>>();
      v.issued = c.value("issued", false);
      const json& cr = c.contains("credentials") && c["credentials"].is_object() ? c["credentials"] : c;
      if (v.issued) {
        v.credentials.user = cr.value("user", "");
        v.credentials.password = Secret(cr.value("password", ""));
        v.credentials.privateKey = Secret(cr.value("privateKey", ""));
        v.credentials.publicKey = cr.value("publicKey", "");
      }
      out.push_back(std::move(v));
    }
  } catch (const json::exception& e) {
    return internalError(std::string("the server's credentials do not have the expected shape: ") + e.what());
  }
  for (const auto& t : o.trainees) {
    bool found = std::any_of(out.begin(), out.end(), [&](const CredentialView& v) { return v.trainee.id == t; });
    if (!found) return notFoundError("no trainee \"" + t + "\" in cohort " + o.cohort);
  }
  return out;
}

int runCreds(Context& ctx, const LabOptions& o) {
  Result<std::vector<CredentialView>> creds = std::vector<CredentialView>{};
  std::unique_ptr<Store> store;
  if (ctx.isRemote()) {
    creds = remoteCredentials(ctx, o);
  } else {
    auto opened = ctx.openStore(OpenMode::kMustExist);
    if (!opened) return fail(opened.status());
    store = std::move(opened.value());
    LabService service(*store, ctx.registry(), SystemClock::instance(), ctx.actor());
    creds = service.credentials(o.cohort, o.trainees);
  }
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
      json j = {{"trainee", c.trainee.id},
                {"name", c.trainee.name},
                {"email", c.trainee.email},
                {"lab", c.labId},
                {"state", labPhaseName(c.phase)},
                {"endpoints", c.endpoints},
                {"issued", c.issued}};
      if (c.issued) {
        j["user"] = c.credentials.user;
        j["password"] = c.credentials.password.reveal();
        j["keyFile"] = keyPath;
        j["privateKey"] = c.credentials.privateKey.reveal();
        j["publicKey"] = c.credentials.publicKey;
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
  plan->callback([&ctx, o, rc] { *rc = runPlan(ctx, *o); });

  auto* up = app.add_subcommand("up", "Provision a cohort's labs now and wait until they are ready");
  up->add_option("cohort", o->cohort, "cohort name (applied with `darasa apply`)")->required();
  addTrainee(up);
  addRunFlags(up);
  up->footer("Exit status: 0 when every selected lab is ready, 1 when any failed, 130 when interrupted.");
  up->callback([&ctx, o, rc] { *rc = runUpDown(ctx, *o, true); });

  auto* down = app.add_subcommand("down", "Tear down a cohort's labs (all, or --trainee)");
  down->add_option("cohort", o->cohort, "cohort name")->required();
  addTrainee(down);
  addRunFlags(down);
  down->callback([&ctx, o, rc] { *rc = runUpDown(ctx, *o, false); });

  auto* status = app.add_subcommand("status", "Labs, their state and endpoints");
  status->add_option("cohort", o->cohort, "cohort name (default: every cohort)");
  status->add_option("-o,--output", o->output, "table, json or csv")->check(formats);
  status->callback([&ctx, o, rc] { *rc = runStatus(ctx, *o); });

  auto* creds = app.add_subcommand("creds", "Trainees' lab credentials: endpoint, user, password, SSH key (audited)");
  creds->add_option("cohort", o->cohort, "cohort name")->required();
  addTrainee(creds);
  creds->add_option("-o,--output", o->output, "table, json or csv")->check(formats);
  creds->add_option("--key-dir", o->keyDir, "where private key files are written (default STATE/keys/COHORT)");
  creds->footer("Every read is written to the audit log. Key files are created mode 0600.");
  creds->callback([&ctx, o, rc] { *rc = runCreds(ctx, *o); });

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
