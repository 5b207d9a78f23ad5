// sql::Db: the database connection the Store is written against, private to
// darasa::state. Two implementations: SQLite (sqlite.h, a file in the state
// directory) and PostgreSQL (postgres.h, libpq). The store's SQL is written
// once, in the subset both understand: `?` and `?N` placeholders (numbered
// from 1; PostgreSQL gets them as $N), ON CONFLICT upserts, RETURNING,
// CAST(? AS TEXT) where a parameter's type is not clear from its context.
// What differs (schema DDL, triggers, the schema version, locking and
// durability) stays behind this interface and in migrations.cpp.
// Not thread-safe: the owner serialises use of a Db (Store holds a mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "provisioner/status.h"

namespace darasa::sql {

enum class Dialect { kSqlite, kPostgres };

// A prepared statement of one backend. Reached through Stmt.
class Cursor {
 public:
  virtual ~Cursor() = default;
  virtual void bindInt(int index, int64_t value) = 0;
  virtual void bindText(int index, std::string_view text) = 0;
  virtual void bindBlob(int index, std::string_view bytes) = 0;
  // Forgets the bindings and any result; ready for a new run.
  virtual void reset() = 0;
  // One step: true when a row is ready to read, false when done.
  virtual Result<bool> step() = 0;
  virtual int64_t int64(int col) const = 0;  // booleans read as 0/1
  virtual std::string text(int col) const = 0;
  virtual std::string blob(int col) const = 0;
  virtual bool isNull(int col) const = 0;
};

// A cached prepared statement in use. Binding indexes start at 1, columns at
// 0. Reset when it goes out of scope, so that it never holds a read snapshot
// or a result.
class Stmt {
 public:
  explicit Stmt(Cursor* cursor) : c_(cursor) {}
  Stmt(Stmt&& o) noexcept : c_(o.c_) { o.c_ = nullptr; }
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt() {
    if (c_) c_->reset();
  }

  Stmt& bind(int index, int64_t value) {
    c_->bindInt(index, value);
    return *this;
  }
  Stmt& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Stmt& bind(int index, std::string_view text) {
    c_->bindText(index, text);
    return *this;
  }
  Stmt& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Stmt& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Stmt& bindBlob(int index, std::string_view bytes) {
    c_->bindBlob(index, bytes);
    return *this;
  }

  void reset() { c_->reset(); }
  Result<bool> step() { return c_->step(); }
  // Runs a statement whose rows do not matter.
  Status run() {
    for (;;) {
      auto row = step();
      if (!row) return row.status();
      if (!*row) return Status::ok();
    }
  }

  int64_t int64(int col) const { return c_->int64(col); }
  std::string text(int col) const { return c_->text(col); }
  std::string blob(int col) const { return c_->blob(col); }
  bool isNull(int col) const { return c_->isNull(col); }

 private:
  Cursor* c_;
};

// kRead: a consistent snapshot. kWrite: the state's single writer (writers
// wait for each other, as SQLite's BEGIN IMMEDIATE does; on PostgreSQL a
// transaction-level advisory lock) whose commit survives a crash of the
// process but maybe not a power cut. kDurableWrite: as kWrite, and on disk
// (fsynced) when COMMIT returns — for what must never be lost: intents,
// applies, credentials, audit rows.
enum class TxKind { kRead, kWrite, kDurableWrite };

class Db {
 public:
  virtual ~Db() = default;
  virtual Dialect dialect() const = 0;
  // "state database /x/darasa.db" or "state database postgresql://host/db"
  // (never a password): the start of every error message.
  virtual const std::string& where() const = 0;

  // Runs one or more statements without parameters.
  virtual Status exec(std::string_view sql) = 0;
  // A prepared statement for sql, prepared once per connection.
  virtual Result<Stmt> prepare(std::string_view sql) = 0;
  // Rows changed by the last statement run.
  virtual int64_t changes() const = 0;

  virtual Status begin(TxKind kind) = 0;
  virtual Status commit() = 0;
  virtual void rollback() = 0;  // cannot fail in a way the caller could act on

  // Runs a statement returning one integer.
  Result<int64_t> queryInt(std::string_view sql) {
    auto stmt = prepare(sql);
    if (!stmt) return stmt.status();
    auto row = stmt->step();
    if (!row) return row.status();
    if (!*row) return internalError(where() + ": no result from " + std::string(sql.substr(0, 60)));
    return stmt->int64(0);
  }
};

// A transaction that rolls back unless committed.
class Tx {
 public:
  static Result<Tx> begin(Db& db, TxKind kind) {
    Status s = db.begin(kind);
    if (!s) return s;
    return Tx(&db);
  }
  Tx(Tx&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Tx& operator=(Tx&&) = delete;
  Tx(const Tx&) = delete;
  ~Tx() {
    if (db_) db_->rollback();
  }
  Status commit() {
    Status s = db_->commit();
    // After a failed COMMIT the destructor rolls back (a no-op where the
    // failure ended the transaction already).
    if (s) db_ = nullptr;
    return s;
  }

 private:
  explicit Tx(Db* db) : db_(db) {}
  Db* db_;
};

}  // namespace darasa::sql
