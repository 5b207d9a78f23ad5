// The API's front door: route matching (404, 405 with Allow), the body limit,
// bearer-token authentication, and API tokens (createToken). What each route
// does is in api_routes.cpp.
#include "provisioner/api.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <variant>

#include "api_internal.h"

namespace darasa {

using nlohmann::json;
using namespace api_detail;

namespace {

constexpr const char* kTokenPrefix = "darasa_";
constexpr size_t kTokenSecretChars = 43;  // 32 bytes in base64url without padding
// One message and one header for every 401, whatever the reason: a caller
// learns nothing about which tokens exist, expired or were revoked.
constexpr const char* kUnauthenticated = "a valid API token is required (Authorization: Bearer <token>)";

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> out;
  if (path.empty() || path[0] != '/') return out;
  size_t start = 1;
  for (;;) {
    size_t slash = path.find('/', start);
    out.push_back(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

struct CompiledRoute {
  const RouteDef* def;
  std::vector<std::string> segments;  // "{name}" for a parameter
};

const std::vector<CompiledRoute>& compiledRoutes() {
  static const std::vector<CompiledRoute> compiled = [] {
    std::vector<CompiledRoute> out;
    for (const auto& r : routes()) out.push_back({&r, splitPath(r.pattern)});
    return out;
  }();
  return compiled;
}

bool isParam(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool match(const CompiledRoute& route, const std::vector<std::string>& path, std::map<std::string, std::string>* params) {
  if (route.segments.size() != path.size()) return false;
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string& want = route.segments[i];
    if (isParam(want)) {
      if (path[i].empty()) return false;
      if (params) (*params)[want.substr(1, want.size() - 2)] = path[i];
    } else if (want != path[i]) {
      return false;
    }
  }
  return true;
}

std::string sha256(const std::string& data) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

bool wellFormedToken(const std::string& token) {
  const size_t prefix = std::char_traits<char>::length(kTokenPrefix);
  if (token.size() != prefix + kTokenSecretChars || token.compare(0, prefix, kTokenPrefix) != 0) return false;
  return std::all_of(token.begin() + static_cast<std::ptrdiff_t>(prefix), token.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

ApiResponse unauthenticated() {
  ApiResponse r = errorResponse(401, "unauthenticated", kUnauthenticated);
  r.headers["WWW-Authenticate"] = "Bearer realm=\"darasa\"";
  return r;
}

// The principal of a request, or the response that refuses it.
std::variant<Principal, ApiResponse> authenticate(ApiContext& api, const std::string& authorization) {
  // RFC 7235: the scheme is case-insensitive; one space, then the token.
  if (authorization.size() < 7) return unauthenticated();
  std::string scheme = authorization.substr(0, 7);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme != "bearer ") return unauthenticated();
  std::string token = authorization.substr(7);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.pop_back();
  if (!wellFormedToken(token)) return unauthenticated();
  auto found = api.store.findTokenByHash(sha256(token), /*touch=*/true);
  if (!found) {
    if (found.status().code() == Code::kNotFound) return unauthenticated();
    // The state cannot be read: not the caller's fault, and not a 401.
    return errorResponse(503, "unavailable", "the state cannot be read right now; try again");
  }
  const TokenRecord& t = found.value();
  const int64_t now = toUnixSeconds(api.clock.now());
  if (t.revokedAt != 0 || (t.expiresAt != 0 && now >= t.expiresAt)) return unauthenticated();
  Principal p;
  p.role = t.role;
  p.tokenId = t.id;
  p.cohort = t.cohort;
  p.trainee = t.trainee;
  return p;
}

}  // namespace

namespace api_detail {

ApiResponse jsonResponse(int status, const json& body) {
  ApiResponse r;
  r.status = status;
  // Strings from the request (a path, a name) may not be UTF-8: replaced,
  // never thrown (a request for /api/v1/%FF ended the daemon; found by fuzzing).
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

ApiResponse errorResponse(int status, const std::string& code, const std::string& message) {
  return jsonResponse(status, json{{"error", {{"code", code}, {"message", message}}}});
}

int httpStatusOf(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kInvalid: return 400;
    case Code::kNotFound: return 404;
    case Code::kConflict: return 409;
    case Code::kQuota: return 409;
    case Code::kDenied: return 403;
    case Code::kUnavailable: return 503;
    case Code::kTimeout: return 504;
    case Code::kNotSupported: return 501;
    case Code::kInternal: return 500;
  }
  return 500;
}

ApiResponse statusResponse(const Status& status) {
  return errorResponse(httpStatusOf(status.code()), std::string(codeName(status.code())), status.message());
}

}  // namespace api_detail

struct Api::Impl : ApiContext {
  using ApiContext::ApiContext;
};

std::string Principal::actor() const { return "token:" + tokenId; }

Api::Api(Store& store, ProviderRegistry& providers, Clock& clock, Controller* controller, Metrics* metrics,
         ApiOptions options)
    : impl_(std::make_shared<Impl>(store, providers, clock, controller, metrics, std::move(options))) {}

void Api::stopAccepting() { impl_->stopping = true; }

ApiResponse Api::handle(const ApiRequest& request) {
  const auto path = splitPath(request.path);
  const CompiledRoute* route = nullptr;
  std::set<std::string> allowed;
  std::map<std::string, std::string> params;
  for (const auto& r : compiledRoutes()) {
    if (!match(r, path, nullptr)) continue;
    allowed.insert(r.def->method);
    if (!route && request.method == r.def->method) {
      route = &r;
      match(r, path, &params);
    }
  }
  if (allowed.empty()) return errorResponse(404, "not-found", "no route " + request.path);
  if (!route) {
    std::string allow;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    ApiResponse r = errorResponse(405, "method-not-allowed", request.method + " is not allowed here (allowed: " + allow + ")");
    r.headers["Allow"] = allow;
    return r;
  }
  const RouteDef& def = *route->def;
  auto finish = [&def](ApiResponse r) {
    r.route = def.pattern;
    return r;
  };
  if (impl_->stopping && std::string_view(def.pattern) != "/healthz")
    return finish(errorResponse(503, "unavailable", "the server is shutting down"));
  if (request.body.size() > impl_->options.maxBodyBytes)
    return finish(errorResponse(413, "too-large",
                                "the request body is larger than " + std::to_string(impl_->options.maxBodyBytes) +
                                    " bytes"));
  Call call{request, *impl_, std::move(params), {}};
  if (def.token) {
    auto who = authenticate(*impl_, request.authorization);
    if (auto* refused = std::get_if<ApiResponse>(&who)) return finish(std::move(*refused));
    call.who = std::get<Principal>(who);
  }
  try {
    return finish(def.handler(call));
  } catch (const std::exception& e) {
    // Handlers return errors; an exception here is a bug (or nlohmann on a
    // stored document that does not parse): do not take the server down.
    return finish(errorResponse(500, "internal", std::string("internal error: ") + e.what()));
  }
}

Result<IssuedToken> createToken(Store& store, TokenRole role, const std::string& cohort, const std::string& trainee,
                                const std::string& name, std::chrono::seconds ttl, const Clock& clock) {
  switch (role) {
    case TokenRole::kAdmin:
      if (!cohort.empty() || !trainee.empty()) return invalidError("an admin token takes no cohort or trainee");
      break;
    case TokenRole::kInstructor:
      if (cohort.empty()) return invalidError("an instructor token needs a cohort");
      if (!trainee.empty()) return invalidError("an instructor token takes no trainee");
      break;
    case TokenRole::kTrainee:
      if (cohort.empty() || trainee.empty()) return invalidError("a trainee token needs a cohort and a trainee");
      break;
  }
  if (ttl.count() < 0) return invalidError("a token's lifetime cannot be negative");
  if (sodium_init() < 0) return internalError("libsodium cannot be initialised");
  for (int attempt = 0;; ++attempt) {
    unsigned char secret[32];
    randombytes_buf(secret, sizeof secret);
    char b64[sodium_base64_ENCODED_LEN(sizeof secret, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(b64, sizeof b64, secret, sizeof secret, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(secret, sizeof secret);
    unsigned char idBytes[6];
    randombytes_buf(idBytes, sizeof idBytes);
    char idHex[2 * sizeof idBytes + 1];
    sodium_bin2hex(idHex, sizeof idHex, idBytes, sizeof idBytes);

    IssuedToken issued;
    issued.token = std::string(kTokenPrefix) + b64;
    sodium_memzero(b64, sizeof b64);
    TokenRecord& r = issued.record;
    r.id = std::string("tok_") + idHex;
    r.role = role;
    r.cohort = cohort;
    r.trainee = trainee;
    r.name = name;
    r.createdAt = toUnixSeconds(clock.now());
    r.expiresAt = ttl.count() > 0 ? r.createdAt + ttl.count() : 0;
    Status s = store.putToken(r, sha256(issued.token));
    // A taken id (48 random bits) is possible, if unlikely: draw again.
    if (s.code() == Code::kConflict && attempt < 3) continue;
    if (!s) return s;
    return issued;
  }
}

}  // namespace darasa
