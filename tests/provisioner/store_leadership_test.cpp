// Leadership among daemons on one state (provisioner/leadership.h) and the
// store's fence: on SQLite the holder of the state lock leads at once; on a
// real PostgreSQL two daemons (two stores, two dedicated connections)
// elect one leader, the other takes over when the leader's session dies,
// every take-over raises the term that intents carry, and a deposed
// leader's late writes are refused with nothing changed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "provisioner/leadership.h"
#include "store_fixture.h"

namespace darasa {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using SteadyClock = std::chrono::steady_clock;

CohortApply oneLab(const std::string& cohort) { return testCohort(cohort, {"alice"}); }

// Every leader-only write the store has, each as one call on lab `lab`.
std::vector<std::pair<std::string, std::function<Status(Store&)>>> leaderWrites(const std::string& lab,
                                                                               int64_t openOperation) {
  return {
      {"beginOperation", [=](Store& s) { return s.beginOperation(lab, "create").status(); }},
      {"endOperation", [=](Store& s) { return s.endOperation(openOperation, Status::ok()); }},
      {"recordObserved", [=](Store& s) { return s.recordObserved(lab, LabPhase::kReady, "late", "[]", 1); }},
      {"recordError", [=](Store& s) { return s.recordError(lab, unavailableError("late")); }},
      {"clearError", [=](Store& s) { return s.clearError(lab); }},
      {"markReady", [=](Store& s) { return s.markReady(lab, SystemClock::instance().now()); }},
      {"markDestroyed", [=](Store& s) { return s.markDestroyed(lab); }},
      {"forgetLab", [=](Store& s) { return s.forgetLab(lab); }},
      {"recordQueue", [=](Store& s) { return s.recordQueue({QueueEntry{lab, 1, "late", 0}}); }},
      {"recordActivity", [=](Store& s) { return s.recordActivity(lab, 12345); }},
      {"stopWithReason", [=](Store& s) { return s.stopWithReason({lab}, "late"); }},
      {"putCredentials", [=](Store& s) {
         CredentialSet c;
         c.user = "late";
         return s.putCredentials(lab.substr(0, lab.find('.')), "alice", c);
       }},
  };
}

// What a late write could have changed, as one string.
std::string labAndJournal(Store& s, const std::string& lab) {
  auto l = s.getLab(lab);
  auto ops = s.listOperations("", 1000);
  auto creds = s.listCredentials(lab.substr(0, lab.find('.')));
  std::string out = l ? std::string(labPhaseName(l->phase)) + "|" + l->resourceId + "|" + l->lastError.message() +
                            "|" + std::to_string(l->attempts) + "|" + l->stopReason + "|" +
                            std::to_string(l->queuePosition) + "|" + std::to_string(l->lastActiveAt)
                      : l.status().toString();
  for (const auto& o : ops.value()) out += "|op" + std::to_string(o.id) + ":" + std::to_string(static_cast<int>(o.status));
  for (const auto& c : creds.value()) out += "|cred:" + c.user;
  return out;
}

class LeadershipTest : public BackendFixture {};
DARASA_STORE_BACKENDS(LeadershipTest);

TEST_P(LeadershipTest, ALeaderIsFencedWithItsTermAndIntentsCarryIt) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->applyCohort(oneLab("demo")).isOk());
  LeadershipOptions o;
  o.daemonId = "daemon-a";
  o.url = "http://127.0.0.1:1";
  o.interval = 100ms;
  auto lead = Leadership::start(*store, o);
  ASSERT_TRUE(lead.isOk()) << lead.status().toString();
  ASSERT_TRUE((*lead)->waitUntilLeading(20s));
  const int64_t term = (*lead)->term();
  EXPECT_GE(term, 1);
  EXPECT_EQ(store->fence(), term);
  auto record = store->leader();
  ASSERT_TRUE(record.isOk());
  EXPECT_EQ(record->term, term);
  EXPECT_EQ(record->daemon, "daemon-a");
  EXPECT_EQ((*lead)->status().leader.daemon, "daemon-a");

  auto op = store->beginOperation("demo.alice", "create");
  ASSERT_TRUE(op.isOk()) << op.status().toString();
  EXPECT_EQ(store->listOperations().value().back().term, term);
  ASSERT_TRUE(store->endOperation(*op, Status::ok()).isOk());
  ASSERT_TRUE(store->recordObserved("demo.alice", LabPhase::kReady, "r1", "[]", 1).isOk());

  // Stopped: not the leader any more, and every leader-only write says so.
  auto open2 = store->beginOperation("demo.alice", "destroy");
  ASSERT_TRUE(open2.isOk());
  (*lead)->stop();
  EXPECT_FALSE((*lead)->leading());
  const std::string before = labAndJournal(*store, "demo.alice");
  for (const auto& [name, write] : leaderWrites("demo.alice", *open2)) {
    Status s = write(*store);
    EXPECT_EQ(s.code(), Code::kConflict) << name << ": " << s.toString();
  }
  EXPECT_EQ(labAndJournal(*store, "demo.alice"), before);
  // What the API writes is not fenced: users' wishes go to every daemon.
  EXPECT_TRUE(store->setDesired({"demo.alice"}, DesiredState::kStopped).isOk());
  EXPECT_TRUE(store->appendAudit("api", "x", "demo").isOk());
  EXPECT_TRUE(store->applyCohort(oneLab("other")).isOk());
}

TEST_P(LeadershipTest, EachDaemonStartRaisesTheTerm) {
  auto store = open();
  ASSERT_TRUE(store);
  int64_t last = 0;
  for (int i = 0; i < 3; ++i) {
    LeadershipOptions o;
    o.daemonId = "daemon-" + std::to_string(i);
    o.interval = 100ms;
    auto lead = Leadership::start(*store, o);
    ASSERT_TRUE(lead.isOk()) << lead.status().toString();
    ASSERT_TRUE((*lead)->waitUntilLeading(20s));
    EXPECT_GT((*lead)->term(), last);
    last = (*lead)->term();
  }
}

TEST_P(LeadershipTest, ALateWriteUnderAnOldTermIsIgnored) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->applyCohort(oneLab("demo")).isOk());
  LeadershipOptions o;
  o.interval = 100ms;
  auto lead = Leadership::start(*store, o);
  ASSERT_TRUE(lead.isOk()) << lead.status().toString();
  ASSERT_TRUE((*lead)->waitUntilLeading(20s));
  auto op = store->beginOperation("demo.alice", "create");
  ASSERT_TRUE(op.isOk());
  // Another leader took a later term (as a take-over does) while this
  // one's provider call was in flight.
  raw().exec("UPDATE leadership SET term = term + 1, daemon = 'daemon-b'");
  const std::string before = labAndJournal(*store, "demo.alice");
  for (const auto& [name, write] : leaderWrites("demo.alice", *op)) {
    Status s = write(*store);
    EXPECT_EQ(s.code(), Code::kConflict) << name;
    EXPECT_THAT(s.message(), HasSubstr("daemon-b leads now")) << name;
  }
  EXPECT_EQ(labAndJournal(*store, "demo.alice"), before);
}

TEST(SqliteLeadershipTest, TheStateLockHolderLeadsAndASecondDaemonIsRefused) {
  testing::TempDir dir;
  auto a = Store::open(std::filesystem::path(dir.path()), OpenMode::kCreate);
  auto b = Store::open(std::filesystem::path(dir.path()), OpenMode::kCreate);
  ASSERT_TRUE(a.isOk() && b.isOk());
  auto first = Leadership::start(**a, {});
  ASSERT_TRUE(first.isOk()) << first.status().toString();
  EXPECT_TRUE((*first)->leading());
  auto second = Leadership::start(**b, {});
  ASSERT_FALSE(second.isOk());
  EXPECT_EQ(second.status().code(), Code::kConflict);
  EXPECT_THAT(second.status().message(), HasSubstr("another darasa is working on this state"));
}

// ---------------------------------------------------------------- several daemons (PostgreSQL)

class PgLeadershipTest : public StoreFixture {
 protected:
  Backend backend() const override { return Backend::kPostgres; }

  struct Daemon {
    std::unique_ptr<Store> store;
    std::unique_ptr<Leadership> lead;
    std::atomic<int> elected{0}, deposed{0};
    std::mutex mu;
    std::vector<std::string> changes;
  };

  // A daemon connecting as a role of its own (so that a test can cut it
  // off from the database, as a broken network would).
  std::unique_ptr<Daemon> daemon(const std::string& id) {
    const std::string role = roleOf(id);
    raw().exec("CREATE ROLE \"" + role + "\" LOGIN SUPERUSER");
    roles_.push_back(role);
    auto d = std::make_unique<Daemon>();
    StateLocation loc = location();
    loc.url = loc.url.substr(0, loc.url.find("&user=")) + "&user=" + role;
    auto store = Store::open(loc, OpenMode::kCreate, clock_);
    EXPECT_TRUE(store.isOk()) << store.status().toString();
    if (!store) return nullptr;
    d->store = std::move(*store);
    LeadershipOptions o;
    o.daemonId = id;
    o.interval = 100ms;
    Daemon* raw = d.get();
    o.onElected = [raw](int64_t) { ++raw->elected; };
    o.onDeposed = [raw] { ++raw->deposed; };
    o.onChange = [raw](const std::string& c) {
      std::lock_guard lk(raw->mu);
      raw->changes.push_back(c);
    };
    auto l = Leadership::start(*d->store, o);
    EXPECT_TRUE(l.isOk()) << l.status().toString();
    if (!l) return nullptr;
    d->lead = std::move(*l);
    return d;
  }

  // Roles are the cluster's, not the database's: one per test and daemon.
  std::string roleOf(const std::string& id) const { return pg_->name() + "_" + id; }
  void TearDown() override {
    for (const auto& r : roles_)
      raw().exec("ALTER ROLE \"" + r + "\" NOLOGIN; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                 "usename = '" + r + "'; REASSIGN OWNED BY \"" + r + "\" TO postgres; DROP ROLE \"" + r + "\"");
  }
  std::vector<std::string> roles_;

  template <typename Pred>
  bool waitFor(Pred pred, std::chrono::milliseconds timeout) {
    auto until = SteadyClock::now() + timeout;
    while (SteadyClock::now() < until) {
      if (pred()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return pred();
  }

  // Ends the dedicated session of daemon `id` on the server, as a broken
  // network or a killed process would; with `cutOff` it cannot log in again
  // either (the store's own connection, open already, stays).
  void killSessionOf(const std::string& id, bool cutOff = false) {
    if (cutOff) raw().exec("ALTER ROLE \"" + roleOf(id) + "\" NOLOGIN");
    raw().exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'darasa-leader " +
               id + "'");
  }
};

TEST_F(PgLeadershipTest, TwoDaemonsElectOneAndTheOtherTakesOverWhenItsSessionDies) {
  auto a = daemon("daemon-a");
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->lead->waitUntilLeading(20s));
  auto b = daemon("daemon-b");
  ASSERT_TRUE(b);
  std::this_thread::sleep_for(500ms);  // several of b's tries
  EXPECT_TRUE(a->lead->leading());
  EXPECT_FALSE(b->lead->leading());
  EXPECT_EQ(b->store->fence(), Store::kFenced);
  EXPECT_EQ(b->lead->status().leader.daemon, "daemon-a");
  ASSERT_TRUE(a->store->applyCohort(oneLab("demo")).isOk());
  auto op = a->store->beginOperation("demo.alice", "create");
  ASSERT_TRUE(op.isOk());
  const int64_t termA = a->lead->term();

  const auto killed = SteadyClock::now();
  killSessionOf("daemon-a", true);
  ASSERT_TRUE(waitFor([&] { return b->lead->leading(); }, 10s)) << b->lead->status().lastError;
  const auto tookOver = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - killed);
  std::printf("take-over after the leader's session ended: %lld ms\n", static_cast<long long>(tookOver.count()));
  EXPECT_LT(tookOver, 5s);
  EXPECT_GT(b->lead->term(), termA);
  EXPECT_TRUE(waitFor([&] { return a->deposed.load() == 1 && !a->lead->leading(); }, 5s));

  // a's call in flight ends late: its outcome is not stored; b's writes are.
  const std::string before = labAndJournal(*b->store, "demo.alice");
  for (const auto& [name, write] : leaderWrites("demo.alice", *op))
    EXPECT_EQ(write(*a->store).code(), Code::kConflict) << name;
  EXPECT_EQ(labAndJournal(*b->store, "demo.alice"), before);
  EXPECT_TRUE(b->store->endOperation(*op, unavailableError("interrupted")).isOk());
  auto mine = b->store->beginOperation("demo.alice", "create");
  ASSERT_TRUE(mine.isOk());
  EXPECT_EQ(b->store->listOperations().value().back().term, b->lead->term());

  // a follows now (once it can reach the database), and leads again once b is gone.
  raw().exec("ALTER ROLE \"" + roleOf("daemon-a") + "\" LOGIN");
  b->lead->stop();
  ASSERT_TRUE(waitFor([&] { return a->lead->leading(); }, 10s)) << a->lead->status().lastError;
  EXPECT_GT(a->lead->term(), termA + 1);
  EXPECT_EQ(a->elected.load(), 2);
}

// The fence's own check, in the write's transaction: the term matches but
// the connection recorded as the holder no longer holds the leader lock
// (its session ended; the daemon has not noticed yet).
TEST_F(PgLeadershipTest, AWriteUnderTheCurrentTermWithoutTheLeaderLockIsRefused) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->applyCohort(oneLab("demo")).isOk());
  raw().exec("UPDATE leadership SET term = 7, daemon = 'gone', holder_pid = 2147483000");
  store->setFence(7);
  auto late = store->beginOperation("demo.alice", "create");
  ASSERT_FALSE(late.isOk());
  EXPECT_EQ(late.status().code(), Code::kConflict);
  EXPECT_THAT(late.status().message(), HasSubstr("leader lock"));
  EXPECT_TRUE(store->listOperations()->empty());
}

TEST_F(PgLeadershipTest, ChangesMadeThroughOneDaemonReachTheOthers) {
  auto a = daemon("daemon-a");
  auto b = daemon("daemon-b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(waitFor([&] { return a->lead->leading() || b->lead->leading(); }, 20s));
  std::this_thread::sleep_for(300ms);  // both listen by now
  Daemon& follower = a->lead->leading() ? *b : *a;
  Daemon& leader = a->lead->leading() ? *a : *b;
  ASSERT_TRUE(follower.store->applyCohort(oneLab("from-follower")).isOk());
  ASSERT_TRUE(follower.store->setDesired({"from-follower.alice"}, DesiredState::kRunning).isOk());
  EXPECT_TRUE(waitFor(
      [&] {
        std::lock_guard lk(leader.mu);
        return std::count(leader.changes.begin(), leader.changes.end(), "from-follower") >= 2;
      },
      5s));
}

TEST_F(PgLeadershipTest, TheDaemonsReconnectAndOneLeadsAfterTheServerRestarts) {
  // A server of this test alone: it is restarted under the daemons.
  std::string why;
  auto cluster = testing::PostgresCluster::makePrivate(&why);
  ASSERT_TRUE(cluster) << why;
  auto db = cluster->createDatabase(&why);
  ASSERT_TRUE(db) << why;
  StateLocation loc = location();
  loc.url = db->url();
  auto storeA = Store::open(loc, OpenMode::kCreate, clock_);
  auto storeB = Store::open(loc, OpenMode::kCreate, clock_);
  ASSERT_TRUE(storeA.isOk() && storeB.isOk());
  ASSERT_TRUE((*storeA)->applyCohort(oneLab("demo")).isOk());
  LeadershipOptions o;
  o.interval = 100ms;
  o.daemonId = "a";
  auto la = Leadership::start(**storeA, o);
  o.daemonId = "b";
  auto lb = Leadership::start(**storeB, o);
  ASSERT_TRUE(la.isOk() && lb.isOk());
  ASSERT_TRUE(waitFor([&] { return (*la)->leading() != (*lb)->leading(); }, 20s));
  const int64_t before = std::max((*la)->term(), (*lb)->term());

  ASSERT_TRUE(cluster->restart());
  // Both lost their sessions; one leads again under a new term, and the
  // stores' own connections work again at their next transaction.
  ASSERT_TRUE(waitFor([&] { return ((*la)->leading() != (*lb)->leading()) &&
                                   std::max((*la)->term(), (*lb)->term()) > before; },
                      20s))
      << (*la)->status().lastError << " / " << (*lb)->status().lastError;
  Store& leaderStore = (*la)->leading() ? **storeA : **storeB;
  Store& followerStore = (*la)->leading() ? **storeB : **storeA;
  EXPECT_TRUE(leaderStore.beginOperation("demo.alice", "create").isOk());
  EXPECT_TRUE(followerStore.listLabs().isOk());
  EXPECT_EQ(followerStore.beginOperation("demo.alice", "create").status().code(), Code::kConflict);
  la->reset();
  lb->reset();
}

}  // namespace
}  // namespace darasa
