// Small POSIX helpers shared by the local provider and the darasa-lab tool:
// files written atomically, process identity from /proc, OFD locks, child
// processes with a deadline, tree removal. Free functions without shared
// state; thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "provisioner/provider.h"
#include "provisioner/status.h"

namespace darasa::providers::local {

// strerror_r as a std::string.
std::string errnoText(int err);

// Writes content to path through a temporary file in the same directory and
// rename(2), so that a reader, or a kill at any instant, sees either the old
// or the new file, never part of one. sync also fsyncs the file (for records
// that must survive a power cut, not only a killed process).
Status writeFileAtomic(const std::string& path, const std::string& content, mode_t mode = 0600,
                       bool sync = false);
// The whole file; kNotFound if it does not exist.
Result<std::string> readFile(const std::string& path);
bool pathExists(const std::string& path);
// mkdir that accepts an existing directory.
Status makeDir(const std::string& path, mode_t mode);

// Start time of a process in clock ticks after boot (field 22 of
// /proc/<pid>/stat); nullopt if there is no such process. Together with the
// pid it names one process for good: a reused pid has another start time.
std::optional<uint64_t> processStartTime(pid_t pid);
// Whether pid runs (zombies do not count) and is the one that started at startTime.
bool processAlive(pid_t pid, uint64_t startTime);

// Open file description locks (fcntl F_OFD_*): owned by one open(2), released
// when its last descriptor closes (so when the holder dies), and they conflict
// between two open(2)s of the same process too, so threads exclude each other.
class FileLock {
 public:
  FileLock() = default;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  FileLock(FileLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)) {}
  FileLock& operator=(FileLock&& o) noexcept;
  ~FileLock() { release(); }

  // Takes an exclusive lock on path (creating the file), waiting until the
  // deadline (kTimeout then). The descriptor is close-on-exec.
  static Result<FileLock> acquire(const std::string& path, const Deadline& deadline);
  // One attempt; kConflict if someone holds it.
  static Result<FileLock> tryAcquire(const std::string& path);
  // Whether some open file description holds a lock on path (without taking it).
  static bool isHeld(const std::string& path);

  bool held() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Unlinks the lock file while still holding it; see acquire() for how
  // waiters notice (they re-open when the inode changed).
  void unlinkAndRelease();
  void release();

 private:
  int fd_ = -1;
  std::string path_;
};

// Removes a directory tree, restoring permissions a sandbox user may have
// taken away (chmod 000 directories); ok if the path does not exist.
Status removeTree(const std::string& path);

struct ProcessOutput {
  int exitCode = -1;  // when it exited normally
  int signal = 0;     // when a signal ended it
  bool timedOut = false;
  std::string output;  // stdout and stderr interleaved, at most maxOutput bytes
};

// Runs argv (argv[0] a path or a name looked up in PATH) with stdin from
// /dev/null and stdout+stderr captured, in its own process group, which is
// killed when the deadline passes (timedOut then). env == nullptr keeps ours.
Result<ProcessOutput> runProcess(const std::vector<std::string>& argv, const Deadline& deadline,
                                 size_t maxOutput = 1 << 20,
                                 const std::vector<std::string>* env = nullptr);

// The first executable called name in PATH (or name itself if it has a '/');
// "" if none.
std::string findExecutable(const std::string& name);

// Splits "a,b , c" at commas, trimming blanks, dropping empty parts.
std::vector<std::string> splitList(const std::string& s);

}  // namespace darasa::providers::local
