// Counting the TCP connections open on a lab's host ports, from the
// kernel's table of this network namespace (/proc/self/net/tcp): the
// listening sockets of local labs live in darasa's own namespace, so every
// connection a trainee has open to a lab shows there as an ESTABLISHED
// socket whose local address is 127.0.0.1:<the lab's port>. Pure parsing
// plus one read; thread-safe.
#pragma once

#include <map>
#include <set>
#include <string>

#include "provisioner/status.h"

namespace darasa::providers::local {

// Per local port in `ports`: the established connections accepted on
// 127.0.0.1:<port>, from the text of /proc/net/tcp. Ports without any are
// absent. Lines that do not parse are skipped (the header, a truncated
// last line).
std::map<int, int> establishedOnLoopbackPorts(const std::string& procNetTcp, const std::set<int>& ports);

// The same from this process's network namespace (/proc/self/net/tcp).
Result<std::map<int, int>> establishedOnLoopbackPorts(const std::set<int>& ports);

}  // namespace darasa::providers::local
