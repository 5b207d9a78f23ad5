// What the store's test suites share: a state on either backend (SQLite in
// a temporary directory, or a fresh database on the shared throwaway
// PostgreSQL server, tests/support/postgres.h), a fake clock, and raw SQL on
// the state's database the way another program would see it. Suites are
// parametrised over both backends (DARASA_STORE_BACKENDS), so that every
// store behaviour is proved on SQLite and on PostgreSQL; tests of SQLite
// files as such (headers, WAL, damaged pages) use SqliteStoreFixture.
#pragma once

#include <sqlite3.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fakes/fake_clock.h"
#include "provisioner/store.h"
#include "support/command.h"
#include "support/postgres.h"

namespace darasa {

enum class Backend { kSqlite, kPostgres };

inline std::string backendName(Backend b) { return b == Backend::kSqlite ? "Sqlite" : "Postgres"; }

// A cohort of `trainees` (names "Name <id>", emails <id>@example.org) with
// one lab "<name>.<id>" each, template "t", provider "fake"; each lab's spec
// is labSpec(id), by default {"t":"<id>"}.
inline CohortApply testCohort(const std::string& name, const std::vector<std::string>& trainees,
                              const std::function<std::string(const std::string&)>& labSpec = {}) {
  CohortApply a;
  a.name = name;
  a.templateName = "t";
  a.snapshotJson = "{}";
  a.snapshotHash = "sha256:0";
  a.cohortSpecJson = "{}";
  a.provider = "fake";
  for (const auto& id : trainees) {
    a.trainees.push_back(Trainee{id, "Name " + id, id + "@example.org"});
    a.labs.push_back(LabApply{name + "." + id, id, labSpec ? labSpec(id) : "{\"t\":\"" + id + "\"}"});
  }
  return a;
}

// Raw SQL on a state's database (no darasa code in between).
class RawState {
 public:
  RawState(std::filesystem::path sqliteFile, const testing::PostgresDatabase* pg)
      : file_(std::move(sqliteFile)), pg_(pg) {}
  // Runs statements; fails the test on an error.
  void exec(const std::string& sql) const {
    if (pg_) {
      std::string error;
      pg_->query(sql, &error);
      EXPECT_EQ(error, "") << "in " << sql;
      return;
    }
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(file_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "") << " in " << sql;
    sqlite3_free(err);
    sqlite3_close(db);
  }
  // The first column of every row, as text.
  std::vector<std::string> column(const std::string& sql) const {
    if (pg_) {
      std::string error;
      auto rows = pg_->column(sql, &error);
      EXPECT_EQ(error, "") << "in " << sql;
      return rows;
    }
    std::vector<std::string> out;
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(file_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db) << " in " << sql;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      out.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }
  std::string text(const std::string& sql) const {
    auto rows = column(sql);
    return rows.empty() ? std::string() : rows.front();
  }
  int64_t integer(const std::string& sql) const { return std::stoll(text(sql)); }
  bool postgres() const { return pg_ != nullptr; }

 private:
  std::filesystem::path file_;
  const testing::PostgresDatabase* pg_;
};

class StoreFixture : public ::testing::Test {
 protected:
  virtual Backend backend() const = 0;

  void SetUp() override {
    if (backend() != Backend::kPostgres) return;
    std::string why;
    auto* cluster = testing::PostgresCluster::shared(&why);
    if (!cluster) {
      if (testing::engineRequired()) FAIL() << why;
      GTEST_SKIP() << why;
    }
    pg_ = cluster->createDatabase(&why);
    ASSERT_TRUE(pg_) << why;
  }

  StateLocation location() const {
    StateLocation l;
    l.dir = dir_.path();
    if (pg_) l.url = pg_->url();
    return l;
  }
  std::unique_ptr<Store> open(OpenMode mode = OpenMode::kCreate) {
    auto store = Store::open(location(), mode, clock_);
    EXPECT_TRUE(store.isOk()) << store.status().toString();
    return store.isOk() ? std::move(store.value()) : nullptr;
  }
  RawState raw() const { return RawState(dbFile(), pg_.get()); }
  std::filesystem::path dbFile() const { return std::filesystem::path(dir_.path()) / "darasa.db"; }
  bool onPostgres() const { return backend() == Backend::kPostgres; }

  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<testing::PostgresDatabase> pg_;
};

// A suite run on both backends: derive `class X : public BackendFixture {}`,
// write TEST_P(X, ...), and DARASA_STORE_BACKENDS(X).
class BackendFixture : public StoreFixture, public ::testing::WithParamInterface<Backend> {
 protected:
  Backend backend() const override { return GetParam(); }
};

class SqliteStoreFixture : public StoreFixture {
 protected:
  Backend backend() const override { return Backend::kSqlite; }
};

#define DARASA_STORE_BACKENDS(Suite)                                                                     \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite, ::testing::Values(Backend::kSqlite, Backend::kPostgres), \
                           [](const ::testing::TestParamInfo<Backend>& i) { return backendName(i.param); })

}  // namespace darasa
