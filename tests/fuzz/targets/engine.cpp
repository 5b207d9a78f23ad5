// What the docker provider parses from a Docker/Podman Engine API: every
// contract call against a fake engine on a Unix socket that answers each
// request with the next answer of the input (answers separated by lines
// "----"; each "STATUS\nBODY"; after the last, 500). A fresh provider per
// input, so the same input asks the same things. Property: never a crash,
// whatever the engine says. (LXD's REST answers: the same with its
// provider.) DARASA_FUZZ_VERBOSE=1 prints the requests, for writing seeds.
#include <unistd.h>

#include "docker/docker_provider.h"
#include "fakes/fake_provider.h"
#include "fuzz_target.h"
#include "scripted_peer.h"

using namespace darasa;

DARASA_FUZZ_TARGET(engine) {
  static fuzz::ScriptedPeer peer(fuzz::ScriptedPeer::Protocol::kHttp,
                                 "/tmp/darasa-fuzz-engine-" + std::to_string(::getpid()) + ".sock");
  peer.setScript(fuzz::splitAnswers(std::string(reinterpret_cast<const char*>(data), size)));
  ProviderConfig config{"docker", "/nonexistent-darasa-fuzz", {{"host", "unix://" + peer.socketPath()}}};
  auto provider = providers::docker::makeDockerProvider(config);
  if (!provider) return;
  LabSpec spec = fakeLabSpec("fz", "t01");
  spec.provider = "docker";
  spec.image = "localhost/darasa/busybox-lab:1";  // the image the tests build (its answers are in the seeds)
  spec.resources.cpuMillis = 500;
  spec.resources.memoryBytes = 64 << 20;
  spec.credentials.user = "trainee";
  spec.credentials.passwordHash = "$6$salt$hash";
  spec.credentials.authorizedKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFuzz darasa:fz.t01";
  fuzz::exerciseProvider(**provider, spec, std::chrono::milliseconds(100));  // the peer answers at once; waits in retry loops stay short
}
