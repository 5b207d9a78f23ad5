// Quota and admission arithmetic (provisioner/quota.h): exact units in the
// refusal messages, fair admission order, ETAs, lab-hours and budget levels.
#include "provisioner/quota.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace darasa {
namespace {

constexpr int64_t kMi = int64_t{1} << 20;
constexpr int64_t kGi = int64_t{1} << 30;

Resources res(int64_t cpuMillis, int64_t memoryBytes) {
  Resources r;
  r.cpuMillis = cpuMillis;
  r.memoryBytes = memoryBytes;
  return r;
}

ProviderCapacity cap(int64_t labs, int64_t cpuMillis, int64_t memoryBytes, std::string source = "") {
  ProviderCapacity c;
  c.maxLabs = labs;
  c.cpuMillis = cpuMillis;
  c.memoryBytes = memoryBytes;
  c.source = std::move(source);
  return c;
}

TEST(QuotaFitTest, FitsExactlyAtTheCapacity) {
  // 4 labs × 500m = 2 CPUs and 4 × 1.5Gi = 6Gi: exactly the capacity.
  EXPECT_TRUE(checkCohortFits("c", "local", res(500, 1536 * kMi), 4, 0, {}, cap(0, 2000, 6 * kGi)).isOk());
}

TEST(QuotaFitTest, RefusalShowsTheArithmeticInThePeoplesUnits) {
  Status s = checkCohortFits("big", "local", res(500, 1536 * kMi), 5, 0, {}, cap(0, 2000, 6 * kGi, "host: 2 CPUs"));
  ASSERT_EQ(s.code(), Code::kQuota);
  EXPECT_NE(s.message().find("cohort big needs 5 labs at once × 500m CPUs = 2.5 CPUs, but provider local "
                             "(host: 2 CPUs) has 2 CPUs"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("× 1.5Gi memory = 7.5Gi, but provider local (host: 2 CPUs) has 6Gi"), std::string::npos)
      << s.message();
  // The largest class that fits: 4 labs.
  EXPECT_NE(s.message().find("set spec.quota.maxLabs to 4"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--allow-partial"), std::string::npos);
}

TEST(QuotaFitTest, MaxLabsBoundsWhatMustFitAtOnce) {
  // 60 trainees but at most 4 at once: 4 × 500m fits 2 CPUs.
  EXPECT_TRUE(checkCohortFits("c", "local", res(500, 0), 60, 4, {}, cap(0, 2000, 0)).isOk());
  Status s = checkCohortFits("c", "local", res(500, 0), 60, 5, {}, cap(0, 2000, 0));
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("needs 5 labs at once (quota.maxLabs 5)"), std::string::npos) << s.message();
}

TEST(QuotaFitTest, OtherCohortsPromisesCount) {
  Demand others;
  others.add(res(1000, kGi));
  others.add(res(1000, kGi));
  Status s = checkCohortFits("c", "docker", res(1000, 0), 1, 0, others, cap(40, 2000, 0));
  ASSERT_EQ(s.code(), Code::kQuota);
  EXPECT_NE(s.message().find("has 2 CPUs, 2 CPUs of them promised to other cohorts"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("nothing of this cohort fits"), std::string::npos) << s.message();
  // A lab-count cap alone.
  Status labs = checkCohortFits("c", "docker", res(0, 0), 41, 0, {}, cap(40, 0, 0));
  EXPECT_NE(labs.message().find("runs at most 40 labs, 0 of them promised"), std::string::npos) << labs.message();
}

TEST(QuotaFitTest, NoCapacityMeansNoLimit) {
  EXPECT_TRUE(checkCohortFits("c", "p", res(64000, 512 * kGi), 500, 0, {}, cap(0, 0, 0)).isOk());
}

AdmissionRequest req(std::string id, std::string cohort, int64_t at, int64_t prio = 0, Resources r = res(1000, 0)) {
  AdmissionRequest a;
  a.labId = std::move(id);
  a.cohort = std::move(cohort);
  a.queuedAt = at;
  a.priority = prio;
  a.resources = r;
  return a;
}

TEST(AdmissionTest, FortyOfSixtyAdmittedTwentyQueuedInOrder) {
  std::vector<AdmissionRequest> rs;
  for (int i = 0; i < 60; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "c.t%02d", i);
    rs.push_back(req(id, "c", 100 + i, 0, res(0, 0)));
  }
  auto d = admit(rs, cap(40, 0, 0), {});
  ASSERT_EQ(d.admitted.size(), 40u);
  ASSERT_EQ(d.waiting.size(), 20u);
  EXPECT_EQ(d.admitted.front(), "c.t00");
  EXPECT_EQ(d.admitted.back(), "c.t39");
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(d.waiting[i].position, i + 1);
    EXPECT_EQ(d.waiting[i].labId, "c.t" + std::to_string(40 + i));
    EXPECT_EQ(d.waiting[i].reason, "provider is full: no lab slot free");
  }
}

TEST(AdmissionTest, TwoCohortsShareRoundRobin) {
  std::vector<AdmissionRequest> rs;
  for (int i = 0; i < 5; ++i) rs.push_back(req("a." + std::to_string(i), "a", 10 + i));
  for (int i = 0; i < 5; ++i) rs.push_back(req("b." + std::to_string(i), "b", 20 + i));
  auto d = admit(rs, cap(4, 0, 0), {});
  EXPECT_EQ(d.admitted, (std::vector<std::string>{"a.0", "b.0", "a.1", "b.1"}));
  ASSERT_EQ(d.waiting.size(), 6u);
  EXPECT_EQ(d.waiting[0].labId, "a.2");
  EXPECT_EQ(d.waiting[1].labId, "b.2");
}

TEST(AdmissionTest, PriorityComesFirstAndCohortMaxLabsDoesNotBlockOthers) {
  std::vector<AdmissionRequest> rs = {req("low.1", "low", 1), req("low.2", "low", 2), req("high.1", "high", 50, 5),
                                      req("high.2", "high", 51, 5)};
  // high may run 1 more (maxLabs 3, 2 running).
  auto d = admit(rs, cap(10, 0, 0), {{"high", {2, 3}}});
  EXPECT_EQ(d.admitted, (std::vector<std::string>{"high.1", "low.1", "low.2"}));
  ASSERT_EQ(d.waiting.size(), 1u);
  EXPECT_EQ(d.waiting[0].labId, "high.2");
  EXPECT_EQ(d.waiting[0].reason, "cohort high runs its quota.maxLabs of 3 labs");
}

TEST(AdmissionTest, ABigLabIsNotOvertakenBySmallerOnes) {
  std::vector<AdmissionRequest> rs = {req("a.big", "a", 1, 0, res(2000, 0)), req("b.small", "b", 2, 0, res(500, 0))};
  auto d = admit(rs, cap(0, 1500, 0), {});
  EXPECT_TRUE(d.admitted.empty());
  ASSERT_EQ(d.waiting.size(), 2u);
  EXPECT_EQ(d.waiting[0].reason, "provider is full: needs 2 CPUs, 1.5 CPUs free");
  EXPECT_EQ(d.waiting[1].labId, "b.small");
}

TEST(AdmissionTest, EstimatedWaitNeedsEnoughKnownFrees) {
  EXPECT_EQ(estimateWait(1, {600, 60, 3600}, 5), 65);
  EXPECT_EQ(estimateWait(3, {600, 60, 3600}, 5), 3605);
  EXPECT_FALSE(estimateWait(4, {600, 60, 3600}, 5).has_value());
  EXPECT_EQ(estimateWait(1, {-30}, 5), 5);  // a lab overdue to stop: only provisioning is left
}

TEST(QuotaLevelTest, LabHoursWarnAtEightyPercentAndStopAtTheLimit) {
  EXPECT_EQ(checkLabHours("trainee alice", 0, 0).level, QuotaLevel::kOk);  // no quota
  EXPECT_EQ(checkLabHours("trainee alice", 5759, 7200).level, QuotaLevel::kOk);
  QuotaCheck w = checkLabHours("trainee alice", 5760, 7200);  // 1.6 h
  EXPECT_EQ(w.level, QuotaLevel::kWarning);
  EXPECT_EQ(w.message, "trainee alice used 1h36m of 2h lab-hours (80%)");
  QuotaCheck x = checkLabHours("trainee alice", 7200, 7200);
  EXPECT_EQ(x.level, QuotaLevel::kExhausted);
  EXPECT_EQ(x.message, "trainee alice used 2h of 2h lab-hours (100%)");
}

TEST(QuotaLevelTest, BudgetInThousandths) {
  QuotaCheck b = checkBudget("cyber", 40500, 50000);
  EXPECT_EQ(b.level, QuotaLevel::kWarning);
  EXPECT_EQ(b.message, "cohort cyber used 40.5 of 50 budget (81%)");
  EXPECT_EQ(checkBudget("cyber", 50001, 50000).level, QuotaLevel::kExhausted);
}

}  // namespace
}  // namespace darasa
