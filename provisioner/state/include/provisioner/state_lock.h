// StateLock: the cross-process exclusive lock (flock on <state dir>/lock)
// that mutating commands (apply, up, down, gc, serve) hold so that two darasa
// processes never reconcile the same state at once. The holder writes who it
// is into the lock file so that a waiting command can say so.
// A StateLock object is not synchronised; the lock it holds is per process
// (a second acquire in the same process conflicts too).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "provisioner/status.h"

namespace darasa {

// What the lock file says about the process that holds it.
struct LockHolder {
  int64_t pid = 0;
  std::string description;  // "darasa up demo"
  int64_t since = 0;        // Unix seconds
};

class StateLock {
 public:
  // Takes the lock on <dir>/lock (creating dir, 0700, and the file, 0600, if
  // missing), waiting up to `wait` for another holder to let go. On success
  // the lock file records this process's pid, `holderDescription` and the
  // time. After `wait`: kConflict "another darasa is working on this state:
  // pid 1234, `darasa up demo`, since 19:20:05; wait for it or stop it".
  // The lock goes away with its process, so a crashed holder never blocks.
  static Result<StateLock> acquire(const std::filesystem::path& dir, std::string holderDescription,
                                   std::chrono::milliseconds wait);

  // Who holds the lock on dir now; nullopt if nobody does (or dir has no lock
  // file). Does not take the lock.
  static Result<std::optional<LockHolder>> currentHolder(const std::filesystem::path& dir);

  StateLock(StateLock&& other) noexcept;
  StateLock& operator=(StateLock&& other) noexcept;
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;
  ~StateLock();  // releases

  // Lets go of the lock now (idempotent).
  void release();
  bool held() const { return fd_ >= 0; }
  const std::filesystem::path& path() const { return path_; }

 private:
  StateLock(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::filesystem::path path_;
};

}  // namespace darasa
