// JSON log lines for the daemon. spdlog 1.10's JSON-looking patterns do not
// escape messages, so lines are built with nlohmann and spdlog's default
// logger is given a sink that hands its messages over here.
#include "log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "provisioner/model_json.h"

namespace darasa::cli {
using nlohmann::json;

const char* logLevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

std::optional<LogLevel> logLevelFromName(const std::string& name) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError})
    if (name == logLevelName(l)) return l;
  if (name == "warning") return LogLevel::kWarn;
  return std::nullopt;
}

namespace {

bool isBase64Url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

std::string timestamp(std::chrono::system_clock::time_point ts) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(ts.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

json maskJson(const json& j) {
  if (j.is_string()) return maskSecrets(j.get<std::string>());
  if (j.is_object()) {
    json o = json::object();
    for (const auto& [k, v] : j.items()) o[k] = maskJson(v);
    return o;
  }
  if (j.is_array()) {
    json a = json::array();
    for (const auto& v : j) a.push_back(maskJson(v));
    return a;
  }
  return j;
}

}  // namespace

std::string maskSecrets(const std::string& text) {
  static const std::string kPrefix = "darasa_";
  static const std::string kBearer = "Bearer ";
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, kPrefix.size(), kPrefix) == 0) {
      size_t j = i + kPrefix.size();
      while (j < text.size() && isBase64Url(text[j])) ++j;
      // Token-like: a long run of base64url after the prefix (real ones have 43).
      if (j - i - kPrefix.size() >= 20) {
        out += kPrefix + "[redacted]";
        i = j;
        continue;
      }
    }
    if (text.compare(i, kBearer.size(), kBearer) == 0) {
      size_t j = i + kBearer.size();
      while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j])) && text[j] != '"') ++j;
      out += kBearer + "[redacted]";
      i = j;
      continue;
    }
    out += text[i++];
  }
  return out;
}

std::string jsonLogLine(std::chrono::system_clock::time_point ts, LogLevel level, const std::string& msg,
                        const json& fields) {
  // nlohmann keeps object keys sorted; build the line by hand so that ts,
  // level and msg come first (people read these lines too).
  std::string line = "{\"ts\":" + json(timestamp(ts)).dump() + ",\"level\":" + json(logLevelName(level)).dump() +
                     ",\"msg\":" + json(maskSecrets(msg)).dump(-1, ' ', false, json::error_handler_t::replace);
  if (fields.is_object()) {
    for (const auto& [k, v] : fields.items()) {
      if (k == "ts" || k == "level" || k == "msg" || v.is_null()) continue;
      line += "," + json(k).dump(-1, ' ', false, json::error_handler_t::replace) + ":" +
              maskJson(v).dump(-1, ' ', false, json::error_handler_t::replace);
    }
  }
  return line + "}";
}

Result<std::unique_ptr<JsonLog>> JsonLog::open(const std::string& file, LogLevel level) {
  if (file.empty() || file == "-") return std::unique_ptr<JsonLog>(new JsonLog(stderr, "-", level));
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return internalError("cannot open log file " + file + ": " + std::strerror(errno));
  FILE* f = ::fdopen(fd, "a");
  if (!f) {
    ::close(fd);
    return internalError("cannot open log file " + file + ": " + std::strerror(errno));
  }
  return std::unique_ptr<JsonLog>(new JsonLog(f, file, level));
}

JsonLog::~JsonLog() {
  if (out_ && out_ != stderr) std::fclose(out_);
}

void JsonLog::setLevel(LogLevel level) {
  std::lock_guard<std::mutex> lock(mu_);
  level_ = level;
}

LogLevel JsonLog::level() const {
  std::lock_guard<std::mutex> lock(mu_);
  return level_;
}

Status JsonLog::reopen(const std::string& file) {
  FILE* next = stderr;
  if (!file.empty() && file != "-") {
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return internalError("cannot open log file " + file + ": " + std::strerror(errno));
    next = ::fdopen(fd, "a");
    if (!next) {
      ::close(fd);
      return internalError("cannot open log file " + file + ": " + std::strerror(errno));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (out_ && out_ != stderr) std::fclose(out_);
  out_ = next;
  file_ = file.empty() ? "-" : file;
  return Status::ok();
}

void JsonLog::log(LogLevel level, const std::string& msg, const json& fields) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (level < level_) return;
  }
  std::string line = jsonLogLine(std::chrono::system_clock::now(), level, msg, fields) + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

// ---------------------------------------------------------------- spdlog

namespace {

class JsonLogSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit JsonLogSink(JsonLog& log) : log_(log) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    LogLevel level = LogLevel::kInfo;
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug: level = LogLevel::kDebug; break;
      case spdlog::level::info: level = LogLevel::kInfo; break;
      case spdlog::level::warn: level = LogLevel::kWarn; break;
      default: level = LogLevel::kError; break;
    }
    json fields = json::object();
    if (msg.logger_name.size() > 0) fields["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    log_.log(level, std::string(msg.payload.data(), msg.payload.size()), fields);
  }
  void flush_() override {}

 private:
  JsonLog& log_;
};

spdlog::level::level_enum spdlogLevel(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

void routeSpdlogTo(JsonLog& log) {
  auto sink = std::make_shared<JsonLogSink>(log);
  auto logger = std::make_shared<spdlog::logger>("darasa", sink);
  logger->set_level(spdlogLevel(log.level()));
  spdlog::set_default_logger(logger);
  // Loggers cloned earlier keep their old sinks: point them here too.
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) {
    if (l.get() == logger.get()) return;
    l->sinks().clear();
    l->sinks().push_back(sink);
  });
  spdlog::set_level(spdlogLevel(log.level()));
}

void setSpdlogLevel(LogLevel level) { spdlog::set_level(spdlogLevel(level)); }

// ---------------------------------------------------------------- events

void LogEventSink::setReconcileId(std::string id) {
  std::lock_guard<std::mutex> lock(mu_);
  reconcile_ = std::move(id);
}

void LogEventSink::onEvent(const Event& e) {
  json f = json::object();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!reconcile_.empty()) f["reconcile"] = reconcile_;
  }
  f["event"] = eventKindName(e.kind);
  LogLevel level = LogLevel::kInfo;
  if (!e.labId.empty()) {
    f["lab"] = e.labId;
    // Lab ids are "<cohort>.<trainee>" and a cohort name has no dot.
    f["cohort"] = e.labId.substr(0, e.labId.find('.'));
  }
  switch (e.kind) {
    case EventKind::kPassStarted:
    case EventKind::kPassFinished: level = LogLevel::kDebug; break;
    case EventKind::kActionStarted: f["action"] = actionKindName(e.action); break;
    case EventKind::kRetrying: level = LogLevel::kWarn; break;
    case EventKind::kFailed: level = LogLevel::kError; break;
    default: break;
  }
  if (e.kind != EventKind::kPassStarted && e.kind != EventKind::kPassFinished && e.kind != EventKind::kActionStarted)
    f["action"] = actionKindName(e.action);
  if (!e.status.isOk()) f["error"] = {{"code", std::string(codeName(e.status.code()))}, {"message", e.status.message()}};
  if (e.kind == EventKind::kReady && !e.endpoints.empty()) {
    json eps = json::array();
    for (const auto& ep : e.endpoints) eps.push_back(ep.name + "=" + ep.host + ":" + std::to_string(ep.port));
    f["endpoints"] = eps;
  }
  log_.log(level, describeEvent(e), f);
}

}  // namespace darasa::cli
