#include "local/common/tcp_table.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <sstream>

#include "local/common/sys_util.h"

namespace darasa::providers::local {

namespace {

constexpr const char* kEstablished = "01";  // TCP_ESTABLISHED, as the table prints it

bool parseHex(const std::string& s, unsigned long* out) {
  if (s.empty() || s.size() > 8) return false;
  try {
    size_t used = 0;
    *out = std::stoul(s, &used, 16);
    return used == s.size();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::map<int, int> establishedOnLoopback(const std::string& procNetTcp) {
  std::map<int, int> out;
  // The table prints the address as the 32-bit value it holds in network
  // order, read as a host integer: 127.0.0.1 is 0100007F on little-endian.
  const unsigned long loopback = htonl(INADDR_LOOPBACK);
  std::istringstream in(procNetTcp);
  std::string line;
  while (std::getline(in, line)) {
    // "  12: 0100007F:9C41 0100007F:D2A4 01 ..."
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    if (!(fields >> slot >> local >> remote >> state)) continue;
    if (slot.empty() || slot.back() != ':' || state != kEstablished) continue;
    auto colon = local.find(':');
    if (colon == std::string::npos) continue;
    unsigned long addr = 0, port = 0;
    if (!parseHex(local.substr(0, colon), &addr) || !parseHex(local.substr(colon + 1), &port)) continue;
    if (addr != loopback) continue;
    ++out[static_cast<int>(port)];
  }
  return out;
}

Result<std::map<int, int>> readEstablishedOnLoopback() {
  auto text = readFile("/proc/self/net/tcp");
  if (!text) return text.status();
  return establishedOnLoopback(*text);
}

}  // namespace darasa::providers::local
