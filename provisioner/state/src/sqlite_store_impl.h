// Store::Impl, shared by the store*.cpp files: the connection, the mutex
// that serialises it, the clock, and the lazily opened Vault.
// Every member is used with `mu` held.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "provisioner/store.h"
#include "sqlite.h"

namespace darasa {

struct Store::Impl {
  Impl(std::filesystem::path d, const Clock& c, sqlite::Db database)
      : dir(std::move(d)), clock(c), db(std::move(database)) {}

  std::filesystem::path dir;
  const Clock& clock;
  std::mutex mu;
  sqlite::Db db;
  std::optional<Vault> vault;  // opened on first credential use

  int64_t now() const { return toUnixSeconds(clock.now()); }
  // The vault for <dir>/vault.key; refuses to make a new key while the state
  // holds credentials encrypted with a key that is gone.
  Result<const Vault*> openVault();
};

namespace store_detail {

// "a, b, c" or "(none)".
std::string joinNames(const std::vector<std::string>& names, size_t max = 20);

// The names in `sql` (a one-column query), for "known: ..." messages.
std::vector<std::string> queryNames(sqlite::Db& db, std::string_view sql);

// kNotFound "no cohort "x" in the state (known: a, b)" unless the cohort exists.
Status requireCohort(sqlite::Db& db, const std::string& cohort);

// Column list and reader for LabRecord, shared by the lab queries.
extern const char* const kLabColumns;
LabRecord readLab(const sqlite::Stmt& stmt);
// SQL condition (over `labs l`) for a lab that is gone: destroyed, or never
// made (pending, no resource, no provider call in flight). forgetLab and
// deleteCohort both need exactly this rule.
extern const char* const kLabGoneSql;

std::string codeText(const Status& s);  // "" for ok, else codeName
Status statusFrom(const std::string& code, const std::string& message);

}  // namespace store_detail
}  // namespace darasa
