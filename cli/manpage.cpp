#include "manpage.h"

#include <sstream>

namespace darasa::cli {

namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Option names as roff: "\fB\-o\fR, \fB\-\-output\fR".
std::string roffNames(const OptionDoc& o) {
  std::string out;
  auto add = [&](const std::string& dashes, const std::string& name) {
    if (!out.empty()) out += ", ";
    std::string d;
    for (char c : dashes + name) d += c == '-' ? std::string("\\-") : std::string(1, c);
    out += "\\fB" + d + "\\fR";
  };
  for (const auto& s : o.shortNames) add("-", s);
  for (const auto& l : o.longNames) add("--", l);
  return out;
}

// Help text as roff: a line that ends a sentence or a clause ends the line
// on the page too (.br); other lines were wrapped for the terminal and flow
// on; an indented line stays indented (roff breaks before it); a blank line
// is a paragraph break.
void paragraph(std::ostringstream& out, const std::string& text) {
  std::istringstream in(text);
  std::string line;
  bool breakNext = false;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t") == std::string::npos) {
      out << ".PP\n";
      breakNext = false;
      continue;
    }
    if (breakNext && line[0] != ' ') out << ".br\n";
    out << roffEscape(line) << "\n";
    breakNext = std::string(".:;!?)").find(line.back()) != std::string::npos;
  }
}

std::string synopsisArgs(const CommandDoc& c) {
  std::string out;
  bool anyOption = false;
  for (const auto& o : c.options) anyOption |= !o.positional();
  if (anyOption) out += " [\\fIOPTIONS\\fR]";
  for (const auto& o : c.options) {
    if (!o.positional()) continue;
    std::string arg = "\\fI" + roffEscape(o.positionalName) + "\\fR" + (o.repeatable ? "..." : "");
    out += o.required ? " " + arg : " [" + arg + "]";
  }
  if (!c.subcommands.empty()) out += c.requiresSubcommand ? " \\fICOMMAND\\fR" : " [\\fICOMMAND\\fR]";
  return out;
}

void optionList(std::ostringstream& out, const std::vector<OptionDoc>& options, bool positionals) {
  for (const auto& o : options) {
    if (o.positional() != positionals) continue;
    out << ".TP\n";
    if (o.positional())
      out << "\\fI" << roffEscape(o.positionalName) << "\\fR" << (o.repeatable ? "..." : "") << "\n";
    else
      out << roffNames(o) << (o.valueName.empty() ? "" : " \\fI" + roffEscape(o.valueName) + "\\fR") << "\n";
    std::string text = o.description;
    if (!o.choices.empty()) {
      std::string list;
      for (const auto& c : o.choices) list += (list.empty() ? "" : ", ") + c;
      text += " (one of: " + list + ")";
    }
    if (!o.defaultValue.empty()) text += " (default: " + o.defaultValue + ")";
    if (o.required && !o.positional()) text += " (required)";
    paragraph(out, text);
  }
}

bool hasOptions(const CommandDoc& c, bool positionals) {
  for (const auto& o : c.options)
    if (o.positional() == positionals) return true;
  return false;
}

// A command's synopsis, description, arguments and options; its
// subcommands as sub-sections (heading level `sub`).
void commandBody(std::ostringstream& out, const CommandDoc& c, bool asSection) {
  if (asSection) {
    out << ".SS \"" << roffEscape(c.fullName()) << "\"\n";
    out << "\\fB" << roffEscape(c.fullName()) << "\\fR" << synopsisArgs(c) << "\n.PP\n";
    paragraph(out, c.description);
  }
  if (hasOptions(c, true)) {
    if (asSection) out << ".PP\nArguments:\n"; else out << ".SH ARGUMENTS\n";
    optionList(out, c.options, true);
  }
  if (hasOptions(c, false)) {
    if (asSection) out << ".PP\nOptions:\n"; else out << ".SH OPTIONS\n";
    optionList(out, c.options, false);
  }
  if (!c.footer.empty()) {
    out << ".PP\n";
    paragraph(out, c.footer);
  }
  if (!c.subcommands.empty() && !asSection) out << ".SH COMMANDS\n";
  for (const auto& s : c.subcommands) commandBody(out, s, true);
}

std::string header(const CommandDoc& c, const std::string& version) {
  std::ostringstream out;
  out << ".\\\" Generated from darasa's command line by `darasa __man`; do not edit.\n";
  out << ".TH \"" << upper(c.pageName()) << "\" \"1\" \"\" \"darasa " << roffEscape(version)
      << "\" \"darasa manual\"\n";
  std::string summary = c.summary();
  if (!summary.empty() && summary.back() == '.') summary.pop_back();
  out << ".SH NAME\n" << c.pageName() << " \\- " << roffEscape(summary) << "\n";
  out << ".SH SYNOPSIS\n\\fB" << roffEscape(c.fullName()) << "\\fR" << synopsisArgs(c) << "\n";
  return out.str();
}

}  // namespace

std::string roffEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\e";
    else out += c;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

std::vector<ManPage> manPages(const CommandDoc& root, const std::string& version) {
  std::vector<ManPage> pages;
  std::string exitStatus;
  // The root's footer says the exit codes; every page repeats that section.
  if (auto pos = root.footer.find("Exit status:"); pos != std::string::npos)
    exitStatus = root.footer.substr(pos, root.footer.find('\n', pos) - pos);

  std::ostringstream top;
  top << header(root, version);
  top << ".SH DESCRIPTION\n";
  paragraph(top, root.description.substr(root.description.find('\n') == std::string::npos
                                             ? root.description.size()
                                             : root.description.find('\n') + 1));
  top << ".SH COMMANDS\n";
  for (const auto& s : root.subcommands) {
    std::string summary = s.summary();
    top << ".TP\n\\fB" << roffEscape(s.path.back()) << "\\fR\n" << roffEscape(summary)
        << (!summary.empty() && summary.back() == '.' ? " " : ". ") << "See \\fB" << s.pageName() << "\\fR(1).\n";
  }
  top << ".SH GLOBAL OPTIONS\nThese may come before or after the command.\n";
  optionList(top, root.options, false);
  if (!exitStatus.empty()) top << ".SH EXIT STATUS\n" << roffEscape(exitStatus) << "\n";
  top << ".SH SEE ALSO\n";
  for (size_t i = 0; i < root.subcommands.size(); ++i)
    top << "\\fB" << root.subcommands[i].pageName() << "\\fR(1)" << (i + 1 < root.subcommands.size() ? ",\n" : "\n");
  pages.push_back({root.pageName() + ".1", top.str()});

  for (const auto& c : root.subcommands) {
    std::ostringstream out;
    out << header(c, version);
    out << ".SH DESCRIPTION\n";
    paragraph(out, c.description);
    commandBody(out, c, false);
    out << ".SH GLOBAL OPTIONS\nThe options of \\fBdarasa\\fR(1) (\\fB\\-\\-state\\fR, \\fB\\-\\-server\\fR, ...) "
           "apply too.\n";
    if (!exitStatus.empty()) out << ".SH EXIT STATUS\n" << roffEscape(exitStatus) << "\n";
    out << ".SH SEE ALSO\n\\fBdarasa\\fR(1)\n";
    pages.push_back({c.pageName() + ".1", out.str()});
  }
  return pages;
}

}  // namespace darasa::cli
