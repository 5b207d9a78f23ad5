// Store: opening the state, schema migrations, templates and cohorts.
// Labs and the journal are in store_labs.cpp, credentials and audit in
// store_secrets.cpp.
#include "provisioner/store.h"

#include <thread>

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

#include "migrations.h"
#include "postgres.h"
#include "sqlite.h"
#include "store_impl.h"

namespace darasa {
namespace fs = std::filesystem;
using sql::Db;
using sql::Tx;

namespace store_detail {

std::string joinNames(const std::vector<std::string>& names, size_t max) {
  if (names.empty()) return "(none)";
  std::string out;
  for (size_t i = 0; i < names.size() && i < max; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > max) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

std::vector<std::string> queryNames(Db& db, std::string_view sql) {
  std::vector<std::string> names;
  auto stmt = db.prepare(sql);
  if (!stmt) return names;
  for (;;) {
    auto row = stmt->step();
    if (!row || !*row) break;
    names.push_back(stmt->text(0));
  }
  return names;
}

Status requireCohort(Db& db, const std::string& cohort) {
  auto stmt = db.prepare("SELECT 1 FROM cohorts WHERE name = ?");
  if (!stmt) return stmt.status();
  stmt->bind(1, cohort);
  auto row = stmt->step();
  if (!row) return row.status();
  if (*row) return Status::ok();
  return notFoundError("no cohort \"" + cohort + "\" in the state (known: " +
                       joinNames(queryNames(db, "SELECT name FROM cohorts ORDER BY name")) + ")");
}

std::string codeText(const Status& s) { return s.isOk() ? "" : std::string(codeName(s.code())); }

Status statusFrom(const std::string& code, const std::string& message) {
  if (code.empty()) return Status::ok();
  auto c = codeFromName(code);
  return Status(c && *c != Code::kOk ? *c : Code::kInternal, message);
}

}  // namespace store_detail

using namespace store_detail;

// ---- where the state lives

fs::path defaultStateDir() {
  if (const char* home = std::getenv("DARASA_HOME"); home && *home) return fs::path(home);
  // XDG: a relative XDG_DATA_HOME is invalid and must be ignored.
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg == '/') return fs::path(xdg) / "darasa";
  const char* home = std::getenv("HOME");
  std::string h = home && *home ? home : "";
  if (h.empty()) {
    if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) h = pw->pw_dir;
  }
  if (h.empty()) h = ".";
  return fs::path(h) / ".local" / "share" / "darasa";
}

// ---- opening: SQLite files

namespace {

constexpr int kBusyTimeoutMs = 15000;

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

Status notModified(const fs::path& file, const std::string& problem) {
  return internalError("state database " + file.string() + " " + problem +
                       "; darasa did not modify it. Restore it from a backup, or move it away to "
                       "start with an empty state");
}

// Cheap checks before SQLite touches the file: SQLite would report a
// truncated file only when a missing page is read, maybe in the middle of
// some later command.
Status checkHeader(const fs::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == EACCES) return deniedError("cannot read state database " + file.string() + ": " + std::strerror(errno));
    return internalError("cannot read state database " + file.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalidError("state database " + file.string() + " is not a regular file");
  }
  unsigned char h[100];
  ssize_t n = ::pread(fd, h, sizeof h, 0);
  int readErrno = errno;
  ::close(fd);
  if (n < 0) return internalError("cannot read state database " + file.string() + ": " + std::strerror(readErrno));
  if (st.st_size == 0) return Status::ok();  // a database not written yet
  if (n < static_cast<ssize_t>(sizeof h) || std::memcmp(h, "SQLite format 3", 16) != 0)
    return notModified(file, "is not an SQLite database (damaged or some other file)");
  uint32_t pageSize = (uint32_t{h[16]} << 8) | h[17];
  if (pageSize == 1) pageSize = 65536;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) != 0)
    return notModified(file, "has a damaged header (page size " + std::to_string(pageSize) + ")");
  uint32_t changeCounter = be32(h + 24), pages = be32(h + 28), validFor = be32(h + 92);
  std::error_code ec;
  auto walSize = fs::file_size(fs::path(file.string() + "-wal"), ec);
  if (ec) walSize = 0;
  // The in-header size is trusted only when written by a recent SQLite
  // (validFor == changeCounter); with a WAL left behind, the WAL may still
  // hold pages that a checkpoint has not copied in, so do not judge then.
  uint64_t expected = uint64_t{pageSize} * pages;
  if (pages > 0 && changeCounter == validFor && walSize == 0 && static_cast<uint64_t>(st.st_size) < expected)
    return notModified(file, "is truncated (" + std::to_string(st.st_size) + " bytes, its header says " +
                                 std::to_string(expected) + ")");
  return Status::ok();
}

bool hasData(const fs::path& file) {
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (!ec && size > 0) return true;
  auto wal = fs::file_size(fs::path(file.string() + "-wal"), ec);
  return !ec && wal > 0;
}

Status makeStateDir(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return Status::ok();
  if (!dir.parent_path().empty()) fs::create_directories(dir.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return deniedError("cannot create state directory " + dir.string() + ": " + std::strerror(errno));
  if (!fs::is_directory(dir, ec)) return invalidError("state path " + dir.string() + " is not a directory");
  return Status::ok();
}

// Created by us with 0600 before SQLite opens it: the database holds
// personal data and password hashes (SQLite gives -wal/-shm the same mode).
Status createPrivateFile(const fs::path& file) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return Status::ok();  // made by a concurrent darasa
    return deniedError("cannot create state database " + file.string() + ": " + std::strerror(errno));
  }
  ::fchmod(fd, 0600);
  ::close(fd);
  return Status::ok();
}

}  // namespace

// ---- open

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const fs::path& Store::dir() const { return impl_->location.dir; }
fs::path Store::databaseFile() const { return impl_->location.dir / "darasa.db"; }
fs::path Store::keyFile() const { return impl_->location.keyFile; }

namespace {

Status newerSchema(const sql::Db& db, int version) {
  return notSupportedError(db.where() + " has schema version " + std::to_string(version) +
                           ", newer than this darasa knows (" + std::to_string(Store::kSchemaVersion) +
                           "); use a newer darasa. The database was not modified");
}

Result<std::unique_ptr<sql::Db>> openSqlite(const fs::path& dir, OpenMode mode) {
  const fs::path file = dir / "darasa.db";
  std::error_code ec;
  const bool exists = fs::exists(file, ec);
  if (mode == OpenMode::kMustExist) {
    if (!exists || !hasData(file))
      return notFoundError("no darasa state in " + dir.string() + " (run `darasa apply` first, or pass --state)");
  } else {
    Status s = makeStateDir(dir);
    if (!s) return s;
    if (!exists) {
      s = createPrivateFile(file);
      if (!s) return s;
    }
  }
  Status s = checkHeader(file);
  if (!s) return s;

  auto db = sqlite::Db::open(file, SQLITE_OPEN_READWRITE);
  if (!db) return db.status();
  sqlite3_busy_timeout((*db)->handle(), kBusyTimeoutMs);

  // Only reads until the version is known to be ours: a database from a
  // newer darasa, or not darasa's, is left exactly as it is. Both reads in
  // one snapshot, or a concurrent first migration could look like a foreign
  // schema.
  auto readTx = Tx::begin(**db, sql::TxKind::kRead);
  if (!readTx) return readTx.status();
  auto version = migrations::currentVersion(**db);
  if (!version) return version.status();
  if (*version > Store::kSchemaVersion) return newerSchema(**db, *version);
  s = readTx->commit();
  if (!s) return s;

  {
    auto stmt = (*db)->prepare("PRAGMA journal_mode = WAL");
    if (!stmt) return stmt.status();
    // Switching to WAL needs an exclusive lock, and SQLite does not always
    // call the busy handler for it: when several processes create a fresh
    // state at once, retry here for as long as the busy timeout would wait.
    auto row = stmt->step();
    for (int waited = 0; !row && row.status().code() == Code::kUnavailable && waited < kBusyTimeoutMs;
         waited += 10) {
      stmt->reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      row = stmt->step();
    }
    if (!row) return row.status();
    std::string journal = *row ? stmt->text(0) : "";
    if (journal != "wal")
      return internalError("state database " + file.string() + " cannot use write-ahead logging (journal mode \"" +
                           journal + "\"); is it on a network filesystem?");
  }
  // NORMAL: commits survive a crash of the process; what must also survive
  // a power cut commits with sql::TxKind::kDurableWrite (see sqlite.h).
  s = (*db)->exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;");
  if (!s) return s;
  if (*version < Store::kSchemaVersion) {
    s = migrations::migrate(**db);
    if (!s) return s;
  }
  return std::unique_ptr<sql::Db>(std::move(*db));
}

Result<std::unique_ptr<sql::Db>> openPostgres(const std::string& url, OpenMode mode) {
  auto conn = postgres::Connection::connect(url, "darasa");
  if (!conn) return conn.status();
  auto db = std::make_unique<postgres::Db>(std::move(*conn));
  int version = 0;
  {
    auto readTx = Tx::begin(*db, sql::TxKind::kRead);
    if (!readTx) return readTx.status();
    auto v = migrations::currentVersion(*db);
    if (!v) return v.status();
    version = *v;
  }
  if (version > Store::kSchemaVersion) return newerSchema(*db, version);
  if (version == 0 && mode == OpenMode::kMustExist)
    return notFoundError("no darasa state in " + postgres::redact(url) +
                         " (run `darasa apply --state URL` or `darasa state migrate --to URL` first)");
  if (version < Store::kSchemaVersion) {
    Status s = migrations::migrate(*db);
    if (!s) return s;
  }
  return std::unique_ptr<sql::Db>(std::move(db));
}

}  // namespace

StateLocation parseStateLocation(const std::string& value, const fs::path& defaultDir) {
  StateLocation loc;
  if (postgres::isUrl(value)) {
    loc.url = value;
    loc.dir = defaultDir;
  } else {
    loc.dir = value.empty() ? defaultDir : fs::path(value);
  }
  return loc;
}

Result<std::unique_ptr<Store>> Store::open(const fs::path& dir, OpenMode mode, const Clock& clock) {
  StateLocation loc;
  loc.dir = dir;
  return open(loc, mode, clock);
}

Result<std::unique_ptr<Store>> Store::open(const StateLocation& location, OpenMode mode, const Clock& clock) {
  auto db = location.url.empty() ? openSqlite(location.dir, mode) : openPostgres(location.url, mode);
  if (!db) return db.status();
  return std::unique_ptr<Store>(new Store(std::make_unique<Impl>(location, clock, std::move(*db))));
}

const char* Store::backend() const {
  return impl_->db->dialect() == sql::Dialect::kSqlite ? "sqlite" : "postgresql";
}

std::string Store::location() const {
  return impl_->location.url.empty() ? databaseFile().string() : postgres::redact(impl_->location.url);
}

void Store::setFence(int64_t term) { impl_->fence.store(term); }
int64_t Store::fence() const { return impl_->fence.load(); }

// ---- templates

Result<bool> Store::putTemplate(const TemplateRecord& record) {
  if (record.name.empty()) return invalidError("a template needs a name");
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kDurableWrite);
  if (!tx) return tx.status();
  auto cur = db.prepare("SELECT hash, json FROM templates WHERE name = ?");
  if (!cur) return cur.status();
  cur->bind(1, record.name);
  auto row = cur->step();
  if (!row) return row.status();
  if (*row && cur->text(0) == record.hash && cur->text(1) == record.json) return false;
  auto put = db.prepare(
      "INSERT INTO templates(name, json, hash, source_file, applied_at) VALUES(?, ?, ?, ?, ?) "
      "ON CONFLICT(name) DO UPDATE SET json = excluded.json, hash = excluded.hash, "
      "source_file = excluded.source_file, applied_at = excluded.applied_at");
  if (!put) return put.status();
  put->bind(1, record.name).bind(2, record.json).bind(3, record.hash).bind(4, record.sourceFile).bind(5, impl_->now());
  Status s = put->run();
  if (!s) return s;
  s = tx->commit();
  if (!s) return s;
  return true;
}

namespace {
TemplateRecord readTemplate(const sql::Stmt& st) {
  return TemplateRecord{st.text(0), st.text(1), st.text(2), st.text(3), st.int64(4)};
}
}  // namespace

Result<TemplateRecord> Store::getTemplate(const std::string& name) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  auto st = db.prepare("SELECT name, json, hash, source_file, applied_at FROM templates WHERE name = ?");
  if (!st) return st.status();
  st->bind(1, name);
  auto row = st->step();
  if (!row) return row.status();
  if (!*row)
    return notFoundError("no template \"" + name + "\" in the state (known: " +
                         joinNames(queryNames(db, "SELECT name FROM templates ORDER BY name")) + ")");
  return readTemplate(*st);
}

Result<std::vector<TemplateRecord>> Store::listTemplates() {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  auto st = db.prepare("SELECT name, json, hash, source_file, applied_at FROM templates ORDER BY name");
  if (!st) return st.status();
  std::vector<TemplateRecord> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.status();
    if (!*row) break;
    out.push_back(readTemplate(*st));
  }
  return out;
}

// ---- cohorts

namespace {

constexpr const char* kCohortColumns =
    "name, generation, template_name, snapshot_json, snapshot_hash, spec_json, provider, created_at, updated_at";

CohortRecord readCohort(const sql::Stmt& st) {
  CohortRecord c;
  c.name = st.text(0);
  c.generation = st.int64(1);
  c.templateName = st.text(2);
  c.snapshotJson = st.text(3);
  c.snapshotHash = st.text(4);
  c.specJson = st.text(5);
  c.provider = st.text(6);
  c.createdAt = st.int64(7);
  c.updatedAt = st.int64(8);
  return c;
}

Status validateApply(const CohortApply& a) {
  if (a.name.empty()) return invalidError("a cohort needs a name");
  std::set<std::string_view> trainees;
  for (const auto& t : a.trainees) {
    if (t.id.empty()) return invalidError("cohort " + a.name + ": a trainee has an empty id");
    if (!trainees.insert(t.id).second)
      return invalidError("cohort " + a.name + ": trainee id \"" + t.id + "\" appears twice");
  }
  std::set<std::string_view> labs;
  for (const auto& l : a.labs) {
    if (l.labId.empty()) return invalidError("cohort " + a.name + ": a lab has an empty id");
    if (!labs.insert(l.labId).second)
      return invalidError("cohort " + a.name + ": lab id \"" + l.labId + "\" appears twice");
    if (!trainees.count(l.trainee))
      return invalidError("cohort " + a.name + ": lab " + l.labId + " is for trainee \"" + l.trainee +
                          "\", who is not in the roster");
  }
  return Status::ok();
}

struct StoredLab {
  std::string trainee;
  std::string specJson;
  bool removed = false;
};

struct StoredTrainee {
  std::string name;
  std::string email;
};

// The diff between the stored cohort and `a`, and (write) the writes that
// make the store match it. Runs inside the caller's transaction.
Result<ApplyOutcome> applyInTx(Db& db, const CohortApply& a, int64_t now, bool write) {
  ApplyOutcome out;
  std::optional<CohortRecord> old;
  {
    auto st = db.prepare(std::string("SELECT ") + kCohortColumns + " FROM cohorts WHERE name = ?");
    if (!st) return st.status();
    st->bind(1, a.name);
    auto row = st->step();
    if (!row) return row.status();
    if (*row) old = readCohort(*st);
  }
  std::unordered_map<std::string, StoredTrainee> oldTrainees;
  std::unordered_map<std::string, StoredLab> oldLabs;
  if (old) {
    auto st = db.prepare("SELECT id, name, email FROM trainees WHERE cohort = ?");
    if (!st) return st.status();
    st->bind(1, a.name);
    for (;;) {
      auto row = st->step();
      if (!row) return row.status();
      if (!*row) break;
      oldTrainees.emplace(st->text(0), StoredTrainee{st->text(1), st->text(2)});
    }
    auto labs = db.prepare("SELECT lab_id, trainee, spec_json, removed FROM labs WHERE cohort = ?");
    if (!labs) return labs.status();
    labs->bind(1, a.name);
    for (;;) {
      auto row = labs->step();
      if (!row) return row.status();
      if (!*row) break;
      oldLabs.emplace(labs->text(0), StoredLab{labs->text(1), labs->text(2), labs->int64(3) != 0});
    }
  }

  out.created = !old;
  if (old) {
    out.templateChanged = old->templateName != a.templateName || old->snapshotHash != a.snapshotHash ||
                          old->snapshotJson != a.snapshotJson;
    out.specChanged = old->specJson != a.cohortSpecJson || old->provider != a.provider;
  }

  std::set<std::string_view> newTraineeIds;
  for (const auto& t : a.trainees) {
    newTraineeIds.insert(t.id);
    auto it = oldTrainees.find(t.id);
    if (it == oldTrainees.end())
      out.addedTrainees.push_back(t.id);
    else if (it->second.name != t.name || it->second.email != t.email)
      out.updatedTrainees.push_back(t.id);
  }
  for (const auto& [id, t] : oldTrainees)
    if (!newTraineeIds.count(id)) out.removedTrainees.push_back(id);
  std::sort(out.removedTrainees.begin(), out.removedTrainees.end());

  // Labs: new ids must not belong to another cohort.
  std::set<std::string_view> newLabIds;
  std::vector<const LabApply*> inserts, updates;
  {
    auto owner = db.prepare("SELECT cohort FROM labs WHERE lab_id = ?");
    if (!owner) return owner.status();
    for (const auto& l : a.labs) {
      newLabIds.insert(l.labId);
      auto it = oldLabs.find(l.labId);
      if (it == oldLabs.end()) {
        owner->bind(1, l.labId);
        auto row = owner->step();
        if (!row) return row.status();
        if (*row)
          return conflictError("lab id " + l.labId + " of cohort " + a.name + " is already used by cohort " +
                               owner->text(0));
        owner->reset();
        out.addedLabs.push_back(l.labId);
        inserts.push_back(&l);
      } else if (it->second.removed) {
        out.addedLabs.push_back(l.labId);
        updates.push_back(&l);
      } else if (it->second.specJson != l.specJson || it->second.trainee != l.trainee) {
        out.changedLabs.push_back(l.labId);
        updates.push_back(&l);
      }
    }
  }
  for (const auto& [id, lab] : oldLabs)
    if (!newLabIds.count(id) && !lab.removed) out.removedLabs.push_back(id);
  std::sort(out.removedLabs.begin(), out.removedLabs.end());

  out.changed = out.created || out.templateChanged || out.specChanged || !out.addedTrainees.empty() ||
                !out.removedTrainees.empty() || !out.updatedTrainees.empty() || !out.addedLabs.empty() ||
                !out.changedLabs.empty() || !out.removedLabs.empty();
  const int64_t oldGeneration = old ? old->generation : 0;
  out.generation = out.changed ? oldGeneration + 1 : oldGeneration;
  if (!write || !out.changed) return out;

  // ---- writes
  {
    auto st = db.prepare(
        "INSERT INTO cohorts(name, generation, template_name, snapshot_json, snapshot_hash, spec_json, provider, "
        "created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) "
        "ON CONFLICT(name) DO UPDATE SET generation = excluded.generation, template_name = excluded.template_name, "
        "snapshot_json = excluded.snapshot_json, snapshot_hash = excluded.snapshot_hash, "
        "spec_json = excluded.spec_json, provider = excluded.provider, updated_at = excluded.updated_at");
    if (!st) return st.status();
    st->bind(1, a.name).bind(2, out.generation).bind(3, a.templateName).bind(4, a.snapshotJson);
    st->bind(5, a.snapshotHash).bind(6, a.cohortSpecJson).bind(7, a.provider).bind(8, now);
    Status s = st->run();
    if (!s) return s;
  }
  {
    auto del = db.prepare("DELETE FROM trainees WHERE cohort = ? AND id = ?");
    if (!del) return del.status();
    for (const auto& id : out.removedTrainees) {
      Status s = del->bind(1, a.name).bind(2, id).run();
      if (!s) return s;
      del->reset();
    }
    auto put = db.prepare(
        "INSERT INTO trainees(cohort, id, name, email, position) VALUES(?, ?, ?, ?, ?) "
        "ON CONFLICT(cohort, id) DO UPDATE SET name = excluded.name, email = excluded.email, "
        "position = excluded.position");
    if (!put) return put.status();
    int64_t position = 0;
    for (const auto& t : a.trainees) {
      Status s = put->bind(1, a.name).bind(2, t.id).bind(3, t.name).bind(4, t.email).bind(5, position++).run();
      if (!s) return s;
      put->reset();
    }
  }
  {
    auto ins = db.prepare(
        "INSERT INTO labs(lab_id, cohort, trainee, generation, desired, phase, provider, spec_json, updated_at) "
        "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!ins) return ins.status();
    for (const LabApply* l : inserts) {
      ins->bind(1, l->labId).bind(2, a.name).bind(3, l->trainee).bind(4, out.generation);
      ins->bind(5, desiredStateName(DesiredState::kAbsent)).bind(6, labPhaseName(LabPhase::kPending));
      ins->bind(7, a.provider).bind(8, l->specJson).bind(9, now);
      Status s = ins->run();
      if (!s) return s;
      ins->reset();
    }
  }
  {
    auto up = db.prepare(
        "UPDATE labs SET trainee = ?, spec_json = ?, generation = ?, provider = ?, removed = 0, updated_at = ? "
        "WHERE lab_id = ?");
    if (!up) return up.status();
    for (const LabApply* l : updates) {
      Status s = up->bind(1, l->trainee).bind(2, l->specJson).bind(3, out.generation).bind(4, a.provider)
                     .bind(5, now).bind(6, l->labId).run();
      if (!s) return s;
      up->reset();
    }
  }
  {
    auto rm = db.prepare("UPDATE labs SET desired = ?, removed = 1, updated_at = ? WHERE lab_id = ?");
    if (!rm) return rm.status();
    for (const auto& id : out.removedLabs) {
      Status s = rm->bind(1, desiredStateName(DesiredState::kAbsent)).bind(2, now).bind(3, id).run();
      if (!s) return s;
      rm->reset();
    }
  }
  if (old && old->provider != a.provider) {
    // Labs whose spec did not change still move with the cohort.
    auto mv = db.prepare("UPDATE labs SET provider = ?, updated_at = ? WHERE cohort = ? AND removed = 0");
    if (!mv) return mv.status();
    Status s = mv->bind(1, a.provider).bind(2, now).bind(3, a.name).run();
    if (!s) return s;
  }
  return out;
}

}  // namespace

Result<ApplyOutcome> Store::applyCohort(const CohortApply& apply) {
  Status v = validateApply(apply);
  if (!v) return v;
  std::lock_guard lock(impl_->mu);
  auto tx = Tx::begin(*impl_->db, sql::TxKind::kDurableWrite);
  if (!tx) return tx.status();
  auto out = applyInTx(*impl_->db, apply, impl_->now(), true);
  if (!out) return out.status();
  if (out->changed) {
    Status s = impl_->notifyChange(apply.name);
    if (!s) return s;
    s = tx->commit();
    if (!s) return s;
  }
  return out;
}

Result<ApplyOutcome> Store::previewApply(const CohortApply& apply) {
  Status v = validateApply(apply);
  if (!v) return v;
  std::lock_guard lock(impl_->mu);
  auto tx = Tx::begin(*impl_->db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  return applyInTx(*impl_->db, apply, impl_->now(), false);
}

Result<CohortRecord> Store::getCohort(const std::string& name) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  auto st = db.prepare(std::string("SELECT ") + kCohortColumns + " FROM cohorts WHERE name = ?");
  if (!st) return st.status();
  st->bind(1, name);
  auto row = st->step();
  if (!row) return row.status();
  if (!*row) return requireCohort(db, name);
  return readCohort(*st);
}

Result<std::vector<CohortRecord>> Store::listCohorts() {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  auto st = db.prepare(std::string("SELECT ") + kCohortColumns + " FROM cohorts ORDER BY name");
  if (!st) return st.status();
  std::vector<CohortRecord> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.status();
    if (!*row) break;
    out.push_back(readCohort(*st));
  }
  return out;
}

Status Store::deleteCohort(const std::string& name) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kDurableWrite);
  if (!tx) return tx.status();
  Status s = requireCohort(db, name);
  if (!s) return s;
  auto st = db.prepare(std::string("SELECT lab_id FROM labs l WHERE cohort = ? AND NOT ") + kLabGoneSql +
                       " ORDER BY lab_id");
  if (!st) return st.status();
  st->bind(1, name);
  std::vector<std::string> live;
  for (;;) {
    auto row = st->step();
    if (!row) return row.status();
    if (!*row) break;
    live.push_back(st->text(0));
  }
  if (!live.empty())
    return conflictError("cohort " + name + " still has " + std::to_string(live.size()) +
                         " lab(s) that are not destroyed (" + joinNames(live, 5) + "); run `darasa down " +
                         name + "` first");
  for (const char* sql : {"DELETE FROM labs WHERE cohort = ?", "DELETE FROM credentials WHERE cohort = ?",
                          "DELETE FROM trainees WHERE cohort = ?", "DELETE FROM cohorts WHERE name = ?"}) {
    auto del = db.prepare(sql);
    if (!del) return del.status();
    s = del->bind(1, name).run();
    if (!s) return s;
  }
  s = impl_->notifyChange(name);
  if (!s) return s;
  return tx->commit();
}

Result<std::vector<Trainee>> Store::listTrainees(const std::string& cohort) {
  std::lock_guard lock(impl_->mu);
  Db& db = *impl_->db;
  auto tx = Tx::begin(db, sql::TxKind::kRead);
  if (!tx) return tx.status();
  Status s = requireCohort(db, cohort);
  if (!s) return s;
  auto st = db.prepare("SELECT id, name, email FROM trainees WHERE cohort = ? ORDER BY position");
  if (!st) return st.status();
  st->bind(1, cohort);
  std::vector<Trainee> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.status();
    if (!*row) break;
    out.push_back(Trainee{st->text(0), st->text(1), st->text(2)});
  }
  return out;
}

}  // namespace darasa
