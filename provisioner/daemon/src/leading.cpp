#include "provisioner/leading.h"

namespace darasa {

namespace {

void setGauges(Metrics* metrics, const std::string& self, bool leading, int64_t term) {
  if (!metrics) return;
  metrics->setGauge("darasa_leader", "1 while this daemon leads the state (drives the providers), else 0",
                    {{"daemon", self}}, leading ? 1 : 0);
  metrics->setGauge("darasa_leader_term", "the leader term this daemon holds (0 while it follows)",
                    {{"daemon", self}}, static_cast<double>(term));
}

}  // namespace

Result<std::unique_ptr<Leadership>> startLeading(Store& store, LeadingOptions o) {
  if (!o.controller) return invalidError("startLeading needs a controller");
  if (o.daemonId.empty()) o.daemonId = defaultDaemonId();
  LeadershipOptions lo;
  lo.daemonId = o.daemonId;
  lo.interval = o.interval;
  Controller* controller = o.controller;
  lo.onElected = [o, controller](int64_t term) {
    setGauges(o.metrics, o.daemonId, true, term);
    if (o.log) o.log("elected", term, "this daemon holds the leader lock now: adopting what the providers run");
    controller->resume();
  };
  lo.onDeposed = [o, controller]() {
    controller->pause();
    setGauges(o.metrics, o.daemonId, false, 0);
    if (o.log) o.log("deposed", 0, "this daemon lost the leader lock: calls in flight abandoned, following now");
  };
  lo.onChange = [controller](const std::string& cohort) {
    controller->wake(cohort, {}, "changed through another daemon");
  };
  // Until elected a PostgreSQL daemon follows; SQLite's leads at once.
  controller->pause();
  auto leadership = Leadership::start(store, std::move(lo));
  if (!leadership) return leadership.status();
  if ((*leadership)->leading()) {
    setGauges(o.metrics, o.daemonId, true, (*leadership)->term());
    controller->resume();
  } else {
    setGauges(o.metrics, o.daemonId, false, 0);
  }
  return leadership;
}

}  // namespace darasa
