// The provider conformance suite's targets: every provider darasa ships (and
// any external plugin named by DARASA_CONFORMANCE_PLUGIN) as a way to make it
// and a lab spec that becomes ready on it. Used by conformance_test.cpp only.
// Not thread-safe (gtest runs one test at a time per process).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "provisioner/provider.h"

namespace darasa::conformance {

struct ConformanceTarget {
  std::string name;  // the gtest parameter name: "local", "docker", "procs", "plugin"
  // Makes the provider keeping its state under dir; calling it again with
  // the same dir is a "restart" of the provider (same state, new instance).
  std::function<Result<std::unique_ptr<Provider>>(const std::string& dir)> make;
  // A lab that becomes ready on this provider, with one port named "web".
  std::function<LabSpec(const std::string& cohort, const std::string& trainee)> spec;
  // Non-empty: the target cannot run here and every test of it FAILS with
  // this message (never a silent skip).
  std::string missing;
};

// local and docker (when built into the test), the example plugin
// examples/plugins/procs, and $DARASA_CONFORMANCE_PLUGIN when set (its lab
// spec: $DARASA_CONFORMANCE_SPEC, a LabSpec JSON file, if set; otherwise no
// image, no command, one port {"name":"web","port":8080,"protocol":"http"}
// and readiness on it).
std::vector<ConformanceTarget> conformanceTargets();

}  // namespace darasa::conformance
