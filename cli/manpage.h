// Man pages (roff, section 1) generated from the command tree: darasa(1)
// with the global options and the list of commands, and darasa-CMD(1) for
// each command, its subcommands as sections of the same page. The build
// writes them with the hidden `darasa __man DIR` (packaging/). Pure.
#pragma once

#include <string>
#include <vector>

#include "command_doc.h"

namespace darasa::cli {

struct ManPage {
  std::string fileName;  // "darasa-status.1"
  std::string text;      // roff
};

// version goes into each page's header ("darasa 0.1.0").
std::vector<ManPage> manPages(const CommandDoc& root, const std::string& version);

// Text escaped for roff: backslashes, a leading '.' or '\'', and '-' as \-
// (so that options can be searched and copied).
std::string roffEscape(const std::string& text);

}  // namespace darasa::cli
