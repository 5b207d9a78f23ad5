// The REST API's handlers, independent of any HTTP server: a request (method,
// path, query, Authorization, body) in, a response (status, JSON body) out.
// cli/ wires them to cpp-httplib (`darasa serve`); tests call handle()
// directly for the authorisation matrix and over HTTP for the rest.
// Thread-safe: handle() may be called from many server threads at once.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "provisioner/clock.h"
#include "provisioner/controller.h"
#include "provisioner/leadership.h"
#include "provisioner/metrics.h"
#include "provisioner/provider.h"
#include "provisioner/service.h"
#include "provisioner/store.h"

namespace darasa {

struct ApiRequest {
  std::string method;                         // "GET", "POST", ...
  std::string path;                           // "/api/v1/labs/demo.alice" (no query)
  std::map<std::string, std::string> query;   // decoded
  std::string authorization;                  // the Authorization header's value ("" if none)
  std::string contentType;                    // "application/json", "application/yaml", ...
  std::string body;
  std::string remote;                         // "127.0.0.1:53422", for the log
};

struct ApiResponse {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;  // e.g. WWW-Authenticate on 401
  // The route pattern that answered ("/api/v1/labs/{lab}"), "" when none
  // matched: a label for metrics and logs that never carries an id.
  std::string route;
};

// Who made a request, once its token checked out.
struct Principal {
  TokenRole role = TokenRole::kTrainee;
  std::string tokenId;
  std::string cohort;   // instructor's cohort, or trainee's cohort
  std::string trainee;  // trainee only
  std::string actor() const;  // "token:<id>" for the audit log
};

struct ApiOptions {
  // Turns an apply body (YAML or JSON text, templates and one cohort) into
  // what LabService::apply takes, with located errors (kInvalid, message
  // "<name>:line:col: ..." per problem). Wired to darasa::templates by cli/
  // (provisioner does not depend on it). Unset: POST /cohorts answers 501.
  std::function<Result<ApplyRequest>(const std::string& body, const std::string& sourceName)> parseApply;
  size_t maxBodyBytes = 4 << 20;  // larger bodies: 413
  std::string version;            // for /healthz and the OpenAPI info
  // Who leads the daemons of the state, for /readyz (unset: not said).
  std::function<LeadershipStatus()> leadership;
};

class Api {
 public:
  // controller and metrics may be null (a read-only API over a state, as in
  // some tests): routes that need them answer 503.
  Api(Store& store, ProviderRegistry& providers, Clock& clock, Controller* controller, Metrics* metrics,
      ApiOptions options);

  // Routes (all JSON unless said; errors as {"error": {"code", "message"}}):
  //   GET  /healthz  /readyz  /metrics (text)  /api/v1/openapi.json   — no token
  //   GET  /api/v1/whoami
  //   GET|POST /api/v1/cohorts            GET|DELETE /api/v1/cohorts/{cohort}
  //   POST /api/v1/cohorts/{cohort}/up    POST /api/v1/cohorts/{cohort}/down
  //   GET  /api/v1/cohorts/{cohort}/schedule   ?from=&to=
  //   GET  /api/v1/cohorts/{cohort}/labs
  //   GET  /api/v1/cohorts/{cohort}/credentials
  //   GET  /api/v1/cohorts/{cohort}/usage   ?from=&to=&priceLabHour=...
  //   GET  /api/v1/cohorts/{cohort}/plan    ?down=&trainees=
  //   GET  /api/v1/labs                   (what the caller may see)
  //   GET|DELETE /api/v1/labs/{lab}       POST /api/v1/labs/{lab}/{start|stop|reset}
  //   GET  /api/v1/labs/{lab}/credentials
  //   GET|POST /api/v1/tokens             DELETE /api/v1/tokens/{id}
  // 401 (missing, malformed, unknown, expired, revoked token: one message,
  // no detail), 403 (a valid token without the right), 404, 405, 409, 413,
  // 400/422 for invalid bodies (located errors), 503 while stopping.
  ApiResponse handle(const ApiRequest& request);

  // The OpenAPI 3.0 document served at /api/v1/openapi.json; every route
  // handle() serves is in it and nothing else (a test checks both ways).
  static std::string openApiJson();

  // After stopAccepting(), every route but /healthz answers 503 (SIGTERM).
  void stopAccepting();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// A new API token: "darasa_" + 43 base64url characters (256 random bits).
// Returns the token (shown once) and stores only its hash. kInvalid for a
// role/cohort/trainee combination that makes no sense (a trainee token
// needs cohort and trainee, an instructor token a cohort, admin neither).
struct IssuedToken {
  TokenRecord record;
  std::string token;  // the secret; never logged, never stored
};
Result<IssuedToken> createToken(Store& store, TokenRole role, const std::string& cohort,
                                const std::string& trainee, const std::string& name,
                                std::chrono::seconds ttl /* 0 = never expires */, const Clock& clock);

}  // namespace darasa
