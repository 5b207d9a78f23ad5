// Runs a command line for black-box tests of the darasa binary: captures
// stdout and stderr separately and the exit code. Not thread-safe per object.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace darasa::testing {

struct CommandResult {
  int exitCode = -1;  // 128+N when killed by signal N
  std::string out;
  std::string err;
};

// Runs argv (argv[0] looked up in PATH unless it has a '/') with env
// overrides, stdin from /dev/null; waits up to timeoutSeconds, then kills it.
CommandResult runCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         int timeoutSeconds = 300);

// Starts argv in the background (its own process group) and returns its pid.
int spawnCommand(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                 const std::string& stdoutFile);

// A fresh temporary directory, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void writeFile(const std::string& path, const std::string& content);
std::string readFile(const std::string& path);
// Path of the darasa binary under test.
std::string darasaBinary();
// Whether something accepts TCP connections on 127.0.0.1:port.
bool loopbackPortAnswers(int port);
// An inline roster for a cohort file: n trainees t01, t02, ... as YAML list
// items indented for `spec.trainees`.
std::string traineesYaml(int n);

}  // namespace darasa::testing
