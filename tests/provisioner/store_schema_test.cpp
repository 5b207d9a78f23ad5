// The schema history (provisioner/schema.h) on both backends: a state left
// at any older version by a previous darasa migrates to the latest with its
// data kept and ends with exactly the schema of a fresh state; and both
// backends end with the same tables, columns, indexes and triggers, so that
// a migration written for one only is caught here.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "provisioner/schema.h"
#include "store_fixture.h"

namespace darasa {
namespace {

namespace fs = std::filesystem;

// What a schema is made of, as text lines, sorted.
std::vector<std::string> schemaOf(const RawState& raw) {
  std::vector<std::string> out;
  if (raw.postgres()) {
    for (const char* q :
         {"SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || "
          "coalesce(column_default, '') FROM information_schema.columns WHERE table_schema = current_schema()",
          "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()",
          "SELECT tgname || ' ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal",
          "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = "
          "current_schema()::regnamespace"}) {
      auto rows = raw.column(q);
      out.insert(out.end(), rows.begin(), rows.end());
    }
  } else {
    out = raw.column("SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema");
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Table.column names, indexes and triggers made by darasa: what both
// backends must agree on.
std::set<std::string> namesOf(const RawState& raw) {
  std::vector<std::string> rows;
  auto add = [&](const std::vector<std::string>& r) { rows.insert(rows.end(), r.begin(), r.end()); };
  if (raw.postgres()) {
    add(raw.column("SELECT 'column ' || table_name || '.' || column_name FROM information_schema.columns "
                   "WHERE table_schema = current_schema() AND table_name <> 'darasa_schema'"));
    // Named indexes only (primary keys and UNIQUE make their own).
    add(raw.column("SELECT 'index ' || indexname FROM pg_indexes WHERE schemaname = current_schema() "
                   "AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key'"));
    add(raw.column("SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal"));
  } else {
    add(raw.column("SELECT 'column ' || m.name || '.' || p.name FROM sqlite_schema m, pragma_table_info(m.name) p "
                   "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"));
    add(raw.column("SELECT 'index ' || name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL"));
    add(raw.column("SELECT 'trigger ' || name FROM sqlite_schema WHERE type = 'trigger'"));
  }
  return {rows.begin(), rows.end()};
}

class StoreSchemaTest : public BackendFixture {
 protected:
  // A database brought to `version` by the history's own SQL, as the
  // darasa of that version left it, with a cohort, a lab and an intent.
  void makeOldState(const RawState& raw, int version) {
    for (const auto& m : schema::migrations()) {
      if (m.version > version) break;
      raw.exec(raw.postgres() ? m.postgres : m.sqlite);
    }
    raw.exec(raw.postgres() ? "UPDATE darasa_schema SET version = " + std::to_string(version)
                            : "PRAGMA user_version = " + std::to_string(version));
    raw.exec(
        "INSERT INTO cohorts VALUES('demo', 3, 't', '{}', 'sha256:0', '{}', 'fake', 100, 100);"
        "INSERT INTO trainees VALUES('demo', 'alice', 'Alice', 'alice@example.org', 0);"
        "INSERT INTO labs(lab_id, cohort, trainee, generation, desired, phase, provider, spec_json, updated_at) "
        "VALUES('demo.alice', 'demo', 'alice', 3, 'running', 'ready', 'fake', '{}', 100);"
        "INSERT INTO operations(lab_id, action, detail, status, started_at) "
        "VALUES('demo.alice', 'create', 'before the upgrade', 'pending', 100);");
  }
};
DARASA_STORE_BACKENDS(StoreSchemaTest);

TEST_P(StoreSchemaTest, EveryOlderVersionMigratesWithItsDataKept) {
  std::vector<std::string> fresh;
  {
    auto store = open();
    ASSERT_TRUE(store);
    fresh = schemaOf(raw());
  }
  ASSERT_FALSE(fresh.empty());
  for (int version = 1; version < Store::kSchemaVersion; ++version) {
    SCOPED_TRACE("from version " + std::to_string(version));
    // A state of its own per version: a database or a directory.
    testing::TempDir dir;
    StateLocation loc;
    loc.dir = dir.path();
    std::unique_ptr<testing::PostgresDatabase> db;
    if (onPostgres()) {
      std::string why;
      db = testing::PostgresCluster::shared(&why)->createDatabase(&why);
      ASSERT_TRUE(db) << why;
      loc.url = db->url();
    }
    RawState old(fs::path(dir.path()) / "darasa.db", db.get());
    makeOldState(old, version);

    auto store = Store::open(loc, OpenMode::kMustExist, clock_);
    ASSERT_TRUE(store.isOk()) << store.status().toString();
    EXPECT_EQ(schemaOf(old), fresh);
    auto cohort = (*store)->getCohort("demo");
    ASSERT_TRUE(cohort.isOk()) << cohort.status().toString();
    EXPECT_EQ(cohort->generation, 3);
    auto lab = (*store)->getLab("demo.alice");
    ASSERT_TRUE(lab.isOk());
    EXPECT_EQ(lab->phase, LabPhase::kReady);
    auto pending = (*store)->listPendingOperations();
    ASSERT_TRUE(pending.isOk());
    ASSERT_EQ(pending->size(), 1u);
    EXPECT_EQ((*pending)[0].detail, "before the upgrade");
    EXPECT_EQ((*pending)[0].term, 0);
    // What later versions added works on the migrated state.
    TokenRecord token;
    token.id = "tok_alice";
    token.role = TokenRole::kTrainee;
    token.cohort = "demo";
    token.trainee = "alice";
    EXPECT_TRUE((*store)->putToken(token, std::string(32, 't')).isOk());
    EXPECT_TRUE((*store)->markDestroyed("demo.alice").isOk());
    EXPECT_EQ((*store)->leader()->term, 0);
  }
}

TEST(StoreSchemaBackendsTest, BothBackendsHaveTheSameTablesColumnsIndexesAndTriggers) {
  std::string why;
  auto* cluster = testing::PostgresCluster::shared(&why);
  if (!cluster) {
    if (testing::engineRequired()) FAIL() << why;
    GTEST_SKIP() << why;
  }
  auto db = cluster->createDatabase(&why);
  ASSERT_TRUE(db) << why;
  testing::TempDir dir;
  StateLocation sqlite, postgres;
  sqlite.dir = postgres.dir = dir.path();
  postgres.url = db->url();
  ASSERT_TRUE(Store::open(sqlite, OpenMode::kCreate).isOk());
  ASSERT_TRUE(Store::open(postgres, OpenMode::kCreate).isOk());
  auto a = namesOf(RawState(fs::path(dir.path()) / "darasa.db", nullptr));
  auto b = namesOf(RawState("", db.get()));
  EXPECT_GT(a.size(), 60u);
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace darasa
