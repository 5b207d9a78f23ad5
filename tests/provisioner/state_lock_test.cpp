// The cross-process state lock, held by real forked processes.
#include "provisioner/state_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace darasa {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::MatchesRegex;
using SteadyClock = std::chrono::steady_clock;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "darasa-lock-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A child process that takes the lock, says so through a pipe, and holds it
// until told to let go (or for `holdFor` if given, or until killed).
class LockHolderProcess {
 public:
  LockHolderProcess(const fs::path& dir, const std::string& description,
                    std::chrono::milliseconds holdFor = std::chrono::milliseconds(-1)) {
    int ready[2], go[2];
    if (::pipe(ready) != 0 || ::pipe(go) != 0) std::abort();
    pid_ = ::fork();
    if (pid_ < 0) std::abort();
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(go[1]);
      auto lock = StateLock::acquire(dir, description, 5s);
      char ok = lock.isOk() ? 'y' : 'n';
      if (::write(ready[1], &ok, 1) != 1) ::_exit(3);
      if (!lock.isOk()) ::_exit(2);
      if (holdFor.count() >= 0) {
        std::this_thread::sleep_for(holdFor);
      } else {
        char c;
        (void)!::read(go[0], &c, 1);
      }
      lock->release();
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(go[0]);
    goFd_ = go[1];
    if (holdFor.count() >= 0) letGo();  // it lets go by itself; a late write could meet a closed pipe
    char ok = 0;
    locked_ = ::read(ready[0], &ok, 1) == 1 && ok == 'y';
    ::close(ready[0]);
  }
  ~LockHolderProcess() {
    letGo();
    wait();
  }
  bool locked() const { return locked_; }
  pid_t pid() const { return pid_; }
  void letGo() {
    if (goFd_ >= 0) {
      char c = 'x';
      (void)!::write(goFd_, &c, 1);
      ::close(goFd_);
      goFd_ = -1;
    }
  }
  void kill() {
    if (goFd_ >= 0) ::close(goFd_);  // a write to a dead reader would be SIGPIPE
    goFd_ = -1;
    if (pid_ > 0) ::kill(pid_, SIGKILL);
  }
  int wait() {
    if (pid_ <= 0) return -1;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int goFd_ = -1;
  bool locked_ = false;
};

TEST(StateLockTest, TakesTheLockAndSaysWhoHoldsIt) {
  TempDir dir;
  fs::path state = dir.path() / "state";
  {
    auto lock = StateLock::acquire(state, "darasa apply cohort.yaml", 0ms);
    ASSERT_TRUE(lock.isOk()) << lock.status().toString();
    EXPECT_TRUE(lock->held());
    EXPECT_EQ(lock->path(), state / "lock");
    struct stat st {};
    ASSERT_EQ(::stat((state / "lock").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    auto holder = StateLock::currentHolder(state);
    ASSERT_TRUE(holder.isOk());
    ASSERT_TRUE(holder->has_value());
    EXPECT_EQ((*holder)->pid, ::getpid());
    EXPECT_EQ((*holder)->description, "darasa apply cohort.yaml");
    EXPECT_NEAR(static_cast<double>((*holder)->since), static_cast<double>(std::time(nullptr)), 5.0);
  }
  auto holder = StateLock::currentHolder(state);
  ASSERT_TRUE(holder.isOk());
  EXPECT_FALSE(holder->has_value());
  EXPECT_TRUE(StateLock::acquire(state, "again", 0ms).isOk());
}

TEST(StateLockTest, AnotherProcessHoldingItMakesUsWaitThenFailWithItsName) {
  TempDir dir;
  LockHolderProcess child(dir.path(), "darasa up demo");
  ASSERT_TRUE(child.locked());

  auto t0 = SteadyClock::now();
  auto lock = StateLock::acquire(dir.path(), "darasa down demo", 300ms);
  auto waited = SteadyClock::now() - t0;
  ASSERT_FALSE(lock.isOk());
  EXPECT_EQ(lock.status().code(), Code::kConflict);
  EXPECT_THAT(lock.status().message(),
              MatchesRegex("another darasa is working on this state: pid " + std::to_string(child.pid()) +
                           ", `darasa up demo`, since [0-9][0-9]:[0-9][0-9]:[0-9][0-9]; wait for it or stop it"));
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 3s);

  auto holder = StateLock::currentHolder(dir.path());
  ASSERT_TRUE(holder.isOk() && holder->has_value());
  EXPECT_EQ((*holder)->pid, child.pid());

  // Once the child lets go, a waiting acquire gets it.
  std::thread release([&] {
    std::this_thread::sleep_for(200ms);
    child.letGo();
  });
  t0 = SteadyClock::now();
  lock = StateLock::acquire(dir.path(), "darasa down demo", 10s);
  waited = SteadyClock::now() - t0;
  release.join();
  ASSERT_TRUE(lock.isOk()) << lock.status().toString();
  EXPECT_GE(waited, 150ms);
  EXPECT_LT(waited, 5s);
  EXPECT_EQ((*StateLock::currentHolder(dir.path()))->description, "darasa down demo");
  EXPECT_EQ(child.wait(), 0);
}

TEST(StateLockTest, AHolderThatDiesLeavesNoStaleLock) {
  TempDir dir;
  LockHolderProcess child(dir.path(), "darasa serve");
  ASSERT_TRUE(child.locked());
  EXPECT_FALSE(StateLock::acquire(dir.path(), "darasa gc", 0ms).isOk());
  child.kill();
  child.wait();
  auto lock = StateLock::acquire(dir.path(), "darasa gc", 2s);
  ASSERT_TRUE(lock.isOk()) << lock.status().toString();
  EXPECT_EQ((*StateLock::currentHolder(dir.path()))->pid, ::getpid());
}

TEST(StateLockTest, ATimedHolderIsWaitedFor) {
  TempDir dir;
  LockHolderProcess child(dir.path(), "darasa apply", 400ms);
  ASSERT_TRUE(child.locked());
  auto t0 = SteadyClock::now();
  auto lock = StateLock::acquire(dir.path(), "darasa up", 10s);
  ASSERT_TRUE(lock.isOk()) << lock.status().toString();
  EXPECT_GE(SteadyClock::now() - t0, 200ms);
}

TEST(StateLockTest, TheSameProcessCannotTakeItTwiceAndMovingKeepsIt) {
  TempDir dir;
  auto first = StateLock::acquire(dir.path(), "darasa up demo", 0ms);
  ASSERT_TRUE(first.isOk());
  auto second = StateLock::acquire(dir.path(), "darasa up demo", 50ms);
  ASSERT_FALSE(second.isOk());
  EXPECT_EQ(second.status().code(), Code::kConflict);

  StateLock moved = std::move(first.value());
  EXPECT_FALSE(first->held());
  EXPECT_TRUE(moved.held());
  EXPECT_FALSE(StateLock::acquire(dir.path(), "x", 0ms).isOk());  // the move did not release it
  moved.release();
  moved.release();  // idempotent
  EXPECT_TRUE(StateLock::acquire(dir.path(), "x", 0ms).isOk());
}

TEST(StateLockTest, ALockFileWithoutHolderInformationStillGivesAClearMessage) {
  TempDir dir;
  // A holder that has not written who it is yet (or an older darasa).
  int ready[2], go[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(go), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int fd = ::open((dir.path() / "lock").c_str(), O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(2);
    (void)!::write(ready[1], "y", 1);
    char c;
    (void)!::read(go[0], &c, 1);
    ::_exit(0);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  auto lock = StateLock::acquire(dir.path(), "darasa up", 0ms);
  ASSERT_FALSE(lock.isOk());
  EXPECT_EQ(lock.status().message(), "another darasa is working on this state (it holds " +
                                         (dir.path() / "lock").string() + "); wait for it or stop it");
  (void)!::write(go[1], "x", 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  for (int fd : {ready[0], ready[1], go[0], go[1]}) ::close(fd);
}

}  // namespace
}  // namespace darasa
