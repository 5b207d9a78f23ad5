// The CLI's remote mode: with --server URL (or $DARASA_SERVER) commands talk
// to a darasa daemon's REST API, authenticated by $DARASA_TOKEN, instead of
// opening the local state. Answers come back as JSON or as a Status whose
// code matches what the local command would have failed with (so that exit
// codes stay the same). Not thread-safe: one command at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "provisioner/status.h"

namespace darasa::cli {

struct RemoteOptions {
  std::string url;     // http://127.0.0.1:8440 or https://host:port (a trailing slash is fine)
  std::string token;   // the bearer token ("" = none: only unauthenticated routes work)
  std::string caFile;  // https: the CA that signed the server's certificate ("" = system CAs)
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};  // per request
};

class Remote {
 public:
  // Checks the URL (kInvalid naming the variable or option it came from);
  // does not connect yet.
  static Result<std::unique_ptr<Remote>> make(const RemoteOptions& options);
  ~Remote();
  Remote(const Remote&) = delete;
  Remote& operator=(const Remote&) = delete;

  // One request. A 2xx answer's body as JSON (null for an empty body).
  // Error answers become a Status with the server's message and the code
  // its body names ({"error": {"code": "quota", ...}}); without one, from
  // the HTTP status: 400/413/422 kInvalid, 401 kDenied (saying to check
  // $DARASA_TOKEN), 403 kDenied, 404 kNotFound, 409 kConflict, 503
  // kUnavailable, others kInternal.
  // Transport errors: kUnavailable ("cannot reach the darasa server at
  // ..."), kTimeout.
  Result<nlohmann::json> get(const std::string& path, std::vector<std::pair<std::string, std::string>> query = {});
  Result<nlohmann::json> post(const std::string& path, const nlohmann::json& body);
  Result<nlohmann::json> postText(const std::string& path, const std::string& body, const std::string& contentType);
  Result<nlohmann::json> del(const std::string& path);

  const std::string& url() const { return url_; }

 private:
  struct Impl;
  Remote(std::unique_ptr<Impl> impl, std::string url);
  Result<nlohmann::json> send(const std::string& method, const std::string& path, const std::string& body,
                              const std::string& contentType,
                              std::vector<std::pair<std::string, std::string>> query);
  std::unique_ptr<Impl> impl_;
  std::string url_;
};

// A path segment, percent-encoded (lab ids, cohort names, token ids).
std::string urlSegment(const std::string& s);

// The Status a daemon's error answer stands for (see Remote::get).
Status statusFromHttp(long httpStatus, const std::string& body);

}  // namespace darasa::cli
