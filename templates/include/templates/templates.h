// darasa::templates — the template language. Parses LabTemplate and Cohort
// documents (YAML, multi-document, or JSON), validates them with located
// diagnostics, resolves `extends`, and renders a cohort into a frozen template
// snapshot plus one LabSpec per trainee.
// All functions are thread-safe (no shared mutable state); they never throw.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "provisioner/cohort.h"
#include "provisioner/model.h"
#include "provisioner/status.h"
#include "templates/config.h"
#include "templates/diagnostic.h"

namespace darasa::templates {

inline constexpr const char* kApiVersion = "darasa/v1";
inline constexpr size_t kDefaultMaxFileBytes = 8 * 1024 * 1024;

// Provider names accepted when ValidateOptions::knownProviders is empty.
const std::vector<std::string>& defaultProviders();

// A template already applied to the state: its name and the JSON that
// templateToJson() gave for it.
struct StoredTemplate {
  std::string name;
  std::string json;
};

struct ValidateOptions {
  // Provider names a template may use (e.g. ProviderRegistry::names()); empty → defaultProviders().
  std::vector<std::string> knownProviders;
  // Where a cohort (or an extends) finds a template that is not in the given
  // files: first the stored templates, then *.yaml / *.yml / *.json in these dirs.
  std::vector<StoredTemplate> storedTemplates;
  std::vector<std::string> templateDirs;
  // Files (and rosters, .ics files) larger than this are refused unread.
  size_t maxFileBytes = kDefaultMaxFileBytes;
  // Fetches `schedule: {ical: URL}` (https://, or http:// to 127.0.0.1 or
  // localhost only) and returns the body; its error is reported at the URL.
  // Empty: a URL is an error that says so (file:// and paths need no fetcher).
  // The body is held to maxFileBytes like a file.
  std::function<Result<std::string>(const std::string& url)> fetchUrl;
  // DaemonConfig documents (darasa.yaml) are checked as `darasa serve
  // --config` checks them, with these names, when set (darasa validate).
  // Unset, such a document is an error that says where it belongs (apply
  // and render do not take it).
  std::optional<ConfigOptions> daemonConfig;
  // A roster (.csv) or a schedule (.ics) given as a file of its own is
  // checked on its own when set (darasa validate: the trainees; the events,
  // dates and rules). Unset, it is an error saying that a cohort reads it.
  bool dataFiles = false;
  // Asks a template's provider about a lab it would make (Provider::validate
  // and capacity: e.g. more CPUs or memory than it can ever give), for each
  // template whose parameters all have defaults and for each cohort. ok, or
  // kInvalid with the provider's problems, each reported at the field it
  // names ("resources.memory 64Gi is more than ..."); any other code means
  // the provider could not be asked: a note says so, once. Unset: providers
  // are not asked.
  std::function<Status(const LabSpec& spec)> askProvider;
};

enum class ParameterType { kString, kInt, kBool, kSize, kDuration, kEnum };
const char* parameterTypeName(ParameterType t);  // "string", "int", ...

struct ParameterDecl {
  std::string name;
  ParameterType type = ParameterType::kString;
  bool hasDefault = false;
  std::string defaultValue;         // as written
  bool required = false;
  std::vector<std::string> values;  // enum only
  std::string description;
};

enum class TemplateOrigin {
  kFile,         // one of the files given to loadFiles/loadString
  kStored,       // ValidateOptions::storedTemplates
  kTemplateDir,  // found in ValidateOptions::templateDirs
};

namespace detail {
struct TemplateData;
struct CohortData;
struct Catalog;
}  // namespace detail

// A parsed LabTemplate document, as written (extends not merged).
struct TemplateDoc {
  std::string name;
  std::string sourceFile;  // display name of its file ("state:template/<name>" when stored)
  int line = 0;            // where the document starts
  TemplateOrigin origin = TemplateOrigin::kFile;
  std::string extends;     // "" when none
  std::string description;
  Labels labels;                          // metadata.labels
  std::vector<ParameterDecl> parameters;  // as declared here (not merged with the base)
  std::shared_ptr<const detail::TemplateData> data;  // the located document (opaque)
};

// A parsed and validated Cohort document. spec holds everything resolved:
// roster read, parameters with defaults, ical path made absolute.
struct CohortDoc {
  CohortSpec spec;
  int line = 0;
  std::shared_ptr<const detail::CohortData> data;  // (opaque)
};

struct Bundle {
  // Templates from the given files, plus those taken from the state or the
  // template dirs because a cohort or an extends needed them (see origin).
  std::vector<TemplateDoc> templates;
  std::vector<CohortDoc> cohorts;
  std::vector<std::string> daemonConfigs;  // files checked as a DaemonConfig (ValidateOptions::daemonConfig)
  std::vector<std::string> rosters;        // .csv files checked on their own (ValidateOptions::dataFiles)
  std::vector<std::string> schedules;      // .ics files checked on their own
  // Every problem of every file, sorted by file (in the order given), line, column.
  std::vector<Diagnostic> diagnostics;
  std::shared_ptr<const detail::Catalog> catalog;  // every template known, for rendering

  bool ok() const { return countErrors(diagnostics) == 0; }
  const CohortDoc* findCohort(const std::string& name) const;
  const TemplateDoc* findTemplate(const std::string& name) const;
};

// Reads, parses and validates the files (YAML or JSON; a .json file is read as
// YAML's JSON subset), including the checks across documents: duplicate names,
// extends, each cohort against its template (parameters, rendered typed
// fields, quotas), rosters and schedules. Reports all problems at once.
Bundle loadFiles(const std::vector<std::string>& paths, const ValidateOptions& options);
// The same for content given in memory; displayName is used in diagnostics and
// its directory is where relative roster/ical paths are resolved.
Bundle loadString(const std::string& displayName, const std::string& content,
                  const ValidateOptions& options);

// The template as written, as compact JSON with sorted keys, for the state to
// store; templateFromStoredJson() gives it back (kInvalid when it does not parse).
std::string templateToJson(const TemplateDoc& doc);
Result<TemplateDoc> templateFromStoredJson(const std::string& name, const std::string& json);

struct RenderInput {
  const Bundle* bundle = nullptr;  // from loadFiles/loadString
  std::string cohort;              // a cohort name in bundle->cohorts
  int64_t generation = 1;          // stamped on every LabSpec (darasa.generation)
};

// Renders one cohort: the frozen snapshot of its resolved template and one
// LabSpec per trainee. kNotFound for an unknown cohort; kInvalid when the
// cohort or its template has errors (they are appended to *problems if given).
Result<RenderedCohort> renderCohort(const RenderInput& input, std::vector<Diagnostic>* problems);

// The LabSpecs of a cohort rebuilt from a stored snapshot (no template files
// needed): what renderCohort gives for the same cohort, snapshot and generation.
Result<std::vector<LabSpec>> labsFromSnapshot(const CohortSpec& cohort, const TemplateSnapshot& snapshot,
                                              int64_t generation);

}  // namespace darasa::templates
