#include "fakes/fake_clock.h"

namespace darasa {

Clock::TimePoint FakeClock::defaultStart() {
  using namespace std::chrono;
  return sys_days{year{2026} / January / 12} + hours{6};
}

Clock::TimePoint FakeClock::now() const {
  std::lock_guard lk(mu_);
  return now_;
}

void FakeClock::sleepFor(std::chrono::milliseconds d) {
  std::lock_guard lk(mu_);
  sleeps_.push_back(d);
  if (d.count() > 0) now_ += d;
}

void FakeClock::advance(std::chrono::milliseconds d) {
  std::lock_guard lk(mu_);
  now_ += d;
}

void FakeClock::set(TimePoint t) {
  std::lock_guard lk(mu_);
  now_ = t;
}

std::vector<std::chrono::milliseconds> FakeClock::sleeps() const {
  std::lock_guard lk(mu_);
  return sleeps_;
}

std::chrono::milliseconds FakeClock::totalSlept() const {
  std::lock_guard lk(mu_);
  std::chrono::milliseconds sum{0};
  for (auto d : sleeps_) sum += d;
  return sum;
}

void FakeClock::clearSleeps() {
  std::lock_guard lk(mu_);
  sleeps_.clear();
}

}  // namespace darasa
