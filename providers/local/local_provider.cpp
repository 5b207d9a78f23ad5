// The local provider (see local_provider.h for options and layout).
//
// Process model: create() writes the lab's files, binds one 127.0.0.1
// listening socket per spec port in darasa's own network namespace (the
// kernel picks a free port — or the lab's previous one on restart), and
// spawns `darasa-lab launch` with those sockets (lab/launch.cpp). It
// detaches (own session, one more fork), takes the lab's run lock, sets up
// cgroups, the lab's network namespace and the bind sources, drops to the
// lab's uid and execs bubblewrap: bwrap itself is the lab's top process, so
// a lab costs no more processes than bwrap + dropbear started by hand, and
// labs outlive darasa. `darasa-lab init` is PID 1 inside; it proxies
// connections from the inherited sockets to the lab's services inside the
// lab's network namespace. Killing bwrap ends the PID namespace, so nothing
// of a lab survives it; the cgroups catch anything else (exec helpers).
//
// Crash safety: lab.json exists before any lab process does; every mutation
// of one lab runs under its lock file; the run lock is held by the lab's
// own processes for as long as they live, and a second launch for the same
// lab finds it held and gives up, so a lab never has two process trees.
// create() of an existing lab returns it as it is; it (re)launches only a
// lab that should run, is not running and did not fail on its own (never
// started because darasa died, or it was killed, e.g. by a reboot). A lab
// that failed on its own is reported kFailed with the reason; destroy it to
// make it anew.
//
// Without bubblewrap the provider is not usable (usable() says what to
// install): a lab without a sandbox would hand trainees a shell on the host.
// Without a writable cgroup tree labs run without limits: a warning is
// logged, info().version says so, and every lab's detail too.
#include "local/local_provider.h"

#include <crypt.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include "local/common/cgroups.h"
#include "provisioner/clock.h"
#include "provisioner/install_paths.h"
#include "local/common/lab_record.h"
#include "local/common/sys_util.h"
#include "local/common/tcp_table.h"

#ifndef DARASA_LAB_BINARY
#define DARASA_LAB_BINARY ""
#endif

extern char** environ;

namespace darasa::providers::local {

namespace {

constexpr int kToolFailure = 125;  // darasa-lab exec: could not get into the lab
constexpr uid_t kSandboxUid = 1000;

std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> l = [] {
    if (auto existing = spdlog::get("local")) return existing;
    auto made = spdlog::default_logger()->clone("local");
    try {
      spdlog::register_logger(made);
    } catch (const spdlog::spdlog_ex&) {
      if (auto existing = spdlog::get("local")) return existing;
    }
    return made;
  }();
  return l;
}

const std::vector<std::string> kDefaultEtc = {
    "ld.so.cache", "ld.so.conf",   "ld.so.conf.d", "localtime",  "timezone",    "alternatives",
    "profile",     "profile.d",    "bash.bashrc",  "inputrc",    "environment", "terminfo",
    "skel",        "ssl",          "ca-certificates", "protocols", "services",  "mime.types",
    "os-release",  "debian_version", "issue",      "magic",      "magic.mime",  "vim",
    "nanorc",      "gai.conf",     "locale.alias", "login.defs", "manpath.config", "mke2fs.conf",
    "perl",        "python3",      "gitconfig",    "wgetrc",     "screenrc",    "tmux.conf"};

int64_t memTotalBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemTotal:") return kb * 1024;
  return 0;
}

std::string dirName(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

bool isPortName(const std::string& s) {
  static const std::regex re("[a-z0-9][a-z0-9-]{0,30}");
  return std::regex_match(s, re);
}
bool isUserName(const std::string& s) {
  static const std::regex re("[a-z_][a-z0-9_-]{0,31}");
  return std::regex_match(s, re);
}
bool isEnvName(const std::string& s) {
  static const std::regex re("[A-Za-z_][A-Za-z0-9_]*");
  return std::regex_match(s, re);
}

// A hostname from a trainee id: lower-case letters, digits and '-'.
std::string hostnameFor(const std::string& s) {
  std::string h;
  for (char c : s) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9');
    h += ok ? l : '-';
  }
  while (!h.empty() && h.front() == '-') h.erase(h.begin());
  if (h.size() > 63) h.resize(63);
  while (!h.empty() && h.back() == '-') h.pop_back();
  return h.empty() ? "lab" : h;
}

uint32_t fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

std::string lastLine(const std::string& text) {
  std::string s = text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  auto nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

// Writes a file below a directory the trainee may have written to, never
// following a symlink they planted.
Status writeOwnedFile(int dirFd, const std::string& name, const std::string& content, mode_t mode,
                      uid_t uid, gid_t gid) {
  int fd = ::openat(dirFd, name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return internalError("cannot write " + name + ": " + errnoText(errno));
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ok = ok && ::fchmod(fd, mode) == 0;
  if (::geteuid() == 0) ok = ok && ::fchown(fd, uid, gid) == 0;
  ::close(fd);
  return ok ? Status::ok() : internalError("cannot write " + name + ": " + errnoText(errno));
}

// A new Ed25519 host key in dropbear's own file format (what `dropbearkey
// -t ed25519` writes: string "ssh-ed25519", then a string of the 32-byte
// seed and the 32-byte public key), made in-process: dropbearkey costs a
// process and tens of milliseconds of entropy gathering per lab.
Status writeHostKey(const std::string& path, uid_t uid, gid_t gid) {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];  // seed || public key
  static_assert(sizeof sk == 64);
  if (crypto_sign_keypair(pk, sk) != 0) return internalError("cannot make an Ed25519 key");
  auto be32 = [](std::string& out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
  };
  std::string file;
  be32(file, 11);
  file += "ssh-ed25519";
  be32(file, sizeof sk);
  file.append(reinterpret_cast<const char*>(sk), sizeof sk);
  sodium_memzero(sk, sizeof sk);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return internalError("cannot write " + path + ": " + errnoText(errno));
  bool ok = ::write(fd, file.data(), file.size()) == static_cast<ssize_t>(file.size());
  sodium_memzero(file.data(), file.size());
  if (ok && ::geteuid() == 0) ok = ::fchown(fd, uid, gid) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return internalError("cannot write " + path + ": " + errnoText(err));
  }
  return Status::ok();
}

Result<std::string> sha512Crypt(const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!::crypt_gensalt_rn("$6$", 0, nullptr, 0, salt, sizeof salt))
    return internalError("cannot make a password salt: " + errnoText(errno));
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* h = ::crypt_r(password.c_str(), salt, data.get());
  if (!h || h[0] == '*') return internalError("crypt failed");
  return std::string(h);
}

struct Options {
  std::string root;
  std::string labBinary;
  std::string bwrap;
  std::string dropbear;
  bool cgroups = true;
  std::string cgroupParent = "darasa";
  uid_t uidBase = 400000000;
  int uidCount = 65536;
  int maxParallel = 4;
  std::vector<std::string> etc;
  std::string shell;
  std::chrono::milliseconds stopTimeout{5000};
};

class LocalProvider final : public Provider {
 public:
  LocalProvider(std::string name, Options opt)
      : name_(std::move(name)),
        opt_(std::move(opt)),
        privileged_(::geteuid() == 0),
        cgroups_(CgroupManager::detect(opt_.cgroupParent, opt_.cgroups)),
        memTotal_(memTotalBytes()),
        cpus_(static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))) {
    version_ = std::string(DARASA_VERSION) + " (" + toolVersion({opt_.bwrap, "--version"}) + ", " +
               toolVersion({opt_.dropbear, "-V"}) + ", " + cgroups_.describe() + ")";
    if (!cgroups_.usable())
      logger()->warn("labs will run WITHOUT memory, CPU and pids limits: {}", cgroups_.reason());
  }

  Status init() {
    for (const char* sub : {"", "/labs", "/locks", "/uids", "/trash"})
      if (Status st = makeDirs(opt_.root + sub); !st) return st;
    // A destroy interrupted by a crash leaves its lab here.
    if (DIR* d = ::opendir((opt_.root + "/trash").c_str())) {
      while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") (void)removeTree(opt_.root + "/trash/" + n);
      }
      ::closedir(d);
    }
    return Status::ok();
  }

  ProviderInfo info() const override {
    ProviderInfo i;
    i.name = name_;
    i.kind = ProviderKind::kProcess;
    i.version = version_;
    i.capabilities.stopStart = true;
    i.capabilities.exec = true;
    i.capabilities.reset = true;
    i.maxParallel = opt_.maxParallel;
    return i;
  }

  Status usable() override {
    if (opt_.bwrap.empty() || ::access(opt_.bwrap.c_str(), X_OK) != 0)
      return unavailableError("bubblewrap is not installed: apt-get install bubblewrap");
    if (opt_.dropbear.empty())
      return unavailableError("dropbear is not installed (the labs' ssh server): apt-get install dropbear-bin");
    if (opt_.dropbear.rfind("/usr/", 0) != 0)
      return unavailableError("dropbear must live below /usr (labs see only /usr): found " + opt_.dropbear);
    if (opt_.labBinary.empty() || ::access(opt_.labBinary.c_str(), X_OK) != 0)
      return unavailableError("the darasa-lab helper was not found (set option labBinary or DARASA_LAB_BINARY)");
    uid_t uid = privileged_ ? opt_.uidBase : ::getuid();
    gid_t gid = privileged_ ? opt_.uidBase : ::getgid();
    auto r = runProcess({opt_.labBinary, "check", "--bwrap", opt_.bwrap, "--uid", std::to_string(uid),
                         "--gid", std::to_string(gid)},
                        Deadline::after(std::chrono::seconds(20)));
    if (!r) return r.status();
    if (r->timedOut) return unavailableError("a trivial bubblewrap sandbox did not finish in 20 s");
    if (r->exitCode != 0)
      return unavailableError("bubblewrap cannot make a sandbox here (user namespaces disabled?): " +
                              lastLine(r->output));
    return Status::ok();
  }

  Status validate(const LabSpec& spec) override {
    std::vector<std::string> problems;
    auto bad = [&](std::string s) { problems.push_back(std::move(s)); };
    if (!isSafeLabId(spec.labId))
      bad("labId \"" + spec.labId + "\" must be letters, digits, '.', '_' or '-' (at most 128)");
    if (!spec.image.empty() && spec.image != "host")
      bad("image \"" + spec.image + "\": the local provider runs labs from this machine's /usr; leave image empty or \"host\"");
    std::string user = spec.access.user.empty() ? "trainee" : spec.access.user;
    if (!isUserName(user)) bad("access.user \"" + user + "\" is not a valid user name");
    if (!spec.user.empty() && spec.user != user)
      bad("user \"" + spec.user + "\": a local lab has one user, the trainee (\"" + user + "\")");
    std::set<std::string> names;
    std::set<int> numbers;
    bool hasSsh = false, hasOther = false;
    for (size_t i = 0; i < spec.ports.size(); ++i) {
      const auto& p = spec.ports[i];
      std::string where = "ports[" + std::to_string(i) + "]";
      if (!isPortName(p.name)) bad(where + ".name \"" + p.name + "\" must be lower-case letters, digits and '-'");
      if (!names.insert(p.name).second) bad(where + ".name \"" + p.name + "\" is used twice");
      if (p.port < 1 || p.port > 65535) bad(where + ".port " + std::to_string(p.port) + " is not in 1..65535");
      else if (!numbers.insert(p.port).second) bad(where + ".port " + std::to_string(p.port) + " is used twice");
      if (!privileged_ && p.port < 1024)
        bad(where + ".port " + std::to_string(p.port) + " is below 1024, which needs darasa to run as root with the local provider");
      if (p.protocol != "tcp" && p.protocol != "http" && p.protocol != "https")
        bad(where + ".protocol \"" + p.protocol + "\" must be tcp, http or https");
      if (p.name == "ssh") hasSsh = true;
      else hasOther = true;
    }
    if (!spec.readiness.tcpPort.empty() && !names.count(spec.readiness.tcpPort))
      bad("readiness.tcp \"" + spec.readiness.tcpPort + "\" names no port");
    if (!hasSsh && spec.command.empty()) bad("nothing to run: add a port named \"ssh\" or a command");
    if (hasOther && spec.command.empty())
      bad("ports other than \"ssh\" need a command that listens on them");
    if (!spec.command.empty() && spec.command[0].empty()) bad("command[0] is empty");
    for (const auto& [k, v] : spec.env)
      if (!isEnvName(k)) bad("env \"" + k + "\" is not a valid variable name");
    if (!spec.workdir.empty() && spec.workdir[0] != '/')
      bad("workdir \"" + spec.workdir + "\" must be an absolute path");
    if (spec.network == NetworkMode::kCohort || spec.network == NetworkMode::kHost)
      bad(std::string("network \"") + networkModeName(spec.network) +
          "\" is not supported by the local provider (use isolated or none)");
    const auto& r = spec.resources;
    if (r.memoryBytes < 0 || (r.memoryBytes > 0 && r.memoryBytes < (16 << 20)))
      bad("resources.memory " + formatBytes(r.memoryBytes) + " is below 16Mi, too little for a lab");
    if (memTotal_ > 0 && r.memoryBytes > memTotal_)
      bad("resources.memory " + formatBytes(r.memoryBytes) + " is more than this machine has (" +
          formatBytes(memTotal_) + ")");
    if (r.cpuMillis < 0 || r.cpuMillis > static_cast<int64_t>(cpus_) * 1000)
      bad("resources.cpus " + std::to_string(r.cpuMillis) + "m is more than this machine's " +
          std::to_string(cpus_) + " CPUs");
    if (r.pids < 0 || (r.pids > 0 && r.pids < 8))
      bad("resources.pids " + std::to_string(r.pids) + " is too low (a lab needs at least 8)");
    if (r.diskBytes > 0)
      bad("resources.disk is not supported by the local provider (the home directory is a plain directory)");
    for (const auto& [k, v] : spec.providerOptions)
      if (k != "hostname") bad("options." + k + " is not an option of the local provider (known: hostname)");
    if (problems.empty()) return Status::ok();
    std::string msg;
    for (const auto& p : problems) msg += (msg.empty() ? "" : "; ") + p;
    return invalidError(msg);
  }

  Result<ObservedLab> create(const LabSpec& spec, const Deadline& deadline) override {
    if (Status st = validate(spec); !st) return st;
    auto lock = FileLock::acquire(lockPath(spec.labId), deadline);
    if (!lock) return lock.status();
    LabPaths paths(labDir(spec.labId));
    auto existing = readLabRecord(paths);
    if (existing) {
      LabRecord rec = std::move(existing).value();
      auto seen = observe(paths, rec);
      bool launchAgain = seen.state == ObservedState::kStopped && rec.desired == "running";
      if (!launchAgain) return seen;
      logger()->info("lab {}: starting it again ({})", rec.labId, seen.detail);
      if (Status st = launch(rec, paths, deadline); !st) return st;
      return observe(paths, rec);
    }
    if (existing.status().code() != Code::kNotFound) return existing.status();
    // New, or interrupted before lab.json was written (then no process of
    // it ever ran): prepare it from this spec.
    LabRecord rec;
    if (Status st = prepare(spec, paths, &rec); !st) return st.withContext("lab " + spec.labId);
    if (Status st = launch(rec, paths, deadline); !st) return st.withContext("lab " + spec.labId);
    return observe(paths, rec);
  }

  Result<ObservedLab> inspect(const std::string& labId, const Deadline&) override {
    if (!isSafeLabId(labId)) return notFoundError("no local lab \"" + labId + "\"");
    LabPaths paths(labDir(labId));
    auto rec = readLabRecord(paths);
    if (rec) return observe(paths, *rec);
    if (rec.status().code() == Code::kNotFound && !pathExists(paths.dir))
      return notFoundError("no local lab \"" + labId + "\"");
    return incomplete(labId, paths, rec.status());
  }

  Result<std::vector<ObservedLab>> list(const LabelSelector& selector, const Deadline&) override {
    std::vector<ObservedLab> out;
    DIR* d = ::opendir((opt_.root + "/labs").c_str());
    if (!d) return internalError("cannot read " + opt_.root + "/labs: " + errnoText(errno));
    std::vector<std::string> ids;
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != ".." && isSafeLabId(n)) ids.push_back(n);
    }
    ::closedir(d);
    std::sort(ids.begin(), ids.end());
    for (const auto& id : ids) {
      LabPaths paths(labDir(id));
      auto rec = readLabRecord(paths);
      if (rec) {
        if (selector.matches(rec->labels)) out.push_back(observe(paths, *rec));
        continue;
      }
      // Ours all the same: shown (failed, or being created) so that gc can
      // remove it.
      ObservedLab o = incomplete(id, paths, rec.status());
      if (selector.matches(o.labels)) out.push_back(std::move(o));
    }
    return out;
  }

  Status start(const std::string& labId, const Deadline& deadline) override {
    if (!isSafeLabId(labId)) return notFoundError("no local lab \"" + labId + "\"");
    auto lock = FileLock::acquire(lockPath(labId), deadline);
    if (!lock) return lock.status();
    LabPaths paths(labDir(labId));
    auto rec = readLabRecord(paths);
    if (!rec) {
      if (rec.status().code() == Code::kNotFound) return notFoundError("no local lab \"" + labId + "\"");
      return rec.status();
    }
    if (FileLock::isHeld(paths.runJson())) return Status::ok();
    return launch(*rec, paths, deadline).withContext("lab " + labId);  // records desired=running
  }

  Status stop(const std::string& labId, const Deadline& deadline) override {
    if (!isSafeLabId(labId)) return notFoundError("no local lab \"" + labId + "\"");
    auto lock = FileLock::acquire(lockPath(labId), deadline);
    if (!lock) return lock.status();
    LabPaths paths(labDir(labId));
    auto rec = readLabRecord(paths);
    if (!rec) {
      if (rec.status().code() == Code::kNotFound) return notFoundError("no local lab \"" + labId + "\"");
      return rec.status();
    }
    if (rec->desired != "stopped") {
      rec->desired = "stopped";
      if (Status st = writeLabRecord(paths, *rec); !st) return st;
    }
    return terminate(paths, *rec, deadline).withContext("lab " + labId);
  }

  Status destroy(const std::string& labId, const Deadline& deadline) override {
    if (!isSafeLabId(labId)) return Status::ok();  // nothing of ours can have that name
    auto lock = FileLock::acquire(lockPath(labId), deadline);
    if (!lock) return lock.status();
    LabPaths paths(labDir(labId));
    auto recOr = readLabRecord(paths);
    LabRecord rec;
    if (recOr) {
      rec = *recOr;
    } else {
      rec.labId = labId;
      rec.cgroupName = cgroupNameFor(labId);
      rec.cgroupParent = cgroups_.usable() ? opt_.cgroupParent : "";
    }
    if (pathExists(paths.dir)) {
      if (Status st = terminate(paths, rec, deadline); !st) return st.withContext("lab " + labId);
      // Move it out of labs/ in one step so that list() never shows a half
      // deleted lab; trash is emptied now or by the next provider start.
      std::string trash = opt_.root + "/trash/" + labId + "." + std::to_string(::getpid()) + "." +
                          std::to_string(fnv1a(std::to_string(unixNow()) + labId) & 0xffff);
      if (::rename(paths.dir.c_str(), trash.c_str()) != 0)
        return internalError("cannot remove " + paths.dir + ": " + errnoText(errno));
      if (Status st = removeTree(trash); !st) logger()->warn("lab {}: {}", labId, st.message());
    } else if (cgroups_.usable()) {
      (void)cgroups_.destroy(rec.cgroupName, std::chrono::seconds(5));
    }
    releaseUidSlot(labId);
    lock->unlinkAndRelease();
    return Status::ok();
  }

  Status probe(const LabSpec& spec, const Deadline& deadline) override {
    // The common case while a cohort starts, answered from run.json alone.
    if (isSafeLabId(spec.labId)) {
      LabPaths paths(labDir(spec.labId));
      if (!readLabStatus(paths).ready && FileLock::isHeld(paths.runJson()))
        return unavailableError("lab " + spec.labId + " is starting");
    }
    auto lab = inspect(spec.labId, deadline);
    if (!lab) return lab.status();
    switch (lab->state) {
      case ObservedState::kRunning:
        break;
      case ObservedState::kCreating:
        return unavailableError("lab " + spec.labId + " is starting");
      case ObservedState::kStopped:
        return invalidError("lab " + spec.labId + " is stopped: " + lab->detail);
      case ObservedState::kFailed:
        return internalError("lab " + spec.labId + " failed: " + lab->detail);
      case ObservedState::kUnknown:
        return unavailableError("lab " + spec.labId + " is in an unknown state");
    }
    if (spec.readiness.exec.empty()) return Status::ok();
    auto r = exec(spec.labId, spec.readiness.exec, deadline);
    if (!r) return r.status().code() == Code::kTimeout ? r.status() : unavailableError(r.status().message());
    if (r->exitCode != 0)
      return unavailableError("readiness command exited with " + std::to_string(r->exitCode) + ": " +
                              lastLine(r->output));
    return Status::ok();
  }

  Result<ExecResult> exec(const std::string& labId, const std::vector<std::string>& argv,
                          const Deadline& deadline) override {
    if (argv.empty()) return invalidError("exec: empty command");
    if (!isSafeLabId(labId)) return notFoundError("no local lab \"" + labId + "\"");
    LabPaths paths(labDir(labId));
    if (!pathExists(paths.labJson())) return notFoundError("no local lab \"" + labId + "\"");
    if (!FileLock::isHeld(paths.runJson())) return unavailableError("lab " + labId + " is not running");
    std::vector<std::string> cmd = {opt_.labBinary, "exec", "--lab-dir", paths.dir, "--"};
    cmd.insert(cmd.end(), argv.begin(), argv.end());
    auto r = runProcess(cmd, deadline);
    if (!r) return r.status();
    if (r->timedOut) return timeoutError("exec in lab " + labId + " did not finish before the deadline");
    if (r->exitCode == kToolFailure && r->output.rfind("darasa-lab exec:", 0) == 0)
      return unavailableError(lastLine(r->output));
    ExecResult out;
    out.exitCode = r->signal ? 128 + r->signal : r->exitCode;
    out.output = std::move(r->output);
    return out;
  }

  // Activity of a lab from three sources, none of which needs a process of
  // the lab to answer: the status file's mtime (the lab's init touches it
  // on proxied traffic, while a connection is open and when the last one
  // closes, at most every 10 s; launch and readiness write it too), the
  // connections established on the lab's 127.0.0.1 ports in darasa's own
  // network namespace (where the listening sockets live: an open SSH
  // session is activity now, even when no byte flows), and the lab's
  // cgroup (CPU time since this run started, memory in use).
  Result<LabActivity> activity(const std::string& labId, const Deadline&) override {
    if (!isSafeLabId(labId)) return notFoundError("no local lab \"" + labId + "\"");
    LabPaths paths(labDir(labId));
    auto rec = readLabRecord(paths);
    if (!rec) {
      if (rec.status().code() == Code::kNotFound && !pathExists(paths.dir))
        return notFoundError("no local lab \"" + labId + "\"");
      return rec.status().withContext("lab " + labId);
    }
    LabActivity a;
    struct stat st;
    if (::stat(paths.status().c_str(), &st) == 0)
      a.lastActive = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    if (!FileLock::isHeld(paths.runJson())) {
      // Nothing of it runs: no connection can be open, nothing is in use.
      a.openConnections = 0;
      a.memoryBytes = 0;
      a.source = "status file (the lab is not running)";
      return a;
    }
    std::vector<std::string> sources = {"proxy traffic"};
    if (auto run = readRunRecord(paths)) {
      if (auto conns = loopbackConnections()) {
        a.openConnections = 0;
        for (const auto& [name, port] : run->hostPorts)
          if (auto it = conns->find(port); it != conns->end()) a.openConnections += it->second;
        sources.push_back("connections");
        if (a.openConnections > 0) a.lastActive = std::chrono::system_clock::now();
      } else {
        logger()->debug("lab {}: cannot count its connections: {}", labId, conns.status().message());
      }
    }
    if (!rec->cgroupParent.empty() && cgroups_.usable()) {
      if (auto u = cgroups_.usage(rec->cgroupName)) {
        if (u->cpuNanos >= 0) a.cpuMillis = u->cpuNanos / 1000000;
        a.memoryBytes = u->memoryBytes;
        sources.push_back("cgroup");
      }
    }
    for (size_t i = 0; i < sources.size(); ++i) a.source += (i ? ", " : "") + sources[i];
    return a;
  }

 private:
  // Established connections per 127.0.0.1 port in darasa's namespace. One
  // read of the kernel's table costs milliseconds on a big host (measured
  // 9 ms here with a handful of sockets), so it serves every lab asked
  // about within a second (a daemon's tick, a `status` of a cohort).
  Result<std::map<int, int>> loopbackConnections() {
    std::lock_guard lock(connMu_);
    auto now = std::chrono::steady_clock::now();
    if (!connTable_ || now - connTableAt_ >= std::chrono::seconds(1)) {
      auto table = readEstablishedOnLoopback();
      if (!table) return table.status();
      connTable_ = std::move(table).value();
      connTableAt_ = now;
    }
    return *connTable_;
  }

  std::string labDir(const std::string& id) const { return opt_.root + "/labs/" + id; }
  std::string lockPath(const std::string& id) const { return opt_.root + "/locks/" + id + ".lock"; }
  std::string uidLink(int slot) const { return opt_.root + "/uids/" + std::to_string(slot); }

  static Status makeDirs(const std::string& path) {
    if (path.empty()) return Status::ok();
    if (pathExists(path)) return Status::ok();
    if (Status st = makeDirs(dirName(path)); !st) return st;
    return makeDir(path, 0700);
  }

  static std::string toolVersion(const std::vector<std::string>& argv) {
    if (argv[0].empty()) return "not installed";
    auto r = runProcess(argv, Deadline::after(std::chrono::seconds(5)), 4096);
    if (!r || r->exitCode != 0) return argv[0] + " (version unknown)";
    std::string first = r->output.substr(0, r->output.find('\n'));
    return first.empty() ? argv[0] : first;
  }

  // A host uid of its own for each lab (when root): kernel limits counted per
  // uid (keyrings, pending signals, inotify, user namespaces) then do not let
  // one lab starve another. uids/<slot> is a symlink naming the lab; making
  // it is atomic, and a lab finds its own slot again after a crash.
  Result<int> allocateUidSlot(const std::string& labId) {
    int start = static_cast<int>(fnv1a(labId) % static_cast<uint32_t>(opt_.uidCount));
    for (int i = 0; i < opt_.uidCount; ++i) {
      int slot = (start + i) % opt_.uidCount;
      std::string link = uidLink(slot);
      if (::symlink(labId.c_str(), link.c_str()) == 0) return slot;
      if (errno != EEXIST) return internalError("cannot record a uid in " + link + ": " + errnoText(errno));
      char buf[512];
      ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
      if (n > 0 && std::string(buf, static_cast<size_t>(n)) == labId) return slot;
    }
    return quotaError("all " + std::to_string(opt_.uidCount) + " sandbox uids are in use");
  }

  void releaseUidSlot(const std::string& labId) {
    if (!privileged_) return;
    // The slot is found from the hash first, as when it was allocated.
    int start = static_cast<int>(fnv1a(labId) % static_cast<uint32_t>(opt_.uidCount));
    for (int i = 0; i < opt_.uidCount; ++i) {
      std::string link = uidLink((start + i) % opt_.uidCount);
      char buf[512];
      ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
      if (n < 0) return;  // an empty slot ends the probe sequence of this id
      if (std::string(buf, static_cast<size_t>(n)) == labId) {
        ::unlink(link.c_str());
        return;
      }
    }
  }

  Status prepare(const LabSpec& spec, const LabPaths& paths, LabRecord* rec) {
    const std::string user = !spec.credentials.user.empty() ? spec.credentials.user
                             : spec.access.user.empty()     ? "trainee"
                                                            : spec.access.user;
    if (!isUserName(user)) return invalidError("credentials.user \"" + user + "\" is not a valid user name");
    std::string hash = spec.credentials.passwordHash;
    if (spec.access.password) {
      if (hash.empty() && !spec.credentials.password.empty()) {
        auto h = sha512Crypt(spec.credentials.password.reveal());
        if (!h) return h.status();
        hash = *h;
      }
      if (hash.empty())
        return invalidError("credentials.passwordHash is required when access.password is true");
      if (hash[0] != '$' || hash.find_first_of(":\n") != std::string::npos)
        return invalidError("credentials.passwordHash is not a crypt(3) hash (\"$6$...\")");
    } else {
      hash = "*";  // no password login (dropbear also runs with -s)
    }
    std::string key = spec.credentials.authorizedKey;
    if (spec.access.sshKey) {
      while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
      if (key.empty()) return invalidError("credentials.authorizedKey is required when access.sshKey is true");
      if (key.find('\n') != std::string::npos)
        return invalidError("credentials.authorizedKey must be one public key line");
    }

    rec->labId = spec.labId;
    rec->cohort = spec.cohort;
    rec->trainee = spec.trainee;
    rec->generation = spec.generation;
    rec->templateHash = spec.templateHash;
    rec->labels = spec.labels;
    rec->labels[kLabelLab] = spec.labId;
    if (!spec.cohort.empty()) rec->labels[kLabelCohort] = spec.cohort;
    if (!spec.trainee.empty()) rec->labels[kLabelTrainee] = spec.trainee;
    rec->labels[kLabelGeneration] = std::to_string(spec.generation);
    if (!spec.templateHash.empty()) rec->labels[kLabelTemplateHash] = spec.templateHash;
    rec->desired = "running";
    rec->createdAt = unixNow();
    if (privileged_) {
      auto slot = allocateUidSlot(spec.labId);
      if (!slot) return slot.status();
      rec->uidSlot = *slot;
      rec->hostUid = opt_.uidBase + static_cast<uid_t>(*slot);
      rec->hostGid = opt_.uidBase + static_cast<gid_t>(*slot);
    } else {
      rec->uidSlot = -1;
      rec->hostUid = ::getuid();
      rec->hostGid = ::getgid();
    }
    rec->sandboxUid = kSandboxUid;
    rec->sandboxGid = kSandboxUid;
    rec->user = user;
    rec->home = "/home/" + user;
    rec->shell = opt_.shell;
    auto hn = spec.providerOptions.find("hostname");
    rec->hostname = hn != spec.providerOptions.end() ? hostnameFor(hn->second)
                                                     : hostnameFor(spec.trainee.empty() ? spec.labId : spec.trainee);
    rec->ports.clear();
    for (const auto& p : spec.ports) rec->ports.push_back(LabPort{p.name, p.port, p.protocol});
    rec->readyPorts.clear();
    if (!spec.readiness.tcpPort.empty()) {
      for (const auto& p : spec.ports)
        if (p.name == spec.readiness.tcpPort) rec->readyPorts.push_back(p.port);
    } else if (spec.readiness.exec.empty()) {
      for (const auto& p : spec.ports) rec->readyPorts.push_back(p.port);
    }
    rec->passwordLogin = spec.access.password;
    rec->command = spec.command;
    rec->env = spec.env;
    rec->workdir = spec.workdir;
    rec->resources = spec.resources;
    rec->network = spec.network;
    rec->cgroupParent = cgroups_.usable() ? opt_.cgroupParent : "";
    rec->noLimitsReason = cgroups_.usable() ? "" : cgroups_.reason();
    rec->cgroupName = cgroupNameFor(spec.labId);
    rec->bwrap = opt_.bwrap;
    rec->labBinary = opt_.labBinary;
    rec->dropbear = opt_.dropbear;
    rec->etcBinds = opt_.etc;

    // The lab's files first, lab.json last: a lab directory without
    // lab.json is an interrupted create (no process of it ever ran), which
    // create() simply does again.
    if (Status st = makeDir(paths.dir, 0700); !st) return st;
    if (Status st = makeDir(paths.etcDir(), 0755); !st) return st;
    // Root-owned, bound read-only; the rest of /etc is made at each start.
    if (Status st = writeFileAtomic(paths.passwd(), passwdFile(*rec, hash), 0644); !st) return st;
    bool ssh = std::any_of(rec->ports.begin(), rec->ports.end(), [](const LabPort& p) { return p.name == "ssh"; });
    if (ssh && !pathExists(paths.hostKey())) {
      // Made once per lab and kept across stop/start, so that trainees'
      // known_hosts stay valid. A name of its own per attempt: a darasa
      // killed mid-create may have left one behind.
      static std::atomic<uint64_t> attempt{0};
      std::string tmp = paths.hostKey() + ".new." + std::to_string(::getpid()) + "." + std::to_string(attempt++);
      if (Status st = writeHostKey(tmp, rec->hostUid, rec->hostGid); !st) return st;
      if (::rename(tmp.c_str(), paths.hostKey().c_str()) != 0)
        return internalError("cannot install the host key: " + errnoText(errno));
    } else if (ssh && privileged_ && ::chown(paths.hostKey().c_str(), rec->hostUid, rec->hostGid) != 0) {
      return internalError("chown " + paths.hostKey() + ": " + errnoText(errno));
    }

    // home/: the trainee's, writable, kept across stop/start. Nothing from
    // /etc/skel: login shells read the host's /etc/profile and bash.bashrc.
    if (Status st = makeDir(paths.homeDir(), 0755); !st) return st;
    int home = ::open(paths.homeDir().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (home < 0) return internalError("cannot open " + paths.homeDir() + ": " + errnoText(errno));
    Status st = Status::ok();
    if (privileged_ && ::fchown(home, rec->hostUid, rec->hostGid) != 0)
      st = internalError("chown " + paths.homeDir() + ": " + errnoText(errno));
    if (st.isOk() && spec.access.sshKey) {
      if (::mkdirat(home, ".ssh", 0700) != 0 && errno != EEXIST)
        st = internalError("mkdir .ssh: " + errnoText(errno));
      int sshDir = st.isOk() ? ::openat(home, ".ssh", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
      if (st.isOk() && sshDir < 0) st = internalError("open .ssh: " + errnoText(errno));
      if (st.isOk()) {
        if (privileged_ && ::fchown(sshDir, rec->hostUid, rec->hostGid) != 0)
          st = internalError("chown .ssh: " + errnoText(errno));
        ::fchmod(sshDir, 0700);
        if (st.isOk()) st = writeOwnedFile(sshDir, "authorized_keys", key + "\n", 0600, rec->hostUid, rec->hostGid);
      }
      if (sshDir >= 0) ::close(sshDir);
    }
    ::close(home);
    if (!st) return st;
    return writeLabRecord(paths, *rec);
  }

  // Binds the lab's 127.0.0.1 ports and starts `darasa-lab launch`; returns
  // once it holds run.lock (or finds another launch of the lab holding it).
  Status launch(LabRecord& rec, const LabPaths& paths, const Deadline& deadline) {
    if (rec.desired != "running") {
      rec.desired = "running";
      if (Status st = writeLabRecord(paths, rec); !st) return st;
    }
    // The ports of the last run are tried first, so that a lab keeps its
    // endpoints across stop/start while they are free.
    std::map<std::string, int> previous;
    if (auto run = readRunRecord(paths)) previous = run->hostPorts;
    // The last run's status must not speak for this one.
    (void)::truncate(paths.status().c_str(), 0);
    std::vector<int> socks;
    auto closeAll = [&]() {
      for (int fd : socks) ::close(fd);
    };
    for (const auto& p : rec.ports) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        closeAll();
        return unavailableError("socket: " + errnoText(errno));
      }
      socks.push_back(fd);
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      auto last = previous.find(p.name);
      a.sin_port = htons(static_cast<uint16_t>(last == previous.end() ? 0 : last->second));
      bool bound = a.sin_port != 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      if (!bound) {
        a.sin_port = 0;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
          closeAll();
          return unavailableError("cannot bind 127.0.0.1: " + errnoText(errno));
        }
      }
      if (::listen(fd, 128) != 0) {
        closeAll();
        return unavailableError("listen: " + errnoText(errno));
      }
    }

    int sync[2];
    if (::pipe2(sync, O_CLOEXEC) != 0) {
      closeAll();
      return unavailableError("pipe: " + errnoText(errno));
    }
    // Copies above the target range, so that placing them at 3, 4, ... in
    // the child never overwrites one not placed yet.
    const int n = static_cast<int>(socks.size());
    std::vector<int> high;
    for (int fd : socks) high.push_back(::fcntl(fd, F_DUPFD_CLOEXEC, 256));
    int syncHigh = ::fcntl(sync[1], F_DUPFD_CLOEXEC, 256);

    std::vector<std::string> args = {opt_.labBinary, "launch", "--lab-dir", paths.dir, "--daemonize",
                                     "--sync-fd", std::to_string(3 + n)};
    for (int i = 0; i < n; ++i) args.insert(args.end(), {"--listen", rec.ports[i].name + "=" + std::to_string(3 + i)});
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<std::string> envs = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                     "LANG=C.UTF-8"};
    for (char** e = environ; *e; ++e) {
      std::string v = *e;
      // Sanitizer builds: the helper must find the same runtime options.
      if (v.rfind("ASAN_", 0) == 0 || v.rfind("UBSAN_", 0) == 0 || v.rfind("LSAN_", 0) == 0) envs.push_back(v);
    }
    std::vector<char*> envp;
    for (auto& s : envs) envp.push_back(s.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    // The launcher's messages, then the sandbox's (bwrap, dropbear, init).
    posix_spawn_file_actions_addopen(&fa, 1, paths.sandboxLog().c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    for (int i = 0; i < n; ++i) posix_spawn_file_actions_adddup2(&fa, high[i], 3 + i);
    posix_spawn_file_actions_adddup2(&fa, syncHigh, 3 + n);
    posix_spawn_file_actions_addclosefrom_np(&fa, 4 + n);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, opt_.labBinary.c_str(), &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    for (int fd : high) ::close(fd);
    ::close(syncHigh);
    ::close(sync[1]);
    closeAll();  // the launcher has them now
    if (rc != 0) {
      ::close(sync[0]);
      return unavailableError("cannot start " + opt_.labBinary + ": " + errnoText(rc));
    }
    // It forks the real launcher and exits at once.
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }

    std::string reply;
    bool eof = false;
    while (reply.find('\n') == std::string::npos && !eof) {
      if (deadline.expired()) break;
      pollfd p{sync[0], POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(deadline.remaining().count(), 1000)));
      if (r > 0) {
        char buf[512];
        ssize_t got = ::read(sync[0], buf, sizeof buf);
        if (got > 0) reply.append(buf, static_cast<size_t>(got));
        else if (got == 0 || errno != EINTR) eof = true;
      }
    }
    ::close(sync[0]);
    std::string line = reply.substr(0, reply.find('\n'));
    if (line == "ok" || line == "busy") return Status::ok();
    if (line.rfind("error ", 0) == 0) return internalError("darasa-lab launch: " + line.substr(6));
    if (!eof) return timeoutError("darasa-lab launch did not answer before the deadline");
    auto log = readFile(paths.sandboxLog());
    return internalError("darasa-lab launch exited while starting" + (log ? ": " + lastLine(*log) : std::string()));
  }

  // Ends the lab's sandbox and waits until it is gone; then no process,
  // port or cgroup of the lab is left. A lab has no state worth a graceful
  // shutdown (the home directory is a plain directory): SIGKILL of bwrap
  // ends its PID namespace at once.
  Status terminate(const LabPaths& paths, const LabRecord& rec, const Deadline& deadline) {
    auto gone = [&]() { return !FileLock::isHeld(paths.runJson()); };
    auto waitGone = [&](std::chrono::milliseconds limit) {
      auto until = std::chrono::steady_clock::now() + limit;
      auto step = std::chrono::microseconds(200);
      while (!gone()) {
        if (std::chrono::steady_clock::now() >= until || deadline.expired()) return false;
        std::this_thread::sleep_for(step);
        step = std::min(step * 2, std::chrono::microseconds(10000));
      }
      return true;
    };
    if (!gone()) {
      auto run = readRunRecord(paths);
      if (run && run->pid > 0 && processAlive(run->pid, run->startTime)) ::kill(run->pid, SIGKILL);
      // init too, in case bwrap died first and init has not noticed yet.
      pid_t init = readLabStatus(paths).sandboxPid;
      if (init > 0 && run) {
        auto t = processStartTime(init);
        if (t && *t >= run->startTime) ::kill(init, SIGKILL);
      }
      if (!waitGone(opt_.stopTimeout)) {
        // Something else holds the lock (a launch that has not exec'd yet):
        // the cgroups reach every process of the lab.
        logger()->warn("lab {}: still running after SIGKILL; killing its cgroups", rec.labId);
        if (!rec.cgroupParent.empty() && cgroups_.usable()) (void)cgroups_.destroy(rec.cgroupName, std::chrono::seconds(2));
        if (!waitGone(std::chrono::seconds(3))) return timeoutError("the lab's processes do not stop");
      }
    }
    if (!rec.cgroupParent.empty() && cgroups_.usable())
      if (Status st = cgroups_.destroy(rec.cgroupName, std::chrono::seconds(5)); !st) return st;
    return Status::ok();
  }

  // A lab directory without a readable lab.json: being created (its lock is
  // held), or a create that died before writing it (no process of it ever
  // ran), or a damaged record.
  ObservedLab incomplete(const std::string& labId, const LabPaths& paths, const Status& why) const {
    ObservedLab o;
    o.labId = labId;
    o.resourceId = paths.dir;
    o.labels[kLabelLab] = labId;
    if (why.code() == Code::kNotFound && FileLock::isHeld(lockPath(labId))) {
      o.state = ObservedState::kCreating;
      o.detail = "being created";
    } else {
      o.state = ObservedState::kFailed;
      o.detail = why.code() == Code::kNotFound
                     ? "creation was interrupted before the lab was complete; create it again or destroy it"
                     : why.message();
    }
    return o;
  }

  ObservedLab observe(const LabPaths& paths, const LabRecord& rec) const {
    ObservedLab o;
    o.labId = rec.labId;
    o.resourceId = paths.dir;
    o.labels = rec.labels;
    o.generation = rec.generation;
    bool alive = FileLock::isHeld(paths.runJson());
    LabStatus status = readLabStatus(paths);
    std::string limits = status.limits.empty() ? "pending" : status.limits;
    if (alive) {
      o.state = status.ready ? ObservedState::kRunning : ObservedState::kCreating;
      o.detail = std::string(status.ready ? "ready" : "starting") + "; limits: " + limits;
      auto run = readRunRecord(paths);
      if (run) {
        for (const auto& p : rec.ports) {
          auto it = run->hostPorts.find(p.name);
          if (it != run->hostPorts.end()) o.endpoints.push_back(Endpoint{p.name, p.protocol, "127.0.0.1", it->second});
        }
        o.detail += "; bwrap pid " + std::to_string(run->pid);
      }
      struct stat st;
      // The status file's mtime: when it became ready, or its last traffic.
      if (status.ready && ::stat(paths.status().c_str(), &st) == 0)
        o.detail += "; active " + formatUtc(std::chrono::system_clock::from_time_t(st.st_mtime));
      return o;
    }
    if (rec.desired == "stopped") {
      o.state = ObservedState::kStopped;
      o.detail = "stopped";
    } else if (!status.failed.empty()) {
      o.state = ObservedState::kFailed;
      o.detail = status.failed;
    } else if (!pathExists(paths.runJson())) {
      o.state = ObservedState::kStopped;
      o.detail = "not started (its creation was interrupted); start or create it again";
    } else if (!status.started) {
      // bwrap itself gave up before the lab's init ran: its message is the
      // last line of the log.
      auto log = readFile(paths.sandboxLog());
      o.state = ObservedState::kFailed;
      o.detail = "the sandbox did not start" + (log ? ": " + lastLine(*log) : std::string());
    } else {
      o.state = ObservedState::kStopped;
      o.detail = "not running: its sandbox ended without a reason (killed, or the machine restarted); start it again";
    }
    return o;
  }

  // A lab's cgroup under the shared parent: its id plus a tag of this
  // provider's root, because two states on one host (two daemons, tests
  // side by side) may use the same lab id, and destroying one lab's cgroup
  // kills every process in it.
  std::string cgroupNameFor(const std::string& labId) const {
    uint32_t h = 2166136261u;  // FNV-1a
    for (unsigned char c : opt_.root) h = (h ^ c) * 16777619u;
    char tag[16];
    std::snprintf(tag, sizeof tag, "%08x", h);
    return labId + "-" + tag;
  }

  std::string name_;
  Options opt_;
  bool privileged_;
  CgroupManager cgroups_;
  std::mutex connMu_;
  std::optional<std::map<int, int>> connTable_;  // guarded by connMu_
  std::chrono::steady_clock::time_point connTableAt_;
  int64_t memTotal_;
  int cpus_;
  std::string version_;
};

Result<int64_t> intOption(const std::map<std::string, std::string>& o, const std::string& key, int64_t def,
                          int64_t min, int64_t max) {
  auto it = o.find(key);
  if (it == o.end() || it->second.empty()) return def;
  try {
    size_t used = 0;
    long long v = std::stoll(it->second, &used);
    if (used != it->second.size() || v < min || v > max) throw std::out_of_range(key);
    return static_cast<int64_t>(v);
  } catch (const std::exception&) {
    return invalidError("option " + key + " \"" + it->second + "\" must be a number in " + std::to_string(min) +
                        ".." + std::to_string(max));
  }
}

}  // namespace

Result<std::unique_ptr<Provider>> makeLocalProvider(const ProviderConfig& config) {
  const auto& o = config.options;
  static const std::set<std::string> kKnown = {"root",    "labBinary",   "bwrap",    "dropbear",
                                               "cgroups",  "cgroupParent", "uidBase",
                                               "uidCount", "maxParallel", "etc",      "shell",
                                               "stopTimeout"};
  for (const auto& [k, v] : o)
    if (!kKnown.count(k)) return invalidError("unknown option \"" + k + "\" of the local provider");
  auto get = [&](const std::string& k) {
    auto it = o.find(k);
    return it == o.end() ? std::string() : it->second;
  };
  Options opt;
  opt.root = get("root");
  if (opt.root.empty()) {
    if (config.stateDir.empty()) return invalidError("the local provider needs a state directory or option root");
    opt.root = config.stateDir + "/local";
  }
  while (opt.root.size() > 1 && opt.root.back() == '/') opt.root.pop_back();
  if (opt.root[0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd)) opt.root = std::string(cwd) + "/" + opt.root;
  }
  opt.labBinary = get("labBinary");
  if (opt.labBinary.empty())
    if (const char* env = std::getenv("DARASA_LAB_BINARY")) opt.labBinary = env;
  if (opt.labBinary.empty()) opt.labBinary = install::helperPath("darasa-lab", DARASA_LAB_BINARY).string();
  opt.bwrap = get("bwrap").empty() ? findExecutable("bwrap") : get("bwrap");
  opt.dropbear = get("dropbear").empty() ? findExecutable("dropbear") : get("dropbear");
  if (sodium_init() < 0) return internalError("libsodium cannot be initialised");
  std::string cg = get("cgroups");
  if (!cg.empty() && cg != "auto" && cg != "off") return invalidError("option cgroups must be auto or off");
  opt.cgroups = cg != "off";
  if (!get("cgroupParent").empty()) opt.cgroupParent = get("cgroupParent");
  if (!isSafeLabId(opt.cgroupParent)) return invalidError("option cgroupParent \"" + opt.cgroupParent + "\" is not a plain name");
  auto uidBase = intOption(o, "uidBase", 400000000, 1000, 4000000000LL);
  if (!uidBase) return uidBase.status();
  auto uidCount = intOption(o, "uidCount", 65536, 1, 1 << 24);
  if (!uidCount) return uidCount.status();
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // A create mostly waits for the lab's launcher to start: more calls
  // than cores in flight keep the machine busy.
  auto maxParallel = intOption(o, "maxParallel", std::clamp(4 * cores, 4, 32), 1, 1024);
  if (!maxParallel) return maxParallel.status();
  auto stopTimeout = intOption(o, "stopTimeout", 5, 1, 3600);
  if (!stopTimeout) return stopTimeout.status();
  opt.uidBase = static_cast<uid_t>(*uidBase);
  opt.uidCount = static_cast<int>(*uidCount);
  opt.maxParallel = static_cast<int>(*maxParallel);
  opt.stopTimeout = std::chrono::seconds(*stopTimeout);
  opt.etc = kDefaultEtc;
  for (const auto& e : splitList(get("etc"))) {
    if (e.find("..") != std::string::npos || e[0] == '/') return invalidError("option etc: \"" + e + "\" must be a name below /etc");
    opt.etc.push_back(e);
  }
  opt.shell = get("shell");
  if (opt.shell.empty()) opt.shell = ::access("/usr/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";

  auto p = std::make_unique<LocalProvider>(config.name.empty() ? "local" : config.name, std::move(opt));
  if (Status st = p->init(); !st) return st;
  return std::unique_ptr<Provider>(std::move(p));
}

}  // namespace darasa::providers::local
