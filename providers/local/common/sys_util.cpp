#include "local/common/sys_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <thread>

extern char** environ;

namespace darasa::providers::local {

std::string errnoText(int err) {
  char buf[256];
  // GNU strerror_r returns the message pointer (maybe not buf).
  const char* msg = strerror_r(err, buf, sizeof buf);
  return msg;
}

namespace {

std::string randomSuffix() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   (static_cast<uint64_t>(getpid()) << 32)};
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  uint64_t v = rng();
  for (int i = 0; i < 12; ++i, v >>= 4) s += kHex[v & 15];
  return s;
}

Status writeAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return internalError(errnoText(errno));
    }
    off += static_cast<size_t>(n);
  }
  return Status::ok();
}

}  // namespace

Status writeFileAtomic(const std::string& path, const std::string& content, mode_t mode, bool sync) {
  std::string tmp = path + ".tmp." + randomSuffix();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return internalError("cannot write " + tmp + ": " + errnoText(errno));
  Status st = writeAll(fd, content);
  if (st.isOk() && ::fchmod(fd, mode) != 0) st = internalError(errnoText(errno));
  if (st.isOk() && sync && ::fsync(fd) != 0) st = internalError(errnoText(errno));
  ::close(fd);
  if (st.isOk() && ::rename(tmp.c_str(), path.c_str()) != 0) st = internalError(errnoText(errno));
  if (!st.isOk()) {
    ::unlink(tmp.c_str());
    return st.withContext("cannot write " + path);
  }
  return Status::ok();
}

Result<std::string> readFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return notFoundError(path + " does not exist");
    return internalError("cannot read " + path + ": " + errnoText(errno));
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return internalError("cannot read " + path + ": " + errnoText(e));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

bool pathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Status makeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return Status::ok();
  return internalError("cannot create " + path + ": " + errnoText(errno));
}

std::optional<uint64_t> processStartTime(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  auto stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return std::nullopt;
  // The command name (field 2) may contain spaces and parentheses: fields
  // after it start behind the last ')'.
  const std::string& s = *stat;
  auto close = s.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  // Field 3 is the state; field 22 the start time, i.e. 19 fields later.
  size_t pos = close + 2;
  if (pos >= s.size()) return std::nullopt;
  char state = s[pos];
  if (state == 'Z' || state == 'X') return std::nullopt;
  int field = 3;
  while (field < 22) {
    pos = s.find(' ', pos);
    if (pos == std::string::npos) return std::nullopt;
    ++pos;
    ++field;
  }
  return std::strtoull(s.c_str() + pos, nullptr, 10);
}

bool processAlive(pid_t pid, uint64_t startTime) {
  auto t = processStartTime(pid);
  return t && *t == startTime;
}

FileLock& FileLock::operator=(FileLock&& o) noexcept {
  if (this != &o) {
    release();
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
  }
  return *this;
}

namespace {
struct flock wholeFile(short type) {
  struct flock fl;
  std::memset(&fl, 0, sizeof fl);
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  return fl;
}

// One attempt: 1 taken, 0 busy, -errno on failure. On success *out is the fd.
int tryLockOnce(const std::string& path, int* out) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  struct flock fl = wholeFile(F_WRLCK);
  if (::fcntl(fd, F_OFD_SETLK, &fl) != 0) {
    int e = errno;
    ::close(fd);
    return (e == EAGAIN || e == EACCES) ? 0 : -e;
  }
  // The holder before us may have unlinked the file (destroy): then we hold
  // a lock nobody else can see; start over on the new file.
  struct stat a, b;
  if (::fstat(fd, &a) != 0 || ::stat(path.c_str(), &b) != 0 || a.st_ino != b.st_ino ||
      a.st_dev != b.st_dev) {
    ::close(fd);
    return 0;
  }
  *out = fd;
  return 1;
}
}  // namespace

Result<FileLock> FileLock::acquire(const std::string& path, const Deadline& deadline) {
  auto wait = std::chrono::microseconds(200);
  for (;;) {
    int fd = -1;
    int r = tryLockOnce(path, &fd);
    if (r == 1) {
      FileLock l;
      l.fd_ = fd;
      l.path_ = path;
      return l;
    }
    if (r < 0) return internalError("cannot lock " + path + ": " + errnoText(-r));
    if (deadline.expired()) return timeoutError("timed out waiting for the lock " + path);
    std::this_thread::sleep_for(wait);
    wait = std::min(wait * 2, std::chrono::microseconds(20000));
  }
}

Result<FileLock> FileLock::tryAcquire(const std::string& path) {
  int fd = -1;
  int r = tryLockOnce(path, &fd);
  if (r < 0) return internalError("cannot lock " + path + ": " + errnoText(-r));
  if (r == 0) return conflictError(path + " is locked");
  FileLock l;
  l.fd_ = fd;
  l.path_ = path;
  return l;
}

bool FileLock::isHeld(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock fl = wholeFile(F_WRLCK);
  bool held = ::fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  ::close(fd);
  return held;
}

void FileLock::unlinkAndRelease() {
  if (fd_ >= 0) ::unlink(path_.c_str());
  release();
}

void FileLock::release() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

namespace {
// Removes everything inside the directory dfd; returns the first error.
int removeContents(int dfd, int depth) {
  if (depth > 256) return ELOOP;
  DIR* d = ::fdopendir(dfd);
  if (!d) {
    int e = errno;
    ::close(dfd);
    return e;
  }
  int err = 0;
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  int fd = ::dirfd(d);
  for (const auto& name : names) {
    if (::unlinkat(fd, name.c_str(), 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM && errno != EACCES) {
      if (!err) err = errno;
      continue;
    }
    // A directory (or one we may not read yet): make it ours to empty.
    ::fchmodat(fd, name.c_str(), 0700, AT_SYMLINK_NOFOLLOW);
    int sub = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub >= 0) {
      int e = removeContents(sub, depth + 1);
      if (e && !err) err = e;
    }
    if (::unlinkat(fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT && !err) err = errno;
  }
  ::closedir(d);
  return err;
}
}  // namespace

Status removeTree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::ok();
    return internalError("cannot remove " + path + ": " + errnoText(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return internalError("cannot remove " + path + ": " + errnoText(errno));
    return Status::ok();
  }
  ::chmod(path.c_str(), 0700);
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return internalError("cannot remove " + path + ": " + errnoText(errno));
  int err = removeContents(fd, 0);
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT && !err) err = errno;
  if (err) return internalError("cannot remove " + path + ": " + errnoText(err));
  return Status::ok();
}

Result<ProcessOutput> runProcess(const std::vector<std::string>& argv, const Deadline& deadline,
                                 size_t maxOutput, const std::vector<std::string>* env) {
  if (argv.empty()) return invalidError("runProcess: empty argv");
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return internalError("pipe: " + errnoText(errno));

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  if (env) {
    for (const auto& e : *env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
  }

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &fa, &attr, args.data(), env ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    return unavailableError("cannot run " + argv[0] + ": " + errnoText(rc));
  }

  ProcessOutput out;
  bool eof = false;
  int status = 0;
  bool reaped = false;
  std::chrono::steady_clock::time_point drainUntil{};
  for (;;) {
    if (!eof) {
      struct pollfd p{pipefd[0], POLLIN, 0};
      auto left = deadline.remaining().count();
      int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 100)));
      if (n > 0) {
        char buf[8192];
        ssize_t r = ::read(pipefd[0], buf, sizeof buf);
        if (r > 0) {
          size_t room = maxOutput > out.output.size() ? maxOutput - out.output.size() : 0;
          out.output.append(buf, std::min(room, static_cast<size_t>(r)));
        } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
          eof = true;
        }
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (!reaped && ::waitpid(pid, &status, WNOHANG) == pid) {
      reaped = true;
      // A background child may hold the pipe open: drain briefly, not forever.
      drainUntil = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    }
    if (reaped && (eof || std::chrono::steady_clock::now() >= drainUntil)) break;
    if (deadline.expired()) {
      out.timedOut = true;
      ::kill(-pid, SIGKILL);
      if (!reaped) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
      }
      break;
    }
  }
  ::close(pipefd[0]);
  if (WIFEXITED(status)) out.exitCode = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
  return out;
}

std::string findExecutable(const std::string& name) {
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string p = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
  p += ":/usr/local/sbin:/usr/sbin:/sbin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string dir = p.substr(start, end - start);
    if (!dir.empty()) {
      std::string cand = dir + "/" + name;
      struct stat st;
      if (::stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(cand.c_str(), X_OK) == 0)
        return cand;
    }
    start = end + 1;
  }
  return "";
}

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    std::string part = s.substr(start, end - start);
    auto b = part.find_first_not_of(" \t");
    auto e = part.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(part.substr(b, e - b + 1));
    start = end + 1;
  }
  return out;
}

}  // namespace darasa::providers::local
