#include "provisioner/events.h"

namespace darasa {

const char* eventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kPassStarted: return "pass-started";
    case EventKind::kPassFinished: return "pass-finished";
    case EventKind::kActionStarted: return "action-started";
    case EventKind::kRetrying: return "retrying";
    case EventKind::kReady: return "ready";
    case EventKind::kStopped: return "stopped";
    case EventKind::kDestroyed: return "destroyed";
    case EventKind::kForgotten: return "forgotten";
    case EventKind::kFailed: return "failed";
    case EventKind::kCancelled: return "cancelled";
  }
  return "unknown";
}

namespace {
std::string plural(int n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}
}  // namespace

std::string describeEvent(const Event& e) {
  std::string pass = "pass " + std::to_string(e.pass) + ": ";
  std::string lab = e.labId + ": ";
  std::string action = actionKindName(e.action);
  switch (e.kind) {
    case EventKind::kPassStarted:
      return pass + plural(e.planned, "action");
    case EventKind::kPassFinished:
      return pass + std::to_string(e.succeeded) + " done, " + std::to_string(e.failed) +
             " failed of " + plural(e.planned, "action");
    case EventKind::kActionStarted:
      return lab + action + (e.reason.empty() ? "" : " (" + e.reason + ")");
    case EventKind::kRetrying:
      return (e.labId.empty() ? std::string() : lab) + e.reason + " attempt " + std::to_string(e.attempt) + " failed (" +
             e.status.toString() + "), retrying in " + std::to_string(e.delay.count()) + "ms";
    case EventKind::kReady: {
      std::string out = lab + "ready";
      for (const auto& ep : e.endpoints)
        out += " " + ep.name + "=" + ep.host + ":" + std::to_string(ep.port);
      return out;
    }
    case EventKind::kStopped: return lab + "stopped";
    case EventKind::kDestroyed: return lab + "destroyed";
    case EventKind::kForgotten: return lab + "forgotten";
    case EventKind::kFailed: return lab + action + " failed: " + e.status.toString();
    case EventKind::kCancelled: return lab + action + " cancelled";
  }
  return lab + eventKindName(e.kind);
}

}  // namespace darasa
