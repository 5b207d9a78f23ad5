// A small RAII wrapper over the SQLite C API, private to darasa::provisioner:
// a connection with a cache of prepared statements, statements that reset
// themselves, and transactions that roll back unless committed.
// Not thread-safe: the owner serialises use of a Db (Store holds a mutex).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "provisioner/status.h"

namespace darasa::sqlite {

class Db;

// A cached prepared statement in use. Binding indexes start at 1, columns at
// 0. The statement is reset (and its bindings cleared) when this goes out of
// scope, so that it never holds a read snapshot or blocks a commit.
class Stmt {
 public:
  Stmt(Db* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_), bindRc_(o.bindRc_) { o.stmt_ = nullptr; }
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt();

  Stmt& bind(int index, int64_t value);
  Stmt& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Stmt& bind(int index, std::string_view text);
  Stmt& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Stmt& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Stmt& bindBlob(int index, std::string_view bytes);

  // Ready for new bindings and a new run (what the destructor does too).
  void reset();

  // One step: true when a row is ready to read, false when done.
  Result<bool> step();
  // Runs a statement that returns no row (or whose rows do not matter).
  Status run();

  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) const;
  std::string blob(int col) const;
  bool isNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  Db* db_;
  sqlite3_stmt* stmt_;
  int bindRc_ = SQLITE_OK;
};

class Db {
 public:
  // flags: SQLITE_OPEN_* (READWRITE, CREATE). Sets extended result codes.
  static Result<Db> open(const std::filesystem::path& file, int flags);
  Db(Db&& o) noexcept : db_(o.db_), file_(std::move(o.file_)), cache_(std::move(o.cache_)) { o.db_ = nullptr; }
  Db& operator=(Db&&) = delete;
  Db(const Db&) = delete;
  ~Db();

  // Runs one or more statements that return nothing.
  Status exec(const char* sql);
  // A prepared statement for sql, prepared once per connection.
  Result<Stmt> prepare(std::string_view sql);
  // Runs a statement returning one integer (e.g. PRAGMA user_version).
  Result<int64_t> queryInt(std::string_view sql);

  int64_t lastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  const std::filesystem::path& file() const { return file_; }
  sqlite3* handle() const { return db_; }

  // A Status for an SQLite result code, naming the database file; `what`
  // says what was being done. Corruption, busy and permission errors get
  // their own codes and a message a person can act on.
  Status error(int rc, std::string_view what) const;

 private:
  Db(sqlite3* db, std::filesystem::path file) : db_(db), file_(std::move(file)) {}
  sqlite3* db_;
  std::filesystem::path file_;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

// Maps an SQLite result code to a darasa Status (without a database handle).
Status statusFromCode(int rc, const std::filesystem::path& file, std::string_view what,
                      std::string_view sqliteMessage);

// BEGIN (kRead) or BEGIN IMMEDIATE (kWrite: takes the write lock up front so
// that a writer never has to upgrade a read snapshot, which SQLite cannot
// wait for). Rolls back on destruction unless committed.
// The connection runs with synchronous = NORMAL: in WAL mode a commit then
// survives a crash of the process but maybe not a power cut. kDurableWrite
// commits with synchronous = FULL (the WAL is fsynced before COMMIT returns,
// and with it every earlier commit), for what must never be lost: intents,
// applies, credentials, audit rows.
class Tx {
 public:
  enum class Kind { kRead, kWrite, kDurableWrite };
  static Result<Tx> begin(Db& db, Kind kind);
  Tx(Tx&& o) noexcept : db_(o.db_), open_(o.open_), durable_(o.durable_) {
    o.open_ = false;
    o.durable_ = false;
  }
  Tx& operator=(Tx&&) = delete;
  Tx(const Tx&) = delete;
  ~Tx();
  Status commit();

 private:
  Tx(Db* db, bool durable) : db_(db), open_(true), durable_(durable) {}
  void restoreSync();
  Db* db_;
  bool open_;
  bool durable_;
};

}  // namespace darasa::sqlite
