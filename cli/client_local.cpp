// LocalClient: the Client over the local state directory (LabService on the
// SQLite store, the providers registered in the Context). up and down hold
// the state lock for their run.
#include <optional>

#include "client.h"
#include "context.h"
#include "provisioner/state_lock.h"

namespace darasa::cli {
namespace {

class LocalClient final : public Client {
 public:
  explicit LocalClient(Context& ctx) : ctx_(ctx) {}
  bool isRemote() const override { return false; }

  Result<std::vector<LabStatus>> status(const std::string& cohort) override {
    return withService([&](LabService& s) { return s.status(cohort); });
  }
  Result<std::vector<CredentialView>> credentials(const std::string& cohort,
                                                  const std::vector<std::string>& trainees) override {
    return withService([&](LabService& s) { return s.credentials(cohort, trainees); });
  }
  Result<ScheduleView> schedule(const std::string& cohort, const ScheduleQuery& query) override {
    return withService([&](LabService& s) { return s.schedule(cohort, query); });
  }
  Result<UsageView> usage(const std::string& cohort, const UsageQuery& query) override {
    return withService([&](LabService& s) { return s.usage(cohort, query); });
  }
  Result<PlanView> plan(const RunOptions& options, DesiredState wanted) override {
    return withService([&](LabService& s) { return s.plan(options, wanted); });
  }
  Result<LabRunResult> up(const LabRun& options) override { return run(options, true); }
  Result<LabRunResult> down(const LabRun& options) override { return run(options, false); }

  Result<std::vector<TokenView>> tokens() override {
    return withService([&](LabService& s) { return s.tokens(); });
  }
  Result<IssuedToken> createToken(const TokenRequest& r) override {
    // The first admin token is made before any cohort: the state may be new.
    auto store = ctx_.openStore(OpenMode::kCreate);
    if (!store) return store.status();
    auto issued = darasa::createToken(*store.value(), r.role, r.cohort, r.trainee, r.name, r.ttl, SystemClock::instance());
    if (!issued) return issued.status();
    (void)store.value()->appendAudit(ctx_.actor(), "create-token", "token:" + issued->record.id,
                                     tokenScope(issued->record));
    return issued;
  }
  Status revokeToken(const std::string& id) override {
    auto store = ctx_.openStore(OpenMode::kMustExist);
    if (!store) return store.status();
    if (auto s = store.value()->revokeToken(id); !s) return s;
    (void)store.value()->appendAudit(ctx_.actor(), "revoke-token", "token:" + id);
    return Status::ok();
  }

 private:
  template <typename F>
  auto withService(F&& f) -> decltype(f(std::declval<LabService&>())) {
    auto store = ctx_.openStore(OpenMode::kMustExist);
    if (!store) return store.status();
    LabService service(*store.value(), ctx_.registry(), SystemClock::instance(), ctx_.actor());
    return f(service);
  }

  Result<LabRunResult> run(const LabRun& options, bool up) {
    const std::string verb = up ? "up" : "down";
    auto lock = StateLock::acquire(ctx_.stateDir(), "darasa " + verb + " " + options.run.cohort, options.lockWait);
    if (!lock) return withDaemonHint(ctx_, lock.status());
    return withService([&](LabService& s) -> Result<LabRunResult> {
      auto report = up ? s.up(options.run) : s.down(options.run);
      if (!report) return report.status();
      return LabRunResult{std::move(report.value()), false};
    });
  }

  Context& ctx_;
};

}  // namespace

std::unique_ptr<Client> makeLocalClient(Context& ctx) { return std::make_unique<LocalClient>(ctx); }

}  // namespace darasa::cli
