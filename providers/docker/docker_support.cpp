#include "docker/docker_support.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <sstream>

namespace darasa::providers::docker {

namespace {

uint32_t fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string hex8(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::optional<int64_t> toInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string safeName(const std::string& prefix, const std::string& id) {
  constexpr size_t kMaxId = 100;  // names stay well under every engine's limit
  std::string out;
  bool changed = false;
  for (char c : id) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    out += ok ? c : '-';
    changed |= !ok;
  }
  if (out.size() > kMaxId) {
    out.resize(kMaxId);
    changed = true;
  }
  if (changed || out.empty()) out += "-" + hex8(fnv1a(id));
  return prefix + out;
}

std::string containerName(const std::string& labId) { return safeName("darasa-", labId); }
std::string labNetworkName(const std::string& labId) { return safeName("darasa-", labId); }
std::string cohortNetworkName(const std::string& cohort) { return safeName("darasa-cohort-", cohort); }

std::string hostName(const std::string& labId) {
  std::string out;
  for (char c : labId) {
    unsigned char u = static_cast<unsigned char>(c);
    out += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '-';
  }
  while (!out.empty() && out.front() == '-') out.erase(out.begin());
  if (out.size() > 63) out.resize(63);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "lab" : out;
}

Result<std::vector<Ulimit>> parseUlimits(const std::string& text) {
  std::vector<Ulimit> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      return invalidError("ulimits: \"" + item + "\" is not NAME=SOFT[:HARD] (e.g. nofile=1024:1024)");
    Ulimit u;
    u.name = item.substr(0, eq);
    for (char c : u.name)
      if (!std::islower(static_cast<unsigned char>(c)))
        return invalidError("ulimits: \"" + u.name + "\" is not a limit name (e.g. nofile, nproc)");
    std::string values = item.substr(eq + 1);
    auto colon = values.find(':');
    auto soft = toInt(values.substr(0, colon));
    auto hard = colon == std::string::npos ? soft : toInt(values.substr(colon + 1));
    if (!soft || !hard || *soft < 0 || *hard < 0)
      return invalidError("ulimits: \"" + item + "\" needs non-negative numbers (e.g. nofile=1024:1024)");
    if (*soft > *hard) return invalidError("ulimits: \"" + item + "\": the soft limit exceeds the hard one");
    u.soft = *soft;
    u.hard = *hard;
    out.push_back(u);
  }
  return out;
}

std::string Cidr::toString() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u/%d", base >> 24, (base >> 16) & 255, (base >> 8) & 255, base & 255,
                prefix);
  return buf;
}

bool Cidr::overlaps(const Cidr& o) const {
  int p = std::min(prefix, o.prefix);
  uint32_t mask = p == 0 ? 0 : ~uint32_t(0) << (32 - p);
  return (base & mask) == (o.base & mask);
}

std::optional<Cidr> parseCidr(const std::string& text) {
  unsigned a, b, c, d;
  int prefix;
  char tail;
  if (std::sscanf(text.c_str(), "%u.%u.%u.%u/%d%c", &a, &b, &c, &d, &prefix, &tail) != 5) return std::nullopt;
  if (a > 255 || b > 255 || c > 255 || d > 255 || prefix < 0 || prefix > 32) return std::nullopt;
  Cidr cidr;
  cidr.prefix = prefix;
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t(0) << (32 - prefix);
  cidr.base = ((a << 24) | (b << 16) | (c << 8) | d) & mask;
  return cidr;
}

std::optional<Cidr> pickSubnet(const Cidr& pool, const std::vector<Cidr>& used, const std::vector<Cidr>& skip) {
  if (pool.prefix > 24) return std::nullopt;
  uint32_t count = uint32_t(1) << (24 - pool.prefix);
  for (uint32_t i = 1; i < count; ++i) {
    Cidr candidate{pool.base + (i << 8), 24};
    bool taken = false;
    for (const auto& u : used) taken = taken || candidate.overlaps(u);
    for (const auto& s : skip) taken = taken || candidate.overlaps(s);
    if (!taken) return candidate;
  }
  return std::nullopt;
}

std::string demuxStream(std::string_view raw) {
  auto looksFramed = [&](size_t at) {
    return raw.size() - at >= 8 && static_cast<unsigned char>(raw[at]) <= 2 && raw[at + 1] == 0 &&
           raw[at + 2] == 0 && raw[at + 3] == 0;
  };
  if (raw.empty() || !looksFramed(0)) return std::string(raw);
  std::string out;
  size_t at = 0;
  while (at < raw.size()) {
    if (!looksFramed(at)) {  // a broken frame: keep what is left rather than lose it
      out.append(raw.substr(at));
      break;
    }
    auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(raw[at + i])); };
    uint32_t len = (byte(4) << 24) | (byte(5) << 16) | (byte(6) << 8) | byte(7);
    at += 8;
    size_t take = std::min<size_t>(len, raw.size() - at);  // a frame cut by truncation
    out.append(raw.substr(at, take));
    at += take;
  }
  return out;
}

std::string engineMessage(const std::string& body) {
  try {
    auto j = nlohmann::json::parse(body);
    if (j.is_object() && j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
  } catch (const nlohmann::json::exception&) {
  }
  std::string s = body.substr(0, 300);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s.empty() ? "(no message)" : s;
}

Status engineError(long httpStatus, const std::string& body, const std::string& what) {
  std::string msg = engineMessage(body);
  std::string text = what + ": " + msg + " (HTTP " + std::to_string(httpStatus) + ")";
  switch (httpStatus) {
    case 400: return invalidError(text);
    case 401:
    case 403: return deniedError(text);
    case 404: return notFoundError(text);
    case 409: return conflictError(text);
    default: break;
  }
  if (httpStatus >= 500) {
    // Podman answers 500 where Docker gives a precise code.
    if (contains(msg, "already in use") || contains(msg, "already exists")) return conflictError(text);
    if (contains(msg, "no such container") || contains(msg, "image not known") || contains(msg, "No such image") ||
        contains(msg, "network not found") || contains(msg, "unable to find network"))
      return notFoundError(text);
    if (contains(msg, "command that was not found") || contains(msg, "executable file not found") ||
        contains(msg, "permission denied: OCI") || contains(msg, "not a directory: OCI"))
      return invalidError(text + " — check the template's command and image");
    if (contains(msg, "error setting rlimit"))
      return invalidError(text + " — the provider's ulimits ask for more than this host allows (on Podman, "
                                 "list both nofile and nproc, at or below the engine's hard limits)");
    return unavailableError(text);
  }
  return internalError(what + ": unexpected answer from the engine: " + msg + " (HTTP " +
                       std::to_string(httpStatus) + ")");
}

ObservedState mapContainerState(const std::string& status, int exitCode, bool oomKilled) {
  if (status == "running") return ObservedState::kRunning;
  if (status == "created" || status == "paused" || status == "configured") return ObservedState::kStopped;
  if (status == "exited" || status == "stopped") {  // Podman says "stopped" until its cleanup ran
    // 0, or ended by a signal a stop sends (SIGTERM, then SIGKILL; SIGINT):
    // stopped. Anything else, or the OOM killer: the lab failed.
    bool stopSignal = exitCode == 128 + 15 || exitCode == 128 + 9 || exitCode == 128 + 2;
    return !oomKilled && (exitCode == 0 || stopSignal) ? ObservedState::kStopped : ObservedState::kFailed;
  }
  if (status == "restarting") return ObservedState::kCreating;
  if (status == "dead") return ObservedState::kFailed;
  return ObservedState::kUnknown;  // "removing" and whatever a future engine says
}

bool procNetTcpListens(const std::string& text, int port) {
  // "  sl  local_address rem_address   st ..." then "   0: 00000000:0016 00000000:0000 0A ..."
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string sl, local, remote, st;
    if (!(fields >> sl >> local >> remote >> st)) continue;
    auto colon = local.rfind(':');
    if (colon == std::string::npos || st != "0A") continue;  // 0A: LISTEN
    unsigned long p = 0;
    auto portHex = local.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(portHex.data(), portHex.data() + portHex.size(), p, 16);
    if (ec == std::errc() && ptr == portHex.data() + portHex.size() && static_cast<int>(p) == port) return true;
  }
  return false;
}

std::optional<int64_t> parseRfc3339(const std::string& text) {
  int y, mo, d, h, mi, sec;
  int used = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6)
    return std::nullopt;
  size_t at = static_cast<size_t>(used);
  if (at < text.size() && text[at] == '.')
    while (++at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) {
    }
  int64_t offset = 0;
  if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    int oh, om;
    if (std::sscanf(text.c_str() + at + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset = (text[at] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  } else if (at >= text.size() || (text[at] != 'Z' && text[at] != 'z')) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<int64_t>(::timegm(&tm)) - offset;
}

std::optional<std::string> decodeBase64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string encodePorts(const std::vector<PortSpec>& ports) {
  std::string out;
  for (const auto& p : ports) {
    if (!out.empty()) out += ',';
    out += p.name + ":" + std::to_string(p.port) + ":" + p.protocol;
  }
  return out;
}

std::vector<PortSpec> decodePorts(const std::string& label) {
  std::vector<PortSpec> out;
  std::stringstream ss(label);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto a = item.find(':');
    auto b = item.find(':', a == std::string::npos ? a : a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    auto port = toInt(std::string_view(item).substr(a + 1, b - a - 1));
    if (!port) continue;
    PortSpec p;
    p.name = item.substr(0, a);
    p.port = static_cast<int>(*port);
    p.protocol = item.substr(b + 1);
    out.push_back(p);
  }
  return out;
}

}  // namespace darasa::providers::docker
