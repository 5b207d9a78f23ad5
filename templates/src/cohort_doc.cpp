// Cohort documents: metadata, template reference, parameters (checked later
// against the template), roster or inline trainees, schedule and quotas.
#include <filesystem>
#include <unordered_map>

#include "internal.h"
#include "templates/units.h"

namespace darasa::templates {
namespace fs = std::filesystem;

namespace {

bool isEmail(std::string_view e) {
  size_t at = e.find('@');
  if (at == std::string_view::npos || at == 0 || e.find('@', at + 1) != std::string_view::npos) return false;
  for (char c : e)
    if (std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == '<' || c == '>' || c == '"') return false;
  std::string_view domain = e.substr(at + 1);
  if (domain.size() < 3 || domain.front() == '.' || domain.back() == '.' || domain.find('.') == std::string_view::npos ||
      domain.find("..") != std::string_view::npos)
    return false;
  return true;
}

std::string joinPath(const std::string& dir, const std::string& rel) {
  fs::path p(rel);
  if (p.is_absolute() || dir.empty()) return p.lexically_normal().string();
  return (fs::path(dir) / p).lexically_normal().string();
}

}  // namespace

bool checkTrainee(const Trainee& t, const Pos& idPos, const Pos& namePos, const Pos& emailPos,
                  const std::string& path, Diags& d) {
  bool ok = true;
  if (t.id.empty()) {
    d.error(idPos, childPath(path, "id"), "empty trainee id");
    ok = false;
  } else if (!isTraineeId(t.id)) {
    d.error(idPos, childPath(path, "id"),
            "trainee id \"" + t.id +
                "\" is not valid: use letters, digits, '.', '_' and '-', starting with a letter or digit (at most 63)");
    ok = false;
  }
  if (t.name.empty()) {
    d.error(namePos, childPath(path, "name"), "empty name for trainee \"" + t.id + "\"");
    ok = false;
  }
  if (!t.email.empty() && !isEmail(t.email)) {
    d.error(emailPos, childPath(path, "email"), "email \"" + t.email + "\" is not a valid address");
    ok = false;
  }
  return ok;
}

std::optional<CohortDoc> parseCohortDoc(const Node& doc, const SourcePtr& src, const ReadLimits& limits,
                                        Diags& d) {
  int before = d.errors();
  auto data = std::make_shared<detail::CohortData>();
  data->src = src;
  data->doc = doc;
  const Node& root = data->doc;
  CohortDoc c;
  c.line = root.pos.line;
  CohortSpec& s = c.spec;
  s.sourceFile = src->name;

  Fields top(root, "", d, {"apiVersion", "kind", "metadata", "spec"});
  if (const Node* md = top.require("metadata", root.pos); md && expectMap(*md, "metadata", d)) {
    Fields m(*md, "metadata", d, {"name", "labels"});
    if (const Node* name = m.require("name", root.entry("metadata")->keyPos)) {
      if (auto v = getString(name, "metadata.name", d)) {
        s.name = *v;
        data->namePos = name->pos;
        if (!isDnsLabel(*v))
          d.error(name->pos, "metadata.name",
                  "cohort name \"" + *v +
                      "\" is not valid: use lower-case letters, digits and '-', starting and ending with a letter or "
                      "digit (at most 63)");
      }
    }
    if (auto l = getStringMap(m.get("labels"), "metadata.labels", d)) s.labels = *l;
  }

  const Node* spec = top.require("spec", root.pos);
  if (spec && expectMap(*spec, "spec", d)) {
    data->specPos = root.entry("spec")->keyPos;
    Fields f(*spec, "spec", d,
             {"template", "parameters", "roster", "trainees", "timezone", "schedule", "leadTime", "grace", "between",
              "quota", "priority"});
    if (const Node* t = f.require("template", data->specPos)) {
      if (auto v = getString(t, "spec.template", d)) {
        s.templateName = *v;
        data->templatePos = t->pos;
      }
    }
    if (const MapEntry* pe = f.entry("parameters"); pe && !pe->value.isNull()) {
      data->parametersKeyPos = pe->keyPos;
      if (expectMap(pe->value, "spec.parameters", d)) {
        data->parameters = &pe->value;
        for (const auto& e : pe->value.entries) {
          if (expectScalar(e.value, childPath("spec.parameters", e.key), d)) s.parameters[e.key] = e.value.text;
        }
      }
    }

    const Node* roster = f.get("roster");
    const Node* trainees = f.get("trainees");
    if (roster && trainees) {
      d.error(f.entry("trainees")->keyPos, "spec.trainees", "use either roster or trainees, not both");
    } else if (!roster && !trainees) {
      d.error(data->specPos, "spec", "missing \"roster\" (a CSV file) or \"trainees\" (an inline list) in spec");
    }
    if (roster && !trainees) {
      if (auto rel = getString(roster, "spec.roster", d)) {
        std::string path = joinPath(src->dir, *rel);
        s.trainees = readRosterCsv(path, path, limits, d, roster->pos);
      }
    }
    if (trainees && !roster && expectSeq(*trainees, "spec.trainees", d)) {
      std::unordered_map<std::string, int> seen;
      for (size_t i = 0; i < trainees->items.size(); ++i) {
        const Node& tn = trainees->items[i];
        std::string p = indexPath("spec.trainees", i);
        if (!expectMap(tn, p, d)) continue;
        Fields tf(tn, p, d, {"id", "name", "email"});
        Trainee t;
        const Node* id = tf.require("id", tn.pos);
        const Node* name = tf.require("name", tn.pos);
        const Node* email = tf.get("email");
        if (!id || !name) continue;
        auto idv = getString(id, childPath(p, "id"), d);
        auto namev = getString(name, childPath(p, "name"), d);
        auto emailv = getString(email, childPath(p, "email"), d);
        if (!idv || !namev) continue;
        t.id = *idv;
        t.name = *namev;
        t.email = emailv.value_or("");
        if (!checkTrainee(t, id->pos, name->pos, email ? email->pos : tn.pos, p, d)) continue;
        auto [it, fresh] = seen.emplace(lower(t.id), id->pos.line);
        if (!fresh) {
          d.error(id->pos, childPath(p, "id"),
                  "duplicate trainee id \"" + t.id + "\" (first on line " + std::to_string(it->second) + ")");
          continue;
        }
        s.trainees.push_back(std::move(t));
      }
      if (trainees->items.empty()) d.error(trainees->pos, "spec.trainees", "trainees is empty");
    }

    Pos tzPos;
    if (const Node* tz = f.get("timezone")) {
      if (auto v = getString(tz, "spec.timezone", d)) {
        tzPos = tz->pos;
        if (isKnownTimeZone(*v)) {
          s.timezone = *v;
        } else {
          d.error(tz->pos, "spec.timezone",
                  "unknown time zone \"" + *v + "\"" + didYouMean(*v, timeZoneNames()) +
                      " (use an IANA name such as Africa/Nairobi)");
        }
      }
    }
    if (const Node* sch = f.get("schedule"); sch && expectMap(*sch, "spec.schedule", d)) {
      if (!f.get("timezone")) {
        d.error(f.entry("schedule")->keyPos, "spec.timezone",
                "a schedule needs spec.timezone (an IANA name such as Africa/Nairobi)");
      }
      readSchedule(*sch, "spec.schedule", src, s.timezone, tzPos, limits, d, &s.schedule);
    }
    if (const Node* n = f.get("leadTime")) {
      if (auto v = getDurationField(n, "spec.leadTime", d)) s.leadTime = *v;
    }
    if (const Node* n = f.get("grace")) {
      if (auto v = getDurationField(n, "spec.grace", d)) s.grace = *v;
    }
    if (auto v = getEnumField(f.get("between"), "spec.between", d, {"stop", "destroy"}))
      s.between = *betweenSessionsFromName(*v);
    if (auto v = getInt(f.get("priority"), "spec.priority", d, -1000000, 1000000)) s.priority = *v;

    if (const Node* q = f.get("quota"); q && expectMap(*q, "spec.quota", d)) {
      data->quota = q;
      Fields qf(*q, "spec.quota", d, {"maxLabs", "perTrainee", "labHours", "budget"});
      if (auto v = getInt(qf.get("maxLabs"), "spec.quota.maxLabs", d, 0, 1000000)) s.quota.maxLabs = *v;
      if (const Node* pt = qf.get("perTrainee"); pt && expectMap(*pt, "spec.quota.perTrainee", d)) {
        Fields pf(*pt, "spec.quota.perTrainee", d, {"cpus", "memory", "disk"});
        if (auto v = getCpusField(pf.get("cpus"), "spec.quota.perTrainee.cpus", d)) s.quota.perTrainee.cpuMillis = *v;
        if (auto v = getSizeField(pf.get("memory"), "spec.quota.perTrainee.memory", d)) s.quota.perTrainee.memoryBytes = *v;
        if (auto v = getSizeField(pf.get("disk"), "spec.quota.perTrainee.disk", d)) s.quota.perTrainee.diskBytes = *v;
      }
      auto decimal = [&](const char* key, int64_t scale, int64_t* out) {
        const Node* n = qf.get(key);
        std::string p = childPath("spec.quota", key);
        if (!n || !expectScalar(*n, p, d)) return;
        if (auto v = parseDecimalScaled(n->text, scale)) {
          *out = *v;
        } else {
          d.error(n->pos, p, std::string(key) + " must be a number of 0 or more (e.g. 40 or 12.5), got " + describe(*n));
        }
      };
      decimal("labHours", 3600, &s.quota.labSeconds);
      decimal("budget", 1000, &s.quota.budgetMilli);
    }
  }

  if (s.name.empty()) return std::nullopt;
  data->structurallyOk = d.errors() == before;
  c.data = data;
  return c;
}

}  // namespace darasa::templates
