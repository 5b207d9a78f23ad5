// Output of tabular results in the formats every listing command offers:
// an aligned table for people, CSV and JSON for scripts. Not thread-safe.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace darasa::cli {

enum class Format { kTable, kJson, kCsv };
// "table" | "json" | "csv" → Format; false for anything else.
bool parseFormat(const std::string& name, Format* out);

class Table {
 public:
  explicit Table(std::vector<std::string> columns) : columns_(std::move(columns)) {}
  void addRow(std::vector<std::string> row);
  bool empty() const { return rows_.empty(); }
  // Aligned columns with a header line; cells never wrap.
  void printText(std::ostream& out) const;
  // RFC 4180: quoted where needed, CRLF-free (LF line ends).
  void printCsv(std::ostream& out) const;
  // An array of objects keyed by column name.
  nlohmann::json toJson() const;

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Width of s in terminal columns (UTF-8 aware, one column per code point).
size_t displayWidth(const std::string& s);
std::string csvField(const std::string& s);

}  // namespace darasa::cli
