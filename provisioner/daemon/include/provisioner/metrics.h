// Metrics for /metrics in the Prometheus text format (version 0.0.4): the
// daemon's counters and histograms, fed by reconcile events (Metrics is an
// EventSink) and by the controller, plus gauges read from the store at scrape
// time (labs by state and provider). Thread-safe: every method may be called
// from any thread.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "provisioner/clock.h"
#include "provisioner/events.h"
#include "provisioner/store.h"

namespace darasa {

class Metrics final : public EventSink {
 public:
  // clock: for time-to-ready (from an action's start to its ready event).
  explicit Metrics(Clock& clock);

  // EventSink: counts provider call errors by kind (darasa_provider_errors_total
  // {provider?, code}), actions by kind and outcome, and observes
  // darasa_time_to_ready_seconds for create/start/adopt → ready.
  void onEvent(const Event& event) override;

  // darasa_reconcile_duration_seconds (histogram), one per reconcile run.
  void observeReconcile(std::chrono::milliseconds elapsed);
  // darasa_queue_depth (gauge): labs queued in the controller.
  void setQueueDepth(size_t depth);
  // darasa_http_requests_total{route, code}: one per API request.
  void countRequest(const std::string& route, int status);
  // Any other gauge, e.g. issue 8's quota use: name → (labels → value).
  void setGauge(const std::string& name, const std::string& help,
                const std::map<std::string, std::string>& labels, double value);

  // The text exposition: everything above, plus darasa_labs{state, provider}
  // from store.listLabs() when store is not null. HELP and TYPE lines for
  // every family; label values escaped (\\, \", \n).
  std::string render(Store* store) const;

 private:
  struct Histogram {
    std::vector<double> bounds;  // upper bounds, seconds, increasing
    std::vector<uint64_t> counts;
    double sum = 0;
    uint64_t count = 0;
    void observe(double seconds);
  };
  Clock& clock_;
  mutable std::mutex mu_;
  Histogram reconcile_;
  Histogram timeToReady_;
  size_t queueDepth_ = 0;
  std::map<std::string, Clock::TimePoint> actionStarted_;  // lab id → kActionStarted
  std::map<std::pair<std::string, std::string>, uint64_t> actions_;  // (action, outcome)
  std::map<std::string, uint64_t> errors_;                            // code name
  std::map<std::pair<std::string, int>, uint64_t> requests_;          // (route, status)
  struct Gauge {
    std::string help;
    std::map<std::map<std::string, std::string>, double> values;
  };
  std::map<std::string, Gauge> gauges_;
};

}  // namespace darasa
