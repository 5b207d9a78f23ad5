#include "provisioner/state_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <thread>

namespace darasa {
namespace fs = std::filesystem;

namespace {

std::string errnoText() { return std::strerror(errno); }

Status makeDir(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return Status::ok();
  if (!dir.parent_path().empty()) fs::create_directories(dir.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return deniedError("cannot create state directory " + dir.string() + ": " + errnoText());
  return Status::ok();
}

std::optional<LockHolder> readHolder(int fd) {
  std::string text;
  char buf[1024];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    off += n;
    if (text.size() > 64 * 1024) break;
  }
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    LockHolder h;
    h.pid = j.value("pid", int64_t{0});
    h.description = j.value("description", std::string());
    h.since = j.value("since", int64_t{0});
    return h;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // written by something else: say "unknown holder"
  }
}

// "19:20:05" today, "2026-01-12 19:20:05" on another day (local time: the
// person reading it is at this machine).
std::string sinceText(int64_t since) {
  std::time_t t = static_cast<std::time_t>(since), now = std::time(nullptr);
  std::tm at{}, today{};
  localtime_r(&t, &at);
  localtime_r(&now, &today);
  char buf[32];
  bool sameDay = at.tm_year == today.tm_year && at.tm_yday == today.tm_yday;
  std::strftime(buf, sizeof buf, sameDay ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &at);
  return buf;
}

std::string heldMessage(const std::optional<LockHolder>& holder, const fs::path& path) {
  if (!holder || holder->pid <= 0)
    return "another darasa is working on this state (it holds " + path.string() + "); wait for it or stop it";
  std::string m = "another darasa is working on this state: pid " + std::to_string(holder->pid);
  if (!holder->description.empty()) m += ", `" + holder->description + "`";
  if (holder->since > 0) m += ", since " + sinceText(holder->since);
  return m + "; wait for it or stop it";
}

}  // namespace

Result<StateLock> StateLock::acquire(const fs::path& dir, std::string holderDescription,
                                     std::chrono::milliseconds wait) {
  Status s = makeDir(dir);
  if (!s) return s;
  fs::path path = dir / "lock";
  // CLOEXEC: a provider's child process must not inherit (and keep) the lock.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return deniedError("cannot open lock file " + path.string() + ": " + errnoText());

  using SteadyClock = std::chrono::steady_clock;
  const auto deadline = SteadyClock::now() + wait;
  auto pause = std::chrono::milliseconds(5);
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) break;
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      std::string err = errnoText();
      ::close(fd);
      return internalError("cannot lock " + path.string() + ": " + err);
    }
    auto now = SteadyClock::now();
    if (now >= deadline) {
      auto holder = readHolder(fd);
      ::close(fd);
      return conflictError(heldMessage(holder, path));
    }
    // Polling, because flock has no timeout; short first waits keep a
    // quick hand-over quick, later ones stay cheap.
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }

  nlohmann::json info = {{"pid", static_cast<int64_t>(::getpid())},
                         {"description", holderDescription},
                         {"since", static_cast<int64_t>(std::time(nullptr))}};
  std::string text = info.dump() + "\n";
  // Who holds it is only a courtesy for the message above: a failed write
  // does not make the lock less held.
  if (::ftruncate(fd, 0) == 0) {
    ssize_t n = ::pwrite(fd, text.data(), text.size(), 0);
    (void)n;
  }
  return StateLock(fd, std::move(path));
}

Result<std::optional<LockHolder>> StateLock::currentHolder(const fs::path& dir) {
  fs::path path = dir / "lock";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<LockHolder>();
    return deniedError("cannot open lock file " + path.string() + ": " + errnoText());
  }
  std::optional<LockHolder> holder;
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);  // free: nobody holds it
  } else {
    holder = readHolder(fd);
    if (!holder) holder = LockHolder{};  // held, but the holder did not say who it is
  }
  ::close(fd);
  return holder;
}

StateLock::StateLock(StateLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

StateLock& StateLock::operator=(StateLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

StateLock::~StateLock() { release(); }

void StateLock::release() {
  if (fd_ < 0) return;
  // Clear the holder first so nobody reads stale information about us, then
  // unlock explicitly (close alone would leave the lock to any copy of the
  // descriptor a fork made).
  if (::ftruncate(fd_, 0) != 0) {
    // Nothing to do: the next holder overwrites it.
  }
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace darasa
