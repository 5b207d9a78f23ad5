// The records darasa's state keeps (templates, cohorts, labs, the journal,
// credentials without secrets, audit rows, API tokens, usage intervals) and
// what an apply hands the store and gets back: plain value types shared by
// the state (which stores them), the rules and services (which read them)
// and the API (which shows them). Not synchronised.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "provisioner/cohort.h"
#include "provisioner/model.h"
#include "provisioner/status.h"

namespace darasa {

struct TemplateRecord {
  std::string name;
  std::string json;        // the template as parsed, canonical JSON
  std::string hash;        // of json; equal hash = same template
  std::string sourceFile;  // where it was applied from ("" if unknown)
  int64_t appliedAt = 0;   // Unix seconds of the last change
};

struct CohortRecord {
  std::string name;
  int64_t generation = 0;     // 1 on first apply, +1 on every changed apply
  std::string templateName;
  std::string snapshotJson;   // the frozen template snapshot the labs are cut from
  std::string snapshotHash;
  std::string specJson;       // the cohort spec (schedule, quota, ...)
  std::string provider;
  int64_t createdAt = 0;
  int64_t updatedAt = 0;
};

struct LabRecord {
  std::string labId;
  std::string cohort;
  std::string trainee;
  // The cohort generation at which this lab's spec last changed (not bumped
  // when only other labs changed, so that an unrelated roster change does
  // not make every lab look outdated).
  int64_t generation = 0;
  // The generation the provider's resource was made from; 0 when there is none.
  int64_t observedGeneration = 0;
  DesiredState desired = DesiredState::kAbsent;
  LabPhase phase = LabPhase::kPending;
  // No longer in the cohort (its trainee left the roster, or its id is not
  // rendered any more): desired is kAbsent and only destroy and forgetLab
  // remain; setDesired refuses to bring it back.
  bool removed = false;
  std::string provider;
  std::string resourceId;            // the provider's id; "" when none
  std::string endpointsJson = "[]";  // as recorded by recordObserved
  std::string specJson;              // as passed to applyCohort
  Status lastError;                  // ok when none
  int attempts = 0;                  // errors since the last clearError/markReady
  int64_t readyAt = 0;               // 0 when not ready
  int64_t updatedAt = 0;
  // Admission queue: set while the lab is wanted running but waits for
  // capacity (recordQueue); position 0 = not waiting.
  int queuePosition = 0;
  std::string queueReason;  // "provider local is full: ..."
  int64_t queuedAt = 0;     // since when it waits (Unix seconds)
  int64_t queueEta = 0;     // estimated ready time (Unix seconds); 0 = unknown
  // Why the daemon stopped the lab on its own (lab-hours or budget quota
  // spent, idle), "" otherwise; cleared when the lab is wanted running again.
  std::string stopReason;
  int64_t lastActiveAt = 0;  // last activity the provider reported (Unix seconds); 0 = unknown
};

// A lab waiting in the admission queue (Store::recordQueue).
struct QueueEntry {
  std::string labId;
  int position = 0;  // 1-based, in the fair order
  std::string reason;
  int64_t eta = 0;  // estimated ready time, Unix seconds; 0 = unknown
};

// One lab of a cohort as the caller rendered it.
struct LabApply {
  std::string labId;     // "<cohort>.<trainee>"
  std::string trainee;   // must be one of CohortApply::trainees
  // Compared byte for byte with the stored spec to decide whether the lab
  // changed: render it without the generation (and in a stable key order).
  std::string specJson;
};

struct CohortApply {
  std::string name;
  std::string templateName;
  std::string snapshotJson;
  std::string snapshotHash;
  std::string cohortSpecJson;
  std::string provider;
  std::vector<Trainee> trainees;  // the roster, in roster order
  std::vector<LabApply> labs;
};

// What an apply did (or, from previewApply, would do).
struct ApplyOutcome {
  int64_t generation = 0;  // the cohort's generation after the apply
  bool created = false;    // the cohort was not in the state before
  bool changed = false;    // anything below differs: a new generation
  std::vector<std::string> addedTrainees;    // ids, roster order
  std::vector<std::string> removedTrainees;  // ids, sorted
  std::vector<std::string> updatedTrainees;  // same id, new name or email
  std::vector<std::string> addedLabs;        // new rows, or removed labs listed again
  std::vector<std::string> changedLabs;      // kept labs whose spec changed
  std::vector<std::string> removedLabs;      // labs no longer listed (now desired absent, removed)
  bool templateChanged = false;  // template name or snapshot hash
  bool specChanged = false;      // cohort spec JSON or provider
};

enum class OperationStatus { kPending, kOk, kFailed };
const char* operationStatusName(OperationStatus s);  // "pending", "ok", "failed"

struct OperationRecord {
  int64_t id = 0;  // increasing: the journal's order
  std::string labId;
  std::string action;  // "create", "destroy", ...
  std::string detail;
  OperationStatus status = OperationStatus::kPending;
  Status error;  // the failure, when status is kFailed
  int64_t startedAt = 0;
  int64_t finishedAt = 0;  // 0 while pending
  int64_t term = 0;        // the leader term it was begun under (0: no daemon)
};

// Stored credentials without their secrets.
struct CredentialRecord {
  std::string cohort;
  std::string trainee;
  std::string user;
  std::string publicKey;
  int64_t createdAt = 0;
};

struct AuditRecord {
  int64_t id = 0;  // increasing
  int64_t at = 0;  // Unix seconds
  std::string actor;    // "cli:alice", "token:ci", ...
  std::string action;   // "read-credentials", ...
  std::string subject;  // "<cohort>/<trainee>", a cohort, ...
  std::string detail;
};

// Empty fields match everything.
struct AuditFilter {
  std::string actor;
  std::string action;
  std::string subjectPrefix;  // "demo/" = everything about cohort demo
  int64_t since = 0;          // Unix seconds, inclusive
};

// An API token as stored: never the token itself, only its SHA-256.
enum class TokenRole { kAdmin, kInstructor, kTrainee };
const char* tokenRoleName(TokenRole r);  // "admin", "instructor", "trainee"
std::optional<TokenRole> tokenRoleFromName(const std::string& s);

struct TokenRecord {
  std::string id;        // public id, e.g. "tok_5f3a9c21d0e4" (shown in lists, used to revoke)
  TokenRole role = TokenRole::kTrainee;
  std::string cohort;    // instructor: the cohort it may manage ("" = none); trainee: their cohort
  std::string trainee;   // trainee: their id; "" otherwise
  std::string name;      // a note for people ("ci", "alice's laptop")
  int64_t createdAt = 0;
  int64_t expiresAt = 0;  // 0 = never
  int64_t revokedAt = 0;  // 0 = not revoked
  int64_t lastUsedAt = 0; // 0 = never
};

// One interval of one lab in one state. Times are Unix seconds; endedAt 0
// while the interval is still open (the lab is in that state now).
struct UsageInterval {
  int64_t id = 0;
  std::string labId;
  std::string cohort;
  std::string trainee;
  std::string provider;
  bool running = true;  // false: stopped (kept, not billed for CPU/memory)
  int64_t startedAt = 0;
  int64_t endedAt = 0;
  int64_t cpuMillis = 0;    // resources the lab held while running
  int64_t memoryBytes = 0;
  bool operator==(const UsageInterval&) const = default;
};

// ---- typed views of the stored JSON (each parse of a stored spec is here)

// The cohort's spec as stored; kInternal naming the cohort when it does not
// read back (a damaged or hand-edited state).
Result<CohortSpec> cohortSpecOf(const CohortRecord& cohort);
// The lab's spec, stamped with the lab's generation (spec.generation and
// its darasa.generation label); kInternal naming the lab when it does not
// read back.
Result<LabSpec> labSpecOf(const LabRecord& lab);
// The stored form of a lab's spec: its JSON without the generation, so that
// an unchanged lab compares equal across applies (labSpecOf reads it back).
std::string labSpecForStore(const LabSpec& spec);

inline const std::string& recordKey(const LabRecord& lab) { return lab.labId; }
inline const std::string& recordKey(const CohortRecord& cohort) { return cohort.name; }

// Parses each record's stored spec once per (spec text, generation) and
// hands out copies: the daemon looks at the same labs and cohorts every
// tick. Thread-safe.
template <typename Record, typename Spec, Result<Spec> (*Parse)(const Record&)>
class SpecCache {
 public:
  Result<Spec> get(const Record& record) {
    std::lock_guard lk(mu_);
    auto it = cache_.find(recordKey(record));
    if (it == cache_.end() || it->second.text != record.specJson || it->second.generation != record.generation) {
      auto parsed = Parse(record);
      if (!parsed) return parsed.status();
      it = cache_.insert_or_assign(recordKey(record), Entry{record.specJson, record.generation, std::move(parsed.value())})
               .first;
    }
    return it->second.spec;
  }
  // Forgets the records not in `keep` (a long-running daemon drops the
  // specs of labs and cohorts that are gone).
  void retain(const std::vector<Record>& keep) {
    std::set<std::string> keys;
    for (const auto& r : keep) keys.insert(recordKey(r));
    std::lock_guard lk(mu_);
    std::erase_if(cache_, [&](const auto& kv) { return !keys.count(kv.first); });
  }

 private:
  struct Entry {
    std::string text;
    int64_t generation = 0;
    Spec spec;
  };
  std::mutex mu_;
  std::map<std::string, Entry> cache_;
};
using LabSpecCache = SpecCache<LabRecord, LabSpec, labSpecOf>;
using CohortSpecCache = SpecCache<CohortRecord, CohortSpec, cohortSpecOf>;

}  // namespace darasa
