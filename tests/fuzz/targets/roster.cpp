// A roster CSV (RFC 4180, header id,name,email in any order) through the
// parser cohorts use for `roster: FILE`. Property: never a crash; every
// trainee it returns has an id.
#include "fuzz_target.h"
#include "internal.h"

namespace t = darasa::templates;

DARASA_FUZZ_TARGET(roster) {
  std::vector<t::Diagnostic> diagnostics;
  t::Diags d(&diagnostics);
  auto src = t::makeSource("roster.csv", "", std::string(reinterpret_cast<const char*>(data), size));
  auto trainees = t::parseRosterCsv(src, d);
  if (d.errors() > 0) return;
  for (const auto& tr : trainees) DARASA_FUZZ_CHECK(!tr.id.empty(), tr.name);
}
