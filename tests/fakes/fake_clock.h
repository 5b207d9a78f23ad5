// FakeClock: manual time for tests. sleepFor() advances the time at once and
// records the sleep, so backoff and readiness waits cost nothing and can be
// checked. Thread-safe; time is one for all threads, so the sleeps of
// concurrent callers add up.
#pragma once

#include <chrono>
#include <mutex>
#include <vector>

#include "provisioner/clock.h"

namespace darasa {

class FakeClock : public Clock {
 public:
  // 2026-01-12T06:00:00Z.
  static TimePoint defaultStart();
  explicit FakeClock(TimePoint start = defaultStart()) : now_(start) {}

  TimePoint now() const override;
  // Returns at once, d later.
  void sleepFor(std::chrono::milliseconds d) override;

  // Time passes without a sleep being recorded.
  void advance(std::chrono::milliseconds d);
  void set(TimePoint t);
  // Every sleepFor, in call order.
  std::vector<std::chrono::milliseconds> sleeps() const;
  std::chrono::milliseconds totalSlept() const;
  void clearSleeps();

 private:
  mutable std::mutex mu_;
  TimePoint now_;
  std::vector<std::chrono::milliseconds> sleeps_;
};

}  // namespace darasa
