// Reading maps and typed scalars out of Nodes, reporting every problem at the
// node that has it.
#include "internal.h"
#include "templates/units.h"

namespace darasa::templates {

Fields::Fields(const Node& map, std::string path, Diags& d, std::vector<std::string> known)
    : map_(map), path_(std::move(path)), d_(d) {
  for (const auto& e : map.entries) {
    if (std::find(known.begin(), known.end(), e.key) != known.end()) continue;
    std::string where = path_.empty() ? "" : " in " + path_;
    d_.error(e.keyPos, childPath(path_, e.key), "unknown field \"" + e.key + "\"" + where + didYouMean(e.key, known));
  }
}

const MapEntry* Fields::entry(std::string_view key) const { return map_.entry(key); }

const Node* Fields::get(std::string_view key) const {
  const Node* n = map_.get(key);
  return n && !n->isNull() ? n : nullptr;
}

const Node* Fields::require(std::string_view key, const Pos& anchor) const {
  const MapEntry* e = map_.entry(key);
  if (e && !e->value.isNull()) return &e->value;
  std::string where = path_.empty() ? "" : " in " + path_;
  if (e)
    d_.error(e->keyPos, childPath(path_, key), "\"" + std::string(key) + "\" is empty: it needs a value");
  else
    d_.error(anchor, childPath(path_, key), "missing required field \"" + std::string(key) + "\"" + where);
  return nullptr;
}

namespace {
std::string label(const std::string& path) { return lastSegment(path); }
}  // namespace

bool expectMap(const Node& n, const std::string& path, Diags& d) {
  if (n.isMap()) return true;
  d.error(n.pos, path, label(path) + " must be a map, got " + describe(n));
  return false;
}

bool expectSeq(const Node& n, const std::string& path, Diags& d) {
  if (n.isSeq()) return true;
  d.error(n.pos, path, label(path) + " must be a list, got " + describe(n));
  return false;
}

bool expectScalar(const Node& n, const std::string& path, Diags& d) {
  if (n.isScalar()) return true;
  d.error(n.pos, path, label(path) + " must be a single value, got " + describe(n));
  return false;
}

std::string viaSuffix(const Node& n) { return n.via.empty() ? "" : " (" + n.via + ")"; }

std::optional<std::string> getString(const Node* n, const std::string& path, Diags& d) {
  if (!n) return std::nullopt;
  if (!expectScalar(*n, path, d)) return std::nullopt;
  return n->text;
}

std::optional<int64_t> getInt(const Node* n, const std::string& path, Diags& d, int64_t min, int64_t max) {
  if (!n || !expectScalar(*n, path, d) || n->unresolved) return std::nullopt;
  auto v = parseInteger(n->text);
  if (!v) {
    d.error(n->pos, path, label(path) + " must be a whole number, got " + describe(*n) + viaSuffix(*n));
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    d.error(n->pos, path,
            label(path) + " must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                n->text + viaSuffix(*n));
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> getSizeField(const Node* n, const std::string& path, Diags& d) {
  if (!n || !expectScalar(*n, path, d) || n->unresolved) return std::nullopt;
  auto v = parseSize(n->text);
  if (!v) {
    d.error(n->pos, path, label(path) + " \"" + n->text + "\" is not a size (use e.g. 2Gi)" + viaSuffix(*n));
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> getCpusField(const Node* n, const std::string& path, Diags& d) {
  if (!n || !expectScalar(*n, path, d) || n->unresolved) return std::nullopt;
  auto v = parseCpus(n->text);
  if (!v) {
    d.error(n->pos, path,
            label(path) + " \"" + n->text + "\" is not a CPU count (use e.g. 1, 0.5 or 500m)" + viaSuffix(*n));
    return std::nullopt;
  }
  return v;
}

std::optional<std::chrono::seconds> getDurationField(const Node* n, const std::string& path, Diags& d) {
  if (!n || !expectScalar(*n, path, d) || n->unresolved) return std::nullopt;
  auto v = parseDuration(n->text);
  if (!v) {
    d.error(n->pos, path,
            label(path) + " \"" + n->text + "\" is not a duration (use e.g. 90s, 15m, 1h30m or 2d)" + viaSuffix(*n));
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> getEnumField(const Node* n, const std::string& path, Diags& d,
                                        const std::vector<std::string>& values) {
  if (!n || !expectScalar(*n, path, d) || n->unresolved) return std::nullopt;
  if (std::find(values.begin(), values.end(), n->text) != values.end()) return n->text;
  d.error(n->pos, path,
          label(path) + " \"" + n->text + "\" is not one of " + joinNames(values) + didYouMean(n->text, values) +
              viaSuffix(*n));
  return std::nullopt;
}

std::optional<std::map<std::string, std::string>> getStringMap(const Node* n, const std::string& path,
                                                              Diags& d) {
  if (!n || !expectMap(*n, path, d)) return std::nullopt;
  std::map<std::string, std::string> out;
  bool ok = true;
  for (const auto& e : n->entries) {
    std::string p = childPath(path, e.key);
    if (e.value.isNull()) {
      out[e.key] = "";
      continue;
    }
    if (!e.value.isScalar()) {
      d.error(e.value.pos, p, "the value of \"" + e.key + "\" must be a string, got " + describe(e.value));
      ok = false;
      continue;
    }
    out[e.key] = e.value.text;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::vector<std::string>> getStringList(const Node* n, const std::string& path, Diags& d) {
  if (!n || !expectSeq(*n, path, d)) return std::nullopt;
  std::vector<std::string> out;
  bool ok = true;
  for (size_t i = 0; i < n->items.size(); ++i) {
    const Node& it = n->items[i];
    if (!it.isScalar()) {
      d.error(it.pos, indexPath(path, i), label(path) + "[" + std::to_string(i) + "] must be a string, got " + describe(it));
      ok = false;
      continue;
    }
    out.push_back(it.text);
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace darasa::templates
