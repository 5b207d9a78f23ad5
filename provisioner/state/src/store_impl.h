// Store::Impl, shared by the store*.cpp files: the connection (either
// backend), the mutex that serialises it, the clock, the lazily opened
// Vault and the leader term the store writes under.
// Every member is used with `mu` held.
#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "db.h"
#include "provisioner/store.h"

namespace darasa {

struct Store::Impl {
  Impl(StateLocation loc, const Clock& c, std::unique_ptr<sql::Db> database)
      : location(std::move(loc)), clock(c), db(std::move(database)) {
    if (location.keyFile.empty()) location.keyFile = location.dir / "vault.key";
  }

  StateLocation location;  // keyFile filled in
  const Clock& clock;
  std::mutex mu;
  std::unique_ptr<sql::Db> db;
  std::optional<Vault> vault;       // opened on first credential use
  std::atomic<int64_t> fence{0};    // see Store::setFence
  std::optional<std::string> instanceId;  // once known

  int64_t now() const { return toUnixSeconds(clock.now()); }
  // The vault for the key file; refuses to make a new key while the state
  // holds credentials encrypted with a key that is gone.
  Result<const Vault*> openVault();
  // For a leader-only write, inside its transaction: ok when no fence is
  // set or the fence's term still leads; else kConflict (write nothing).
  Status checkFence();
  // Tells the other daemons of the state (PostgreSQL NOTIFY, delivered at
  // commit) that `cohort` changed; nothing on SQLite (one daemon).
  Status notifyChange(const std::string& cohort);
};

namespace store_detail {

// "a, b, c" or "(none)".
std::string joinNames(const std::vector<std::string>& names, size_t max = 20);

// The names in `sql` (a one-column query), for "known: ..." messages.
std::vector<std::string> queryNames(sql::Db& db, std::string_view sql);

// kNotFound "no cohort "x" in the state (known: a, b)" unless the cohort exists.
Status requireCohort(sql::Db& db, const std::string& cohort);

// Column list and reader for LabRecord, shared by the lab queries.
extern const char* const kLabColumns;
LabRecord readLab(const sql::Stmt& stmt);
// SQL condition (over `labs l`) for a lab that is gone: destroyed, or never
// made (pending, no resource, no provider call in flight). forgetLab and
// deleteCohort both need exactly this rule.
extern const char* const kLabGoneSql;

std::string codeText(const Status& s);  // "" for ok, else codeName
Status statusFrom(const std::string& code, const std::string& message);

}  // namespace store_detail
}  // namespace darasa
