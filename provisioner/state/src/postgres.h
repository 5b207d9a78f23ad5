// The PostgreSQL implementation of sql::Db (libpq), private to
// darasa::state, and the connection it and the leader election share.
// Writers are serialised by a transaction-level advisory lock (the same
// single-writer rule as SQLite's BEGIN IMMEDIATE, across every daemon on the
// database); kWrite commits with synchronous_commit = off, kDurableWrite
// with the server's default (on: flushed before COMMIT returns). A
// connection that broke (the server restarted, the network went away) is
// re-established at the next BEGIN; a statement that fails because of it is
// kUnavailable. Not thread-safe: the owner serialises use.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "db.h"

namespace darasa::postgres {

// Whether a --state / state.url value names a PostgreSQL database.
bool isUrl(std::string_view location);
// The URL as it may be shown: user, host, port and database, never a password.
std::string redact(const std::string& url);

// Advisory lock keys (two-key form: darasa's class, then the purpose).
constexpr int32_t kLockClass = 0x44415241;  // "DARA"
constexpr int32_t kLeaderLock = 1;          // held by the leading daemon's dedicated connection
constexpr int32_t kWriterLock = 2;          // per write transaction
constexpr int32_t kMigrationLock = 3;       // while the schema is brought up to date

// One libpq connection. `appName` shows in pg_stat_activity.
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> connect(const std::string& url, const std::string& appName);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  PGconn* get() const { return conn_; }
  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  // Connects again; true when it worked. Session state (prepared
  // statements, LISTENs, advisory locks) is gone.
  bool reconnect();
  uint64_t generation() const { return generation_; }  // +1 per reconnect
  const std::string& where() const { return where_; }  // "state database postgresql://..."
  const std::string& url() const { return url_; }

  // Runs sql (no parameters, maybe several statements); the result of the
  // last one, or the error as a Status.
  Result<std::string> scalar(std::string_view sql);  // first column of the first row ("" if none)
  Status exec(std::string_view sql);
  // A Status for a failed result (or a broken connection when res is null).
  Status error(const PGresult* res, std::string_view what) const;

 private:
  Connection(PGconn* conn, std::string url, std::string where) : conn_(conn), url_(std::move(url)), where_(std::move(where)) {}
  PGconn* conn_;
  std::string url_;
  std::string where_;
  uint64_t generation_ = 0;
};

// Frees a PGresult when it goes out of scope.
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

class Db;

class Cursor final : public sql::Cursor {
 public:
  // types: per parameter, 0 (the server infers it) or an OID to declare.
  Cursor(Db* db, std::string name, std::string sql, std::vector<Oid> types)
      : db_(db), name_(std::move(name)), sql_(std::move(sql)), types_(std::move(types)),
        values_(types_.size()), kinds_(types_.size(), kNull) {}
  void bindInt(int index, int64_t value) override;
  void bindText(int index, std::string_view text) override;
  void bindBlob(int index, std::string_view bytes) override;
  void reset() override;
  Result<bool> step() override;
  int64_t int64(int col) const override;
  std::string text(int col) const override;
  std::string blob(int col) const override;
  bool isNull(int col) const override;

 private:
  enum Kind : char { kNull, kText, kBinary };
  void set(int index, std::string value, Kind kind);
  Status execute();
  Db* db_;
  std::string name_;
  std::string sql_;  // with $N placeholders
  std::vector<Oid> types_;
  std::vector<std::string> values_;
  std::vector<Kind> kinds_;
  int badIndex_ = 0;  // a bind out of range, reported at step()
  uint64_t preparedIn_ = 0;  // the connection generation it is prepared in (0: not yet)
  PgResult result_;
  int row_ = -1;
};

class Db final : public sql::Db {
 public:
  explicit Db(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}
  sql::Dialect dialect() const override { return sql::Dialect::kPostgres; }
  const std::string& where() const override { return conn_->where(); }
  Status exec(std::string_view sql) override { return conn_->exec(sql); }
  Result<sql::Stmt> prepare(std::string_view sql) override;
  int64_t changes() const override { return changes_; }
  Status begin(sql::TxKind kind) override;
  Status commit() override;
  void rollback() override;

  Connection& connection() { return *conn_; }

 private:
  friend class Cursor;
  std::unique_ptr<Connection> conn_;
  std::map<std::string, std::unique_ptr<Cursor>, std::less<>> cache_;
  int64_t changes_ = 0;
};

// `?` / `?N` placeholders to `$N` (outside quotes and comments); *params
// gets the highest index used, *used (when given) which of 1..highest occur.
std::string translatePlaceholders(std::string_view sql, int* params, std::vector<bool>* used = nullptr);

}  // namespace darasa::postgres
