// Renders reconcile events for a person: on a terminal one status line that
// is redrawn (a progress bar), otherwise plain lines, one per finished step.
// Thread-safe (the reconciler calls it from worker threads, serialised).
#pragma once

#include <cstdio>
#include <map>
#include <mutex>
#include <string>

#include "provisioner/events.h"

namespace darasa::cli {

class ProgressPrinter final : public EventSink {
 public:
  // total: labs in the selection; verb: "up" or "down"; out: usually stderr.
  ProgressPrinter(int total, std::string verb, FILE* out, bool terminal, bool verbose);
  void onEvent(const Event& event) override;
  // Ends the progress line (call before printing anything else).
  void finish();

 private:
  void redraw(const std::string& latest);
  std::mutex mu_;
  int total_;
  std::string verb_;
  FILE* out_;
  bool terminal_;
  bool verbose_;
  bool drawn_ = false;
  std::map<std::string, EventKind> last_;  // lab id → its latest event
};

}  // namespace darasa::cli
