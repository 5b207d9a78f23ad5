// API throughput: an ApiServer on 127.0.0.1 over a real SQLite state with
// one cohort of 500 trainees (ready labs, 500 trainee tokens); 64 client
// threads, each on its own keep-alive connection, GET /api/v1/labs/{own lab}
// with their trainees' own tokens for a few seconds; then the same against
// /healthz (no token, no state: the server's floor). Prints p50/p99 latency
// and requests/s for both and their ratio, plus the in-process cost of the
// pieces (Api::handle without HTTP, the token lookup alone) to show where
// the time goes.
//
// Usage: bench_api [seconds per run (3)] [connections (64)] [server threads (64)]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <sodium.h>

#include "api_server.h"
#include "fakes/fake_provider.h"
#include "provisioner/api.h"
#include "provisioner/service.h"
#include "support/command.h"

namespace {
using namespace darasa;
using Steady = std::chrono::steady_clock;

constexpr int kTrainees = 500;

struct RunResult {
  std::vector<double> latenciesUs;
  double seconds = 0;
  long errors = 0;
  double rps() const { return seconds > 0 ? static_cast<double>(latenciesUs.size()) / seconds : 0; }
  double percentile(double p) const {
    if (latenciesUs.empty()) return 0;
    std::vector<double> v = latenciesUs;
    size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
  }
};

// `connections` threads, each with one keep-alive connection, for `seconds`
// after a warm-up; request i of thread t is pathOf(t, i) with tokenOf(t, i).
template <typename PathOf, typename TokenOf>
RunResult load(int port, int connections, double seconds, PathOf pathOf, TokenOf tokenOf) {
  std::atomic<bool> measuring{false}, done{false};
  std::vector<std::vector<double>> lat(static_cast<size_t>(connections));
  std::vector<long> errors(static_cast<size_t>(connections), 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_connection_timeout(5);
      client.set_read_timeout(10);
      auto& mine = lat[static_cast<size_t>(t)];
      mine.reserve(200000);
      for (long i = 0; !done.load(std::memory_order_relaxed); ++i) {
        httplib::Headers headers;
        std::string token = tokenOf(t, i);
        if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
        auto start = Steady::now();
        auto res = client.Get(pathOf(t, i), headers);
        auto us = std::chrono::duration<double, std::micro>(Steady::now() - start).count();
        if (!measuring.load(std::memory_order_relaxed)) continue;
        if (!res || res->status != 200) ++errors[static_cast<size_t>(t)];
        else mine.push_back(us);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // connections made, caches warm
  measuring = true;
  auto t0 = Steady::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  measuring = false;
  auto t1 = Steady::now();
  done = true;
  for (auto& th : threads) th.join();
  RunResult r;
  r.seconds = std::chrono::duration<double>(t1 - t0).count();
  for (size_t t = 0; t < lat.size(); ++t) {
    r.latenciesUs.insert(r.latenciesUs.end(), lat[t].begin(), lat[t].end());
    r.errors += errors[t];
  }
  return r;
}

void print(const char* name, const RunResult& r) {
  std::printf("%-32s %10.0f %10.0f %10.0f %8ld\n", name, r.rps(), r.percentile(0.5), r.percentile(0.99), r.errors);
}

std::string sha256(const std::string& s) {
  unsigned char d[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(d, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  return std::string(reinterpret_cast<const char*>(d), sizeof d);
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  const int connections = argc > 2 ? std::atoi(argv[2]) : 64;
  const int serverThreads = argc > 3 ? std::atoi(argv[3]) : 64;
  if (sodium_init() < 0) return 1;

  testing::TempDir dir;
  auto store = Store::open(dir.path(), OpenMode::kCreate);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.status().toString().c_str());
    return 1;
  }
  ProviderRegistry registry;
  (void)registry.addInstance("fake", std::make_unique<FakeProvider>());
  LabService service(*store.value(), registry, SystemClock::instance(), "bench");
  RenderedCohort r;
  r.cohort.name = "bench";
  r.cohort.templateName = "noop";
  r.snapshot = {"noop", "sha256:0", "{}"};
  r.labs = fakeCohortSpecs("bench", kTrainees);
  for (const auto& s : r.labs) r.cohort.trainees.push_back({s.trainee, "Trainee " + s.trainee, ""});
  auto applied = service.apply({r, {}, false});
  if (!applied) {
    std::fprintf(stderr, "apply: %s\n", applied.status().toString().c_str());
    return 1;
  }
  std::vector<std::string> tokens, labs;
  for (const auto& s : r.labs) {
    (void)store.value()->recordObserved(s.labId, LabPhase::kReady, "res-" + s.labId,
                                        R"([{"name":"ssh","protocol":"tcp","host":"127.0.0.1","port":2222}])", 1);
    (void)store.value()->markReady(s.labId, SystemClock::instance().now());
    auto t = createToken(*store.value(), TokenRole::kTrainee, "bench", s.trainee, "bench", std::chrono::seconds(0),
                         SystemClock::instance());
    if (!t) {
      std::fprintf(stderr, "token: %s\n", t.status().toString().c_str());
      return 1;
    }
    tokens.push_back(t->token);
    labs.push_back("/api/v1/labs/" + s.labId);
  }

  Metrics metrics(SystemClock::instance());
  ApiOptions options;
  options.version = "bench";
  Api api(*store.value(), registry, SystemClock::instance(), nullptr, &metrics, options);
  cli::ApiServerOptions serverOptions;
  serverOptions.threads = static_cast<size_t>(serverThreads);
  serverOptions.metrics = &metrics;
  cli::ApiServer server(api, serverOptions);
  Status s = server.listen("127.0.0.1", 0);
  if (!s) {
    std::fprintf(stderr, "listen: %s\n", s.toString().c_str());
    return 1;
  }
  std::thread serving([&] { server.run(); });

  std::printf("API bench: %d trainees, %d keep-alive connections, %d server threads, %.1f s per run, %u cores\n",
              kTrainees, connections, serverThreads, seconds, std::thread::hardware_concurrency());

  // Client t uses trainees t, t + connections, ... in turn: every token is
  // used, each request only for the caller's own lab.
  auto own = [&](int t, long i) {
    return static_cast<size_t>((t + static_cast<long>(connections) * i) % kTrainees);
  };
  RunResult labRun = load(server.port(), connections, seconds, [&](int t, long i) { return labs[own(t, i)]; },
                          [&](int t, long i) { return tokens[own(t, i)]; });
  RunResult healthRun = load(server.port(), connections, seconds, [](int, long) { return std::string("/healthz"); },
                             [](int, long) { return std::string(); });

  // In-process costs, one thread: where a lab GET's time goes.
  const int n = 20000;
  auto t0 = Steady::now();
  for (int i = 0; i < n; ++i) {
    ApiRequest req{"GET", labs[static_cast<size_t>(i % kTrainees)], {}, "Bearer " + tokens[static_cast<size_t>(i % kTrainees)], "", "", ""};
    if (api.handle(req).status != 200) return 1;
  }
  double handleUs = std::chrono::duration<double, std::micro>(Steady::now() - t0).count() / n;
  std::vector<std::string> hashes;
  for (const auto& t : tokens) hashes.push_back(sha256(t));
  t0 = Steady::now();
  for (int i = 0; i < n; ++i)
    if (!store.value()->findTokenByHash(hashes[static_cast<size_t>(i % kTrainees)], true)) return 1;
  double lookupUs = std::chrono::duration<double, std::micro>(Steady::now() - t0).count() / n;
  t0 = Steady::now();
  for (int i = 0; i < n; ++i)
    if (!store.value()->getLab(labs[static_cast<size_t>(i % kTrainees)].substr(13))) return 1;
  double labUs = std::chrono::duration<double, std::micro>(Steady::now() - t0).count() / n;

  server.stop();
  serving.join();

  std::printf("%-32s %10s %10s %10s %8s\n", "route", "req/s", "p50 us", "p99 us", "errors");
  print("GET /api/v1/labs/{own} (token)", labRun);
  print("GET /healthz (floor)", healthRun);
  std::printf("ratio lab GET / healthz: %.2fx the requests/s, %.2fx the p50 latency, %.2fx the p99\n",
              healthRun.rps() > 0 ? labRun.rps() / healthRun.rps() : 0,
              healthRun.percentile(0.5) > 0 ? labRun.percentile(0.5) / healthRun.percentile(0.5) : 0,
              healthRun.percentile(0.99) > 0 ? labRun.percentile(0.99) / healthRun.percentile(0.99) : 0);
  std::printf("in process, one thread: Api::handle(GET own lab) %.1f us, of which token lookup by hash %.1f us "
              "and lab read %.1f us\n",
              handleUs, lookupUs, labUs);
  return labRun.errors == 0 && healthRun.errors == 0 ? 0 : 1;
}
