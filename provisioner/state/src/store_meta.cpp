// Store: facts of the state itself (its instance id), the leader fence and
// change notifications between daemons.
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "postgres.h"
#include "provisioner/store.h"
#include "store_impl.h"

namespace darasa {
using sql::Db;
using sql::Tx;

namespace {

Result<std::string> randomId() {
  if (sodium_init() < 0) return internalError("libsodium failed to initialise");
  unsigned char raw[8];
  randombytes_buf(raw, sizeof raw);
  char hex[17];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  return std::string(hex);
}

bool isInstanceId(const std::string& id) {
  return id.size() == 16 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// <dir>/instance-id, created once (O_EXCL, so that two first runs agree).
Result<std::string> fileInstanceId(const std::filesystem::path& dir) {
  auto path = dir / "instance-id";
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::ifstream in(path);
    std::string id;
    if (in && std::getline(in, id) && id.size() == 16) return id;
    // Being written by another process right now: read again below.
    auto fresh = randomId();
    if (!fresh) return fresh.status();
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      std::string line = *fresh + "\n";
      bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
      ::close(fd);
      if (!ok) return internalError("cannot write " + path.string());
      return *fresh;
    }
    if (errno != EEXIST) return internalError("cannot create " + path.string() + ": " + std::strerror(errno));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return internalError(path.string() + " is malformed (expected 16 hex digits); remove it only if no lab of this "
                       "state exists any more");
}

// The meta row, inserted by the first daemon that asks.
Result<std::string> databaseInstanceId(Db& db) {
  auto tx = Tx::begin(db, sql::TxKind::kDurableWrite);
  if (!tx) return tx.status();
  auto get = db.prepare("SELECT value FROM meta WHERE key = 'instance-id'");
  if (!get) return get.status();
  auto row = get->step();
  if (!row) return row.status();
  if (*row) {
    std::string id = get->text(0);
    if (!isInstanceId(id))
      return internalError(db.where() + ": its instance id \"" + id + "\" is malformed (expected 16 hex digits)");
    return id;
  }
  get->reset();
  auto fresh = randomId();
  if (!fresh) return fresh.status();
  auto put = db.prepare("INSERT INTO meta(key, value) VALUES('instance-id', ?)");
  if (!put) return put.status();
  Status s = put->bind(1, *fresh).run();
  if (!s) return s;
  s = tx->commit();
  if (!s) return s;
  return *fresh;
}

}  // namespace

Result<std::string> Store::instanceId() {
  std::lock_guard lock(impl_->mu);
  if (impl_->instanceId) return *impl_->instanceId;
  auto id = impl_->db->dialect() == sql::Dialect::kSqlite ? fileInstanceId(impl_->location.dir)
                                                          : databaseInstanceId(*impl_->db);
  if (id) impl_->instanceId = *id;
  return id;
}

Status Store::Impl::checkFence() {
  const int64_t term = fence.load();
  if (term == 0) return Status::ok();
  if (term < 0)
    return conflictError("this daemon does not lead the state now: the write was not stored (the leader does it)");
  // One row; on PostgreSQL also: the connection recorded as the holder still
  // holds the leader's advisory lock (a leader whose connection broke is
  // not the leader any more, even before another takes over).
  const std::string sql =
      db->dialect() == sql::Dialect::kSqlite
          ? std::string("SELECT term, daemon FROM leadership WHERE id = 1")
          : "SELECT term, daemon, EXISTS(SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND k.granted "
            "AND k.pid = l.holder_pid AND k.classid = " +
                std::to_string(postgres::kLockClass) + " AND k.objid = " + std::to_string(postgres::kLeaderLock) +
                " AND k.objsubid = 2) FROM leadership l WHERE l.id = 1";
  auto st = db->prepare(sql);
  if (!st) return st.status();
  auto row = st->step();
  if (!row) return row.status();
  if (!*row) return internalError(db->where() + ": the leadership row is missing");
  const int64_t current = st->int64(0);
  const std::string holder = st->text(1);
  const bool held = db->dialect() == sql::Dialect::kSqlite || st->int64(2) != 0;
  if (current == term && held) return Status::ok();
  if (current != term)
    return conflictError("this daemon led the state under term " + std::to_string(term) + "; " +
                         (holder.empty() ? "another daemon" : holder) + " leads now (term " +
                         std::to_string(current) + "): the write was not stored");
  return conflictError("this daemon's leader lock (term " + std::to_string(term) +
                       ") is gone (its connection to the database broke): the write was not stored");
}

Status Store::Impl::notifyChange(const std::string& cohort) {
  if (db->dialect() != sql::Dialect::kPostgres) return Status::ok();
  auto st = db->prepare("SELECT pg_notify('darasa_changes', CAST(? AS TEXT))");
  if (!st) return st.status();
  return st->bind(1, cohort).run();
}

Result<LeaderRecord> Store::leader() {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  auto st = db.prepare("SELECT term, daemon, url, since FROM leadership WHERE id = 1");
  if (!st) return st.status();
  auto row = st->step();
  if (!row) return row.status();
  if (!*row) return internalError(db.where() + ": the leadership row is missing");
  return LeaderRecord{st->int64(0), st->text(1), st->text(2), st->int64(3)};
}

}  // namespace darasa
