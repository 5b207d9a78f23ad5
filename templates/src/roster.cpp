// Roster CSV (RFC 4180): header id,name,email in any order; quoted fields may
// hold commas, "" and line breaks; CRLF or LF; UTF-8 with an optional BOM.
// One pass over the bytes, so a 10,000-trainee roster takes milliseconds.
#include <unordered_map>

#include "internal.h"

namespace darasa::templates {
namespace {

struct CsvField {
  std::string value;
  size_t offset = 0;  // where the field starts (its opening quote, if quoted)
};
using CsvRow = std::vector<CsvField>;

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Splits into rows; reports quoting errors and stops at the first one (the
// rest of the file cannot be split reliably after a broken quote).
std::vector<CsvRow> splitCsv(const SourcePtr& src, Diags& d) {
  const std::string& c = src->content;
  std::vector<CsvRow> rows;
  CsvRow row;
  size_t i = 0;
  const size_t n = c.size();
  while (i <= n) {
    CsvField f;
    f.offset = i;
    if (i < n && c[i] == '"') {
      size_t open = i++;
      bool closed = false;
      while (i < n) {
        if (c[i] == '"') {
          if (i + 1 < n && c[i + 1] == '"') {
            f.value += '"';
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        f.value += c[i++];
      }
      if (!closed) {
        d.error(posAtOffset(src, open), "", "unclosed quote in roster: this field has no closing \"");
        return rows;
      }
      if (i < n && c[i] != ',' && c[i] != '\n' && c[i] != '\r') {
        d.error(posAtOffset(src, i), "",
                "unexpected character after a closing quote (a quote inside a field is written \"\")");
        return rows;
      }
    } else {
      size_t start = i;
      while (i < n && c[i] != ',' && c[i] != '\n' && c[i] != '\r') ++i;
      f.value.assign(c, start, i - start);
      if (f.value.find('"') != std::string::npos) {
        d.error(posAtOffset(src, start + f.value.find('"')), "",
                "a quote inside an unquoted field (quote the whole field and write \"\" for a quote)");
        return rows;
      }
    }
    row.push_back(std::move(f));
    if (i < n && c[i] == ',') {
      ++i;
      continue;
    }
    // End of the row: \n, \r\n, a lone \r, or the end of the file.
    rows.push_back(std::move(row));
    row.clear();
    if (i >= n) break;
    if (c[i] == '\r' && i + 1 < n && c[i + 1] == '\n') ++i;
    ++i;
    if (i >= n) break;  // an empty trailing line
  }
  return rows;
}

bool blank(const CsvRow& r) { return r.size() == 1 && trim(r[0].value).empty() && r[0].value.find('\n') == std::string::npos; }

}  // namespace

std::vector<Trainee> parseRosterCsv(const SourcePtr& csv, Diags& d) {
  std::vector<Trainee> out;
  const int before = d.errors();
  if (!checkText(csv->content, csv, d)) return out;
  std::vector<CsvRow> rows = splitCsv(csv, d);
  size_t r = 0;
  while (r < rows.size() && blank(rows[r])) ++r;
  if (r == rows.size()) {
    Pos p;
    p.src = csv;
    d.error(p, "", "roster is empty: it needs a header line id,name,email and one line per trainee");
    return out;
  }
  const std::vector<std::string> kColumns = {"id", "name", "email"};
  int col[3] = {-1, -1, -1};
  bool headerOk = true;
  const CsvRow& header = rows[r];
  for (size_t k = 0; k < header.size(); ++k) {
    std::string name = lower(trim(header[k].value));
    auto it = std::find(kColumns.begin(), kColumns.end(), name);
    Pos p = posAtOffset(csv, header[k].offset);
    if (it == kColumns.end()) {
      d.error(p, "", "unknown roster column \"" + trim(header[k].value) + "\"" + didYouMean(name, kColumns) +
                         "; the columns are id, name and email");
      headerOk = false;
      continue;
    }
    int idx = static_cast<int>(it - kColumns.begin());
    if (col[idx] >= 0) {
      d.error(p, "", "duplicate roster column \"" + name + "\"");
      headerOk = false;
      continue;
    }
    col[idx] = static_cast<int>(k);
  }
  for (int k = 0; k < 3; ++k) {
    if (col[k] < 0) {
      d.error(posAtOffset(csv, header[0].offset), "",
              "roster header is missing the \"" + kColumns[k] + "\" column (the header must name id, name and email)");
      headerOk = false;
    }
  }
  if (!headerOk) return out;

  std::unordered_map<std::string, int> seen;  // lower-cased id → line
  seen.reserve(rows.size());
  out.reserve(rows.size());
  for (++r; r < rows.size(); ++r) {
    const CsvRow& row = rows[r];
    if (blank(row)) continue;
    Pos rowPos = posAtOffset(csv, row[0].offset);
    if (row.size() != header.size()) {
      d.error(rowPos, "",
              "this row has " + std::to_string(row.size()) + (row.size() == 1 ? " field" : " fields") +
                  ", the header has " + std::to_string(header.size()));
      continue;
    }
    Trainee t{trim(row[col[0]].value), trim(row[col[1]].value), trim(row[col[2]].value)};
    Pos idPos = posAtOffset(csv, row[col[0]].offset);
    if (!checkTrainee(t, idPos, posAtOffset(csv, row[col[1]].offset), posAtOffset(csv, row[col[2]].offset), "", d))
      continue;
    auto [it, fresh] = seen.emplace(lower(t.id), idPos.line);
    if (!fresh) {
      d.error(idPos, "", "duplicate trainee id \"" + t.id + "\" (first on line " + std::to_string(it->second) + ")");
      continue;
    }
    out.push_back(std::move(t));
  }
  if (out.empty() && d.errors() == before) {
    d.error(posAtOffset(csv, header[0].offset), "", "roster has a header but no trainees");
  }
  return out;
}

std::vector<Trainee> readRosterCsv(const std::string& path, const std::string& display, const ReadLimits& limits,
                                   Diags& d, const Pos& where) {
  auto content = readTextFile(path, display, limits, d, &where, "roster");
  if (!content) return {};
  return parseRosterCsv(makeSource(display, "", std::move(*content)), d);
}

}  // namespace darasa::templates
