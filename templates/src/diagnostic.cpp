// Diagnostics (making, formatting, JSON) and the small text helpers every
// check uses (suggestions, name syntax, UTF-8).
#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "internal.h"

namespace darasa::templates {

const char* severityName(Severity s) {
  switch (s) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kNote: return "note";
  }
  return "error";
}

namespace {
constexpr size_t kMaxSourceLine = 4096;
constexpr size_t kShownWidth = 120;  // characters of a long line shown around the column

// The part of `line` worth showing and the column within it: long lines are
// cut to a window around the column, marked with "...".
std::pair<std::string, int> shownLine(const std::string& line, int column) {
  std::vector<size_t> starts;  // byte offset of each character
  for (size_t i = 0; i < line.size(); ++i)
    if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80) starts.push_back(i);
  if (starts.size() <= kShownWidth + 40) return {line, column};
  size_t col = static_cast<size_t>(std::max(column, 1)) - 1;
  size_t first = col > kShownWidth / 2 ? col - kShownWidth / 2 : 0;
  size_t last = std::min(starts.size(), first + kShownWidth);
  std::string out = first > 0 ? "..." : "";
  size_t endByte = last < starts.size() ? starts[last] : line.size();
  out += line.substr(starts[first], endByte - starts[first]);
  if (last < starts.size()) out += "...";
  return {out, static_cast<int>(col - first) + 1 + (first > 0 ? 3 : 0)};
}
// The line as a terminal can show it: control characters and bytes that are
// not UTF-8 become \xNN (a mis-encoded file must not print raw bytes), and
// the column (in characters, counted as charColumn counts them) follows.
std::pair<std::string, int> printableLine(const std::string& line, int column) {
  if (column <= 0) column = 0;
  std::string out;
  int chars = 0;     // characters of `line` before i
  int outChars = 0;  // characters of `out`
  int shownColumn = 0;
  for (size_t i = 0; i < line.size();) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if ((c & 0xC0) != 0x80 && ++chars == column) shownColumn = outChars + 1;
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool valid = len > 0 && i + len <= line.size();
    for (size_t k = 1; valid && k < len; ++k) valid = (static_cast<unsigned char>(line[i + k]) & 0xC0) == 0x80;
    bool control = (c < 0x20 && c != '\t') || c == 0x7F ||
                   (len == 2 && valid && c == 0xC2 && static_cast<unsigned char>(line[i + 1]) < 0xA0);
    if (valid && !control) {
      out.append(line, i, len);
      ++outChars;
      i += len;
      continue;
    }
    static const char* digits = "0123456789abcdef";
    for (size_t k = 0; k < (valid ? len : 1); ++k) {
      unsigned char b = static_cast<unsigned char>(line[i + k]);
      out += "\\x";
      out += digits[b >> 4];
      out += digits[b & 15];
      outChars += 4;
    }
    i += valid ? len : 1;
  }
  if (shownColumn == 0) shownColumn = outChars + std::max(column - chars, 1);
  return {out, shownColumn};
}
}  // namespace

Diagnostic makeDiagnostic(Severity s, const Pos& pos, std::string path, std::string message) {
  Diagnostic d;
  d.severity = s;
  d.message = std::move(message);
  d.path = std::move(path);
  if (pos.src) {
    d.file = pos.src->name;
    if (pos.line > 0) {
      d.line = pos.line;
      d.column = pos.src->charColumn(pos.line, pos.col);
      // A huge line (minified JSON, garbage) is not worth copying or showing.
      std::string_view text = pos.src->lineText(pos.line);
      if (text.size() <= kMaxSourceLine) d.sourceLine = std::string(text);
    }
  }
  return d;
}

void Diags::add(Severity s, const Pos& pos, std::string path, std::string message) {
  if (s == Severity::kError) ++errors_;
  if (out_) out_->push_back(makeDiagnostic(s, pos, std::move(path), std::move(message)));
}
void Diags::append(const Diagnostic& diag) {
  if (diag.severity == Severity::kError) ++errors_;
  if (out_) out_->push_back(diag);
}
void Diags::error(const Pos& pos, std::string path, std::string message) {
  add(Severity::kError, pos, std::move(path), std::move(message));
}
void Diags::warning(const Pos& pos, std::string path, std::string message) {
  add(Severity::kWarning, pos, std::move(path), std::move(message));
}
void Diags::note(const Pos& pos, std::string path, std::string message) {
  add(Severity::kNote, pos, std::move(path), std::move(message));
}

std::string formatDiagnostic(const Diagnostic& d, bool color) {
  const char* bold = color ? "\033[1m" : "";
  const char* reset = color ? "\033[0m" : "";
  const char* sevColor = !color ? ""
                         : d.severity == Severity::kError ? "\033[1;31m"
                         : d.severity == Severity::kWarning ? "\033[1;33m"
                                                            : "\033[1;36m";
  std::string out = bold;
  out += d.file.empty() ? "<input>" : d.file;
  if (d.line > 0) {
    out += ":" + std::to_string(d.line);
    if (d.column > 0) out += ":" + std::to_string(d.column);
  }
  out += ":";
  out += reset;
  out += " ";
  out += sevColor;
  out += severityName(d.severity);
  out += ":";
  out += reset;
  out += " " + d.message + "\n";
  if (d.line > 0 && !d.sourceLine.empty()) {
    auto [printable, printableColumn] = printableLine(d.sourceLine, d.column);
    auto [text, column] = shownLine(printable, printableColumn);
    std::string num = std::to_string(d.line);
    std::string gutter = num.size() < 5 ? std::string(5 - num.size(), ' ') : "";
    out += gutter + num + " | " + text + "\n";
    // The caret line copies tabs so that it lines up whatever the tab width.
    std::string pad;
    int chars = 0;
    for (size_t i = 0; i < text.size() && chars < column - 1; ++i) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      if ((c & 0xC0) == 0x80) continue;
      pad += c == '\t' ? '\t' : ' ';
      ++chars;
    }
    for (; chars < column - 1; ++chars) pad += ' ';
    out += std::string(gutter.size() + num.size(), ' ') + " | " + pad + (color ? "\033[1;32m" : "") + "^" +
           reset + "\n";
  }
  return out;
}

nlohmann::json diagnosticToJson(const Diagnostic& d) {
  return {{"severity", severityName(d.severity)}, {"file", d.file},       {"line", d.line},
          {"column", d.column},                   {"message", d.message}, {"path", d.path}};
}

nlohmann::json diagnosticsToJson(const std::vector<Diagnostic>& ds) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& d : ds) a.push_back(diagnosticToJson(d));
  return a;
}

int countErrors(const std::vector<Diagnostic>& ds) {
  return static_cast<int>(
      std::count_if(ds.begin(), ds.end(), [](const Diagnostic& d) { return d.severity == Severity::kError; }));
}

std::string summarizeDiagnostics(const std::vector<Diagnostic>& ds) {
  int errors = countErrors(ds);
  int warnings = static_cast<int>(
      std::count_if(ds.begin(), ds.end(), [](const Diagnostic& d) { return d.severity == Severity::kWarning; }));
  if (errors == 0 && warnings == 0) return "no problems";
  std::string s;
  if (errors) s += std::to_string(errors) + (errors == 1 ? " error" : " errors");
  if (warnings) s += std::string(s.empty() ? "" : ", ") + std::to_string(warnings) + (warnings == 1 ? " warning" : " warnings");
  return s;
}

// ---------------------------------------------------------------- text helpers

namespace {
// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
size_t editDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> t(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) t[i][0] = i;
  for (size_t j = 0; j <= m; ++j) t[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      t[i][j] = std::min({t[i - 1][j] + 1, t[i][j - 1] + 1, t[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) t[i][j] = std::min(t[i][j], t[i - 2][j - 2] + 1);
    }
  }
  return t[n][m];
}
}  // namespace

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::string suggest(std::string_view word, const std::vector<std::string>& candidates) {
  if (word.empty() || word.size() > 64) return "";
  std::string lw = lower(word);
  for (const auto& c : candidates)
    if (lower(c) == lw) return c;
  size_t limit = word.size() <= 3 ? 1 : word.size() <= 6 ? 2 : 3;
  std::string best;
  size_t bestD = limit + 1;
  for (const auto& c : candidates) {
    if (c.size() > 64) continue;
    size_t dist = editDistance(lw, lower(c));
    if (dist < bestD) {
      bestD = dist;
      best = c;
    }
  }
  return best;
}

std::string didYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string s = suggest(word, candidates);
  return s.empty() ? "" : " (did you mean \"" + s + "\"?)";
}

std::string joinNames(const std::vector<std::string>& names, std::string_view sep) {
  std::string r;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) r += sep;
    r += names[i];
  }
  return r;
}

size_t firstInvalidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += len;
  }
  return std::string_view::npos;
}

bool isDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-'; });
}

bool isTraineeId(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(s.front())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool isIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto start = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  if (!start(s.front())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

std::string childPath(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string indexPath(const std::string& parent, size_t i) { return parent + "[" + std::to_string(i) + "]"; }

std::string lastSegment(const std::string& path) {
  size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

}  // namespace darasa::templates
