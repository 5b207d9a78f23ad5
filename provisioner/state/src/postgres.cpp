#include "postgres.h"

#include <cstdlib>
#include <cstring>

namespace darasa::postgres {

bool isUrl(std::string_view location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

std::string redact(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (!opts) {
    PQfreemem(err);
    return "postgresql://(unparsable URL)";
  }
  std::map<std::string, std::string> v;
  for (PQconninfoOption* o = opts; o->keyword; ++o)
    if (o->val && *o->val) v[o->keyword] = o->val;
  PQconninfoFree(opts);
  std::string out = "postgresql://";
  if (v.count("user")) out += v["user"] + "@";
  std::string host = v.count("host") ? v["host"] : v.count("hostaddr") ? v["hostaddr"] : "";
  // A unix socket directory cannot go in the authority part: show it as the
  // query parameter libpq reads it from.
  bool socketDir = !host.empty() && host[0] == '/';
  if (!socketDir) out += host;
  if (v.count("port") && !socketDir) out += ":" + v["port"];
  out += "/" + (v.count("dbname") ? v["dbname"] : "");
  if (socketDir) out += "?host=" + host;
  return out;
}

std::string translatePlaceholders(std::string_view sql, int* params, std::vector<bool>* used) {
  if (used) used->clear();
  std::string out;
  out.reserve(sql.size() + 16);
  int highest = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (c == '\'' || c == '"') {  // a literal or a quoted identifier, '' and "" included
      size_t end = i + 1;
      while (end < sql.size() && sql[end] != c) ++end;
      out.append(sql.substr(i, end - i + 1));
      i = end;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t end = sql.find('\n', i);
      if (end == std::string_view::npos) end = sql.size();
      out.append(sql.substr(i, end - i));
      i = end - 1;
    } else if (c == '?') {
      size_t j = i + 1;
      int n = 0;
      while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') n = n * 10 + (sql[j++] - '0');
      if (j == i + 1) n = highest + 1;  // a bare ? takes the next index, as in SQLite
      highest = std::max(highest, n);
      if (used) {
        if (used->size() < static_cast<size_t>(n)) used->resize(static_cast<size_t>(n), false);
        (*used)[static_cast<size_t>(n - 1)] = true;
      }
      out += "$" + std::to_string(n);
      i = j - 1;
    } else {
      out += c;
    }
  }
  if (params) *params = highest;
  return out;
}

// ---- Connection

namespace {

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::connect(const std::string& url, const std::string& appName) {
  const std::string where = "state database " + redact(url);
  // Defaults first: what the URL says wins (expand_dbname parses it last).
  const char* keys[] = {"connect_timeout", "application_name", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "dbname", nullptr};
  const char* values[] = {"5", appName.c_str(), "10", "5", "3", url.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 1);
  if (!conn) return internalError(where + ": out of memory connecting");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    bool auth = msg.find("password") != std::string::npos || msg.find("authentication") != std::string::npos ||
                msg.find("permission denied") != std::string::npos;
    if (auth) return deniedError(where + ": the server refused the connection (" + msg + ")");
    return unavailableError(where + ": cannot connect (" + msg + ")");
  }
  auto c = std::unique_ptr<Connection>(new Connection(conn, url, where));
  // Writers wait for each other as long as SQLite's busy timeout; notices
  // (e.g. "there is no transaction in progress") are not for the log.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  Status s = c->exec("SET lock_timeout = '15s'; SET client_min_messages = warning");
  if (!s) return s;
  return c;
}

Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

bool Connection::reconnect() {
  PQreset(conn_);
  ++generation_;
  if (!ok()) return false;
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  return exec("SET lock_timeout = '15s'; SET client_min_messages = warning").isOk();
}

Status Connection::error(const PGresult* res, std::string_view what) const {
  std::string msg = trimmed(res ? PQresultErrorMessage(res) : PQerrorMessage(conn_));
  if (msg.empty()) msg = trimmed(PQerrorMessage(conn_));
  if (msg.rfind("ERROR:  ", 0) == 0) msg = msg.substr(8);
  const char* sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const std::string code = sqlstate ? sqlstate : "";
  const std::string detail = std::string(what) + ": " + msg;
  auto cls = [&](const char* prefix) { return code.rfind(prefix, 0) == 0; };
  if (PQstatus(conn_) != CONNECTION_OK || cls("08") || code == "57P01" || code == "57P02" || code == "57P03")
    return unavailableError(where_ + ": the connection to the server was lost (" + detail +
                            "); it is made again at the next request");
  if (code == "53100")
    return unavailableError(where_ + ": the database server's disk is full (" + detail +
                            "); free some space on its filesystem and try again");
  if (cls("53")) return unavailableError(where_ + ": the server is out of resources (" + detail + ")");
  if (code == "55P03" || code == "40001" || code == "40P01")
    return unavailableError(where_ + " stayed locked by another writer (" + detail + "); try again");
  if (cls("23")) return conflictError(where_ + ": " + detail);
  if (cls("22")) return invalidError(where_ + ": a value was refused (" + detail + ")");
  if (cls("28") || code == "42501") return deniedError(where_ + ": permission denied (" + detail + ")");
  if (cls("XX"))
    return internalError(where_ + " reports damaged data (" + detail +
                         "); darasa did not modify it. Restore the database from a backup");
  return internalError(where_ + ": " + detail);
}

Status Connection::exec(std::string_view sql) {
  PgResult r(PQexec(conn_, std::string(sql).c_str()));
  if (!r) return error(nullptr, "running " + std::string(sql.substr(0, 60)));
  auto st = PQresultStatus(r.get());
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Status::ok();
  return error(r.get(), "running " + std::string(sql.substr(0, 60)));
}

Result<std::string> Connection::scalar(std::string_view sql) {
  PgResult r(PQexec(conn_, std::string(sql).c_str()));
  if (!r) return error(nullptr, "running " + std::string(sql.substr(0, 60)));
  auto st = PQresultStatus(r.get());
  if (st == PGRES_COMMAND_OK) return std::string();
  if (st != PGRES_TUPLES_OK) return error(r.get(), "running " + std::string(sql.substr(0, 60)));
  if (PQntuples(r.get()) == 0 || PQnfields(r.get()) == 0) return std::string();
  return std::string(PQgetvalue(r.get(), 0, 0), static_cast<size_t>(PQgetlength(r.get(), 0, 0)));
}

// ---- Cursor

void Cursor::set(int index, std::string value, Kind kind) {
  if (index < 1 || static_cast<size_t>(index) > values_.size()) {
    if (!badIndex_) badIndex_ = index;
    return;
  }
  values_[static_cast<size_t>(index - 1)] = std::move(value);
  kinds_[static_cast<size_t>(index - 1)] = kind;
}

void Cursor::bindInt(int index, int64_t value) { set(index, std::to_string(value), kText); }
void Cursor::bindText(int index, std::string_view text) { set(index, std::string(text), kText); }
void Cursor::bindBlob(int index, std::string_view bytes) { set(index, std::string(bytes), kBinary); }

void Cursor::reset() {
  for (auto& v : values_) v.clear();
  std::fill(kinds_.begin(), kinds_.end(), kNull);
  badIndex_ = 0;
  result_.reset();
  row_ = -1;
}

Status Cursor::execute() {
  Connection& conn = *db_->conn_;
  if (badIndex_) return internalError(conn.where() + ": parameter " + std::to_string(badIndex_) + " out of range in " + sql_.substr(0, 60));
  if (preparedIn_ != conn.generation() + 1) {
    PgResult r(PQprepare(conn.get(), name_.c_str(), sql_.c_str(), static_cast<int>(types_.size()), types_.data()));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      return conn.error(r.get(), "preparing " + sql_.substr(0, 60));
    preparedIn_ = conn.generation() + 1;
  }
  const size_t n = values_.size();
  std::vector<const char*> vals(n);
  std::vector<int> lens(n), fmts(n);
  for (size_t i = 0; i < n; ++i) {
    vals[i] = kinds_[i] == kNull ? nullptr : values_[i].data();
    lens[i] = static_cast<int>(values_[i].size());
    fmts[i] = kinds_[i] == kBinary ? 1 : 0;
  }
  result_.reset(PQexecPrepared(conn.get(), name_.c_str(), static_cast<int>(n), vals.data(), lens.data(),
                               fmts.data(), 0));
  if (!result_) return conn.error(nullptr, "running " + sql_.substr(0, 60));
  auto st = PQresultStatus(result_.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    Status s = conn.error(result_.get(), "running " + sql_.substr(0, 60));
    result_.reset();
    return s;
  }
  const char* tuples = PQcmdTuples(result_.get());
  db_->changes_ = tuples && *tuples ? std::strtoll(tuples, nullptr, 10) : 0;
  row_ = -1;
  return Status::ok();
}

Result<bool> Cursor::step() {
  if (!result_) {
    Status s = execute();
    if (!s) return s;
  }
  if (PQresultStatus(result_.get()) != PGRES_TUPLES_OK) return false;
  ++row_;
  return row_ < PQntuples(result_.get());
}

bool Cursor::isNull(int col) const { return PQgetisnull(result_.get(), row_, col) != 0; }

std::string Cursor::text(int col) const {
  if (isNull(col)) return std::string();
  return std::string(PQgetvalue(result_.get(), row_, col), static_cast<size_t>(PQgetlength(result_.get(), row_, col)));
}

int64_t Cursor::int64(int col) const {
  if (isNull(col)) return 0;
  const char* v = PQgetvalue(result_.get(), row_, col);
  if (v[0] == 't' && v[1] == '\0') return 1;  // boolean
  if (v[0] == 'f' && v[1] == '\0') return 0;
  return std::strtoll(v, nullptr, 10);
}

std::string Cursor::blob(int col) const {
  if (isNull(col)) return std::string();
  size_t n = 0;
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row_, col)), &n);
  if (!raw) return std::string();
  std::string out(reinterpret_cast<const char*>(raw), n);
  PQfreemem(raw);
  return out;
}

// ---- Db

Result<sql::Stmt> Db::prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return sql::Stmt(it->second.get());
  int params = 0;
  std::vector<bool> used;
  std::string translated = translatePlaceholders(sql, &params, &used);
  // A parameter the statement does not use (bound anyway, as SQLite
  // allows) has no type the server could infer: declare it text.
  constexpr Oid kTextOid = 25;
  std::vector<Oid> types(static_cast<size_t>(params), 0);
  for (size_t i = 0; i < types.size(); ++i)
    if (i >= used.size() || !used[i]) types[i] = kTextOid;
  auto cursor = std::make_unique<Cursor>(this, "darasa_" + std::to_string(cache_.size() + 1), std::move(translated),
                                         std::move(types));
  Cursor* raw = cursor.get();
  cache_.emplace(std::string(sql), std::move(cursor));
  return sql::Stmt(raw);
}

Status Db::begin(sql::TxKind kind) {
  const std::string lock = "SELECT pg_advisory_xact_lock(" + std::to_string(kLockClass) + ", " +
                           std::to_string(kWriterLock) + ")";
  const std::string sql = kind == sql::TxKind::kRead ? std::string("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                          : kind == sql::TxKind::kWrite ? "BEGIN; SET LOCAL synchronous_commit = off; " + lock
                                                        : "BEGIN; " + lock;
  for (int attempt = 0;; ++attempt) {
    if (!conn_->ok() && !conn_->reconnect())
      return unavailableError(conn_->where() + ": cannot connect (" + trimmed(PQerrorMessage(conn_->get())) + ")");
    Status s = conn_->exec(sql);
    if (s) return s;
    rollback();
    // A connection the server dropped is noticed only now: connect again
    // once (nothing of this transaction ran yet).
    if (attempt == 0 && !conn_->ok()) continue;
    return s;
  }
}

Status Db::commit() {
  PgResult r(PQexec(conn_->get(), "COMMIT"));
  if (r && PQresultStatus(r.get()) == PGRES_COMMAND_OK) return Status::ok();
  if (!conn_->ok())
    return unavailableError(conn_->where() + ": the connection was lost while committing (" +
                            trimmed(PQerrorMessage(conn_->get())) +
                            "); the change may or may not be stored: look before trying again");
  return conn_->error(r.get(), "committing");
}

void Db::rollback() {
  if (conn_->ok() && PQtransactionStatus(conn_->get()) != PQTRANS_IDLE) {
    PgResult r(PQexec(conn_->get(), "ROLLBACK"));
  }
}

}  // namespace darasa::postgres
