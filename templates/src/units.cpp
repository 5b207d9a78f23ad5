// Unit parsing with exact integer arithmetic: a decimal "1.5" is kept as the
// integer 15 and a scale 10^1, so "1.5Gi" is 15 × 2^30 / 10 with no rounding.
#include "templates/units.h"

#include <array>
#include <cctype>
#include <cstdio>
#include <limits>

namespace darasa::templates {
namespace {

using i128 = __int128;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// digits[.digits] → mantissa and number of fraction digits. No sign, no
// exponent; at most 18 significant digits so the mantissa fits.
struct Decimal {
  int64_t mantissa = 0;
  int fractionDigits = 0;
};

std::optional<Decimal> parseDecimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  Decimal d;
  bool seenDot = false, seenDigit = false;
  int digits = 0;
  for (char c : s) {
    if (c == '.') {
      if (seenDot) return std::nullopt;
      seenDot = true;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    seenDigit = true;
    if (d.mantissa == 0 && c == '0' && !seenDot) continue;  // leading zeros
    if (++digits > 18) return std::nullopt;
    d.mantissa = d.mantissa * 10 + (c - '0');
    if (seenDot) ++d.fractionDigits;
  }
  if (!seenDigit || s.front() == '.' || s.back() == '.') return std::nullopt;
  return d;
}

i128 pow10(int n) {
  i128 r = 1;
  for (int i = 0; i < n; ++i) r *= 10;
  return r;
}

// value × scale, divided by 10^fractionDigits, rounded up (ceil) or to nearest.
std::optional<int64_t> scaled(const Decimal& d, i128 scale, bool roundUp) {
  i128 num = static_cast<i128>(d.mantissa) * scale;
  i128 den = pow10(d.fractionDigits);
  i128 q = num / den, r = num % den;
  if (roundUp ? r != 0 : r * 2 >= den) ++q;
  if (q > kMax) return std::nullopt;
  return static_cast<int64_t>(q);
}

}  // namespace

std::optional<int64_t> parseInteger(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool neg = false;
  size_t i = 0;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    i = 1;
  }
  if (i >= s.size()) return std::nullopt;
  i128 v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
    if (v > static_cast<i128>(kMax) + 1) return std::nullopt;
  }
  if (neg) v = -v;
  if (v > kMax || v < std::numeric_limits<int64_t>::min()) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<int64_t> parseSize(std::string_view s) {
  struct Suffix {
    std::string_view text;
    i128 factor;
  };
  static const std::array<Suffix, 10> kSuffixes{{
      {"Ki", i128{1} << 10}, {"Mi", i128{1} << 20}, {"Gi", i128{1} << 30}, {"Ti", i128{1} << 40},
      {"Pi", i128{1} << 50}, {"k", 1000},           {"M", 1000000},        {"G", 1000000000},
      {"T", i128{1000000000} * 1000}, {"P", i128{1000000000} * 1000000},
  }};
  i128 factor = 1;
  for (const auto& suf : kSuffixes) {
    if (s.size() > suf.text.size() && s.substr(s.size() - suf.text.size()) == suf.text) {
      factor = suf.factor;
      s.remove_suffix(suf.text.size());
      break;
    }
  }
  auto d = parseDecimal(s);
  if (!d) return std::nullopt;
  return scaled(*d, factor, /*roundUp=*/true);
}

std::optional<int64_t> parseCpus(std::string_view s) {
  if (s.size() > 1 && s.back() == 'm') {
    s.remove_suffix(1);
    auto d = parseDecimal(s);
    if (!d || d->fractionDigits != 0) return std::nullopt;
    return d->mantissa;
  }
  auto d = parseDecimal(s);
  if (!d || d->fractionDigits > 3) return std::nullopt;
  return scaled(*d, 1000, false);
}

std::optional<std::chrono::seconds> parseDuration(std::string_view s) {
  if (s == "0") return std::chrono::seconds(0);
  if (s.empty()) return std::nullopt;
  // Sum of <decimal><unit> parts, largest unit first, each unit at most once.
  static const std::array<std::pair<char, int64_t>, 4> kUnits{{{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}};
  i128 totalMilli = 0;  // in thousandths of a second, so "1.5s" is representable before the whole check
  size_t unitIndex = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == start || i >= s.size()) return std::nullopt;
    auto d = parseDecimal(s.substr(start, i - start));
    if (!d) return std::nullopt;
    char u = s[i++];
    size_t k = unitIndex;
    while (k < kUnits.size() && kUnits[k].first != u) ++k;
    if (k == kUnits.size()) return std::nullopt;
    unitIndex = k + 1;
    auto part = scaled(*d, static_cast<i128>(kUnits[k].second) * 1000, false);
    if (!part) return std::nullopt;
    totalMilli += *part;
    if (totalMilli > static_cast<i128>(kMax)) return std::nullopt;
  }
  if (totalMilli % 1000 != 0) return std::nullopt;
  return std::chrono::seconds(static_cast<int64_t>(totalMilli / 1000));
}

std::optional<int64_t> parseDecimalScaled(std::string_view s, int64_t scale) {
  auto d = parseDecimal(s);
  if (!d) return std::nullopt;
  return scaled(*d, scale, false);
}

std::optional<std::string> normalizeLocalDateTime(std::string_view s) {
  // YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS
  if (s.size() != 16 && s.size() != 19) return std::nullopt;
  auto digits = [&](size_t at, size_t n) -> std::optional<int> {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':') return std::nullopt;
  if (s.size() == 19 && s[16] != ':') return std::nullopt;
  auto y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2), h = digits(11, 2), mi = digits(14, 2);
  std::optional<int> sec = s.size() == 19 ? digits(17, 2) : std::optional<int>(0);
  if (!y || !mo || !d || !h || !mi || !sec) return std::nullopt;
  if (*mo < 1 || *mo > 12 || *d < 1 || *h > 23 || *mi > 59 || *sec > 59) return std::nullopt;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
  int maxDay = kDays[*mo - 1] + (*mo == 2 && leap ? 1 : 0);
  if (*d > maxDay) return std::nullopt;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", *y, *mo, *d, *h, *mi, *sec);
  return std::string(buf);
}

}  // namespace darasa::templates
