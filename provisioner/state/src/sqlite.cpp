#include "sqlite.h"

#include <cerrno>
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
      return unavailableError(where + ": the disk is full (" + detail +
                              "); free some space on its filesystem and try again");
    default:
      return internalError(where + ": " + detail);
  }
}

// ---- Cursor

Cursor::~Cursor() { sqlite3_finalize(stmt_); }

void Cursor::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bindRc_ = SQLITE_OK;
}

void Cursor::bindInt(int index, int64_t value) { note(sqlite3_bind_int64(stmt_, index, value)); }

void Cursor::bindText(int index, std::string_view text) {
  // SQLITE_TRANSIENT: SQLite copies, so temporaries may be bound safely.
  note(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

void Cursor::bindBlob(int index, std::string_view bytes) {
  note(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT));
}

Result<bool> Cursor::step() {
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

std::string Cursor::text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

std::string Cursor::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

// ---- Db

Db::Db(sqlite3* db, std::filesystem::path file)
    : db_(db), file_(std::move(file)), where_("state database " + file_.string()) {}

Result<std::unique_ptr<Db>> Db::open(const std::filesystem::path& file, int flags) {
  sqlite3* handle = nullptr;
  // NOMUTEX: the owner serialises access; SQLite's own mutex would be a second lock.
  int rc = sqlite3_open_v2(file.c_str(), &handle, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
    sqlite3_close_v2(handle);
    return statusFromCode(rc, file, "opening", msg);
  }
  sqlite3_extended_result_codes(handle, 1);
  return std::unique_ptr<Db>(new Db(handle, file));
}

Db::~Db() {
  cache_.clear();  // finalizes every statement before the connection closes
  if (db_) sqlite3_close_v2(db_);
}

Status Db::error(int rc, std::string_view what) const {
  // sqlite3_errmsg describes the most recent failure on this connection;
  // fall back to the generic text when it is about something else.
  std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  if (db_ && (sqlite3_extended_errcode(db_) & 0xff) != (rc & 0xff)) msg = sqlite3_errstr(rc);
  // With no space left SQLite often reports an I/O error (a write, the
  // shared-memory file of the WAL) rather than SQLITE_FULL: say what it is.
  if ((rc & 0xff) == SQLITE_IOERR && db_) {
    int e = sqlite3_system_errno(db_);
    if (e == ENOSPC || e == EDQUOT) return statusFromCode(SQLITE_FULL, file_, what, msg);
  }
  return statusFromCode(rc, file_, what, msg);
}

Status Db::exec(std::string_view sql) {
  const std::string text(sql);  // sqlite3_exec wants a terminated string
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::ok();
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  if ((rc & 0xff) == SQLITE_IOERR) {
    int e = sqlite3_system_errno(db_);
    if (e == ENOSPC || e == EDQUOT) rc = SQLITE_FULL;
  }
  return statusFromCode(rc, file_, "running " + std::string(sql.substr(0, 60)), msg);
}

Result<sql::Stmt> Db::prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return sql::Stmt(it->second.get());
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                              &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return error(rc, "preparing " + std::string(sql.substr(0, 60)));
  }
  auto cursor = std::make_unique<Cursor>(this, stmt);
  Cursor* raw = cursor.get();
  cache_.emplace(std::string(sql), std::move(cursor));
  return sql::Stmt(raw);
}

Status Db::begin(sql::TxKind kind) {
  // synchronous cannot change inside a transaction: set it before BEGIN.
  if (kind == sql::TxKind::kDurableWrite) {
    Status s = exec("PRAGMA synchronous = FULL");
    if (!s) return s;
    durable_ = true;
  }
  Status s = exec(kind == sql::TxKind::kRead ? "BEGIN" : "BEGIN IMMEDIATE");
  if (!s) restoreSync();
  return s;
}

void Db::restoreSync() {
  if (durable_) (void)exec("PRAGMA synchronous = NORMAL");
  durable_ = false;
}

Status Db::commit() {
  Status s = exec("COMMIT");
  if (s) restoreSync();
  return s;
}

void Db::rollback() {
  // A failed rollback (none open, or the connection is in trouble) leaves
  // SQLite to roll back when the connection closes.
  if (!sqlite3_get_autocommit(db_)) (void)exec("ROLLBACK");
  restoreSync();
}

}  // namespace darasa::sqlite
