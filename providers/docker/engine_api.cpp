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
  // GET /_ping names the API version in a header and answers at once (Docker's
  // own client negotiates this way). GET /version makes Podman 4.3 gather
  // host information first: 1-2.5 s on a loaded machine, paid by every darasa
  // process before its first call. /version is only the fallback for an
  // engine whose ping carries no API-Version.
  EngineVersion v;
  std::string engineApi;
  // Unversioned on purpose: every engine answers at its own level.
  auto ping = client_.get("/_ping", deadline);
  if (!ping) return ping.status();
  if (ping->ok() && !ping->header("api-version").empty()) {
    engineApi = ping->header("api-version");
    std::string libpod = ping->header("libpod-api-version");
    v.podman = !libpod.empty();
    v.product = v.podman ? "Podman Engine" : "Docker Engine";
    if (v.podman) {
      v.version = libpod;
    } else {
      // "Server: Docker/20.10.24 (linux)"
      std::string server = ping->header("server");
      if (auto slash = server.find('/'); slash != std::string::npos)
        v.version = server.substr(slash + 1, server.find(' ', slash) - slash - 1);
    }
  } else {
    auto resp = client_.get("/version", deadline);
    if (!resp) return resp.status();
    if (!resp->ok()) return engineError(resp->status, resp->body, "ask the engine its version (GET /version)");
    try {
      auto j = nlohmann::json::parse(resp->body);
      v.version = str(j, "Version");
      engineApi = str(j, "ApiVersion");
      if (j.contains("Components") && j["Components"].is_array() && !j["Components"].empty())
        v.product = str(j["Components"][0], "Name");
      if (v.product.empty() && j.contains("Platform")) v.product = str(j["Platform"], "Name");
      if (v.product.empty() || v.product == "Engine") v.product = "Docker Engine";
      v.podman = v.product.find("Podman") != std::string::npos;
    } catch (const nlohmann::json::exception& e) {
      return internalError(std::string("unreadable answer to GET /version: ") + e.what());
    }
  }
  auto cmp = compareApiVersions(engineApi, maxApiVersion_);
  if (!cmp) return internalError("the engine reports an unreadable API version \"" + engineApi + "\"");
  v.apiVersion = *cmp < 0 ? engineApi : maxApiVersion_;
  auto tooOld = compareApiVersions(v.apiVersion, kMinApiVersion);
  if (tooOld && *tooOld < 0)
    return notSupportedError(v.product + " " + v.version + " speaks Docker API " + v.apiVersion +
                             ", darasa needs at least " + kMinApiVersion + ": upgrade the engine");
  std::lock_guard<std::mutex> lock(mu_);
  version_ = v;
  return v;
}

Result<http::HttpResponse> EngineApi::send(const Call& call, const Deadline& deadline) {
  auto v = version(deadline);
  if (!v) return v.status();
  return sendAt("/v" + v->apiVersion, call, deadline);
}

Result<http::HttpResponse> EngineApi::sendLibpod(const Call& call, const Deadline& deadline) {
  auto v = version(deadline);
  if (!v) return v.status();
  if (!v->podman || v->version.empty())
    return notSupportedError(v->product + " " + v->version + " has no libpod API (" + call.path + ")");
  return sendAt("/v" + v->version + "/libpod", call, deadline);
}

Result<http::HttpResponse> EngineApi::sendAt(const std::string& prefix, const Call& call, const Deadline& deadline) {
  http::HttpRequest req;
  req.method = call.method;
  req.path = prefix + call.path;
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
