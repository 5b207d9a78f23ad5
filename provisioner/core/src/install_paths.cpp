#include "provisioner/install_paths.h"

#include <unistd.h>

#include <cstdlib>
#include <system_error>

// Set by packaging/CMakeLists.txt from GNUInstallDirs: the paths from the
// binaries' directory to darasa's libexec and data directories, and the
// source tree. The defaults are the layout for prefix /usr.
#ifndef DARASA_BIN_TO_LIBEXEC
#define DARASA_BIN_TO_LIBEXEC "../libexec/darasa"
#endif
#ifndef DARASA_BIN_TO_DATA
#define DARASA_BIN_TO_DATA "../share/darasa"
#endif
#ifndef DARASA_SOURCE_TREE
#define DARASA_SOURCE_TREE ""
#endif

namespace darasa::install {

namespace fs = std::filesystem;

namespace {

bool isExecutableFile(const fs::path& p) {
  std::error_code ec;
  return !p.empty() && fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

}  // namespace

fs::path executableDir() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : self.parent_path();
}

fs::path helperPath(std::string_view name, const fs::path& builtAt) {
  fs::path dir = executableDir();
  fs::path installed = dir.empty() ? fs::path() : (dir / DARASA_BIN_TO_LIBEXEC / name).lexically_normal();
  for (const fs::path& candidate : {dir.empty() ? fs::path() : dir / name, installed, builtAt})
    if (isExecutableFile(candidate)) return candidate;
  return installed.empty() ? builtAt : installed;
}

fs::path dataPath(std::string_view name) {
  if (const char* env = std::getenv("DARASA_DATA_DIR"); env && *env) return fs::path(env) / name;
  if (fs::path dir = executableDir(); !dir.empty()) {
    fs::path installed = (dir / DARASA_BIN_TO_DATA / name).lexically_normal();
    std::error_code ec;
    if (fs::exists(installed, ec)) return installed;
  }
  return fs::path(DARASA_SOURCE_TREE) / name;
}

}  // namespace darasa::install
