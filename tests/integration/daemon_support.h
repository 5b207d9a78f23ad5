// A `darasa serve` process for black-box tests: writes its config, starts
// the real binary on 127.0.0.1 with a port it picks (--listen 127.0.0.1:0),
// reads the URL from the line it prints, talks to its API with curl, stops
// it with a signal. Shared by tests/integration/daemon_*_test.cpp and
// tests/cli/remote_cli_test.cpp. Not thread-safe per object.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/command.h"

namespace darasa::testing {

class ServeProcess {
 public:
  // state: the state dir (DARASA_HOME); work: where config, log and output go.
  ServeProcess(std::string state, std::string work, std::string name = "serve")
      : state_(std::move(state)), work_(std::move(work)), name_(std::move(name)) {}
  ~ServeProcess() {
    if (pid_ > 0) stop(SIGKILL, 10);
  }

  std::string configFile() const { return work_ + "/" + name_ + ".yaml"; }
  std::string logFile() const { return work_ + "/" + name_ + ".log"; }
  // stdout and stderr of the latest start (a fresh file per start, so that
  // a restart never reads the previous run's URL).
  std::string outputFile() const { return work_ + "/" + name_ + "." + std::to_string(starts_) + ".out"; }
  const std::string& url() const { return url_; }
  int pid() const { return pid_; }
  std::map<std::string, std::string> env() const { return {{"DARASA_HOME", state_}}; }

  // `extra` is appended to the config (YAML keys, e.g. "providers: ...\n").
  void writeConfig(const std::string& extra = "") {
    writeFile(configFile(), "apiVersion: darasa/v1\nkind: DaemonConfig\nlisten: 127.0.0.1:8440\ntick: 1s\n"
                            "resync: 30s\nshutdownTimeout: 10s\nreconcile: {failureBackoff: 2s}\n"
                            "log: {file: " + logFile() + ", level: debug}\n" + extra);
  }

  // Starts the daemon and waits (up to 60 s) for "listening on URL".
  ::testing::AssertionResult start() {
    if (!std::ifstream(configFile()).good()) writeConfig();
    ++starts_;
    pid_ = spawnCommand({darasaBinary(), "serve", "--config", configFile(), "--listen", "127.0.0.1:0"}, env(),
                        outputFile());
    const std::string marker = "darasa serve: listening on ";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      std::string out = readFile(outputFile());
      size_t at = out.find(marker);
      if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
        url_ = out.substr(at + marker.size(), out.find('\n', at) - at - marker.size());
        return ::testing::AssertionSuccess();
      }
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return ::testing::AssertionFailure() << "darasa serve exited at start:\n" << out << readFile(logFile());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return ::testing::AssertionFailure() << "darasa serve did not say where it listens:\n"
                                         << readFile(outputFile());
  }

  // Sends `sig` and waits up to timeoutSeconds (then SIGKILL). The exit
  // code, 128+N when a signal ended it, -1 when it had to be killed.
  int stop(int sig = SIGTERM, int timeoutSeconds = 30) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
    int st = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        lastStop_ = std::chrono::steady_clock::now();
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &st, 0);
    pid_ = -1;
    return -1;
  }

  // An API call with curl: {HTTP status, body}. Status 0: no answer.
  std::pair<int, std::string> call(const std::string& token, const std::string& method, const std::string& path,
                                   const std::string& body = "") const {
    std::vector<std::string> argv = {"curl", "-s", "--noproxy", "*", "-m", "30", "-X", method, "-o", "-",
                                     "-w", "\n%{http_code}"};
    if (!token.empty()) argv.insert(argv.end(), {"-H", "Authorization: Bearer " + token});
    if (!body.empty()) argv.insert(argv.end(), {"-H", "Content-Type: application/yaml", "--data-binary", body});
    // cpp-httplib answers 400 to a POST without Content-Length: send an empty body.
    else if (method != "GET" && method != "DELETE") argv.insert(argv.end(), {"--data-binary", ""});
    argv.push_back(url_ + path);
    auto r = runCommand(argv, {}, 60);
    size_t nl = r.out.rfind('\n');
    if (nl == std::string::npos) return {0, r.out};
    return {std::atoi(r.out.c_str() + nl + 1), r.out.substr(0, nl)};
  }
  nlohmann::json getJson(const std::string& token, const std::string& path) const {
    auto [status, body] = call(token, "GET", path);
    if (status != 200) return nlohmann::json();
    return nlohmann::json::parse(body, nullptr, false);
  }

 private:
  std::string state_, work_, name_;
  int pid_ = -1;
  int starts_ = 0;
  std::string url_;
  std::chrono::steady_clock::time_point lastStop_{};
};

// A token made with the CLI on the local state (the documented bootstrap
// of the first admin token): the secret printed on stdout.
inline std::string makeToken(const std::string& state, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {darasaBinary(), "token", "create"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = runCommand(argv, {{"DARASA_HOME", state}}, 60);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  std::string t = r.out;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

// Labs of a cohort as the API lists them (an array, or {"labs": [...]}).
inline nlohmann::json apiLabs(const ServeProcess& d, const std::string& token, const std::string& cohort) {
  auto j = d.getJson(token, "/api/v1/cohorts/" + cohort + "/labs");
  if (j.is_object() && j.contains("labs")) return j["labs"];
  return j.is_array() ? j : nlohmann::json::array();
}
inline std::string labState(const nlohmann::json& lab) {
  for (const char* k : {"state", "phase"})
    if (lab.contains(k) && lab[k].is_string()) return lab[k].get<std::string>();
  return "";
}

}  // namespace darasa::testing
