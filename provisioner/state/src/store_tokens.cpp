// Store: API tokens (schema version 2). Only the SHA-256 of a token's secret
// is kept; the lookup by hash is one read of a UNIQUE index.
#include <algorithm>

#include "provisioner/store.h"
#include "store_impl.h"

namespace darasa {
using sql::Db;
using sql::Tx;
using namespace store_detail;

namespace {

constexpr size_t kHashBytes = 32;
// lastUsedAt is kept to the minute: writing it on every request would turn
// each API read into a write transaction.
constexpr int64_t kTouchResolutionSeconds = 60;

// cohort and trainee are NULL in the table when unused (see migrateTo2).
constexpr const char* kTokenColumns =
    "id, role, coalesce(cohort, ''), coalesce(trainee, ''), name, created_at, expires_at, revoked_at, last_used_at";

TokenRecord readToken(const sql::Stmt& st) {
  TokenRecord t;
  t.id = st.text(0);
  t.role = tokenRoleFromName(st.text(1)).value_or(TokenRole::kTrainee);
  t.cohort = st.text(2);
  t.trainee = st.text(3);
  t.name = st.text(4);
  t.createdAt = st.int64(5);
  t.expiresAt = st.int64(6);
  t.revokedAt = st.int64(7);
  t.lastUsedAt = st.int64(8);
  return t;
}

Status checkShape(const TokenRecord& r) {
  switch (r.role) {
    case TokenRole::kAdmin:
      if (!r.cohort.empty() || !r.trainee.empty()) return invalidError("an admin token has no cohort or trainee");
      break;
    case TokenRole::kInstructor:
      if (r.cohort.empty()) return invalidError("an instructor token needs a cohort");
      if (!r.trainee.empty()) return invalidError("an instructor token has no trainee");
      break;
    case TokenRole::kTrainee:
      if (r.cohort.empty() || r.trainee.empty()) return invalidError("a trainee token needs a cohort and a trainee");
      break;
  }
  return Status::ok();
}

}  // namespace



Status Store::putToken(const TokenRecord& record, const std::string& secretHash) {
  if (record.id.empty()) return invalidError("a token needs an id");
  if (secretHash.size() != kHashBytes)
    return invalidError("a token's secret hash must be " + std::to_string(kHashBytes) + " bytes (SHA-256), not " +
                        std::to_string(secretHash.size()));
  Status s = checkShape(record);
  if (!s) return s;
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kDurableWrite);
  if (!tx) return tx.status();
  if (!record.cohort.empty()) {
    s = requireCohort(db, record.cohort);
    if (!s) return s;
  }
  if (!record.trainee.empty()) {
    auto st = db.prepare("SELECT 1 FROM trainees WHERE cohort = ? AND id = ?");
    if (!st) return st.status();
    st->bind(1, record.cohort).bind(2, record.trainee);
    auto row = st->step();
    if (!row) return row.status();
    if (!*row) return notFoundError("no trainee \"" + record.trainee + "\" in cohort " + record.cohort);
  }
  {
    auto st = db.prepare("SELECT 1 FROM tokens WHERE id = ?");
    if (!st) return st.status();
    st->bind(1, record.id);
    auto row = st->step();
    if (!row) return row.status();
    if (*row) return conflictError("a token with id " + record.id + " exists already");
  }
  auto st = db.prepare(
      "INSERT INTO tokens(id, secret_hash, role, cohort, trainee, name, created_at, expires_at, revoked_at, "
      "last_used_at) VALUES(?, ?, ?, NULLIF(?, ''), NULLIF(?, ''), ?, ?, ?, ?, ?)");
  if (!st) return st.status();
  st->bind(1, record.id).bindBlob(2, secretHash).bind(3, tokenRoleName(record.role));
  st->bind(4, record.cohort).bind(5, record.trainee).bind(6, record.name);
  st->bind(7, record.createdAt ? record.createdAt : impl_->now()).bind(8, record.expiresAt);
  st->bind(9, record.revokedAt).bind(10, record.lastUsedAt);
  s = st->run();
  // Only a duplicate secret can still collide here (256 random bits: a bug).
  if (!s) return s.code() == Code::kConflict ? conflictError("a token with this secret exists already") : s;
  return tx->commit();
}

Result<TokenRecord> Store::findTokenByHash(const std::string& secretHash, bool touch) {
  if (secretHash.size() != kHashBytes) return notFoundError("no such token");
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  TokenRecord token;
  {
    auto tx = Tx::begin(db, sql::TxKind::kRead);
    if (!tx) return tx.status();
    auto st = db.prepare(std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE secret_hash = ?");
    if (!st) return st.status();
    st->bindBlob(1, secretHash);
    auto row = st->step();
    if (!row) return row.status();
    if (!*row) return notFoundError("no such token");
    token = readToken(*st);
  }
  const int64_t now = impl_->now();
  if (touch && now - token.lastUsedAt >= kTouchResolutionSeconds) {
    // Not durable: losing a last-used time in a power cut harms nobody.
    auto tx = Tx::begin(db, sql::TxKind::kWrite);
    if (!tx) return tx.status();
    auto st = db.prepare("UPDATE tokens SET last_used_at = ? WHERE id = ?");
    if (!st) return st.status();
    Status s = st->bind(1, now).bind(2, token.id).run();
    if (!s) return s;
    s = tx->commit();
    if (!s) return s;
    token.lastUsedAt = now;
  }
  return token;
}

Result<std::vector<TokenRecord>> Store::listTokens() {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  auto st = db.prepare(std::string("SELECT ") + kTokenColumns + " FROM tokens ORDER BY created_at, id");
  if (!st) return st.status();
  std::vector<TokenRecord> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.status();
    if (!*row) break;
    out.push_back(readToken(*st));
  }
  return out;
}

Status Store::revokeToken(const std::string& id) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kDurableWrite);
  if (!tx) return tx.status();
  {
    auto st = db.prepare("SELECT revoked_at FROM tokens WHERE id = ?");
    if (!st) return st.status();
    st->bind(1, id);
    auto row = st->step();
    if (!row) return row.status();
    if (!*row) return notFoundError("no token \"" + id + "\"");
    if (st->int64(0) != 0) return Status::ok();  // revoked already: keep the first time
  }
  auto st = db.prepare("UPDATE tokens SET revoked_at = ? WHERE id = ?");
  if (!st) return st.status();
  // 0 means "not revoked": a clock at the epoch still revokes.
  Status s = st->bind(1, std::max<int64_t>(impl_->now(), 1)).bind(2, id).run();
  if (!s) return s;
  return tx->commit();
}

}  // namespace darasa
