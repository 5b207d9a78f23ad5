#include "file_checks.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>

#include "providers/builtin.h"
#include "provisioner/provider.h"
#include "provisioner/units.h"

namespace darasa::cli {

templates::ConfigOptions daemonConfigOptions() {
  templates::ConfigOptions o;
  ProviderRegistry builtins;
  (void)providers::registerBuiltinProviders(builtins);
  o.builtinProviders = builtins.names();
  ProviderRegistry all;
  (void)providers::registerBuiltinProviders(all);
  (void)providers::registerPluginProviders(all);
  for (const auto& n : all.names())
    if (!builtins.has(n)) o.discoveredPlugins.push_back(n);
  return o;
}

namespace {

// Providers made for the questions only, on a state of their own (a
// provider may set up its directories when it is made: checking files must
// not write the real state), removed with the last copy of the question.
struct ThrowawayProviders {
  std::string dir;
  ProviderRegistry registry;
  ThrowawayProviders() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "darasa-validate-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) dir = tmpl;
    registry.setStateDir(dir);
    (void)providers::registerBuiltinProviders(registry);
    (void)providers::registerPluginProviders(registry);
  }
  ~ThrowawayProviders() {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
  ThrowawayProviders(const ThrowawayProviders&) = delete;
  ThrowawayProviders& operator=(const ThrowawayProviders&) = delete;
};

}  // namespace

std::function<Status(const LabSpec&)> askProviderOf() {
  // Shared by the copies of the function (the catalog keeps one).
  auto holder = std::make_shared<std::unique_ptr<ThrowawayProviders>>();
  return [holder](const LabSpec& spec) -> Status {
    if (!*holder) *holder = std::make_unique<ThrowawayProviders>();
    ThrowawayProviders* made = holder->get();
    if (made->dir.empty()) return unavailableError("no temporary directory to make it in");
    auto provider = made->registry.get(spec.provider);
    if (!provider) return unavailableError(provider.status().message());
    if (Status v = provider.value()->validate(spec); !v)
      return v.code() == Code::kInvalid ? v : unavailableError(v.message());
    // One lab larger than everything the provider may run can never start.
    auto cap = provider.value()->capacity();
    if (!cap) return Status::ok();
    std::string problems;
    auto add = [&](const std::string& p) { problems += (problems.empty() ? "" : "; ") + p; };
    if (cap->memoryBytes > 0 && spec.resources.memoryBytes > cap->memoryBytes)
      add("resources.memory " + formatSize(spec.resources.memoryBytes) + " is more than the provider can ever give (" +
          formatSize(cap->memoryBytes) + " in all; " + cap->source + ")");
    if (cap->cpuMillis > 0 && spec.resources.cpuMillis > cap->cpuMillis)
      add("resources.cpus " + formatCpus(spec.resources.cpuMillis) + " is more than the provider can ever give (" +
          formatCpus(cap->cpuMillis) + " in all; " + cap->source + ")");
    return problems.empty() ? Status::ok() : invalidError(problems);
  };
}

}  // namespace darasa::cli
