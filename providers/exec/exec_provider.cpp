// The exec provider: one plugin child process per provider instance, spoken
// to in JSON lines; see exec_provider.h and docs/plugin-protocol.md.
//
// Why posix_spawn and not Boost.Process v2: every read needs a deadline and a
// line-length cap, and the write end needs MSG_NOSIGNAL (a dead plugin must
// not raise SIGPIPE in darasa, and we must not change darasa's signal
// dispositions). With Boost.Process v2 that means an asio io_context per
// plugin and async reads bounded by run_for(); a poll() loop over three file
// descriptors does the same in fewer lines we can reason about, and like
// Boost.Process v2 it leaves SIGCHLD alone: we reap our child by pid only.
#include "exec/exec_provider.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "provisioner/model_json.h"

extern char** environ;

namespace darasa::providers::exec {

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> l = [] {
    if (auto existing = spdlog::get("exec")) return existing;
    auto made = spdlog::default_logger()->clone("exec");
    try {
      spdlog::register_logger(made);
    } catch (const spdlog::spdlog_ex&) {
      if (auto existing = spdlog::get("exec")) return existing;
    }
    return made;
  }();
  return l;
}

constexpr size_t kStderrTailLines = 5;
constexpr size_t kStderrLineCap = 4096;

std::string describeWaitStatus(int st) {
  if (WIFEXITED(st)) return "exited with status " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(st)) + " (" +
                              strsignal(WTERMSIG(st)) + ")";
  return "ended";
}

// One running plugin process: its pid and the three pipes. Not thread-safe
// (the provider's mutex guards it). The destructor kills and reaps it.
class PluginProcess {
 public:
  PluginProcess(std::string label, size_t maxLine) : label_(std::move(label)), maxLine_(maxLine) {}
  ~PluginProcess() { kill(); }
  PluginProcess(const PluginProcess&) = delete;
  PluginProcess& operator=(const PluginProcess&) = delete;

  Status spawn(const std::string& path, const std::vector<std::string>& args) {
    int in[2] = {-1, -1};  // a socket, so that writes can say MSG_NOSIGNAL
    int out[2] = {-1, -1};
    int err[2] = {-1, -1};
    auto closeAll = [&] {
      for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
        if (fd >= 0) ::close(fd);
    };
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
        ::pipe2(err, O_CLOEXEC) != 0) {
      Status s = unavailableError(std::string("cannot make pipes: ") + std::strerror(errno));
      closeAll();
      return s;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[1], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    // Descriptors other code in darasa opened without O_CLOEXEC must not
    // leak into the plugin (a leaked pipe end would hide another plugin's EOF).
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Its own process group, so that killing a hung plugin kills what it runs.
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t dfl;
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<std::string> argvStore;
    argvStore.push_back(path);
    argvStore.insert(argvStore.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argvStore) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, path.c_str(), &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(in[1]);
    ::close(out[1]);
    ::close(err[1]);
    in[1] = out[1] = err[1] = -1;
    if (rc != 0) {
      closeAll();
      return unavailableError("cannot start " + path + ": " + std::strerror(rc));
    }
    pid_ = pid;
    in_ = in[0];
    out_ = out[0];
    err_ = err[0];
    for (int fd : {in_, out_, err_}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return Status::ok();
  }

  pid_t pid() const { return pid_; }

  // Whether the process still runs; reaps it (no zombie) if not.
  bool alive() {
    if (pid_ < 0) return false;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      exitStatus_ = st;
      pid_ = -1;
      return false;
    }
    return r == 0;
  }

  Status writeLine(const std::string& line, const Deadline& deadline) {
    size_t done = 0;
    while (done < line.size()) {
      ssize_t n = ::send(in_, line.data() + done, line.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (deadline.expired()) return timeoutError("the plugin does not read its stdin");
        pollfd p{in_, POLLOUT, 0};
        ::poll(&p, 1, pollTimeout(deadline));
        drainStderr();
        continue;
      }
      return unavailableError("the plugin " + endedDescription() + " (stdin closed)");
    }
    return Status::ok();
  }

  // The next line the plugin writes on stdout (without '\n'). Logs its stderr
  // meanwhile. Errors: kTimeout (deadline), kUnavailable (it ended),
  // kInternal (a line longer than the limit).
  Result<std::string> readLine(const Deadline& deadline) {
    for (;;) {
      if (auto nl = outBuf_.find('\n'); nl != std::string::npos) {
        if (nl > maxLine_) return lineTooLong(nl);
        std::string line = outBuf_.substr(0, nl);
        outBuf_.erase(0, nl + 1);
        return line;
      }
      if (outBuf_.size() > maxLine_) return lineTooLong(outBuf_.size());
      if (deadline.expired()) return timeoutError("no answer");
      pollfd p[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
      int n = ::poll(p, err_ >= 0 ? 2 : 1, pollTimeout(deadline));
      if (n < 0 && errno != EINTR) return internalError(std::string("poll: ") + std::strerror(errno));
      if (err_ >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) drainStderr();
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[65536];
        ssize_t r = ::read(out_, buf, sizeof buf);
        if (r > 0) {
          outBuf_.append(buf, static_cast<size_t>(r));
        } else if (r == 0) {
          drainStderr();
          return unavailableError("the plugin " + endedDescription() + stderrSuffix());
        } else if (errno != EAGAIN && errno != EINTR) {
          return unavailableError(std::string("reading the plugin's stdout: ") + std::strerror(errno));
        }
      }
    }
  }

  // Logs whatever the plugin wrote on stderr, without blocking.
  void drainStderr() {
    while (err_ >= 0) {
      char buf[16384];
      ssize_t r = ::read(err_, buf, sizeof buf);
      if (r > 0) {
        errBuf_.append(buf, static_cast<size_t>(r));
        size_t nl;
        while ((nl = errBuf_.find('\n')) != std::string::npos) {
          emitStderr(errBuf_.substr(0, nl));
          errBuf_.erase(0, nl + 1);
        }
        if (errBuf_.size() > kStderrLineCap) {
          emitStderr(errBuf_.substr(0, kStderrLineCap) + "...");
          errBuf_.clear();
        }
        continue;
      }
      if (r == 0) {
        if (!errBuf_.empty()) emitStderr(errBuf_);
        errBuf_.clear();
        ::close(err_);
        err_ = -1;
      }
      return;  // EAGAIN or an error: nothing more now
    }
  }

  // Closes stdin (a plugin should exit on EOF), waits up to `grace`, then
  // kills the process group. Always reaps.
  void stop(milliseconds grace) {
    if (pid_ < 0) return;
    if (in_ >= 0) {
      ::close(in_);
      in_ = -1;
    }
    auto until = std::chrono::steady_clock::now() + grace;
    while (alive() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(milliseconds(10));
    kill();
  }

  // SIGKILL to the plugin's process group, then reap it.
  void kill() {
    if (pid_ >= 0) {
      ::kill(-pid_, SIGKILL);  // the group: a hung plugin's children too
      ::kill(pid_, SIGKILL);
      int st = 0;
      while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
      }
      exitStatus_ = st;
      pid_ = -1;
    }
    drainStderr();
    for (int* fd : {&in_, &out_, &err_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }

  // "exited with status 3" once reaped; waits briefly for a process that
  // closed its stdout to finish.
  std::string endedDescription() {
    for (int i = 0; i < 50 && alive(); ++i) std::this_thread::sleep_for(milliseconds(10));
    if (pid_ >= 0) return "closed its stdout";
    return exitStatus_ ? describeWaitStatus(*exitStatus_) : "ended";
  }

  std::string stderrSuffix() const {
    if (stderrTail_.empty()) return "";
    std::string s = "; its stderr ended with: ";
    for (size_t i = 0; i < stderrTail_.size(); ++i) s += (i ? " | " : "") + stderrTail_[i];
    return s;
  }

 private:
  static int pollTimeout(const Deadline& d) {
    auto ms = d.remaining().count();
    return static_cast<int>(std::min<int64_t>(ms + 1, 60'000));
  }

  Status lineTooLong(size_t n) const {
    return internalError("the plugin wrote a line of more than " + std::to_string(maxLine_) + " bytes (" +
                         std::to_string(n) + " so far)");
  }

  void emitStderr(std::string line) {
    if (line.size() > kStderrLineCap) line = line.substr(0, kStderrLineCap) + "...";
    logger()->info("[{}] {}", label_, line);
    stderrTail_.push_back(line.size() > 200 ? line.substr(0, 200) + "..." : line);
    if (stderrTail_.size() > kStderrTailLines) stderrTail_.pop_front();
  }

  std::string label_;
  size_t maxLine_;
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  std::string outBuf_, errBuf_;
  std::deque<std::string> stderrTail_;
  std::optional<int> exitStatus_;
};

ProviderKind kindFromName(const std::string& s) {
  if (s == "process") return ProviderKind::kProcess;
  if (s == "container") return ProviderKind::kContainer;
  if (s == "vm") return ProviderKind::kVm;
  return ProviderKind::kOther;
}

json specJson(const LabSpec& spec, bool withCredentials) {
  json j = spec;
  if (withCredentials) {
    j["credentials"] = json{{"user", spec.credentials.user},
                            {"password", spec.credentials.password.reveal()},
                            {"passwordHash", spec.credentials.passwordHash},
                            {"authorizedKey", spec.credentials.authorizedKey}};
  }
  return j;
}

int64_t parseInt(const std::map<std::string, std::string>& o, const char* key, int64_t dflt) {
  auto it = o.find(key);
  if (it == o.end()) return dflt;
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    return -1;
  }
}

class ExecProvider final : public Provider {
 public:
  ExecProvider(ProviderConfig config, std::string path, std::vector<std::string> args, milliseconds handshake,
               size_t maxLine)
      : config_(std::move(config)),
        path_(std::move(path)),
        args_(std::move(args)),
        handshakeTimeout_(handshake),
        maxLine_(maxLine) {
    info_.name = config_.name;
    info_.kind = ProviderKind::kOther;
    info_.maxParallel = 1;
    reaper_ = std::thread([this] { reapLoop(); });
  }

  ~ExecProvider() override {
    stopping_ = true;
    reaper_.join();
    std::lock_guard lock(mu_);
    if (proc_) proc_->stop(milliseconds(1000));
  }

  ProviderInfo info() const override {
    std::lock_guard lock(mu_);
    if (!handshaken_) (void)ensureStarted(Deadline::after(handshakeTimeout_));
    return info_;
  }

  Status usable() override {
    std::lock_guard lock(mu_);
    return ensureStarted(Deadline::after(handshakeTimeout_));
  }

  Status validate(const LabSpec& spec) override {
    return call("validate", {{"spec", specJson(spec, false)}}, Deadline::after(milliseconds(30'000))).status();
  }

  Result<ObservedLab> create(const LabSpec& spec, const Deadline& deadline) override {
    return decode<ObservedLab>("create", call("create", {{"spec", specJson(spec, true)}}, deadline));
  }

  Result<ObservedLab> inspect(const std::string& labId, const Deadline& deadline) override {
    return decode<ObservedLab>("inspect", call("inspect", {{"labId", labId}}, deadline));
  }

  Result<std::vector<ObservedLab>> list(const LabelSelector& selector, const Deadline& deadline) override {
    auto r = call("list", {{"selector", json{{"equals", selector.equals}}}}, deadline);
    if (!r) return r.status();
    try {
      return r->at("labs").get<std::vector<ObservedLab>>();
    } catch (const std::exception& e) {
      return protocolError("list", std::string("malformed result: ") + e.what());
    }
  }

  Status start(const std::string& labId, const Deadline& deadline) override {
    if (auto s = needStopStart("start"); !s) return s;
    return call("start", {{"labId", labId}}, deadline).status();
  }

  Status stop(const std::string& labId, const Deadline& deadline) override {
    if (auto s = needStopStart("stop"); !s) return s;
    return call("stop", {{"labId", labId}}, deadline).status();
  }

  Status destroy(const std::string& labId, const Deadline& deadline) override {
    return call("destroy", {{"labId", labId}}, deadline).status();
  }

  Status probe(const LabSpec& spec, const Deadline& deadline) override {
    auto r = call("probe", {{"spec", specJson(spec, false)}}, deadline);
    // A plugin without its own readiness check gets the default one.
    if (!r && r.status().code() == Code::kNotSupported) return Provider::probe(spec, deadline);
    return r.status();
  }

  Result<ExecResult> exec(const std::string& labId, const std::vector<std::string>& argv,
                          const Deadline& deadline) override {
    {
      std::lock_guard lock(mu_);
      if (handshaken_ && !info_.capabilities.exec)
        return notSupportedError("provider " + config_.name + " (plugin) cannot exec in labs");
    }
    auto r = call("exec", {{"labId", labId}, {"argv", argv}}, deadline);
    if (!r) return r.status();
    try {
      ExecResult out;
      out.exitCode = r->at("exitCode").get<int>();
      out.output = r->value("output", std::string());
      return out;
    } catch (const std::exception& e) {
      return protocolError("exec", std::string("malformed result: ") + e.what());
    }
  }

  // Optional (protocol 1 without a version change): sent only to a plugin
  // whose handshake lists capabilities.activity; a lab of any other plugin
  // has unknown activity and is never culled as idle.
  Result<LabActivity> activity(const std::string& labId, const Deadline& deadline) override {
    {
      std::lock_guard lock(mu_);
      if (!handshaken_) (void)ensureStarted(Deadline::after(handshakeTimeout_));
      if (handshaken_ && !activityCapable_)
        return notSupportedError("provider " + config_.name + " (plugin) does not report lab activity");
    }
    auto r = call("activity", {{"labId", labId}}, deadline);
    if (!r) return r.status();
    try {
      LabActivity a;
      const json& j = *r;
      if (j.contains("lastActive") && !j["lastActive"].is_null())
        a.lastActive = std::chrono::system_clock::from_time_t(static_cast<std::time_t>(j["lastActive"].get<int64_t>()));
      a.openConnections = j.value("openConnections", -1);
      a.cpuMillis = j.value("cpuMillis", int64_t{-1});
      a.memoryBytes = j.value("memoryBytes", int64_t{-1});
      a.source = j.value("source", std::string("plugin ") + config_.name);
      return a;
    } catch (const std::exception& e) {
      return protocolError("activity", std::string("malformed result: ") + e.what());
    }
  }

 private:
  std::string label() const { return "plugin " + config_.name + " (" + path_ + ")"; }

  Status protocolError(const std::string& method, const std::string& what) const {
    return internalError(label() + ": " + method + ": " + what);
  }

  Status needStopStart(const char* method) {
    std::lock_guard lock(mu_);
    if (!handshaken_) (void)ensureStarted(Deadline::after(handshakeTimeout_));
    if (handshaken_ && !info_.capabilities.stopStart)
      return notSupportedError("provider " + config_.name + " (plugin) cannot " + method + " labs");
    return Status::ok();
  }

  template <typename T>
  Result<T> decode(const char* method, Result<json> r) const {
    if (!r) return r.status();
    try {
      return r->get<T>();
    } catch (const std::exception& e) {
      return protocolError(method, std::string("malformed result: ") + e.what());
    }
  }

  // A plugin that dies between calls is reaped within a second (no zombie
  // while darasa idles) and its exit logged; calls in flight are not waited for.
  // (A sleep loop, not a condition variable: a timed condition-variable wait
  // never woke in our ASan build with GCC 12 — cause not investigated.)
  void reapLoop() {
    for (int tick = 1; !stopping_; ++tick) {
      std::this_thread::sleep_for(milliseconds(50));
      if (tick % 10 != 0) continue;
      std::unique_lock call(mu_, std::try_to_lock);
      if (!call.owns_lock() || !proc_ || proc_->alive()) continue;
      proc_->drainStderr();
      logger()->warn("{} {} between calls{}; it is restarted on the next call", label(), proc_->endedDescription(),
                     proc_->stderrSuffix());
      proc_->kill();
      proc_.reset();
      handshaken_ = false;
    }
  }

  // Kills the plugin (it is restarted on the next call) and returns s.
  Status killWith(Status s) const {
    if (proc_) {
      if (s.message().find("restarts it") != std::string::npos)
        logger()->warn("{}", s.message());
      else
        logger()->warn("{}; stopped the plugin, it is restarted on the next call", s.message());
      proc_->kill();
      proc_.reset();
    }
    handshaken_ = false;
    return s;
  }

  // One request/response exchange with the running plugin. Protocol
  // violations kill the plugin; an error answer does not.
  Result<json> exchange(const std::string& method, json params, const Deadline& deadline) const {
    const int64_t id = nextId_++;
    auto left = deadline.remaining();
    // The plugin is told slightly less than we wait, so that its own
    // "timeout" answer can arrive before we give up on it.
    params["deadlineMs"] = (left - std::min(left / 10, milliseconds(200))).count();
    json req = {{"id", id}, {"method", method}, {"params", std::move(params)}};
    std::string line = req.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    if (auto s = proc_->writeLine(line, deadline); !s)
      return killWith(Status(s.code(), label() + ": " + method + ": " + s.message()));
    auto got = proc_->readLine(deadline);
    if (!got) {
      Status s = got.status();
      if (s.code() == Code::kTimeout)
        s = timeoutError(label() + " did not answer " + method + " within " + std::to_string(left.count()) +
                         " ms (it was stopped; the next call restarts it)");
      else
        s = Status(s.code(), label() + ": " + method + ": " + s.message());
      return killWith(s);
    }
    json resp;
    try {
      resp = json::parse(*got);
    } catch (const std::exception&) {
      std::string shown = got->size() > 120 ? got->substr(0, 120) + "..." : *got;
      return killWith(protocolError(method, "answered with a line that is not JSON: \"" + shown + "\""));
    }
    if (!resp.is_object() || !resp.contains("id") || !resp["id"].is_number_integer())
      return killWith(protocolError(method, "answered without an integer \"id\""));
    if (resp["id"].get<int64_t>() != id)
      return killWith(protocolError(method, "answered id " + std::to_string(resp["id"].get<int64_t>()) +
                                                " to request id " + std::to_string(id)));
    if (resp.contains("error")) {
      const json& e = resp["error"];
      std::string codeName = e.is_object() ? e.value("code", std::string()) : std::string();
      std::string message = e.is_object() ? e.value("message", std::string()) : e.dump();
      auto code = codeFromName(codeName);
      if (!code || *code == Code::kOk)
        return Status(Code::kInternal, "provider " + config_.name + ": " + method + ": unknown error code \"" +
                                           codeName + "\": " + message);
      return Status(*code, "provider " + config_.name + ": " + message);
    }
    if (!resp.contains("result")) return killWith(protocolError(method, "answered neither result nor error"));
    return resp["result"];
  }

  // Starts the plugin and does the handshake unless it is running already.
  Status ensureStarted(const Deadline& callDeadline) const {
    if (proc_ && handshaken_ && proc_->alive()) return Status::ok();
    if (proc_) {
      // It died between calls (already reaped by alive()).
      logger()->warn("{} {}; restarting it", label(), proc_->endedDescription());
      proc_->kill();
      proc_.reset();
    }
    handshaken_ = false;
    proc_ = std::make_unique<PluginProcess>(config_.name, maxLine_);
    if (auto s = proc_->spawn(path_, args_); !s) {
      proc_.reset();
      return Status(s.code(), label() + ": " + s.message());
    }
    json pluginConfig = json::object();
    for (const auto& [k, v] : config_.options)
      if (k != "path" && k != "args" && k != "handshakeTimeout" && k != "maxLineBytes") pluginConfig[k] = v;
    std::string stateDir = config_.stateDir.empty() ? std::string() : config_.stateDir + "/plugins/" + config_.name;
    if (auto it = config_.options.find("stateDir"); it != config_.options.end()) stateDir = it->second;
    json params = {{"protocol", kProtocolVersion},
                   {"minProtocol", kMinProtocolVersion},
                   {"darasa", "0.1.0"},
                   {"name", config_.name},
                   {"config", pluginConfig},
                   {"stateDir", stateDir}};
    Deadline d(std::min(callDeadline.at(), Deadline::after(handshakeTimeout_).at()));
    auto r = exchange("handshake", params, d);
    if (!r) {
      return killWith(r.status());
    }
    const json& h = *r;
    int protocol = h.value("protocol", -1);
    if (!h.is_object() || protocol < kMinProtocolVersion || protocol > kProtocolVersion) {
      return killWith(notSupportedError(label() + " speaks protocol " + std::to_string(protocol) +
                                        "; this darasa speaks " + std::to_string(kMinProtocolVersion) + " to " +
                                        std::to_string(kProtocolVersion) + " (darasa-provider/" +
                                        std::to_string(kProtocolVersion) + ")"));
    }
    ProviderInfo info;
    info.name = config_.name;
    info.version = h.value("version", std::string());
    std::string pluginName = h.value("name", std::string());
    if (!pluginName.empty() && pluginName != config_.name) info.version = pluginName + " " + info.version;
    info.kind = kindFromName(h.value("kind", std::string("other")));
    if (h.contains("capabilities") && h["capabilities"].is_object()) {
      const json& c = h["capabilities"];
      info.capabilities.stopStart = c.value("stopStart", false);
      info.capabilities.exec = c.value("exec", false);
      info.capabilities.reset = c.value("reset", false);
      activityCapable_ = c.value("activity", false);
    } else {
      activityCapable_ = false;
    }
    // One call in flight per plugin process: more parallelism would only queue.
    info.maxParallel = 1;
    info_ = info;
    handshaken_ = true;
    logger()->debug("{}: handshake ok, protocol {}, version {}", label(), protocol, info.version);
    return Status::ok();
  }

  Result<json> call(const std::string& method, json params, const Deadline& deadline) {
    std::lock_guard lock(mu_);
    if (deadline.expired()) return timeoutError("provider " + config_.name + ": " + method + ": deadline passed");
    if (auto s = ensureStarted(deadline); !s) return s;
    if (deadline.expired())
      return timeoutError("provider " + config_.name + ": " + method + ": deadline passed during the handshake");
    return exchange(method, std::move(params), deadline);
  }

  ProviderConfig config_;
  std::string path_;
  std::vector<std::string> args_;
  milliseconds handshakeTimeout_;
  size_t maxLine_;
  mutable std::mutex mu_;
  mutable std::unique_ptr<PluginProcess> proc_;
  mutable bool handshaken_ = false;
  mutable bool activityCapable_ = false;  // handshake capabilities.activity
  mutable ProviderInfo info_;
  mutable int64_t nextId_ = 1;
  std::atomic<bool> stopping_{false};
  std::thread reaper_;  // last: started after everything it uses
};

bool validPluginName(const std::string& n) {
  if (n.empty()) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

}  // namespace

Result<std::unique_ptr<Provider>> makeExecProvider(const ProviderConfig& config) {
  auto it = config.options.find("path");
  if (it == config.options.end() || it->second.empty())
    return invalidError("provider " + config.name + ": option \"path\" (the plugin executable) is required");
  std::vector<std::string> args;
  if (auto a = config.options.find("args"); a != config.options.end()) {
    std::istringstream in(a->second);
    for (std::string w; in >> w;) args.push_back(w);
  }
  int64_t hs = parseInt(config.options, "handshakeTimeout", 10'000);
  if (hs <= 0) return invalidError("provider " + config.name + ": handshakeTimeout must be a positive number of ms");
  int64_t maxLine = parseInt(config.options, "maxLineBytes", 1 << 20);
  if (maxLine <= 0) return invalidError("provider " + config.name + ": maxLineBytes must be a positive number");
  return std::unique_ptr<Provider>(std::make_unique<ExecProvider>(config, it->second, std::move(args),
                                                                   milliseconds(hs), static_cast<size_t>(maxLine)));
}

std::vector<DiscoveredPlugin> discoverPlugins(const std::vector<std::string>& dirs) {
  namespace fs = std::filesystem;
  std::vector<DiscoveredPlugin> out;
  std::set<std::string> seen;
  const std::string prefix = kPluginPrefix;
  for (const auto& dir : dirs) {
    std::error_code ec;
    std::vector<fs::path> entries;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(it->path());
    std::sort(entries.begin(), entries.end());
    for (const auto& p : entries) {
      std::string file = p.filename().string();
      if (file.rfind(prefix, 0) != 0) continue;
      std::string name = file.substr(prefix.size());
      if (!validPluginName(name) || seen.count(name)) continue;
      struct stat st{};
      if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || ::access(p.c_str(), X_OK) != 0) continue;
      seen.insert(name);
      out.push_back({name, fs::absolute(p, ec).string()});
    }
  }
  return out;
}

std::vector<std::string> defaultPluginDirs() {
  std::vector<std::string> dirs;
  if (const char* home = std::getenv("DARASA_HOME"); home && *home) dirs.push_back(std::string(home) + "/plugins");
  if (const char* path = std::getenv("PATH")) {
    std::string p = path;
    size_t start = 0;
    for (;;) {
      size_t c = p.find(':', start);
      std::string d = p.substr(start, c == std::string::npos ? std::string::npos : c - start);
      if (!d.empty()) dirs.push_back(d);
      if (c == std::string::npos) break;
      start = c + 1;
    }
  }
  return dirs;
}

Status registerPluginProviders(ProviderRegistry& registry, const std::vector<std::string>& pluginDirs) {
  for (const auto& plugin : discoverPlugins(pluginDirs)) {
    if (registry.has(plugin.name)) continue;
    std::string path = plugin.path;
    auto factory = [path](const ProviderConfig& config) {
      ProviderConfig c = config;
      c.options.try_emplace("path", path);
      return makeExecProvider(c);
    };
    if (auto s = registry.add(plugin.name, factory, "plugin " + path); !s) return s;
  }
  return Status::ok();
}

Status registerNamedPlugin(ProviderRegistry& registry, const std::string& name, const std::string& path) {
  auto factory = [path](const ProviderConfig& config) {
    ProviderConfig c = config;
    c.options["path"] = path;
    return makeExecProvider(c);
  };
  return registry.add(name, factory, "plugin " + path + " (from the config)");
}

}  // namespace darasa::providers::exec
