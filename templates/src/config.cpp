// The daemon config (darasa.yaml, kind DaemonConfig): read with the same
// located Node tree, Fields and diagnostics as template and cohort files, so
// that a mistake in it is reported the way every other file's is.
#include "templates/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <tuple>

#include "internal.h"
#include "templates/units.h"

namespace darasa::templates {
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kTopKeys = {"apiVersion", "kind",     "stateDir", "state", "listen",          "tls",
                                           "tick",       "resync",   "reconcile", "shutdownTimeout", "api",
                                           "log",        "providers", "plugins",  "capacity",        "prices"};
const std::vector<std::string> kLevels = {"debug", "info", "warn", "error"};

std::string resolvePath(const std::string& dir, const std::string& rel) {
  fs::path p(rel);
  if (p.is_absolute() || dir.empty()) return p.lexically_normal().string();
  return (fs::path(dir) / p).lexically_normal().string();
}

bool isProviderName(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

// "250ms", or any duration parseDuration takes ("90s", "15m", "1h30m").
std::optional<std::chrono::milliseconds> parseMillis(const std::string& text) {
  if (text.size() > 2 && text.compare(text.size() - 2, 2, "ms") == 0) {
    auto v = parseInteger(text.substr(0, text.size() - 2));
    if (!v || *v < 0) return std::nullopt;
    return std::chrono::milliseconds(*v);
  }
  auto s = parseDuration(text);
  if (!s) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(*s);
}

std::optional<std::chrono::milliseconds> getMillis(const Node* n, const std::string& path, Diags& d,
                                                   std::chrono::milliseconds min, std::chrono::milliseconds max) {
  if (!n || !expectScalar(*n, path, d)) return std::nullopt;
  auto v = parseMillis(n->text);
  if (!v) {
    d.error(n->pos, path,
            lastSegment(path) + " \"" + n->text + "\" is not a duration (use e.g. 500ms, 10s, 5m or 1h)");
    return std::nullopt;
  }
  auto show = [](std::chrono::milliseconds m) {
    if (m.count() % 1000 != 0) return std::to_string(m.count()) + "ms";
    return formatDuration(std::chrono::duration_cast<std::chrono::seconds>(m));
  };
  if (*v < min || *v > max) {
    d.error(n->pos, path,
            lastSegment(path) + " " + n->text + " is out of range (" + show(min) + " to " + show(max) + ")");
    return std::nullopt;
  }
  return v;
}

// A file the daemon reads: it must exist and be a readable regular file.
std::optional<std::string> getExistingFile(const Node* n, const std::string& path, const std::string& dir,
                                           Diags& d, const char* what) {
  auto text = getString(n, path, d);
  if (!text) return std::nullopt;
  if (text->empty()) {
    d.error(n->pos, path, std::string(what) + " is empty: it needs a path");
    return std::nullopt;
  }
  std::string abs = resolvePath(dir, *text);
  std::string shown = abs == *text ? "" : " (" + abs + ")";
  std::error_code ec;
  auto st = fs::status(abs, ec);
  if (ec || !fs::exists(st)) {
    d.error(n->pos, path, std::string(what) + " \"" + *text + "\" not found" + shown);
    return std::nullopt;
  }
  if (!fs::is_regular_file(st)) {
    d.error(n->pos, path, std::string(what) + " \"" + *text + "\" is not a regular file" + shown);
    return std::nullopt;
  }
  if (::access(abs.c_str(), R_OK) != 0) {
    d.error(n->pos, path, std::string(what) + " \"" + *text + "\" is not readable by this user" + shown);
    return std::nullopt;
  }
  return abs;
}

void readListen(const Node* n, Diags& d, DaemonConfig* c) {
  auto text = getString(n, "listen", d);
  if (!text) return;
  std::string error;
  auto a = parseListenAddress(*text, &error);
  if (!a) {
    d.error(n->pos, "listen", "listen \"" + *text + "\" is not an address: " + error);
    return;
  }
  c->listenHost = a->host;
  c->listenPort = a->port;
  c->listenLoopback = a->loopback;
}

void readTls(const Node* n, const std::string& dir, Diags& d, DaemonConfig* c, const Pos& keyPos) {
  if (!n || !expectMap(*n, "tls", d)) return;
  Fields f(*n, "tls", d, {"cert", "key"});
  const Node* cert = f.require("cert", keyPos);
  const Node* key = f.require("key", keyPos);
  if (cert)
    if (auto p = getExistingFile(cert, "tls.cert", dir, d, "certificate file")) c->tlsCert = *p;
  if (key) {
    if (auto p = getExistingFile(key, "tls.key", dir, d, "key file")) {
      c->tlsKey = *p;
      std::error_code ec;
      auto perms = fs::status(*p, ec).permissions();
      if (!ec && (perms & (fs::perms::group_all | fs::perms::others_all)) != fs::perms::none)
        d.warning(key->pos, "tls.key", "key file \"" + key->text + "\" is readable by other users: chmod 600 it");
    }
  }
}

// state: {url: postgresql://..., vaultKey: FILE}
void readState(const Node* n, const std::string& dir, Diags& d, DaemonConfig* c) {
  if (!n || !expectMap(*n, "state", d)) return;
  Fields f(*n, "state", d, {"url", "vaultKey"});
  if (const Node* u = f.get("url")) {
    if (auto v = getString(u, "state.url", d)) {
      if (v->rfind("postgresql://", 0) != 0 && v->rfind("postgres://", 0) != 0)
        d.error(u->pos, "state.url",
                "state.url \"" + *v + "\" is not a PostgreSQL URL (postgresql://user@host/database); leave it out "
                "for the SQLite state in stateDir");
      else
        c->stateUrl = *v;
    }
  }
  if (const Node* k = f.get("vaultKey")) {
    if (auto v = getString(k, "state.vaultKey", d)) {
      if (v->empty()) d.error(k->pos, "state.vaultKey", "state.vaultKey is empty: it needs a file");
      else c->vaultKeyFile = resolvePath(dir, *v);
    }
  }
}

void readReconcile(const Node* n, Diags& d, DaemonConfig* c) {
  if (!n || !expectMap(*n, "reconcile", d)) return;
  Fields f(*n, "reconcile", d, {"parallelism", "callTimeout", "maxAttempts", "failureBackoff"});
  if (auto v = getInt(f.get("parallelism"), "reconcile.parallelism", d, 0, 256)) c->parallelism = static_cast<int>(*v);
  if (auto v = getMillis(f.get("callTimeout"), "reconcile.callTimeout", d, std::chrono::seconds(1),
                         std::chrono::hours(1)))
    c->callTimeout = *v;
  if (auto v = getInt(f.get("maxAttempts"), "reconcile.maxAttempts", d, 1, 100)) c->maxAttempts = static_cast<int>(*v);
  if (auto v = getMillis(f.get("failureBackoff"), "reconcile.failureBackoff", d, std::chrono::milliseconds(100),
                         std::chrono::hours(1)))
    c->failureBackoff = *v;
}

void readCapacity(const Node* n, Diags& d, DaemonConfig* c) {
  if (!n || !expectMap(*n, "capacity", d)) return;
  for (const auto& e : n->entries) {
    std::string path = childPath("capacity", e.key);
    if (!isProviderName(e.key)) {
      d.error(e.keyPos, path, "provider name \"" + e.key + "\" is not valid: use lower-case letters, digits and '-'");
      continue;
    }
    if (!expectMap(e.value, path, d)) continue;
    Fields f(e.value, path, d, {"maxLabs", "cpus", "memory"});
    ProviderCapacity cap;
    cap.source = "darasa.yaml";
    if (auto v = getInt(f.get("maxLabs"), childPath(path, "maxLabs"), d, 1, 1000000)) cap.maxLabs = *v;
    if (auto v = getCpusField(f.get("cpus"), childPath(path, "cpus"), d)) cap.cpuMillis = *v;
    if (auto v = getSizeField(f.get("memory"), childPath(path, "memory"), d)) cap.memoryBytes = *v;
    c->capacity[e.key] = cap;
  }
}

void readPrices(const Node* n, Diags& d, DaemonConfig* c) {
  if (!n || !expectMap(*n, "prices", d)) return;
  for (const auto& e : n->entries) {
    std::string path = childPath("prices", e.key);
    if (!isProviderName(e.key)) {
      d.error(e.keyPos, path, "provider name \"" + e.key + "\" is not valid: use lower-case letters, digits and '-'");
      continue;
    }
    if (!expectMap(e.value, path, d)) continue;
    Fields f(e.value, path, d, {"labHour", "cpuHour", "gibHour"});
    UsagePrices p;
    auto price = [&](const char* key, int64_t* out) {
      const Node* v = f.get(key);
      if (!v) return;
      auto text = getString(v, childPath(path, key), d);
      if (!text) return;
      auto milli = parseDecimalScaled(*text, 1000);
      if (!milli)
        d.error(v->pos, childPath(path, key), std::string(key) + " \"" + *text + "\" is not a non-negative decimal price (e.g. 0.05)");
      else
        *out = *milli;
    };
    price("labHour", &p.perLabHourMilli);
    price("cpuHour", &p.perCpuHourMilli);
    price("gibHour", &p.perGibHourMilli);
    c->prices[e.key] = p;
  }
}

void readLog(const Node* n, const std::string& dir, Diags& d, DaemonConfig* c) {
  if (!n || !expectMap(*n, "log", d)) return;
  Fields f(*n, "log", d, {"file", "level"});
  if (const Node* file = f.get("file")) {
    if (auto t = getString(file, "log.file", d)) {
      if (t->empty() || *t == "-") {
        c->logFile = "-";
      } else {
        std::string abs = resolvePath(dir, *t);
        std::error_code ec;
        fs::path parent = fs::path(abs).parent_path();
        if (fs::is_directory(abs, ec))
          d.error(file->pos, "log.file", "log file \"" + *t + "\" is a directory");
        else if (!parent.empty() && !fs::is_directory(parent, ec))
          d.error(file->pos, "log.file", "the directory of log file \"" + *t + "\" does not exist (" +
                                             parent.string() + ")");
        else
          c->logFile = abs;
      }
    }
  }
  if (auto v = getEnumField(f.get("level"), "log.level", d, kLevels)) c->logLevel = *v;
}

void readApi(const Node* n, Diags& d, DaemonConfig* c) {
  if (!n || !expectMap(*n, "api", d)) return;
  Fields f(*n, "api", d, {"maxBody"});
  if (auto v = getSizeField(f.get("maxBody"), "api.maxBody", d)) {
    if (*v < 1024 || *v > (int64_t{1} << 30))
      d.error(f.get("maxBody")->pos, "api.maxBody", "maxBody must be between 1Ki and 1Gi, got " + f.get("maxBody")->text);
    else
      c->maxBodyBytes = static_cast<size_t>(*v);
  }
}

// plugins: [{name, path}]; names unique, not a built-in's, paths executable.
void readPlugins(const Node* n, const std::string& dir, const ConfigOptions& options, Diags& d, DaemonConfig* c) {
  if (!n || !expectSeq(*n, "plugins", d)) return;
  std::map<std::string, Pos> seen;
  for (size_t i = 0; i < n->items.size(); ++i) {
    const Node& item = n->items[i];
    std::string path = indexPath("plugins", i);
    if (!expectMap(item, path, d)) continue;
    Fields f(item, path, d, {"name", "path"});
    const Node* name = f.require("name", item.pos);
    const Node* exe = f.require("path", item.pos);
    PluginConfig p;
    bool ok = true;
    if (auto v = getString(name, childPath(path, "name"), d)) {
      p.name = *v;
      if (!isProviderName(*v)) {
        d.error(name->pos, childPath(path, "name"),
                "plugin name \"" + *v + "\" is not valid: use lower-case letters, digits and '-'");
        ok = false;
      } else if (std::find(options.builtinProviders.begin(), options.builtinProviders.end(), *v) !=
                 options.builtinProviders.end()) {
        d.error(name->pos, childPath(path, "name"),
                "plugin name \"" + *v + "\" is taken by a built-in provider (built-ins: " +
                    joinNames(options.builtinProviders) + ")");
        ok = false;
      } else if (auto it = seen.find(*v); it != seen.end()) {
        d.error(name->pos, childPath(path, "name"),
                "duplicate plugin \"" + *v + "\" (also at line " + std::to_string(it->second.line) + ")");
        ok = false;
      } else {
        seen.emplace(*v, name->pos);
      }
    } else {
      ok = false;
    }
    if (auto v = getString(exe, childPath(path, "path"), d)) {
      std::string abs = resolvePath(dir, *v);
      std::string shown = abs == *v ? "" : " (" + abs + ")";
      std::error_code ec;
      auto st = fs::status(abs, ec);
      if (v->empty()) {
        d.error(exe->pos, childPath(path, "path"), "plugin path is empty");
        ok = false;
      } else if (ec || !fs::exists(st)) {
        d.error(exe->pos, childPath(path, "path"), "plugin executable \"" + *v + "\" not found" + shown);
        ok = false;
      } else if (!fs::is_regular_file(st) || ::access(abs.c_str(), X_OK) != 0) {
        d.error(exe->pos, childPath(path, "path"),
                "plugin \"" + *v + "\" is not an executable file" + shown + " (chmod +x it)");
        ok = false;
      } else {
        p.path = abs;
      }
    } else {
      ok = false;
    }
    if (ok) c->plugins.push_back(std::move(p));
  }
}

void readProviders(const Node* n, const ConfigOptions& options, Diags& d, DaemonConfig* c,
                   const std::vector<std::string>& pluginNames) {
  if (!n || !expectMap(*n, "providers", d)) return;
  std::vector<std::string> known = options.builtinProviders;
  known.insert(known.end(), options.discoveredPlugins.begin(), options.discoveredPlugins.end());
  bool check = !known.empty();
  known.insert(known.end(), pluginNames.begin(), pluginNames.end());
  std::sort(known.begin(), known.end());
  known.erase(std::unique(known.begin(), known.end()), known.end());
  for (const auto& e : n->entries) {
    std::string path = childPath("providers", e.key);
    if (!isProviderName(e.key)) {
      d.error(e.keyPos, path, "provider name \"" + e.key + "\" is not valid: use lower-case letters, digits and '-'");
      continue;
    }
    if (check && std::find(known.begin(), known.end(), e.key) == known.end()) {
      d.error(e.keyPos, path,
              "unknown provider \"" + e.key + "\"" + didYouMean(e.key, known) + " (known: " + joinNames(known) +
                  "; name a plugin under plugins: to add one)");
      continue;
    }
    if (e.value.isNull()) {
      c->providers[e.key] = {};
      continue;
    }
    if (auto m = getStringMap(&e.value, path, d)) c->providers[e.key] = std::move(*m);
  }
}

}  // namespace

std::string DaemonConfig::listenAddress() const {
  std::string host = listenHost.find(':') != std::string::npos ? "[" + listenHost + "]" : listenHost;
  return host + ":" + std::to_string(listenPort);
}

std::optional<ListenAddress> parseListenAddress(const std::string& text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<ListenAddress> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  ListenAddress a;
  std::string portText;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find("]:");
    if (close == std::string::npos) return fail("use [IPv6]:PORT, e.g. [::1]:8440");
    a.host = text.substr(1, close - 1);
    portText = text.substr(close + 2);
    in6_addr v6{};
    if (inet_pton(AF_INET6, a.host.c_str(), &v6) != 1) return fail("\"" + a.host + "\" is not an IPv6 address");
    a.loopback = IN6_IS_ADDR_LOOPBACK(&v6);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return fail("use HOST:PORT, e.g. 127.0.0.1:8440");
    a.host = text.substr(0, colon);
    portText = text.substr(colon + 1);
    if (a.host.find(':') != std::string::npos) return fail("write an IPv6 address in brackets, e.g. [::1]:8440");
    if (a.host.empty()) return fail("the host is missing (use 127.0.0.1:PORT for this machine only)");
    in_addr v4{};
    if (inet_pton(AF_INET, a.host.c_str(), &v4) == 1) {
      a.loopback = (ntohl(v4.s_addr) >> 24) == 127;
    } else {
      bool hostname = std::all_of(a.host.begin(), a.host.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
      });
      if (!hostname || a.host.size() > 253) return fail("\"" + a.host + "\" is not a host name or IP address");
      a.loopback = lower(a.host) == "localhost";
    }
  }
  auto port = parseInteger(portText);
  if (portText.empty() || !port || *port < 0 || *port > 65535 || std::to_string(*port) != portText)
    return fail("port \"" + portText + "\" is not a number from 0 to 65535 (0 = any free port)");
  a.port = static_cast<int>(*port);
  return a;
}

ConfigLoad parseDaemonConfig(const std::string& displayName, const std::string& content, const ConfigOptions& options) {
  ConfigLoad out;
  Diags d(&out.diagnostics);
  std::string dir;
  {
    std::error_code ec;
    fs::path p = fs::absolute(fs::path(displayName), ec);
    dir = ec ? fs::path(displayName).parent_path().string() : p.parent_path().string();
  }
  std::string text = content;
  if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
  SourcePtr src = makeSource(displayName, dir, std::move(text));
  Pos filePos;
  filePos.src = src;
  if (!checkText(src->content, src, d)) return out;
  std::vector<Node> docs = parseYamlDocuments(src, d);
  if (d.errors() > 0) return out;
  if (docs.empty()) {
    d.error(filePos, "", std::string("file is empty: expected a DaemonConfig document (apiVersion: ") + kApiVersion +
                             ", kind: " + kDaemonConfigKind + ")");
    return out;
  }
  if (docs.size() > 1) d.error(docs[1].pos, "", "a daemon config is one document; remove everything after the first");
  const Node& root = docs[0];
  if (!root.isMap()) {
    d.error(root.pos, "", "the config must be a map (apiVersion, kind, listen, ...), got " + describe(root));
    return out;
  }

  DaemonConfig c;
  c.sourceFile = displayName;
  Fields top(root, "", d, kTopKeys);
  const MapEntry* api = root.entry("apiVersion");
  if (!api || api->value.isNull())
    d.error(api ? api->keyPos : root.pos, "apiVersion",
            std::string("missing required field \"apiVersion\" (use apiVersion: ") + kApiVersion + ")");
  else if (!api->value.isScalar() || api->value.text != kApiVersion)
    d.error(api->value.pos, "apiVersion",
            "unsupported apiVersion " + describe(api->value) + " (expected " + kApiVersion + ")");
  const MapEntry* kind = root.entry("kind");
  if (!kind || kind->value.isNull())
    d.error(kind ? kind->keyPos : root.pos, "kind",
            std::string("missing required field \"kind\" (use kind: ") + kDaemonConfigKind + ")");
  else if (!kind->value.isScalar() || kind->value.text != kDaemonConfigKind)
    d.error(kind->value.pos, "kind",
            "kind " + describe(kind->value) + " is not a daemon config (expected " + kDaemonConfigKind +
                (kind->value.isScalar() && (kind->value.text == "LabTemplate" || kind->value.text == "Cohort")
                     ? "; templates and cohorts are applied with `darasa apply`, not given to `darasa serve`"
                     : "") +
                ")");

  if (auto v = getString(top.get("stateDir"), "stateDir", d)) {
    if (v->empty()) d.error(top.get("stateDir")->pos, "stateDir", "stateDir is empty: it needs a directory");
    else c.stateDir = resolvePath(dir, *v);
  }
  readState(top.get("state"), dir, d, &c);
  readListen(top.get("listen"), d, &c);
  if (const MapEntry* e = top.entry("tls")) readTls(top.get("tls"), dir, d, &c, e->keyPos);
  if (auto v = getMillis(top.get("tick"), "tick", d, std::chrono::milliseconds(100), std::chrono::hours(1)))
    c.tick = *v;
  if (auto v = getMillis(top.get("resync"), "resync", d, std::chrono::seconds(1), std::chrono::hours(24)))
    c.resync = *v;
  if (auto v = getMillis(top.get("shutdownTimeout"), "shutdownTimeout", d, std::chrono::milliseconds(0),
                         std::chrono::minutes(10)))
    c.shutdownTimeout = *v;
  readReconcile(top.get("reconcile"), d, &c);
  readCapacity(top.get("capacity"), d, &c);
  readPrices(top.get("prices"), d, &c);
  readApi(top.get("api"), d, &c);
  readLog(top.get("log"), dir, d, &c);
  readPlugins(top.get("plugins"), dir, options, d, &c);
  std::vector<std::string> pluginNames;
  if (const Node* pl = top.get("plugins"); pl && pl->isSeq())
    for (const auto& item : pl->items)
      if (const Node* name = item.isMap() ? item.get("name") : nullptr; name && name->isScalar())
        pluginNames.push_back(name->text);
  readProviders(top.get("providers"), options, d, &c, pluginNames);

  if (!c.listenLoopback && top.get("listen")) {
    std::string why = "listen " + c.listenAddress() +
                      " can be reached from other machines: anyone who can reach it can try tokens";
    why += c.tlsCert.empty() ? ", and tokens and credentials cross the network in clear text (configure tls)"
                             : " (TLS is on)";
    d.warning(top.get("listen")->pos, "listen", why);
  }

  std::stable_sort(out.diagnostics.begin(), out.diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  if (d.errors() == 0) out.config = std::move(c);
  return out;
}

ConfigLoad loadDaemonConfig(const std::string& path, const ConfigOptions& options) {
  ConfigLoad out;
  Diags d(&out.diagnostics);
  auto content = readTextFile(path, path, ReadLimits{}, d, nullptr, "config file");
  if (!content) return out;
  return parseDaemonConfig(path, *content, options);
}

ConfigChanges diffDaemonConfig(const DaemonConfig& a, const DaemonConfig& b) {
  ConfigChanges ch;
  auto ms = [](std::chrono::milliseconds m) { return std::to_string(m.count()) + "ms"; };
  if (a.logLevel != b.logLevel) ch.live.push_back("log.level " + a.logLevel + " -> " + b.logLevel);
  if (a.logFile != b.logFile) ch.live.push_back("log.file " + a.logFile + " -> " + b.logFile);
  if (a.tick != b.tick) ch.live.push_back("tick " + ms(a.tick) + " -> " + ms(b.tick));
  if (a.shutdownTimeout != b.shutdownTimeout)
    ch.live.push_back("shutdownTimeout " + ms(a.shutdownTimeout) + " -> " + ms(b.shutdownTimeout));
  if (a.listenAddress() != b.listenAddress())
    ch.needRestart.push_back("listen " + a.listenAddress() + " -> " + b.listenAddress());
  if (a.tlsCert != b.tlsCert || a.tlsKey != b.tlsKey) ch.needRestart.push_back("tls");
  if (a.stateDir != b.stateDir) ch.needRestart.push_back("stateDir");
  if (a.stateUrl != b.stateUrl) ch.needRestart.push_back("state.url");
  if (a.vaultKeyFile != b.vaultKeyFile) ch.needRestart.push_back("state.vaultKey");
  if (a.maxBodyBytes != b.maxBodyBytes) ch.needRestart.push_back("api.maxBody");
  if (a.resync != b.resync) ch.needRestart.push_back("resync");
  if (a.parallelism != b.parallelism || a.callTimeout != b.callTimeout || a.maxAttempts != b.maxAttempts ||
      a.failureBackoff != b.failureBackoff)
    ch.needRestart.push_back("reconcile");
  auto policyKey = [](const DaemonConfig& x) {
    std::string k;
    for (const auto& [n, c] : x.capacity)
      k += n + ":" + std::to_string(c.maxLabs) + "," + std::to_string(c.cpuMillis) + "," +
           std::to_string(c.memoryBytes) + ";";
    k += "|";
    for (const auto& [n, p] : x.prices)
      k += n + ":" + std::to_string(p.perLabHourMilli) + "," + std::to_string(p.perCpuHourMilli) + "," +
           std::to_string(p.perGibHourMilli) + ";";
    return k;
  };
  if (policyKey(a) != policyKey(b)) ch.needRestart.push_back("capacity/prices");
  std::map<std::string, std::string> before, after;
  for (const auto& p : a.plugins) before[p.name] = p.path;
  for (const auto& p : b.plugins) after[p.name] = p.path;
  for (const auto& [name, path] : after) {
    auto it = before.find(name);
    // Providers are registered once at start: the registry is shared by the
    // controller and the API threads without a lock.
    if (it == before.end()) ch.needRestart.push_back("plugin " + name + " added");
    else if (it->second != path) ch.needRestart.push_back("plugin " + name + " path");
  }
  for (const auto& [name, path] : before)
    if (!after.count(name)) ch.needRestart.push_back("plugin " + name + " removed");
  std::set<std::string> names;
  for (const auto& [n, o] : a.providers) names.insert(n);
  for (const auto& [n, o] : b.providers) names.insert(n);
  for (const auto& n : names) {
    auto x = a.providers.find(n), y = b.providers.find(n);
    bool same = (x == a.providers.end() ? std::map<std::string, std::string>{} : x->second) ==
                (y == b.providers.end() ? std::map<std::string, std::string>{} : y->second);
    if (!same) ch.needRestart.push_back("providers." + n);
  }
  return ch;
}

}  // namespace darasa::templates
