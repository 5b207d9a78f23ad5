// Where darasa finds its helper executables and its data files, installed
// or in its build tree. The installed layout is what `cmake --install` and
// the Debian package make: <prefix>/bin/darasa, helpers in
// <prefix>/libexec/darasa, data in <prefix>/share/darasa (packaging/). It is
// found relative to the running executable, so any prefix works (/usr, a
// staged DESTDIR). Thread-safe (reads only).
#pragma once

#include <filesystem>
#include <string_view>

namespace darasa::install {

// The directory of the running executable ("" if /proc/self/exe cannot be read).
std::filesystem::path executableDir();

// A helper executable of darasa (e.g. the local provider's darasa-lab): the
// first executable of
//   <executableDir>/<name>                      (next to the binary)
//   <executableDir>/<bin→libexec>/darasa/<name>  (installed: /usr/libexec/darasa)
//   builtAt                                     (the build tree's, "" = none)
// or, when none is executable, the installed path (for the caller's "not
// found" message).
std::filesystem::path helperPath(std::string_view name, const std::filesystem::path& builtAt = {});

// A data directory of darasa by name (e.g. "web", the portal's assets):
//   $DARASA_DATA_DIR/<name>                          when that variable is set
//   <executableDir>/<bin→share>/darasa/<name>        when it exists (installed)
//   <source tree>/<name>                             otherwise (build tree)
std::filesystem::path dataPath(std::string_view name);

}  // namespace darasa::install
