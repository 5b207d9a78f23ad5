#include "provisioner/cohort.h"

#include <nlohmann/json.hpp>

namespace darasa {
namespace {
// Resources and Trainee get their own to_json in model_json.h (the lead's);
// serialising them here through local helpers avoids a second overload.
nlohmann::json quotaResourcesJson(const Resources& r) {
  return {{"cpuMillis", r.cpuMillis}, {"memoryBytes", r.memoryBytes}, {"diskBytes", r.diskBytes}};
}
Resources quotaResourcesFromJson(const nlohmann::json& j) {
  Resources r;
  r.cpuMillis = j.value("cpuMillis", int64_t{0});
  r.memoryBytes = j.value("memoryBytes", int64_t{0});
  r.diskBytes = j.value("diskBytes", int64_t{0});
  return r;
}
}  // namespace

const char* betweenSessionsName(BetweenSessions b) {
  return b == BetweenSessions::kDestroy ? "destroy" : "stop";
}

std::optional<BetweenSessions> betweenSessionsFromName(const std::string& s) {
  if (s == "stop") return BetweenSessions::kStop;
  if (s == "destroy") return BetweenSessions::kDestroy;
  return std::nullopt;
}

void to_json(nlohmann::json& j, const SessionSpec& s) {
  j = {{"start", s.start}, {"end", s.end}, {"repeat", s.repeat}, {"exdates", s.exdates}};
}

void from_json(const nlohmann::json& j, SessionSpec& s) {
  s.start = j.at("start").get<std::string>();
  s.end = j.at("end").get<std::string>();
  s.repeat = j.value("repeat", std::string());
  s.exdates = j.value("exdates", std::vector<std::string>{});
}

void to_json(nlohmann::json& j, const ScheduleSpec& s) {
  j = {{"sessions", s.sessions}, {"icalPath", s.icalPath}, {"icalText", s.icalText}};
}

void from_json(const nlohmann::json& j, ScheduleSpec& s) {
  s.sessions = j.value("sessions", std::vector<SessionSpec>{});
  s.icalPath = j.value("icalPath", std::string());
  s.icalText = j.value("icalText", std::string());
}

void to_json(nlohmann::json& j, const QuotaSpec& q) {
  j = {{"maxLabs", q.maxLabs},
       {"perTrainee", quotaResourcesJson(q.perTrainee)},
       {"labSeconds", q.labSeconds},
       {"budgetMilli", q.budgetMilli}};
}

void from_json(const nlohmann::json& j, QuotaSpec& q) {
  q.maxLabs = j.value("maxLabs", int64_t{0});
  q.perTrainee = j.contains("perTrainee") ? quotaResourcesFromJson(j.at("perTrainee")) : Resources{};
  q.labSeconds = j.value("labSeconds", int64_t{0});
  q.budgetMilli = j.value("budgetMilli", int64_t{0});
}

void to_json(nlohmann::json& j, const CohortSpec& c) {
  nlohmann::json trainees = nlohmann::json::array();
  for (const auto& t : c.trainees) trainees.push_back({{"id", t.id}, {"name", t.name}, {"email", t.email}});
  j = {{"name", c.name},
       {"templateName", c.templateName},
       {"parameters", c.parameters},
       {"trainees", std::move(trainees)},
       {"timezone", c.timezone},
       {"schedule", c.schedule},
       {"leadTimeSeconds", c.leadTime.count()},
       {"graceSeconds", c.grace.count()},
       {"between", betweenSessionsName(c.between)},
       {"quota", c.quota},
       {"priority", c.priority},
       {"labels", c.labels},
       {"sourceFile", c.sourceFile}};
}

void from_json(const nlohmann::json& j, CohortSpec& c) {
  c.name = j.at("name").get<std::string>();
  c.templateName = j.at("templateName").get<std::string>();
  c.parameters = j.value("parameters", std::map<std::string, std::string>{});
  c.trainees.clear();
  if (j.contains("trainees")) {
    for (const auto& t : j.at("trainees"))
      c.trainees.push_back({t.at("id").get<std::string>(), t.value("name", std::string()),
                            t.value("email", std::string())});
  }
  c.timezone = j.value("timezone", std::string());
  c.schedule = j.value("schedule", ScheduleSpec{});
  c.leadTime = std::chrono::seconds(j.value("leadTimeSeconds", int64_t{15 * 60}));
  c.grace = std::chrono::seconds(j.value("graceSeconds", int64_t{15 * 60}));
  auto between = betweenSessionsFromName(j.value("between", std::string("stop")));
  if (!between) throw nlohmann::json::other_error::create(501, "cohort: between must be stop or destroy", &j);
  c.between = *between;
  c.quota = j.value("quota", QuotaSpec{});
  c.priority = j.value("priority", int64_t{0});
  c.labels = j.value("labels", Labels{});
  c.sourceFile = j.value("sourceFile", std::string());
}

void to_json(nlohmann::json& j, const TemplateSnapshot& s) {
  j = {{"name", s.name}, {"hash", s.hash}, {"canonicalJson", s.canonicalJson}};
}

void from_json(const nlohmann::json& j, TemplateSnapshot& s) {
  s.name = j.at("name").get<std::string>();
  s.hash = j.at("hash").get<std::string>();
  s.canonicalJson = j.at("canonicalJson").get<std::string>();
}

}  // namespace darasa
