// Shell completion scripts generated from the command tree (command_doc.h):
// subcommands, options, option values (choices, files, directories) and
// cohort names, which the scripts ask of `darasa __complete cohorts` (with
// the --state/--server given on the line being completed). Pure.
#pragma once

#include <string>

#include "command_doc.h"

namespace darasa::cli {

// For bash (bash-completion's completions/darasa, or `source <(darasa completion bash)`).
std::string bashCompletion(const CommandDoc& root, const std::string& version);
// For zsh (a #compdef file on $fpath: vendor-completions/_darasa).
std::string zshCompletion(const CommandDoc& root, const std::string& version);

}  // namespace darasa::cli
