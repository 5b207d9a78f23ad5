// Metrics: the Prometheus text exposition is parsed back (HELP/TYPE per
// family, label escapes, cumulative histogram buckets) and its values are
// checked against what was fed in: events, reconcile durations, requests, the
// labs of a real store.
#include "provisioner/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "fakes/fake_clock.h"
#include "support/command.h"

namespace darasa {
namespace {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

struct Family {
  std::string help;
  std::string type;
  std::vector<Sample> samples;
};

// A strict reader of the 0.0.4 text format, enough for what Metrics writes:
// fails the test on anything it does not understand.
std::map<std::string, Family> parse(const std::string& text) {
  std::map<std::string, Family> families;
  std::istringstream in(text);
  std::string line;
  std::string current;
  std::set<std::string> typed;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.rfind("# HELP ", 0) == 0) {
      std::string rest = line.substr(7);
      auto sp = rest.find(' ');
      current = rest.substr(0, sp);
      EXPECT_EQ(families.count(current), 0u) << "family twice: " << current;
      families[current].help = sp == std::string::npos ? "" : rest.substr(sp + 1);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      auto sp = rest.find(' ');
      std::string name = rest.substr(0, sp);
      EXPECT_EQ(name, current) << "TYPE without its HELP first: " << line;
      EXPECT_TRUE(typed.insert(name).second) << "TYPE twice: " << name;
      families[name].type = rest.substr(sp + 1);
      continue;
    }
    EXPECT_NE(line[0], '#') << line;
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') s.name += line[i++];
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::string key;
        while (i < line.size() && line[i] != '=') key += line[i++];
        EXPECT_EQ(line.substr(i, 2), "=\"") << line;
        i += 2;
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            ++i;
            EXPECT_LT(i, line.size());
            char c = line[i];
            EXPECT_TRUE(c == '\\' || c == '"' || c == 'n') << "bad escape in " << line;
            value += c == 'n' ? '\n' : c;
          } else {
            value += line[i];
          }
          ++i;
        }
        ++i;  // closing quote
        s.labels[key] = value;
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;  // '}'
    }
    EXPECT_EQ(line[i], ' ') << line;
    std::string v = line.substr(i + 1);
    s.value = v == "+Inf" ? INFINITY : v == "-Inf" ? -INFINITY : std::stod(v);
    // The sample belongs to the family announced last (histograms add suffixes).
    EXPECT_EQ(s.name.rfind(current, 0), 0u) << s.name << " outside its family " << current;
    families[current].samples.push_back(s);
  }
  for (const auto& [name, f] : families) EXPECT_FALSE(f.type.empty()) << name << " has no TYPE";
  return families;
}

std::optional<double> valueOf(const Family& f, const std::string& name, const Labels& labels) {
  for (const auto& s : f.samples)
    if (s.name == name && s.labels == labels) return s.value;
  return std::nullopt;
}

Event event(EventKind kind, const std::string& lab, ActionKind action, Status status = {}) {
  Event e;
  e.kind = kind;
  e.labId = lab;
  e.action = action;
  e.status = std::move(status);
  return e;
}

TEST(MetricsTest, AnEmptyRegistryStillDescribesEveryFamily) {
  FakeClock clock;
  Metrics m(clock);
  auto f = parse(m.render(nullptr));
  EXPECT_EQ(f.count("darasa_labs"), 0u);  // no store, no lab gauge
  EXPECT_EQ(f["darasa_reconcile_duration_seconds"].type, "histogram");
  EXPECT_EQ(f["darasa_time_to_ready_seconds"].type, "histogram");
  EXPECT_EQ(f["darasa_queue_depth"].type, "gauge");
  EXPECT_EQ(f["darasa_provider_errors_total"].type, "counter");
  EXPECT_EQ(f["darasa_http_requests_total"].type, "counter");
  EXPECT_EQ(valueOf(f["darasa_reconcile_duration_seconds"], "darasa_reconcile_duration_seconds_count", {}), 0);
  EXPECT_EQ(valueOf(f["darasa_reconcile_duration_seconds"], "darasa_reconcile_duration_seconds_bucket",
                    {{"le", "+Inf"}}),
            0);
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  FakeClock clock;
  Metrics m(clock);
  for (int ms : {3, 40, 40, 700, 2000, 900000}) m.observeReconcile(std::chrono::milliseconds(ms));
  auto f = parse(m.render(nullptr));
  const Family& h = f["darasa_reconcile_duration_seconds"];
  const std::string bucket = "darasa_reconcile_duration_seconds_bucket";
  EXPECT_EQ(valueOf(h, bucket, {{"le", "0.005"}}), 1);
  EXPECT_EQ(valueOf(h, bucket, {{"le", "0.025"}}), 1);
  EXPECT_EQ(valueOf(h, bucket, {{"le", "0.05"}}), 3);
  EXPECT_EQ(valueOf(h, bucket, {{"le", "1"}}), 4);
  EXPECT_EQ(valueOf(h, bucket, {{"le", "2.5"}}), 5);
  EXPECT_EQ(valueOf(h, bucket, {{"le", "600"}}), 5);  // 900 s is beyond the last bound
  EXPECT_EQ(valueOf(h, bucket, {{"le", "+Inf"}}), 6);
  EXPECT_EQ(valueOf(h, "darasa_reconcile_duration_seconds_count", {}), 6);
  EXPECT_NEAR(*valueOf(h, "darasa_reconcile_duration_seconds_sum", {}), 0.003 + 0.08 + 0.7 + 2 + 900, 1e-9);
  // Buckets never decrease and end with +Inf.
  double last = -1;
  std::string lastLe;
  for (const auto& s : h.samples) {
    if (s.name != bucket) continue;
    EXPECT_GE(s.value, last);
    last = s.value;
    lastLe = s.labels.at("le");
  }
  EXPECT_EQ(lastLe, "+Inf");
}

TEST(MetricsTest, EventsGiveTimeToReadyErrorsByCodeAndActionOutcomes) {
  FakeClock clock;
  Metrics m(clock);
  m.onEvent(event(EventKind::kActionStarted, "c.a", ActionKind::kCreate));
  m.onEvent(event(EventKind::kActionStarted, "c.b", ActionKind::kCreate));
  m.onEvent(event(EventKind::kActionStarted, "c.d", ActionKind::kStop));
  clock.advance(std::chrono::milliseconds(1500));
  Event retry = event(EventKind::kRetrying, "c.b", ActionKind::kCreate, unavailableError("engine busy"));
  m.onEvent(retry);
  m.onEvent(event(EventKind::kReady, "c.a", ActionKind::kCreate));  // 1.5 s
  m.onEvent(event(EventKind::kStopped, "c.d", ActionKind::kStop));
  clock.advance(std::chrono::seconds(40));
  m.onEvent(event(EventKind::kReady, "c.b", ActionKind::kCreate));  // 41.5 s
  m.onEvent(event(EventKind::kActionStarted, "c.e", ActionKind::kStart));
  m.onEvent(event(EventKind::kFailed, "c.e", ActionKind::kStart, timeoutError("no answer")));
  m.onEvent(event(EventKind::kReady, "c.e", ActionKind::kStart));  // no start left: not observed

  auto f = parse(m.render(nullptr));
  const Family& ready = f["darasa_time_to_ready_seconds"];
  EXPECT_EQ(valueOf(ready, "darasa_time_to_ready_seconds_count", {}), 2);
  EXPECT_NEAR(*valueOf(ready, "darasa_time_to_ready_seconds_sum", {}), 43.0, 1e-9);
  EXPECT_EQ(valueOf(ready, "darasa_time_to_ready_seconds_bucket", {{"le", "2"}}), 1);
  EXPECT_EQ(valueOf(ready, "darasa_time_to_ready_seconds_bucket", {{"le", "30"}}), 1);
  EXPECT_EQ(valueOf(ready, "darasa_time_to_ready_seconds_bucket", {{"le", "60"}}), 2);

  const Family& errors = f["darasa_provider_errors_total"];
  EXPECT_EQ(valueOf(errors, "darasa_provider_errors_total", {{"code", "unavailable"}}), 1);
  EXPECT_EQ(valueOf(errors, "darasa_provider_errors_total", {{"code", "timeout"}}), 1);
  EXPECT_EQ(errors.samples.size(), 2u);

  const Family& actions = f["darasa_actions_total"];
  EXPECT_EQ(valueOf(actions, "darasa_actions_total", {{"action", "create"}, {"outcome", "ok"}}), 2);
  EXPECT_EQ(valueOf(actions, "darasa_actions_total", {{"action", "stop"}, {"outcome", "ok"}}), 1);
  EXPECT_EQ(valueOf(actions, "darasa_actions_total", {{"action", "start"}, {"outcome", "failed"}}), 1);
}

TEST(MetricsTest, RequestsQueueDepthAndGaugesWithEscapedLabels) {
  FakeClock clock;
  Metrics m(clock);
  m.countRequest("/api/v1/labs/{lab}", 200);
  m.countRequest("/api/v1/labs/{lab}", 200);
  m.countRequest("/api/v1/labs/{lab}", 403);
  m.setQueueDepth(17);
  const std::string odd = "back\\slash \"quoted\"\nnew line";
  m.setGauge("darasa_quota_used", "Quota use.\nSecond line", {{"cohort", odd}}, 0.25);
  m.setGauge("darasa_quota_used", "Quota use.\nSecond line", {{"cohort", "plain"}}, 3);
  m.setGauge("darasa_labs", "clashes with a built-in family", {}, 1);
  m.setGauge("bad name!", "odd name", {}, 2);

  std::string text = m.render(nullptr);
  EXPECT_THAT(text, ::testing::HasSubstr("# HELP darasa_quota_used Quota use.\\nSecond line\n"));
  auto f = parse(text);
  const Family& req = f["darasa_http_requests_total"];
  EXPECT_EQ(valueOf(req, "darasa_http_requests_total", {{"route", "/api/v1/labs/{lab}"}, {"code", "200"}}), 2);
  EXPECT_EQ(valueOf(req, "darasa_http_requests_total", {{"route", "/api/v1/labs/{lab}"}, {"code", "403"}}), 1);
  EXPECT_EQ(valueOf(f["darasa_queue_depth"], "darasa_queue_depth", {}), 17);
  EXPECT_EQ(valueOf(f["darasa_quota_used"], "darasa_quota_used", {{"cohort", odd}}), 0.25);
  EXPECT_EQ(valueOf(f["darasa_quota_used"], "darasa_quota_used", {{"cohort", "plain"}}), 3);
  EXPECT_EQ(f.count("darasa_labs"), 0u);  // ignored, not a second family
  EXPECT_EQ(valueOf(f["bad_name_"], "bad_name_", {}), 2);
}

TEST(MetricsTest, LabsByStateAndProviderComeFromTheStore) {
  testing::TempDir dir;
  FakeClock clock;
  auto store = Store::open(dir.path(), OpenMode::kCreate, clock);
  ASSERT_TRUE(store.isOk());
  CohortApply a;
  a.name = "demo";
  a.templateName = "t";
  a.snapshotJson = "{}";
  a.snapshotHash = "sha256:0";
  a.cohortSpecJson = "{}";
  a.provider = "fake";
  for (const char* id : {"a", "b", "c"}) {
    a.trainees.push_back(Trainee{id, id, ""});
    a.labs.push_back(LabApply{std::string("demo.") + id, id, "{}"});
  }
  ASSERT_TRUE((*store)->applyCohort(a).isOk());
  ASSERT_TRUE((*store)->markReady("demo.a", clock.now()).isOk());
  ASSERT_TRUE((*store)->markReady("demo.b", clock.now()).isOk());

  Metrics m(clock);
  auto f = parse(m.render(store->get()));
  const Family& labs = f["darasa_labs"];
  EXPECT_EQ(labs.type, "gauge");
  EXPECT_EQ(valueOf(labs, "darasa_labs", {{"provider", "fake"}, {"state", "ready"}}), 2);
  EXPECT_EQ(valueOf(labs, "darasa_labs", {{"provider", "fake"}, {"state", "pending"}}), 1);
  EXPECT_EQ(valueOf(labs, "darasa_labs", {{"provider", "fake"}, {"state", "failed"}}), 0);
  EXPECT_EQ(labs.samples.size(), 6u);  // every phase of the one provider
}

}  // namespace
}  // namespace darasa
