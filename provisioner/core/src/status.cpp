#include "provisioner/status.h"

#include <array>
#include <utility>

namespace darasa {
namespace {
constexpr std::array<std::pair<Code, std::string_view>, 10> kNames{{
    {Code::kOk, "ok"},
    {Code::kInvalid, "invalid"},
    {Code::kNotFound, "not-found"},
    {Code::kConflict, "conflict"},
    {Code::kQuota, "quota"},
    {Code::kDenied, "denied"},
    {Code::kUnavailable, "unavailable"},
    {Code::kTimeout, "timeout"},
    {Code::kNotSupported, "not-supported"},
    {Code::kInternal, "internal"},
}};
}  // namespace

std::string_view codeName(Code code) {
  for (const auto& [c, n] : kNames)
    if (c == code) return n;
  return "internal";
}

std::optional<Code> codeFromName(std::string_view name) {
  for (const auto& [c, n] : kNames)
    if (n == name) return c;
  return std::nullopt;
}

bool isRetryable(Code code) { return code == Code::kUnavailable || code == Code::kTimeout; }

std::string Status::toString() const {
  if (isOk()) return "ok";
  return std::string(codeName(code_)) + ": " + message_;
}

Status Status::withContext(std::string_view context) const {
  if (isOk()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

}  // namespace darasa
