// The REST client of the CLI's remote mode, over providers/http's HttpClient
// (libcurl stays inside providers/).
#include "remote.h"

#include "http/http_client.h"

namespace darasa::cli {
using nlohmann::json;

struct Remote::Impl {
  explicit Impl(providers::http::Endpoint endpoint, providers::http::ErrorHints hints, RemoteOptions o)
      : client(std::move(endpoint), std::move(hints)), options(std::move(o)) {}
  providers::http::HttpClient client;
  RemoteOptions options;
};

Remote::Remote(std::unique_ptr<Impl> impl, std::string url) : impl_(std::move(impl)), url_(std::move(url)) {}
Remote::~Remote() = default;

Result<std::unique_ptr<Remote>> Remote::make(const RemoteOptions& options) {
  std::string url = options.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    return invalidError("--server/DARASA_SERVER \"" + options.url +
                        "\" is not a server URL (use e.g. http://127.0.0.1:8440)");
  // A URL with a path ("http://h:8440/x") has nowhere to go: routes are absolute.
  size_t slash = url.find('/', url.find("//") + 2);
  if (slash != std::string::npos)
    return invalidError("--server/DARASA_SERVER \"" + options.url + "\": give only scheme, host and port");
  auto endpoint = providers::http::Endpoint::parse(url, options.caFile);
  if (!endpoint) return endpoint.status().withContext("--server/DARASA_SERVER");
  providers::http::ErrorHints hints;
  hints.what = "the darasa server";
  hints.notRunning = "is `darasa serve` running there?";
  auto impl = std::make_unique<Impl>(std::move(endpoint.value()), std::move(hints), options);
  return std::unique_ptr<Remote>(new Remote(std::move(impl), url));
}

std::string urlSegment(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Status statusFromHttp(long httpStatus, const std::string& body) {
  std::string message;
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) j = nullptr;
  if (j.is_object() && j.contains("error")) {
    const json& e = j["error"];
    if (e.is_object()) {
      message = e.value("message", "");
      // Located problems of a request body, one per line, like a local validate.
      if (e.contains("problems") && e["problems"].is_array()) {
        for (const auto& p : e["problems"])
          if (p.is_string()) message += "\n  " + p.get<std::string>();
          else if (p.is_object() && p.contains("message"))
            message += "\n  " + p.value("file", std::string()) +
                       (p.value("line", 0) > 0 ? ":" + std::to_string(p.value("line", 0)) +
                                                     ":" + std::to_string(p.value("column", 0))
                                               : "") +
                       ": " + p.value("message", std::string());
      }
    } else if (e.is_string()) {
      message = e.get<std::string>();
    }
  }
  if (message.empty()) message = body.size() > 200 ? body.substr(0, 200) + "..." : body;
  // The daemon says what kind of error it is: trust that over the HTTP status
  // (409 is both a conflict and a quota refusal). Codes of the HTTP layer
  // only ("unauthenticated", "too-large") fall through to the status.
  if (j.is_object() && j.contains("error") && j["error"].is_object())
    if (auto code = codeFromName(j["error"].value("code", "")); code && *code != Code::kOk && httpStatus != 401)
      return Status(*code, message);
  std::string prefix = "the server answered " + std::to_string(httpStatus);
  switch (httpStatus) {
    case 400:
    case 413:
    case 422: return invalidError(message.empty() ? prefix : message);
    case 401:
      return deniedError("the server refused the token (" + (message.empty() ? prefix : message) +
                         "): check DARASA_TOKEN");
    case 403: return deniedError(message.empty() ? prefix + ": not allowed with this token" : message);
    case 404: return notFoundError(message.empty() ? prefix : message);
    case 409: return conflictError(message.empty() ? prefix : message);
    case 503: return unavailableError(message.empty() ? prefix + ": the server is not ready or is stopping" : message);
    default: return internalError(prefix + (message.empty() ? "" : ": " + message));
  }
}

Result<json> Remote::send(const std::string& method, const std::string& path, const std::string& body,
                          const std::string& contentType, std::vector<std::pair<std::string, std::string>> query) {
  providers::http::HttpRequest req;
  req.method = method;
  req.path = path;
  req.query = std::move(query);
  req.body = body;
  req.contentType = contentType;
  req.headers.push_back({"Accept", "application/json"});
  if (!impl_->options.token.empty()) req.headers.push_back({"Authorization", "Bearer " + impl_->options.token});
  auto r = impl_->client.request(req, Deadline::after(impl_->options.timeout));
  if (!r) return r.status();
  if (!r->ok()) return statusFromHttp(r->status, r->body);
  if (r->body.empty()) return json(nullptr);
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return internalError("the server's answer to " + method + " " + path + " is not JSON");
  return j;
}

Result<json> Remote::get(const std::string& path, std::vector<std::pair<std::string, std::string>> query) {
  return send("GET", path, "", "", std::move(query));
}
Result<json> Remote::post(const std::string& path, const json& body) {
  return send("POST", path, body.dump(), "application/json", {});
}
Result<json> Remote::postText(const std::string& path, const std::string& body, const std::string& contentType) {
  return send("POST", path, body, contentType, {});
}
Result<json> Remote::del(const std::string& path) { return send("DELETE", path, "", "", {}); }

}  // namespace darasa::cli
