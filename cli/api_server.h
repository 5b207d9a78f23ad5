// ApiServer: serves an Api (provisioner/api.h) over HTTP, or HTTPS with a
// certificate and key, with cpp-httplib (kept out of this header): a bounded
// pool of worker threads, a request body limit, and one metrics count and
// one log callback per request, labelled with the route pattern (never the
// raw path). Thread-safe: listen() once, run() on one thread, stop() from
// any thread (not from a signal handler).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "provisioner/api.h"
#include "provisioner/metrics.h"
#include "provisioner/status.h"

namespace darasa::cli {

// One answered request, for the daemon's log. Carries no header, body or
// query (a token or a password never reaches the log through it).
struct RequestLog {
  std::string method;
  std::string path;
  std::string route;  // the pattern; "" when no route matched or the server refused it itself
  int status = 0;
  std::string remote;  // "127.0.0.1:53422"
  std::chrono::microseconds elapsed{0};
};

struct ApiServerOptions {
  // Worker threads. A keep-alive connection holds a worker while it is
  // open (cpp-httplib), so this is also how many clients are served at once;
  // more wait in the accept queue.
  size_t threads = 64;
  // Larger request bodies get 413 before they are read in full.
  size_t maxBodyBytes = 4 << 20;
  std::chrono::seconds readTimeout{10};
  std::chrono::seconds writeTimeout{10};
  std::chrono::seconds keepAliveTimeout{5};
  size_t keepAliveMaxRequests = 10000;  // per connection, then it is closed
  Metrics* metrics = nullptr;           // darasa_http_requests_total{route, code}; not owned
  std::function<void(const RequestLog&)> onRequest;  // called on the worker thread; must not block
};

class ApiServer {
 public:
  ApiServer(Api& api, ApiServerOptions options);
  ~ApiServer();  // stops and waits for run() to return
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds host:port (port 0: the system picks one; see port()). With both
  // certFile and keyFile (PEM) the server speaks HTTPS only. Errors:
  // kInvalid (only one of cert/key, or they do not load or do not match),
  // kUnavailable (the address is in use or cannot be bound), kConflict
  // (listen called twice).
  Status listen(const std::string& host, int port, const std::string& certFile = "",
                const std::string& keyFile = "");
  int port() const;   // the bound port; 0 before listen()
  bool tls() const;

  // Serves until stop(); returns at once if listen() did not succeed or
  // stop() came first. After stop(), requests in flight finish and run()
  // returns once every connection is closed: an idle keep-alive connection
  // is closed by cpp-httplib only when its keepAliveTimeout runs out, so a
  // shutdown deadline should allow that long.
  void run();
  // Makes run() return. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace darasa::cli
