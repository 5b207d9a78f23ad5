#include "progress.h"

namespace darasa::cli {

ProgressPrinter::ProgressPrinter(int total, std::string verb, FILE* out, bool terminal, bool verbose)
    : total_(total), verb_(std::move(verb)), out_(out), terminal_(terminal), verbose_(verbose) {}

void ProgressPrinter::onEvent(const Event& event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!event.labId.empty() && event.kind != EventKind::kRetrying) last_[event.labId] = event.kind;
  bool finishing = event.kind == EventKind::kReady || event.kind == EventKind::kStopped ||
                   event.kind == EventKind::kDestroyed || event.kind == EventKind::kForgotten ||
                   event.kind == EventKind::kFailed;
  bool noteworthy = finishing || event.kind == EventKind::kRetrying || event.kind == EventKind::kCancelled;
  if (terminal_) {
    // Failures and retries stay on screen above the bar; the rest only updates it.
    if (event.kind == EventKind::kFailed || event.kind == EventKind::kRetrying || verbose_) {
      if (event.kind != EventKind::kPassStarted && event.kind != EventKind::kPassFinished) {
        std::fprintf(out_, "\r\033[K%s\n", describeEvent(event).c_str());
        drawn_ = false;
      }
    }
    redraw(event.labId.empty() ? "" : describeEvent(event));
    return;
  }
  if (noteworthy || (verbose_ && event.kind != EventKind::kPassFinished)) {
    std::fprintf(out_, "%s\n", describeEvent(event).c_str());
    std::fflush(out_);
  }
}

void ProgressPrinter::redraw(const std::string& latest) {
  int done = 0, failed = 0, working = 0;
  for (const auto& [lab, kind] : last_) {
    switch (kind) {
      case EventKind::kReady:
      case EventKind::kStopped:
      case EventKind::kDestroyed:
      case EventKind::kForgotten: ++done; break;
      case EventKind::kFailed: ++failed; break;
      case EventKind::kActionStarted: ++working; break;
      default: break;
    }
  }
  const int width = 24;
  int filled = total_ > 0 ? (done + failed) * width / total_ : width;
  if (filled > width) filled = width;
  std::string bar(static_cast<size_t>(filled), '#');
  bar += std::string(static_cast<size_t>(width - filled), '.');
  std::string doneWord = verb_ == "up" ? "ready" : "done";
  std::string line = "[" + bar + "] " + std::to_string(done) + "/" + std::to_string(total_) + " " + doneWord;
  if (failed) line += ", " + std::to_string(failed) + " failed";
  if (working) line += ", " + std::to_string(working) + " working";
  if (!latest.empty()) {
    std::string tail = "  " + latest;
    if (tail.size() > 60) tail = tail.substr(0, 57) + "...";
    line += tail;
  }
  std::fprintf(out_, "\r\033[K%s", line.c_str());
  std::fflush(out_);
  drawn_ = true;
}

void ProgressPrinter::finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (terminal_ && drawn_) {
    std::fprintf(out_, "\n");
    std::fflush(out_);
    drawn_ = false;
  }
}

}  // namespace darasa::cli
