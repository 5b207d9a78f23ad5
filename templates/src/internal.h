// Internals of darasa::templates shared between its source files: source
// files with line tables, the located document tree (Node) that every check
// walks, the diagnostics sink, and the per-module parse/check entry points.
// Not a public header: nothing outside templates/src includes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "provisioner/cohort.h"
#include "provisioner/model.h"
#include "templates/diagnostic.h"
#include "templates/templates.h"

namespace darasa::templates {

// ---------------------------------------------------------------- sources

struct SourceFile {
  std::string name;     // display name, as the caller gave it
  std::string dir;      // directory relative paths in it are resolved against
  std::string content;  // UTF-8, BOM removed
  std::vector<size_t> lineStarts;

  void indexLines();
  std::string_view lineText(int line) const;  // 1-based, without the line end; "" if out of range
  int charColumn(int line, int byteColumn) const;  // 1-based byte column → 1-based code point column
  // 1-based line and byte column of a byte offset.
  std::pair<int, int> lineColOf(size_t offset) const;
};
using SourcePtr = std::shared_ptr<const SourceFile>;

SourcePtr makeSource(std::string name, std::string dir, std::string content);

// A place in a source: 1-based line and byte column; line 0 = no position.
struct Pos {
  SourcePtr src;
  int line = 0;
  int col = 0;
  size_t offset = std::string::npos;
};
Pos posAtOffset(const SourcePtr& src, size_t offset);

// ---------------------------------------------------------------- nodes

struct MapEntry;

// The located document tree every check walks (converted from yaml-cpp or
// from stored JSON). Scalars keep their text exactly as written.
struct Node {
  enum class Kind { kNull, kScalar, kSeq, kMap };
  Kind kind = Kind::kNull;
  std::string text;     // scalars
  bool quoted = false;  // quoted or block scalar, or a JSON string: never a number/bool/null
  Pos pos;
  std::vector<Node> items;        // kSeq
  std::vector<MapEntry> entries;  // kMap, in file order, keys unique
  // Set by parameter substitution: a referenced parameter has no value
  // (typed checks are skipped), and the note added to messages about it.
  bool unresolved = false;
  std::string via;

  bool isNull() const { return kind == Kind::kNull; }
  bool isScalar() const { return kind == Kind::kScalar; }
  bool isSeq() const { return kind == Kind::kSeq; }
  bool isMap() const { return kind == Kind::kMap; }
  const Node* get(std::string_view key) const;
  const MapEntry* entry(std::string_view key) const;
};

struct MapEntry {
  std::string key;
  Pos keyPos;
  Node value;
};

// "a map", "a list", "nothing", or the scalar quoted: "2 GB".
std::string describe(const Node& n);
// Plain scalars follow YAML 1.2's core schema (null, true/false, numbers);
// numbers whose text would not survive the round trip stay strings.
nlohmann::json nodeToJson(const Node& n);
Node jsonToNode(const nlohmann::json& j, const Pos& pos);

// ---------------------------------------------------------------- diagnostics

class Diags {
 public:
  explicit Diags(std::vector<Diagnostic>* out) : out_(out) {}
  void error(const Pos& pos, std::string path, std::string message);
  void warning(const Pos& pos, std::string path, std::string message);
  void note(const Pos& pos, std::string path, std::string message);
  void add(Severity s, const Pos& pos, std::string path, std::string message);
  void append(const Diagnostic& diag);
  int errors() const { return errors_; }
  std::vector<Diagnostic>* out() const { return out_; }

 private:
  std::vector<Diagnostic>* out_;
  int errors_ = 0;
};

Diagnostic makeDiagnostic(Severity s, const Pos& pos, std::string path, std::string message);

// ---------------------------------------------------------------- text helpers

// The closest candidate within a small edit distance (case-insensitive
// matches first), or "" when none is close.
std::string suggest(std::string_view word, const std::vector<std::string>& candidates);
// " (did you mean "x"?)" or "".
std::string didYouMean(std::string_view word, const std::vector<std::string>& candidates);
std::string joinNames(const std::vector<std::string>& names, std::string_view sep = ", ");
// First invalid UTF-8 byte offset, or npos.
size_t firstInvalidUtf8(std::string_view s);
bool isDnsLabel(std::string_view s);
bool isTraineeId(std::string_view s);
bool isIdentifier(std::string_view s);
std::string lower(std::string_view s);
std::string childPath(const std::string& parent, std::string_view key);
std::string indexPath(const std::string& parent, size_t i);
// The last component of a path: "memory" for "spec.resources.memory", "ports[1]".
std::string lastSegment(const std::string& path);
// Where `needle` is written inside the scalar `n` (the k-th occurrence, from
// the scalar's start in its source), or n.pos when it cannot be found.
Pos posInScalar(const Node& n, std::string_view needle, int occurrence = 0);

// ---------------------------------------------------------------- reading

struct ReadLimits {
  size_t maxFileBytes = kDefaultMaxFileBytes;
  std::function<Result<std::string>(const std::string& url)> fetchUrl;  // ValidateOptions::fetchUrl
  std::optional<ConfigOptions> daemonConfig;                            // ValidateOptions::daemonConfig
};

// Reads a file for parsing: refuses a missing file, a directory, a file over
// the limit (unread), binary content (NUL, invalid UTF-8, UTF-16), and strips a
// UTF-8 BOM. Problems are reported against `display`, at `where` if given.
std::optional<std::string> readTextFile(const std::string& path, const std::string& display,
                                        const ReadLimits& limits, Diags& d, const Pos* where,
                                        std::string_view what);
// The same checks for content already in memory. false when it is not text.
bool checkText(const std::string& content, const SourcePtr& src, Diags& d);

// Parses every document of a YAML (or JSON) source into Nodes. Null documents
// (e.g. a trailing ---) are dropped. Syntax errors become diagnostics and
// stop the parse (yaml-cpp cannot resume); depth and size are bounded.
std::vector<Node> parseYamlDocuments(const SourcePtr& src, Diags& d);

// ---------------------------------------------------------------- fields

// Reads a map's fields, reporting unknown keys (with a suggestion among `known`)
// and duplicates. get() returns nullptr for an absent key or a null value.
class Fields {
 public:
  Fields(const Node& map, std::string path, Diags& d, std::vector<std::string> known);
  const Node* get(std::string_view key) const;
  const MapEntry* entry(std::string_view key) const;
  // A required field: reports it missing (at the map's key, `anchor`) when absent or null.
  const Node* require(std::string_view key, const Pos& anchor) const;
  const std::string& path() const { return path_; }

 private:
  const Node& map_;
  std::string path_;
  Diags& d_;
};

// Type checks that report "<label> must be a map, got ..." at the node.
bool expectMap(const Node& n, const std::string& path, Diags& d);
bool expectSeq(const Node& n, const std::string& path, Diags& d);
bool expectScalar(const Node& n, const std::string& path, Diags& d);
// A string field: any scalar, its text as written.
std::optional<std::string> getString(const Node* n, const std::string& path, Diags& d);
std::optional<int64_t> getInt(const Node* n, const std::string& path, Diags& d, int64_t min, int64_t max);
std::optional<int64_t> getSizeField(const Node* n, const std::string& path, Diags& d);
std::optional<int64_t> getCpusField(const Node* n, const std::string& path, Diags& d);
std::optional<std::chrono::seconds> getDurationField(const Node* n, const std::string& path, Diags& d);
std::optional<std::string> getEnumField(const Node* n, const std::string& path, Diags& d,
                                        const std::vector<std::string>& values);
std::optional<std::map<std::string, std::string>> getStringMap(const Node* n, const std::string& path,
                                                              Diags& d);
std::optional<std::vector<std::string>> getStringList(const Node* n, const std::string& path, Diags& d);
// The note parameter substitution left on a node, as a message suffix.
std::string viaSuffix(const Node& n);

// ---------------------------------------------------------------- templates

struct ParamInfo {
  ParameterDecl decl;
  Pos namePos;
  Pos defaultPos;
  bool defaultValid = true;
};

}  // namespace darasa::templates

namespace darasa::templates::detail {

struct TemplateData {
  SourcePtr src;
  Node doc;        // the whole document
  Pos namePos;     // metadata.name's value
  Pos extendsPos;  // extends' value (line 0 when absent)
  std::vector<ParamInfo> params;
  Node spec;       // null when missing
  Pos specKeyPos;  // the "spec" key
  bool structurallyOk = true;  // no errors in the document's own structure
};

struct CohortData {
  SourcePtr src;
  Node doc;
  Pos namePos;
  Pos specPos;            // "spec" key (for missing-field errors)
  Pos templatePos;        // spec.template's value
  const Node* parameters = nullptr;  // into doc: spec.parameters (a map) or nullptr
  Pos parametersKeyPos;
  const Node* quota = nullptr;       // into doc: spec.quota (a map) or nullptr
  bool structurallyOk = true;
};

// Every template known while validating or rendering, by name: those in the
// given files first, then stored, then from template dirs.
struct Catalog {
  struct Entry {
    TemplateDoc doc;
    std::vector<Diagnostic> problems;  // found while parsing it (reported only when it is used)
  };
  std::map<std::string, Entry> byName;
  std::vector<std::string> knownProviders;
  std::function<Status(const LabSpec&)> askProvider;  // ValidateOptions::askProvider
  std::vector<std::string> unreadable;  // template dir files that did not parse
  const Entry* find(const std::string& name) const;
  std::vector<std::string> names() const;
};

}  // namespace darasa::templates::detail

namespace darasa::templates {

// Parses one LabTemplate document (already known to be kind LabTemplate).
std::optional<TemplateDoc> parseTemplateDoc(const Node& doc, const SourcePtr& src, TemplateOrigin origin,
                                            Diags& d);

// Checks a parameter value against its declaration; "" when fine, else the reason
// (e.g. `"2 GB" is not a size (use e.g. 2Gi)`).
std::string checkParameterValue(const ParameterDecl& p, const std::string& value);
// Normalised text of a valid value (int → decimal, bool → true/false).
std::string normalizeParameterValue(const ParameterDecl& p, const std::string& value);

// Typed reading of a (substituted) spec: fills the LabSpec's template-derived
// fields (provider .. providerOptions, labels = spec.labels). knownProviders
// empty → the provider is not checked.
// anchor: where a missing field is reported (the "spec" key).
void readSpec(const Node& spec, const std::string& path, const std::vector<std::string>& knownProviders,
              Diags& d, LabSpec* out, const Pos* anchor = nullptr);

// A resolved template: extends merged, ready for substitution.
struct ResolvedTemplate {
  std::string name;
  std::vector<std::string> chain;  // name, its base, the base's base...
  std::vector<ParamInfo> params;   // merged by name, child wins
  Node spec;                       // merged
  Pos specKeyPos;                  // the named template's "spec" key
  Labels labels;
  std::string description;
};

// Follows extends through the catalog; problems are reported (unknown base,
// cycles) at the extends value. nullopt when it cannot be resolved.
std::optional<ResolvedTemplate> resolveTemplate(const detail::Catalog& catalog, const std::string& name,
                                                Diags& d);
// Merges `over` onto `base`: maps merge key by key, anything else replaces;
// a null in `over` removes the key.
Node mergeNodes(const Node& base, const Node& over);

struct ParamValue {
  std::string value;
  bool valid = true;   // false: its own check failed (reported); do not substitute
  std::string origin;  // "cohort" | "default"
};
// Replaces ${name} in every string of `spec`; $${ is a literal ${. Unknown
// names are reported at the ${; names without a value leave the node unresolved.
Node substitute(const Node& spec, const std::string& path, const std::vector<ParamInfo>& params,
                const std::map<std::string, ParamValue>& values, Diags& d);

// ---------------------------------------------------------------- cohorts

std::optional<CohortDoc> parseCohortDoc(const Node& doc, const SourcePtr& src, const ReadLimits& limits,
                                        Diags& d);

// Roster CSV: trainees in file order; problems reported against the CSV's path.
std::vector<Trainee> readRosterCsv(const std::string& path, const std::string& display,
                                   const ReadLimits& limits, Diags& d, const Pos& where);
std::vector<Trainee> parseRosterCsv(const SourcePtr& csv, Diags& d);
// Checks one trainee's fields; reports at the given positions.
bool checkTrainee(const Trainee& t, const Pos& idPos, const Pos& namePos, const Pos& emailPos,
                  const std::string& path, Diags& d);

// Schedules: the schedule map of a cohort (sessions or ical).
void readSchedule(const Node& schedule, const std::string& path, const SourcePtr& src,
                  const std::string& timezone, const Pos& timezonePos, const ReadLimits& limits, Diags& d,
                  ScheduleSpec* out);
bool isKnownTimeZone(const std::string& name);
// An .ics text on its own (given to validate): structure, dates, events, time
// zone names, rules. false when it has errors.
bool checkIcalFile(std::string content, const std::string& display, Diags& d);
std::vector<std::string> timeZoneNames();

// ---------------------------------------------------------------- rendering

// Renders (and so fully checks) one cohort against the catalog: parameters,
// substitution, typed spec, quotas. false when it produced errors. out may be null.
bool renderCohortInto(const detail::Catalog& catalog, const CohortDoc& cohort, int64_t generation, Diags& d,
                      RenderedCohort* out, std::vector<std::string>* chain);
// Checks a template on its own, its parameters' defaults substituted.
void checkTemplate(const detail::Catalog& catalog, const std::string& name, Diags& d);
// Asks the catalog's provider hook about `lab`, read from the substituted
// `spec`: the provider's problems are reported at the fields they name (at
// `anchor`, the "spec" key, when none is found); a provider that could not be
// asked is a note at spec.provider. Nothing when there is no hook.
void askProvider(const detail::Catalog& catalog, const Node& spec, const Pos& anchor, const LabSpec& lab, Diags& d);

// The canonical JSON of a resolved, substituted template.
nlohmann::json snapshotJson(const ResolvedTemplate& t, const Node& substitutedSpec,
                            const std::map<std::string, ParamValue>& values);
std::string sha256Hex(std::string_view data);
// The per-trainee LabSpecs from a template-derived base spec.
std::vector<LabSpec> labsFor(const CohortSpec& cohort, const LabSpec& base, const TemplateSnapshot& snap,
                             int64_t generation);

}  // namespace darasa::templates
