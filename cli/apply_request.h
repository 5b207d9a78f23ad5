// What `darasa apply` and the daemon's POST /api/v1/cohorts share: a loaded
// bundle of templates and cohorts turned into what LabService::apply takes
// (each cohort rendered, the templates of the given files as records), and
// an API request body parsed the same way. Thread-safe (no shared state).
#pragma once

#include <string>
#include <vector>

#include "provisioner/service.h"
#include "templates/templates.h"

namespace darasa::cli {

struct PreparedApply {
  std::vector<RenderedCohort> cohorts;    // in file order
  std::vector<TemplateRecord> templates;  // the templates of the given files (not stored/template-dir ones)
};

// Renders every cohort of a loaded bundle (which must be ok()). kInvalid when
// a cohort does not render; its problems are appended to *problems.
Result<PreparedApply> prepareApply(const templates::Bundle& bundle, std::vector<templates::Diagnostic>* problems);

// The daemon's parseApply (ApiOptions::parseApply): one request body (YAML or
// JSON: templates and exactly one cohort) through templates::loadString and
// prepareApply. kInvalid with every located problem ("name:line:col: ..."),
// one per line. Bodies naming a roster or .ics *file* are refused: the
// server must not read its own files for a client (list trainees inline, use
// sessions or an https:// calendar).
Result<ApplyRequest> parseApplyBody(const std::string& body, const std::string& sourceName,
                                    const templates::ValidateOptions& options);

}  // namespace darasa::cli
