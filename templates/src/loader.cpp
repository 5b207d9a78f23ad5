// Loading: files → documents → catalog of templates → checks across
// documents (duplicates, extends, each cohort rendered against its template),
// then the diagnostics deduplicated and sorted.
#include <algorithm>
#include <filesystem>
#include <set>
#include <tuple>

#include "internal.h"
#include "templates/units.h"

namespace darasa::templates {
namespace fs = std::filesystem;

namespace detail {
const Catalog::Entry* Catalog::find(const std::string& name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &it->second;
}
std::vector<std::string> Catalog::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : byName) out.push_back(k);
  return out;
}
}  // namespace detail

const CohortDoc* Bundle::findCohort(const std::string& name) const {
  for (const auto& c : cohorts)
    if (c.spec.name == name) return &c;
  return nullptr;
}

const TemplateDoc* Bundle::findTemplate(const std::string& name) const {
  for (const auto& t : templates)
    if (t.name == name) return &t;
  return nullptr;
}

namespace {

struct Parsed {
  std::vector<TemplateDoc> templates;
  std::vector<CohortDoc> cohorts;
  std::vector<std::string> daemonConfigs;
};

enum class Kind { kTemplate, kCohort, kDaemonConfig, kUnknown };

// apiVersion and kind of one document; problems reported. withConfig: the
// kinds named in messages include DaemonConfig (validate takes it).
Kind documentKind(const Node& doc, Diags& d, bool withConfig = false) {
  if (!doc.isMap()) {
    d.error(doc.pos, "", "a document must be a map (apiVersion, kind, metadata, spec), got " + describe(doc));
    return Kind::kUnknown;
  }
  const MapEntry* api = doc.entry("apiVersion");
  if (!api || api->value.isNull()) {
    d.error(api ? api->keyPos : doc.pos, "apiVersion",
            std::string("missing required field \"apiVersion\" (use apiVersion: ") + kApiVersion + ")");
  } else if (!api->value.isScalar() || api->value.text != kApiVersion) {
    d.error(api->value.pos, "apiVersion",
            "unsupported apiVersion " + describe(api->value) + " (expected " + kApiVersion + ")");
  }
  const MapEntry* kind = doc.entry("kind");
  const std::string kinds = withConfig ? "LabTemplate, Cohort or DaemonConfig" : "LabTemplate or Cohort";
  if (!kind || kind->value.isNull()) {
    d.error(kind ? kind->keyPos : doc.pos, "kind", "missing required field \"kind\" (" + kinds + ")");
    return Kind::kUnknown;
  }
  static const std::vector<std::string> kKinds = {"LabTemplate", "Cohort", kDaemonConfigKind};
  if (kind->value.isScalar() && kind->value.text == "LabTemplate") return Kind::kTemplate;
  if (kind->value.isScalar() && kind->value.text == "Cohort") return Kind::kCohort;
  if (kind->value.isScalar() && kind->value.text == kDaemonConfigKind) return Kind::kDaemonConfig;
  d.error(kind->value.pos, "kind",
          "unknown kind " + describe(kind->value) +
              (kind->value.isScalar() ? didYouMean(kind->value.text, kKinds) : "") + "; expected " + kinds);
  return Kind::kUnknown;
}

void parseSource(const SourcePtr& src, const ReadLimits& limits, TemplateOrigin origin, Diags& d, Parsed* out,
                 std::vector<std::vector<Diagnostic>>* perTemplateProblems) {
  if (!checkText(src->content, src, d)) return;
  const int before = d.errors();
  std::vector<Node> docs = parseYamlDocuments(src, d);
  if (docs.empty()) {
    if (d.errors() == before) {
      Pos p;
      p.src = src;
      d.error(p, "", std::string("file is empty: expected a LabTemplate or Cohort document (apiVersion: ") +
                         kApiVersion + ")");
    }
    return;
  }
  for (const Node& doc : docs) {
    if (!perTemplateProblems) {
      Kind k = documentKind(doc, d, limits.daemonConfig.has_value());
      if (k == Kind::kDaemonConfig) {
        const Pos& at = doc.entry("kind")->value.pos;
        if (!limits.daemonConfig) {
          d.error(at, "kind",
                  "a DaemonConfig is the daemon's config (darasa serve --config FILE), not a template or cohort: "
                  "check it with `darasa validate`");
        } else if (docs.size() > 1) {
          d.error(at, "kind", "a DaemonConfig is a file of its own (darasa serve --config FILE reads one document)");
        } else {
          // Checked exactly as darasa serve reads it.
          for (const auto& diag : parseDaemonConfig(src->name, src->content, *limits.daemonConfig).diagnostics)
            d.append(diag);
          out->daemonConfigs.push_back(src->name);
        }
        continue;
      }
      if (k == Kind::kTemplate) {
        if (auto t = parseTemplateDoc(doc, src, origin, d)) out->templates.push_back(std::move(*t));
      } else if (k == Kind::kCohort) {
        if (auto c = parseCohortDoc(doc, src, limits, d)) out->cohorts.push_back(std::move(*c));
      }
      continue;
    }
    // Template dir files keep each template's problems apart: they count only if it is used.
    std::vector<Diagnostic> own;
    Diags local(&own);
    if (documentKind(doc, local) != Kind::kTemplate) continue;
    if (auto t = parseTemplateDoc(doc, src, origin, local)) {
      out->templates.push_back(std::move(*t));
      perTemplateProblems->push_back(std::move(own));
    }
  }
}

std::string dirOf(const std::string& path) {
  fs::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : "";
}

std::string fmtPos(const TemplateDoc& t, const Pos& p) {
  return t.sourceFile + (p.line > 0 ? ":" + std::to_string(p.line) : "");
}

// Builds the catalog from the given files' templates, then the stored ones,
// then the template dirs (first definition of a name wins).
std::shared_ptr<detail::Catalog> buildCatalog(const Parsed& parsed, const ValidateOptions& options,
                                              const ReadLimits& limits) {
  auto cat = std::make_shared<detail::Catalog>();
  cat->knownProviders = options.knownProviders.empty() ? defaultProviders() : options.knownProviders;
  cat->askProvider = options.askProvider;
  std::sort(cat->knownProviders.begin(), cat->knownProviders.end());
  for (const auto& t : parsed.templates) cat->byName.emplace(t.name, detail::Catalog::Entry{t, {}});

  for (const auto& st : options.storedTemplates) {
    if (cat->byName.count(st.name)) continue;
    std::vector<Diagnostic> problems;
    Diags d(&problems);
    nlohmann::json j;
    SourcePtr src = makeSource("state:template/" + st.name, "", "");
    try {
      j = nlohmann::json::parse(st.json);
    } catch (const nlohmann::json::exception& e) {
      continue;  // a broken stored template is the state's problem, not this file's
    }
    Pos pos;
    pos.src = src;
    Node doc = jsonToNode(j, pos);
    if (documentKind(doc, d) != Kind::kTemplate) continue;
    if (auto t = parseTemplateDoc(doc, src, TemplateOrigin::kStored, d); t && t->name == st.name)
      cat->byName.emplace(st.name, detail::Catalog::Entry{std::move(*t), std::move(problems)});
  }

  for (const auto& dir : options.templateDirs) {
    std::vector<std::string> files;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::string ext = it->path().extension().string();
      if (it->is_regular_file(ec) && (ext == ".yaml" || ext == ".yml" || ext == ".json"))
        files.push_back(it->path().string());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::vector<Diagnostic> fileProblems;
      Diags d(&fileProblems);
      auto content = readTextFile(f, f, limits, d, nullptr, "file");
      if (!content) {
        cat->unreadable.push_back(f);
        continue;
      }
      Parsed p;
      std::vector<std::vector<Diagnostic>> problems;
      parseSource(makeSource(f, dirOf(f), std::move(*content)), limits, TemplateOrigin::kTemplateDir, d, &p,
                  &problems);
      if (countErrors(fileProblems) > 0 && p.templates.empty()) cat->unreadable.push_back(f);
      for (size_t i = 0; i < p.templates.size(); ++i) {
        std::string name = p.templates[i].name;
        if (cat->byName.count(name)) continue;
        cat->byName.emplace(name, detail::Catalog::Entry{std::move(p.templates[i]), std::move(problems[i])});
      }
    }
  }
  return cat;
}

Bundle finish(Parsed parsed, const ValidateOptions& options, const ReadLimits& limits, std::vector<Diagnostic> diags,
              const std::vector<std::string>& fileOrder) {
  Bundle b;
  Diags d(&diags);

  // Duplicate names across all given files: the first one counts.
  std::vector<TemplateDoc> templates;
  for (auto& t : parsed.templates) {
    auto first = std::find_if(templates.begin(), templates.end(), [&](const TemplateDoc& x) { return x.name == t.name; });
    if (first != templates.end()) {
      d.error(t.data->namePos, "metadata.name",
              "duplicate template \"" + t.name + "\" (also defined at " + fmtPos(*first, first->data->namePos) + ")");
      continue;
    }
    templates.push_back(std::move(t));
  }
  std::vector<CohortDoc> cohorts;
  for (auto& c : parsed.cohorts) {
    auto first = std::find_if(cohorts.begin(), cohorts.end(), [&](const CohortDoc& x) { return x.spec.name == c.spec.name; });
    if (first != cohorts.end()) {
      d.error(c.data->namePos, "metadata.name",
              "duplicate cohort \"" + c.spec.name + "\" (also defined at " + first->spec.sourceFile +
                  (first->data->namePos.line > 0 ? ":" + std::to_string(first->data->namePos.line) : "") + ")");
      continue;
    }
    cohorts.push_back(std::move(c));
  }
  parsed.templates = templates;
  auto catalog = buildCatalog(parsed, options, limits);

  for (const auto& t : templates) checkTemplate(*catalog, t.name, d);

  std::set<std::string> used;
  for (auto& c : cohorts) {
    std::vector<std::string> chain;
    RenderedCohort r;
    // The parameters become the resolved ones (cohort values and defaults).
    if (renderCohortInto(*catalog, c, 1, d, &r, &chain)) c.spec.parameters = r.cohort.parameters;
    for (const auto& name : chain) used.insert(name);
  }
  // Templates that come from the state or a template dir but were used.
  for (const auto& name : used) {
    const auto* e = catalog->find(name);
    if (e && e->doc.origin != TemplateOrigin::kFile) templates.push_back(e->doc);
  }

  b.templates = std::move(templates);
  b.cohorts = std::move(cohorts);
  b.daemonConfigs = std::move(parsed.daemonConfigs);
  b.catalog = catalog;

  // The same problem found twice (a template checked alone and for a cohort)
  // is said once; a note (a provider that could not be asked) once per run.
  std::vector<Diagnostic> unique;
  std::set<std::tuple<std::string, int, int, std::string, int>> seen;
  std::set<std::string> notes;
  for (auto& x : diags) {
    if (x.severity == Severity::kNote && !notes.insert(x.message).second) continue;
    if (seen.emplace(x.file, x.line, x.column, x.message, static_cast<int>(x.severity)).second) unique.push_back(std::move(x));
  }
  std::map<std::string, size_t> rank;
  for (const auto& f : fileOrder) rank.emplace(f, rank.size());
  for (const auto& x : unique) rank.emplace(x.file, rank.size());
  std::stable_sort(unique.begin(), unique.end(), [&](const Diagnostic& a, const Diagnostic& b2) {
    return std::tie(rank[a.file], a.line, a.column) < std::tie(rank[b2.file], b2.line, b2.column);
  });
  b.diagnostics = std::move(unique);
  return b;
}

}  // namespace

Bundle loadFiles(const std::vector<std::string>& paths, const ValidateOptions& options) {
  ReadLimits limits{options.maxFileBytes, options.fetchUrl, options.daemonConfig};
  std::vector<Diagnostic> diags;
  Diags d(&diags);
  Parsed parsed;
  std::vector<std::string> rosters, schedules;
  for (const auto& path : paths) {
    auto content = readTextFile(path, path, limits, d, nullptr, "file");
    if (!content) continue;
    // Rosters and schedules: checked alone by validate, else said where they belong.
    std::string ext = lower(fs::path(path).extension().string());
    if (ext == ".csv" || ext == ".ics") {
      bool roster = ext == ".csv";
      if (!options.dataFiles) {
        Pos p;
        p.src = makeSource(path, dirOf(path), "");
        d.error(p, "", std::string(roster ? "a roster" : "a schedule") + " is read by the cohort that names it (" +
                           (roster ? "spec.roster" : "spec.schedule.ical") +
                           "): give the cohort's file; `darasa validate` checks this file alone");
      } else if (roster) {
        (void)parseRosterCsv(makeSource(path, dirOf(path), std::move(*content)), d);
        rosters.push_back(path);
      } else {
        (void)checkIcalFile(std::move(*content), path, d);
        schedules.push_back(path);
      }
      continue;
    }
    parseSource(makeSource(path, dirOf(path), std::move(*content)), limits, TemplateOrigin::kFile, d, &parsed, nullptr);
  }
  Bundle b = finish(std::move(parsed), options, limits, std::move(diags), paths);
  b.rosters = std::move(rosters);
  b.schedules = std::move(schedules);
  return b;
}

Bundle loadString(const std::string& displayName, const std::string& content, const ValidateOptions& options) {
  ReadLimits limits{options.maxFileBytes, options.fetchUrl, options.daemonConfig};
  std::vector<Diagnostic> diags;
  Diags d(&diags);
  Parsed parsed;
  SourcePtr src = makeSource(displayName, dirOf(displayName), "");
  if (content.size() > limits.maxFileBytes) {
    Pos p;
    p.src = src;
    auto bytes = [](size_t n) { return n < 1024 ? std::to_string(n) + " bytes" : formatSize(static_cast<int64_t>(n)); };
    d.error(p, "", "\"" + displayName + "\" is too large (" + bytes(content.size()) + ", the limit is " +
                       bytes(limits.maxFileBytes) + ")");
  } else {
    std::string text = content;
    if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
    parseSource(makeSource(displayName, dirOf(displayName), std::move(text)), limits, TemplateOrigin::kFile, d,
                &parsed, nullptr);
  }
  return finish(std::move(parsed), options, limits, std::move(diags), {displayName});
}

std::string templateToJson(const TemplateDoc& doc) {
  if (!doc.data) return "{}";
  try {
    return nodeToJson(doc.data->doc).dump();
  } catch (const nlohmann::json::exception&) {
    return "{}";
  }
}

Result<TemplateDoc> templateFromStoredJson(const std::string& name, const std::string& json) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    return invalidError("stored template " + name + " is not JSON: " + e.what());
  }
  std::vector<Diagnostic> problems;
  Diags d(&problems);
  SourcePtr src = makeSource("state:template/" + name, "", "");
  Pos pos;
  pos.src = src;
  Node doc = jsonToNode(j, pos);
  if (documentKind(doc, d) != Kind::kTemplate)
    return invalidError("stored template " + name + ": " +
                        (problems.empty() ? std::string("not a LabTemplate") : problems.front().message));
  auto t = parseTemplateDoc(doc, src, TemplateOrigin::kStored, d);
  if (!t || d.errors() > 0) {
    std::string first;
    for (const auto& p : problems)
      if (p.severity == Severity::kError) {
        first = p.message;
        break;
      }
    return invalidError("stored template " + name + ": " + (first.empty() ? "no name" : first));
  }
  if (t->name != name) return invalidError("stored template " + name + " is named \"" + t->name + "\" inside");
  return std::move(*t);
}

}  // namespace darasa::templates
