// PostgreSQL for tests and benchmarks: real servers made by
// scripts/postgres-service.sh (initdb in a temporary directory, a unix
// socket there, no TCP port). The shared cluster serves every test process
// of a run, each test in a database of its own (created here, dropped at
// the end); it stops and removes itself once no test has used it for a
// minute. A test that restarts or stops the server makes a private one.
// Not thread-safe per object.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace darasa::testing {

// Whether engine tests must fail instead of skipping (DARASA_REQUIRE_ENGINE=1, as in CI).
bool engineRequired();

class PostgresDatabase;

class PostgresCluster {
 public:
  // The shared cluster, started when it does not run; nullptr with *why
  // when PostgreSQL cannot run here. This process holds it until it exits.
  static PostgresCluster* shared(std::string* why);
  // A cluster of this test alone, in a fresh directory; stopped and removed
  // at destruction.
  static std::unique_ptr<PostgresCluster> makePrivate(std::string* why);
  ~PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // A new empty database; nullptr with *why on failure.
  std::unique_ptr<PostgresDatabase> createDatabase(std::string* why);
  std::string url(const std::string& database) const;
  const std::string& dir() const { return dir_; }

  // pg_ctl restart / stop / start (private clusters); false on failure.
  bool restart();
  bool stop();
  bool start();

 private:
  PostgresCluster(std::string dir, bool owned) : dir_(std::move(dir)), owned_(owned) {}
  bool service(const std::string& command, std::string* output = nullptr) const;
  std::string dir_;
  bool owned_;
  int usersFd_ = -1;  // the shared flock that keeps the shared cluster alive
};

class PostgresDatabase {
 public:
  PostgresDatabase(const PostgresCluster& cluster, std::string name) : cluster_(cluster), name_(std::move(name)) {}
  ~PostgresDatabase();  // drops it (closing whatever still connects)
  PostgresDatabase(const PostgresDatabase&) = delete;
  PostgresDatabase& operator=(const PostgresDatabase&) = delete;

  const std::string& name() const { return name_; }
  std::string url() const { return cluster_.url(name_); }
  // Runs sql (no parameters) on this database: the first column of the
  // first row ("" if none); *error (when given) gets the server's message.
  std::string query(const std::string& sql, std::string* error = nullptr) const;
  // The first column of every row.
  std::vector<std::string> column(const std::string& sql, std::string* error = nullptr) const;

 private:
  const PostgresCluster& cluster_;
  std::string name_;
};

}  // namespace darasa::testing
