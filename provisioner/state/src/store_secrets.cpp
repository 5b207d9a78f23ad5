// Store: credentials (encrypted with the Vault) and the audit log.
#include <system_error>

#include "provisioner/store.h"
#include "store_impl.h"

namespace darasa {
using sql::Db;
using sql::Tx;
using namespace store_detail;

namespace {
constexpr const char* kReadAction = "read-credentials";

std::string subjectOf(const std::string& cohort, const std::string& trainee) { return cohort + "/" + trainee; }

Status insertAudit(Db& db, int64_t at, const std::string& actor, const std::string& action,
                   const std::string& subject, const std::string& detail) {
  auto st = db.prepare("INSERT INTO audit(at, actor, action, subject, detail) VALUES(?, ?, ?, ?, ?)");
  if (!st) return st.status();
  return st->bind(1, at).bind(2, actor).bind(3, action).bind(4, subject).bind(5, detail).run();
}
}  // namespace

Result<const Vault*> Store::Impl::openVault() {
  if (vault) return &*vault;
  const auto& keyFile = location.keyFile;
  std::error_code ec;
  if (!std::filesystem::exists(keyFile, ec)) {
    // A new key would make every stored credential unreadable: say so
    // rather than make one.
    auto count = db->queryInt("SELECT count(*) FROM credentials");
    if (!count) return count.status();
    if (*count > 0)
      return internalError("the credentials key " + keyFile.string() + " is missing, but the state holds " +
                           std::to_string(*count) +
                           " credential set(s) encrypted with it; restore the key file from a backup "
                           "(nothing was changed)");
  }
  auto v = Vault::open(keyFile);
  if (!v) return v.status();
  vault.emplace(std::move(*v));
  return &*vault;
}

Status Store::putCredentials(const std::string& cohort, const std::string& trainee,
                             const CredentialSet& credentials) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kDurableWrite);
  if (!tx) return tx.status();
  // Made for a lab the leader creates: a deposed leader must not replace
  // what the new one handed out.
  if (Status f = impl_->checkFence(); !f) return f;
  Status s = requireCohort(db, cohort);
  if (!s) return s;
  {
    auto st = db.prepare("SELECT 1 FROM trainees WHERE cohort = ? AND id = ?");
    if (!st) return st.status();
    st->bind(1, cohort).bind(2, trainee);
    auto row = st->step();
    if (!row) return row.status();
    if (!*row) return notFoundError("no trainee \"" + trainee + "\" in cohort " + cohort);
  }
  auto vault = impl_->openVault();
  if (!vault) return vault.status();
  auto st = db.prepare(
      "INSERT INTO credentials(cohort, trainee, \"user\", password_blob, password_hash, private_key_blob, public_key, "
      "created_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(cohort, trainee) DO UPDATE SET \"user\" = excluded.\"user\", "
      "password_blob = excluded.password_blob, password_hash = excluded.password_hash, "
      "private_key_blob = excluded.private_key_blob, public_key = excluded.public_key, "
      "created_at = excluded.created_at");
  if (!st) return st.status();
  st->bind(1, cohort).bind(2, trainee).bind(3, credentials.user);
  st->bindBlob(4, (*vault)->encrypt(credentials.password)).bind(5, credentials.passwordHash);
  st->bindBlob(6, (*vault)->encrypt(credentials.privateKey)).bind(7, credentials.publicKey);
  st->bind(8, impl_->now());
  s = st->run();
  if (!s) return s;
  return tx->commit();
}

Result<CredentialSet> Store::readCredentials(const std::string& cohort, const std::string& trainee,
                                             const std::string& actor) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kDurableWrite);
  if (!tx) return tx.status();
  const int64_t now = impl_->now();
  const std::string subject = subjectOf(cohort, trainee);

  // Every attempt leaves an audit row, the failed ones too; the audit row
  // and the read are one transaction, so no read goes unrecorded.
  auto finish = [&](Result<CredentialSet> result, const std::string& detail) -> Result<CredentialSet> {
    Status s = insertAudit(db, now, actor, kReadAction, subject, detail);
    if (!s) return s;
    s = tx->commit();
    if (!s) return s;
    return result;
  };

  auto st = db.prepare(
      "SELECT \"user\", password_blob, password_hash, private_key_blob, public_key FROM credentials "
      "WHERE cohort = ? AND trainee = ?");
  if (!st) return st.status();
  st->bind(1, cohort).bind(2, trainee);
  auto row = st->step();
  if (!row) return row.status();
  if (!*row) {
    st->reset();
    return finish(notFoundError("no credentials for trainee \"" + trainee + "\" of cohort " + cohort +
                                " (they are made when the lab is first created)"),
                  "denied: not found");
  }
  CredentialSet creds;
  creds.user = st->text(0);
  const std::string passwordBlob = st->blob(1);
  creds.passwordHash = st->text(2);
  const std::string keyBlob = st->blob(3);
  creds.publicKey = st->text(4);
  st->reset();

  auto vault = impl_->openVault();
  if (!vault) return finish(vault.status(), "failed: key unavailable");
  auto password = (*vault)->decrypt(passwordBlob);
  auto key = (*vault)->decrypt(keyBlob);
  if (!password || !key) {
    Status bad = password ? key.status() : password.status();
    return finish(bad.withContext("credentials of " + subject), "failed: cannot decrypt");
  }
  creds.password = std::move(*password);
  creds.privateKey = std::move(*key);
  return finish(std::move(creds), "ok");
}

Result<bool> Store::hasCredentials(const std::string& cohort, const std::string& trainee) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  auto st = db.prepare("SELECT 1 FROM credentials WHERE cohort = ? AND trainee = ?");
  if (!st) return st.status();
  st->bind(1, cohort).bind(2, trainee);
  auto row = st->step();
  if (!row) return row.status();
  return *row;
}

Result<std::vector<CredentialRecord>> Store::listCredentials(const std::string& cohort) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  Status s = requireCohort(db, cohort);
  if (!s) return s;
  auto st = db.prepare(
      "SELECT cohort, trainee, \"user\", public_key, created_at FROM credentials WHERE cohort = ? ORDER BY trainee");
  if (!st) return st.status();
  st->bind(1, cohort);
  std::vector<CredentialRecord> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.status();
    if (!*row) break;
    out.push_back(CredentialRecord{st->text(0), st->text(1), st->text(2), st->text(3), st->int64(4)});
  }
  return out;
}

Status Store::deleteCredentials(const std::string& cohort, const std::string& trainee) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kDurableWrite);
  if (!tx) return tx.status();
  auto st = db.prepare("DELETE FROM credentials WHERE cohort = ? AND trainee = ?");
  if (!st) return st.status();
  Status s = st->bind(1, cohort).bind(2, trainee).run();
  if (!s) return s;
  return tx->commit();
}

// ---- audit

Status Store::appendAudit(const std::string& actor, const std::string& action, const std::string& subject,
                          const std::string& detail) {
  if (action.empty()) return invalidError("an audit record needs an action");
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kDurableWrite);
  if (!tx) return tx.status();
  Status s = insertAudit(db, impl_->now(), actor, action, subject, detail);
  if (!s) return s;
  return tx->commit();
}

Result<std::vector<AuditRecord>> Store::listAudit(const AuditFilter& filter, int limit) {
  if (limit <= 0) return std::vector<AuditRecord>{};
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  // One statement for every filter: an empty parameter matches everything.
  // The prefix match uses substr rather than LIKE so that % and _ in a
  // subject are not wildcards.
  auto st = db.prepare(
      "SELECT * FROM (SELECT id, at, actor, action, subject, detail FROM audit "
      "WHERE (CAST(?1 AS TEXT) = '' OR actor = ?1) AND (CAST(?2 AS TEXT) = '' OR action = ?2) "
      "AND (CAST(?3 AS TEXT) = '' OR substr(subject, 1, length(CAST(?3 AS TEXT))) = ?3) AND at >= ?4 "
      "ORDER BY id DESC LIMIT ?5) AS recent ORDER BY id");
  if (!st) return st.status();
  st->bind(1, filter.actor).bind(2, filter.action).bind(3, filter.subjectPrefix).bind(4, filter.since);
  st->bind(5, static_cast<int64_t>(limit));
  std::vector<AuditRecord> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.status();
    if (!*row) break;
    out.push_back(AuditRecord{st->int64(0), st->int64(1), st->text(2), st->text(3), st->text(4), st->text(5)});
  }
  return out;
}

}  // namespace darasa
