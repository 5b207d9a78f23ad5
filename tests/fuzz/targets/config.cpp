// The daemon's config (darasa.yaml) through parseDaemonConfig, and a
// valid one diffed against itself as a SIGHUP reload does. Properties: never
// a crash; a config differs from itself in nothing.
#include "fuzz_target.h"
#include "templates/config.h"

namespace t = darasa::templates;

DARASA_FUZZ_TARGET(config) {
  auto load = t::parseDaemonConfig("/nonexistent-darasa-fuzz/darasa.yaml",
                                   std::string(reinterpret_cast<const char*>(data), size));
  if (!load.ok()) return;
  auto changes = t::diffDaemonConfig(*load.config, *load.config);
  DARASA_FUZZ_CHECK(changes.live.empty() && changes.needRestart.empty(),
                    changes.live.empty() ? changes.needRestart.front() : changes.live.front());
}
