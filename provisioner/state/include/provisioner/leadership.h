// Leadership: which of the daemons serving one state drives the providers.
// Every daemon serves the API; exactly one leads (runs the controller). On
// SQLite there is one daemon, the holder of the state lock, and it leads.
// On PostgreSQL any number of daemons share the database: the leader is the
// one whose dedicated connection holds an advisory lock. The others follow
// and try to take the lock every `interval`, so that when the leader dies
// (process killed, connection or machine lost) another leads within a
// couple of intervals. Each new leader raises the state's term and fences
// its Store with it (Store::setFence): intents carry the term, and a write
// of a deposed leader is refused. A leader checks its connection every
// interval (a query with a deadline) and, when it fails, stops leading at
// once (fence up, onDeposed) before trying again as a follower. The
// dedicated connection's session ends on the server after 5 s without a
// check (idle_session_timeout), so a leader whose machine is gone frees the
// lock without waiting for TCP to notice.
// Changes another daemon made (NOTIFY darasa_changes, sent by the store's
// writes of cohorts and desired states) reach onChange, so that a leader
// acts at once on an apply made through a follower.
// Thread-safe; the callbacks run on the leadership's own thread and must
// not block for long.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "provisioner/state_lock.h"
#include "provisioner/status.h"
#include "provisioner/store.h"

namespace darasa {

struct LeadershipOptions {
  std::string daemonId;  // "" = "<hostname>:<pid>"
  std::string url;       // this daemon's API, recorded for the others (setUrl once known)
  std::chrono::milliseconds interval{500};
  std::function<void(int64_t term)> onElected;  // after the fence is set
  std::function<void()> onDeposed;              // after the fence is up
  std::function<void(const std::string& cohort)> onChange;
};

// What /readyz and /metrics say.
struct LeadershipStatus {
  bool leading = false;
  int64_t term = 0;          // this daemon's term while leading, else 0
  std::string self;          // this daemon's id
  LeaderRecord leader;       // who leads, as the database says now
  std::string lastError;     // why the last attempt failed ("" if none)
  int64_t elections = 0;     // how often this daemon took the lead
};

class Leadership {
 public:
  // SQLite: takes the state lock (kConflict naming its holder when another
  // darasa has it) and leads at once. PostgreSQL: starts the campaign
  // thread; leading() turns true when the lock is won. `store` must outlive
  // the Leadership.
  static Result<std::unique_ptr<Leadership>> start(Store& store, LeadershipOptions options);
  virtual ~Leadership() = default;  // stops; a leader lets go of its lock

  virtual bool leading() const = 0;
  virtual int64_t term() const = 0;
  virtual const std::string& self() const = 0;
  virtual LeadershipStatus status() const = 0;
  // This daemon's API address, once it listens (recorded while leading).
  virtual void setUrl(const std::string& url) = 0;
  // Blocks until this daemon leads, stop() or maxWait; true when leading.
  virtual bool waitUntilLeading(std::chrono::milliseconds maxWait) = 0;
  // Stops campaigning and lets go of the lead (fence up). Idempotent.
  virtual void stop() = 0;
};

// "<hostname>:<pid>".
std::string defaultDaemonId();

}  // namespace darasa
