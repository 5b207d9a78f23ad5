// What the exec provider parses from a plugin (protocol darasa-provider/1,
// JSON lines): every contract call against a plugin that is a relay
// (darasa-fuzz-relay) to this process, which answers each request with the
// next line of the input ("@ID@" in a line becomes the request's id; after
// the last line, an "unavailable" error). A fresh plugin process and
// handshake per input: the first line answers the handshake. Property:
// never a crash, whatever the plugin says.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "exec/exec_provider.h"
#include "fakes/fake_provider.h"
#include "fuzz_target.h"
#include "scripted_peer.h"

using namespace darasa;

namespace {
// Waits until no relay child of this process is alive (it exits when the
// peer hangs up; exited and not yet reaped counts as gone).
void relaysGone() {
  const std::string self = std::to_string(::getpid());
  for (int i = 0; i < 2000; ++i) {
    bool alive = false;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      std::ifstream in(e.path() / "stat");
      std::string pid, comm, state, ppid;
      if (!(in >> pid >> comm >> state >> ppid)) continue;
      if (ppid == self && comm == "(darasa-fuzz-re)" && state != "Z") alive = true;
    }
    if (!alive) return;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}
}  // namespace

DARASA_FUZZ_TARGET(plugin) {
  static fuzz::ScriptedPeer peer(fuzz::ScriptedPeer::Protocol::kLines,
                                 "/tmp/darasa-fuzz-plugin-" + std::to_string(::getpid()) + ".sock");
  std::vector<std::string> lines;
  std::string input(reinterpret_cast<const char*>(data), size);
  for (size_t start = 0; start <= input.size();) {
    size_t nl = input.find('\n', start);
    if (nl == std::string::npos) nl = input.size();
    lines.push_back(input.substr(start, nl - start));
    start = nl + 1;
  }
  peer.setScript(std::move(lines));
  static std::unique_ptr<Provider> provider = [] {
    ProviderConfig config{"fz",
                          "/nonexistent-darasa-fuzz",
                          {{"path", DARASA_FUZZ_RELAY}, {"args", peer.socketPath()}, {"handshakeTimeout", "100"}}};
    return providers::exec::makeExecProvider(config).value();
  }();
  LabSpec spec = fakeLabSpec("fz", "t01");
  spec.provider = "fz";
  fuzz::exerciseProvider(*provider, spec, std::chrono::milliseconds(100));  // the peer answers at once; waits in retry loops stay short
  // The plugin "dies" between inputs, so that the next one starts with a
  // fresh plugin process and its handshake (a new provider per input would
  // cost its reaper's 50 ms tick at destruction).
  peer.hangUp();
  relaysGone();
}
