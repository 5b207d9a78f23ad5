// Template and cohort documents (YAML, multi-document, or JSON) through
// loadString, then what apply does with a valid bundle: render each cohort,
// store each template of a valid bundle (templateToJson) and read it back, rebuild the labs
// from the frozen snapshot. Properties: never a crash; a stored template
// always reads back; the snapshot rebuilds the same labs.
#include "fuzz_target.h"
#include "templates/templates.h"

namespace t = darasa::templates;

DARASA_FUZZ_TARGET(cohort) {
  const std::string content(reinterpret_cast<const char*>(data), size);
  t::ValidateOptions options;  // no template dirs, no URL fetcher
  // A directory that does not exist: relative roster/ical paths resolve nowhere.
  t::Bundle bundle = t::loadString("/nonexistent-darasa-fuzz/cohort.yaml", content, options);
  if (!bundle.ok()) return;  // nothing is stored then
  for (const auto& doc : bundle.templates) {
    std::string stored = t::templateToJson(doc);
    auto back = t::templateFromStoredJson(doc.name, stored);
    DARASA_FUZZ_CHECK(back.isOk(), doc.name + ": " + back.status().message() + "\n" + stored);
  }
  for (const auto& cohort : bundle.cohorts) {
    std::vector<t::Diagnostic> problems;
    auto rendered = t::renderCohort({&bundle, cohort.spec.name, 1}, &problems);
    if (!rendered) continue;
    auto again = t::labsFromSnapshot(rendered->cohort, rendered->snapshot, 1);
    DARASA_FUZZ_CHECK(again.isOk(), again.status().message());
    DARASA_FUZZ_CHECK(again->size() == rendered->labs.size(), cohort.spec.name);
    for (size_t i = 0; i < again->size(); ++i)
      DARASA_FUZZ_CHECK((*again)[i].labId == rendered->labs[i].labId, (*again)[i].labId);
  }
}
