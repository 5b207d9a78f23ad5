// The state's schema history for both backends (see migrations.h).
#include "migrations.h"

#include <array>

#include "provisioner/store.h"

namespace darasa::migrations {
namespace {

using schema::Migration;

// 1: templates, cohorts, trainees, labs, the operations journal,
// encrypted credentials and the audit log.
constexpr const char* kSqlite1 = R"sql(
    CREATE TABLE templates(
      name TEXT PRIMARY KEY,
      json TEXT NOT NULL,
      hash TEXT NOT NULL,
      source_file TEXT NOT NULL DEFAULT '',
      applied_at INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE cohorts(
      name TEXT PRIMARY KEY,
      generation INTEGER NOT NULL,
      template_name TEXT NOT NULL,
      snapshot_json TEXT NOT NULL,
      snapshot_hash TEXT NOT NULL,
      spec_json TEXT NOT NULL,
      provider TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE trainees(
      cohort TEXT NOT NULL REFERENCES cohorts(name) ON DELETE CASCADE,
      id TEXT NOT NULL,
      name TEXT NOT NULL,
      email TEXT NOT NULL,
      position INTEGER NOT NULL,
      PRIMARY KEY(cohort, id)
    ) STRICT, WITHOUT ROWID;

    -- Labs reference their cohort without cascade: deleteCohort checks that
    -- every lab is destroyed first.
    CREATE TABLE labs(
      lab_id TEXT PRIMARY KEY,
      cohort TEXT NOT NULL REFERENCES cohorts(name),
      trainee TEXT NOT NULL,
      generation INTEGER NOT NULL,
      observed_generation INTEGER NOT NULL DEFAULT 0,
      desired TEXT NOT NULL,
      phase TEXT NOT NULL,
      removed INTEGER NOT NULL DEFAULT 0,
      provider TEXT NOT NULL,
      resource_id TEXT NOT NULL DEFAULT '',
      endpoints_json TEXT NOT NULL DEFAULT '[]',
      spec_json TEXT NOT NULL,
      error_code TEXT NOT NULL DEFAULT '',
      error_message TEXT NOT NULL DEFAULT '',
      attempts INTEGER NOT NULL DEFAULT 0,
      ready_at INTEGER NOT NULL DEFAULT 0,
      updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX labs_by_cohort ON labs(cohort, lab_id);

    -- The journal outlives labs (history), so no foreign key to labs.
    CREATE TABLE operations(
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      lab_id TEXT NOT NULL,
      action TEXT NOT NULL,
      detail TEXT NOT NULL,
      status TEXT NOT NULL CHECK(status IN ('pending', 'ok', 'failed')),
      error_code TEXT NOT NULL DEFAULT '',
      error_message TEXT NOT NULL DEFAULT '',
      started_at INTEGER NOT NULL,
      finished_at INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE INDEX operations_by_lab ON operations(lab_id, id);
    CREATE INDEX operations_pending ON operations(id) WHERE status = 'pending';

    CREATE TABLE credentials(
      cohort TEXT NOT NULL REFERENCES cohorts(name) ON DELETE CASCADE,
      trainee TEXT NOT NULL,
      user TEXT NOT NULL,
      password_blob BLOB NOT NULL,
      password_hash TEXT NOT NULL,
      private_key_blob BLOB NOT NULL,
      public_key TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      PRIMARY KEY(cohort, trainee)
    ) STRICT;

    CREATE TABLE audit(
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      actor TEXT NOT NULL,
      action TEXT NOT NULL,
      subject TEXT NOT NULL,
      detail TEXT NOT NULL
    ) STRICT;
    CREATE INDEX audit_by_subject ON audit(subject, id);
  )sql";
constexpr const char* kPostgres1 = R"sql(
    -- Text keys compare byte-wise (COLLATE "C"), as in SQLite, so that every
    -- listing has the same order on both backends.
    CREATE TABLE darasa_schema(version BIGINT NOT NULL);
    INSERT INTO darasa_schema VALUES(0);

    CREATE TABLE templates(
      name TEXT COLLATE "C" PRIMARY KEY,
      json TEXT NOT NULL,
      hash TEXT NOT NULL,
      source_file TEXT NOT NULL DEFAULT '',
      applied_at BIGINT NOT NULL
    );

    CREATE TABLE cohorts(
      name TEXT COLLATE "C" PRIMARY KEY,
      generation BIGINT NOT NULL,
      template_name TEXT COLLATE "C" NOT NULL,
      snapshot_json TEXT NOT NULL,
      snapshot_hash TEXT NOT NULL,
      spec_json TEXT NOT NULL,
      provider TEXT COLLATE "C" NOT NULL,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL
    );

    CREATE TABLE trainees(
      cohort TEXT COLLATE "C" NOT NULL REFERENCES cohorts(name) ON DELETE CASCADE,
      id TEXT COLLATE "C" NOT NULL,
      name TEXT NOT NULL,
      email TEXT NOT NULL,
      position BIGINT NOT NULL,
      PRIMARY KEY(cohort, id)
    );

    CREATE TABLE labs(
      lab_id TEXT COLLATE "C" PRIMARY KEY,
      cohort TEXT COLLATE "C" NOT NULL REFERENCES cohorts(name),
      trainee TEXT COLLATE "C" NOT NULL,
      generation BIGINT NOT NULL,
      observed_generation BIGINT NOT NULL DEFAULT 0,
      desired TEXT NOT NULL,
      phase TEXT NOT NULL,
      removed BIGINT NOT NULL DEFAULT 0,
      provider TEXT COLLATE "C" NOT NULL,
      resource_id TEXT NOT NULL DEFAULT '',
      endpoints_json TEXT NOT NULL DEFAULT '[]',
      spec_json TEXT NOT NULL,
      error_code TEXT NOT NULL DEFAULT '',
      error_message TEXT NOT NULL DEFAULT '',
      attempts BIGINT NOT NULL DEFAULT 0,
      ready_at BIGINT NOT NULL DEFAULT 0,
      updated_at BIGINT NOT NULL
    );
    CREATE INDEX labs_by_cohort ON labs(cohort, lab_id);

    CREATE TABLE operations(
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      lab_id TEXT COLLATE "C" NOT NULL,
      action TEXT NOT NULL,
      detail TEXT NOT NULL,
      status TEXT NOT NULL CHECK(status IN ('pending', 'ok', 'failed')),
      error_code TEXT NOT NULL DEFAULT '',
      error_message TEXT NOT NULL DEFAULT '',
      started_at BIGINT NOT NULL,
      finished_at BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX operations_by_lab ON operations(lab_id, id);
    CREATE INDEX operations_pending ON operations(id) WHERE status = 'pending';

    CREATE TABLE credentials(
      cohort TEXT COLLATE "C" NOT NULL REFERENCES cohorts(name) ON DELETE CASCADE,
      trainee TEXT COLLATE "C" NOT NULL,
      "user" TEXT NOT NULL,
      password_blob BYTEA NOT NULL,
      password_hash TEXT NOT NULL,
      private_key_blob BYTEA NOT NULL,
      public_key TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      PRIMARY KEY(cohort, trainee)
    );

    CREATE TABLE audit(
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      at BIGINT NOT NULL,
      actor TEXT COLLATE "C" NOT NULL,
      action TEXT COLLATE "C" NOT NULL,
      subject TEXT COLLATE "C" NOT NULL,
      detail TEXT NOT NULL
    );
    CREATE INDEX audit_by_subject ON audit(subject, id);
  )sql";

// Version 2: API tokens, stored by the SHA-256 of their secret (UNIQUE, so
// that the lookup on every API request is one indexed read). A token goes
// with its cohort and, for a trainee token, with its trainee (the roster
// upsert in applyCohort never deletes kept trainees, so only a trainee who
// left the roster loses their tokens). cohort and trainee are NULL when
// unused, which leaves the foreign keys unchecked for admin tokens.
constexpr const char* kSqlite2 = R"sql(
    CREATE TABLE tokens(
      id TEXT PRIMARY KEY,
      secret_hash BLOB NOT NULL UNIQUE,
      role TEXT NOT NULL CHECK(role IN ('admin', 'instructor', 'trainee')),
      cohort TEXT REFERENCES cohorts(name) ON DELETE CASCADE,
      trainee TEXT,
      name TEXT NOT NULL DEFAULT '',
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL DEFAULT 0,
      revoked_at INTEGER NOT NULL DEFAULT 0,
      last_used_at INTEGER NOT NULL DEFAULT 0,
      FOREIGN KEY(cohort, trainee) REFERENCES trainees(cohort, id) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX tokens_by_trainee ON tokens(cohort, trainee);
  )sql";
constexpr const char* kPostgres2 = R"sql(
    CREATE TABLE tokens(
      id TEXT COLLATE "C" PRIMARY KEY,
      secret_hash BYTEA NOT NULL UNIQUE,
      role TEXT NOT NULL CHECK(role IN ('admin', 'instructor', 'trainee')),
      cohort TEXT COLLATE "C" REFERENCES cohorts(name) ON DELETE CASCADE,
      trainee TEXT COLLATE "C",
      name TEXT NOT NULL DEFAULT '',
      created_at BIGINT NOT NULL,
      expires_at BIGINT NOT NULL DEFAULT 0,
      revoked_at BIGINT NOT NULL DEFAULT 0,
      last_used_at BIGINT NOT NULL DEFAULT 0,
      FOREIGN KEY(cohort, trainee) REFERENCES trainees(cohort, id) ON DELETE CASCADE
    );
    CREATE INDEX tokens_by_trainee ON tokens(cohort, trainee);
  )sql";

// 3: the admission queue, stop reasons and activity on labs, and the usage
// ledger. Intervals are opened and closed by triggers on the
// labs table, so every phase change is metered in its own transaction
// whatever code made it. A phase maps to what the trainee holds: creating
// and ready → running (resources are reserved while a lab starts), stopped
// → stopped, anything else → nothing. A lab's row may be deleted (forget,
// cohort delete) only once it is gone, so its last interval is closed by
// then; the delete trigger closes a stray one at the lab's last update.
constexpr const char* kSqlite3 = R"sql(
    ALTER TABLE labs ADD COLUMN queue_position INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE labs ADD COLUMN queue_reason TEXT NOT NULL DEFAULT '';
    ALTER TABLE labs ADD COLUMN queued_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE labs ADD COLUMN queue_eta INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE labs ADD COLUMN stop_reason TEXT NOT NULL DEFAULT '';
    ALTER TABLE labs ADD COLUMN last_active_at INTEGER NOT NULL DEFAULT 0;

    CREATE TABLE usage_intervals(
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      lab_id TEXT NOT NULL,
      cohort TEXT NOT NULL,
      trainee TEXT NOT NULL,
      provider TEXT NOT NULL,
      state TEXT NOT NULL CHECK(state IN ('running', 'stopped')),
      started_at INTEGER NOT NULL,
      ended_at INTEGER,
      cpu_millis INTEGER NOT NULL,
      memory_bytes INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX usage_by_cohort ON usage_intervals(cohort, started_at);
    CREATE INDEX usage_open ON usage_intervals(lab_id) WHERE ended_at IS NULL;

    CREATE TRIGGER usage_on_phase AFTER UPDATE OF phase ON labs
    WHEN (CASE WHEN OLD.phase IN ('creating', 'ready') THEN 'running'
               WHEN OLD.phase = 'stopped' THEN 'stopped' ELSE '' END) <>
         (CASE WHEN NEW.phase IN ('creating', 'ready') THEN 'running'
               WHEN NEW.phase = 'stopped' THEN 'stopped' ELSE '' END)
    BEGIN
      UPDATE usage_intervals SET ended_at = max(started_at, NEW.updated_at)
        WHERE lab_id = NEW.lab_id AND ended_at IS NULL;
      INSERT INTO usage_intervals(lab_id, cohort, trainee, provider, state, started_at, cpu_millis, memory_bytes)
        SELECT NEW.lab_id, NEW.cohort, NEW.trainee, NEW.provider,
               CASE WHEN NEW.phase = 'stopped' THEN 'stopped' ELSE 'running' END, NEW.updated_at,
               coalesce(json_extract(NEW.spec_json, '$.resources.cpuMillis'), 0),
               coalesce(json_extract(NEW.spec_json, '$.resources.memoryBytes'), 0)
        WHERE NEW.phase IN ('creating', 'ready', 'stopped');
    END;

    CREATE TRIGGER usage_on_delete AFTER DELETE ON labs
    BEGIN
      UPDATE usage_intervals SET ended_at = max(started_at, OLD.updated_at)
        WHERE lab_id = OLD.lab_id AND ended_at IS NULL;
    END;
  )sql";
constexpr const char* kPostgres3 = R"sql(
    ALTER TABLE labs ADD COLUMN queue_position BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE labs ADD COLUMN queue_reason TEXT NOT NULL DEFAULT '';
    ALTER TABLE labs ADD COLUMN queued_at BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE labs ADD COLUMN queue_eta BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE labs ADD COLUMN stop_reason TEXT NOT NULL DEFAULT '';
    ALTER TABLE labs ADD COLUMN last_active_at BIGINT NOT NULL DEFAULT 0;

    CREATE TABLE usage_intervals(
      id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      lab_id TEXT COLLATE "C" NOT NULL,
      cohort TEXT COLLATE "C" NOT NULL,
      trainee TEXT COLLATE "C" NOT NULL,
      provider TEXT COLLATE "C" NOT NULL,
      state TEXT NOT NULL CHECK(state IN ('running', 'stopped')),
      started_at BIGINT NOT NULL,
      ended_at BIGINT,
      cpu_millis BIGINT NOT NULL,
      memory_bytes BIGINT NOT NULL
    );
    CREATE INDEX usage_by_cohort ON usage_intervals(cohort, started_at);
    CREATE INDEX usage_open ON usage_intervals(lab_id) WHERE ended_at IS NULL;

    -- What a phase holds: the same mapping as SQLite's trigger conditions.
    CREATE FUNCTION darasa_usage_state(phase TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
      SELECT CASE WHEN phase IN ('creating', 'ready') THEN 'running'
                  WHEN phase = 'stopped' THEN 'stopped' ELSE '' END
    $$;

    CREATE FUNCTION darasa_usage_on_phase() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF darasa_usage_state(OLD.phase) <> darasa_usage_state(NEW.phase) THEN
        UPDATE usage_intervals SET ended_at = GREATEST(started_at, NEW.updated_at)
          WHERE lab_id = NEW.lab_id AND ended_at IS NULL;
        IF darasa_usage_state(NEW.phase) <> '' THEN
          INSERT INTO usage_intervals(lab_id, cohort, trainee, provider, state, started_at, cpu_millis, memory_bytes)
            VALUES(NEW.lab_id, NEW.cohort, NEW.trainee, NEW.provider, darasa_usage_state(NEW.phase), NEW.updated_at,
                   coalesce((NEW.spec_json::jsonb #>> '{resources,cpuMillis}')::numeric, 0)::bigint,
                   coalesce((NEW.spec_json::jsonb #>> '{resources,memoryBytes}')::numeric, 0)::bigint);
        END IF;
      END IF;
      RETURN NULL;
    END
    $$;
    CREATE TRIGGER usage_on_phase AFTER UPDATE OF phase ON labs
      FOR EACH ROW EXECUTE FUNCTION darasa_usage_on_phase();

    CREATE FUNCTION darasa_usage_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE usage_intervals SET ended_at = GREATEST(started_at, OLD.updated_at)
        WHERE lab_id = OLD.lab_id AND ended_at IS NULL;
      RETURN NULL;
    END
    $$;
    CREATE TRIGGER usage_on_delete AFTER DELETE ON labs
      FOR EACH ROW EXECUTE FUNCTION darasa_usage_on_delete();
  )sql";

// 4: several daemons on one state (issue 20). `leadership` is one row: the
// term (raised by every daemon that takes the lead), who holds it and, on
// PostgreSQL, the backend pid of the connection holding the leader's
// advisory lock, so that a write can check in the same transaction that its
// writer still leads. Intents carry the term they were begun under. `meta`
// holds facts of the state itself (on PostgreSQL its instance id, which a
// state directory keeps in a file).
constexpr const char* kSqlite4 = R"sql(
    ALTER TABLE operations ADD COLUMN term INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE leadership(
      id INTEGER PRIMARY KEY CHECK(id = 1),
      term INTEGER NOT NULL,
      daemon TEXT NOT NULL,
      url TEXT NOT NULL,
      holder_pid INTEGER NOT NULL,
      since INTEGER NOT NULL
    ) STRICT;
    INSERT INTO leadership VALUES(1, 0, '', '', 0, 0);
    CREATE TABLE meta(
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL
    ) STRICT;
  )sql";
constexpr const char* kPostgres4 = R"sql(
    ALTER TABLE operations ADD COLUMN term BIGINT NOT NULL DEFAULT 0;
    CREATE TABLE leadership(
      id BIGINT PRIMARY KEY CHECK(id = 1),
      term BIGINT NOT NULL,
      daemon TEXT NOT NULL,
      url TEXT NOT NULL,
      holder_pid BIGINT NOT NULL,
      since BIGINT NOT NULL
    );
    INSERT INTO leadership VALUES(1, 0, '', '', 0, 0);
    CREATE TABLE meta(
      key TEXT COLLATE "C" PRIMARY KEY,
      value TEXT NOT NULL
    );
  )sql";

constexpr std::array<Migration, 4> kMigrations = {{
    {1, kSqlite1, kPostgres1},
    {2, kSqlite2, kPostgres2},
    {3, kSqlite3, kPostgres3},
    {4, kSqlite4, kPostgres4},
}};
static_assert(kMigrations.size() == Store::kSchemaVersion, "a migration per schema version");
static_assert(kMigrations.back().version == Store::kSchemaVersion);

Status setVersion(sql::Db& db, int version) {
  if (db.dialect() == sql::Dialect::kSqlite) return db.exec("PRAGMA user_version = " + std::to_string(version));
  return db.exec("UPDATE darasa_schema SET version = " + std::to_string(version));
}

}  // namespace


Result<int> currentVersion(sql::Db& db) {
  if (db.dialect() == sql::Dialect::kSqlite) {
    auto version = db.queryInt("PRAGMA user_version");
    if (!version) return version.status();
    if (*version == 0) {
      auto tables = db.queryInt("SELECT count(*) FROM sqlite_schema WHERE type = 'table'");
      if (!tables) return tables.status();
      if (*tables > 0)
        return invalidError(db.where() +
                            " is an SQLite database of some other program (it has tables but no darasa "
                            "schema); darasa did not modify it");
    }
    return static_cast<int>(*version);
  }
  auto ours = db.queryInt("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'darasa_schema'");
  if (!ours) return ours.status();
  if (*ours == 0) {
    auto tables = db.queryInt("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()");
    if (!tables) return tables.status();
    if (*tables > 0)
      return invalidError(db.where() +
                          " holds tables of some other program (and no darasa schema) in schema \"" +
                          "public\" or the one its search_path names; darasa did not modify it. Give darasa a "
                          "database of its own");
    return 0;
  }
  auto version = db.queryInt("SELECT version FROM darasa_schema");
  if (!version) return version.status();
  return static_cast<int>(*version);
}

Status migrate(sql::Db& db) {
  for (const Migration& m : kMigrations) {
    auto tx = sql::Tx::begin(db, sql::TxKind::kDurableWrite);
    if (!tx) return tx.status();
    // Read again under the writer lock: another process may have migrated.
    auto version = currentVersion(db);
    if (!version) return version.status();
    if (*version >= m.version) continue;
    Status s = db.exec(db.dialect() == sql::Dialect::kSqlite ? m.sqlite : m.postgres);
    if (!s) return s.withContext("migrating the state schema to version " + std::to_string(m.version));
    s = setVersion(db, m.version);
    if (!s) return s;
    s = tx->commit();
    if (!s) return s;
  }
  return Status::ok();
}

}  // namespace darasa::migrations

namespace darasa::schema {
std::span<const Migration> migrations() { return migrations::kMigrations; }
}  // namespace darasa::schema
