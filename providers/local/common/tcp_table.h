// Counting the TCP connections open on a lab's host ports, from the
// kernel's table of this network namespace (/proc/self/net/tcp): the
// listening sockets of local labs live in darasa's own namespace, so every
// connection a trainee has open to a lab shows there as an ESTABLISHED
// socket whose local address is 127.0.0.1:<the lab's port>. Pure parsing
// plus one read; thread-safe.
#pragma once

#include <map>
#include <string>

#include "provisioner/status.h"

namespace darasa::providers::local {

// Per local port: the established connections whose local address is
// 127.0.0.1:<port>, from the text of /proc/net/tcp (for a lab's listening
// port: the connections accepted on it). Lines that do not parse are
// skipped (the header, a truncated last line).
std::map<int, int> establishedOnLoopback(const std::string& procNetTcp);

// The same from this process's network namespace (/proc/self/net/tcp).
// Costs milliseconds on a big host whatever the namespace holds (the
// kernel walks its whole connection hash table, twice per read): callers
// share one answer between labs.
Result<std::map<int, int>> readEstablishedOnLoopback();

}  // namespace darasa::providers::local
