// Store: darasa's state (templates, cohorts, trainees, labs, the operations
// journal, encrypted credentials, the audit log) in one database: SQLite
// (<state dir>/darasa.db, WAL mode; the default) or PostgreSQL (a URL; for
// several daemons on one state, see leadership.h). Both run the same code
// and SQL over a small connection interface (src/db.h), with one migration
// history (src/migrations.cpp). Thread-safe: one connection behind a
// mutex, every public method is one transaction. Several processes may open
// the same state; writers wait for each other (SQLite's busy timeout, a
// PostgreSQL advisory lock), they never fail with "database is locked" in
// normal use. Durability: intents, applies, desired states, credentials and
// audit rows are on disk before the call returns; observations (phase,
// errors, endpoints) survive a crash of the process but maybe not a power
// cut (the reconciler observes again anyway).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "provisioner/clock.h"
#include "provisioner/model.h"
#include "provisioner/records.h"
#include "provisioner/status.h"
#include "provisioner/usage.h"
#include "provisioner/vault.h"

namespace darasa {

// $DARASA_HOME, else $XDG_DATA_HOME/darasa, else ~/.local/share/darasa.
std::filesystem::path defaultStateDir();

// Where a state lives.
struct StateLocation {
  // The state directory: SQLite's darasa.db, vault.key (unless keyFile),
  // instance-id, the state lock, the local provider's labs.
  std::filesystem::path dir;
  // "" = SQLite in dir; "postgresql://..." (or "postgres://...", libpq's URL
  // or key=value forms after the scheme) = that database.
  std::string url;
  // The credentials key; "" = <dir>/vault.key. Every daemon of one
  // PostgreSQL state needs the same key (a file or a mounted secret).
  std::filesystem::path keyFile;
};

// A --state value: a PostgreSQL URL (dir stays defaultDir) or a directory.
StateLocation parseStateLocation(const std::string& value, const std::filesystem::path& defaultDir);

// Who leads the daemons of a state (one row; term 0: nobody ever did).
struct LeaderRecord {
  int64_t term = 0;
  std::string daemon;  // the leader's id ("host:pid")
  std::string url;     // its API
  int64_t since = 0;   // Unix seconds
};

enum class OpenMode {
  kCreate,     // create the directory and the database if missing
  kMustExist,  // missing → kNotFound (read-only commands: status, creds, ...)
};

class Store {
 public:
  static constexpr int kSchemaVersion = 4;  // the newest schema this binary knows

  // Opens (kCreate: creates) the state in dir and brings its schema up to
  // date. Errors, all naming the file and never modifying it:
  // kNotFound (kMustExist and no state), kInternal (not a database, corrupt,
  // truncated), kNotSupported (a schema newer than this binary), kDenied.
  // `clock` gives every recorded time and must outlive the Store.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& dir, OpenMode mode,
                                             const Clock& clock = SystemClock::instance());
  // The same for either backend. PostgreSQL: kUnavailable when the server
  // cannot be reached, kDenied when it refuses the login, kInvalid for a
  // database holding some other program's tables; kMustExist and no darasa
  // schema there → kNotFound.
  static Result<std::unique_ptr<Store>> open(const StateLocation& location, OpenMode mode,
                                             const Clock& clock = SystemClock::instance());
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::filesystem::path& dir() const;
  std::filesystem::path databaseFile() const;  // <dir>/darasa.db (SQLite)
  std::filesystem::path keyFile() const;       // made on first credential use
  const char* backend() const;                 // "sqlite" or "postgresql"
  // The database file, or the URL without its password: for messages.
  std::string location() const;

  // The state's random id (16 hex digits), which labels every lab it
  // makes: kept in <dir>/instance-id for SQLite, in the database for
  // PostgreSQL (every daemon of the state must agree). Made on first use.
  Result<std::string> instanceId();

  // --- several daemons (leadership.h)
  // The leader term this store's leader-only writes carry: the journal
  // (beginOperation, endOperation), observations (record*, mark*,
  // forgetLab) and the admission queue. When set (> 0) each of them checks,
  // in its own transaction, that the term still leads (on PostgreSQL: that
  // this daemon's connection still holds the leader lock) and is refused
  // with kConflict otherwise, changing nothing: a late write of a deposed
  // leader is recognised and ignored. kFenced: refuse them all (a daemon
  // that is not leading). 0 (the default): no check, for a process that
  // holds the state lock.
  static constexpr int64_t kFenced = -1;
  void setFence(int64_t term);
  int64_t fence() const;
  Result<LeaderRecord> leader();

  // --- templates
  // Stores or replaces a template; returns whether it changed (a different
  // hash). appliedAt is set from the clock when it changed.
  Result<bool> putTemplate(const TemplateRecord& record);
  // kNotFound naming the known templates.
  Result<TemplateRecord> getTemplate(const std::string& name);
  Result<std::vector<TemplateRecord>> listTemplates();  // by name

  // --- cohorts
  // Stores a cohort with its roster and rendered labs in one transaction.
  // Unchanged content → nothing written, same generation. Otherwise the
  // generation goes up by one; labs of new trainees are inserted with desired
  // kAbsent and phase kPending (`up` or the schedule sets them running);
  // kept labs whose spec changed get the new spec and generation; labs that
  // are no longer listed get desired kAbsent and `removed` (their rows stay
  // until they are destroyed and forgotten); a removed lab listed again is
  // un-removed (its desired state stays kAbsent). A change of roster order
  // alone is not a change. kInvalid for a malformed apply (empty name or
  // ids, duplicate ids, a lab of an unknown trainee); kConflict if a lab id
  // belongs to another cohort.
  Result<ApplyOutcome> applyCohort(const CohortApply& apply);
  // What applyCohort would do, without writing anything.
  Result<ApplyOutcome> previewApply(const CohortApply& apply);
  // kNotFound naming the known cohorts.
  Result<CohortRecord> getCohort(const std::string& name);
  Result<std::vector<CohortRecord>> listCohorts();  // by name
  // Removes the cohort, its roster, labs and credentials (the journal and
  // the audit log keep their rows). kConflict while any lab is not
  // destroyed; kNotFound if unknown.
  Status deleteCohort(const std::string& name);
  Result<std::vector<Trainee>> listTrainees(const std::string& cohort);  // roster order

  // --- labs
  // All labs ("" = every cohort), by cohort then lab id; kNotFound for an
  // unknown cohort.
  Result<std::vector<LabRecord>> listLabs(const std::string& cohort = "");
  Result<LabRecord> getLab(const std::string& labId);
  Result<std::vector<std::string>> labIdsOfCohort(const std::string& cohort);
  // All or nothing: kNotFound (nothing changed) if any id is unknown;
  // kConflict for running/stopped on a removed lab.
  Status setDesired(const std::vector<std::string>& labIds, DesiredState desired);
  // The admission queue as the daemon decided it: exactly the labs listed
  // wait (their queuedAt is kept if they waited already, else now); every
  // other lab's queue fields are cleared. One transaction.
  Status recordQueue(const std::vector<QueueEntry>& waiting);
  // Wants the labs stopped and records why (quota spent, idle), in one
  // transaction; kNotFound (nothing changed) if any id is unknown. A later
  // setDesired(running) clears the reason.
  Status stopWithReason(const std::vector<std::string>& labIds, const std::string& reason);
  // The last activity the provider reported for the lab (Unix seconds).
  Status recordActivity(const std::string& labId, int64_t lastActiveAt);
  // What the provider reported: phase, its resource id, the endpoints (JSON
  // array) and the generation the resource was made from.
  Status recordObserved(const std::string& labId, LabPhase phase, const std::string& resourceId,
                        const std::string& endpointsJson, int64_t generation);
  // Keeps the error's code and message and counts an attempt. `error` must not be ok.
  Status recordError(const std::string& labId, const Status& error);
  Status clearError(const std::string& labId);  // no error, attempts 0
  // Phase kReady at `at`; clears the error and the attempts.
  Status markReady(const std::string& labId, Clock::TimePoint at);
  // Phase kDestroyed, no resource, no endpoints, observed generation 0.
  // Credentials are kept (a lab re-created later can hand out the same ones).
  Status markDestroyed(const std::string& labId);
  // Deletes the lab's row and its trainee's credentials. kConflict unless the
  // lab is gone (destroyed, or pending with no resource and no pending
  // operation); kNotFound if unknown.
  Status forgetLab(const std::string& labId);

  // --- operations journal
  // Writes an intent row (status pending) and commits it to disk before
  // returning: call it before asking a provider to act.
  Result<int64_t> beginOperation(const std::string& labId, const std::string& action,
                                 const std::string& detail = "");
  // Ends an operation: ok outcome → kOk, else kFailed with its code and
  // message. kNotFound for an unknown id, kConflict if it ended already.
  Status endOperation(int64_t id, const Status& outcome);
  // The `limit` most recent operations ("" = of every lab), oldest first.
  Result<std::vector<OperationRecord>> listOperations(const std::string& labId = "", int limit = 100);
  // Operations begun and never ended, oldest first: after a crash, the
  // provider calls whose outcome is unknown.
  Result<std::vector<OperationRecord>> listPendingOperations();

  // --- credentials (password and private key encrypted with the Vault)
  // Stores or replaces a trainee's credentials. kNotFound if the cohort or
  // the trainee is unknown.
  Status putCredentials(const std::string& cohort, const std::string& trainee,
                        const CredentialSet& credentials);
  // Decrypts a trainee's credentials and appends an audit row (action
  // "read-credentials", subject "<cohort>/<trainee>") in the same
  // transaction; failed reads (not found, cannot decrypt) are audited too.
  Result<CredentialSet> readCredentials(const std::string& cohort, const std::string& trainee,
                                        const std::string& actor);
  Result<bool> hasCredentials(const std::string& cohort, const std::string& trainee);
  // Which trainees of a cohort have credentials, without secrets (not audited).
  Result<std::vector<CredentialRecord>> listCredentials(const std::string& cohort);
  // Ok if there were none.
  Status deleteCredentials(const std::string& cohort, const std::string& trainee);

  // --- API tokens
  // Stores a token by the SHA-256 of its secret (32 bytes). kInvalid for an
  // empty id or a hash of the wrong size, kConflict for a taken id,
  // kNotFound for a trainee token of an unknown cohort/trainee or an
  // instructor token of an unknown cohort.
  Status putToken(const TokenRecord& record, const std::string& secretHash);
  // The token whose secret hashes to secretHash, revoked or expired ones
  // included (the caller decides and answers 401 without detail). kNotFound
  // if none. Updates lastUsedAt when `touch`.
  Result<TokenRecord> findTokenByHash(const std::string& secretHash, bool touch);
  Result<std::vector<TokenRecord>> listTokens();  // by creation time
  // Sets revokedAt (idempotent). kNotFound for an unknown id.
  Status revokeToken(const std::string& id);

  // --- usage ledger
  // The database keeps it itself: a trigger on every phase change of a lab
  // closes the lab's open interval and opens one for the new state —
  // running (creating, ready) or stopped; pending, failed and destroyed
  // labs hold nothing — in the same transaction as the phase, at the lab's
  // updated_at (the store's clock), with the resources of the lab's spec.
  // Intervals outlive their lab and cohort (usage is history).
  // Intervals of the cohort ("" = every cohort) that overlap [from, to)
  // (Unix seconds), ordered by start; open ones included.
  Result<std::vector<UsageInterval>> listUsage(const std::string& cohort, int64_t from, int64_t to);

  // --- audit log
  Status appendAudit(const std::string& actor, const std::string& action, const std::string& subject,
                     const std::string& detail = "");
  // The `limit` most recent matching rows, oldest first.
  Result<std::vector<AuditRecord>> listAudit(const AuditFilter& filter = {}, int limit = 100);

  struct Impl;  // defined in provisioner/state/src/store_impl.h
  Impl& impl() { return *impl_; }  // for the state library's own code (leadership, backup)

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace darasa
