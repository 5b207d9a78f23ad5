#include "support/postgres.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "support/command.h"

namespace darasa::testing {

namespace fs = std::filesystem;

bool engineRequired() {
  const char* v = std::getenv("DARASA_REQUIRE_ENGINE");
  return v && std::string(v) == "1";
}

namespace {

std::string serviceScript() { return std::string(DARASA_SOURCE_DIR) + "/scripts/postgres-service.sh"; }

std::string sharedDir() {
  const char* d = std::getenv("DARASA_TEST_POSTGRES_DIR");
  if (d && *d) return d;
  return "/tmp/darasa-test-postgres-" + std::to_string(::getuid());
}

// Runs sql on `url`: the first column of every row.
std::vector<std::string> runQuery(const std::string& url, const std::string& sql, std::string* error) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::vector<std::string> out;
  if (error) error->clear();
  if (PQstatus(conn) != CONNECTION_OK) {
    if (error) *error = PQerrorMessage(conn);
    PQfinish(conn);
    return out;
  }
  PGresult* r = PQexec(conn, sql.c_str());
  auto st = PQresultStatus(r);
  if (st == PGRES_TUPLES_OK && PQnfields(r) > 0)
    for (int i = 0; i < PQntuples(r); ++i) out.emplace_back(PQgetvalue(r, i, 0));
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && error) *error = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(conn);
  return out;
}

}  // namespace

bool PostgresCluster::service(const std::string& command, std::string* output) const {
  auto r = runCommand({"bash", serviceScript(), command, "--dir", dir_}, {}, 120);
  if (output) *output = r.out + r.err;
  return r.exitCode == 0;
}

PostgresCluster* PostgresCluster::shared(std::string* why) {
  static std::mutex mu;
  static PostgresCluster* cluster = nullptr;
  static std::string failure;
  std::lock_guard lk(mu);
  if (cluster) return cluster;
  if (!failure.empty()) {
    *why = failure;
    return nullptr;
  }
  auto c = new PostgresCluster(sharedDir(), false);
  // Hold the shared flock first (the watcher stops the cluster only when
  // nobody holds it), on the file that is there now: the watcher may have
  // removed the directory just before.
  for (int attempt = 0; attempt < 5 && c->usersFd_ < 0; ++attempt) {
    std::error_code ec;
    fs::create_directories(c->dir_, ec);
    std::string lock = c->dir_ + "/users.lock";
    int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) continue;
    ::flock(fd, LOCK_SH);
    struct stat a {}, b {};
    if (::fstat(fd, &a) == 0 && ::stat(lock.c_str(), &b) == 0 && a.st_ino == b.st_ino) {
      c->usersFd_ = fd;
    } else {
      ::close(fd);
    }
  }
  std::string out;
  auto r = runCommand({"bash", serviceScript(), "start", "--dir", c->dir_, "--idle-exit", "60"}, {}, 180);
  if (r.exitCode != 0 || c->usersFd_ < 0) {
    failure = "PostgreSQL did not start (scripts/postgres-service.sh start): " + r.out + r.err;
    delete c;
    *why = failure;
    return nullptr;
  }
  cluster = c;  // lives until the process exits: its flock keeps the cluster up
  return cluster;
}

std::unique_ptr<PostgresCluster> PostgresCluster::makePrivate(std::string* why) {
  std::string tmpl = (fs::temp_directory_path() / "darasa-pg-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) {
    *why = "mkdtemp failed";
    return nullptr;
  }
  std::unique_ptr<PostgresCluster> c(new PostgresCluster(tmpl, true));
  ::chmod(tmpl.c_str(), 0755);
  std::string out;
  if (!c->service("start", &out)) {
    *why = "PostgreSQL did not start (scripts/postgres-service.sh start): " + out;
    return nullptr;
  }
  return c;
}

PostgresCluster::~PostgresCluster() {
  if (owned_) service("stop");
  if (usersFd_ >= 0) ::close(usersFd_);
}

std::string PostgresCluster::url(const std::string& database) const {
  return "postgresql:///" + database + "?host=" + dir_ + "&user=postgres";
}

std::unique_ptr<PostgresDatabase> PostgresCluster::createDatabase(std::string* why) {
  static std::atomic<int> counter{0};
  std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  std::string error;
  runQuery(url("postgres"), "CREATE DATABASE " + name + " TEMPLATE template0", &error);
  if (!error.empty()) {
    *why = "CREATE DATABASE " + name + ": " + error;
    return nullptr;
  }
  return std::make_unique<PostgresDatabase>(*this, name);
}

bool PostgresCluster::restart() { return service("restart"); }

bool PostgresCluster::stop() {
  auto b = runCommand({"bash", "-c",
                       "b=$(pg_config --bindir); d='" + dir_ +
                           "'; if [ $(id -u) -eq 0 ]; then cd / && runuser -u postgres -- $b/pg_ctl -D $d/data -m fast -w stop; "
                           "else $b/pg_ctl -D $d/data -m fast -w stop; fi"},
                      {}, 60);
  return b.exitCode == 0;
}

bool PostgresCluster::start() { return service("start"); }

PostgresDatabase::~PostgresDatabase() {
  std::string error;
  runQuery(cluster_.url("postgres"), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)", &error);
}

std::string PostgresDatabase::query(const std::string& sql, std::string* error) const {
  auto rows = runQuery(url(), sql, error);
  return rows.empty() ? std::string() : rows.front();
}

std::vector<std::string> PostgresDatabase::column(const std::string& sql, std::string* error) const {
  return runQuery(url(), sql, error);
}

}  // namespace darasa::testing
