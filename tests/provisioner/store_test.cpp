// The state store on both backends (store_fixture.h: SQLite files in
// temporary directories, databases on a throwaway PostgreSQL): schema
// versions, applies and their diffs, labs, the journal, audited credentials,
// concurrent threads and processes, and 10,000 labs; and SQLite's files as
// such (headers, damaged and truncated files, WAL).
#include "provisioner/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "fakes/fake_clock.h"
#include "store_fixture.h"

namespace darasa {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Raw SQL on a state database, the way another program would see it.
class RawDb {
 public:
  explicit RawDb(const fs::path& file) { EXPECT_EQ(sqlite3_open(file.c_str(), &db_), SQLITE_OK); }
  ~RawDb() { sqlite3_close(db_); }
  void exec(const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "") << " in " << sql;
    sqlite3_free(err);
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
  }
  int64_t integer(const std::string& sql) { return std::stoll(text(sql)); }
  // Flips one byte of a blob, as a disk error or a meddler would.
  void flipBlobByte(const std::string& select, const std::string& update, int index) {
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db_, select.c_str(), -1, &st, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    const char* p = static_cast<const char*>(sqlite3_column_blob(st, 0));
    std::string blob(p, static_cast<size_t>(sqlite3_column_bytes(st, 0)));
    sqlite3_finalize(st);
    ASSERT_LT(static_cast<size_t>(index), blob.size());
    blob[static_cast<size_t>(index)] = static_cast<char>(blob[static_cast<size_t>(index)] ^ 0x20);
    ASSERT_EQ(sqlite3_prepare_v2(db_, update.c_str(), -1, &st, nullptr), SQLITE_OK);
    sqlite3_bind_blob(st, 1, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string labSpec(const std::string& cohort, const std::string& trainee, const std::string& image = "lab:1") {
  return R"({"cohort":")" + cohort + R"(","trainee":")" + trainee + R"(","image":")" + image + "\"}";
}

CohortApply makeCohort(const std::string& name, const std::vector<std::string>& traineeIds,
                       const std::string& image = "lab:1") {
  CohortApply a;
  a.name = name;
  a.templateName = "cyber-101";
  a.snapshotJson = R"({"image":")" + image + "\"}";
  a.snapshotHash = "sha256:" + image;
  a.cohortSpecJson = R"({"leadTime":"15m"})";
  a.provider = "local";
  for (const auto& id : traineeIds) {
    a.trainees.push_back(Trainee{id, "Name of " + id, id + "@example.org"});
    a.labs.push_back(LabApply{name + "." + id, id, labSpec(name, id, image)});
  }
  return a;
}

class StoreTest : public BackendFixture {};
DARASA_STORE_BACKENDS(StoreTest);

// SQLite's files as such.
class SqliteStoreTest : public SqliteStoreFixture {};

// ---------------------------------------------------------------- opening

TEST_F(SqliteStoreTest, FreshDatabaseGetsTheLatestSchemaInWalModeWithPrivateFiles) {
  fs::path state = fs::path(dir_.path()) / "nested" / "state";
  auto store = Store::open(state, OpenMode::kCreate, clock_);
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  EXPECT_EQ((*store)->databaseFile(), state / "darasa.db");
  RawDb raw(state / "darasa.db");
  EXPECT_EQ(raw.integer("PRAGMA user_version"), Store::kSchemaVersion);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  struct stat st {};
  ASSERT_EQ(::stat((state / "darasa.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(state.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_P(StoreTest, ReopeningKeepsTheData) {
  {
    auto store = open();
    ASSERT_TRUE(store->applyCohort(makeCohort("demo", {"alice"})).isOk());
  }
  auto store = open(OpenMode::kMustExist);
  ASSERT_TRUE(store);
  auto cohort = store->getCohort("demo");
  ASSERT_TRUE(cohort.isOk());
  EXPECT_EQ(cohort->generation, 1);
}

TEST_F(SqliteStoreTest, MustExistOnAMissingStateSaysWhatToDoAndCreatesNothing) {
  fs::path state = fs::path(dir_.path()) / "nothing-here";
  auto store = Store::open(state, OpenMode::kMustExist, clock_);
  ASSERT_FALSE(store.isOk());
  EXPECT_EQ(store.status().code(), Code::kNotFound);
  EXPECT_EQ(store.status().message(),
            "no darasa state in " + state.string() + " (run `darasa apply` first, or pass --state)");
  EXPECT_FALSE(fs::exists(state));
}

// The SQL that reads or sets the schema version on the test's backend.
std::string versionSql(bool postgres, int set = -1) {
  if (set < 0) return postgres ? "SELECT version FROM darasa_schema" : "PRAGMA user_version";
  return postgres ? "UPDATE darasa_schema SET version = " + std::to_string(set)
                  : "PRAGMA user_version = " + std::to_string(set);
}

TEST_P(StoreTest, ADatabaseFromANewerDarasaIsRefusedAndLeftAlone) {
  { open(); }
  raw().exec(versionSql(onPostgres(), 99));
  const std::string before = onPostgres() ? "" : readFile(dbFile());
  auto store = Store::open(location(), OpenMode::kCreate, clock_);
  ASSERT_FALSE(store.isOk());
  EXPECT_EQ(store.status().code(), Code::kNotSupported);
  EXPECT_THAT(store.status().message(), HasSubstr(onPostgres() ? pg_->name() : dbFile().string()));
  EXPECT_THAT(store.status().message(), HasSubstr("schema version 99"));
  EXPECT_THAT(store.status().message(), HasSubstr("not modified"));
  if (!onPostgres()) {
    EXPECT_EQ(readFile(dbFile()), before);
  }
  EXPECT_EQ(raw().integer(versionSql(onPostgres())), 99);
}

TEST_P(StoreTest, MustExistOnAStateWithNoSchemaCreatesNothing) {
  auto store = Store::open(location(), OpenMode::kMustExist, clock_);
  ASSERT_FALSE(store.isOk());
  EXPECT_EQ(store.status().code(), Code::kNotFound);
  if (onPostgres()) {
    EXPECT_EQ(raw().text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"), "0");
  } else {
    EXPECT_FALSE(fs::exists(dbFile()));
  }
}

TEST_P(StoreTest, AFreshStateHasTheLatestSchema) {
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_EQ(raw().integer(versionSql(onPostgres())), Store::kSchemaVersion);
  EXPECT_STREQ(store->backend(), onPostgres() ? "postgresql" : "sqlite");
  // Reopening an up-to-date state changes nothing.
  store.reset();
  EXPECT_TRUE(open(OpenMode::kMustExist));
}

TEST_F(SqliteStoreTest, AFileOfGarbageIsReportedAndNeverReplaced) {
  std::mt19937 rng(42);
  std::string garbage(8192, '\0');
  for (auto& c : garbage) c = static_cast<char>(rng());
  writeFile(dbFile(), garbage);
  for (OpenMode mode : {OpenMode::kCreate, OpenMode::kMustExist}) {
    auto store = Store::open(dir_.path(), mode, clock_);
    ASSERT_FALSE(store.isOk());
    EXPECT_EQ(store.status().code(), Code::kInternal);
    EXPECT_THAT(store.status().message(), HasSubstr(dbFile().string()));
    EXPECT_THAT(store.status().message(), HasSubstr("did not modify it"));
  }
  EXPECT_EQ(readFile(dbFile()), garbage);
  EXPECT_FALSE(fs::exists(fs::path(dir_.path()) / "darasa.db-wal"));
}

TEST_F(SqliteStoreTest, ATruncatedDatabaseIsReportedAndNeverReplaced) {
  {
    auto store = open();
    std::vector<std::string> ids;
    for (int i = 0; i < 300; ++i) ids.push_back("t" + std::to_string(i));
    ASSERT_TRUE(store->applyCohort(makeCohort("demo", ids)).isOk());
  }
  ASSERT_FALSE(fs::exists(fs::path(dir_.path()) / "darasa.db-wal"));  // checkpointed on close
  std::string full = readFile(dbFile());
  ASSERT_GT(full.size(), 16384u);
  std::string half = full.substr(0, full.size() / 2);
  writeFile(dbFile(), half);
  auto store = Store::open(dir_.path(), OpenMode::kMustExist, clock_);
  ASSERT_FALSE(store.isOk());
  EXPECT_EQ(store.status().code(), Code::kInternal);
  EXPECT_THAT(store.status().message(), HasSubstr(dbFile().string() + " is truncated"));
  EXPECT_THAT(store.status().message(), HasSubstr("did not modify it"));
  EXPECT_EQ(readFile(dbFile()), half);

  // A few bytes only: not even a header.
  writeFile(dbFile(), full.substr(0, 50));
  store = Store::open(dir_.path(), OpenMode::kCreate, clock_);
  ASSERT_FALSE(store.isOk());
  EXPECT_EQ(store.status().code(), Code::kInternal);
  EXPECT_EQ(readFile(dbFile()), full.substr(0, 50));
}

TEST_F(SqliteStoreTest, DamagedPagesSurfaceAsAClearErrorNamingTheFile) {
  {
    auto store = open();
    std::vector<std::string> ids;
    for (int i = 0; i < 300; ++i) ids.push_back("t" + std::to_string(i));
    ASSERT_TRUE(store->applyCohort(makeCohort("demo", ids)).isOk());
  }
  std::string bytes = readFile(dbFile());
  const size_t pageSize = 4096;
  ASSERT_EQ(RawDb(dbFile()).integer("PRAGMA page_size"), static_cast<int64_t>(pageSize));
  // Every page but the first (header and schema) becomes noise, same size.
  std::mt19937 rng(7);
  for (size_t i = pageSize; i < bytes.size(); ++i) bytes[i] = static_cast<char>(rng());
  writeFile(dbFile(), bytes);

  auto store = Store::open(dir_.path(), OpenMode::kMustExist, clock_);
  Status error = store.status();
  if (store.isOk()) error = (*store)->listLabs().status();
  ASSERT_FALSE(error.isOk());
  EXPECT_EQ(error.code(), Code::kInternal);
  EXPECT_THAT(error.message(), HasSubstr(dbFile().string()));
  EXPECT_THAT(error.message(), HasSubstr("corrupt"));
}

TEST_P(StoreTest, AnotherProgramsDatabaseIsNotAdopted) {
  raw().exec("CREATE TABLE photos(id INTEGER)");
  const std::string before = onPostgres() ? "" : readFile(dbFile());
  auto store = Store::open(location(), OpenMode::kCreate, clock_);
  ASSERT_FALSE(store.isOk());
  EXPECT_EQ(store.status().code(), Code::kInvalid);
  EXPECT_THAT(store.status().message(), HasSubstr("some other program"));
  if (!onPostgres()) {
    EXPECT_EQ(readFile(dbFile()), before);
  }
  EXPECT_EQ(raw().column("SELECT 1 FROM photos").size(), 0u);  // still there, still empty
}

TEST(StateLocationTest, AUrlNamesPostgresqlAnythingElseADirectory) {
  auto pg = parseStateLocation("postgresql://darasa@db.example/darasa", "/var/lib/darasa");
  EXPECT_EQ(pg.url, "postgresql://darasa@db.example/darasa");
  EXPECT_EQ(pg.dir, fs::path("/var/lib/darasa"));
  EXPECT_EQ(parseStateLocation("postgres://h/d", "/x").url, "postgres://h/d");
  auto dir = parseStateLocation("/srv/state", "/var/lib/darasa");
  EXPECT_EQ(dir.url, "");
  EXPECT_EQ(dir.dir, fs::path("/srv/state"));
  EXPECT_EQ(parseStateLocation("", "/d").dir, fs::path("/d"));
}

class EnvGuard {
 public:
  explicit EnvGuard(const char* name) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v;
  }
  ~EnvGuard() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(DefaultStateDirTest, DarasaHomeThenXdgDataHomeThenHome) {
  EnvGuard a("DARASA_HOME"), b("XDG_DATA_HOME"), c("HOME");
  ::setenv("DARASA_HOME", "/srv/darasa", 1);
  ::setenv("XDG_DATA_HOME", "/xdg", 1);
  ::setenv("HOME", "/home/ann", 1);
  EXPECT_EQ(defaultStateDir(), fs::path("/srv/darasa"));
  ::unsetenv("DARASA_HOME");
  EXPECT_EQ(defaultStateDir(), fs::path("/xdg/darasa"));
  ::setenv("XDG_DATA_HOME", "relative/is/ignored", 1);
  EXPECT_EQ(defaultStateDir(), fs::path("/home/ann/.local/share/darasa"));
  ::unsetenv("XDG_DATA_HOME");
  EXPECT_EQ(defaultStateDir(), fs::path("/home/ann/.local/share/darasa"));
}

// ---------------------------------------------------------------- templates

TEST_P(StoreTest, TemplatesAreReplacedOnlyWhenTheyChange) {
  auto store = open();
  TemplateRecord t{"cyber-101", R"({"a":1})", "h1", "templates/cyber.yaml", 0};
  auto put = store->putTemplate(t);
  ASSERT_TRUE(put.isOk());
  EXPECT_TRUE(*put);
  const int64_t firstAt = toUnixSeconds(clock_.now());
  clock_.advance(std::chrono::hours(1));
  put = store->putTemplate(t);
  ASSERT_TRUE(put.isOk());
  EXPECT_FALSE(*put);
  EXPECT_EQ(store->getTemplate("cyber-101")->appliedAt, firstAt);

  t.json = R"({"a":2})";
  t.hash = "h2";
  put = store->putTemplate(t);
  ASSERT_TRUE(put.isOk());
  EXPECT_TRUE(*put);
  auto got = store->getTemplate("cyber-101");
  ASSERT_TRUE(got.isOk());
  EXPECT_EQ(got->hash, "h2");
  EXPECT_EQ(got->json, R"({"a":2})");
  EXPECT_EQ(got->sourceFile, "templates/cyber.yaml");
  EXPECT_EQ(got->appliedAt, firstAt + 3600);

  ASSERT_TRUE(store->putTemplate({"alpha", "{}", "h", "", 0}).isOk());
  auto all = store->listTemplates();
  ASSERT_TRUE(all.isOk());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "alpha");

  auto missing = store->getTemplate("web-201");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().message(), "no template \"web-201\" in the state (known: alpha, cyber-101)");
}

// ---------------------------------------------------------------- cohorts

std::vector<std::string> ids(const std::vector<Trainee>& trainees) {
  std::vector<std::string> out;
  for (const auto& t : trainees) out.push_back(t.id);
  return out;
}

TEST_P(StoreTest, ApplyingTheSameCohortTwiceMakesNoNewGeneration) {
  auto store = open();
  auto first = store->applyCohort(makeCohort("demo", {"alice", "bob"}));
  ASSERT_TRUE(first.isOk()) << first.status().toString();
  EXPECT_TRUE(first->created);
  EXPECT_TRUE(first->changed);
  EXPECT_EQ(first->generation, 1);
  EXPECT_THAT(first->addedTrainees, ElementsAre("alice", "bob"));
  EXPECT_THAT(first->addedLabs, ElementsAre("demo.alice", "demo.bob"));

  auto labs = store->listLabs("demo");
  ASSERT_TRUE(labs.isOk());
  ASSERT_EQ(labs->size(), 2u);
  const LabRecord& alice = (*labs)[0];
  EXPECT_EQ(alice.labId, "demo.alice");
  EXPECT_EQ(alice.cohort, "demo");
  EXPECT_EQ(alice.trainee, "alice");
  EXPECT_EQ(alice.generation, 1);
  EXPECT_EQ(alice.desired, DesiredState::kAbsent);
  EXPECT_EQ(alice.phase, LabPhase::kPending);
  EXPECT_EQ(alice.provider, "local");
  EXPECT_EQ(alice.specJson, labSpec("demo", "alice"));
  EXPECT_EQ(alice.endpointsJson, "[]");
  EXPECT_TRUE(alice.lastError.isOk());
  EXPECT_FALSE(alice.removed);

  clock_.advance(std::chrono::minutes(5));
  auto again = store->applyCohort(makeCohort("demo", {"alice", "bob"}));
  ASSERT_TRUE(again.isOk());
  EXPECT_FALSE(again->created);
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->generation, 1);
  EXPECT_THAT(again->addedTrainees, IsEmpty());
  EXPECT_THAT(again->changedLabs, IsEmpty());
  auto cohort = store->getCohort("demo");
  ASSERT_TRUE(cohort.isOk());
  EXPECT_EQ(cohort->generation, 1);
  EXPECT_EQ(cohort->updatedAt, cohort->createdAt);  // nothing was written
}

TEST_P(StoreTest, AChangedApplyMakesANewGenerationAndReportsTheDiff) {
  auto store = open();
  ASSERT_TRUE(store->applyCohort(makeCohort("demo", {"alice", "bob", "carol"})).isOk());
  ASSERT_TRUE(store->setDesired({"demo.alice", "demo.bob", "demo.carol"}, DesiredState::kRunning).isOk());

  // bob leaves, dave joins, carol's lab changes, alice changes email.
  CohortApply next = makeCohort("demo", {"alice", "carol", "dave"});
  next.trainees[0].email = "alice@new.example.org";
  next.labs[1].specJson = labSpec("demo", "carol", "lab:2");

  auto preview = store->previewApply(next);
  ASSERT_TRUE(preview.isOk()) << preview.status().toString();
  EXPECT_EQ(preview->generation, 2);
  EXPECT_EQ(store->getCohort("demo")->generation, 1);  // a preview writes nothing
  EXPECT_EQ(store->listLabs("demo")->size(), 3u);

  auto out = store->applyCohort(next);
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_TRUE(out->changed);
  EXPECT_FALSE(out->created);
  EXPECT_EQ(out->generation, 2);
  EXPECT_THAT(out->addedTrainees, ElementsAre("dave"));
  EXPECT_THAT(out->removedTrainees, ElementsAre("bob"));
  EXPECT_THAT(out->updatedTrainees, ElementsAre("alice"));
  EXPECT_THAT(out->addedLabs, ElementsAre("demo.dave"));
  EXPECT_THAT(out->changedLabs, ElementsAre("demo.carol"));
  EXPECT_THAT(out->removedLabs, ElementsAre("demo.bob"));
  EXPECT_FALSE(out->templateChanged);
  EXPECT_FALSE(out->specChanged);
  // The preview said exactly this.
  EXPECT_EQ(preview->addedTrainees, out->addedTrainees);
  EXPECT_EQ(preview->removedTrainees, out->removedTrainees);
  EXPECT_EQ(preview->changedLabs, out->changedLabs);
  EXPECT_EQ(preview->removedLabs, out->removedLabs);

  auto alice = store->getLab("demo.alice");
  auto bob = store->getLab("demo.bob");
  auto carol = store->getLab("demo.carol");
  auto dave = store->getLab("demo.dave");
  ASSERT_TRUE(alice.isOk() && bob.isOk() && carol.isOk() && dave.isOk());
  EXPECT_EQ(alice->generation, 1);  // its spec did not change
  EXPECT_EQ(alice->desired, DesiredState::kRunning);
  EXPECT_EQ(carol->generation, 2);
  EXPECT_EQ(carol->specJson, labSpec("demo", "carol", "lab:2"));
  EXPECT_EQ(carol->desired, DesiredState::kRunning);
  EXPECT_EQ(dave->generation, 2);
  EXPECT_EQ(dave->desired, DesiredState::kAbsent);
  EXPECT_EQ(dave->phase, LabPhase::kPending);
  EXPECT_TRUE(bob->removed);  // kept until destroyed
  EXPECT_EQ(bob->desired, DesiredState::kAbsent);

  auto trainees = store->listTrainees("demo");
  ASSERT_TRUE(trainees.isOk());
  EXPECT_THAT(ids(*trainees), ElementsAre("alice", "carol", "dave"));
  EXPECT_EQ((*trainees)[0].email, "alice@new.example.org");

  // A removed lab cannot be brought back by `up`, only destroyed.
  Status up = store->setDesired({"demo.bob"}, DesiredState::kRunning);
  EXPECT_EQ(up.code(), Code::kConflict);
  EXPECT_THAT(up.message(), HasSubstr("demo.bob"));

  // Template and cohort spec changes are told apart.
  CohortApply third = next;
  third.snapshotHash = "sha256:other";
  third.snapshotJson = "{}";
  auto t = store->applyCohort(third);
  ASSERT_TRUE(t.isOk());
  EXPECT_TRUE(t->templateChanged);
  EXPECT_FALSE(t->specChanged);
  EXPECT_EQ(t->generation, 3);
  third.cohortSpecJson = R"({"leadTime":"30m"})";
  t = store->applyCohort(third);
  ASSERT_TRUE(t.isOk());
  EXPECT_FALSE(t->templateChanged);
  EXPECT_TRUE(t->specChanged);
  EXPECT_EQ(t->generation, 4);
  EXPECT_THAT(t->removedLabs, IsEmpty());  // bob was reported once, not again

  // bob comes back: his lab is in the cohort again, still desired absent.
  CohortApply back = makeCohort("demo", {"alice", "bob", "carol", "dave"});
  back.snapshotHash = third.snapshotHash;
  back.snapshotJson = third.snapshotJson;
  back.cohortSpecJson = third.cohortSpecJson;
  back.trainees[0].email = "alice@new.example.org";
  back.labs[2].specJson = labSpec("demo", "carol", "lab:2");
  auto b = store->applyCohort(back);
  ASSERT_TRUE(b.isOk());
  EXPECT_THAT(b->addedTrainees, ElementsAre("bob"));
  EXPECT_THAT(b->addedLabs, ElementsAre("demo.bob"));
  EXPECT_THAT(b->changedLabs, IsEmpty());
  EXPECT_FALSE(store->getLab("demo.bob")->removed);
  EXPECT_TRUE(store->setDesired({"demo.bob"}, DesiredState::kRunning).isOk());
}

TEST_P(StoreTest, MalformedAppliesAreRefusedWithoutWriting) {
  auto store = open();
  CohortApply dup = makeCohort("demo", {"alice", "alice"});
  auto r = store->applyCohort(dup);
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_THAT(r.status().message(), HasSubstr("\"alice\" appears twice"));

  CohortApply stranger = makeCohort("demo", {"alice"});
  stranger.labs.push_back(LabApply{"demo.zed", "zed", "{}"});
  r = store->applyCohort(stranger);
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_THAT(r.status().message(), HasSubstr("not in the roster"));
  EXPECT_EQ(store->getCohort("demo").status().code(), Code::kNotFound);

  ASSERT_TRUE(store->applyCohort(makeCohort("demo", {"alice"})).isOk());
  CohortApply thief = makeCohort("other", {"alice"});
  thief.labs[0].labId = "demo.alice";
  r = store->applyCohort(thief);
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_THAT(r.status().message(), HasSubstr("already used by cohort demo"));
  EXPECT_EQ(store->getCohort("other").status().code(), Code::kNotFound);
}

TEST_P(StoreTest, UnknownCohortsNameTheKnownOnes) {
  auto store = open();
  ASSERT_TRUE(store->applyCohort(makeCohort("web-201", {"a"})).isOk());
  ASSERT_TRUE(store->applyCohort(makeCohort("cyber-101", {"b"})).isOk());
  auto c = store->getCohort("cyber-102");
  EXPECT_EQ(c.status().code(), Code::kNotFound);
  EXPECT_EQ(c.status().message(), "no cohort \"cyber-102\" in the state (known: cyber-101, web-201)");
  EXPECT_EQ(store->listLabs("cyber-102").status().code(), Code::kNotFound);
  EXPECT_EQ(store->listTrainees("cyber-102").status().code(), Code::kNotFound);
  auto all = store->listCohorts();
  ASSERT_TRUE(all.isOk());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "cyber-101");
  EXPECT_EQ(store->listLabs()->size(), 2u);
}

TEST_P(StoreTest, ACohortIsDeletedOnlyOnceItsLabsAreDestroyed) {
  auto store = open();
  ASSERT_TRUE(store->applyCohort(makeCohort("demo", {"alice", "bob", "carol"})).isOk());
  ASSERT_TRUE(store->recordObserved("demo.alice", LabPhase::kReady, "res-1", "[]", 1).isOk());
  ASSERT_TRUE(store->recordObserved("demo.bob", LabPhase::kStopped, "res-2", "[]", 1).isOk());
  auto creds = generateCredentials("trainee", "darasa:demo.alice");
  ASSERT_TRUE(creds.isOk());
  ASSERT_TRUE(store->putCredentials("demo", "alice", *creds).isOk());
  auto op = store->beginOperation("demo.alice", "destroy");
  ASSERT_TRUE(op.isOk());

  Status s = store->deleteCohort("demo");
  EXPECT_EQ(s.code(), Code::kConflict);
  EXPECT_EQ(s.message(),
            "cohort demo still has 2 lab(s) that are not destroyed (demo.alice, demo.bob); run `darasa down demo` "
            "first");
  ASSERT_TRUE(store->endOperation(*op, Status::ok()).isOk());
  ASSERT_TRUE(store->markDestroyed("demo.alice").isOk());
  ASSERT_TRUE(store->markDestroyed("demo.bob").isOk());
  // carol's lab was never made: nothing to destroy.
  ASSERT_TRUE(store->deleteCohort("demo").isOk());
  EXPECT_EQ(store->getCohort("demo").status().code(), Code::kNotFound);
  EXPECT_EQ(store->getLab("demo.alice").status().code(), Code::kNotFound);
  EXPECT_FALSE(*store->hasCredentials("demo", "alice"));
  EXPECT_EQ(store->listOperations("demo.alice")->size(), 1u);  // history stays
  EXPECT_EQ(store->deleteCohort("demo").code(), Code::kNotFound);
}

// ---------------------------------------------------------------- labs

TEST_P(StoreTest, LabStateChangesAreRecorded) {
  auto store = open();
  ASSERT_TRUE(store->applyCohort(makeCohort("demo", {"alice", "bob"})).isOk());

  Status s = store->setDesired({"demo.alice", "demo.nobody"}, DesiredState::kRunning);
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("demo.nobody"));
  EXPECT_EQ(store->getLab("demo.alice")->desired, DesiredState::kAbsent);  // all or nothing
  ASSERT_TRUE(store->setDesired({"demo.alice", "demo.bob"}, DesiredState::kRunning).isOk());

  clock_.advance(std::chrono::seconds(10));
  ASSERT_TRUE(store->recordObserved("demo.alice", LabPhase::kCreating, "ctr-1",
                                    R"([{"name":"ssh","port":2201}])", 1).isOk());
  auto lab = store->getLab("demo.alice");
  ASSERT_TRUE(lab.isOk());
  EXPECT_EQ(lab->phase, LabPhase::kCreating);
  EXPECT_EQ(lab->resourceId, "ctr-1");
  EXPECT_EQ(lab->endpointsJson, R"([{"name":"ssh","port":2201}])");
  EXPECT_EQ(lab->observedGeneration, 1);
  EXPECT_EQ(lab->updatedAt, toUnixSeconds(clock_.now()));

  ASSERT_TRUE(store->recordError("demo.alice", unavailableError("engine not reachable")).isOk());
  ASSERT_TRUE(store->recordError("demo.alice", timeoutError("create took longer than 60s")).isOk());
  lab = store->getLab("demo.alice");
  EXPECT_EQ(lab->attempts, 2);
  EXPECT_EQ(lab->lastError.code(), Code::kTimeout);
  EXPECT_EQ(lab->lastError.message(), "create took longer than 60s");
  EXPECT_EQ(store->recordError("demo.alice", Status::ok()).code(), Code::kInvalid);

  const auto readyAt = clock_.now() + std::chrono::seconds(3);
  ASSERT_TRUE(store->markReady("demo.alice", readyAt).isOk());
  lab = store->getLab("demo.alice");
  EXPECT_EQ(lab->phase, LabPhase::kReady);
  EXPECT_EQ(lab->readyAt, toUnixSeconds(readyAt));
  EXPECT_EQ(lab->attempts, 0);
  EXPECT_TRUE(lab->lastError.isOk());

  ASSERT_TRUE(store->recordError("demo.bob", invalidError("image not found")).isOk());
  ASSERT_TRUE(store->clearError("demo.bob").isOk());
  EXPECT_TRUE(store->getLab("demo.bob")->lastError.isOk());
  EXPECT_EQ(store->getLab("demo.bob")->attempts, 0);

  EXPECT_EQ(store->forgetLab("demo.alice").code(), Code::kConflict);  // still there
  ASSERT_TRUE(store->markDestroyed("demo.alice").isOk());
  lab = store->getLab("demo.alice");
  EXPECT_EQ(lab->phase, LabPhase::kDestroyed);
  EXPECT_EQ(lab->resourceId, "");
  EXPECT_EQ(lab->endpointsJson, "[]");
  EXPECT_EQ(lab->observedGeneration, 0);
  EXPECT_EQ(lab->readyAt, 0);
  ASSERT_TRUE(store->forgetLab("demo.alice").isOk());
  EXPECT_EQ(store->getLab("demo.alice").status().code(), Code::kNotFound);
  EXPECT_THAT(*store->labIdsOfCohort("demo"), ElementsAre("demo.bob"));

  for (const auto& fn : {std::function<Status()>([&] { return store->markReady("x", clock_.now()); }),
                         std::function<Status()>([&] { return store->markDestroyed("x"); }),
                         std::function<Status()>([&] { return store->clearError("x"); }),
                         std::function<Status()>([&] { return store->forgetLab("x"); })})
    EXPECT_EQ(fn().code(), Code::kNotFound);
}

TEST_P(StoreTest, APendingLabWithACallInFlightIsNotForgotten) {
  auto store = open();
  ASSERT_TRUE(store->applyCohort(makeCohort("demo", {"alice"})).isOk());
  auto op = store->beginOperation("demo.alice", "create");
  ASSERT_TRUE(op.isOk());
  EXPECT_EQ(store->forgetLab("demo.alice").code(), Code::kConflict);
  ASSERT_TRUE(store->endOperation(*op, unavailableError("engine down")).isOk());
  EXPECT_TRUE(store->forgetLab("demo.alice").isOk());
}

// ---------------------------------------------------------------- journal

TEST_P(StoreTest, TheJournalKeepsOperationsInOrder) {
  auto store = open();
  std::vector<int64_t> opIds;
  for (int i = 0; i < 5; ++i) {
    auto id = store->beginOperation(i % 2 ? "demo.bob" : "demo.alice", "create", "step " + std::to_string(i));
    ASSERT_TRUE(id.isOk());
    opIds.push_back(*id);
    clock_.advance(std::chrono::seconds(1));
  }
  EXPECT_TRUE(std::is_sorted(opIds.begin(), opIds.end()));
  ASSERT_TRUE(store->endOperation(opIds[0], Status::ok()).isOk());
  ASSERT_TRUE(store->endOperation(opIds[3], quotaError("maxLabs 2 reached")).isOk());
  clock_.advance(std::chrono::seconds(1));

  auto all = store->listOperations();
  ASSERT_TRUE(all.isOk());
  ASSERT_EQ(all->size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ((*all)[i].id, opIds[i]);
  EXPECT_EQ((*all)[0].status, OperationStatus::kOk);
  EXPECT_EQ((*all)[0].finishedAt, toUnixSeconds(FakeClock::defaultStart()) + 5);
  EXPECT_EQ((*all)[0].startedAt, toUnixSeconds(FakeClock::defaultStart()));
  EXPECT_EQ((*all)[3].status, OperationStatus::kFailed);
  EXPECT_EQ((*all)[3].error.code(), Code::kQuota);
  EXPECT_EQ((*all)[3].error.message(), "maxLabs 2 reached");
  EXPECT_EQ((*all)[3].labId, "demo.bob");
  EXPECT_EQ((*all)[3].detail, "step 3");

  auto last2 = store->listOperations("", 2);
  ASSERT_TRUE(last2.isOk());
  ASSERT_EQ(last2->size(), 2u);
  EXPECT_EQ((*last2)[0].id, opIds[3]);
  EXPECT_EQ((*last2)[1].id, opIds[4]);

  auto bobs = store->listOperations("demo.bob");
  ASSERT_TRUE(bobs.isOk());
  ASSERT_EQ(bobs->size(), 2u);
  EXPECT_EQ((*bobs)[0].id, opIds[1]);

  auto pending = store->listPendingOperations();
  ASSERT_TRUE(pending.isOk());
  ASSERT_EQ(pending->size(), 3u);
  EXPECT_EQ((*pending)[0].id, opIds[1]);
  EXPECT_EQ((*pending)[1].id, opIds[2]);
  EXPECT_EQ((*pending)[2].id, opIds[4]);
  EXPECT_EQ((*pending)[0].finishedAt, 0);

  EXPECT_EQ(store->endOperation(opIds[0], Status::ok()).code(), Code::kConflict);
  EXPECT_EQ(store->endOperation(12345, Status::ok()).code(), Code::kNotFound);
}

// The intent row must be on disk before the provider is called: a process
// that dies right after beginOperation leaves it for the next run to find.
TEST_P(StoreTest, AnIntentSurvivesTheDeathOfItsProcess) {
  { open(); }
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = Store::open(location(), OpenMode::kMustExist);
    if (!store) ::_exit(2);
    auto id = (*store)->beginOperation("demo.alice", "create", "before the provider call");
    ::_exit(id.isOk() ? 0 : 3);  // no destructors, no clean close: a crash
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto store = open(OpenMode::kMustExist);
  auto pending = store->listPendingOperations();
  ASSERT_TRUE(pending.isOk());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].labId, "demo.alice");
  EXPECT_EQ((*pending)[0].detail, "before the provider call");
}

// ---------------------------------------------------------------- credentials

AuditFilter filter(std::string actor, std::string action = "", std::string subjectPrefix = "", int64_t since = 0) {
  AuditFilter f;
  f.actor = std::move(actor);
  f.action = std::move(action);
  f.subjectPrefix = std::move(subjectPrefix);
  f.since = since;
  return f;
}

TEST_P(StoreTest, CredentialsAreEncryptedAtRestAndEveryReadIsAudited) {
  auto store = open();
  ASSERT_TRUE(store->applyCohort(makeCohort("demo", {"alice", "bob"})).isOk());
  auto creds = generateCredentials("trainee", "darasa:demo.alice");
  ASSERT_TRUE(creds.isOk());
  EXPECT_FALSE(*store->hasCredentials("demo", "alice"));
  ASSERT_TRUE(store->putCredentials("demo", "alice", *creds).isOk());
  EXPECT_TRUE(*store->hasCredentials("demo", "alice"));
  struct stat st {};
  ASSERT_EQ(::stat(store->keyFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Neither secret is anywhere in the database.
  if (onPostgres()) {
    EXPECT_EQ(raw().text("SELECT count(*) FROM credentials WHERE position(convert_to('" + creds->password.reveal() +
                         "', 'UTF8') IN password_blob) > 0 OR position(convert_to('BEGIN OPENSSH', 'UTF8') IN "
                         "private_key_blob) > 0"),
              "0");
    EXPECT_EQ(raw().text("SELECT public_key FROM credentials"), creds->publicKey);  // public: stored as is
  } else {
    std::string onDisk = readFile(dbFile()) + readFile(fs::path(dir_.path()) / "darasa.db-wal");
    EXPECT_EQ(onDisk.find(creds->password.reveal()), std::string::npos);
    EXPECT_EQ(onDisk.find("BEGIN OPENSSH PRIVATE KEY"), std::string::npos);
    EXPECT_NE(onDisk.find(creds->publicKey), std::string::npos);  // public: stored as is
  }

  clock_.advance(std::chrono::minutes(1));
  auto read = store->readCredentials("demo", "alice", "cli:instructor");
  ASSERT_TRUE(read.isOk()) << read.status().toString();
  EXPECT_EQ(read->user, "trainee");
  EXPECT_EQ(read->password, creds->password);
  EXPECT_EQ(read->privateKey, creds->privateKey);
  EXPECT_EQ(read->publicKey, creds->publicKey);
  EXPECT_EQ(read->passwordHash, creds->passwordHash);

  auto missing = store->readCredentials("demo", "bob", "token:portal");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);

  auto audit = store->listAudit();
  ASSERT_TRUE(audit.isOk());
  ASSERT_EQ(audit->size(), 2u);
  EXPECT_EQ((*audit)[0].actor, "cli:instructor");
  EXPECT_EQ((*audit)[0].action, "read-credentials");
  EXPECT_EQ((*audit)[0].subject, "demo/alice");
  EXPECT_EQ((*audit)[0].detail, "ok");
  EXPECT_EQ((*audit)[0].at, toUnixSeconds(clock_.now()));
  EXPECT_EQ((*audit)[1].actor, "token:portal");
  EXPECT_EQ((*audit)[1].subject, "demo/bob");
  EXPECT_THAT((*audit)[1].detail, HasSubstr("not found"));

  auto listed = store->listCredentials("demo");
  ASSERT_TRUE(listed.isOk());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].trainee, "alice");
  EXPECT_EQ((*listed)[0].publicKey, creds->publicKey);
  EXPECT_EQ(store->listAudit()->size(), 2u);  // listing is not a read of secrets

  EXPECT_EQ(store->putCredentials("demo", "zed", *creds).code(), Code::kNotFound);
  EXPECT_EQ(store->putCredentials("nope", "alice", *creds).code(), Code::kNotFound);

  // Another Store (another command) reads them with the same key file.
  store.reset();
  auto again = open(OpenMode::kMustExist);
  auto read2 = again->readCredentials("demo", "alice", "cli:admin");
  ASSERT_TRUE(read2.isOk());
  EXPECT_EQ(read2->password, creds->password);
}

TEST_P(StoreTest, DamagedOrUnreadableCredentialsFailWithoutLeakingSecrets) {
  auto creds = generateCredentials("trainee", "darasa:demo.alice");
  ASSERT_TRUE(creds.isOk());
  {
    auto store = open();
    ASSERT_TRUE(store->applyCohort(makeCohort("demo", {"alice", "bob"})).isOk());
    ASSERT_TRUE(store->putCredentials("demo", "alice", *creds).isOk());
    ASSERT_TRUE(store->putCredentials("demo", "bob", *creds).isOk());
  }
  // One byte of alice's encrypted password changes.
  if (onPostgres()) {
    raw().exec("UPDATE credentials SET password_blob = set_byte(password_blob, 30, get_byte(password_blob, 30) # 32) "
               "WHERE trainee = 'alice'");
  } else {
    RawDb(dbFile()).flipBlobByte("SELECT password_blob FROM credentials WHERE trainee = 'alice'",
                                 "UPDATE credentials SET password_blob = ? WHERE trainee = 'alice'", 30);
  }
  auto store = open(OpenMode::kMustExist);
  auto read = store->readCredentials("demo", "alice", "cli:admin");
  ASSERT_FALSE(read.isOk());
  EXPECT_EQ(read.status().code(), Code::kInternal);
  EXPECT_THAT(read.status().message(), HasSubstr("cannot decrypt: wrong key or corrupted"));
  EXPECT_EQ(read.status().message().find(creds->password.reveal()), std::string::npos);
  auto audit = store->listAudit(filter("", "read-credentials"));
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_THAT((*audit)[0].detail, HasSubstr("cannot decrypt"));
  ASSERT_TRUE(store->readCredentials("demo", "bob", "cli:admin").isOk());

  // The key file is lost: no new key is made over stored credentials.
  store.reset();
  fs::remove(fs::path(dir_.path()) / "vault.key");
  store = open(OpenMode::kMustExist);
  read = store->readCredentials("demo", "bob", "cli:admin");
  ASSERT_FALSE(read.isOk());
  EXPECT_THAT(read.status().message(), HasSubstr("vault.key is missing"));
  EXPECT_FALSE(fs::exists(fs::path(dir_.path()) / "vault.key"));
  EXPECT_EQ(store->putCredentials("demo", "alice", *creds).code(), Code::kInternal);
  EXPECT_FALSE(fs::exists(fs::path(dir_.path()) / "vault.key"));
}

TEST_P(StoreTest, AuditFiltersByActorActionSubjectAndTime) {
  auto store = open();
  ASSERT_TRUE(store->appendAudit("cli:ann", "apply", "demo", "generation 1").isOk());
  clock_.advance(std::chrono::hours(1));
  ASSERT_TRUE(store->appendAudit("cli:ben", "up", "demo", "").isOk());
  ASSERT_TRUE(store->appendAudit("cli:ann", "up", "demo_x/a", "").isOk());
  ASSERT_TRUE(store->appendAudit("cli:ann", "down", "other", "").isOk());

  EXPECT_EQ(store->listAudit(filter("cli:ann"))->size(), 3u);
  EXPECT_EQ(store->listAudit(filter("", "up"))->size(), 2u);
  // '_' is not a wildcard: "demo_" matches only demo_x/a.
  EXPECT_EQ(store->listAudit(filter("", "", "demo_"))->size(), 1u);
  EXPECT_EQ(store->listAudit(filter("", "", "demo"))->size(), 3u);
  EXPECT_EQ(store->listAudit(filter("", "", "", toUnixSeconds(clock_.now())))->size(), 3u);
  auto last = store->listAudit({}, 1);
  ASSERT_EQ(last->size(), 1u);
  EXPECT_EQ((*last)[0].action, "down");
  EXPECT_EQ(store->appendAudit("x", "", "y").code(), Code::kInvalid);
}

// ---------------------------------------------------------------- concurrency

TEST_P(StoreTest, ConcurrentWritersFromThreadsAllSucceed) {
  auto store = open();
  std::vector<std::string> trainees;
  for (int i = 0; i < 8; ++i) trainees.push_back("t" + std::to_string(i));
  ASSERT_TRUE(store->applyCohort(makeCohort("demo", trainees)).isOk());
  constexpr int kPerThread = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const std::string lab = "demo.t" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        auto id = store->beginOperation(lab, "create");
        if (!id || !store->recordError(lab, unavailableError("try " + std::to_string(i))) ||
            !store->endOperation(*id, Status::ok()) || !store->appendAudit("t", "x", lab) ||
            !store->getLab(lab).isOk() || !store->listLabs("demo").isOk())
          ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store->listOperations("", 10000)->size(), 8u * kPerThread);
  EXPECT_THAT(*store->listPendingOperations(), IsEmpty());
  EXPECT_EQ(store->listAudit({}, 10000)->size(), 8u * kPerThread);
  auto labs = store->listLabs("demo");
  ASSERT_TRUE(labs.isOk());
  for (const auto& lab : *labs) EXPECT_EQ(lab.attempts, kPerThread);
}

TEST_P(StoreTest, SeveralProcessesWriteTheSameStateWithoutErrorsOrDamage) {
  {
    auto store = open();
    ASSERT_TRUE(store->applyCohort(makeCohort("demo", {"a", "b", "c", "d"})).isOk());
  }
  constexpr int kProcesses = 4;
  constexpr int kPerProcess = 30;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto store = Store::open(location(), OpenMode::kMustExist);
      if (!store) ::_exit(10);
      const std::string lab = std::string("demo.") + "abcd"[p];
      for (int i = 0; i < kPerProcess; ++i) {
        auto id = (*store)->beginOperation(lab, "create");
        if (!id) ::_exit(11);
        if (!(*store)->recordObserved(lab, LabPhase::kCreating, "r" + std::to_string(i), "[]", 1)) ::_exit(12);
        if (!(*store)->endOperation(*id, Status::ok())) ::_exit(13);
        if (!(*store)->appendAudit("proc", "x", lab)) ::_exit(14);
        if (i % 10 == 0 && !(*store)->applyCohort(makeCohort("demo", {"a", "b", "c", "d"}))) ::_exit(15);
      }
      store->reset();
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "a writer failed (exit code says where)";
  }
  auto store = open(OpenMode::kMustExist);
  EXPECT_EQ(store->listOperations("", 100000)->size(), size_t{kProcesses * kPerProcess});
  EXPECT_EQ(store->listAudit({}, 100000)->size(), size_t{kProcesses * kPerProcess});
  auto labs = store->listLabs("demo");
  ASSERT_TRUE(labs.isOk());
  for (const auto& lab : *labs) EXPECT_EQ(lab.resourceId, "r" + std::to_string(kPerProcess - 1));
  if (!onPostgres()) {
    EXPECT_EQ(RawDb(dbFile()).text("PRAGMA integrity_check"), "ok");
  }
}

TEST_P(StoreTest, ProcessesCreatingAFreshStateAtOnceAllSucceed) {
  StateLocation state = location();  // a database with no schema yet
  state.dir = fs::path(dir_.path()) / "fresh";
  std::vector<pid_t> children;
  for (int p = 0; p < 4; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto store = Store::open(state, OpenMode::kCreate);
      if (!store) {
        std::fprintf(stderr, "%s\n", store.status().toString().c_str());
        ::_exit(10);
      }
      ::_exit((*store)->applyCohort(makeCohort("c" + std::to_string(p), {"a"})).isOk() ? 0 : 11);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  auto store = Store::open(state, OpenMode::kMustExist, clock_);
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  EXPECT_EQ((*store)->listCohorts()->size(), 4u);
}

// ---------------------------------------------------------------- scale

// How fast is bench/bench_provision_service's business (timing targets live
// in benchmarks, never in unit tests); this checks that 10,000 labs behave.
TEST_P(StoreTest, TenThousandLabsApplyListAndReapplyOneChange) {
  auto store = open();
  std::vector<std::string> trainees;
  for (int i = 0; i < 10000; ++i) trainees.push_back("trainee-" + std::to_string(i));
  CohortApply big = makeCohort("big", trainees);
  // Specs of a realistic size (~1 KiB each).
  for (auto& lab : big.labs) lab.specJson.insert(lab.specJson.size() - 1, R"(,"pad":")" + std::string(900, 'x') + "\"");

  using SteadyClock = std::chrono::steady_clock;
  auto t0 = SteadyClock::now();
  auto out = store->applyCohort(big);
  auto applied = SteadyClock::now() - t0;
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ(out->addedLabs.size(), 10000u);

  t0 = SteadyClock::now();
  auto labs = store->listLabs("big");
  auto listed = SteadyClock::now() - t0;
  ASSERT_TRUE(labs.isOk());
  ASSERT_EQ(labs->size(), 10000u);

  // One lab changes: one lab reported, the rest keep their generation.
  big.labs[4242].specJson = labSpec("big", big.labs[4242].trainee, "lab:2");
  t0 = SteadyClock::now();
  auto again = store->applyCohort(big);
  auto reapplied = SteadyClock::now() - t0;
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(again->generation, 2);
  EXPECT_THAT(again->changedLabs, ElementsAre(big.labs[4242].labId));
  EXPECT_EQ(store->getLab(big.labs[0].labId)->generation, 1);

  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::printf("10k labs: apply %lld ms, listLabs %lld ms, re-apply %lld ms\n", static_cast<long long>(ms(applied)),
              static_cast<long long>(ms(listed)), static_cast<long long>(ms(reapplied)));
}

}  // namespace
}  // namespace darasa
