// The daemon's log: JSON lines built with nlohmann, one object per line
// {"ts","level","msg", plus "lab","cohort","reconcile" and other fields where
// they apply}, to stderr or a file. Never a credential or a token: events
// carry none, and anything shaped like an API token is masked before writing.
// Thread-safe: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "provisioner/events.h"
#include "provisioner/status.h"

namespace darasa::cli {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
const char* logLevelName(LogLevel l);  // "debug", "info", "warn", "error"
std::optional<LogLevel> logLevelFromName(const std::string& name);

// One log line (without the newline): {"ts":"2026-11-27T22:40:01.123Z",
// "level":"info","msg":"...", fields...}. Fields named ts/level/msg are
// ignored; strings are masked (maskSecrets).
std::string jsonLogLine(std::chrono::system_clock::time_point ts, LogLevel level, const std::string& msg,
                        const nlohmann::json& fields);

// Replaces API tokens ("darasa_" + 43 base64url characters) and anything
// after "Bearer " with "[redacted]".
std::string maskSecrets(const std::string& text);

class JsonLog {
 public:
  // file: "-" for stderr, else a path opened for appending (0600 if new).
  static Result<std::unique_ptr<JsonLog>> open(const std::string& file, LogLevel level);
  ~JsonLog();
  JsonLog(const JsonLog&) = delete;
  JsonLog& operator=(const JsonLog&) = delete;

  void setLevel(LogLevel level);
  LogLevel level() const;
  // Switches to another file (SIGHUP: a new path, or the same path after
  // log rotation). On failure the old file stays in use.
  Status reopen(const std::string& file);
  const std::string& file() const { return file_; }

  void log(LogLevel level, const std::string& msg, const nlohmann::json& fields = nlohmann::json::object());
  void debug(const std::string& msg, const nlohmann::json& fields = nlohmann::json::object()) {
    log(LogLevel::kDebug, msg, fields);
  }
  void info(const std::string& msg, const nlohmann::json& fields = nlohmann::json::object()) {
    log(LogLevel::kInfo, msg, fields);
  }
  void warn(const std::string& msg, const nlohmann::json& fields = nlohmann::json::object()) {
    log(LogLevel::kWarn, msg, fields);
  }
  void error(const std::string& msg, const nlohmann::json& fields = nlohmann::json::object()) {
    log(LogLevel::kError, msg, fields);
  }

 private:
  JsonLog(FILE* out, std::string file, LogLevel level) : out_(out), file_(std::move(file)), level_(level) {}
  mutable std::mutex mu_;
  FILE* out_;
  std::string file_;
  LogLevel level_;
};

// Makes spdlog's default logger (which the providers' named loggers are
// cloned from) write through `log`, so that provider messages and plugins'
// stderr become JSON lines too (with a "logger" field). Call before any
// provider is made. `log` must outlive every later spdlog call.
void routeSpdlogTo(JsonLog& log);
// Applies a level to spdlog's loggers as well (debug/info/warn/error).
void setSpdlogLevel(LogLevel level);

// Logs reconcile events: one line per event, with lab, cohort and the
// current reconcile id. Pass events at debug level, retries and failures at
// warn/error, everything else at info.
class LogEventSink final : public EventSink {
 public:
  explicit LogEventSink(JsonLog& log) : log_(log) {}
  void onEvent(const Event& event) override;
  // The id put on every following event's line ("" = none), e.g. per tick.
  void setReconcileId(std::string id);

 private:
  JsonLog& log_;
  std::mutex mu_;
  std::string reconcile_;
};

}  // namespace darasa::cli
