#include "provisioner/units.h"

#include <array>
#include <limits>
#include <utility>

namespace darasa {

namespace {
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
}  // namespace

std::string formatSize(int64_t bytes) {
  static const std::array<std::pair<const char*, int64_t>, 5> kUnits{
      {{"Pi", int64_t{1} << 50}, {"Ti", int64_t{1} << 40}, {"Gi", int64_t{1} << 30}, {"Mi", int64_t{1} << 20}, {"Ki", 1024}}};
  for (const auto& [name, f] : kUnits) {
    if (bytes >= f) {
      if (bytes % f == 0) return std::to_string(bytes / f) + name;
      // One decimal when it is exact ("1.5Gi"), else the next unit down.
      if (bytes < kMax / 10 && (bytes * 10) % f == 0)
        return std::to_string(bytes / f) + "." + std::to_string((bytes * 10 / f) % 10) + name;
    }
  }
  return std::to_string(bytes);
}

std::string formatCpus(int64_t millis) {
  if (millis % 1000 == 0) return std::to_string(millis / 1000);
  if (millis < 1000) return std::to_string(millis) + "m";
  std::string frac = std::to_string(millis % 1000);
  frac = std::string(3 - frac.size(), '0') + frac;
  while (frac.back() == '0') frac.pop_back();
  return std::to_string(millis / 1000) + "." + frac;
}

std::string formatDuration(std::chrono::seconds d) {
  int64_t s = d.count();
  if (s == 0) return "0s";
  std::string r;
  for (auto [unit, f] : std::array<std::pair<const char*, int64_t>, 4>{{{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}}}) {
    if (s >= f) {
      r += std::to_string(s / f) + unit;
      s %= f;
    }
  }
  return r;
}

}  // namespace darasa
