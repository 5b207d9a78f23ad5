// validate, render, apply: the commands that read template and cohort files.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apply_request.h"
#include "commands.h"
#include "context.h"
#include "file_checks.h"
#include "provisioner/hash.h"
#include "provisioner/model_json.h"
#include "provisioner/service.h"
#include "provisioner/state_lock.h"
#include "remote.h"
#include "templates/templates.h"
#include "url_fetch.h"

namespace darasa::cli {
namespace {
using nlohmann::json;

struct FileOptions {
  std::vector<std::string> files;
  std::string output = "text";
  bool dryRun = false;
  bool allowPartial = false;
  std::string cohort;
};

// Templates already applied to the state, for cohorts whose template is not
// among the given files. A state that does not exist yet has none.
Result<std::vector<templates::StoredTemplate>> storedTemplates(Context& ctx) {
  std::vector<templates::StoredTemplate> out;
  auto store = ctx.openStore(OpenMode::kMustExist);
  if (!store) {
    if (store.status().code() == Code::kNotFound) return out;
    return store.status();
  }
  auto list = store.value()->listTemplates();
  if (!list) return list.status();
  for (const auto& t : list.value()) out.push_back({t.name, t.json});
  return out;
}

// validate also checks DaemonConfig files (as serve reads them).
Result<templates::Bundle> load(Context& ctx, const std::vector<std::string>& files, bool validate = false) {
  templates::ValidateOptions options;
  options.knownProviders = ctx.registry().names();
  if (validate) {
    options.daemonConfig = daemonConfigOptions();
    options.dataFiles = true;  // rosters and .ics files given alone
  }
  // The template's provider is asked whether it can run such a lab at all
  // (here: a daemon's providers may differ).
  if (!ctx.isRemote()) options.askProvider = askProviderOf();
  options.templateDirs = ctx.globals().templateDirs;
  auto stored = storedTemplates(ctx);
  if (!stored) return stored.status();
  options.storedTemplates = std::move(stored.value());
  // `schedule: {ical: https://...}`: fetched once here, kept in the cohort.
  options.fetchUrl = [max = options.maxFileBytes](const std::string& url) {
    UrlFetchOptions fetch;
    fetch.maxBytes = max;
    return fetchUrl(url, fetch);
  };
  return templates::loadFiles(files, options);
}

void printDiagnostics(const std::vector<templates::Diagnostic>& ds, std::ostream& out, bool color) {
  for (const auto& d : ds) out << templates::formatDiagnostic(d, color);
}

int runValidate(Context& ctx, const FileOptions& o) {
  auto bundle = load(ctx, o.files, true);
  if (!bundle) return fail(bundle.status());
  const auto& ds = bundle->diagnostics;
  if (o.output == "json") {
    json out = {{"valid", bundle->ok()},
                {"files", o.files},
                {"errors", templates::countErrors(ds)},
                {"problems", templates::diagnosticsToJson(ds)}};
    std::cout << out.dump(2) << "\n";
  } else {
    printDiagnostics(ds, std::cout, stdoutIsTerminal());
    if (bundle->ok()) {
      std::cout << o.files.size() << (o.files.size() == 1 ? " file" : " files") << " valid: "
                << bundle->templates.size() << " template(s), " << bundle->cohorts.size() << " cohort(s)";
      if (!bundle->daemonConfigs.empty()) std::cout << ", " << bundle->daemonConfigs.size() << " daemon config(s)";
      if (!bundle->rosters.empty()) std::cout << ", " << bundle->rosters.size() << " roster(s)";
      if (!bundle->schedules.empty()) std::cout << ", " << bundle->schedules.size() << " schedule(s)";
      if (!ds.empty()) std::cout << " (" << templates::summarizeDiagnostics(ds) << ")";
      std::cout << "\n";
    } else {
      std::cout << templates::summarizeDiagnostics(ds) << "\n";
    }
  }
  return bundle->ok() ? kExitOk : kExitInvalid;
}

// Renders every cohort of the bundle (or the one named); problems are
// appended to *problems.
Result<std::vector<RenderedCohort>> renderCohorts(const templates::Bundle& bundle, const std::string& only,
                                                  std::vector<templates::Diagnostic>* problems) {
  std::vector<RenderedCohort> out;
  for (const auto& c : bundle.cohorts) {
    if (!only.empty() && c.spec.name != only) continue;
    auto r = templates::renderCohort({&bundle, c.spec.name, 1}, problems);
    if (!r) return r.status();
    out.push_back(std::move(r.value()));
  }
  if (!only.empty() && out.empty()) {
    std::string known;
    for (const auto& c : bundle.cohorts) known += (known.empty() ? "" : ", ") + c.spec.name;
    return notFoundError("no cohort \"" + only + "\" in the given files (cohorts: " +
                         (known.empty() ? "none" : known) + ")");
  }
  return out;
}

// The same, with the problems printed to stderr.
Result<std::vector<RenderedCohort>> renderAll(const templates::Bundle& bundle, const std::string& only) {
  std::vector<templates::Diagnostic> problems;
  auto r = renderCohorts(bundle, only, &problems);
  if (!r) printDiagnostics(problems, std::cerr, stderrIsTerminal());
  return r;
}

int runRender(Context& ctx, const FileOptions& o) {
  auto bundle = load(ctx, o.files);
  if (!bundle) return fail(bundle.status());
  if (!bundle->ok()) {
    printDiagnostics(bundle->diagnostics, std::cerr, stderrIsTerminal());
    std::cerr << templates::summarizeDiagnostics(bundle->diagnostics) << "\n";
    return kExitInvalid;
  }
  if (bundle->cohorts.empty()) return fail(invalidError("no Cohort document in the given files: nothing to render"));
  auto rendered = renderAll(bundle.value(), o.cohort);
  if (!rendered) return fail(rendered.status());
  json out = json::array();
  for (const auto& r : rendered.value()) {
    out.push_back({{"cohort", r.cohort.name},
                   {"template", r.snapshot.name},
                   {"templateHash", r.snapshot.hash},
                   {"snapshot", json::parse(r.snapshot.canonicalJson)},
                   {"labs", r.labs}});
  }
  std::cout << (out.size() == 1 ? out[0] : out).dump(2) << "\n";
  return kExitOk;
}

std::string joinIds(const std::vector<std::string>& ids, size_t max = 8) {
  std::string s;
  for (size_t i = 0; i < ids.size() && i < max; ++i) s += (i ? ", " : "") + ids[i];
  if (ids.size() > max) s += ", ... (" + std::to_string(ids.size() - max) + " more)";
  return s;
}

void describeOutcome(const std::string& cohort, const ApplyOutcome& o, bool dryRun) {
  std::string verb = dryRun ? "would be " : "";
  if (o.created) {
    std::cout << "cohort " << cohort << ": " << verb << "created, generation " << o.generation << ", "
              << o.addedTrainees.size() << " trainee(s), " << o.addedLabs.size() << " lab(s)\n";
    return;
  }
  if (!o.changed) {
    std::cout << "cohort " << cohort << ": unchanged (generation " << o.generation << ")\n";
    return;
  }
  std::cout << "cohort " << cohort << ": " << (dryRun ? "would change to" : "changed,") << " generation "
            << o.generation << "\n";
  if (o.templateChanged) std::cout << "  template changed: labs are re-created on the next `up`\n";
  if (o.specChanged) std::cout << "  cohort settings changed (schedule, quota or provider)\n";
  if (!o.addedTrainees.empty()) std::cout << "  + trainees: " << joinIds(o.addedTrainees) << "\n";
  if (!o.removedTrainees.empty())
    std::cout << "  - trainees: " << joinIds(o.removedTrainees) << " (their labs are destroyed on the next up/down)\n";
  if (!o.updatedTrainees.empty()) std::cout << "  ~ trainees: " << joinIds(o.updatedTrainees) << "\n";
  if (!o.changedLabs.empty()) std::cout << "  ~ labs: " << joinIds(o.changedLabs) << "\n";
}

int runApplyRemote(Context& ctx, const FileOptions& o);

int runApply(Context& ctx, const FileOptions& o) {
  if (ctx.isRemote()) return runApplyRemote(ctx, o);
  auto bundle = load(ctx, o.files);
  if (!bundle) return fail(bundle.status());
  if (!bundle->ok()) {
    printDiagnostics(bundle->diagnostics, std::cerr, stderrIsTerminal());
    std::cerr << templates::summarizeDiagnostics(bundle->diagnostics) << "; nothing was applied\n";
    return kExitInvalid;
  }
  printDiagnostics(bundle->diagnostics, std::cerr, stderrIsTerminal());  // warnings
  std::vector<templates::Diagnostic> problems;
  auto prepared = prepareApply(bundle.value(), &problems);
  if (!prepared) {
    printDiagnostics(problems, std::cerr, stderrIsTerminal());
    return fail(prepared.status().withContext("nothing was applied"));
  }
  auto rendered = std::move(prepared->cohorts);
  auto& templates = prepared->templates;

  std::optional<StateLock> lock;
  if (!o.dryRun) {
    // A daemon holds the lock for as long as it runs: waiting would not help.
    auto l = StateLock::acquire(ctx.stateDir(), "darasa apply",
                                daemonHoldsState(ctx) ? std::chrono::seconds(0) : std::chrono::seconds(30));
    if (!l) return fail(withDaemonHint(ctx, l.status()));
    lock.emplace(std::move(l.value()));
  }
  auto store = ctx.openStore(o.dryRun ? OpenMode::kMustExist : OpenMode::kCreate);
  if (!store && !(o.dryRun && store.status().code() == Code::kNotFound)) return fail(store.status());
  if (!store) {  // dry run against no state: everything would be created
    for (const auto& r : rendered)
      std::cout << "cohort " << r.cohort.name << ": would be created, " << r.labs.size() << " lab(s)\n";
    return kExitOk;
  }
  LabService service(*store.value(), ctx.registry(), SystemClock::instance(), ctx.actor());

  // Check every cohort first, so that a bad one leaves the state untouched.
  for (const auto& r : rendered) {
    auto preview = service.apply({r, templates, true, o.allowPartial});
    if (!preview) return fail(preview.status().withContext("nothing was applied"));
  }
  if (rendered.empty() && !o.dryRun) {
    for (const auto& t : templates) {
      auto put = store.value()->putTemplate(t);
      if (!put) return fail(put.status());
      std::cout << "template " << t.name << ": " << (put.value() ? "stored" : "unchanged") << "\n";
    }
  }
  for (const auto& r : rendered) {
    auto report = service.apply({r, templates, o.dryRun, o.allowPartial});
    if (!report) return fail(report.status());
    for (const auto& w : report->warnings) std::cerr << "darasa: warning: " << w << "\n";
    describeOutcome(r.cohort.name, report->outcome, o.dryRun);
    if (!o.dryRun && !ctx.globals().quiet)
      std::cout << "  next: darasa up " << r.cohort.name << "\n";
  }
  return kExitOk;
}

// apply through the daemon: the files go to POST /api/v1/cohorts as one
// YAML stream (a cohort and the templates it needs may be in different
// files); the server validates and renders them exactly as a local apply
// does, and its located problems are mapped back to the given files.
struct FileSpan {
  std::string file;
  int firstLine = 1;  // line of the stream where the file starts
  int lines = 0;
};

std::string remapLocations(const std::string& text, const std::string& streamName, const std::vector<FileSpan>& spans) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t at = text.find(streamName + ":", i);
    if (at == std::string::npos) break;
    out += text.substr(i, at - i);
    size_t p = at + streamName.size() + 1;
    size_t q = p;
    while (q < text.size() && std::isdigit(static_cast<unsigned char>(text[q]))) ++q;
    if (q == p) {
      out += streamName + ":";
      i = p;
      continue;
    }
    int line = std::stoi(text.substr(p, q - p));
    const FileSpan* span = nullptr;
    for (const auto& sp : spans)
      if (line >= sp.firstLine && line < sp.firstLine + sp.lines) span = &sp;
    if (span) out += span->file + ":" + std::to_string(line - span->firstLine + 1);
    else out += text.substr(at, q - at);
    i = q;
  }
  return out + text.substr(i);
}

int runApplyRemote(Context& ctx, const FileOptions& o) {
  auto remote = ctx.remote();
  if (!remote) return fail(remote.status());
  const std::string streamName = o.files.size() == 1 ? std::filesystem::path(o.files[0]).filename().string()
                                                     : std::string("request.yaml");
  std::string body;
  std::vector<FileSpan> spans;
  int line = 1;
  for (const auto& f : o.files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) return fail(notFoundError("cannot read " + f));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!text.empty() && text.back() != '\n') text += '\n';
    if (!body.empty()) {
      body += "---\n";
      ++line;
    }
    int n = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
    spans.push_back({f, line, n});
    line += n;
    body += text;
  }
  std::string path = "/api/v1/cohorts";
  std::vector<std::pair<std::string, std::string>> query = {{"source", streamName}};
  if (o.dryRun) query.push_back({"dryRun", "true"});
  if (o.allowPartial) query.push_back({"allowPartial", "true"});
  std::string q;
  for (const auto& [k, v] : query) q += (q.empty() ? "?" : "&") + k + "=" + urlSegment(v);
  auto r = remote.value()->postText(path + q, body, "application/yaml");
  if (!r) {
    Status s = r.status();
    return fail(Status(s.code(), remapLocations(s.message(), streamName, spans)).withContext("nothing was applied"));
  }
  // The answer: one outcome, or {"cohorts": [...]}; each like ApplyOutcome.
  const json& list = r->is_object() && r->contains("cohorts") ? (*r)["cohorts"] : json::array({*r});
  for (const auto& c : list) {
    const json& oc = c.contains("outcome") && c["outcome"].is_object() ? c["outcome"] : c;
    ApplyOutcome out;
    auto ids = [&](const char* k) {
      return oc.contains(k) && oc[k].is_array() ? oc[k].get<std::vector<std::string>>() : std::vector<std::string>{};
    };
    out.generation = oc.value("generation", int64_t{0});
    out.created = oc.value("created", false);
    out.changed = oc.value("changed", false);
    out.addedTrainees = ids("addedTrainees");
    out.removedTrainees = ids("removedTrainees");
    out.updatedTrainees = ids("updatedTrainees");
    out.addedLabs = ids("addedLabs");
    out.changedLabs = ids("changedLabs");
    out.removedLabs = ids("removedLabs");
    out.templateChanged = oc.value("templateChanged", false);
    out.specChanged = oc.value("specChanged", false);
    std::string name = c.value("cohort", c.value("name", oc.value("cohort", std::string())));
    if (c.contains("warnings") && c["warnings"].is_array())
      for (const auto& w : c["warnings"]) std::cerr << "darasa: warning: " << w.get<std::string>() << "\n";
    describeOutcome(name, out, o.dryRun);
    if (!o.dryRun && !ctx.globals().quiet) std::cout << "  next: darasa up " << name << "\n";
  }
  return kExitOk;
}

}  // namespace

void addFileCommands(CLI::App& app, Context& ctx, int* rc) {
  auto o = std::make_shared<FileOptions>();

  auto* validate = app.add_subcommand("validate", "Check template, cohort and daemon config files; print every problem with its location");
  validate->add_option("files", o->files, "YAML or JSON files (LabTemplate, Cohort, DaemonConfig), rosters (.csv), schedules (.ics)")->required()->check(CLI::ExistingFile);
  validate->add_option("-o,--output", o->output, "text or json")->check(CLI::IsMember({"text", "json"}));
  validate->footer("Exit status: 0 valid, 2 problems found, 1 internal failure.");
  validate->callback([&ctx, o, rc] { *rc = runValidate(ctx, *o); });

  auto* render = app.add_subcommand("render", "Print the per-trainee lab specs a cohort renders to (JSON)");
  render->add_option("files", o->files, "files with the cohort (and its template)")->required()->check(CLI::ExistingFile);
  render->add_option("--cohort", o->cohort, "render only this cohort");
  render->callback([&ctx, o, rc] { *rc = runRender(ctx, *o); });

  auto* apply = app.add_subcommand("apply", "Validate, render and store templates and cohorts (a new generation on change)");
  apply->add_option("files", o->files, "YAML or JSON files")->required()->check(CLI::ExistingFile);
  apply->add_flag("--dry-run", o->dryRun, "say what would change, store nothing");
  apply->add_flag("--allow-partial", o->allowPartial,
                  "store a cohort whose whole class cannot run at once on its provider (the rest wait in the "
                  "daemon's admission queue) instead of refusing it");
  apply->footer("Nothing is stored unless every file is valid. Labs are provisioned by `darasa up`.");
  apply->callback([&ctx, o, rc] { *rc = runApply(ctx, *o); });
}

Result<PreparedApply> prepareApply(const templates::Bundle& bundle, std::vector<templates::Diagnostic>* problems) {
  PreparedApply out;
  auto rendered = renderCohorts(bundle, "", problems);
  if (!rendered) return rendered.status();
  out.cohorts = std::move(rendered.value());
  for (const auto& t : bundle.templates) {
    if (t.origin != templates::TemplateOrigin::kFile) continue;
    std::string j = templates::templateToJson(t);
    out.templates.push_back({t.name, j, contentHash(j), t.sourceFile, 0});
  }
  return out;
}

namespace {
// Where `key` is written as a mapping key in YAML or JSON text (roster:,
// "roster": ...): the offset just after its colon, or npos.
std::vector<size_t> keyValueOffsets(const std::string& text, const std::string& key) {
  std::vector<size_t> out;
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    char before = at == 0 ? '\n' : text[at - 1];
    if (!(std::isspace(static_cast<unsigned char>(before)) || before == '{' || before == ',' || before == '"' ||
          before == '\'' || before == '-'))
      continue;
    size_t p = at + key.size();
    if (p < text.size() && (text[p] == '"' || text[p] == '\'')) ++p;
    while (p < text.size() && (text[p] == ' ' || text[p] == '\t')) ++p;
    if (p < text.size() && text[p] == ':') out.push_back(p + 1);
  }
  return out;
}
}  // namespace

Result<ApplyRequest> parseApplyBody(const std::string& body, const std::string& sourceName,
                                    const templates::ValidateOptions& options) {
  // The server must not read its own files on a client's behalf (a roster
  // path would show another file's lines in the error messages).
  if (!keyValueOffsets(body, "roster").empty())
    return invalidError(sourceName + ": a roster file cannot be read by the server: list the trainees inline "
                        "(spec.trainees: [{id, name, email}])");
  for (size_t p : keyValueOffsets(body, "ical")) {
    size_t v = body.find_first_not_of(" \t\"'", p);
    if (v == std::string::npos || body.compare(v, 8, "https://") != 0)
      return invalidError(sourceName + ": an .ics file cannot be read by the server: give an https:// URL or "
                          "list the sessions");
  }
  templates::Bundle bundle = templates::loadString(sourceName, body, options);
  auto located = [&](const std::vector<templates::Diagnostic>& ds) {
    std::string m;
    for (const auto& d : ds) {
      if (d.severity != templates::Severity::kError) continue;
      if (!m.empty()) m += "\n";
      m += (d.file.empty() ? sourceName : d.file);
      if (d.line > 0) m += ":" + std::to_string(d.line) + ":" + std::to_string(d.column);
      m += ": " + d.message;
    }
    return m;
  };
  if (!bundle.ok()) return invalidError(located(bundle.diagnostics));
  std::vector<templates::Diagnostic> problems;
  auto prepared = prepareApply(bundle, &problems);
  if (!prepared) return invalidError(problems.empty() ? prepared.status().message() : located(problems));
  if (prepared->cohorts.size() != 1)
    return invalidError(sourceName + ": a request applies exactly one cohort (with the templates it needs); found " +
                        std::to_string(prepared->cohorts.size()));
  ApplyRequest req;
  req.rendered = std::move(prepared->cohorts.front());
  req.templates = std::move(prepared->templates);
  return req;
}

}  // namespace darasa::cli
