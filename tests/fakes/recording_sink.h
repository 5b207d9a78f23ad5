// RecordingSink: an EventSink that keeps every event, for tests to assert on
// what a user would see. Thread-safe. Header-only.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "provisioner/events.h"

namespace darasa {

class RecordingSink : public EventSink {
 public:
  // Called after each event is recorded (e.g. to cancel a run from a sink).
  explicit RecordingSink(std::function<void(const Event&)> hook = nullptr) : hook_(std::move(hook)) {}

  void onEvent(const Event& e) override {
    {
      std::lock_guard lk(mu_);
      events_.push_back(e);
    }
    if (hook_) hook_(e);
  }

  std::vector<Event> events() const {
    std::lock_guard lk(mu_);
    return events_;
  }
  std::vector<Event> eventsFor(const std::string& labId) const {
    std::lock_guard lk(mu_);
    std::vector<Event> out;
    for (const auto& e : events_)
      if (e.labId == labId) out.push_back(e);
    return out;
  }
  int count(EventKind kind) const {
    std::lock_guard lk(mu_);
    int n = 0;
    for (const auto& e : events_) n += e.kind == kind;
    return n;
  }
  // describeEvent() of every event, in order.
  std::vector<std::string> lines() const {
    std::lock_guard lk(mu_);
    std::vector<std::string> out;
    for (const auto& e : events_) out.push_back(describeEvent(e));
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Event> events_;
  std::function<void(const Event&)> hook_;
};

}  // namespace darasa
