// Diagnostic: one located problem in a file a person wrote (file:line:col,
// message, field path, severity), printed like a compiler message with the
// source line and a caret, or as JSON for `-o json`. Plain value type.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace darasa::templates {

enum class Severity { kError, kWarning, kNote };
const char* severityName(Severity s);  // "error" | "warning" | "note"

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string file;        // as given by the caller (e.g. "examples/bad.yaml"); may be a roster or .ics
  int line = 0;            // 1-based; 0 when the problem is about the whole file or has no position
  int column = 0;          // 1-based, counted in characters (UTF-8 code points); 0 = unknown
  std::string message;     // e.g. memory "2 GB" is not a size (use e.g. 2Gi)
  std::string path;        // field path, e.g. "spec.resources.memory"; "" when not about a field
  std::string sourceLine;  // the text of `line`, for the caret display ("" when unknown)
  bool operator==(const Diagnostic&) const = default;
};

// "file:12:13: error: message\n   12 |     memory: 2 GB\n      |             ^\n".
// Without a line: "file: error: message\n". Always ends with a newline.
// color adds ANSI escapes (bold location, red error, yellow warning, green caret).
std::string formatDiagnostic(const Diagnostic& d, bool color = false);

// {"severity","file","line","column","message","path"}.
nlohmann::json diagnosticToJson(const Diagnostic& d);
nlohmann::json diagnosticsToJson(const std::vector<Diagnostic>& ds);  // a JSON array

// "3 errors, 1 warning" ("no problems" when empty).
std::string summarizeDiagnostics(const std::vector<Diagnostic>& ds);
int countErrors(const std::vector<Diagnostic>& ds);

}  // namespace darasa::templates
