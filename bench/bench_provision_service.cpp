// The whole `darasa apply` + `darasa up` path (LabService: SQLite store with
// its journal, credential generation and encryption, planner, reconciler)
// provisioning N labs on an in-process provider that does nothing, for
// N = 100, 1,000, 10,000: wall time, per-lab overhead, peak memory, and how
// the per-lab cost grows against N = 100 measured in the same run (the
// baseline: linear growth keeps the ratio near 1).
//
// Each N runs in a forked child so that its peak RSS is its own.
// Usage: bench_provision_service [N...]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "fakes/fake_clock.h"
#include "fakes/fake_provider.h"
#include "provisioner/service.h"

namespace {
using namespace darasa;
using Ms = std::chrono::duration<double, std::milli>;

struct Sample {
  double applyMs = 0;
  double upMs = 0;
  long peakKb = 0;
  int ready = 0;
};

// Runs in the child: returns 0 when every lab became ready.
int provision(int n, const std::filesystem::path& dir, FILE* out) {
  auto store = Store::open(dir, OpenMode::kCreate);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.status().toString().c_str());
    return 1;
  }
  ProviderRegistry registry;
  ProviderInfo info = FakeProvider::defaultInfo();
  info.maxParallel = 8;
  auto fake = std::make_unique<FakeProvider>(info);
  (void)registry.addInstance("fake", std::move(fake));
  LabService service(*store.value(), registry, SystemClock::instance(), "bench");

  RenderedCohort r;
  r.cohort.name = "bench";
  r.cohort.templateName = "noop";
  r.snapshot = {"noop", "sha256:0", "{}"};
  r.labs = fakeCohortSpecs("bench", n);
  for (const auto& s : r.labs) r.cohort.trainees.push_back({s.trainee, "Trainee " + s.trainee, ""});

  auto t0 = std::chrono::steady_clock::now();
  auto applied = service.apply({r, {}, false});
  auto t1 = std::chrono::steady_clock::now();
  if (!applied) {
    std::fprintf(stderr, "apply: %s\n", applied.status().toString().c_str());
    return 1;
  }
  RunOptions o;
  o.cohort = "bench";
  o.probeInterval = std::chrono::milliseconds(1);
  auto up = service.up(o);
  auto t2 = std::chrono::steady_clock::now();
  if (!up) {
    std::fprintf(stderr, "up: %s\n", up.status().toString().c_str());
    return 1;
  }
  std::fprintf(out, "%f %f %d\n", Ms(t1 - t0).count(), Ms(t2 - t1).count(), up->ready);
  return up->ready == n ? 0 : 1;
}

bool runChild(int n, Sample* s) {
  char tmpl[] = "/tmp/darasa-bench-XXXXXX";
  if (!mkdtemp(tmpl)) return false;
  std::string resultFile = std::string(tmpl) + "/result";
  pid_t pid = fork();
  if (pid == 0) {
    FILE* f = std::fopen(resultFile.c_str(), "w");
    int rc = provision(n, std::string(tmpl) + "/state", f);
    std::fclose(f);
    _exit(rc);
  }
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (FILE* f = std::fopen(resultFile.c_str(), "r")) {
    ok = ok && std::fscanf(f, "%lf %lf %d", &s->applyMs, &s->upMs, &s->ready) == 3;
    std::fclose(f);
  }
  s->peakKb = ru.ru_maxrss;
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> ns;
  for (int i = 1; i < argc; ++i) ns.push_back(std::atoi(argv[i]));
  if (ns.empty()) ns = {100, 1000, 10000};
  std::printf("%8s %10s %10s %12s %12s %10s %14s\n", "N", "apply ms", "up ms", "up ms/lab", "total ms/lab",
              "peak MB", "per-lab vs N0");
  double basePerLab = 0;
  bool allOk = true;
  for (int n : ns) {
    Sample s;
    if (!runChild(n, &s)) {
      std::printf("%8d failed\n", n);
      allOk = false;
      continue;
    }
    double perLab = (s.applyMs + s.upMs) / n;
    if (basePerLab == 0) basePerLab = perLab;
    std::printf("%8d %10.1f %10.1f %12.3f %12.3f %10.1f %13.2fx\n", n, s.applyMs, s.upMs, s.upMs / n, perLab,
                s.peakKb / 1024.0, perLab / basePerLab);
  }
  std::printf("targets: under 1 ms per lab and under 100 MB at 10,000; per-lab cost flat (ratio near 1x) = linear growth\n");
  return allOk ? 0 : 1;
}
