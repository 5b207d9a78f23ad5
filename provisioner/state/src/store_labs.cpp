// Store: labs and the operations journal.
#include <set>

#include "provisioner/store.h"
#include "store_impl.h"

namespace darasa {
using sql::Db;
using sql::Tx;

namespace store_detail {

const char* const kLabColumns =
    "lab_id, cohort, trainee, generation, observed_generation, desired, phase, removed, provider, resource_id, "
    "endpoints_json, spec_json, error_code, error_message, attempts, ready_at, updated_at, queue_position, "
    "queue_reason, queued_at, queue_eta, stop_reason, last_active_at";

const char* const kLabGoneSql =
    "(l.phase = 'destroyed' OR (l.phase = 'pending' AND l.resource_id = '' AND NOT EXISTS "
    "(SELECT 1 FROM operations o WHERE o.status = 'pending' AND o.lab_id = l.lab_id)))";

LabRecord readLab(const sql::Stmt& st) {
  LabRecord l;
  l.labId = st.text(0);
  l.cohort = st.text(1);
  l.trainee = st.text(2);
  l.generation = st.int64(3);
  l.observedGeneration = st.int64(4);
  // Only this file writes these columns, with the model's own names.
  l.desired = desiredStateFromName(st.text(5)).value_or(DesiredState::kAbsent);
  l.phase = labPhaseFromName(st.text(6)).value_or(LabPhase::kFailed);
  l.removed = st.int64(7) != 0;
  l.provider = st.text(8);
  l.resourceId = st.text(9);
  l.endpointsJson = st.text(10);
  l.specJson = st.text(11);
  l.lastError = statusFrom(st.text(12), st.text(13));
  l.attempts = static_cast<int>(st.int64(14));
  l.readyAt = st.int64(15);
  l.updatedAt = st.int64(16);
  l.queuePosition = static_cast<int>(st.int64(17));
  l.queueReason = st.text(18);
  l.queuedAt = st.int64(19);
  l.queueEta = st.int64(20);
  l.stopReason = st.text(21);
  l.lastActiveAt = st.int64(22);
  return l;
}

}  // namespace store_detail

using namespace store_detail;

namespace {

Status labNotFound(const std::string& labId) { return notFoundError("no lab \"" + labId + "\" in the state"); }

// Runs an UPDATE of one lab (binding 1 is always updated_at, the last one the
// lab id) inside its own write transaction; kNotFound when no row matched.
// A leader-only write: fenced (Store::setFence).
template <typename BindFn>
Status updateLab(Store::Impl& impl, const std::string& labId, std::string_view sql, BindFn bindRest) {
  std::lock_guard lock(impl.mu);
  Db& db = *impl.db;
  auto tx = Tx::begin(db, sql::TxKind::kWrite);
  if (!tx) return tx.status();
  if (Status f = impl.checkFence(); !f) return f;
  auto st = db.prepare(sql);
  if (!st) return st.status();
  st->bind(1, impl.now());
  int last = bindRest(*st);
  st->bind(last + 1, labId);
  Status s = st->run();
  if (!s) return s;
  if (db.changes() == 0) return labNotFound(labId);
  return tx->commit();
}

}  // namespace

Result<std::vector<LabRecord>> Store::listLabs(const std::string& cohort) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  std::vector<LabRecord> out;
  std::string sql = std::string("SELECT ") + kLabColumns + " FROM labs ";
  if (!cohort.empty()) {
    Status s = requireCohort(db, cohort);
    if (!s) return s;
    sql += "WHERE cohort = ? ";
  }
  sql += "ORDER BY cohort, lab_id";
  auto st = db.prepare(sql);
  if (!st) return st.status();
  if (!cohort.empty()) st->bind(1, cohort);
  for (;;) {
    auto row = st->step();
    if (!row) return row.status();
    if (!*row) break;
    out.push_back(readLab(*st));
  }
  return out;
}

Result<LabRecord> Store::getLab(const std::string& labId) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  auto st = db.prepare(std::string("SELECT ") + kLabColumns + " FROM labs WHERE lab_id = ?");
  if (!st) return st.status();
  st->bind(1, labId);
  auto row = st->step();
  if (!row) return row.status();
  if (!*row) return labNotFound(labId);
  return readLab(*st);
}

Result<std::vector<std::string>> Store::labIdsOfCohort(const std::string& cohort) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  Status s = requireCohort(db, cohort);
  if (!s) return s;
  auto st = db.prepare("SELECT lab_id FROM labs WHERE cohort = ? ORDER BY lab_id");
  if (!st) return st.status();
  st->bind(1, cohort);
  std::vector<std::string> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.status();
    if (!*row) break;
    out.push_back(st->text(0));
  }
  return out;
}

Status Store::setDesired(const std::vector<std::string>& labIds, DesiredState desired) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kDurableWrite);
  if (!tx) return tx.status();
  auto check = db.prepare("SELECT removed, cohort FROM labs WHERE lab_id = ?");
  if (!check) return check.status();
  // Wanting a lab running again drops the reason the daemon stopped it for.
  auto st = db.prepare(
      "UPDATE labs SET desired = ?1, updated_at = ?2, "
      "stop_reason = CASE WHEN ?1 = 'running' THEN '' ELSE stop_reason END WHERE lab_id = ?3 AND desired <> ?1");
  if (!st) return st.status();
  const char* name = desiredStateName(desired);
  const int64_t now = impl_->now();
  std::set<std::string> cohorts;  // told to the other daemons
  for (const auto& id : labIds) {
    check->bind(1, id);
    auto row = check->step();
    if (!row) return row.status();
    if (!*row) return labNotFound(id);
    if (check->int64(0) != 0 && desired != DesiredState::kAbsent)
      return conflictError("lab " + id + " was removed from its cohort by an apply; it can only be destroyed");
    cohorts.insert(check->text(1));
    check->reset();
    Status s = st->bind(1, name).bind(2, now).bind(3, id).run();
    if (!s) return s;
    st->reset();
  }
  for (const auto& c : cohorts) {
    Status s = impl_->notifyChange(c);
    if (!s) return s;
  }
  return tx->commit();
}

Status Store::recordQueue(const std::vector<QueueEntry>& waiting) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kWrite);
  if (!tx) return tx.status();
  if (Status f = impl_->checkFence(); !f) return f;
  std::set<std::string> listed;
  for (const auto& w : waiting) listed.insert(w.labId);
  auto current = db.prepare("SELECT lab_id FROM labs WHERE queue_position <> 0");
  if (!current) return current.status();
  std::vector<std::string> clear;
  for (;;) {
    auto row = current->step();
    if (!row) return row.status();
    if (!*row) break;
    if (!listed.count(current->text(0))) clear.push_back(current->text(0));
  }
  auto cl = db.prepare(
      "UPDATE labs SET queue_position = 0, queue_reason = '', queued_at = 0, queue_eta = 0 WHERE lab_id = ?");
  if (!cl) return cl.status();
  for (const auto& id : clear) {
    Status s = cl->bind(1, id).run();
    if (!s) return s;
    cl->reset();
  }
  auto set = db.prepare(
      "UPDATE labs SET queue_position = ?2, queue_reason = ?3, queue_eta = ?4, "
      "queued_at = CASE WHEN queued_at = 0 THEN ?5 ELSE queued_at END WHERE lab_id = ?1");
  if (!set) return set.status();
  const int64_t now = impl_->now();
  for (const auto& w : waiting) {
    Status s = set->bind(1, w.labId).bind(2, w.position).bind(3, w.reason).bind(4, w.eta).bind(5, now).run();
    if (!s) return s;
    set->reset();
  }
  return tx->commit();
}

Status Store::stopWithReason(const std::vector<std::string>& labIds, const std::string& reason) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kDurableWrite);
  if (!tx) return tx.status();
  if (Status f = impl_->checkFence(); !f) return f;
  auto st = db.prepare(
      "UPDATE labs SET desired = 'stopped', stop_reason = ?2, updated_at = ?3 WHERE lab_id = ?1");
  if (!st) return st.status();
  const int64_t now = impl_->now();
  for (const auto& id : labIds) {
    Status s = st->bind(1, id).bind(2, reason).bind(3, now).run();
    if (!s) return s;
    if (db.changes() == 0) return labNotFound(id);
    st->reset();
  }
  return tx->commit();
}

Status Store::recordActivity(const std::string& labId, int64_t lastActiveAt) {
  // ?1 (now) is left unused: activity is not a change of the lab's record.
  return updateLab(*impl_, labId, "UPDATE labs SET last_active_at = ?2 WHERE lab_id = ?3",
                   [&](sql::Stmt& st) {
                     st.bind(2, lastActiveAt);
                     return 2;
                   });
}

Status Store::recordObserved(const std::string& labId, LabPhase phase, const std::string& resourceId,
                             const std::string& endpointsJson, int64_t generation) {
  return updateLab(*impl_, labId,
                   "UPDATE labs SET updated_at = ?, phase = ?, resource_id = ?, endpoints_json = ?, "
                   "observed_generation = ? WHERE lab_id = ?",
                   [&](sql::Stmt& st) {
                     st.bind(2, labPhaseName(phase)).bind(3, resourceId);
                     st.bind(4, endpointsJson.empty() ? std::string("[]") : endpointsJson).bind(5, generation);
                     return 5;
                   });
}

Status Store::recordError(const std::string& labId, const Status& error) {
  if (error.isOk()) return invalidError("recordError(" + labId + ") with an ok status");
  return updateLab(*impl_, labId,
                   "UPDATE labs SET updated_at = ?, error_code = ?, error_message = ?, attempts = attempts + 1 "
                   "WHERE lab_id = ?",
                   [&](sql::Stmt& st) {
                     st.bind(2, codeName(error.code())).bind(3, error.message());
                     return 3;
                   });
}

Status Store::clearError(const std::string& labId) {
  return updateLab(*impl_, labId,
                   "UPDATE labs SET updated_at = ?, error_code = '', error_message = '', attempts = 0 "
                   "WHERE lab_id = ?",
                   [](sql::Stmt&) { return 1; });
}

Status Store::markReady(const std::string& labId, Clock::TimePoint at) {
  return updateLab(*impl_, labId,
                   "UPDATE labs SET updated_at = ?, phase = 'ready', ready_at = ?, error_code = '', "
                   "error_message = '', attempts = 0 WHERE lab_id = ?",
                   [&](sql::Stmt& st) {
                     st.bind(2, toUnixSeconds(at));
                     return 2;
                   });
}

Status Store::markDestroyed(const std::string& labId) {
  return updateLab(*impl_, labId,
                   "UPDATE labs SET updated_at = ?, phase = 'destroyed', resource_id = '', endpoints_json = '[]', "
                   "observed_generation = 0, ready_at = 0 WHERE lab_id = ?",
                   [](sql::Stmt&) { return 1; });
}

Status Store::forgetLab(const std::string& labId) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kWrite);
  if (!tx) return tx.status();
  if (Status f = impl_->checkFence(); !f) return f;
  auto st = db.prepare(std::string("SELECT cohort, trainee, phase, ") + kLabGoneSql +
                       " FROM labs l WHERE lab_id = ?");
  if (!st) return st.status();
  st->bind(1, labId);
  auto row = st->step();
  if (!row) return row.status();
  if (!*row) return labNotFound(labId);
  const std::string cohort = st->text(0), trainee = st->text(1), phase = st->text(2);
  const bool gone = st->int64(3) != 0;
  st->reset();
  if (!gone)
    return conflictError("lab " + labId + " is " + phase + ", not destroyed; destroy it before forgetting it");
  {
    auto del = db.prepare("DELETE FROM labs WHERE lab_id = ?");
    if (!del) return del.status();
    Status s = del->bind(1, labId).run();
    if (!s) return s;
  }
  // The trainee's credentials were for this lab; if the trainee has no other
  // lab in the cohort they are of no more use.
  auto other = db.prepare("SELECT 1 FROM labs WHERE cohort = ? AND trainee = ?");
  if (!other) return other.status();
  other->bind(1, cohort).bind(2, trainee);
  auto more = other->step();
  if (!more) return more.status();
  if (!*more) {
    auto del = db.prepare("DELETE FROM credentials WHERE cohort = ? AND trainee = ?");
    if (!del) return del.status();
    Status s = del->bind(1, cohort).bind(2, trainee).run();
    if (!s) return s;
  }
  return tx->commit();
}

// ---- operations journal


namespace {

constexpr const char* kOperationColumns =
    "id, lab_id, action, detail, status, error_code, error_message, started_at, finished_at, term";

OperationRecord readOperation(const sql::Stmt& st) {
  OperationRecord o;
  o.id = st.int64(0);
  o.labId = st.text(1);
  o.action = st.text(2);
  o.detail = st.text(3);
  std::string status = st.text(4);
  o.status = status == "pending" ? OperationStatus::kPending
             : status == "ok"    ? OperationStatus::kOk
                                 : OperationStatus::kFailed;
  o.error = statusFrom(st.text(5), st.text(6));
  o.startedAt = st.int64(7);
  o.finishedAt = st.int64(8);
  o.term = st.int64(9);
  return o;
}

Result<std::vector<OperationRecord>> readOperations(sql::Stmt& st) {
  std::vector<OperationRecord> out;
  for (;;) {
    auto row = st.step();
    if (!row) return row.status();
    if (!*row) break;
    out.push_back(readOperation(st));
  }
  return out;
}

}  // namespace

Result<int64_t> Store::beginOperation(const std::string& labId, const std::string& action,
                                      const std::string& detail) {
  if (action.empty()) return invalidError("an operation needs an action");
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kDurableWrite);
  if (!tx) return tx.status();
  // The fence is checked here, before every provider call: a daemon that
  // lost the lead never acts on a provider again.
  if (Status f = impl_->checkFence(); !f) return f;
  auto st = db.prepare(
      "INSERT INTO operations(lab_id, action, detail, status, started_at, term) VALUES(?, ?, ?, 'pending', ?, ?) "
      "RETURNING id");
  if (!st) return st.status();
  st->bind(1, labId).bind(2, action).bind(3, detail).bind(4, impl_->now()).bind(5, std::max<int64_t>(impl_->fence.load(), 0));
  auto row = st->step();
  if (!row) return row.status();
  if (!*row) return internalError(db.where() + ": no id for the new operation");
  const int64_t id = st->int64(0);
  st->reset();
  // Durable: the intent is on disk once COMMIT returns.
  Status s = tx->commit();
  if (!s) return s;
  return id;
}

Status Store::endOperation(int64_t id, const Status& outcome) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kWrite);
  if (!tx) return tx.status();
  if (Status f = impl_->checkFence(); !f) return f;
  auto cur = db.prepare("SELECT status FROM operations WHERE id = ?");
  if (!cur) return cur.status();
  cur->bind(1, id);
  auto row = cur->step();
  if (!row) return row.status();
  if (!*row) return notFoundError("no operation " + std::to_string(id) + " in the journal");
  if (cur->text(0) != "pending")
    return conflictError("operation " + std::to_string(id) + " has ended already (" + cur->text(0) + ")");
  cur->reset();
  auto st = db.prepare(
      "UPDATE operations SET status = ?, error_code = ?, error_message = ?, finished_at = ? WHERE id = ?");
  if (!st) return st.status();
  Status s = st->bind(1, outcome.isOk() ? "ok" : "failed")
                 .bind(2, codeText(outcome))
                 .bind(3, outcome.message())
                 .bind(4, impl_->now())
                 .bind(5, id)
                 .run();
  if (!s) return s;
  return tx->commit();
}

Result<std::vector<OperationRecord>> Store::listOperations(const std::string& labId, int limit) {
  if (limit <= 0) return std::vector<OperationRecord>{};
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  // The newest `limit`, then returned oldest first.
  std::string sql = std::string("SELECT * FROM (SELECT ") + kOperationColumns + " FROM operations " +
                    (labId.empty() ? "" : "WHERE lab_id = ?2 ") + "ORDER BY id DESC LIMIT ?1) AS recent ORDER BY id";
  auto st = db.prepare(sql);
  if (!st) return st.status();
  st->bind(1, static_cast<int64_t>(limit));
  if (!labId.empty()) st->bind(2, labId);
  return readOperations(*st);
}

Result<std::vector<OperationRecord>> Store::listPendingOperations() {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  auto st = db.prepare(std::string("SELECT ") + kOperationColumns +
                       " FROM operations WHERE status = 'pending' ORDER BY id");
  if (!st) return st.status();
  return readOperations(*st);
}

}  // namespace darasa
