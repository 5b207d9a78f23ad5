// What the file commands (validate, render, apply) and serve check beyond
// the files themselves: the names a daemon config may use, and the
// template's provider, asked whether it can ever run a lab of it.
#pragma once

#include <functional>

#include "provisioner/model.h"
#include "provisioner/status.h"
#include "templates/config.h"

namespace darasa::cli {

// The built-in providers and the plugins found on the plugin path (a
// throwaway registry: nothing is made), for checking a darasa.yaml.
templates::ConfigOptions daemonConfigOptions();

// For templates::ValidateOptions::askProvider: the lab's provider asked
// about it (Provider::validate), and whether one such lab fits in the
// provider's capacity at all. kInvalid with the provider's problems;
// kUnavailable when it could not be asked (unknown here, its engine does not
// answer). The providers are made on first use, on a temporary state of
// their own (removed afterwards), so that checking files writes nothing.
// Not thread-safe.
std::function<Status(const LabSpec&)> askProviderOf();

}  // namespace darasa::cli
