// Metrics: counters and histograms kept in memory, rendered in the
// Prometheus text exposition format 0.0.4.
#include "provisioner/metrics.h"

#include <charconv>
#include <cmath>
#include <set>

#include "provisioner/planner.h"

namespace darasa {

namespace {

// Reconcile runs take milliseconds (nothing to do) to minutes (VMs booting).
const std::vector<double> kReconcileBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                              2.5,   5,    10,    30,   60,  120,  300, 600};
// A container is ready in a second or two, a VM in a minute or more.
const std::vector<double> kReadyBounds = {0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200};

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back exactly
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

std::string escapeLabel(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escapeHelp(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// Metric and label names: [a-zA-Z_:][a-zA-Z0-9_:]* (labels without ':');
// anything else becomes '_' so that one odd gauge cannot break the scrape.
std::string sanitizeName(const std::string& name, bool label) {
  std::string out = name.empty() ? "_" : name;
  for (size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) out[i] = '_';
  }
  return out;
}

std::string labelSet(const std::vector<std::pair<std::string, std::string>>& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += sanitizeName(labels[i].first, true) + "=\"" + escapeLabel(labels[i].second) + "\"";
  }
  return out + "}";
}

void family(std::string& out, const std::string& name, const std::string& type, const std::string& help) {
  out += "# HELP " + name + " " + escapeHelp(help) + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const std::string& name, const std::vector<std::pair<std::string, std::string>>& labels,
            double value) {
  out += name + labelSet(labels) + " " + number(value) + "\n";
}

}  // namespace

void Metrics::Histogram::observe(double seconds) {
  size_t i = 0;
  while (i < bounds.size() && seconds > bounds[i]) ++i;
  ++counts[i];  // counts[bounds.size()] is the +Inf bucket
  sum += seconds;
  ++count;
}

Metrics::Metrics(Clock& clock) : clock_(clock) {
  reconcile_.bounds = kReconcileBounds;
  reconcile_.counts.assign(kReconcileBounds.size() + 1, 0);
  timeToReady_.bounds = kReadyBounds;
  timeToReady_.counts.assign(kReadyBounds.size() + 1, 0);
}

void Metrics::onEvent(const Event& event) {
  std::lock_guard lock(mu_);
  const std::string action = actionKindName(event.action);
  switch (event.kind) {
    case EventKind::kActionStarted:
      if (event.action == ActionKind::kCreate || event.action == ActionKind::kStart ||
          event.action == ActionKind::kAdopt)
        actionStarted_[event.labId] = clock_.now();
      else
        actionStarted_.erase(event.labId);
      break;
    case EventKind::kRetrying:
      // Every failed call counts, also the ones a retry then repaired.
      ++errors_[std::string(codeName(event.status.code()))];
      break;
    case EventKind::kReady: {
      ++actions_[{action, "ok"}];
      auto it = actionStarted_.find(event.labId);
      if (it != actionStarted_.end()) {
        auto elapsed = std::chrono::duration<double>(clock_.now() - it->second).count();
        timeToReady_.observe(elapsed < 0 ? 0 : elapsed);
        actionStarted_.erase(it);
      }
      break;
    }
    case EventKind::kStopped:
    case EventKind::kDestroyed:
    case EventKind::kForgotten:
      ++actions_[{action, "ok"}];
      actionStarted_.erase(event.labId);
      break;
    case EventKind::kFailed:
      ++actions_[{action, "failed"}];
      ++errors_[std::string(codeName(event.status.code()))];
      actionStarted_.erase(event.labId);
      break;
    case EventKind::kCancelled:
      ++actions_[{action, "cancelled"}];
      actionStarted_.erase(event.labId);
      break;
    case EventKind::kPassStarted:
    case EventKind::kPassFinished:
      break;
  }
}

void Metrics::observeReconcile(std::chrono::milliseconds elapsed) {
  std::lock_guard lock(mu_);
  reconcile_.observe(std::chrono::duration<double>(elapsed).count());
}

void Metrics::setQueueDepth(size_t depth) {
  std::lock_guard lock(mu_);
  queueDepth_ = depth;
}

void Metrics::countRequest(const std::string& route, int status) {
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
}

void Metrics::setGauge(const std::string& name, const std::string& help,
                       const std::map<std::string, std::string>& labels, double value) {
  std::lock_guard lock(mu_);
  Gauge& g = gauges_[sanitizeName(name, false)];
  g.help = help;
  g.values[labels] = value;
}

std::string Metrics::render(Store* store) const {
  // The store is read before taking mu_: a slow read must not hold up the
  // reconciler's events.
  std::map<std::string, std::map<std::string, int64_t>> labs;  // provider → phase → count
  bool labsKnown = false;
  if (store) {
    auto list = store->listLabs();
    if (list) {
      labsKnown = true;
      for (const auto& lab : list.value()) ++labs[lab.provider][labPhaseName(lab.phase)];
    }
  }

  std::string out;
  std::lock_guard lock(mu_);
  if (labsKnown) {
    family(out, "darasa_labs", "gauge", "Labs in the state by phase and provider.");
    const LabPhase phases[] = {LabPhase::kPending, LabPhase::kCreating, LabPhase::kReady,
                               LabPhase::kStopped, LabPhase::kDestroyed, LabPhase::kFailed};
    for (const auto& [provider, byPhase] : labs)
      for (LabPhase p : phases) {
        auto it = byPhase.find(labPhaseName(p));
        // Every phase of a provider, zeros included, so that series do not
        // vanish when the last lab leaves a phase.
        sample(out, "darasa_labs", {{"provider", provider}, {"state", labPhaseName(p)}},
               static_cast<double>(it == byPhase.end() ? 0 : it->second));
      }
  }

  auto histogram = [&out](const std::string& name, const std::string& help, const Histogram& h) {
    family(out, name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < h.bounds.size(); ++i) {
      cumulative += h.counts[i];
      sample(out, name + "_bucket", {{"le", number(h.bounds[i])}}, static_cast<double>(cumulative));
    }
    sample(out, name + "_bucket", {{"le", "+Inf"}}, static_cast<double>(h.count));
    sample(out, name + "_sum", {}, h.sum);
    sample(out, name + "_count", {}, static_cast<double>(h.count));
  };
  histogram("darasa_reconcile_duration_seconds", "Duration of one reconcile run of the controller.", reconcile_);
  histogram("darasa_time_to_ready_seconds", "From the start of a create, start or adopt to the lab being ready.",
            timeToReady_);

  family(out, "darasa_queue_depth", "gauge", "Labs queued in the controller.");
  sample(out, "darasa_queue_depth", {}, static_cast<double>(queueDepth_));

  family(out, "darasa_provider_errors_total", "counter", "Failed provider calls by error code.");
  for (const auto& [code, n] : errors_) sample(out, "darasa_provider_errors_total", {{"code", code}}, double(n));

  family(out, "darasa_actions_total", "counter", "Reconcile actions by kind and outcome.");
  for (const auto& [key, n] : actions_)
    sample(out, "darasa_actions_total", {{"action", key.first}, {"outcome", key.second}}, double(n));

  family(out, "darasa_http_requests_total", "counter", "API requests by route pattern and status code.");
  for (const auto& [key, n] : requests_)
    sample(out, "darasa_http_requests_total", {{"code", std::to_string(key.second)}, {"route", key.first}},
           double(n));

  static const std::set<std::string> kBuiltin = {
      "darasa_labs", "darasa_reconcile_duration_seconds", "darasa_time_to_ready_seconds", "darasa_queue_depth",
      "darasa_provider_errors_total", "darasa_actions_total", "darasa_http_requests_total"};
  for (const auto& [name, g] : gauges_) {
    if (kBuiltin.count(name)) continue;  // a family appears once, or the scrape fails
    family(out, name, "gauge", g.help);
    for (const auto& [labels, value] : g.values)
      sample(out, name, std::vector<std::pair<std::string, std::string>>(labels.begin(), labels.end()), value);
  }
  return out;
}

}  // namespace darasa
