#include "command_doc.h"

#include <CLI/CLI.hpp>

namespace darasa::cli {

namespace {

// CLI11 writes an option's checks after its type: "TEXT:{table,json,csv}",
// "TEXT:FILE". Splits that into the type and the checks.
std::vector<std::string> splitTypeName(const std::string& s) {
  std::vector<std::string> parts;
  std::string cur;
  int depth = 0;
  for (char c : s) {
    if (c == '{' || c == '[' || c == '(') ++depth;
    if (c == '}' || c == ']' || c == ')') --depth;
    if (c == ':' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

std::vector<std::string> parseChoices(const std::string& check) {
  std::vector<std::string> out;
  if (check.size() < 2 || check.front() != '{' || check.back() != '}') return out;
  std::string cur;
  for (char c : check.substr(1, check.size() - 2)) {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

OptionDoc describeOption(const CLI::Option& o) {
  OptionDoc d;
  d.shortNames = o.get_snames();
  d.longNames = o.get_lnames();
  if (o.get_positional() && !o.nonpositional()) d.positionalName = o.get_name(true);
  d.description = o.get_description();
  d.required = o.get_required();
  d.repeatable = o.get_expected_max() > 1 || o.get_items_expected_max() > 1;
  d.defaultValue = o.get_default_str();
  bool takesValue = o.get_items_expected_max() > 0;  // flags expect 0 values
  if (!takesValue) return d;
  auto parts = splitTypeName(o.get_type_name());
  d.valueName = parts.empty() || parts[0].empty() ? "VALUE" : parts[0];
  d.kind = ValueKind::kAny;
  for (size_t i = 1; i < parts.size(); ++i) {
    if (auto choices = parseChoices(parts[i]); !choices.empty()) {
      d.choices = choices;
      d.kind = ValueKind::kChoice;
    } else if (parts[i] == "FILE") {
      d.kind = ValueKind::kFile;
      d.valueName = "FILE";
    } else if (parts[i] == "DIR") {
      d.kind = ValueKind::kDir;
      d.valueName = "DIR";
    }
  }
  bool namedCohort = d.positionalName == "cohort" ||
                     (d.longNames.size() == 1 && d.longNames[0] == "cohort");
  if (namedCohort && d.kind == ValueKind::kAny) {
    d.kind = ValueKind::kCohort;
    d.valueName = "COHORT";
  }
  return d;
}

CommandDoc describe(const CLI::App& app, std::vector<std::string> path, const std::string& parentFooter) {
  CommandDoc d;
  d.path = std::move(path);
  d.description = app.get_description();
  std::string footer = app.get_footer();
  d.footer = footer == parentFooter ? "" : footer;
  d.requiresSubcommand = app.get_require_subcommand_min() > 0;
  std::vector<OptionDoc> positionals;
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_group().empty()) continue;  // hidden
    OptionDoc od = describeOption(*o);
    (od.positional() ? positionals : d.options).push_back(std::move(od));
  }
  d.options.insert(d.options.end(), positionals.begin(), positionals.end());
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); })) {
    auto childPath = d.path;
    childPath.push_back(sub->get_name());
    d.subcommands.push_back(describe(*sub, std::move(childPath), footer));
  }
  return d;
}

}  // namespace

std::string OptionDoc::spelled() const {
  if (positional()) return positionalName;
  std::string out;
  for (const auto& s : shortNames) out += (out.empty() ? "-" : ", -") + s;
  for (const auto& l : longNames) out += (out.empty() ? "--" : ", --") + l;
  return out;
}

std::string CommandDoc::fullName() const {
  std::string out = "darasa";
  for (const auto& p : path) out += " " + p;
  return out;
}

std::string CommandDoc::pageName() const {
  std::string out = "darasa";
  for (const auto& p : path) out += "-" + p;
  return out;
}

std::string CommandDoc::summary() const { return description.substr(0, description.find('\n')); }

CommandDoc describeCommands(const CLI::App& app) { return describe(app, {}, ""); }

}  // namespace darasa::cli
