// EngineApi: the Docker Engine API (as served by Docker or Podman) over
// darasa's HttpClient: negotiates the API version once (the API-Version
// header of GET /_ping, else GET /version; at most the version we were
// written for), prefixes paths with it, decodes JSON and turns error answers
// into Status (docker_support.h: engineError).
// Thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http/http_client.h"

namespace darasa::providers::docker {

struct EngineVersion {
  std::string product;     // "Podman Engine", "Docker Engine - Community"
  std::string version;     // "4.3.1"
  std::string apiVersion;  // negotiated: "1.41"
  bool podman = false;
};

// Compares "1.41" style versions; nullopt if either does not parse.
std::optional<int> compareApiVersions(const std::string& a, const std::string& b);

class EngineApi {
 public:
  using Query = std::vector<std::pair<std::string, std::string>>;
  static constexpr const char* kMaxApiVersion = "1.41";
  static constexpr const char* kMinApiVersion = "1.25";  // NanoCpus

  EngineApi(http::Endpoint endpoint, std::string maxApiVersion = kMaxApiVersion);

  // Negotiates on the first call (and again after a failure); cached after.
  Result<EngineVersion> version(const Deadline& deadline);
  // The cached version, if negotiated.
  std::optional<EngineVersion> knownVersion() const;

  struct Call {
    Call(std::string m, std::string p, Query q = {})
        : method(std::move(m)), path(std::move(p)), query(std::move(q)) {}
    Call& withJson(nlohmann::json body) {
      json = std::move(body);
      return *this;
    }
    Call& withRaw(std::string body, std::string type) {
      rawBody = std::move(body);
      contentType = std::move(type);
      return *this;
    }
    Call& withMaxBody(size_t bytes) {
      maxBodyBytes = bytes;
      return *this;
    }
    std::string method;
    std::string path;  // without the version prefix: "/containers/json"
    Query query;
    std::optional<nlohmann::json> json;  // request body
    std::string rawBody;                 // or a raw body (with contentType)
    std::string contentType;
    size_t maxBodyBytes = 64u << 20;
  };

  // One versioned call. Transport errors come back as they are; any HTTP
  // status is returned (callers decide which codes are fine).
  Result<http::HttpResponse> send(const Call& call, const Deadline& deadline);
  // The same to Podman's own API (/v<Podman version>/libpod<path>), for
  // what its Docker-compatible API does slowly. kNotSupported when the
  // engine is not Podman.
  Result<http::HttpResponse> sendLibpod(const Call& call, const Deadline& deadline);

  // send() + "2xx or one of okStatuses" else engineError(what) + JSON body
  // (null for an empty body). A body that is not JSON is kInternal.
  Result<nlohmann::json> json(const Call& call, const Deadline& deadline, const std::string& what,
                              std::initializer_list<long> okStatuses = {});

  const http::Endpoint& endpoint() const { return client_.endpoint(); }

 private:
  Result<http::HttpResponse> sendAt(const std::string& prefix, const Call& call, const Deadline& deadline);

  http::HttpClient client_;
  std::string maxApiVersion_;
  mutable std::mutex mu_;
  std::optional<EngineVersion> version_;
};

}  // namespace darasa::providers::docker
