// What this darasa binary was built from: its version, the commit, the build
// type and compiler, and the versions of the libraries it was built against.
// Generated at build time (packaging/build_info.cpp.in); immutable.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace darasa::cli {

struct BuildInfo {
  std::string version;    // "0.1.0"
  std::string commit;     // full hash, "" when built outside a git checkout
  bool modified = false;  // built with uncommitted changes
  std::string buildType;  // "RelWithDebInfo", plus "+sanitize" for a sanitizer build
  std::string compiler;   // "GNU 12.2.0"
  std::vector<std::pair<std::string, std::string>> libraries;  // name, version (sorted by name)
};

const BuildInfo& buildInfo();

}  // namespace darasa::cli
