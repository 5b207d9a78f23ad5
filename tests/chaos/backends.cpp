// How each provider's labelled resources are seen from outside darasa, for
// the chaos checks: the local provider's sandboxes and files, the docker
// provider's containers, networks and volumes on the engine, the procs
// example plugin's records and processes. LXD: one more class here and a
// line in makeBackend().
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "chaos/chaos.h"
#include "http/http_client.h"

namespace darasa::chaos {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

bool startsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every process: pid and its /proc directory.
std::vector<std::pair<int, fs::path>> processes() {
  std::vector<std::pair<int, fs::path>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    out.emplace_back(std::stoi(name), e.path());
  }
  return out;
}

// A process's argv joined by spaces ("" once it is gone).
std::string cmdline(const fs::path& proc) {
  std::string s = slurp(proc / "cmdline");
  for (char& c : s)
    if (c == '\0') c = ' ';
  return s;
}

int parentOf(const fs::path& proc) {
  std::istringstream in(slurp(proc / "status"));
  std::string line;
  while (std::getline(in, line))
    if (startsWith(line, "PPid:")) return std::atoi(line.c_str() + 5);
  return -1;
}

// Processes of labs (pid → lab, pid → parent pid): a lab runs once per
// process whose parent is not one of them (a sandbox that forks, a server
// that forks per connection, count once).
void countTops(const std::map<int, std::string>& labOf, const std::map<int, int>& parents, Observation& o) {
  for (const auto& [pid, lab] : labOf) {
    auto parent = parents.find(pid);
    if (parent == parents.end() || !labOf.count(parent->second)) ++o.running[lab];
  }
}

// "" when the executable is there, else what to install.
std::string needs(const char* path, const std::string& what) {
  return access(path, X_OK) == 0 ? "" : what + " is not installed (" + path + ")";
}

// Entries of dir whose name starts with prefix, as "what dir/name".
void entriesWithPrefix(const fs::path& dir, const std::string& prefix, const std::string& what,
                       const std::string& shownDir, std::vector<std::string>& out) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (startsWith(e.path().filename().string(), prefix))
      out.push_back(what + " " + shownDir + "/" + e.path().filename().string());
}

// The local provider: bubblewrap sandboxes on this machine. A lab's
// running sandbox is a bwrap process writing <root>/labs/<lab>/lab.log;
// what it leaves is its directory, lock file, uid reservation, cgroups and
// anything in trash/.
class LocalBackend : public Backend {
 public:
  LocalBackend()
      : Backend("local",
                "  provider: local\n"
                "  resources: {cpus: 0.25, memory: 128Mi, pids: 64}\n"
                "  ports: [{name: ssh, port: 2222}]\n"
                "  access: {user: trainee, credentials: [password, ssh-key]}\n"
                "  readiness: {tcp: ssh, timeout: 60s}\n") {}
  std::string missing() const override { return needs("/usr/bin/bwrap", "bubblewrap"); }
  Observation observe(const std::string& stateDir, const std::string& cohort) override {
    Observation o;
    const fs::path root = fs::path(stateDir) / "local";
    const std::string prefix = cohort + ".";
    std::error_code ec;
    // bwrap forks the sandbox's first process, a bwrap too until it execs
    // the lab's init: a sandbox is a bwrap whose parent is not one.
    std::map<int, std::string> sandboxes;  // pid → lab
    std::map<int, int> parents;
    for (const auto& [pid, proc] : processes()) {
      auto exe = fs::read_symlink(proc / "exe", ec);
      if (ec || exe.filename() != "bwrap") continue;
      auto out = fs::read_symlink(proc / "fd" / "1", ec);
      if (ec || out.filename() != "lab.log" || out.parent_path().parent_path() != root / "labs") continue;
      std::string lab = out.parent_path().filename();
      if (!startsWith(lab, prefix)) continue;
      sandboxes[pid] = lab;
      parents[pid] = parentOf(proc);
    }
    countTops(sandboxes, parents, o);
    entriesWithPrefix(root / "labs", prefix, "lab directory", "labs", o.labelled);
    entriesWithPrefix(root / "locks", prefix, "lock file", "locks", o.labelled);
    entriesWithPrefix(root / "trash", "", "trash entry", "trash", o.labelled);
    for (const auto& e : fs::directory_iterator(root / "uids", ec)) {
      auto target = fs::read_symlink(e.path(), ec);
      if (!ec && startsWith(target.filename().string(), prefix))
        o.labelled.push_back("uid reservation uids/" + e.path().filename().string() + " -> " + target.string());
    }
    // cgroups: <hierarchy>/darasa/<lab>-<tag> (v1: one per controller; v2: one).
    for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
      entriesWithPrefix(h.path() / "darasa", prefix, "cgroup", h.path().string() + "/darasa", o.labelled);
      if (h.path().filename() == "darasa")  // cgroup v2: the parent is directly under the root
        entriesWithPrefix(h.path(), prefix, "cgroup", h.path().string(), o.labelled);
    }
    return o;
  }
};

// The docker provider on the Podman API service the tests use.
class DockerBackend : public Backend {
 public:
  static constexpr const char* kSocket = "/run/podman/podman.sock";
  static constexpr const char* kImage = "localhost/darasa/busybox-lab:1";

  DockerBackend()
      : Backend("docker", std::string("  provider: docker\n  image: ") + kImage +
                              "\n"
                              "  command: [/sbin/darasa-lab-init]\n"
                              "  resources: {cpus: 0.5, memory: 64Mi, pids: 64}\n"
                              "  ports: [{name: ssh, port: 22}]\n"
                              "  access: {user: trainee, credentials: [password, ssh-key]}\n"
                              "  readiness: {tcp: ssh, timeout: 90s}\n"
                              "  network: isolated\n"),
        client_(*providers::http::Endpoint::parse(std::string("unix://") + kSocket)) {}
  std::string missing() const override {
    if (!fs::exists(kSocket)) return std::string("no Podman API service at ") + kSocket + " (scripts/podman-service.sh)";
    auto r = const_cast<DockerBackend*>(this)->get(std::string("/images/") + kImage + "/json");
    if (r.is_null()) return std::string(kImage) + " is missing (examples/images/build-busybox-lab.sh)";
    return "";
  }
  Observation observe(const std::string& /*stateDir*/, const std::string& cohort) override {
    Observation o;
    const std::string filter = json{{"label", {"darasa.cohort=" + cohort}}}.dump();
    for (const auto& c : list("/containers/json", {{"all", "true"}, {"filters", filter}})) {
      auto labels = c.value("Labels", json::object());
      std::string name = c.contains("Names") && !c["Names"].empty() ? c["Names"][0].get<std::string>() : "?";
      ++o.running[labels.value("darasa.lab", name)];
      o.labelled.push_back("container " + name + " (" + c.value("State", "?") + ")");
    }
    for (const auto& n : list("/networks", {{"filters", filter}}))
      o.labelled.push_back("network " + n.value("Name", "?"));
    json volumes = get("/volumes", {{"filters", filter}});
    for (const auto& v : volumes.is_object() ? volumes.value("Volumes", json::array()) : json::array())
      if (v.is_object()) o.labelled.push_back("volume " + v.value("Name", "?"));
    return o;
  }

 private:
  json get(const std::string& path, std::vector<std::pair<std::string, std::string>> query = {}) {
    auto r = client_.get("/v1.41" + path, Deadline::after(std::chrono::seconds(30)), std::move(query));
    if (!r || !r->ok()) return json();
    return json::parse(r->body, nullptr, false);
  }
  json list(const std::string& path, std::vector<std::pair<std::string, std::string>> query) {
    json j = get(path, std::move(query));
    return j.is_array() ? j : json::array();
  }
  providers::http::HttpClient client_;
};

// The procs example plugin (examples/plugins/procs): a lab is a process
// (busybox httpd serving <stateDir>/plugins/procs/labs/<lab>.www) plus its
// record, log and www directory.
class ProcsBackend : public Backend {
 public:
  ProcsBackend()
      : Backend("procs",
                "  provider: procs\n"
                "  ports: [{name: web, port: 8080, protocol: http}]\n"
                "  readiness: {tcp: web, timeout: 30s}\n") {}
  std::string missing() const override { return needs("/usr/bin/python3", "python3 (for the procs example plugin)"); }
  void prepare(const std::string& stateDir) override {
    fs::create_directories(fs::path(stateDir) / "plugins");
    fs::create_symlink(fs::path(DARASA_SOURCE_DIR) / "examples/plugins/procs/darasa-provider-procs",
                       fs::path(stateDir) / "plugins/darasa-provider-procs");
  }
  Observation observe(const std::string& stateDir, const std::string& cohort) override {
    Observation o;
    const fs::path labs = fs::path(stateDir) / "plugins/procs/labs";
    const std::string prefix = cohort + ".";
    std::map<int, std::string> servers;  // busybox httpd forks per connection
    std::map<int, int> parents;
    for (const auto& [pid, proc] : processes()) {
      std::string cmd = cmdline(proc);
      size_t at = cmd.find(labs.string() + "/" + prefix);
      if (at == std::string::npos || cmd.find("httpd") == std::string::npos) continue;
      std::string rest = cmd.substr(at + labs.string().size() + 1);
      servers[pid] = rest.substr(0, rest.find(".www"));
      parents[pid] = parentOf(proc);
    }
    countTops(servers, parents, o);
    entriesWithPrefix(labs, prefix, "plugin file", "plugins/procs/labs", o.labelled);
    return o;
  }
  int pluginPid(int darasaPid) override {
    for (const auto& [pid, proc] : processes())
      if (parentOf(proc) == darasaPid && cmdline(proc).find("darasa-provider-procs") != std::string::npos) return pid;
    return -1;
  }
};

}  // namespace

std::unique_ptr<Backend> makeBackend(const std::string& provider) {
  if (provider == "local") return std::make_unique<LocalBackend>();
  if (provider == "docker") return std::make_unique<DockerBackend>();
  if (provider == "procs") return std::make_unique<ProcsBackend>();
  return nullptr;
}

}  // namespace darasa::chaos
