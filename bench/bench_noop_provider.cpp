// Provisioning N labs through the Reconciler with a no-op in-process provider
// (every call succeeds at once) and an in-memory journal: the core's own cost
// per lab (planning, worker pool, call threads with deadlines, journal and
// event calls), its peak memory, and whether both grow linearly with N.
//
// Each N runs in a forked child so that its peak RSS (VmHWM) is its own.
// Usage: bench_noop_provider [N...]   (default 100 1000 10000)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fakes/memory_journal.h"
#include "provisioner/clock.h"
#include "provisioner/events.h"
#include "provisioner/planner.h"
#include "provisioner/reconciler.h"

namespace {

using namespace darasa;

// Instant success for every call; keeps labs in a hash map so list() and
// create() stay O(1) per lab and the numbers measure the core, not the fake.
class NoopProvider : public Provider {
 public:
  ProviderInfo info() const override {
    ProviderInfo i;
    i.name = "noop";
    i.capabilities.stopStart = true;
    i.maxParallel = 4;
    return i;
  }
  Status usable() override { return Status::ok(); }
  Status validate(const LabSpec&) override { return Status::ok(); }
  Result<ObservedLab> create(const LabSpec& spec, const Deadline&) override {
    std::lock_guard lk(mu_);
    auto [it, made] = labs_.try_emplace(spec.labId);
    if (made) {
      ObservedLab& o = it->second;
      o.labId = spec.labId;
      o.resourceId = "noop-" + std::to_string(++next_);
      o.state = ObservedState::kRunning;
      o.labels = labelsForSpec(spec);
      o.generation = spec.generation;
      o.endpoints.push_back(Endpoint{"ssh", "tcp", "127.0.0.1", 20000 + static_cast<int>(next_ % 40000)});
    }
    return it->second;
  }
  Result<ObservedLab> inspect(const std::string& labId, const Deadline&) override {
    std::lock_guard lk(mu_);
    auto it = labs_.find(labId);
    if (it == labs_.end()) return notFoundError(labId);
    return it->second;
  }
  Result<std::vector<ObservedLab>> list(const LabelSelector& selector, const Deadline&) override {
    std::lock_guard lk(mu_);
    std::vector<ObservedLab> out;
    out.reserve(labs_.size());
    for (const auto& [id, o] : labs_)
      if (selector.matches(o.labels)) out.push_back(o);
    return out;
  }
  Status start(const std::string&, const Deadline&) override { return Status::ok(); }
  Status stop(const std::string&, const Deadline&) override { return Status::ok(); }
  Status destroy(const std::string& labId, const Deadline&) override {
    std::lock_guard lk(mu_);
    labs_.erase(labId);
    return Status::ok();
  }
  Status probe(const LabSpec&, const Deadline&) override { return Status::ok(); }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, ObservedLab> labs_;
  uint64_t next_ = 0;
};

// Counts events the way a progress bar would consume them.
class CountingSink : public EventSink {
 public:
  void onEvent(const Event& e) override {
    if (e.kind == EventKind::kReady) ++ready;
  }
  int ready = 0;
};

LabSpec spec(int i) {
  char trainee[16];
  std::snprintf(trainee, sizeof trainee, "t%05d", i);
  LabSpec s;
  s.cohort = "bench";
  s.trainee = trainee;
  s.labId = s.cohort + "." + s.trainee;
  s.generation = 1;
  s.templateName = "bench";
  s.templateHash = "sha256:bench";
  s.provider = "noop";
  s.image = "localhost/bench:1";
  s.ports = {PortSpec{"ssh", 22, "tcp"}};
  s.readiness.tcpPort = "ssh";
  s.labels = labelsForSpec(s);
  return s;
}

// kB from /proc/self/status ("VmHWM:" peak, "VmRSS:" now).
long procStatusKb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::strtol(line.c_str() + std::string(key).size(), nullptr, 10);
  return -1;
}

double cpuMs() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const timeval& t) { return t.tv_sec * 1000.0 + t.tv_usec / 1000.0; };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

struct Sample {
  int n = 0;
  double provisionMs = 0;  // first run: create + probe every lab
  double steadyMs = 0;     // second run: one pass that finds nothing to do
  double provisionCpuMs = 0;  // CPU time (user + system, all threads) of the first run
  long baseKb = 0;         // RSS before the labs exist
  long peakKb = 0;         // VmHWM after both runs
  int ok = 0;              // 1 when both runs converged as expected
};

Sample measure(int n) {
  Sample s;
  s.n = n;
  s.baseKb = procStatusKb("VmRSS:");
  NoopProvider provider;
  MemoryJournal journal;
  CountingSink sink;
  ReconcilerOptions options;  // defaults: parallelism from the provider (4)
  std::vector<LabSpec> specs;
  specs.reserve(n);
  for (int i = 0; i < n; ++i) specs.push_back(spec(i));

  double cpu0 = cpuMs();
  auto t0 = std::chrono::steady_clock::now();
  ReconcileReport first;
  {
    Reconciler r(provider, journal, &sink, options, SystemClock::instance());
    first = r.run(journal.planned(specs, DesiredState::kRunning), LabelSelector::cohort("bench"));
  }
  auto t1 = std::chrono::steady_clock::now();
  s.provisionCpuMs = cpuMs() - cpu0;
  ReconcileReport second;
  {
    Reconciler r(provider, journal, &sink, options, SystemClock::instance());
    second = r.run(journal.planned(specs, DesiredState::kRunning), LabelSelector::cohort("bench"));
  }
  auto t2 = std::chrono::steady_clock::now();

  s.provisionMs = std::chrono::duration<double, std::milli>(t1 - t0).count();
  s.steadyMs = std::chrono::duration<double, std::milli>(t2 - t1).count();
  s.peakKb = procStatusKb("VmHWM:");
  s.ok = first.converged && first.count(ActionKind::kCreate) == n && first.failures.empty() &&
         sink.ready == n && second.converged && second.passes == 1;
  if (!s.ok)
    std::fprintf(stderr, "N=%d: unexpected result: converged=%d creates=%d failures=%zu status=%s\n", n,
                 first.converged, first.count(ActionKind::kCreate), first.failures.size(),
                 first.status.toString().c_str());
  return s;
}

// Runs measure(n) in a child; its result comes back through a pipe.
bool measureInChild(int n, Sample* out) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    close(fds[0]);
    Sample s = measure(n);
    ssize_t w = write(fds[1], &s, sizeof s);
    _exit(w == static_cast<ssize_t>(sizeof s) ? 0 : 1);
  }
  close(fds[1]);
  ssize_t got = read(fds[0], out, sizeof *out);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return got == static_cast<ssize_t>(sizeof *out) && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> ns;
  for (int i = 1; i < argc; ++i) ns.push_back(std::atoi(argv[i]));
  if (ns.empty()) ns = {100, 1000, 10000};

  std::printf("Reconciler with a no-op provider (parallelism 4, %ld cores; best of 3 runs per N)\n", sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%8s %12s %12s %12s %12s %12s %10s %10s %12s\n", "N", "provision", "per lab", "CPU per lab",
              "steady pass", "per lab", "base RSS", "peak RSS", "RSS per lab");
  std::vector<Sample> samples;
  bool allOk = true;
  for (int n : ns) {
    // Best of kRepeats: the machine is shared, and noise only ever adds time.
    constexpr int kRepeats = 3;
    Sample s;
    for (int rep = 0; rep < kRepeats; ++rep) {
      Sample one;
      if (!measureInChild(n, &one)) {
        std::fprintf(stderr, "N=%d: child failed\n", n);
        return 1;
      }
      allOk = allOk && one.ok;
      if (rep == 0) {
        s = one;
        continue;
      }
      s.provisionMs = std::min(s.provisionMs, one.provisionMs);
      s.provisionCpuMs = std::min(s.provisionCpuMs, one.provisionCpuMs);
      s.steadyMs = std::min(s.steadyMs, one.steadyMs);
      s.peakKb = std::max(s.peakKb, one.peakKb);
    }
    samples.push_back(s);
    std::printf("%8d %10.1fms %10.1fus %10.1fus %10.1fms %10.2fus %8.1fMB %8.1fMB %10.2fkB\n", s.n,
                s.provisionMs, 1000.0 * s.provisionMs / s.n, 1000.0 * s.provisionCpuMs / s.n, s.steadyMs, 1000.0 * s.steadyMs / s.n, s.baseKb / 1024.0,
                s.peakKb / 1024.0, static_cast<double>(s.peakKb - s.baseKb) / s.n);
  }
  if (samples.size() > 1) {
    const Sample& a = samples.front();
    const Sample& b = samples.back();
    double timeRatio = (b.provisionMs / b.n) / (a.provisionMs / a.n);
    double cpuRatio = (b.provisionCpuMs / b.n) / (a.provisionCpuMs / a.n);
    std::printf("linearity: per-lab provisioning time at N=%d is %.2fx that at N=%d (CPU time %.2fx; 1.0 = linear)\n",
                b.n, timeRatio, a.n, cpuRatio);
    if (samples.size() > 2) {
      const Sample& m = samples[samples.size() - 2];
      std::printf("           and %.2fx that at N=%d\n", (b.provisionMs / b.n) / (m.provisionMs / m.n), m.n);
    }
  }
  const Sample& last = samples.back();
  bool fast = 1000.0 * last.provisionMs / last.n < 1000.0;
  bool small = last.peakKb / 1024.0 < 100.0;
  std::printf("targets at N=%d: per lab < 1 ms: %s; peak RSS < 100 MB: %s\n", last.n, fast ? "yes" : "NO",
              small ? "yes" : "NO");
  return allOk && fast && small ? 0 : 1;
}
