// The usage ledger's reads. Its writes are the database's own: the triggers
// of schema migration 3 (store.cpp) keep usage_intervals in step with every
// phase change of a lab, in the same transaction, so that no code path that
// changes a phase can forget to meter it.
#include "provisioner/store.h"
#include "store_impl.h"

namespace darasa {
using sql::Db;
using sql::Tx;

Result<std::vector<UsageInterval>> Store::listUsage(const std::string& cohort, int64_t from, int64_t to) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  std::string sql =
      "SELECT id, lab_id, cohort, trainee, provider, state, started_at, coalesce(ended_at, 0), cpu_millis, "
      "memory_bytes FROM usage_intervals WHERE started_at < ?1 AND (ended_at IS NULL OR ended_at > ?2)";
  if (!cohort.empty()) sql += " AND cohort = ?3";
  sql += " ORDER BY started_at, id";
  auto st = db.prepare(sql);
  if (!st) return st.status();
  st->bind(1, to).bind(2, from);
  if (!cohort.empty()) st->bind(3, cohort);
  std::vector<UsageInterval> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.status();
    if (!*row) break;
    UsageInterval u;
    u.id = st->int64(0);
    u.labId = st->text(1);
    u.cohort = st->text(2);
    u.trainee = st->text(3);
    u.provider = st->text(4);
    u.running = st->text(5) == "running";
    u.startedAt = st->int64(6);
    u.endedAt = st->int64(7);
    u.cpuMillis = st->int64(8);
    u.memoryBytes = st->int64(9);
    out.push_back(std::move(u));
  }
  return out;
}

}  // namespace darasa
