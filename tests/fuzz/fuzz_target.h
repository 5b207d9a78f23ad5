// How a fuzz target is written once and used twice. A target file says
//
//   DARASA_FUZZ_TARGET(roster) { ... use data, size ...; }
//
// In the libFuzzer build (scripts/fuzz.sh: clang, -DDARASA_FUZZ=ON, one
// executable fuzz_<name> per file) that body is LLVMFuzzerTestOneInput. In
// the normal build it is registered under its name, and
// darasa_fuzz_regression_tests runs every committed input (the seed corpus
// and each crash found, tests/fuzz/corpus/<name>/ and regressions/<name>/)
// through it, so a crash once found stays fixed. Bodies must not keep state
// that changes what a later input does (or say why they do).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace darasa::fuzz {

using TargetFn = void (*)(const uint8_t* data, size_t size);
// Registers fn under name (normal build); returns true so that it can
// initialise a static.
bool registerTarget(const char* name, TargetFn fn);
// The registered target, or nullptr.
TargetFn findTarget(const std::string& name);

// A property the input broke (not a crash of the code under test, but a
// wrong answer): reported like a crash so that libFuzzer keeps the input.
[[noreturn]] inline void broken(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz property broken: %s\n%.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

}  // namespace darasa::fuzz

#define DARASA_FUZZ_CHECK(cond, detail) \
  do {                                  \
    if (!(cond)) ::darasa::fuzz::broken(#cond, (detail)); \
  } while (0)

#ifdef DARASA_LIBFUZZER
#define DARASA_FUZZ_TARGET(name)                                            \
  static void darasaFuzz_##name(const uint8_t* data, size_t size);          \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    darasaFuzz_##name(data, size);                                          \
    return 0;                                                               \
  }                                                                         \
  static void darasaFuzz_##name(const uint8_t* data, size_t size)
#else
#define DARASA_FUZZ_TARGET(name)                                                                       \
  static void darasaFuzz_##name(const uint8_t* data, size_t size);                                    \
  [[maybe_unused]] static const bool darasaFuzzRegistered_##name =                                     \
      ::darasa::fuzz::registerTarget(#name, darasaFuzz_##name);                                        \
  static void darasaFuzz_##name(const uint8_t* data, size_t size)
#endif
