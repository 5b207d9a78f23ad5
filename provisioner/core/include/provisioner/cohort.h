// Cohort-level model: what `darasa apply` hands the core for one cohort — the
// validated cohort (roster, schedule, quotas), the frozen template snapshot it
// was rendered from, and one LabSpec per trainee. Produced by darasa::templates.
// Plain value types with nlohmann to_json/from_json (ADL); not synchronised.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "provisioner/model.h"

namespace darasa {

// One recurring (or single) session, in the cohort's time zone.
struct SessionSpec {
  std::string start;                 // local date-time, normalised "2026-01-12T09:00:00"
  std::string end;                   // same form, after start (same day or later)
  std::string repeat;                // RFC 5545 RRULE without "RRULE:", "" = once; has COUNT or UNTIL
  std::vector<std::string> exdates;  // local date-times (normalised) of skipped occurrences
  bool operator==(const SessionSpec&) const = default;
};

// Either sessions or an iCalendar file (validated to contain VEVENTs), or neither
// (labs are then only started and stopped by hand: up/down). The .ics text is
// captured at apply time (icalText), so that the stored cohort keeps the
// timetable it was applied with; apply again to pick up a changed file or URL.
struct ScheduleSpec {
  std::vector<SessionSpec> sessions;
  std::string icalPath;  // where the .ics came from: an absolute path or an https:// / file:// URL; "" when sessions are used
  std::string icalText;  // the iCalendar text read from icalPath at apply time
  bool empty() const { return sessions.empty() && icalPath.empty() && icalText.empty(); }
  bool operator==(const ScheduleSpec&) const = default;
};

// What happens to labs between two sessions.
enum class BetweenSessions { kStop, kDestroy };
const char* betweenSessionsName(BetweenSessions b);  // "stop" | "destroy"
std::optional<BetweenSessions> betweenSessionsFromName(const std::string& s);

// Caps for a cohort. 0 means "no cap" everywhere. Exact integer units so that
// quota arithmetic never drifts: labHours is kept in seconds, budget in
// thousandths of the currency unit.
struct QuotaSpec {
  int64_t maxLabs = 0;     // labs running at once
  Resources perTrainee;    // cpuMillis, memoryBytes, diskBytes (pids unused)
  int64_t labSeconds = 0;  // labHours × 3600, for the whole cohort
  int64_t budgetMilli = 0; // budget × 1000
  bool operator==(const QuotaSpec&) const = default;
};

struct CohortSpec {
  std::string name;          // DNS label, unique in the state
  std::string templateName;
  std::map<std::string, std::string> parameters;  // every template parameter resolved (cohort value or default)
  std::vector<Trainee> trainees;  // from the roster CSV or the inline list, in file order
  std::string timezone;      // IANA name ("Africa/Nairobi"); "" only when there is no schedule
  ScheduleSpec schedule;
  std::chrono::seconds leadTime{15 * 60};  // labs are ready this long before a session
  std::chrono::seconds grace{15 * 60};     // and kept this long after it ends
  BetweenSessions between = BetweenSessions::kStop;
  QuotaSpec quota;
  int64_t priority = 0;      // higher first when quota is short
  Labels labels;             // metadata.labels
  std::string sourceFile;    // the file the cohort came from (as given on the command line)
  bool operator==(const CohortSpec&) const = default;
};

// The resolved template (extends merged, parameters substituted) frozen as
// canonical JSON; hash = "sha256:<hex of canonicalJson>". Same inputs, same hash.
struct TemplateSnapshot {
  std::string name;
  std::string hash;
  std::string canonicalJson;
  bool operator==(const TemplateSnapshot&) const = default;
};

// Everything `apply` stores for one cohort. No JSON form here: LabSpec's JSON
// lives in model_json.h; serialise cohort and snapshot with the functions below.
struct RenderedCohort {
  CohortSpec cohort;
  TemplateSnapshot snapshot;
  std::vector<LabSpec> labs;  // one per trainee, in roster order
};

// nlohmann JSON (ADL). from_json throws nlohmann::json::exception on a wrong
// shape (callers at module boundaries catch it); missing keys take defaults.
void to_json(nlohmann::json& j, const SessionSpec& s);
void from_json(const nlohmann::json& j, SessionSpec& s);
void to_json(nlohmann::json& j, const ScheduleSpec& s);
void from_json(const nlohmann::json& j, ScheduleSpec& s);
void to_json(nlohmann::json& j, const QuotaSpec& q);
void from_json(const nlohmann::json& j, QuotaSpec& q);
void to_json(nlohmann::json& j, const CohortSpec& c);
void from_json(const nlohmann::json& j, CohortSpec& c);
void to_json(nlohmann::json& j, const TemplateSnapshot& s);
void from_json(const nlohmann::json& j, TemplateSnapshot& s);

}  // namespace darasa
