// The wire format: the JSON of every view the API answers and the CLI shows
// (lab status, apply outcome, credentials, schedule, usage, plan, tokens),
// defined once. The REST handlers write it with to_json; the CLI prints
// `-o json` with it and its remote client reads the daemon's answers back
// with from_json into the same view types the local commands get from
// LabService, so that the same command prints the same bytes either way.
// Times are RFC 3339 UTC strings or null. from_json throws
// nlohmann::json::exception on a wrong shape (catch at the adapter); fields
// that are missing keep their defaults. Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "provisioner/service.h"

namespace darasa {

// Unix seconds ↔ RFC 3339 or null (0 ↔ null).
nlohmann::json timeJson(int64_t unixSeconds);
int64_t timeFromJson(const nlohmann::json& j);
// A Status ↔ {"code", "message"} or null (ok ↔ null).
nlohmann::json errorJson(const Status& s);
Status errorFromJson(const nlohmann::json& j);

// {"lab", "cohort", "trainee", "name", "state", "desired", "removed",
//  "provider", "resourceId", "generation", "observedGeneration",
//  "endpoints", "readyAt", "updatedAt", "error", "queue": null |
//  {"position", "reason", "since", "eta"}, "stopReason", "lastActiveAt"}
void to_json(nlohmann::json& j, const LabStatus& s);
void from_json(const nlohmann::json& j, LabStatus& s);

// {"lab", "cohort", "trainee", "name", "email", "state", "endpoints",
//  "issued"} and, once issued, "user", "password", "privateKey",
//  "publicKey", "ssh" (the command line, when the lab has an ssh port).
void to_json(nlohmann::json& j, const CredentialView& v);
void from_json(const nlohmann::json& j, CredentialView& v);

// {"cohort", "dryRun", "generation", "created", "changed",
//  "addedTrainees", "removedTrainees", "updatedTrainees", "addedLabs",
//  "changedLabs", "removedLabs", "templateChanged", "specChanged", "warnings"}
void to_json(nlohmann::json& j, const ApplyReport& r);
void from_json(const nlohmann::json& j, ApplyReport& r);

// {"cohort", "timezone", "hasSchedule", "now", "from", "to",
//  "desiredNow", "reason", "nextChange", "sessions": [{"summary", "start",
//  "end", "localStart", "localEnd"}], "actions": [{"at", "local",
//  "desired", "reason"}]}
void to_json(nlohmann::json& j, const ScheduleView& v);
void from_json(const nlohmann::json& j, ScheduleView& v);

// Totals: {"labSeconds", "labHours", "stoppedSeconds", "cpuMilliSeconds",
// "cpuHours", "memoryMibSeconds", "memoryGibHours"} and, when priced,
// "costMilli" and "cost" ("12.345"). The exact integers are what is read back.
void to_json(nlohmann::json& j, const UsageView& v);
void from_json(const nlohmann::json& j, UsageView& v);
// "12.345" from thousandths.
std::string formatMoney(int64_t milli);

// {"cohort", "wanted", "actions": [{"action", "lab", "reason"}]}
void to_json(nlohmann::json& j, const PlanView& v);
void from_json(const nlohmann::json& j, PlanView& v);

// {"id", "role", "cohort", "trainee", "name", "state", "createdAt",
//  "expiresAt", "revokedAt", "lastUsedAt"} (cohort and trainee null when none)
void to_json(nlohmann::json& j, const TokenView& t);
void from_json(const nlohmann::json& j, TokenView& t);

}  // namespace darasa
