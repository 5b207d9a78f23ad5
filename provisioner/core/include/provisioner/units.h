// Rendering of the units people write (sizes, CPUs, durations) for messages,
// exact where the value allows it: quota refusals and usage reports show the
// arithmetic in the same forms as the files. Pure functions; thread-safe.
// (Parsing lives with the file formats: templates/units.h.)
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace darasa {

// "1.5Gi"-style rendering of bytes (exact when possible, else the next unit
// down, else bytes).
std::string formatSize(int64_t bytes);
// "1.5" / "500m"-style rendering of millicores.
std::string formatCpus(int64_t millis);
// "1h30m" / "45s" / "0s".
std::string formatDuration(std::chrono::seconds d);

}  // namespace darasa
