// The template's provider asked about the lab it would make
// (ValidateOptions::askProvider): its answer, one message with problems
// separated by "; " that each start with the field they are about
// ("resources.memory 64Gi is more than this machine has (23.5Gi)",
// "resources.cpus: 4 is more than ..."), located at that field of the
// template.
#include <cctype>

#include "internal.h"

namespace darasa::templates {

namespace {

bool anyUnresolved(const Node& n) {
  if (n.unresolved) return true;
  for (const auto& item : n.items)
    if (anyUnresolved(item)) return true;
  for (const auto& e : n.entries)
    if (anyUnresolved(e.value)) return true;
  return false;
}

// The leading field path of a problem: "resources.memory", "ports[0].name".
std::string leadingPath(const std::string& problem) {
  size_t n = 0;
  while (n < problem.size() && (std::isalnum(static_cast<unsigned char>(problem[n])) || problem[n] == '.' ||
                                problem[n] == '_' || problem[n] == '[' || problem[n] == ']'))
    ++n;
  return problem.substr(0, n);
}

// The node at a field path under spec ("ports[0].name"), or null.
const Node* nodeAt(const Node& spec, const std::string& path) {
  const Node* n = &spec;
  size_t at = 0;
  while (n && at < path.size()) {
    size_t end = path.find_first_of(".[", at);
    std::string key = path.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (!key.empty()) n = n->isMap() ? n->get(key) : nullptr;
    at = end == std::string::npos ? path.size() : end;
    while (n && at < path.size() && path[at] == '[') {
      size_t close = path.find(']', at);
      if (close == std::string::npos) return nullptr;
      std::string index = path.substr(at + 1, close - at - 1);
      if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos || !n->isSeq()) return nullptr;
      size_t i = std::stoul(index);
      n = i < n->items.size() ? &n->items[i] : nullptr;
      at = close + 1;
    }
    if (at < path.size() && path[at] == '.') ++at;
  }
  return n == &spec ? nullptr : n;
}

std::vector<std::string> splitProblems(const std::string& message) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= message.size()) {
    size_t sep = message.find("; ", at);
    std::string part = message.substr(at, sep == std::string::npos ? std::string::npos : sep - at);
    if (!part.empty()) out.push_back(part);
    if (sep == std::string::npos) break;
    at = sep + 2;
  }
  return out;
}

}  // namespace

void askProvider(const detail::Catalog& catalog, const Node& spec, const Pos& anchor, const LabSpec& lab, Diags& d) {
  if (!catalog.askProvider || lab.provider.empty() || anyUnresolved(spec)) return;
  Status st = catalog.askProvider(lab);
  if (st) return;
  const Node* providerNode = spec.get("provider");
  const Pos& providerPos = providerNode ? providerNode->pos : anchor;
  if (st.code() != Code::kInvalid) {
    d.note(providerPos, "spec.provider",
           "provider \"" + lab.provider + "\" was not asked whether it can run this lab: " + st.message());
    return;
  }
  for (const std::string& problem : splitProblems(st.message())) {
    std::string path = leadingPath(problem);
    const Node* at = path.empty() ? nullptr : nodeAt(spec, path);
    d.error(at ? at->pos : anchor, at ? childPath("spec", path) : "spec",
            "provider \"" + lab.provider + "\": " + problem + (at ? viaSuffix(*at) : ""));
  }
}

}  // namespace darasa::templates
