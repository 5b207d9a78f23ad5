// The provider conformance suite's targets: a way to make a provider and a
// lab spec that becomes ready on it. The suite (conformance_test.cpp) is
// linked into darasa_providers_tests and into darasa-conformance. Not
// thread-safe (gtest runs one test at a time per process).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "provisioner/provider.h"

namespace darasa::conformance {

struct ConformanceTarget {
  // The provider's name (what info() must say); also the gtest parameter
  // name, with characters other than letters and digits turned into '_'.
  std::string name;
  // Makes the provider keeping its state under dir; calling it again with
  // the same dir is a "restart" of the provider (same state, new instance).
  std::function<Result<std::unique_ptr<Provider>>(const std::string& dir)> make;
  // A lab that becomes ready on this provider, with one port named "web".
  std::function<LabSpec(const std::string& cohort, const std::string& trainee)> spec;
  // Non-empty: the target cannot run here and every test of it FAILS with
  // this message (never a silent skip).
  std::string missing;
};

// The suite's default lab spec: no image, no command, one port
// {"name":"web","port":8080,"protocol":"http"} with readiness on it, 64 MiB,
// 64 pids, the darasa.* labels; labId = cohort.trainee.
LabSpec conformanceBaseSpec(const std::string& provider, const std::string& cohort, const std::string& trainee);

// The exec provider running the plugin executable at path as provider
// `name`. specFile: a LabSpec in JSON that the plugin's labs need (an image,
// a command...); the suite still sets labId, cohort, trainee, provider and
// the darasa.* labels. "" = conformanceBaseSpec. options go to the plugin in
// the handshake's config. An unusable path or spec file makes the target
// `missing`, so that every test fails saying why.
ConformanceTarget pluginTarget(const std::string& name, const std::string& path, const std::string& specFile = "",
                               const std::map<std::string, std::string>& options = {});

// Every provider compiled into this test executable (local, docker, libvirt:
// DARASA_CONFORMANCE_LOCAL/_DOCKER/_LIBVIRT), the example plugin
// examples/plugins/procs, and $DARASA_CONFORMANCE_PLUGIN when set, as target
// "plugin" (its lab spec: $DARASA_CONFORMANCE_SPEC, see pluginTarget).
std::vector<ConformanceTarget> conformanceTargets();

// Runs the suite on `targets` instead of conformanceTargets(). Call before
// ::testing::InitGoogleTest (that is when gtest makes the parameterised
// tests); darasa-conformance does.
void setSuiteTargets(std::vector<ConformanceTarget> targets);

// The rule of the provider contract a test of the suite checks, in one
// sentence naming the part of docs/plugin-protocol.md it is in ("" for a
// name that is not a test of the suite). testName: "CreateIsIdempotent...".
std::string contractRule(const std::string& testName);

}  // namespace darasa::conformance
