// API tokens in the state store, on both backends (store_fixture.h): only
// hashes are stored, lookups by hash, revocation, tokens that go with their
// cohort or trainee.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>

#include "fakes/fake_clock.h"
#include "provisioner/store.h"
#include "store_fixture.h"
#include "support/command.h"

namespace darasa {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string hashOf(char fill) { return std::string(32, fill); }

CohortApply cohort(const std::string& name, const std::vector<std::string>& trainees) {
  return testCohort(name, trainees);
}

TokenRecord record(const std::string& id, TokenRole role, const std::string& cohortName = "",
                   const std::string& trainee = "") {
  TokenRecord r;
  r.id = id;
  r.role = role;
  r.cohort = cohortName;
  r.trainee = trainee;
  r.name = "note " + id;
  return r;
}

class TokenStoreTest : public BackendFixture {};
DARASA_STORE_BACKENDS(TokenStoreTest);

TEST_P(TokenStoreTest, TokensAreFoundByTheHashOfTheirSecretOnly) {
  auto store = open();
  ASSERT_TRUE(store->applyCohort(cohort("demo", {"alice", "bob"})).isOk());
  ASSERT_TRUE(store->putToken(record("tok_admin", TokenRole::kAdmin), hashOf('a')).isOk());
  ASSERT_TRUE(store->putToken(record("tok_inst", TokenRole::kInstructor, "demo"), hashOf('i')).isOk());
  ASSERT_TRUE(store->putToken(record("tok_alice", TokenRole::kTrainee, "demo", "alice"), hashOf('t')).isOk());

  auto alice = store->findTokenByHash(hashOf('t'), false);
  ASSERT_TRUE(alice.isOk()) << alice.status().toString();
  EXPECT_EQ(alice->id, "tok_alice");
  EXPECT_EQ(alice->role, TokenRole::kTrainee);
  EXPECT_EQ(alice->cohort, "demo");
  EXPECT_EQ(alice->trainee, "alice");
  EXPECT_EQ(alice->name, "note tok_alice");
  EXPECT_EQ(alice->createdAt, toUnixSeconds(clock_.now()));
  EXPECT_EQ(alice->expiresAt, 0);
  EXPECT_EQ(alice->revokedAt, 0);
  auto admin = store->findTokenByHash(hashOf('a'), false);
  ASSERT_TRUE(admin.isOk());
  EXPECT_EQ(admin->role, TokenRole::kAdmin);
  EXPECT_EQ(admin->cohort, "");
  EXPECT_EQ(store->findTokenByHash(hashOf('x'), false).status().code(), Code::kNotFound);
  EXPECT_EQ(store->findTokenByHash("short", false).status().code(), Code::kNotFound);

  auto list = store->listTokens();
  ASSERT_TRUE(list.isOk());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].id, "tok_admin");

  // The database holds the hashes, never anything else of the secret.
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "74";  // 't'
  EXPECT_EQ(raw().text(onPostgres() ? "SELECT upper(encode(secret_hash, 'hex')) FROM tokens WHERE id = 'tok_alice'"
                                    : "SELECT hex(secret_hash) FROM tokens WHERE id = 'tok_alice'"),
            hex);
}

TEST_P(TokenStoreTest, MalformedOrDanglingTokensAreRefused) {
  auto store = open();
  ASSERT_TRUE(store->applyCohort(cohort("demo", {"alice"})).isOk());
  EXPECT_EQ(store->putToken(record("", TokenRole::kAdmin), hashOf('a')).code(), Code::kInvalid);
  EXPECT_EQ(store->putToken(record("tok_1", TokenRole::kAdmin), "too short").code(), Code::kInvalid);
  EXPECT_EQ(store->putToken(record("tok_1", TokenRole::kAdmin, "demo"), hashOf('a')).code(), Code::kInvalid);
  EXPECT_EQ(store->putToken(record("tok_1", TokenRole::kInstructor), hashOf('a')).code(), Code::kInvalid);
  EXPECT_EQ(store->putToken(record("tok_1", TokenRole::kTrainee, "demo"), hashOf('a')).code(), Code::kInvalid);
  Status s = store->putToken(record("tok_1", TokenRole::kInstructor, "nope"), hashOf('a'));
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("nope"));
  s = store->putToken(record("tok_1", TokenRole::kTrainee, "demo", "mallory"), hashOf('a'));
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("mallory"));
  EXPECT_TRUE(store->listTokens()->empty());

  ASSERT_TRUE(store->putToken(record("tok_1", TokenRole::kAdmin), hashOf('a')).isOk());
  EXPECT_EQ(store->putToken(record("tok_1", TokenRole::kAdmin), hashOf('b')).code(), Code::kConflict);
  EXPECT_EQ(store->putToken(record("tok_2", TokenRole::kAdmin), hashOf('a')).code(), Code::kConflict);
  EXPECT_EQ(store->listTokens()->size(), 1u);
}

TEST_P(TokenStoreTest, RevocationIsRecordedOnceAndKeepsTheRow) {
  auto store = open();
  ASSERT_TRUE(store->putToken(record("tok_1", TokenRole::kAdmin), hashOf('a')).isOk());
  const int64_t first = toUnixSeconds(clock_.now());
  ASSERT_TRUE(store->revokeToken("tok_1").isOk());
  clock_.advance(std::chrono::hours(1));
  ASSERT_TRUE(store->revokeToken("tok_1").isOk());  // idempotent
  auto t = store->findTokenByHash(hashOf('a'), false);
  ASSERT_TRUE(t.isOk());  // the caller decides what a revoked token gets
  EXPECT_EQ(t->revokedAt, first);
  EXPECT_EQ(store->revokeToken("tok_unknown").code(), Code::kNotFound);
}

TEST_P(TokenStoreTest, LastUseIsRecordedToTheMinuteOnlyWhenAsked) {
  auto store = open();
  ASSERT_TRUE(store->putToken(record("tok_1", TokenRole::kAdmin), hashOf('a')).isOk());
  EXPECT_EQ(store->findTokenByHash(hashOf('a'), false)->lastUsedAt, 0);
  EXPECT_EQ(store->findTokenByHash(hashOf('a'), false)->lastUsedAt, 0);
  const int64_t t0 = toUnixSeconds(clock_.now());
  EXPECT_EQ(store->findTokenByHash(hashOf('a'), true)->lastUsedAt, t0);
  clock_.advance(std::chrono::seconds(30));
  EXPECT_EQ(store->findTokenByHash(hashOf('a'), true)->lastUsedAt, t0);
  clock_.advance(std::chrono::seconds(31));
  EXPECT_EQ(store->findTokenByHash(hashOf('a'), true)->lastUsedAt, t0 + 61);
  EXPECT_EQ(store->listTokens()->front().lastUsedAt, t0 + 61);
}

TEST_P(TokenStoreTest, TokensGoWithTheirCohortAndTheirTrainee) {
  auto store = open();
  ASSERT_TRUE(store->applyCohort(cohort("demo", {"alice", "bob"})).isOk());
  ASSERT_TRUE(store->applyCohort(cohort("other", {"carol"})).isOk());
  ASSERT_TRUE(store->putToken(record("tok_admin", TokenRole::kAdmin), hashOf('a')).isOk());
  ASSERT_TRUE(store->putToken(record("tok_inst", TokenRole::kInstructor, "demo"), hashOf('i')).isOk());
  ASSERT_TRUE(store->putToken(record("tok_alice", TokenRole::kTrainee, "demo", "alice"), hashOf('1')).isOk());
  ASSERT_TRUE(store->putToken(record("tok_bob", TokenRole::kTrainee, "demo", "bob"), hashOf('2')).isOk());
  ASSERT_TRUE(store->putToken(record("tok_carol", TokenRole::kTrainee, "other", "carol"), hashOf('3')).isOk());

  // A changed apply that keeps alice and drops bob: bob's token goes, the rest stay.
  auto changed = cohort("demo", {"alice"});
  changed.trainees[0].name = "Alice Renamed";
  ASSERT_TRUE(store->applyCohort(changed).isOk());
  EXPECT_TRUE(store->findTokenByHash(hashOf('1'), false).isOk());
  EXPECT_EQ(store->findTokenByHash(hashOf('2'), false).status().code(), Code::kNotFound);
  EXPECT_TRUE(store->findTokenByHash(hashOf('i'), false).isOk());

  // Deleting the cohort takes its instructor's and trainees' tokens with it,
  // so that a later cohort of the same name does not inherit them.
  ASSERT_TRUE(store->markDestroyed("demo.alice").isOk());
  ASSERT_TRUE(store->markDestroyed("demo.bob").isOk());
  ASSERT_TRUE(store->deleteCohort("demo").isOk());
  std::vector<std::string> ids;
  auto tokens = store->listTokens();  // kept alive: a range-for over *temporary would dangle
  ASSERT_TRUE(tokens.isOk());
  for (const auto& t : tokens.value()) ids.push_back(t.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"tok_admin", "tok_carol"}));
}

}  // namespace
}  // namespace darasa
