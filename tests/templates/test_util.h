// Helpers for the templates tests: load YAML text in memory, find a
// diagnostic by message, write scratch files in a per-test temp dir.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "templates/templates.h"

namespace darasa::templates::testing {

inline Bundle load(const std::string& yaml, const std::string& name = "t.yaml", ValidateOptions opts = {}) {
  return loadString(name, yaml, opts);
}

inline std::string dump(const std::vector<Diagnostic>& ds) {
  std::string s;
  for (const auto& d : ds) s += formatDiagnostic(d);
  return s;
}

inline std::vector<Diagnostic> errorsOf(const Bundle& b) {
  std::vector<Diagnostic> out;
  for (const auto& d : b.diagnostics)
    if (d.severity == Severity::kError) out.push_back(d);
  return out;
}

// Asserts that the bundle has exactly one error, with this position and message.
#define EXPECT_ONE_ERROR(bundle, ln, col, msg)                                    \
  do {                                                                           \
    auto errs_ = ::darasa::templates::testing::errorsOf(bundle);                 \
    ASSERT_EQ(errs_.size(), 1u) << ::darasa::templates::testing::dump((bundle).diagnostics); \
    EXPECT_EQ(errs_[0].line, ln) << ::darasa::templates::testing::dump(errs_);   \
    EXPECT_EQ(errs_[0].column, col) << ::darasa::templates::testing::dump(errs_); \
    EXPECT_EQ(errs_[0].message, msg);                                            \
  } while (0)

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("darasa-templates-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string write(const std::string& rel, const std::string& content) const {
    auto p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

inline const char* kTemplateHead = "apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: lab}\n";

}  // namespace darasa::templates::testing
