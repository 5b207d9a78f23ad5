// Status and Result<T>: the error type at every module boundary of darasa.
// A Code says what went wrong and, through isRetryable(), whether trying again
// can help. Value types; not synchronised (copy them between threads).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace darasa {

enum class Code {
  kOk,
  kInvalid,       // the input is wrong; retrying the same input cannot help
  kNotFound,      // the thing does not exist
  kConflict,      // the state changed under us, or a lock is held
  kQuota,         // a quota or capacity limit refuses it
  kDenied,        // not allowed (permissions, roles)
  kUnavailable,   // a dependency is not reachable right now: retry
  kTimeout,       // a deadline passed: retry
  kNotSupported,  // the provider cannot do this
  kInternal,      // a bug or an unexpected environment
};

// "invalid", "not-found", ... (the names used in JSON output and the plugin protocol).
std::string_view codeName(Code code);
// Inverse of codeName; nullopt for an unknown name.
std::optional<Code> codeFromName(std::string_view name);
// Only unavailable and timeout are worth a retry.
bool isRetryable(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }

  bool isOk() const { return code_ == Code::kOk; }
  explicit operator bool() const { return isOk(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool retryable() const { return isRetryable(code_); }
  // "unavailable: engine not reachable"
  std::string toString() const;
  // A copy whose message is "context: message"; the code is kept.
  Status withContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status invalidError(std::string m) { return Status(Code::kInvalid, std::move(m)); }
inline Status notFoundError(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status conflictError(std::string m) { return Status(Code::kConflict, std::move(m)); }
inline Status quotaError(std::string m) { return Status(Code::kQuota, std::move(m)); }
inline Status deniedError(std::string m) { return Status(Code::kDenied, std::move(m)); }
inline Status unavailableError(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
inline Status timeoutError(std::string m) { return Status(Code::kTimeout, std::move(m)); }
inline Status notSupportedError(std::string m) { return Status(Code::kNotSupported, std::move(m)); }
inline Status internalError(std::string m) { return Status(Code::kInternal, std::move(m)); }

// Either a T or a non-ok Status. Constructing from an ok Status is a bug.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).isOk() && "Result from an ok Status");
  }

  bool isOk() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return isOk(); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  // The error; an ok Status when a value is held.
  Status status() const { return isOk() ? Status() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace darasa
