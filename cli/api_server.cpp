// ApiServer over cpp-httplib. httplib is built with OpenSSL, zlib and brotli
// support, and its classes change layout with those macros: this file is
// compiled with the flags of pkg-config cpp-httplib (cli/CMakeLists.txt),
// or it would crash.
#include "api_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

namespace darasa::cli {

namespace {

// Every method the Api may answer (it says 405 itself for a wrong one).
// A catch-all pattern: the Api's own router matches paths.
constexpr const char* kAnyPath = "/.*";

std::string remoteOf(const httplib::Request& req) { return req.remote_addr + ":" + std::to_string(req.remote_port); }

bool readable(const std::string& file) {
  std::ifstream in(file);
  return static_cast<bool>(in);
}

}  // namespace

struct ApiServer::Impl {
  Impl(Api& a, ApiServerOptions o) : api(a), options(std::move(o)) {}

  void handle(const httplib::Request& req, httplib::Response& res) {
    const auto started = std::chrono::steady_clock::now();
    ApiRequest request;
    request.method = req.method;
    request.path = req.path;
    // Repeated query keys: the first one counts.
    for (const auto& [key, value] : req.params) request.query.emplace(key, value);
    request.authorization = req.get_header_value("Authorization");
    request.contentType = req.get_header_value("Content-Type");
    request.body = req.body;
    request.remote = remoteOf(req);
    ApiResponse response;
    try {
      response = api.handle(request);
    } catch (const std::exception& e) {
      // Api::handle does not throw; this is the adapter's last line.
      response.status = 500;
      response.body = R"({"error":{"code":"internal","message":"internal error"}})";
    }
    res.status = response.status;
    for (const auto& [name, value] : response.headers) res.set_header(name, value);
    res.set_content(response.body, response.contentType.c_str());
    done(request.method, request.path, response.route, response.status, request.remote, started);
  }

  void done(const std::string& method, const std::string& path, const std::string& route, int status,
            const std::string& remote, std::chrono::steady_clock::time_point started) {
    if (options.metrics) options.metrics->countRequest(route.empty() ? "(unmatched)" : route, status);
    if (options.onRequest) {
      RequestLog log{method, path, route, status, remote,
                     std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started)};
      try {
        options.onRequest(log);
      } catch (...) {
        // A logging failure must not fail the request.
      }
    }
  }

  Api& api;
  ApiServerOptions options;
  std::unique_ptr<httplib::Server> server;
  std::atomic<int> port{0};
  bool tls = false;
  std::mutex mu;  // listen/run/stop handshake
  std::condition_variable cv;  // run() ended
  bool running = false;
  bool ran = false;  // the accept loop was started once (it cannot be restarted)
  bool stopped = false;
};

ApiServer::ApiServer(Api& api, ApiServerOptions options) : impl_(std::make_unique<Impl>(api, std::move(options))) {}

Status ApiServer::listen(const std::string& host, int port, const std::string& certFile, const std::string& keyFile) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mu);
  if (m.server) return conflictError("the API server is listening already");
  if (certFile.empty() != keyFile.empty())
    return invalidError("TLS needs both a certificate and a key file (got only the " +
                        std::string(certFile.empty() ? "key" : "certificate") + ")");
  std::unique_ptr<httplib::Server> server;
  if (!certFile.empty()) {
    for (const auto& f : {certFile, keyFile})
      if (!readable(f)) return invalidError("cannot read TLS file " + f);
    auto ssl = std::make_unique<httplib::SSLServer>(certFile.c_str(), keyFile.c_str());
    if (!ssl->is_valid())
      return invalidError("the TLS certificate " + certFile + " and key " + keyFile +
                          " do not load (PEM expected) or do not belong together");
    server = std::move(ssl);
    m.tls = true;
  } else {
    server = std::make_unique<httplib::Server>();
  }
  const size_t threads = m.options.threads > 0 ? m.options.threads : 1;
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server->set_payload_max_length(m.options.maxBodyBytes);
  server->set_read_timeout(m.options.readTimeout.count(), 0);
  server->set_write_timeout(m.options.writeTimeout.count(), 0);
  server->set_keep_alive_timeout(m.options.keepAliveTimeout.count());
  server->set_keep_alive_max_count(m.options.keepAliveMaxRequests);
  server->set_tcp_nodelay(true);
  // httplib's default also sets SO_REUSEPORT, which would let a second
  // daemon bind the same port and take half of the requests: reuse only
  // the address (a restart need not wait out TIME_WAIT).
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  Impl* impl = &m;
  auto handler = [impl](const httplib::Request& req, httplib::Response& res) { impl->handle(req, res); };
  server->Get(kAnyPath, handler);  // HEAD too
  server->Post(kAnyPath, handler);
  server->Put(kAnyPath, handler);
  server->Patch(kAnyPath, handler);
  server->Delete(kAnyPath, handler);
  server->Options(kAnyPath, handler);
  // Errors httplib answers itself (an oversized body, a malformed request
  // line): give them the API's JSON error shape. Our own answers already
  // have a body and pass through untouched.
  server->set_error_handler(httplib::Server::HandlerWithResponse([impl](const httplib::Request& req,
                                                                      httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string code = res.status == 413 ? "too-large" : res.status == 404 ? "not-found" : "invalid";
    std::string message = res.status == 413 ? "the request body is larger than " +
                                                  std::to_string(impl->options.maxBodyBytes) + " bytes"
                                            : "malformed request (HTTP " + std::to_string(res.status) + ")";
    res.set_content(R"({"error":{"code":")" + code + R"(","message":")" + message + "\"}}", "application/json");
    impl->done(req.method, req.path, "", res.status, remoteOf(req), std::chrono::steady_clock::now());
    return httplib::Server::HandlerResponse::Handled;
  }));
  int bound = 0;
  if (port == 0) {
    bound = server->bind_to_any_port(host);
    if (bound <= 0) return unavailableError("cannot bind the API server to " + host + " (any port)");
  } else {
    if (!server->bind_to_port(host, port))
      return unavailableError("cannot bind the API server to " + host + ":" + std::to_string(port) +
                              " (in use, or not an address of this machine)");
    bound = port;
  }
  m.port = bound;
  m.server = std::move(server);
  return Status::ok();
}

int ApiServer::port() const { return impl_->port; }
bool ApiServer::tls() const { return impl_->tls; }

void ApiServer::run() {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mu);
    if (!m.server || m.stopped || m.running || m.ran) return;
    m.running = true;
    m.ran = true;
  }
  m.server->listen_after_bind();
  {
    std::lock_guard lock(m.mu);
    m.running = false;
  }
  m.cv.notify_all();
}

void ApiServer::stop() {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu);
  if (m.server && !m.running && !m.ran && !m.stopped) {
    // Bound but never served: httplib closes its socket only from a running
    // accept loop, so start one and stop it at once.
    m.ran = true;
    httplib::Server* server = m.server.get();
    std::thread loop([server] { server->listen_after_bind(); });
    while (!server->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server->stop();
    loop.join();
  }
  m.stopped = true;
  // httplib's stop() only works once its accept loop runs: between run()
  // starting and the loop starting, try again.
  while (m.running) {
    if (m.server->is_running()) {
      m.server->stop();
      break;
    }
    m.cv.wait_for(lock, std::chrono::milliseconds(1));
  }
}

ApiServer::~ApiServer() {
  stop();
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [this] { return !impl_->running; });
}

}  // namespace darasa::cli
