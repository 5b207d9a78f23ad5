// RemoteClient: the Client over a darasa daemon's REST API (--server). Each
// call is one request (up/down: a wish, then polling the labs); answers are
// read back with the wire format into the views LabService gives locally,
// and errors keep the code and message the daemon sent.
#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "client.h"
#include "context.h"
#include "provisioner/wire.h"
#include "remote.h"

namespace darasa::cli {
namespace {
using nlohmann::json;
using Query = std::vector<std::pair<std::string, std::string>>;

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

// The answer as T (the wire format), or kInternal naming what did not fit.
template <typename T>
Result<T> as(const Result<json>& answer, const char* what) {
  if (!answer) return answer.status();
  try {
    return answer->get<T>();
  } catch (const json::exception& e) {
    return internalError(std::string("the server's ") + what + " does not have the expected shape: " + e.what());
  }
}

class RemoteClient final : public Client {
 public:
  explicit RemoteClient(Remote& api) : api_(api) {}
  bool isRemote() const override { return true; }

  Result<std::vector<LabStatus>> status(const std::string& cohort) override {
    return as<std::vector<LabStatus>>(
        cohort.empty() ? api_.get("/api/v1/labs") : api_.get(cohortPath(cohort) + "/labs"), "list of labs");
  }

  Result<std::vector<CredentialView>> credentials(const std::string& cohort,
                                                  const std::vector<std::string>& trainees) override {
    Query q;
    if (!trainees.empty()) q.push_back({"trainees", joined(trainees)});
    return as<std::vector<CredentialView>>(api_.get(cohortPath(cohort) + "/credentials", q), "credentials");
  }

  Result<ScheduleView> schedule(const std::string& cohort, const ScheduleQuery& query) override {
    Query q = window(query.window);
    if (query.all) q.push_back({"all", "true"});
    if (query.span.count() > 0) q.push_back({"spanSeconds", std::to_string(query.span.count())});
    return as<ScheduleView>(api_.get(cohortPath(cohort) + "/schedule", q), "schedule");
  }

  Result<UsageView> usage(const std::string& cohort, const UsageQuery& query) override {
    Query q = window(query.window);
    for (auto [key, milli] : {std::pair{"priceLabHour", query.prices.perLabHourMilli},
                              std::pair{"priceCpuHour", query.prices.perCpuHourMilli},
                              std::pair{"priceGibHour", query.prices.perGibHourMilli}})
      if (milli > 0) q.push_back({key, formatMoney(milli)});
    return as<UsageView>(api_.get(cohortPath(cohort) + "/usage", q), "usage report");
  }

  Result<PlanView> plan(const RunOptions& options, DesiredState wanted) override {
    Query q;
    if (wanted == DesiredState::kAbsent) q.push_back({"down", "true"});
    if (!options.trainees.empty()) q.push_back({"trainees", joined(options.trainees)});
    return as<PlanView>(api_.get(cohortPath(options.cohort) + "/plan", q), "plan");
  }

  Result<LabRunResult> up(const LabRun& options) override { return run(options, true); }
  Result<LabRunResult> down(const LabRun& options) override { return run(options, false); }

  Result<std::vector<TokenView>> tokens() override { return as<std::vector<TokenView>>(api_.get("/api/v1/tokens"), "list of tokens"); }

  Result<IssuedToken> createToken(const TokenRequest& r) override {
    json body = {{"role", tokenRoleName(r.role)}, {"name", r.name}, {"ttlSeconds", r.ttl.count()}};
    if (!r.cohort.empty()) body["cohort"] = r.cohort;
    if (!r.trainee.empty()) body["trainee"] = r.trainee;
    auto answer = api_.post("/api/v1/tokens", body);
    auto view = as<TokenView>(answer, "token");
    if (!view) return view.status();
    std::string secret = answer->value("token", "");
    if (secret.empty()) return internalError("the server's answer has no token");
    return IssuedToken{view->record, secret};
  }

  Status revokeToken(const std::string& id) override {
    auto r = api_.del("/api/v1/tokens/" + urlSegment(id));
    return r ? Status::ok() : r.status();
  }

 private:
  static std::string cohortPath(const std::string& cohort) { return "/api/v1/cohorts/" + urlSegment(cohort); }
  static Query window(const TimeWindow& w) {
    Query q;
    if (!w.from.empty()) q.push_back({"from", w.from});
    if (!w.to.empty()) q.push_back({"to", w.to});
    return q;
  }

  // The wish goes to the API (the daemon's controller does the work), then
  // the labs are polled until every selected one is ready (up) or gone
  // (down), with the same progress events as a local run. Cancelling stops
  // the waiting, not the daemon.
  Result<LabRunResult> run(const LabRun& options, bool up) {
    const RunOptions& o = options.run;
    auto before = status(o.cohort);
    if (!before) return before.status();
    for (const auto& t : o.trainees) {
      bool found = std::any_of(before->begin(), before->end(), [&](const LabStatus& l) { return l.lab.trainee == t; });
      if (!found) {
        std::vector<std::string> known;
        for (const auto& l : before.value()) known.push_back(l.lab.trainee);
        std::sort(known.begin(), known.end());
        return noSuchTrainee(o.cohort, t, known);
      }
    }
    auto selected = [&](const LabStatus& l) {
      return o.trainees.empty() || std::find(o.trainees.begin(), o.trainees.end(), l.lab.trainee) != o.trainees.end();
    };
    std::set<std::string> labs;
    for (const auto& l : before.value())
      if (selected(l) && !(up && l.lab.removed)) labs.insert(l.lab.labId);

    const auto started = std::chrono::steady_clock::now();
    if (o.trainees.empty()) {
      auto r = api_.post(cohortPath(o.cohort) + "/" + (up ? "up" : "down"), json::object());
      if (!r) return r.status();
    } else {
      for (const auto& lab : labs) {
        auto r = up ? api_.post("/api/v1/labs/" + urlSegment(lab) + "/start", json::object())
                    : api_.del("/api/v1/labs/" + urlSegment(lab));
        if (!r) return r.status().withContext(lab);
      }
    }

    LabRunResult result;
    result.serverContinues = true;
    RunReport& report = result.report;
    report.labs = static_cast<int>(labs.size());
    std::map<std::string, std::string> seen;  // lab → the last state reported
    const auto deadline = started + std::max(o.callTimeout, std::chrono::milliseconds(1000)) * 5;
    while (true) {
      auto now = status(o.cohort);
      if (!now) return now.status();
      int done = 0;
      std::set<std::string> present;
      for (const auto& l : now.value()) {
        const std::string& id = l.lab.labId;
        if (!labs.count(id)) continue;
        present.insert(id);
        const std::string state = labPhaseName(l.lab.phase);
        bool finished = up ? l.lab.phase == LabPhase::kReady : l.lab.phase == LabPhase::kDestroyed;
        bool failed = l.lab.phase == LabPhase::kFailed;
        if (finished) ++done;
        if (failed) report.reconcile.failures[id] = l.lab.lastError.isOk() ? internalError("failed") : l.lab.lastError;
        else report.reconcile.failures.erase(id);
        if (seen[id] != state && o.events) {
          Event e;
          e.labId = id;
          e.action = up ? ActionKind::kCreate : ActionKind::kDestroy;
          if (finished) {
            e.kind = up ? EventKind::kReady : EventKind::kDestroyed;
            if (up) e.endpoints = l.endpoints;
          } else if (failed) {
            e.kind = EventKind::kFailed;
            e.status = report.reconcile.failures[id];
          } else {
            e.kind = EventKind::kActionStarted;
            e.reason = "the server is working on it (" + state + ")";
          }
          o.events->onEvent(e);
        }
        seen[id] = state;
      }
      // A lab of a removed trainee is forgotten once destroyed: gone is done.
      if (!up)
        for (const auto& id : labs)
          if (!present.count(id)) ++done;
      report.ready = done;
      if (done + static_cast<int>(report.reconcile.failures.size()) >= report.labs) break;
      if (o.cancel && o.cancel->load()) {
        report.reconcile.cancelled = true;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    report.reconcile.converged = report.ready == report.labs;
    report.reconcile.elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    return result;
  }

  Remote& api_;
};

}  // namespace

std::unique_ptr<Client> makeLocalClient(Context& ctx);

Result<std::unique_ptr<Client>> makeClient(Context& ctx) {
  if (!ctx.isRemote()) return makeLocalClient(ctx);
  auto remote = ctx.remote();
  if (!remote) return remote.status();
  return std::unique_ptr<Client>(std::make_unique<RemoteClient>(*remote.value()));
}

}  // namespace darasa::cli
