// Registers the providers of the darasa binary with a registry: the built-in
// ones and the out-of-process plugins found on this machine.
#pragma once

#include <string>

#include "provisioner/provider.h"

namespace darasa::providers {

// Adds "local", "docker", "podman" (docker on Podman's socket) and "libvirt" (VMs). Fails only if a name is already taken.
Status registerBuiltinProviders(ProviderRegistry& registry);

// Adds a provider NAME for every executable darasa-provider-NAME in
// $DARASA_HOME/plugins, then in each directory of $PATH (the first found
// wins; names already registered are kept).
Status registerPluginProviders(ProviderRegistry& registry);

// Adds plugin NAME running the executable at `path` (plugins named in the
// daemon's config; register them before registerPluginProviders so that
// they win over a discovered plugin of the same name). kConflict if taken.
Status registerPlugin(ProviderRegistry& registry, const std::string& name, const std::string& path);

}  // namespace darasa::providers
