// Secret: a string that never formats its value (no operator<<, no fmt
// formatter, toString() gives "<redacted>"). Read it with reveal(), on purpose.
// Value type; the buffer is wiped on destruction.
#pragma once

#include <string>

namespace darasa {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret&) = default;
  Secret& operator=(const Secret&) = default;
  Secret(Secret&& o) noexcept : value_(std::move(o.value_)) { o.value_.clear(); }
  Secret& operator=(Secret&& o) noexcept {
    if (this != &o) { wipe(); value_ = std::move(o.value_); o.value_.clear(); }
    return *this;
  }
  ~Secret() { wipe(); }

  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  std::string toString() const { return "<redacted>"; }
  bool operator==(const Secret& o) const { return value_ == o.value_; }

 private:
  void wipe() {
    volatile char* p = value_.data();
    for (size_t i = 0; i < value_.size(); ++i) p[i] = 0;
  }
  std::string value_;
};

}  // namespace darasa
