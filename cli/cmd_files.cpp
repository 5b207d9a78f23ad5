// validate, render, apply: the commands that read template and cohort files.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "context.h"
#include "provisioner/hash.h"
#include "provisioner/model_json.h"
#include "provisioner/service.h"
#include "provisioner/state_lock.h"
#include "templates/templates.h"

namespace darasa::cli {
namespace {
using nlohmann::json;

struct FileOptions {
  std::vector<std::string> files;
  std::string output = "text";
  bool dryRun = false;
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

Result<templates::Bundle> load(Context& ctx, const std::vector<std::string>& files) {
  templates::ValidateOptions options;
  options.knownProviders = ctx.registry().names();
  options.templateDirs = ctx.globals().templateDirs;
  auto stored = storedTemplates(ctx);
  if (!stored) return stored.status();
  options.storedTemplates = std::move(stored.value());
  return templates::loadFiles(files, options);
}

void printDiagnostics(const std::vector<templates::Diagnostic>& ds, std::ostream& out, bool color) {
  for (const auto& d : ds) out << templates::formatDiagnostic(d, color);
}

int runValidate(Context& ctx, const FileOptions& o) {
  auto bundle = load(ctx, o.files);
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
      if (!ds.empty()) std::cout << " (" << templates::summarizeDiagnostics(ds) << ")";
      std::cout << "\n";
    } else {
      std::cout << templates::summarizeDiagnostics(ds) << "\n";
    }
  }
  return bundle->ok() ? kExitOk : kExitInvalid;
}

// Renders every cohort of the bundle (or the one named); diagnostics go to stderr.
Result<std::vector<RenderedCohort>> renderAll(const templates::Bundle& bundle, const std::string& only) {
  std::vector<RenderedCohort> out;
  for (const auto& c : bundle.cohorts) {
    if (!only.empty() && c.spec.name != only) continue;
    std::vector<templates::Diagnostic> problems;
    auto r = templates::renderCohort({&bundle, c.spec.name, 1}, &problems);
    if (!r) {
      printDiagnostics(problems, std::cerr, stderrIsTerminal());
      return r.status();
    }
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

int runApply(Context& ctx, const FileOptions& o) {
  auto bundle = load(ctx, o.files);
  if (!bundle) return fail(bundle.status());
  if (!bundle->ok()) {
    printDiagnostics(bundle->diagnostics, std::cerr, stderrIsTerminal());
    std::cerr << templates::summarizeDiagnostics(bundle->diagnostics) << "; nothing was applied\n";
    return kExitInvalid;
  }
  printDiagnostics(bundle->diagnostics, std::cerr, stderrIsTerminal());  // warnings
  auto rendered = renderAll(bundle.value(), "");
  if (!rendered) return fail(rendered.status().withContext("nothing was applied"));

  std::vector<TemplateRecord> templates;
  for (const auto& t : bundle->templates) {
    if (t.origin != templates::TemplateOrigin::kFile) continue;
    std::string j = templates::templateToJson(t);
    templates.push_back({t.name, j, contentHash(j), t.sourceFile, 0});
  }

  std::optional<StateLock> lock;
  if (!o.dryRun) {
    auto l = StateLock::acquire(ctx.stateDir(), "darasa apply", std::chrono::seconds(30));
    if (!l) return fail(l.status());
    lock.emplace(std::move(l.value()));
  }
  auto store = ctx.openStore(o.dryRun ? OpenMode::kMustExist : OpenMode::kCreate);
  if (!store && !(o.dryRun && store.status().code() == Code::kNotFound)) return fail(store.status());
  if (!store) {  // dry run against no state: everything would be created
    for (const auto& r : rendered.value())
      std::cout << "cohort " << r.cohort.name << ": would be created, " << r.labs.size() << " lab(s)\n";
    return kExitOk;
  }
  LabService service(*store.value(), ctx.registry(), SystemClock::instance(), ctx.actor());

  // Check every cohort first, so that a bad one leaves the state untouched.
  for (const auto& r : rendered.value()) {
    auto preview = service.apply({r, templates, true});
    if (!preview) return fail(preview.status().withContext("nothing was applied"));
  }
  if (rendered->empty() && !o.dryRun) {
    for (const auto& t : templates) {
      auto put = store.value()->putTemplate(t);
      if (!put) return fail(put.status());
      std::cout << "template " << t.name << ": " << (put.value() ? "stored" : "unchanged") << "\n";
    }
  }
  for (const auto& r : rendered.value()) {
    auto report = service.apply({r, templates, o.dryRun});
    if (!report) return fail(report.status());
    for (const auto& w : report->warnings) std::cerr << "darasa: warning: " << w << "\n";
    describeOutcome(r.cohort.name, report->outcome, o.dryRun);
    if (!o.dryRun && !ctx.globals().quiet)
      std::cout << "  next: darasa up " << r.cohort.name << "\n";
  }
  return kExitOk;
}

}  // namespace

void addFileCommands(CLI::App& app, Context& ctx, int* rc) {
  auto o = std::make_shared<FileOptions>();

  auto* validate = app.add_subcommand("validate", "Check template and cohort files; print every problem with its location");
  validate->add_option("files", o->files, "YAML or JSON files (LabTemplate, Cohort)")->required()->check(CLI::ExistingFile);
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
  apply->footer("Nothing is stored unless every file is valid. Labs are provisioned by `darasa up`.");
  apply->callback([&ctx, o, rc] { *rc = runApply(ctx, *o); });
}

}  // namespace darasa::cli
