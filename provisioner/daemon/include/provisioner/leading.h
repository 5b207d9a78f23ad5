// Wires a daemon's Leadership (leadership.h) to its controller and
// metrics: the controller acts only while this daemon leads (resume() when
// elected: adoption and pending intents first; pause() when deposed: calls
// in flight abandoned), a change another daemon made wakes it, and /metrics
// shows darasa_leader{daemon} (1 while leading) and darasa_leader_term.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "provisioner/controller.h"
#include "provisioner/leadership.h"
#include "provisioner/metrics.h"

namespace darasa {

struct LeadingOptions {
  Controller* controller = nullptr;  // required
  Metrics* metrics = nullptr;        // may be null
  std::string daemonId;              // "" = defaultDaemonId()
  std::chrono::milliseconds interval{500};
  // Told of each election and deposition ("elected" / "deposed", the term,
  // and why), for the daemon's log. Called on the leadership's thread.
  std::function<void(const std::string& event, int64_t term, const std::string& why)> log;
};

// Starts the leadership of `store` (see Leadership::start for its errors).
Result<std::unique_ptr<Leadership>> startLeading(Store& store, LeadingOptions options);

}  // namespace darasa
