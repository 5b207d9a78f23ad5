// The SQLite implementation of sql::Db, private to darasa::state: a
// connection with a cache of prepared statements. The connection runs in
// WAL mode with synchronous = NORMAL (a commit survives a crash of the
// process); kDurableWrite commits with synchronous = FULL (the WAL is
// fsynced before COMMIT returns, and with it every earlier commit).
// Not thread-safe: the owner serialises use of a Db (Store holds a mutex).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "db.h"

namespace darasa::sqlite {

class Db;

class Cursor final : public sql::Cursor {
 public:
  Cursor(Db* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Cursor() override;
  void bindInt(int index, int64_t value) override;
  void bindText(int index, std::string_view text) override;
  void bindBlob(int index, std::string_view bytes) override;
  void reset() override;
  Result<bool> step() override;
  int64_t int64(int col) const override { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) const override;
  std::string blob(int col) const override;
  bool isNull(int col) const override { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  void note(int rc) {
    if (rc != SQLITE_OK && bindRc_ == SQLITE_OK) bindRc_ = rc;
  }
  Db* db_;
  sqlite3_stmt* stmt_;
  int bindRc_ = SQLITE_OK;
};

class Db final : public sql::Db {
 public:
  // flags: SQLITE_OPEN_* (READWRITE, CREATE). Sets extended result codes.
  static Result<std::unique_ptr<Db>> open(const std::filesystem::path& file, int flags);
  ~Db() override;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sql::Dialect dialect() const override { return sql::Dialect::kSqlite; }
  const std::string& where() const override { return where_; }
  Status exec(std::string_view sql) override;
  Result<sql::Stmt> prepare(std::string_view sql) override;
  int64_t changes() const override { return sqlite3_changes(db_); }
  // BEGIN (kRead) or BEGIN IMMEDIATE (writes: the write lock is taken up
  // front, so that a writer never has to upgrade a read snapshot, which
  // SQLite cannot wait for).
  Status begin(sql::TxKind kind) override;
  Status commit() override;
  void rollback() override;

  const std::filesystem::path& file() const { return file_; }
  sqlite3* handle() const { return db_; }

  // A Status for an SQLite result code, naming the database file; `what`
  // says what was being done. Corruption, busy, full-disk and permission
  // errors get their own codes and a message a person can act on.
  Status error(int rc, std::string_view what) const;

 private:
  Db(sqlite3* db, std::filesystem::path file);
  void restoreSync();
  sqlite3* db_;
  std::filesystem::path file_;
  std::string where_;
  std::map<std::string, std::unique_ptr<Cursor>, std::less<>> cache_;
  bool durable_ = false;  // synchronous = FULL for the open transaction
};

// Maps an SQLite result code to a darasa Status (without a database handle).
Status statusFromCode(int rc, const std::filesystem::path& file, std::string_view what,
                      std::string_view sqliteMessage);

}  // namespace darasa::sqlite
