// Registers every provider built into the darasa binary with a registry.
#pragma once

#include "provisioner/provider.h"

namespace darasa::providers {

// Adds "local" (and later "docker", ...) to the registry. Fails only if a name
// is already taken.
Status registerBuiltinProviders(ProviderRegistry& registry);

}  // namespace darasa::providers
