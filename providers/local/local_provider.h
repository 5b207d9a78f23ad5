#pragma once
#include <memory>
#include "provisioner/provider.h"
namespace darasa::providers::local {
Result<std::unique_ptr<Provider>> makeLocalProvider(const ProviderConfig& config);
}
