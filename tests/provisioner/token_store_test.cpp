// API tokens in the state store (schema version 2) against real SQLite files:
// only hashes are stored, lookups by hash, revocation, tokens that go with
// their cohort or trainee, and the migration of a version 1 state.
#include <sqlite3.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>

#include "fakes/fake_clock.h"
#include "provisioner/store.h"
#include "support/command.h"

namespace darasa {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::TempDir;

std::string hashOf(char fill) { return std::string(32, fill); }

CohortApply cohort(const std::string& name, const std::vector<std::string>& trainees) {
  CohortApply a;
  a.name = name;
  a.templateName = "t";
  a.snapshotJson = "{}";
  a.snapshotHash = "sha256:0";
  a.cohortSpecJson = "{}";
  a.provider = "fake";
  for (const auto& id : trainees) {
    a.trainees.push_back(Trainee{id, "Name " + id, id + "@example.org"});
    a.labs.push_back(LabApply{name + "." + id, id, "{\"t\":\"" + id + "\"}"});
  }
  return a;
}

TokenRecord record(const std::string& id, TokenRole role, const std::string& cohortName = "",
                   const std::string& trainee = "") {
  TokenRecord r;
  r.id = id;
  r.role = role;
  r.cohort = cohortName;
  r.trainee = trainee;
  r.name = "note " + id;
  return r;
}

// Runs SQL on the database file directly, as another program would.
struct RawDb {
  explicit RawDb(const fs::path& file) { EXPECT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK); }
  ~RawDb() { sqlite3_close(db); }
  void exec(const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "") << " in " << sql;
    sqlite3_free(err);
  }
  std::vector<std::string> column(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    while (sqlite3_step(st) == SQLITE_ROW)
      out.push_back(sqlite3_column_text(st, 0) ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) : "");
    sqlite3_finalize(st);
    return out;
  }
  sqlite3* db = nullptr;
};

class TokenStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> open() {
    auto store = Store::open(dir_.path(), OpenMode::kCreate, clock_);
    EXPECT_TRUE(store.isOk()) << store.status().toString();
    return store.isOk() ? std::move(store.value()) : nullptr;
  }
  fs::path dbFile() const { return fs::path(dir_.path()) / "darasa.db"; }
  TempDir dir_;
  FakeClock clock_;
};

TEST_F(TokenStoreTest, TokensAreFoundByTheHashOfTheirSecretOnly) {
  auto store = open();
  ASSERT_TRUE(store->applyCohort(cohort("demo", {"alice", "bob"})).isOk());
  ASSERT_TRUE(store->putToken(record("tok_admin", TokenRole::kAdmin), hashOf('a')).isOk());
  ASSERT_TRUE(store->putToken(record("tok_inst", TokenRole::kInstructor, "demo"), hashOf('i')).isOk());
  ASSERT_TRUE(store->putToken(record("tok_alice", TokenRole::kTrainee, "demo", "alice"), hashOf('t')).isOk());

  auto alice = store->findTokenByHash(hashOf('t'), false);
  ASSERT_TRUE(alice.isOk()) << alice.status().toString();
  EXPECT_EQ(alice->id, "tok_alice");
  EXPECT_EQ(alice->role, TokenRole::kTrainee);
  EXPECT_EQ(alice->cohort, "demo");
  EXPECT_EQ(alice->trainee, "alice");
  EXPECT_EQ(alice->name, "note tok_alice");
  EXPECT_EQ(alice->createdAt, toUnixSeconds(clock_.now()));
  EXPECT_EQ(alice->expiresAt, 0);
  EXPECT_EQ(alice->revokedAt, 0);
  auto admin = store->findTokenByHash(hashOf('a'), false);
  ASSERT_TRUE(admin.isOk());
  EXPECT_EQ(admin->role, TokenRole::kAdmin);
  EXPECT_EQ(admin->cohort, "");
  EXPECT_EQ(store->findTokenByHash(hashOf('x'), false).status().code(), Code::kNotFound);
  EXPECT_EQ(store->findTokenByHash("short", false).status().code(), Code::kNotFound);

  auto list = store->listTokens();
  ASSERT_TRUE(list.isOk());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].id, "tok_admin");

  // The file holds the hashes, never anything else of the secret.
  RawDb raw(dbFile());
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "74";  // 't'
  EXPECT_EQ(raw.column("SELECT hex(secret_hash) FROM tokens WHERE id = 'tok_alice'"), std::vector<std::string>{hex});
}

TEST_F(TokenStoreTest, MalformedOrDanglingTokensAreRefused) {
  auto store = open();
  ASSERT_TRUE(store->applyCohort(cohort("demo", {"alice"})).isOk());
  EXPECT_EQ(store->putToken(record("", TokenRole::kAdmin), hashOf('a')).code(), Code::kInvalid);
  EXPECT_EQ(store->putToken(record("tok_1", TokenRole::kAdmin), "too short").code(), Code::kInvalid);
  EXPECT_EQ(store->putToken(record("tok_1", TokenRole::kAdmin, "demo"), hashOf('a')).code(), Code::kInvalid);
  EXPECT_EQ(store->putToken(record("tok_1", TokenRole::kInstructor), hashOf('a')).code(), Code::kInvalid);
  EXPECT_EQ(store->putToken(record("tok_1", TokenRole::kTrainee, "demo"), hashOf('a')).code(), Code::kInvalid);
  Status s = store->putToken(record("tok_1", TokenRole::kInstructor, "nope"), hashOf('a'));
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("nope"));
  s = store->putToken(record("tok_1", TokenRole::kTrainee, "demo", "mallory"), hashOf('a'));
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("mallory"));
  EXPECT_TRUE(store->listTokens()->empty());

  ASSERT_TRUE(store->putToken(record("tok_1", TokenRole::kAdmin), hashOf('a')).isOk());
  EXPECT_EQ(store->putToken(record("tok_1", TokenRole::kAdmin), hashOf('b')).code(), Code::kConflict);
  EXPECT_EQ(store->putToken(record("tok_2", TokenRole::kAdmin), hashOf('a')).code(), Code::kConflict);
  EXPECT_EQ(store->listTokens()->size(), 1u);
}

TEST_F(TokenStoreTest, RevocationIsRecordedOnceAndKeepsTheRow) {
  auto store = open();
  ASSERT_TRUE(store->putToken(record("tok_1", TokenRole::kAdmin), hashOf('a')).isOk());
  const int64_t first = toUnixSeconds(clock_.now());
  ASSERT_TRUE(store->revokeToken("tok_1").isOk());
  clock_.advance(std::chrono::hours(1));
  ASSERT_TRUE(store->revokeToken("tok_1").isOk());  // idempotent
  auto t = store->findTokenByHash(hashOf('a'), false);
  ASSERT_TRUE(t.isOk());  // the caller decides what a revoked token gets
  EXPECT_EQ(t->revokedAt, first);
  EXPECT_EQ(store->revokeToken("tok_unknown").code(), Code::kNotFound);
}

TEST_F(TokenStoreTest, LastUseIsRecordedToTheMinuteOnlyWhenAsked) {
  auto store = open();
  ASSERT_TRUE(store->putToken(record("tok_1", TokenRole::kAdmin), hashOf('a')).isOk());
  EXPECT_EQ(store->findTokenByHash(hashOf('a'), false)->lastUsedAt, 0);
  EXPECT_EQ(store->findTokenByHash(hashOf('a'), false)->lastUsedAt, 0);
  const int64_t t0 = toUnixSeconds(clock_.now());
  EXPECT_EQ(store->findTokenByHash(hashOf('a'), true)->lastUsedAt, t0);
  clock_.advance(std::chrono::seconds(30));
  EXPECT_EQ(store->findTokenByHash(hashOf('a'), true)->lastUsedAt, t0);
  clock_.advance(std::chrono::seconds(31));
  EXPECT_EQ(store->findTokenByHash(hashOf('a'), true)->lastUsedAt, t0 + 61);
  EXPECT_EQ(store->listTokens()->front().lastUsedAt, t0 + 61);
}

TEST_F(TokenStoreTest, TokensGoWithTheirCohortAndTheirTrainee) {
  auto store = open();
  ASSERT_TRUE(store->applyCohort(cohort("demo", {"alice", "bob"})).isOk());
  ASSERT_TRUE(store->applyCohort(cohort("other", {"carol"})).isOk());
  ASSERT_TRUE(store->putToken(record("tok_admin", TokenRole::kAdmin), hashOf('a')).isOk());
  ASSERT_TRUE(store->putToken(record("tok_inst", TokenRole::kInstructor, "demo"), hashOf('i')).isOk());
  ASSERT_TRUE(store->putToken(record("tok_alice", TokenRole::kTrainee, "demo", "alice"), hashOf('1')).isOk());
  ASSERT_TRUE(store->putToken(record("tok_bob", TokenRole::kTrainee, "demo", "bob"), hashOf('2')).isOk());
  ASSERT_TRUE(store->putToken(record("tok_carol", TokenRole::kTrainee, "other", "carol"), hashOf('3')).isOk());

  // A changed apply that keeps alice and drops bob: bob's token goes, the rest stay.
  auto changed = cohort("demo", {"alice"});
  changed.trainees[0].name = "Alice Renamed";
  ASSERT_TRUE(store->applyCohort(changed).isOk());
  EXPECT_TRUE(store->findTokenByHash(hashOf('1'), false).isOk());
  EXPECT_EQ(store->findTokenByHash(hashOf('2'), false).status().code(), Code::kNotFound);
  EXPECT_TRUE(store->findTokenByHash(hashOf('i'), false).isOk());

  // Deleting the cohort takes its instructor's and trainees' tokens with it,
  // so that a later cohort of the same name does not inherit them.
  ASSERT_TRUE(store->markDestroyed("demo.alice").isOk());
  ASSERT_TRUE(store->markDestroyed("demo.bob").isOk());
  ASSERT_TRUE(store->deleteCohort("demo").isOk());
  std::vector<std::string> ids;
  auto tokens = store->listTokens();  // kept alive: a range-for over *temporary would dangle
  ASSERT_TRUE(tokens.isOk());
  for (const auto& t : tokens.value()) ids.push_back(t.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"tok_admin", "tok_carol"}));
}

TEST_F(TokenStoreTest, AVersion1StateMigratesWithItsDataKept) {
  // A version 1 state as the previous darasa left it: version 2 only added
  // the tokens table, so dropping it and the version gives the old schema.
  std::vector<std::string> freshSchema;
  {
    auto store = open();
    ASSERT_TRUE(store->applyCohort(cohort("demo", {"alice"})).isOk());
    auto creds = generateCredentials("trainee", "darasa:demo.alice");
    ASSERT_TRUE(creds.isOk());
    ASSERT_TRUE(store->putCredentials("demo", "alice", *creds).isOk());
  }
  {
    RawDb raw(dbFile());
    freshSchema = raw.column("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name");
    // Version 3 (the usage ledger, queue columns) goes too: v1 had neither.
    raw.exec(
        "DROP TABLE tokens; DROP TRIGGER usage_on_phase; DROP TRIGGER usage_on_delete; DROP TABLE usage_intervals; "
        "ALTER TABLE labs DROP COLUMN queue_position; ALTER TABLE labs DROP COLUMN queue_reason; "
        "ALTER TABLE labs DROP COLUMN queued_at; ALTER TABLE labs DROP COLUMN queue_eta; "
        "ALTER TABLE labs DROP COLUMN stop_reason; ALTER TABLE labs DROP COLUMN last_active_at; "
        "PRAGMA user_version = 1;");
    ASSERT_EQ(raw.column("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'tokens%'"),
              std::vector<std::string>{"0"});
  }
  auto store = open();
  ASSERT_TRUE(store);
  {
    RawDb raw(dbFile());
    EXPECT_EQ(raw.column("PRAGMA user_version"), std::vector<std::string>{std::to_string(Store::kSchemaVersion)});
    EXPECT_EQ(raw.column("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name"), freshSchema);
  }
  EXPECT_EQ(store->getCohort("demo")->generation, 1);
  auto creds = store->readCredentials("demo", "alice", "test");
  ASSERT_TRUE(creds.isOk()) << creds.status().toString();
  EXPECT_EQ(creds->user, "trainee");
  ASSERT_TRUE(store->putToken(record("tok_alice", TokenRole::kTrainee, "demo", "alice"), hashOf('t')).isOk());
  EXPECT_EQ(store->findTokenByHash(hashOf('t'), false)->trainee, "alice");
}

}  // namespace
}  // namespace darasa
