// How diagnostics look: compiler-style text with a caret, JSON for -o json.
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace darasa::templates {
namespace {

TEST(DiagnosticFormat, CaretUnderTheColumn) {
  Diagnostic d{Severity::kError, "examples/bad.yaml", 12, 13, "memory \"2 GB\" is not a size (use e.g. 2Gi)",
               "spec.resources.memory", "    memory: 2 GB"};
  EXPECT_EQ(formatDiagnostic(d),
            "examples/bad.yaml:12:13: error: memory \"2 GB\" is not a size (use e.g. 2Gi)\n"
            "   12 |     memory: 2 GB\n"
            "      |             ^\n");
}

TEST(DiagnosticFormat, ColumnsCountCharactersNotBytes) {
  Bundle b = testing::load("apiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: c, labels: {\"名前\": x}}\n"
                           "spec: {template: t, trainees: [{name: Zoë, id: \"é\"}]}\n");
  auto errs = testing::errorsOf(b);
  auto it = std::find_if(errs.begin(), errs.end(), [](const Diagnostic& d) { return d.message.find("trainee id") == 0; });
  ASSERT_NE(it, errs.end()) << testing::dump(b.diagnostics);
  EXPECT_EQ(it->line, 4);
  EXPECT_EQ(it->column, 48);  // the byte column would be 49: "ë" is two bytes
  EXPECT_EQ(formatDiagnostic(*it).substr(formatDiagnostic(*it).rfind('|') + 1),
            std::string(48, ' ') + "^\n");
}

TEST(DiagnosticFormat, TabsAreKeptInTheCaretLine) {
  Diagnostic d{Severity::kWarning, "f.json", 3, 3, "m", "", "\t\t\"x\": 1"};
  EXPECT_EQ(formatDiagnostic(d), "f.json:3:3: warning: m\n    3 | \t\t\"x\": 1\n      | \t\t^\n");
}

TEST(DiagnosticFormat, WithoutALine) {
  Diagnostic d{Severity::kError, "empty.yaml", 0, 0, "file is empty", "", ""};
  EXPECT_EQ(formatDiagnostic(d), "empty.yaml: error: file is empty\n");
}

TEST(DiagnosticFormat, LongLinesAreCut) {
  std::string line(1000, 'x');
  Diagnostic d{Severity::kError, "f", 1, 500, "m", "", line};
  std::string out = formatDiagnostic(d);
  EXPECT_LT(out.size(), 400u);
  size_t caretLine = out.rfind('\n', out.size() - 2);
  size_t sourceLine = out.rfind('\n', caretLine - 1);
  // The caret still sits under the reported character.
  std::string shown = out.substr(sourceLine + 1, caretLine - sourceLine - 1);
  std::string caret = out.substr(caretLine + 1);
  EXPECT_EQ(shown.substr(0, 11), "    1 | ...");
  EXPECT_EQ(caret.find('^'), 8 + 3 + 60u);
}

// A line with bytes a terminal must not get (a mis-encoded file, control
// characters) is shown with them as \xNN, the caret still under the column.
TEST(DiagnosticFormat, BytesThatAreNotTextAreShownEscaped) {
  struct Case {
    std::string line;
    int column;
    std::string shown;  // the excerpt as printed
    size_t caretAt;     // index of '^' in the caret line's text after "| "
  };
  const std::vector<Case> cases = {
      {"name: caf\xe9", 10, "name: caf\\xe9", 9},
      {"a: \x1b[31mred", 4, "a: \\x1b[31mred", 3},
      {"x: \xff\xfe y", 7, "x: \\xff\\xfe y", 12},         // the caret past both bad bytes
      {"\xc2\x85next: 1", 2, "\\xc2\\x85next: 1", 8},  // a C1 control (U+0085) is escaped whole
      {"ok: \xc3\xa9t\xc3\xa9", 6, "ok: \xc3\xa9t\xc3\xa9", 5},  // valid UTF-8 stays as it is
  };
  for (const auto& c : cases) {
    Diagnostic d{Severity::kError, "f.yaml", 2, c.column, "m", "", c.line};
    std::string out = formatDiagnostic(d);
    size_t first = out.find('\n'), second = out.find('\n', first + 1);
    std::string shown = out.substr(first + 1, second - first - 1);
    std::string caret = out.substr(second + 1);
    EXPECT_EQ(shown, "    2 | " + c.shown) << c.shown;
    EXPECT_EQ(caret.find('^'), 8 + c.caretAt) << c.shown << "\n" << out;
    for (unsigned char ch : out) EXPECT_TRUE(ch >= 0x20 || ch == '\n') << c.shown;
  }
}

TEST(DiagnosticFormat, Color) {
  Diagnostic d{Severity::kError, "f", 1, 1, "m", "", "x"};
  std::string out = formatDiagnostic(d, true);
  EXPECT_NE(out.find("\033[1;31merror:"), std::string::npos);
  EXPECT_NE(out.find("\033[0m"), std::string::npos);
}

TEST(DiagnosticFormat, Json) {
  Diagnostic d{Severity::kWarning, "f.yaml", 2, 5, "msg", "spec.x", "src"};
  EXPECT_EQ(diagnosticToJson(d).dump(),
            R"({"column":5,"file":"f.yaml","line":2,"message":"msg","path":"spec.x","severity":"warning"})");
  EXPECT_EQ(diagnosticsToJson({d, d}).size(), 2u);
  EXPECT_EQ(summarizeDiagnostics({d}), "1 warning");
  Diagnostic e = d;
  e.severity = Severity::kError;
  EXPECT_EQ(summarizeDiagnostics({e, e, d}), "2 errors, 1 warning");
  EXPECT_EQ(summarizeDiagnostics({}), "no problems");
  EXPECT_EQ(countErrors({e, d}), 1);
}

}  // namespace
}  // namespace darasa::templates
