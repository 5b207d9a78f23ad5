// The OpenAPI 3.0 document, made from the same route table the router uses
// (api_routes.cpp), so that a route cannot be served without being described
// or described without being served.
#include <set>

#include "api_internal.h"

namespace darasa {

using nlohmann::json;
using namespace api_detail;

namespace {

json ref(const std::string& schema) { return {{"$ref", "#/components/schemas/" + schema}}; }

json obj(json properties, std::vector<std::string> required = {}) {
  json j = {{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) j["required"] = required;
  return j;
}

json str() { return {{"type", "string"}}; }
json nullableStr() { return {{"type", "string"}, {"nullable", true}}; }
json time() { return {{"type", "string"}, {"format", "date-time"}, {"nullable", true}}; }
json integer() { return {{"type", "integer"}, {"format", "int64"}}; }
json boolean() { return {{"type", "boolean"}}; }
json arrayOf(json items) { return {{"type", "array"}, {"items", std::move(items)}}; }
json strings() { return arrayOf(str()); }

json schemas() {
  json s;
  s["Error"] = obj({{"error", obj({{"code", str()}, {"message", str()}, {"problems", strings()}}, {"code", "message"})}},
                   {"error"});
  s["Health"] = obj({{"status", str()}, {"version", str()}}, {"status"});
  s["Ready"] = obj({{"status", str()},
                    {"controller", boolean()},
                    {"daemon", str()},
                    {"leading", boolean()},
                    {"leader", obj({{"daemon", str()}, {"url", str()}, {"term", integer()}, {"since", integer()}},
                                   {"daemon", "term"})}},
                   {"status"});
  s["OpenApi"] = {{"type", "object"}, {"description", "This document."}};
  s["Principal"] = obj({{"role", {{"type", "string"}, {"enum", {"admin", "instructor", "trainee"}}}},
                        {"tokenId", str()},
                        {"cohort", nullableStr()},
                        {"trainee", nullableStr()},
                        {"lab", str()}},
                       {"role", "tokenId"});
  s["Cohort"] = obj({{"name", str()},
                     {"generation", integer()},
                     {"template", str()},
                     {"templateHash", str()},
                     {"provider", str()},
                     {"createdAt", time()},
                     {"updatedAt", time()}},
                    {"name", "generation"});
  s["CohortList"] = arrayOf(ref("Cohort"));
  s["CohortDetail"] = {{"allOf",
                        {ref("Cohort"),
                         obj({{"spec", {{"type", "object"}, {"nullable", true}}},
                              {"labs", {{"type", "object"}, {"additionalProperties", integer()}}}})}}};
  s["ApplyBody"] = {{"type", "string"},
                    {"description", "YAML or JSON documents: the cohort and the templates it needs, as for `darasa apply`."}};
  s["ApplyResult"] = obj({{"cohort", str()},
                          {"dryRun", boolean()},
                          {"generation", integer()},
                          {"created", boolean()},
                          {"changed", boolean()},
                          {"addedTrainees", strings()},
                          {"removedTrainees", strings()},
                          {"updatedTrainees", strings()},
                          {"addedLabs", strings()},
                          {"changedLabs", strings()},
                          {"removedLabs", strings()},
                          {"templateChanged", boolean()},
                          {"specChanged", boolean()},
                          {"warnings", strings()}},
                         {"cohort", "generation", "created", "changed"});
  s["Accepted"] = obj({{"cohort", str()}, {"lab", str()}, {"action", str()}, {"status", str()}}, {"action", "status"});
  json endpoint = obj({{"name", str()}, {"protocol", str()}, {"host", str()}, {"port", {{"type", "integer"}}}});
  s["Endpoint"] = endpoint;
  s["Lab"] = obj({{"lab", str()},
                  {"cohort", str()},
                  {"trainee", str()},
                  {"name", {{"type", "string"}, {"description", "the trainee's name (list routes)"}}},
                  {"state", {{"type", "string"}, {"enum", {"pending", "creating", "ready", "stopped", "destroyed", "failed"}}}},
                  {"desired", {{"type", "string"}, {"enum", {"running", "stopped", "absent"}}}},
                  {"removed", boolean()},
                  {"provider", str()},
                  {"resourceId", str()},
                  {"generation", integer()},
                  {"observedGeneration", integer()},
                  {"endpoints", arrayOf(ref("Endpoint"))},
                  {"readyAt", time()},
                  {"updatedAt", time()},
                  {"error", {{"type", "object"}, {"nullable", true}}},
                  {"queue", {{"type", "object"},
                             {"nullable", true},
                             {"description", "waiting for capacity: position, reason, since, eta"},
                             {"properties", {{"position", integer()}, {"reason", str()}, {"since", time()}, {"eta", time()}}}}},
                  {"stopReason", {{"type", "string"}, {"description", "why the daemon stopped the lab (quota, idle); \"\" otherwise"}}},
                  {"lastActiveAt", time()}},
                 {"lab", "cohort", "trainee", "state", "desired"});
  s["LabList"] = arrayOf(ref("Lab"));
  s["Credentials"] = obj({{"lab", str()},
                          {"cohort", str()},
                          {"trainee", str()},
                          {"name", str()},
                          {"email", str()},
                          {"state", str()},
                          {"endpoints", arrayOf(ref("Endpoint"))},
                          {"issued", boolean()},
                          {"user", str()},
                          {"password", str()},
                          {"privateKey", str()},
                          {"publicKey", str()},
                          {"ssh", str()}},
                         {"lab", "trainee", "issued"});
  s["CredentialsList"] = arrayOf(ref("Credentials"));
  s["Schedule"] = obj({{"cohort", str()},
                       {"timezone", str()},
                       {"hasSchedule", boolean()},
                       {"now", str()},
                       {"from", str()},
                       {"to", nullableStr()},
                       {"desiredNow", str()},
                       {"reason", str()},
                       {"nextChange", nullableStr()},
                       {"sessions", arrayOf(obj({{"summary", str()},
                                                 {"start", str()},
                                                 {"end", str()},
                                                 {"localStart", str()},
                                                 {"localEnd", str()}}))},
                       {"actions", arrayOf(obj({{"at", str()}, {"local", str()}, {"desired", str()}, {"reason", str()}}))}},
                      {"cohort", "sessions", "actions"});
  json totals = obj({{"labSeconds", integer()},
                     {"labHours", {{"type", "number"}}},
                     {"stoppedSeconds", integer()},
                     {"cpuMilliSeconds", integer()},
                     {"cpuHours", {{"type", "number"}}},
                     {"memoryMibSeconds", integer()},
                     {"memoryGibHours", {{"type", "number"}}},
                     {"costMilli", {{"type", "integer"}, {"description", "with prices: thousandths of the currency unit"}}},
                     {"cost", {{"type", "string"}, {"description", "with prices: \"12.345\""}}}},
                    {"labSeconds", "stoppedSeconds"});
  s["UsageTotals"] = totals;
  json byDay = {{"type", "object"}, {"additionalProperties", ref("UsageTotals")}};
  s["Usage"] = obj({{"cohort", str()},
                    {"timezone", str()},
                    {"from", time()},
                    {"to", time()},
                    {"priced", boolean()},
                    {"quotaSeconds", {{"type", "integer"}, {"description", "lab-hours quota per trainee, seconds; 0 = none"}}},
                    {"total", ref("UsageTotals")},
                    {"trainees", arrayOf(obj({{"trainee", str()},
                                              {"total", ref("UsageTotals")},
                                              {"days", byDay},
                                              {"quotaUsedSeconds", integer()},
                                              {"labHoursQuota", str()}},
                                             {"trainee", "total"}))},
                    {"days", byDay},
                    {"labs", arrayOf(obj({{"lab", str()},
                                          {"trainee", str()},
                                          {"state", str()},
                                          {"readyAt", time()},
                                          {"labSeconds", integer()}},
                                         {"lab", "labSeconds"}))}},
                   {"cohort", "total", "trainees", "labs"});
  s["Plan"] = obj({{"cohort", str()},
                   {"wanted", {{"type", "string"}, {"enum", {"running", "absent"}}}},
                   {"actions", arrayOf(obj({{"action", str()}, {"lab", str()}, {"reason", str()}}, {"action", "lab"}))}},
                  {"cohort", "actions"});
  s["Token"] = obj({{"id", str()},
                    {"role", {{"type", "string"}, {"enum", {"admin", "instructor", "trainee"}}}},
                    {"cohort", nullableStr()},
                    {"trainee", nullableStr()},
                    {"name", str()},
                    {"state", {{"type", "string"}, {"enum", {"active", "expired", "revoked"}}}},
                    {"createdAt", time()},
                    {"expiresAt", time()},
                    {"revokedAt", time()},
                    {"lastUsedAt", time()}},
                   {"id", "role", "state"});
  s["TokenList"] = arrayOf(ref("Token"));
  s["TokenRequest"] = obj({{"role", {{"type", "string"}, {"enum", {"admin", "instructor", "trainee"}}}},
                           {"cohort", str()},
                           {"trainee", str()},
                           {"name", str()},
                           {"ttlSeconds", {{"type", "integer"}, {"minimum", 0}, {"description", "0: never expires"}}}},
                          {"role"});
  s["IssuedToken"] = {{"allOf", {ref("Token"), obj({{"token", {{"type", "string"}, {"description", "shown once"}}}}, {"token"})}}};
  s["Revoked"] = obj({{"id", str()}, {"revoked", boolean()}}, {"id", "revoked"});
  return s;
}

const char* reasonOf(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted: the controller does the work";
    case 400: return "Malformed request";
    case 401: return "Missing, malformed, unknown, expired or revoked token";
    case 403: return "The token does not allow this";
    case 404: return "Not found";
    case 405: return "Method not allowed";
    case 409: return "Conflict with the state";
    case 413: return "Request body too large";
    case 422: return "Invalid body (located errors in error.problems)";
    case 500: return "Internal error";
    case 501: return "Not supported by this server";
    case 503: return "Unavailable (shutting down, no controller, state unreadable)";
  }
  return "Response";
}

json errorResponseDoc(int status) {
  return {{"description", reasonOf(status)}, {"content", {{"application/json", {{"schema", ref("Error")}}}}}};
}

}  // namespace

std::string Api::openApiJson() {
  static const std::string document = [] {
    json paths = json::object();
    for (const auto& r : routes()) {
      json op = {{"operationId", r.operationId}, {"summary", r.summary}, {"tags", {r.tag}}};
      json params = json::array();
      std::string pattern = r.pattern;
      for (size_t open = pattern.find('{'); open != std::string::npos; open = pattern.find('{', open + 1)) {
        size_t close = pattern.find('}', open);
        params.push_back({{"name", pattern.substr(open + 1, close - open - 1)},
                          {"in", "path"},
                          {"required", true},
                          {"schema", str()}});
      }
      for (const auto& q : r.query)
        params.push_back({{"name", q.name}, {"in", "query"}, {"required", false}, {"description", q.description},
                          {"schema", {{"type", q.type}}}});
      if (!params.empty()) op["parameters"] = params;
      if (r.requestSchema) {
        json content = {{r.requestType, {{"schema", ref(r.requestSchema)}}}};
        if (std::string_view(r.requestType) == "application/yaml")
          content["application/json"] = {{"schema", ref(r.requestSchema)}};
        op["requestBody"] = {{"required", true}, {"content", content}};
      }
      op["security"] = r.token ? json::array({{{"bearer", json::array()}}}) : json::array();
      json responses = json::object();
      json ok = {{"description", reasonOf(r.okStatus)}};
      if (std::string_view(r.okSchema).empty())
        ok["content"] = {{"text/plain", {{"schema", str()}}}};
      else
        ok["content"] = {{"application/json", {{"schema", ref(r.okSchema)}}}};
      responses[std::to_string(r.okStatus)] = ok;
      std::set<int> errors(r.errors.begin(), r.errors.end());
      if (r.token) errors.insert(401);
      errors.insert(500);
      if (std::string_view(r.pattern) != "/healthz") errors.insert(503);
      for (int e : errors) responses[std::to_string(e)] = errorResponseDoc(e);
      op["responses"] = responses;
      std::string method = r.method;
      for (auto& ch : method) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      paths[r.pattern][method] = op;
    }
    json doc = {
        {"openapi", "3.0.3"},
        {"info",
         {{"title", "darasa API"},
          {"version", DARASA_VERSION},
          {"description",
           "Labs for training cohorts. Bearer tokens with roles admin (everything), instructor (its cohort) and "
           "trainee (its own lab). Errors are {\"error\": {\"code\", \"message\"}}; every 401 is the same."}}},
        {"paths", paths},
        {"components",
         {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}, {"bearerFormat", "darasa_<43 base64url>"}}}}},
          {"schemas", schemas()}}},
    };
    return doc.dump(2);
  }();
  return document;
}

}  // namespace darasa
