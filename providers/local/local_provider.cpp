#include "local/local_provider.h"
namespace darasa::providers::local {
Result<std::unique_ptr<Provider>> makeLocalProvider(const ProviderConfig&) {
  return notSupportedError("the local provider is not written yet");
}
}  // namespace darasa::providers::local
