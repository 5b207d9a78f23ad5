// Clock: the injectable source of wall time and of sleeping, so that tests can
// drive hours of schedules and backoff in milliseconds (tests/fakes/fake_clock.h).
// SystemClock is thread-safe and stateless.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace darasa {

class Clock {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // Blocks the calling thread for d of this clock's time.
  virtual void sleepFor(std::chrono::milliseconds d) = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
  void sleepFor(std::chrono::milliseconds d) override;
  static SystemClock& instance();
};

// Seconds since the Unix epoch, the unit the state store keeps times in.
inline int64_t toUnixSeconds(Clock::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
// RFC 3339 in UTC with seconds: "2026-01-12T06:00:00Z".
std::string formatUtc(Clock::TimePoint t);

}  // namespace darasa
