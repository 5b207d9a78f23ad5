#include "providers/builtin.h"

#include "docker/docker_provider.h"
#include "exec/exec_provider.h"
#include "libvirt/libvirt_provider.h"
#include "local/local_provider.h"

namespace darasa::providers {

Status registerBuiltinProviders(ProviderRegistry& registry) {
  Status s = registry.add("local", local::makeLocalProvider,
                          "sandboxed processes on this machine (bubblewrap, cgroups)");
  if (!s) return s;
  s = registry.add("docker", docker::makeDockerProvider,
                   "containers through the Docker Engine API (Docker or Podman)");
  if (!s) return s;
  s = registry.add("podman", docker::makePodmanProvider,
                   "the docker provider, on Podman's API socket by default");
  if (!s) return s;
  // Registered whether or not libvirtd runs: usable() says how to start it.
  return registry.add("libvirt", libvirt::makeLibvirtProviderFromConfig,
                      "virtual machines through libvirt (QEMU; KVM when usable, else emulation)");
}

Status registerPluginProviders(ProviderRegistry& registry) {
  return exec::registerPluginProviders(registry, exec::defaultPluginDirs());
}

Status registerPlugin(ProviderRegistry& registry, const std::string& name, const std::string& path) {
  return exec::registerNamedPlugin(registry, name, path);
}

}  // namespace darasa::providers
