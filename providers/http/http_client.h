// HttpClient: the one small HTTP/1.1 client every HTTP-speaking provider
// shares (Docker/Podman, later LXD, Kubernetes). Speaks to a Unix socket or to
// http(s)://host:port (TLS with a CA and a client certificate), reuses
// connections, honours a Deadline per request, and keeps transport errors
// (returned as a Status: unavailable, denied, timeout, invalid) apart from
// HTTP answers (returned as an HttpResponse, whatever its status code).
// Thread-safe: any number of threads may call request() at once.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "provisioner/provider.h"
#include "provisioner/status.h"

namespace darasa::providers::http {

// Where the server is. parse() accepts unix:///path, tcp://host:port (plain
// HTTP, or HTTPS when any TLS file is given), http://host:port and
// https://host:port.
struct Endpoint {
  std::string unixSocket;  // set: connect to this socket path
  std::string baseUrl;     // "http://localhost" for a socket, else scheme://host:port
  std::string caFile;      // TLS: the CA that signed the server's certificate
  std::string certFile;    // TLS: client certificate (PEM) ...
  std::string keyFile;     // ... and its key

  static Result<Endpoint> parse(const std::string& url, std::string caFile = "",
                                std::string certFile = "", std::string keyFile = "");
  // "unix:///run/podman/podman.sock" or the base URL, for messages.
  std::string display() const;
  bool tls() const { return baseUrl.rfind("https://", 0) == 0; }
};

// How transport errors are worded: the client cannot know what it talks to.
struct ErrorHints {
  std::string what = "the server";  // "cannot reach <what> at <endpoint>"
  std::string notRunning;           // appended when nothing listens, e.g. "is `podman system service` running?"
  std::string permission;           // appended on EACCES, e.g. "add your user to the docker group or run as root"
};

struct HttpRequest {
  std::string method = "GET";
  std::string path;  // "/v1.41/containers/json", not encoded by the client
  std::vector<std::pair<std::string, std::string>> query;  // encoded by the client
  std::string body;
  std::string contentType;  // e.g. "application/json"; empty: no header
  std::vector<std::pair<std::string, std::string>> headers;
  // Bytes of body kept; more are read and dropped (HttpResponse::truncated).
  size_t maxBodyBytes = 64u << 20;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; last value wins
  std::string body;
  bool truncated = false;
  std::string header(const std::string& lowerName) const;
  bool ok() const { return status >= 200 && status < 300; }
};

class HttpClient {
 public:
  explicit HttpClient(Endpoint endpoint, ErrorHints hints = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads the whole answer before `deadline`. Any HTTP
  // status is a response; a non-ok Status means no (complete) answer came:
  // kUnavailable (nothing listens, connection dropped, name unknown),
  // kDenied (no permission on the socket), kTimeout (deadline passed, also
  // when it had passed before the call), kInvalid (TLS files or certificate
  // unusable). Never retries on its own.
  Result<HttpResponse> request(const HttpRequest& req, const Deadline& deadline);

  Result<HttpResponse> get(const std::string& path, const Deadline& deadline,
                           std::vector<std::pair<std::string, std::string>> query = {});

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  struct Pool;
  Endpoint endpoint_;
  ErrorHints hints_;
  std::unique_ptr<Pool> pool_;
};

}  // namespace darasa::providers::http
