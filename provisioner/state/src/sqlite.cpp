#include "sqlite.h"

#include <utility>

namespace darasa::sqlite {

Status statusFromCode(int rc, const std::filesystem::path& file, std::string_view what,
                      std::string_view sqliteMessage) {
  std::string where = "state database " + file.string();
  std::string detail = std::string(what) + ": " + std::string(sqliteMessage);
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return internalError(where + " is corrupt or not a darasa database (" + detail +
                           "); darasa did not modify it. Restore it from a backup, or move it away "
                           "to start with an empty state");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return unavailableError(where + " stayed locked by another process (" + detail + "); try again");
    case SQLITE_CONSTRAINT:
      return conflictError(where + ": " + detail);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_CANTOPEN:
      return deniedError(where + " cannot be opened for writing (" + detail + ")");
    case SQLITE_FULL:
      return unavailableError(where + ": the disk is full (" + detail + ")");
    default:
      return internalError(where + ": " + detail);
  }
}

// ---- Stmt

Stmt::~Stmt() { reset(); }

void Stmt::reset() {
  if (stmt_) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  bindRc_ = SQLITE_OK;
}

Stmt& Stmt::bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bindRc_ == SQLITE_OK) bindRc_ = rc;
  return *this;
}

Stmt& Stmt::bind(int index, std::string_view text) {
  // SQLITE_TRANSIENT: SQLite copies, so temporaries may be bound safely.
  int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bindRc_ == SQLITE_OK) bindRc_ = rc;
  return *this;
}

Stmt& Stmt::bindBlob(int index, std::string_view bytes) {
  int rc = sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bindRc_ == SQLITE_OK) bindRc_ = rc;
  return *this;
}

Result<bool> Stmt::step() {
  if (bindRc_ != SQLITE_OK) return db_->error(bindRc_, "binding a parameter");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const char* sql = sqlite3_sql(stmt_);
  std::string what = "running ";
  std::string_view s = sql ? sql : "";
  what += s.substr(0, 60);
  return db_->error(rc, what);
}

Status Stmt::run() {
  for (;;) {
    auto row = step();
    if (!row) return row.status();
    if (!*row) return Status::ok();
  }
}

std::string Stmt::text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

std::string Stmt::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

// ---- Db

Result<Db> Db::open(const std::filesystem::path& file, int flags) {
  sqlite3* handle = nullptr;
  // NOMUTEX: the owner serialises access; SQLite's own mutex would be a second lock.
  int rc = sqlite3_open_v2(file.c_str(), &handle, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
    sqlite3_close_v2(handle);
    return statusFromCode(rc, file, "opening", msg);
  }
  sqlite3_extended_result_codes(handle, 1);
  return Db(handle, file);
}

Db::~Db() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  if (db_) sqlite3_close_v2(db_);
}

Status Db::error(int rc, std::string_view what) const {
  // sqlite3_errmsg describes the most recent failure on this connection;
  // fall back to the generic text when it is about something else.
  std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  if (db_ && (sqlite3_extended_errcode(db_) & 0xff) != (rc & 0xff)) msg = sqlite3_errstr(rc);
  return statusFromCode(rc, file_, what, msg);
}

Status Db::exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::ok();
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  std::string_view s = sql;
  return statusFromCode(rc, file_, "running " + std::string(s.substr(0, 60)), msg);
}

Result<Stmt> Db::prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Stmt(this, it->second);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                              &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return error(rc, "preparing " + std::string(sql.substr(0, 60)));
  }
  cache_.emplace(std::string(sql), stmt);
  return Stmt(this, stmt);
}

Result<int64_t> Db::queryInt(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt) return stmt.status();
  auto row = stmt->step();
  if (!row) return row.status();
  if (!*row) return internalError("no result from " + std::string(sql));
  return stmt->int64(0);
}

// ---- Tx

Result<Tx> Tx::begin(Db& db, Kind kind) {
  const bool durable = kind == Kind::kDurableWrite;
  // synchronous cannot change inside a transaction: set it before BEGIN.
  if (durable) {
    Status s = db.exec("PRAGMA synchronous = FULL");
    if (!s) return s;
  }
  Status s = db.exec(kind == Kind::kRead ? "BEGIN" : "BEGIN IMMEDIATE");
  if (!s) {
    if (durable) (void)db.exec("PRAGMA synchronous = NORMAL");
    return s;
  }
  return Tx(&db, durable);
}

void Tx::restoreSync() {
  if (durable_) (void)db_->exec("PRAGMA synchronous = NORMAL");
  durable_ = false;
}

Tx::~Tx() {
  if (open_) {
    // Cannot report from a destructor; a failed rollback leaves SQLite to
    // roll back when the connection closes.
    (void)db_->exec("ROLLBACK");
  }
  restoreSync();
}

Status Tx::commit() {
  Status s = db_->exec("COMMIT");
  if (s) {
    open_ = false;
    restoreSync();
  }
  return s;
}

}  // namespace darasa::sqlite
