#include "http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace darasa::providers::http {

namespace {

void initCurlOnce() {
  static std::once_flag once;
  // curl_global_init is not thread-safe in every libcurl build: do it once,
  // before the first handle, from whichever thread comes first.
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

struct CurlFreeDeleter {
  void operator()(char* p) const { curl_free(p); }
};

struct BodySink {
  std::string* body;
  size_t max;
  bool truncated = false;
};

size_t onBody(char* data, size_t size, size_t n, void* userdata) {
  auto* sink = static_cast<BodySink*>(userdata);
  size_t len = size * n;
  size_t room = sink->body->size() < sink->max ? sink->max - sink->body->size() : 0;
  if (len > room) sink->truncated = true;
  sink->body->append(data, std::min(len, room));
  return len;  // keep reading (and dropping) so the connection stays usable
}

std::string trim(std::string s) {
  auto notSpace = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), notSpace));
  s.erase(std::find_if(s.rbegin(), s.rend(), notSpace).base(), s.end());
  return s;
}

size_t onHeader(char* data, size_t size, size_t n, void* userdata) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(userdata);
  size_t len = size * n;
  std::string line(data, len);
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();  // a new response (after 100 Continue or a redirect)
    return len;
  }
  auto colon = line.find(':');
  if (colon == std::string::npos) return len;
  std::string name = trim(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  (*headers)[name] = trim(line.substr(colon + 1));
  return len;
}

std::string withHint(std::string message, const std::string& hint) {
  if (!hint.empty()) message += " — " + hint;
  return message;
}

Status transportError(CURLcode rc, long osErrno, const char* errbuf, const Endpoint& ep,
                      const ErrorHints& hints, std::chrono::milliseconds budget) {
  std::string where = hints.what + " at " + ep.display();
  std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return timeoutError("no answer from " + where + " within " + std::to_string(budget.count()) +
                          " ms");
    case CURLE_COULDNT_CONNECT:
      if (osErrno == EACCES || osErrno == EPERM) {
        std::string target = ep.unixSocket.empty() ? ep.display() : ep.unixSocket;
        return deniedError(withHint("permission denied on " + target, hints.permission));
      }
      if (osErrno == ENOENT)
        return unavailableError(withHint("cannot reach " + where + ": no such socket", hints.notRunning));
      if (osErrno == ECONNREFUSED)
        return unavailableError(withHint("cannot reach " + where + ": connection refused", hints.notRunning));
      return unavailableError(withHint(
          "cannot reach " + where + ": " + (osErrno ? std::string(std::strerror(static_cast<int>(osErrno))) : detail),
          hints.notRunning));
    case CURLE_COULDNT_RESOLVE_HOST:
      return unavailableError("cannot reach " + where + ": " + detail);
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      return invalidError("TLS with " + where + " failed: " + detail +
                          " (check the CA, client certificate and key files)");
    case CURLE_SSL_CONNECT_ERROR:
      return unavailableError("TLS handshake with " + where + " failed: " + detail);
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
      return unavailableError("connection to " + where + " dropped: " + detail);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return invalidError("bad address for " + where + ": " + detail);
    default:
      return internalError("request to " + where + " failed: " + detail);
  }
}

}  // namespace

// ---------------------------------------------------------------------------

Result<Endpoint> Endpoint::parse(const std::string& url, std::string caFile, std::string certFile,
                                 std::string keyFile) {
  Endpoint ep;
  bool anyTls = !caFile.empty() || !certFile.empty() || !keyFile.empty();
  auto hostPort = [&](const std::string& rest) -> Status {
    if (rest.empty() || rest.find('/') != std::string::npos)
      return invalidError("\"" + url + "\": expected host:port after the scheme");
    return Status::ok();
  };
  if (url.rfind("unix://", 0) == 0) {
    ep.unixSocket = url.substr(7);
    if (ep.unixSocket.empty() || ep.unixSocket[0] != '/')
      return invalidError("\"" + url + "\": a unix socket address needs an absolute path (unix:///run/x.sock)");
    ep.baseUrl = "http://localhost";
  } else if (url.rfind("tcp://", 0) == 0) {
    std::string rest = url.substr(6);
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    if (auto s = hostPort(rest); !s) return s;
    ep.baseUrl = (anyTls ? "https://" : "http://") + rest;
  } else if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) {
    ep.baseUrl = url;
    while (!ep.baseUrl.empty() && ep.baseUrl.back() == '/') ep.baseUrl.pop_back();
    if (auto s = hostPort(ep.baseUrl.substr(ep.baseUrl.find("://") + 3)); !s) return s;
  } else {
    return invalidError("\"" + url + "\" is not an address: use unix:///path, tcp://host:port or https://host:port");
  }
  if (anyTls && ep.baseUrl.rfind("https://", 0) != 0)
    return invalidError("\"" + url + "\": TLS files were given for a plain-HTTP address");
  ep.caFile = std::move(caFile);
  ep.certFile = std::move(certFile);
  ep.keyFile = std::move(keyFile);
  return ep;
}

std::string Endpoint::display() const {
  return unixSocket.empty() ? baseUrl : "unix://" + unixSocket;
}

std::string HttpResponse::header(const std::string& lowerName) const {
  auto it = headers.find(lowerName);
  return it == headers.end() ? "" : it->second;
}

// Idle easy handles; each keeps its own connection cache, so a handle taken
// from the pool usually finds its connection still open.
struct HttpClient::Pool {
  static constexpr size_t kMaxIdle = 8;
  std::mutex mu;
  std::vector<EasyHandle> idle;

  EasyHandle take() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!idle.empty()) {
        EasyHandle h = std::move(idle.back());
        idle.pop_back();
        return h;
      }
    }
    return EasyHandle(curl_easy_init());
  }
  void give(EasyHandle h) {
    std::lock_guard<std::mutex> lock(mu);
    if (idle.size() < kMaxIdle) idle.push_back(std::move(h));
  }
};

HttpClient::HttpClient(Endpoint endpoint, ErrorHints hints)
    : endpoint_(std::move(endpoint)), hints_(std::move(hints)), pool_(std::make_unique<Pool>()) {
  initCurlOnce();
}

HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::get(const std::string& path, const Deadline& deadline,
                                     std::vector<std::pair<std::string, std::string>> query) {
  HttpRequest req;
  req.path = path;
  req.query = std::move(query);
  return request(req, deadline);
}

Result<HttpResponse> HttpClient::request(const HttpRequest& req, const Deadline& deadline) {
  auto budget = deadline.remaining();
  if (budget.count() <= 0)
    return timeoutError("deadline passed before the request to " + hints_.what + " at " +
                        endpoint_.display() + " (" + req.method + " " + req.path + ")");

  EasyHandle handle = pool_->take();
  if (!handle) return internalError("curl_easy_init failed");
  CURL* h = handle.get();
  curl_easy_reset(h);  // keeps the handle's open connections

  std::string url = endpoint_.baseUrl + req.path;
  for (size_t i = 0; i < req.query.size(); ++i) {
    const auto& [k, v] = req.query[i];
    std::unique_ptr<char, CurlFreeDeleter> ek(curl_easy_escape(h, k.data(), static_cast<int>(k.size())));
    std::unique_ptr<char, CurlFreeDeleter> ev(curl_easy_escape(h, v.data(), static_cast<int>(v.size())));
    if (!ek || !ev) return internalError("curl_easy_escape failed");
    url += (i == 0 ? "?" : "&") + std::string(ek.get()) + "=" + ev.get();
  }

  curl_slist* raw = nullptr;
  // No "Expect: 100-continue" dance: engines answer large uploads directly.
  raw = curl_slist_append(raw, "Expect:");
  if (!req.contentType.empty()) raw = curl_slist_append(raw, ("Content-Type: " + req.contentType).c_str());
  for (const auto& [k, v] : req.headers) raw = curl_slist_append(raw, (k + ": " + v).c_str());
  Slist headerList(raw);

  HttpResponse resp;
  BodySink sink{&resp.body, req.maxBodyBytes};
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // we run in many threads
  curl_easy_setopt(h, CURLOPT_PROXY, "");     // never a proxy from the environment
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(budget.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(budget.count()));
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "darasa/" DARASA_VERSION);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headerList.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp.headers);
  if (!endpoint_.unixSocket.empty()) {
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, endpoint_.unixSocket.c_str());
  } else {
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  }
  if (endpoint_.tls()) {
    if (!endpoint_.caFile.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, endpoint_.caFile.c_str());
    if (!endpoint_.certFile.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, endpoint_.certFile.c_str());
    if (!endpoint_.keyFile.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, endpoint_.keyFile.c_str());
  }

  if (req.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else {
    bool sendsBody = !req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
    if (sendsBody) {
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
    }
    if (req.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    long osErrno = 0;
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &osErrno);
    Status st = transportError(rc, osErrno, errbuf, endpoint_, hints_, budget);
    pool_->give(std::move(handle));
    return st;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  resp.truncated = sink.truncated;
  pool_->give(std::move(handle));
  return resp;
}

}  // namespace darasa::providers::http
