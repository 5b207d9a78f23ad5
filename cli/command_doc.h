// The darasa command tree as data, read off the CLI11 app after every
// command is registered: what the man pages (manpage.h) and the shell
// completion scripts (completion.h) are generated from, so that neither can
// drift from the commands' own --help. Hidden commands and options (CLI11
// group "") are left out. Pure data; thread-compatible.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace darasa::cli {

// What a value of an option or positional is, for completion.
enum class ValueKind {
  kNone,     // a flag: takes no value
  kChoice,   // one of `choices` (a CLI::IsMember check)
  kCohort,   // a cohort name of the state (an option or positional named "cohort")
  kFile,     // an existing file (CLI::ExistingFile)
  kDir,      // an existing directory (CLI::ExistingDirectory)
  kAny,      // anything (completed as a file name, the shell's default)
};

struct OptionDoc {
  std::vector<std::string> shortNames;  // "o" for -o
  std::vector<std::string> longNames;   // "output" for --output
  std::string positionalName;           // "cohort" for a positional; "" for an option
  std::string valueName;                // "TEXT", "FILE", ...; "" for a flag
  std::string description;
  std::vector<std::string> choices;     // kChoice
  ValueKind kind = ValueKind::kNone;
  bool required = false;
  bool repeatable = false;              // several values (or several times)
  std::string defaultValue;             // "" = none shown

  bool positional() const { return !positionalName.empty(); }
  // "-o, --output" (the names as typed).
  std::string spelled() const;
};

struct CommandDoc {
  std::vector<std::string> path;  // {} for darasa itself, {"token", "create"}
  std::string description;
  std::string footer;              // its own footer ("" when it only repeats its parent's)
  std::vector<OptionDoc> options;  // its own options, positionals last (help first)
  std::vector<CommandDoc> subcommands;
  bool requiresSubcommand = false;

  // "darasa token create"
  std::string fullName() const;
  // "darasa-token-create": the man page's name
  std::string pageName() const;
  std::string summary() const;  // the description's first line
};

// Reads the tree of `app` (the root) and every visible subcommand.
CommandDoc describeCommands(const CLI::App& app);

}  // namespace darasa::cli
