#include "provisioner/leadership.h"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "postgres.h"
#include "store_impl.h"

namespace darasa {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

std::string defaultDaemonId() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || !*host) std::snprintf(host, sizeof host, "localhost");
  return std::string(host) + ":" + std::to_string(::getpid());
}

namespace {

LeadershipStatus statusOf(Store& store, bool leading, int64_t term, const std::string& self, int64_t elections,
                          std::string lastError) {
  LeadershipStatus s;
  s.leading = leading;
  s.term = term;
  s.self = self;
  s.elections = elections;
  s.lastError = std::move(lastError);
  if (auto l = store.leader()) s.leader = *l;
  return s;
}

// ---- SQLite: the holder of the state lock leads, from start to end.

class LocalLeadership final : public Leadership {
 public:
  LocalLeadership(Store& store, LeadershipOptions o, StateLock lock, int64_t term)
      : store_(store), options_(std::move(o)), lock_(std::move(lock)), term_(term) {}
  ~LocalLeadership() override { stop(); }

  bool leading() const override { return term_.load() > 0; }
  int64_t term() const override { return term_.load(); }
  const std::string& self() const override { return options_.daemonId; }
  LeadershipStatus status() const override { return statusOf(store_, leading(), term(), options_.daemonId, 1, ""); }
  void setUrl(const std::string& url) override {
    auto& impl = store_.impl();
    std::lock_guard lk(impl.mu);
    auto tx = sql::Tx::begin(*impl.db, sql::TxKind::kWrite);
    if (!tx) return;
    auto st = impl.db->prepare("UPDATE leadership SET url = ? WHERE id = 1 AND term = ?");
    if (!st || !st->bind(1, url).bind(2, term_.load()).run()) return;
    (void)tx->commit();
  }
  bool waitUntilLeading(std::chrono::milliseconds maxWait) override {
    if (leading()) return true;
    std::this_thread::sleep_for(maxWait);
    return leading();
  }
  void stop() override {
    if (term_.exchange(0) > 0) store_.setFence(Store::kFenced);
    lock_.release();
  }

 private:
  Store& store_;
  LeadershipOptions options_;
  StateLock lock_;
  std::atomic<int64_t> term_;
};

// Raises the term and records the holder, in the store's own transaction
// (SQLite: the state lock is held, nobody else writes a term).
Result<int64_t> claimLocal(Store& store, const LeadershipOptions& o) {
  auto& impl = store.impl();
  std::lock_guard lk(impl.mu);
  auto tx = sql::Tx::begin(*impl.db, sql::TxKind::kDurableWrite);
  if (!tx) return tx.status();
  auto st = impl.db->prepare(
      "UPDATE leadership SET term = term + 1, daemon = ?, url = ?, holder_pid = ?, since = ? WHERE id = 1 "
      "RETURNING term");
  if (!st) return st.status();
  st->bind(1, o.daemonId).bind(2, o.url).bind(3, static_cast<int64_t>(::getpid())).bind(4, impl.now());
  auto row = st->step();
  if (!row) return row.status();
  if (!*row) return internalError(impl.db->where() + ": the leadership row is missing");
  int64_t term = st->int64(0);
  st->reset();
  Status s = tx->commit();
  if (!s) return s;
  return term;
}

// ---- PostgreSQL: the advisory lock on a dedicated connection.

class PgLeadership final : public Leadership {
 public:
  PgLeadership(Store& store, LeadershipOptions o) : store_(store), options_(std::move(o)) {
    store_.setFence(Store::kFenced);  // a follower until it wins
    thread_ = std::thread([this] { run(); });
  }
  ~PgLeadership() override { stop(); }

  bool leading() const override { return term_.load() > 0; }
  int64_t term() const override { return term_.load(); }
  const std::string& self() const override { return options_.daemonId; }
  LeadershipStatus status() const override {
    std::string error;
    {
      std::lock_guard lk(mu_);
      error = lastError_;
    }
    return statusOf(store_, leading(), term(), options_.daemonId, elections_.load(), error);
  }
  void setUrl(const std::string& url) override {
    std::lock_guard lk(mu_);
    options_.url = url;
    urlChanged_ = true;
  }
  bool waitUntilLeading(std::chrono::milliseconds maxWait) override {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, maxWait, [this] { return leading() || stopping_; });
    return leading();
  }
  void stop() override {
    {
      std::lock_guard lk(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void setError(const std::string& e) {
    std::lock_guard lk(mu_);
    lastError_ = e;
  }
  bool stopping() {
    std::lock_guard lk(mu_);
    return stopping_;
  }

  // Sends sql and waits for its result until `deadline`, reading
  // notifications meanwhile. The result, or null (a failed query, a broken
  // connection, or no answer in time: all mean the session cannot be trusted).
  postgres::PgResult query(const std::string& sql, SteadyClock::time_point deadline, int nParams = 0,
                           const char* const* values = nullptr) {
    PGconn* c = conn_->get();
    int sent = nParams ? PQsendQueryParams(c, sql.c_str(), nParams, nullptr, values, nullptr, nullptr, 0)
                       : PQsendQuery(c, sql.c_str());
    if (!sent) return nullptr;
    postgres::PgResult last;
    for (;;) {
      while (!PQisBusy(c)) {
        PGresult* r = PQgetResult(c);
        if (!r) {
          deliverNotifications();
          return last;
        }
        auto st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
          setError(postgres::redact(conn_->url()) + ": " + PQresultErrorMessage(r));
          PQclear(r);
          while (PGresult* rest = PQgetResult(c)) PQclear(rest);
          return nullptr;
        }
        last.reset(r);
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
      if (left.count() <= 0) return nullptr;
      pollfd p{PQsocket(c), POLLIN, 0};
      int n = ::poll(&p, 1, static_cast<int>(left.count()));
      if (n < 0 && errno != EINTR) return nullptr;
      if (!PQconsumeInput(c)) return nullptr;
    }
  }

  void deliverNotifications() {
    while (PGnotify* n = PQnotifies(conn_->get())) {
      std::string channel = n->relname, payload = n->extra ? n->extra : "";
      PQfreemem(n);
      if (channel == "darasa_changes" && options_.onChange) options_.onChange(payload);
    }
  }

  // Waits up to `wait` for notifications (or the stop), delivering them.
  bool idle(std::chrono::milliseconds wait) {
    const auto until = SteadyClock::now() + wait;
    while (!stopping()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
      if (left.count() <= 0) return true;
      if (!conn_ || !conn_->ok()) {
        std::unique_lock lk(mu_);
        cv_.wait_for(lk, left, [this] { return stopping_; });
        continue;
      }
      pollfd p{PQsocket(conn_->get()), POLLIN, 0};
      int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
      if (n > 0) {
        if (!PQconsumeInput(conn_->get())) return false;
        deliverNotifications();
      }
    }
    return false;
  }

  bool connect() {
    if (conn_ && conn_->ok()) return true;
    if (!conn_) {
      auto c = postgres::Connection::connect(store_.impl().location.url, "darasa-leader " + options_.daemonId);
      if (!c) {
        setError(c.status().message());
        return false;
      }
      conn_ = std::move(*c);
    } else if (!conn_->reconnect()) {
      setError(conn_->where() + ": cannot connect: " + PQerrorMessage(conn_->get()));
      return false;
    }
    // The session is the lease: without a check for 5 s the server ends it
    // and the lock goes to a follower. TCP gets the same bound for a leader
    // whose network went away.
    auto r = query("SET idle_session_timeout = '5s'; SET tcp_user_timeout = 5000; "
                   "LISTEN darasa_changes; LISTEN darasa_leader",
                   SteadyClock::now() + 5s);
    if (!r) return false;
    return true;
  }

  void depose(const std::string& why) {
    if (term_.exchange(0) == 0) return;
    store_.setFence(Store::kFenced);
    setError(why);
    if (options_.onDeposed) options_.onDeposed();
  }

  // One try at the lock; on success raises the term on this connection.
  void campaign() {
    const std::string lockSql = "SELECT pg_try_advisory_lock(" + std::to_string(postgres::kLockClass) + ", " +
                                std::to_string(postgres::kLeaderLock) + ")";
    auto r = query(lockSql, SteadyClock::now() + 5s);
    if (!r || PQntuples(r.get()) != 1) return;
    if (std::string(PQgetvalue(r.get(), 0, 0)) != "t") return;
    std::string url;
    {
      std::lock_guard lk(mu_);
      url = options_.url;
      urlChanged_ = false;
    }
    const std::string since = std::to_string(toUnixSeconds(SystemClock::instance().now()));
    const char* values[] = {options_.daemonId.c_str(), url.c_str(), since.c_str()};
    auto begin = query("BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(postgres::kLockClass) + ", " +
                           std::to_string(postgres::kWriterLock) + ")",
                       SteadyClock::now() + 20s);
    postgres::PgResult claimed;
    if (begin)
      claimed = query("UPDATE leadership SET term = term + 1, daemon = $1, url = $2, holder_pid = pg_backend_pid(), "
                      "since = $3 WHERE id = 1 RETURNING term",
                      SteadyClock::now() + 5s, 3, values);
    if (!claimed || PQntuples(claimed.get()) != 1 || !query("COMMIT", SteadyClock::now() + 5s)) {
      // Without a term the lock is of no use: let it go (a broken
      // connection lets go by itself).
      (void)query("ROLLBACK", SteadyClock::now() + 2s);
      (void)query("SELECT pg_advisory_unlock_all()", SteadyClock::now() + 2s);
      return;
    }
    const int64_t term = std::strtoll(PQgetvalue(claimed.get(), 0, 0), nullptr, 10);
    const std::string payload = std::to_string(term) + " " + options_.daemonId;
    const char* notifyValues[] = {payload.c_str()};
    (void)query("SELECT pg_notify('darasa_leader', $1)", SteadyClock::now() + 2s, 1, notifyValues);
    store_.setFence(term);
    term_.store(term);
    ++elections_;
    setError("");
    cv_.notify_all();
    if (options_.onElected) options_.onElected(term);
  }

  void run() {
    while (!stopping()) {
      if (!connect()) {
        depose("lost the connection to the database");
        idle(options_.interval);
        continue;
      }
      if (!leading()) {
        campaign();
      } else {
        // The check: the session answers in time (and so still holds the
        // lock; a session holds its advisory locks until it ends).
        auto r = query("SELECT 1", SteadyClock::now() + std::max<std::chrono::milliseconds>(options_.interval * 4, 2s));
        if (!r) {
          depose("the leader's connection to the database stopped answering");
          conn_.reset();  // a fresh session: the old one may still hold the lock until the server ends it
          continue;
        }
        bool changed = false;
        std::string url;
        {
          std::lock_guard lk(mu_);
          changed = urlChanged_;
          url = options_.url;
          urlChanged_ = false;
        }
        if (changed) {
          const std::string t = std::to_string(term_.load());
          const char* values[] = {url.c_str(), t.c_str()};
          (void)query("UPDATE leadership SET url = $1 WHERE id = 1 AND term = $2", SteadyClock::now() + 5s, 2,
                      values);
        }
      }
      if (!idle(options_.interval)) {
        if (!stopping()) depose("the leader's connection to the database broke");
      }
    }
    // Stopping: a leader lets go at once, so that a follower need not wait.
    if (leading()) {
      store_.setFence(Store::kFenced);
      term_.store(0);
    }
    conn_.reset();
  }

  Store& store_;
  LeadershipOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool urlChanged_ = false;
  std::string lastError_;
  std::atomic<int64_t> term_{0};
  std::atomic<int64_t> elections_{0};
  std::unique_ptr<postgres::Connection> conn_;  // used by the thread only
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<Leadership>> Leadership::start(Store& store, LeadershipOptions options) {
  if (options.daemonId.empty()) options.daemonId = defaultDaemonId();
  if (options.interval < 50ms) options.interval = 50ms;
  if (std::string_view(store.backend()) == "postgresql")
    return std::unique_ptr<Leadership>(new PgLeadership(store, std::move(options)));
  auto lock = StateLock::acquire(store.dir(), "darasa serve", std::chrono::milliseconds(0));
  if (!lock) return lock.status();
  auto term = claimLocal(store, options);
  if (!term) return term.status();
  store.setFence(*term);
  return std::unique_ptr<Leadership>(new LocalLeadership(store, std::move(options), std::move(*lock), *term));
}

}  // namespace darasa
