// Pure helpers of the docker provider, kept apart so they are tested without
// an engine: resource names, option parsing (ulimits, subnet pool), subnet
// picking, the multiplexed exec/log stream, engine error mapping, container
// state mapping and /proc/net/tcp parsing. Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "provisioner/model.h"
#include "provisioner/status.h"

namespace darasa::providers::docker {

// Engine object names: "darasa-" + the lab id with characters Docker does not
// allow replaced by '-'; when anything was replaced (or the name would be too
// long) a short hash of the original keeps two lab ids from colliding.
std::string safeName(const std::string& prefix, const std::string& id);
std::string containerName(const std::string& labId);        // darasa-<lab>
std::string labNetworkName(const std::string& labId);       // darasa-<lab>
std::string cohortNetworkName(const std::string& cohort);   // darasa-cohort-<cohort>
// A valid hostname (RFC 1123 label, <= 63 chars) for the lab.
std::string hostName(const std::string& labId);

struct Ulimit {
  std::string name;
  int64_t soft = 0;
  int64_t hard = 0;
};
// "nofile=1024:1024,nproc=512" (soft[:hard]; hard defaults to soft).
Result<std::vector<Ulimit>> parseUlimits(const std::string& text);

// An IPv4 CIDR as numbers.
struct Cidr {
  uint32_t base = 0;  // host byte order, masked
  int prefix = 0;
  std::string toString() const;
  bool overlaps(const Cidr& other) const;
};
std::optional<Cidr> parseCidr(const std::string& text);
// The first /24 of `pool` (pool prefix <= 24) that overlaps none of `used`
// and is not in `skip`; the pool's first /24 is never handed out (Podman's
// own automatic networks start there).
std::optional<Cidr> pickSubnet(const Cidr& pool, const std::vector<Cidr>& used,
                               const std::vector<Cidr>& skip = {});

// The payload of Docker's multiplexed stream (8-byte frame headers, used for
// exec and logs when Tty is false), stdout and stderr interleaved in order.
// Input that does not look multiplexed (a TTY stream) is returned as is.
std::string demuxStream(std::string_view raw);

// Maps an engine error answer to a Status. `body` is the engine's JSON
// ({"message": ...}); `what` names the call ("create container darasa-x").
// 400 invalid, 401/403 denied, 404 not-found, 409 conflict, 5xx unavailable —
// except Podman's 500s that are really conflicts ("already in use"), missing
// things ("no such ...") or a command that cannot run (terminal: invalid).
Status engineError(long httpStatus, const std::string& body, const std::string& what);
// The "message" of an engine error body, or the body itself (shortened).
std::string engineMessage(const std::string& body);

// Docker's State.Status ("running", "exited", ...), exit code and OOM flag →
// ours. Exit codes of the signals a stop sends (143, 137, 130) count as
// stopped, not failed: the engine keeps no "stopped on purpose" flag.
ObservedState mapContainerState(const std::string& status, int exitCode, bool oomKilled = false);

// Whether /proc/net/tcp or tcp6 text lists a socket listening on `port`.
bool procNetTcpListens(const std::string& text, int port);

// Seconds since the epoch of an RFC 3339 time ("2026-01-12T09:00:00.123Z",
// "...+03:00"); nullopt if it does not parse.
std::optional<int64_t> parseRfc3339(const std::string& text);
// Standard base64 (padding optional); nullopt on a character outside it.
std::optional<std::string> decodeBase64(std::string_view text);

// "ssh:22:tcp,web:8080:http" ⇄ ports: the darasa.ports label that lets
// inspect() and list() name a lab's endpoints.
std::string encodePorts(const std::vector<PortSpec>& ports);
std::vector<PortSpec> decodePorts(const std::string& label);

}  // namespace darasa::providers::docker
