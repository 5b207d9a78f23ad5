#include "docker/engine_api.h"

#include <cstdio>

#include "docker/docker_support.h"

namespace darasa::providers::docker {

namespace {

http::ErrorHints engineHints(const http::Endpoint& ep) {
  http::ErrorHints h;
  h.what = "the container engine";
  bool podman = ep.unixSocket.find("podman") != std::string::npos;
  if (podman) {
    h.notRunning = "is `podman system service` running? (scripts/podman-service.sh starts it)";
  } else if (!ep.unixSocket.empty()) {
    h.notRunning = "is the engine running? (dockerd, or `podman system service` on this socket)";
  } else {
    h.notRunning = "is the engine listening there?";
  }
  h.permission = podman ? "run as root, or give your user access to the socket"
                        : "add your user to the docker group or run as root";
  return h;
}

std::string str(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

std::optional<int> compareApiVersions(const std::string& a, const std::string& b) {
  unsigned amaj, amin, bmaj, bmin;
  if (std::sscanf(a.c_str(), "%u.%u", &amaj, &amin) != 2 || std::sscanf(b.c_str(), "%u.%u", &bmaj, &bmin) != 2)
    return std::nullopt;
  if (amaj != bmaj) return amaj < bmaj ? -1 : 1;
  if (amin != bmin) return amin < bmin ? -1 : 1;
  return 0;
}

EngineApi::EngineApi(http::Endpoint endpoint, std::string maxApiVersion)
    : client_(endpoint, engineHints(endpoint)), maxApiVersion_(std::move(maxApiVersion)) {}

std::optional<EngineVersion> EngineApi::knownVersion() const {
  std::lock_guard<std::mutex> lock(mu_);
  return version_;
}

Result<EngineVersion> EngineApi::version(const Deadline& deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (version_) return *version_;
  }
  // Unversioned on purpose: every engine answers /version at its own level.
  auto resp = client_.get("/version", deadline);
  if (!resp) return resp.status();
  if (!resp->ok()) return engineError(resp->status, resp->body, "ask the engine its version (GET /version)");
  EngineVersion v;
  try {
    auto j = nlohmann::json::parse(resp->body);
    v.version = str(j, "Version");
    std::string engineApi = str(j, "ApiVersion");
    if (j.contains("Components") && j["Components"].is_array() && !j["Components"].empty())
      v.product = str(j["Components"][0], "Name");
    if (v.product.empty() && j.contains("Platform")) v.product = str(j["Platform"], "Name");
    if (v.product.empty() || v.product == "Engine") v.product = "Docker Engine";
    v.podman = v.product.find("Podman") != std::string::npos;
    auto cmp = compareApiVersions(engineApi, maxApiVersion_);
    if (!cmp) return internalError("the engine reports an unreadable API version \"" + engineApi + "\"");
    v.apiVersion = *cmp < 0 ? engineApi : maxApiVersion_;
    auto tooOld = compareApiVersions(v.apiVersion, kMinApiVersion);
    if (tooOld && *tooOld < 0)
      return notSupportedError(v.product + " " + v.version + " speaks Docker API " + v.apiVersion +
                               ", darasa needs at least " + kMinApiVersion + ": upgrade the engine");
  } catch (const nlohmann::json::exception& e) {
    return internalError(std::string("unreadable answer to GET /version: ") + e.what());
  }
  std::lock_guard<std::mutex> lock(mu_);
  version_ = v;
  return v;
}

Result<http::HttpResponse> EngineApi::send(const Call& call, const Deadline& deadline) {
  auto v = version(deadline);
  if (!v) return v.status();
  http::HttpRequest req;
  req.method = call.method;
  req.path = "/v" + v->apiVersion + call.path;
  req.query = call.query;
  req.maxBodyBytes = call.maxBodyBytes;
  if (call.json) {
    req.body = call.json->dump();
    req.contentType = "application/json";
  } else {
    req.body = call.rawBody;
    req.contentType = call.contentType;
  }
  return client_.request(req, deadline);
}

Result<nlohmann::json> EngineApi::json(const Call& call, const Deadline& deadline, const std::string& what,
                                       std::initializer_list<long> okStatuses) {
  auto resp = send(call, deadline);
  if (!resp) return resp.status().withContext(what);
  bool fine = resp->ok();
  for (long s : okStatuses) fine = fine || resp->status == s;
  if (!fine) return engineError(resp->status, resp->body, what);
  if (resp->body.empty()) return nlohmann::json();
  try {
    return nlohmann::json::parse(resp->body);
  } catch (const nlohmann::json::exception& e) {
    return internalError(what + ": the engine's answer is not JSON: " + e.what());
  }
}

}  // namespace darasa::providers::docker
