#include "providers/builtin.h"

#include "local/local_provider.h"

namespace darasa::providers {

Status registerBuiltinProviders(ProviderRegistry& registry) {
  return registry.add("local", local::makeLocalProvider,
                      "sandboxed processes on this machine (bubblewrap, cgroups)");
}

}  // namespace darasa::providers
