// darasa on the docker provider against the container engine's own speed,
// measured in the same run on the same engine (Podman's API service at
// /run/podman/podman.sock, scripts/podman-service.sh; or $DOCKER_HOST), with
// the lab image localhost/darasa/busybox-lab:1 (examples/images/).
//
// darasa: the real binary, `darasa up` / `darasa down` of an N-trainee
// cohort (fresh state; `apply` is not timed): a lab per trainee with 0.5 CPU,
// 64Mi, 64 pids, SSH published on 127.0.0.1, an isolated network, the
// trainee's credentials uploaded, ready when its SSH server answers.
//
// Direct: the same engine work done by hand through the Engine API (darasa's
// own libcurl client, no darasa logic), all N at once (the engine's own
// limit): per lab POST /networks/create (explicit /24, "isolate"), POST
// /containers/create (same image, command, limits, labels, port binding),
// PUT /containers/{id}/archive (the same credential files), POST .../start,
// GET .../json (the host port), then connect every 50 ms until the SSH
// banner comes. Down: DELETE /containers/{id}?force&v and DELETE
// /networks/{name}, all N at once.
//
// N = 1: `darasa up` of one trainee against the same lab made with the
// podman CLI, one after the other: `podman network create` + `podman run -d`
// (credentials as environment variables) + wait for the banner.
//
// Usage: bench_docker_provider [N] [rounds] [parallel]   (default 20 3, and
// the provider's own parallelism; parallel P passes --parallel P to darasa).
// Prints a table and exits 0 (1 only when something could not run at all).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "docker/tar_writer.h"
#include "http/http_client.h"
#include "support/command.h"

namespace {

using namespace darasa;
using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace http = darasa::providers::http;
namespace fs = std::filesystem;

const char* kImage = "localhost/darasa/busybox-lab:1";
const char* kApi = "/v1.41";
constexpr int64_t kMemory = 64ll << 20;
constexpr int64_t kNanoCpus = 500000000;
constexpr int64_t kPids = 64;
// A syntactically valid key and hash: the lab's init installs them, nobody logs in.
const char* kKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKqTzXcC+nZH8m8m0zN2bA8sEwFZK0v2e6jI0mS7J1qZ bench";
const char* kHash = "$6$benchsalt$Yy9O3m3i6m6T0r2t7M0C6y4j0xk9Z2U2n6wZ2Yv8mV5Kq1b3d1Hf0X2bq8Q9b7Q0m7p2bQe9tV9R0wW5lZ1cH0";

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "bench_docker_provider: %s\n", msg.c_str());
  std::exit(1);
}

std::string engineHost() {
  const char* h = std::getenv("DOCKER_HOST");
  return h && *h ? h : "unix:///run/podman/podman.sock";
}

class Engine {
 public:
  explicit Engine(const http::Endpoint& ep) : client_(ep) {}

  Result<http::HttpResponse> call(const std::string& method, const std::string& path,
                                  std::vector<std::pair<std::string, std::string>> query = {},
                                  const json& body = json(), std::string raw = "", std::string type = "") {
    http::HttpRequest r;
    r.method = method;
    r.path = std::string(kApi) + path;
    r.query = std::move(query);
    if (!body.is_null()) {
      r.body = body.dump();
      r.contentType = "application/json";
    } else if (!raw.empty()) {
      r.body = std::move(raw);
      r.contentType = std::move(type);
    }
    return client_.request(r, Deadline::after(300s));
  }

  json get(const std::string& path, std::vector<std::pair<std::string, std::string>> query = {}) {
    auto r = call("GET", path, std::move(query));
    if (!r || !r->ok()) return json();
    return json::parse(r->body, nullptr, false);
  }

 private:
  http::HttpClient client_;
};

// Subnets no network of the engine uses, from 10.91.0.0/16 (darasa's labs
// take theirs from 10.89.0.0/16: the two never collide).
std::vector<std::string> freeSubnets(Engine& e, int n) {
  std::set<std::string> used;
  for (const auto& net : e.get("/networks")) {
    const auto& cfg = net.value("IPAM", json::object()).value("Config", json::array());
    for (const auto& c : cfg) used.insert(c.value("Subnet", ""));
  }
  std::vector<std::string> out;
  for (int k = 0; k < 256 && static_cast<int>(out.size()) < n; ++k) {
    std::string s = "10.91." + std::to_string(k) + ".0/24";
    if (!used.count(s)) out.push_back(s);
  }
  if (static_cast<int>(out.size()) < n) die("no free /24 left in 10.91.0.0/16");
  return out;
}

bool sshBanner(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    pollfd p{s, POLLIN, 0};
    char buf[8];
    ok = ::poll(&p, 1, 300) > 0 && ::recv(s, buf, sizeof buf, 0) > 0;
  }
  ::close(s);
  return ok;
}

void waitBanner(int port) {
  auto until = Clock::now() + 120s;
  while (!sshBanner(port)) {
    if (Clock::now() > until) die("port " + std::to_string(port) + " gave no SSH banner within 120 s");
    std::this_thread::sleep_for(50ms);
  }
}

std::string credentialsTar() {
  providers::docker::TarWriter tar;
  Status s = tar.addDirectory("etc/darasa", 0755);
  if (s) s = tar.addFile("etc/darasa/user", "trainee\n", 0644);
  if (s) s = tar.addFile("etc/darasa/password.hash", std::string(kHash) + "\n", 0600);
  if (s) s = tar.addDirectory("home/trainee", 0755, 1000, 1000);
  if (s) s = tar.addDirectory("home/trainee/.ssh", 0700, 1000, 1000);
  if (s) s = tar.addFile("home/trainee/.ssh/authorized_keys", std::string(kKey) + "\n", 0600, 1000, 1000);
  if (!s) die(s.toString());
  return tar.finish();
}

struct DirectTimes {
  double up = 0;     // every lab answers with its SSH banner
  double calls = 0;  // every lab's API calls returned (no readiness)
  double down = 0;
};

// The same engine work as darasa's labs, N at once, through the API.
DirectTimes direct(Engine& e, int n, const std::string& run) {
  auto subnets = freeSubnets(e, n);
  std::vector<std::string> ids(n), nets(n);
  std::vector<int> ports(n);
  std::vector<double> callsDone(n);
  const std::string tar = credentialsTar();
  auto t0 = Clock::now();
  std::vector<std::thread> workers;
  for (int i = 0; i < n; ++i) {
    workers.emplace_back([&, i] {
      std::string name = "bench-" + run + "-" + std::to_string(i);
      std::string gw = subnets[i].substr(0, subnets[i].rfind(".0/")) + ".1";
      json netBody = {{"Name", name},
                      {"Driver", "bridge"},
                      {"CheckDuplicate", true},
                      {"Internal", false},
                      {"Labels", {{"darasa-bench", run}}},
                      {"Options", {{"isolate", "true"}}},
                      {"IPAM", {{"Driver", "default"}, {"Config", {{{"Subnet", subnets[i]}, {"Gateway", gw}}}}}}};
      auto net = e.call("POST", "/networks/create", {}, netBody);
      if (!net || !net->ok()) die("network create: " + (net ? net->body : net.status().toString()));
      nets[i] = name;
      json body = {
          {"Image", kImage},
          {"Cmd", {"/sbin/darasa-lab-init"}},
          {"Env", json::array()},
          {"Labels", {{"darasa-bench", run}, {"bench.lab", name}}},
          {"Hostname", name},
          {"ExposedPorts", {{"22/tcp", json::object()}}},
          {"Tty", false},
          {"OpenStdin", false},
          {"HostConfig",
           {{"NetworkMode", name},
            {"PortBindings", {{"22/tcp", {{{"HostIp", "127.0.0.1"}, {"HostPort", ""}}}}}},
            {"RestartPolicy", {{"Name", "no"}}},
            {"NanoCpus", kNanoCpus},
            {"Memory", kMemory},
            {"MemorySwap", kMemory},
            {"PidsLimit", kPids}}},
          {"NetworkingConfig", {{"EndpointsConfig", {{name, json::object()}}}}}};
      auto made = e.call("POST", "/containers/create", {{"name", name}}, body);
      if (!made || !made->ok()) die("container create: " + (made ? made->body : made.status().toString()));
      ids[i] = json::parse(made->body).value("Id", "");
      auto put = e.call("PUT", "/containers/" + ids[i] + "/archive", {{"path", "/"}}, json(), tar,
                        "application/x-tar");
      if (!put || !put->ok()) die("archive: " + (put ? put->body : put.status().toString()));
      auto started = e.call("POST", "/containers/" + ids[i] + "/start");
      if (!started || !started->ok()) die("start: " + (started ? started->body : started.status().toString()));
      auto j = e.get("/containers/" + ids[i] + "/json");
      std::string hp = j["NetworkSettings"]["Ports"]["22/tcp"][0].value("HostPort", "0");
      ports[i] = std::stoi(hp);
      callsDone[i] = since(t0);
      waitBanner(ports[i]);
    });
  }
  for (auto& w : workers) w.join();
  DirectTimes t;
  t.up = since(t0);
  t.calls = *std::max_element(callsDone.begin(), callsDone.end());

  workers.clear();
  auto t1 = Clock::now();
  for (int i = 0; i < n; ++i) {
    workers.emplace_back([&, i] {
      auto rm = e.call("DELETE", "/containers/" + ids[i], {{"force", "true"}, {"v", "true"}});
      if (!rm || !(rm->ok() || rm->status == 404)) die("remove: " + (rm ? rm->body : rm.status().toString()));
      auto rmNet = e.call("DELETE", "/networks/" + nets[i]);
      if (!rmNet || !(rmNet->ok() || rmNet->status == 404))
        die("network remove: " + (rmNet ? rmNet->body : rmNet.status().toString()));
    });
  }
  for (auto& w : workers) w.join();
  t.down = since(t1);
  return t;
}

std::string cohortYaml(const std::string& name, int trainees) {
  return std::string(R"(apiVersion: darasa/v1
kind: LabTemplate
metadata: {name: box}
spec:
  provider: docker
  image: )") + kImage + R"(
  command: [/sbin/darasa-lab-init]
  resources: {cpus: 0.5, memory: 64Mi, pids: 64}
  ports: [{name: ssh, port: 22}]
  access: {user: trainee, credentials: [password, ssh-key]}
  readiness: {tcp: ssh, timeout: 120s}
  network: isolated
---
apiVersion: darasa/v1
kind: Cohort
metadata: {name: )" + name + R"(}
spec:
  template: box
  trainees:
)" + testing::traineesYaml(trainees);
}

struct DarasaTimes {
  double up = 0;
  double down = 0;
};

int gParallel = 0;  // 0: darasa's default

DarasaTimes viaDarasa(int n, const std::string& run) {
  testing::TempDir home;
  std::map<std::string, std::string> env = {{"DARASA_HOME", home.path()}, {"DOCKER_HOST", engineHost()}};
  std::string cohort = "bench-" + run;
  testing::writeFile(home / "cohort.yaml", cohortYaml(cohort, n));
  auto darasa = [&](std::vector<std::string> args) {
    args.insert(args.begin(), testing::darasaBinary());
    auto r = testing::runCommand(args, env, 900);
    if (r.exitCode != 0) {
      std::string cmd;
      for (const auto& a : args) cmd += (cmd.empty() ? "" : " ") + a;
      die(cmd + " failed (" + std::to_string(r.exitCode) + "): " + r.out + r.err);
    }
    return r;
  };
  darasa({"apply", home / "cohort.yaml"});
  DarasaTimes t;
  auto t0 = Clock::now();
  std::vector<std::string> extra;
  if (gParallel > 0) extra = {"--parallel", std::to_string(gParallel)};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  darasa(with({"-q", "up", cohort}));
  t.up = since(t0);
  auto t1 = Clock::now();
  darasa(with({"-q", "down", cohort}));
  t.down = since(t1);
  return t;
}

// The podman CLI, one lab: network, run, banner.
double podmanRunOnce(Engine& e, const std::string& run) {
  std::string name = "bench-" + run + "-cli";
  std::string subnet = freeSubnets(e, 1)[0];
  auto t0 = Clock::now();
  auto net = testing::runCommand({"podman", "network", "create", "--subnet", subnet, "--opt", "isolate=true",
                                  "--label", "darasa-bench=" + run, name});
  if (net.exitCode != 0) die("podman network create: " + net.err);
  auto r = testing::runCommand({"podman", "run", "-d", "--name", name, "--label", "darasa-bench=" + run,
                                "--network", name, "-p", "127.0.0.1::22", "--memory", "64m", "--memory-swap",
                                "64m", "--cpus", "0.5", "--pids-limit", "64", "-e", "DARASA_USER=trainee", "-e",
                                std::string("DARASA_AUTHORIZED_KEY=") + kKey, "-e",
                                std::string("DARASA_PASSWORD_HASH=") + kHash, kImage, "/sbin/darasa-lab-init"});
  if (r.exitCode != 0) die("podman run: " + r.err);
  auto port = testing::runCommand({"podman", "port", name, "22/tcp"});
  auto colon = port.out.rfind(':');
  if (port.exitCode != 0 || colon == std::string::npos) die("podman port: " + port.out + port.err);
  waitBanner(std::stoi(port.out.substr(colon + 1)));
  double took = since(t0);
  testing::runCommand({"podman", "rm", "-f", "-v", name});
  testing::runCommand({"podman", "network", "rm", "-f", name});
  return took;
}

// Leftovers of this run only (after a failure half-way).
void cleanup(const std::string& run) {
  auto ids = testing::runCommand({"podman", "ps", "-aq", "--filter", "label=darasa-bench=" + run});
  for (size_t p = 0, q; p < ids.out.size(); p = q + 1) {
    q = ids.out.find('\n', p);
    if (q == std::string::npos) q = ids.out.size();
    if (q > p) testing::runCommand({"podman", "rm", "-f", "-v", ids.out.substr(p, q - p)});
  }
  auto nets = testing::runCommand({"podman", "network", "ls", "-q", "--filter", "label=darasa-bench=" + run});
  for (size_t p = 0, q; p < nets.out.size(); p = q + 1) {
    q = nets.out.find('\n', p);
    if (q == std::string::npos) q = nets.out.size();
    if (q > p) testing::runCommand({"podman", "network", "rm", "-f", nets.out.substr(p, q - p)});
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 20;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  gParallel = argc > 3 ? std::atoi(argv[3]) : 0;
  if (n < 1 || n > 200 || rounds < 1 || gParallel < 0)
    die("usage: bench_docker_provider [N (1..200)] [rounds] [parallel]");
  auto ep = http::Endpoint::parse(engineHost());
  if (!ep) die(ep.status().toString());
  Engine engine(*ep);
  json version = engine.get("/version");
  if (version.is_null()) die("the engine at " + engineHost() + " does not answer: run scripts/podman-service.sh");
  if (engine.get(std::string("/images/") + kImage + "/json").is_null())
    die(std::string(kImage) + " is missing: run examples/images/build-busybox-lab.sh");
  std::string run = std::to_string(::getpid());

  std::printf("docker provider bench: %s %s (API %s) at %s, %s, %u cores, load %s\n",
              version.value("Components", json::array()).empty()
                  ? "engine"
                  : version["Components"][0].value("Name", "engine").c_str(),
              version.value("Version", "?").c_str(), version.value("ApiVersion", "?").c_str(), engineHost().c_str(),
              kImage, std::thread::hardware_concurrency(),
              testing::readFile("/proc/loadavg").substr(0, 14).c_str());
  std::printf("N = %d labs, %d round(s); darasa = `darasa up`/`down` (process wall time, parallelism %s), direct = "
              "the same API calls, all N at once\n\n",
              n, rounds, gParallel > 0 ? std::to_string(gParallel).c_str() : "the provider's");
  std::printf("%5s  %9s %9s %6s  %9s  %9s %9s %6s\n", "round", "darasa up", "direct", "ratio", "(API only)",
              "down", "direct", "ratio");
  std::vector<double> upRatios, downRatios, dUp, xUp, dDown, xDown;
  for (int r = 0; r < rounds; ++r) {
    std::string id = run + "r" + std::to_string(r);
    // Alternate the order: the machine is shared and its load drifts.
    DarasaTimes d;
    DirectTimes x;
    if (r % 2 == 0) {
      d = viaDarasa(n, id);
      x = direct(engine, n, id);
    } else {
      x = direct(engine, n, id);
      d = viaDarasa(n, id);
    }
    cleanup(id);
    upRatios.push_back(d.up / x.up);
    downRatios.push_back(d.down / x.down);
    dUp.push_back(d.up);
    xUp.push_back(x.up);
    dDown.push_back(d.down);
    xDown.push_back(x.down);
    std::printf("%5d  %8.2fs %8.2fs %5.2fx  %8.2fs   %8.2fs %8.2fs %5.2fx\n", r + 1, d.up, x.up, d.up / x.up, x.calls,
                d.down, x.down, d.down / x.down);
    std::fflush(stdout);
  }
  std::printf("%5s  %8.2fs %8.2fs %5.2fx  %9s   %8.2fs %8.2fs %5.2fx\n", "med", median(dUp), median(xUp),
              median(upRatios), "", median(dDown), median(xDown), median(downRatios));
  std::printf("ratio range: up %.2f-%.2fx, down %.2f-%.2fx (target: within 1.15x)\n\n",
              *std::min_element(upRatios.begin(), upRatios.end()), *std::max_element(upRatios.begin(), upRatios.end()),
              *std::min_element(downRatios.begin(), downRatios.end()),
              *std::max_element(downRatios.begin(), downRatios.end()));

  std::printf("N = 1: `darasa up` vs podman CLI (network create + run -d + banner)\n");
  std::printf("%5s  %9s %9s %6s\n", "round", "darasa up", "podman", "ratio");
  std::vector<double> oneRatios;
  for (int r = 0; r < rounds; ++r) {
    std::string id = run + "one" + std::to_string(r);
    double d = 0, p = 0;
    if (r % 2 == 0) {
      d = viaDarasa(1, id).up;
      p = podmanRunOnce(engine, id);
    } else {
      p = podmanRunOnce(engine, id);
      d = viaDarasa(1, id).up;
    }
    cleanup(id);
    oneRatios.push_back(d / p);
    std::printf("%5d  %8.2fs %8.2fs %5.2fx\n", r + 1, d, p, d / p);
    std::fflush(stdout);
  }
  std::printf("%5s  %19s %5.2fx (target: no worse than the podman run loop, <= 1.00x)\n", "med", "",
              median(oneRatios));
  return 0;
}
