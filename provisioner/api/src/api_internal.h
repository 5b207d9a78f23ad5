// Private to the API's sources (api.cpp: routing and tokens, api_routes.cpp:
// the route table and its handlers, api_openapi.cpp: the OpenAPI document
// made from the same table). The route table is immutable; Api::Impl is
// shared by the server's threads (see api.h for what is thread-safe).
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "provisioner/api.h"

namespace darasa {

namespace api_detail {

// What the handlers share (Api::Impl is this).
struct ApiContext {
  ApiContext(Store& s, ProviderRegistry& p, Clock& c, Controller* ctl, Metrics* m, ApiOptions o)
      : store(s), providers(p), clock(c), controller(ctl), metrics(m), options(std::move(o)) {}
  Store& store;
  ProviderRegistry& providers;
  Clock& clock;
  Controller* controller;
  Metrics* metrics;
  ApiOptions options;
  std::atomic<bool> stopping{false};
  // One apply at a time: applies are rare, and LabService (provider
  // validation, then the store) is documented as one command at a time.
  std::mutex applyMu;
};


// One request on its way through a handler: the path parameters and, for
// routes that need a token, who made it.
struct Call {
  const ApiRequest& request;
  ApiContext& api;
  std::map<std::string, std::string> params;  // "{lab}" → "demo.alice"
  Principal who;
  const std::string& param(const std::string& name) const { return params.at(name); }
};

using Handler = ApiResponse (*)(Call&);

struct QueryParam {
  const char* name;
  const char* type;  // OpenAPI type: "string", "boolean"
  const char* description;
};

// One route: what the router matches and what the OpenAPI document lists.
struct RouteDef {
  const char* method;   // "GET", "POST", "DELETE"
  const char* pattern;  // "/api/v1/labs/{lab}"; a {name} segment matches one non-empty segment
  bool token;           // needs a bearer token
  const char* operationId;
  const char* summary;  // includes who may call it
  const char* tag;
  Handler handler;
  std::vector<QueryParam> query;
  const char* requestSchema;  // component schema of the body; nullptr: no body
  const char* requestType;    // its media type
  int okStatus;               // 200, 201, 202
  const char* okSchema;       // component schema of the success body ("" = text/plain)
  std::vector<int> errors;    // error statuses this route can answer besides 401/500
};

const std::vector<RouteDef>& routes();

// {"error": {"code", "message"}}.
ApiResponse errorResponse(int status, const std::string& code, const std::string& message);
// A Status as an error response: kInvalid 400, kNotFound 404, kConflict and
// kQuota 409, kDenied 403, kUnavailable 503, kTimeout 504, kNotSupported 501,
// kInternal 500; the code name as "code".
ApiResponse statusResponse(const Status& status);
int httpStatusOf(Code code);
ApiResponse jsonResponse(int status, const nlohmann::json& body);

}  // namespace api_detail
}  // namespace darasa
