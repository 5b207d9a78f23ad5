// Parsing of the units used in template and cohort files, with exact integer
// arithmetic (no floating point): sizes → bytes, CPUs → millicores,
// durations → seconds, local date-times. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "provisioner/units.h"

namespace darasa::templates {

// "512Mi", "1.5Gi" (= 1610612736), "2G", "1048576"; binary Ki Mi Gi Ti Pi, decimal k M G T P.
// Fractional bytes round up. nullopt for anything else ("2 GB", "-1", overflow).
std::optional<int64_t> parseSize(std::string_view s);
// "1", "0.5", "2.25" (CPUs) or "500m" (millicores) → millicores; at most 3 decimals.
std::optional<int64_t> parseCpus(std::string_view s);
// "30s", "15m", "4h", "1h30m", "2d", "1.5h", "0" → seconds; must come out whole seconds.
std::optional<std::chrono::seconds> parseDuration(std::string_view s);
// A non-negative decimal ("40", "12.5") times `scale`, rounded to nearest; nullopt on
// syntax error or overflow. parseDecimalScaled("12.5", 3600) == 45000.
std::optional<int64_t> parseDecimalScaled(std::string_view s, int64_t scale);
// A plain decimal integer with optional sign; nullopt on anything else or overflow.
std::optional<int64_t> parseInteger(std::string_view s);

// Rendering for messages: the core's (provisioner/units.h), so that the
// files and the core's quota messages print units alike.
using darasa::formatCpus;
using darasa::formatDuration;
using darasa::formatSize;

// A local date-time "YYYY-MM-DDTHH:MM[:SS]" (a valid calendar date) normalised to
// "YYYY-MM-DDTHH:MM:SS"; nullopt otherwise.
std::optional<std::string> normalizeLocalDateTime(std::string_view s);

}  // namespace darasa::templates
