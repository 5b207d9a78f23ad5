#include "output.h"

#include <algorithm>
#include <ostream>

namespace darasa::cli {

bool parseFormat(const std::string& name, Format* out) {
  if (name == "table") *out = Format::kTable;
  else if (name == "json") *out = Format::kJson;
  else if (name == "csv") *out = Format::kCsv;
  else return false;
  return true;
}

void Table::addRow(std::vector<std::string> row) {
  row.resize(columns_.size());
  rows_.push_back(std::move(row));
}

size_t displayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;  // count lead bytes only
  return n;
}

void Table::printText(std::ostream& out) const {
  std::vector<size_t> width(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) width[i] = displayWidth(columns_[i]);
  for (const auto& r : rows_)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], displayWidth(r[i]));
  auto line = [&](const std::vector<std::string>& cells, bool upper) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) {
      std::string cell = cells[i];
      if (upper) std::transform(cell.begin(), cell.end(), cell.begin(), ::toupper);
      s += cell;
      if (i + 1 < cells.size()) s += std::string(width[i] - displayWidth(cells[i]) + 2, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  line(columns_, true);
  for (const auto& r : rows_) line(r, false);
}

std::string csvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

void Table::printCsv(std::ostream& out) const {
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) out << (i ? "," : "") << csvField(cells[i]);
    out << "\n";
  };
  line(columns_);
  for (const auto& r : rows_) line(r);
}

nlohmann::json Table::toJson() const {
  auto arr = nlohmann::json::array();
  for (const auto& r : rows_) {
    nlohmann::json o = nlohmann::json::object();
    for (size_t i = 0; i < columns_.size(); ++i) o[columns_[i]] = r[i];
    arr.push_back(std::move(o));
  }
  return arr;
}

}  // namespace darasa::cli
