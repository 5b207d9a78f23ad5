// serve: the daemon. One process that holds the state lock for its
// lifetime, runs the controller (schedules, work queue, reconcile) in its
// main loop and the REST API on its server threads, and logs JSON lines.
// Signals are read from a self-pipe by one thread (the handler only writes
// a byte): SIGTERM/SIGINT stop it cleanly, SIGHUP reloads the config.
#include <fcntl.h>
#include <signal.h>
#include <sys/select.h>
#include <unistd.h>

#include <cerrno>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstring>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "api_server.h"
#include "apply_request.h"
#include "commands.h"
#include "context.h"
#include "file_checks.h"
#include "log.h"
#include "systemd_notify.h"
#include "providers/builtin.h"
#include "provisioner/api.h"
#include "provisioner/controller.h"
#include "provisioner/leading.h"
#include "provisioner/metrics.h"
#include "templates/config.h"

namespace darasa::cli {
namespace {
using nlohmann::json;
namespace fs = std::filesystem;

struct ServeOptions {
  std::string config;
  std::string listen;  // overrides the config's listen
};

// Reads the config and prints its problems (warnings too) like `validate`.
std::optional<templates::DaemonConfig> readConfig(const std::string& path, std::ostream& diagnostics) {
  auto loaded = templates::loadDaemonConfig(path, daemonConfigOptions());
  for (const auto& d : loaded.diagnostics) diagnostics << templates::formatDiagnostic(d, stderrIsTerminal());
  return loaded.config;
}

// What the daemon tells other darasa commands about itself while it runs
// (<state>/daemon.json): where it listens, so that a local `apply` or `up`
// refused by the state lock can say which --server to use.
void writeDaemonFile(const fs::path& stateDir, const std::string& url) {
  json j = {{"pid", static_cast<int64_t>(::getpid())}, {"url", url}, {"startedAt", formatUtc(SystemClock::instance().now())}};
  auto tmp = stateDir / "daemon.json.tmp";
  {
    std::ofstream out(tmp);
    out << j.dump() << "\n";
  }
  std::error_code ec;
  fs::rename(tmp, stateDir / "daemon.json", ec);
}

// The self-pipe: SIGTERM, SIGINT and SIGHUP only write their number into a
// pipe that the signal thread reads. (Not signalfd: it needs the signals
// blocked, and a blocked mask is inherited by every lab process and plugin
// the providers start, which then could not be stopped with SIGTERM.)
int gSignalPipe[2] = {-1, -1};
extern "C" void onDaemonSignal(int signo) {
  int saved = errno;
  unsigned char b = static_cast<unsigned char>(signo);
  [[maybe_unused]] ssize_t n = ::write(gSignalPipe[1], &b, 1);
  errno = saved;
}

// Returns the pipe's read end, or -1.
int installSignalPipe() {
  if (::pipe2(gSignalPipe, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
  struct sigaction sa {};
  sa.sa_handler = onDaemonSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &sa, nullptr);
  return gSignalPipe[0];
}

class Daemon {
 public:
  Daemon(templates::DaemonConfig config, std::string configPath, StateLocation state, JsonLog& log)
      : config_(std::move(config)), configPath_(std::move(configPath)), state_(std::move(state)),
        stateDir_(state_.dir), log_(log), tick_(config_.tick), shutdownTimeout_(config_.shutdownTimeout) {}

  int run() {
    auto opened = Store::open(state_, OpenMode::kCreate);
    if (!opened) {
      log_.error("cannot open the state", {{"error", opened.status().message()}});
      return fail(opened.status());
    }
    std::unique_ptr<Store> store = std::move(opened.value());

    // Providers: built-ins, the config's plugins (before discovery, so that
    // they win over a discovered plugin of the same name), then discovered ones.
    ProviderRegistry registry;
    registry.setStateDir(stateDir_.string());
    if (auto s = providers::registerBuiltinProviders(registry); !s) return fail(s);
    for (const auto& p : config_.plugins) {
      if (auto s = providers::registerPlugin(registry, p.name, p.path); !s) return fail(s.withContext("plugin " + p.name));
      log_.info("plugin registered", {{"provider", p.name}, {"path", p.path}});
    }
    if (auto s = providers::registerPluginProviders(registry); !s)
      log_.warn("plugin discovery", {{"error", s.message()}});
    for (const auto& [name, options] : config_.providers) registry.configure(name, options);
    {
      std::lock_guard<std::mutex> l(namesMu_);
      providerNames_ = registry.names();
    }

    Clock& clock = SystemClock::instance();
    Metrics metrics(clock);
    LogEventSink logSink(log_);
    ControllerOptions copts;
    copts.actor = "daemon";
    copts.parallelism = config_.parallelism;
    copts.callTimeout = config_.callTimeout;
    copts.maxAttempts = config_.maxAttempts;
    copts.resync = config_.resync;
    copts.failureBackoff = config_.failureBackoff;
    copts.capacity = config_.capacity;  // admission control per provider
    copts.prices = config_.prices;      // cohort budgets
    copts.metrics = &metrics;  // the controller passes events to metrics itself
    copts.events = &logSink;
    Controller controller(*store, registry, clock, copts);
    // SQLite: the state lock, this daemon leads. PostgreSQL: one of the
    // daemons on the database leads (drives the providers), all serve the API.
    LeadingOptions lopts;
    lopts.controller = &controller;
    lopts.metrics = &metrics;
    lopts.log = [this](const std::string& event, int64_t term, const std::string& why) {
      log_.info("leadership " + event, {{"term", term}, {"why", why}});
    };
    auto leading = startLeading(*store, lopts);
    if (!leading) {
      log_.error("cannot take the state lock", {{"error", leading.status().message()}});
      return fail(leading.status());
    }
    std::unique_ptr<Leadership> leadership = std::move(leading.value());

    ApiOptions aopts;
    aopts.maxBodyBytes = config_.maxBodyBytes;
    aopts.version = DARASA_VERSION;
    aopts.leadership = [&leadership] { return leadership->status(); };
    Store* storePtr = store.get();
    aopts.parseApply = [this, storePtr](const std::string& body, const std::string& sourceName) -> Result<ApplyRequest> {
      templates::ValidateOptions vo;
      {
        std::lock_guard<std::mutex> l(namesMu_);
        vo.knownProviders = providerNames_;
      }
      auto stored = storePtr->listTemplates();
      if (!stored) return stored.status();
      for (const auto& t : stored.value()) vo.storedTemplates.push_back({t.name, t.json});
      return parseApplyBody(body, sourceName.empty() ? "request.yaml" : sourceName, vo);
    };
    Api api(*store, registry, clock, &controller, &metrics, aopts);

    ApiServerOptions sopts;
    sopts.maxBodyBytes = config_.maxBodyBytes;
    sopts.metrics = &metrics;
    sopts.onRequest = [this](const RequestLog& r) {
      // Reads are many (pollers, probes): debug; changes and failures: info/warn.
      LogLevel level = r.status >= 500 ? LogLevel::kWarn
                       : r.method != "GET" || r.status >= 400 ? LogLevel::kInfo
                                                               : LogLevel::kDebug;
      log_.log(level, "request", {{"method", r.method},
                                  {"path", r.path},
                                  {"route", r.route},
                                  {"status", r.status},
                                  {"remote", r.remote},
                                  {"ms", static_cast<double>(r.elapsed.count()) / 1000.0}});
    };
    ApiServer server(api, sopts);
    if (auto bound = server.listen(config_.listenHost, config_.listenPort, config_.tlsCert, config_.tlsKey); !bound) {
      log_.error("cannot listen", {{"address", config_.listenAddress()}, {"error", bound.message()}});
      return fail(bound.withContext("listen " + config_.listenAddress()));
    }
    std::thread serverThread([&server] { server.run(); });
    std::string scheme = config_.tlsCert.empty() ? "http" : "https";
    std::string host = config_.listenHost.find(':') != std::string::npos ? "[" + config_.listenHost + "]"
                                                                          : config_.listenHost;
    std::string url = scheme + "://" + host + ":" + std::to_string(server.port());
    writeDaemonFile(stateDir_, url);
    leadership->setUrl(url);
    if (!config_.listenLoopback)
      log_.warn("listening on an address other machines can reach",
                {{"address", url}, {"tls", !config_.tlsCert.empty()}});
    log_.info("darasa serve started", {{"url", url},
                                       {"state", state_.url.empty() ? stateDir_.string() : store->location()},
                                       {"config", configPath_},
                                       {"pid", static_cast<int64_t>(::getpid())},
                                       {"providers", registry.names()}});
    std::cout << "darasa serve: listening on " << url << std::endl;
    notifySystemd("READY=1\nSTATUS=listening on " + url);  // Type=notify (packaging/darasa.service)

    controller_ = &controller;
    api_ = &api;
    std::thread signals([this] { watchSignals(); });
    std::thread stopper([this] {
      std::unique_lock<std::mutex> l(stopMu_);
      stopCv_.wait(l, [this] { return stopSignal_ != 0 || exiting_.load(); });
      int signo = stopSignal_;
      l.unlock();
      if (signo != 0) shutdown(signo);
    });

    uint64_t round = 0;
    while (!stopping_.load()) {
      if (!leadership->leading()) {  // a follower only serves the API
        leadership->waitUntilLeading(std::chrono::milliseconds(500));
        continue;
      }
      std::string id = "r" + std::to_string(++round);
      logSink.setReconcileId(id);
      {
        std::lock_guard<std::mutex> l(tickMu_);
        inTick_ = true;
      }
      TickReport report = controller.tick();
      {
        std::lock_guard<std::mutex> l(tickMu_);
        inTick_ = false;
      }
      tickDone_.notify_all();
      logTick(id, report);
      logSink.setReconcileId("");
      if (stopping_.load()) break;
      if (!controller.waitForWork(tick_.load())) break;
    }

    // Stopping: the API already answers 503; calls still in flight were
    // finished or abandoned by the signal thread's deadline.
    log_.info("stopping: closing the API server");
    server.stop();
    serverThread.join();
    {
      std::lock_guard<std::mutex> l(stopMu_);
      exiting_.store(true);
    }
    stopCv_.notify_all();
    stopper.join();
    signals.join();
    // The pipe stays open (a late signal must find it): the process ends soon.
    controller_ = nullptr;
    api_ = nullptr;
    std::error_code ec;
    fs::remove(stateDir_ / "daemon.json", ec);
    leadership->stop();
    leadership.reset();
    store.reset();
    log_.info("darasa serve stopped", {{"pid", static_cast<int64_t>(::getpid())}});
    return kExitOk;
  }

  void setSignalFd(int fd) { sigFd_ = fd; }
  void setListenOverride(templates::ListenAddress a) { listenOverride_ = std::move(a); }

 private:
  void logTick(const std::string& id, const TickReport& r) {
    json f = {{"reconcile", id},
              {"due", r.due},
              {"reconciled", r.reconciled},
              {"failed", r.failed},
              {"desiredChanges", r.desiredChanges},
              {"elapsedMs", r.elapsed.count()}};
    if (!r.errors.empty()) f["errors"] = r.errors;
    if (r.cancelled) f["cancelled"] = true;
    bool quiet = r.due == 0 && r.desiredChanges == 0 && r.errors.empty();
    log_.log(!r.errors.empty() || r.failed > 0 ? LogLevel::kWarn : quiet ? LogLevel::kDebug : LogLevel::kInfo, "tick",
             f);
  }

  // The signal thread: reads the self-pipe until the daemon exits.
  void watchSignals() {
    while (!exiting_.load()) {
      int fd = sigFd_;
      // A timeout, so that the loop sees exiting_ soon.
      fd_set set;
      FD_ZERO(&set);
      FD_SET(fd, &set);
      timeval tv{0, 200000};
      int n = ::select(fd + 1, &set, nullptr, nullptr, &tv);
      if (n < 0 && errno != EINTR) return;
      if (n <= 0) continue;
      unsigned char signo = 0;
      if (::read(fd, &signo, 1) != 1) continue;
      if (signo == SIGHUP) {
        notifySystemd("RELOADING=1");
        reload();
        notifySystemd("READY=1");
      } else if (!stopping_.exchange(true)) {
        // The shutdown thread waits for the tick, so that this one can still
        // read a second signal.
        {
          std::lock_guard<std::mutex> l(stopMu_);
          stopSignal_ = static_cast<int>(signo);
        }
        stopCv_.notify_all();
      } else {
        // A second SIGTERM/SIGINT: abandon what is in flight now.
        log_.warn("second stop signal: abandoning calls in flight");
        if (Controller* c = controller_.load()) c->stop();
      }
    }
  }

  // Stops taking work, lets the tick in progress finish within the
  // shutdown timeout, then abandons what is still in flight.
  void shutdown(int signo) {
    notifySystemd("STOPPING=1");
    auto timeout = shutdownTimeout_.load();
    log_.info("stop requested", {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"},
                                 {"shutdownTimeoutMs", static_cast<int64_t>(timeout.count())}});
    if (Api* a = api_.load()) a->stopAccepting();
    std::unique_lock<std::mutex> l(tickMu_);
    bool finished = tickDone_.wait_for(l, timeout, [this] { return !inTick_; });
    l.unlock();
    if (!finished) log_.warn("calls still in flight after the shutdown timeout: abandoned (the next start resolves them)");
    if (Controller* c = controller_.load()) c->stop();
  }

  void reload() {
    log_.info("SIGHUP: reloading the config", {{"config", configPath_}});
    std::ostringstream problems;
    auto next = readConfig(configPath_, problems);
    if (!next) {
      log_.error("config not reloaded: it has errors; the running config stays", {{"problems", problems.str()}});
      return;
    }
    if (listenOverride_) {  // --listen wins over the file, now as at start
      next->listenHost = listenOverride_->host;
      next->listenPort = listenOverride_->port;
      next->listenLoopback = listenOverride_->loopback;
    }
    auto changes = templates::diffDaemonConfig(config_, *next);
    // Said before the new level applies, so that a quieter level still
    // shows what changed.
    for (const auto& c : changes.live) log_.info("config change applied", {{"change", c}});
    for (const auto& c : changes.needRestart)
      log_.warn("config change needs a restart of darasa serve to take effect", {{"change", c}});
    if (next->logFile != config_.logFile) {
      if (auto s = log_.reopen(next->logFile); !s) log_.error("log file not changed", {{"error", s.message()}});
    } else if (next->logFile != "-") {
      (void)log_.reopen(next->logFile);  // after log rotation: a fresh file of the same name
    }
    if (auto level = logLevelFromName(next->logLevel)) {
      log_.setLevel(*level);
      setSpdlogLevel(*level);
    }
    tick_.store(next->tick);
    shutdownTimeout_.store(next->shutdownTimeout);
    // Keep what runs in config_ for the next diff, with the live parts new.
    config_.logFile = next->logFile;
    config_.logLevel = next->logLevel;
    config_.tick = next->tick;
    config_.shutdownTimeout = next->shutdownTimeout;
  }

  templates::DaemonConfig config_;
  std::string configPath_;
  StateLocation state_;
  fs::path stateDir_;
  JsonLog& log_;
  std::atomic<std::chrono::milliseconds> tick_;
  std::atomic<std::chrono::milliseconds> shutdownTimeout_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> exiting_{false};
  std::mutex stopMu_;
  std::condition_variable stopCv_;
  int stopSignal_ = 0;  // the signal that asked to stop; 0 = none yet
  std::mutex tickMu_;
  std::condition_variable tickDone_;
  bool inTick_ = false;
  std::atomic<Controller*> controller_{nullptr};
  std::atomic<Api*> api_{nullptr};
  std::mutex namesMu_;
  std::vector<std::string> providerNames_;
  int sigFd_ = -1;
  std::optional<templates::ListenAddress> listenOverride_;
};

int runServe(Context& ctx, const ServeOptions& o) {
  takeNotifySocket();  // before any thread: labs and plugins must not inherit it
  auto config = readConfig(o.config, std::cerr);
  if (!config) {
    std::cerr << "darasa: error: " << o.config << " has errors; not started\n";
    return kExitInvalid;
  }
  std::optional<templates::ListenAddress> listenOverride;
  if (!o.listen.empty()) {
    std::string error;
    auto a = templates::parseListenAddress(o.listen, &error);
    listenOverride = a;
    if (!a) return fail(invalidError("--listen \"" + o.listen + "\" is not an address: " + error));
    config->listenHost = a->host;
    config->listenPort = a->port;
    config->listenLoopback = a->loopback;
    if (!a->loopback)
      std::cerr << "darasa: warning: --listen " << o.listen
                << " can be reached from other machines: anyone who can reach it can try tokens"
                << (config->tlsCert.empty() ? ", and tokens and credentials cross the network in clear text" : "")
                << "\n";
  }
  StateLocation state = ctx.stateLocation();
  if (!config->stateDir.empty()) state.dir = config->stateDir;
  if (!config->stateUrl.empty()) state.url = config->stateUrl;
  if (!config->vaultKeyFile.empty()) state.keyFile = config->vaultKeyFile;
  auto level = logLevelFromName(config->logLevel).value_or(LogLevel::kInfo);
  auto log = JsonLog::open(config->logFile, level);
  if (!log) return fail(log.status());
  // Before any thread or provider exists: signals go to the pipe, and
  // providers' loggers are cloned from a default logger writing JSON.
  int sfd = installSignalPipe();
  if (sfd < 0) return fail(internalError(std::string("cannot make the signal pipe: ") + std::strerror(errno)));
  routeSpdlogTo(*log.value());
  Daemon daemon(std::move(*config), o.config, state, *log.value());
  daemon.setSignalFd(sfd);
  if (listenOverride) daemon.setListenOverride(*listenOverride);
  return daemon.run();
}

}  // namespace

void addServeCommands(CLI::App& app, Context& ctx, int* rc) {
  auto o = std::make_shared<ServeOptions>();
  auto* serve = app.add_subcommand("serve", "Run the daemon: schedules, reconcile, REST API (JSON log lines)");
  serve->add_option("--config", o->config, "the daemon config (darasa.yaml, kind DaemonConfig)")
      ->required()
      ->check(CLI::ExistingFile);
  serve->add_option("--listen", o->listen, "HOST:PORT to listen on, instead of the config's (port 0: any free port)");
  serve->footer("Prints \"darasa serve: listening on URL\" once the API accepts requests.\n"
                "SIGTERM/SIGINT: stop cleanly (exit 0). SIGHUP: reload the config (what cannot change live is logged).\n"
                "Make the first admin token on this machine: darasa token create --role admin");
  serve->callback([&ctx, o, rc] { *rc = runServe(ctx, *o); });
}

}  // namespace darasa::cli
