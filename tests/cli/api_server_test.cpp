// ApiServer over real HTTP and HTTPS on 127.0.0.1 (port 0: the system picks
// one): requests reach Api::handle with their method, path, query, token and
// body; status, headers and JSON bodies come back; the body limit, metrics
// by route pattern, the request log; TLS with a throwaway self-signed
// certificate made by `openssl req`; listen errors; stop() with clients
// still connected.
#include "api_server.h"

#include <httplib.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "provisioner/api_test_fixture.h"

namespace darasa::cli {
namespace {

using ::testing::HasSubstr;
using darasa::testing::runCommand;
using nlohmann::json;

class ApiServerTest : public apitest::ApiFixture {
 protected:
  void TearDown() override {
    if (server_) server_->stop();
    if (serving_.joinable()) serving_.join();
  }

  // Starts a server on 127.0.0.1:0 over the fixture's Api.
  void start(ApiServerOptions options = {}, const std::string& cert = "", const std::string& key = "") {
    options.metrics = metrics_.get();
    options.onRequest = [this](const RequestLog& log) {
      std::lock_guard lock(logMu_);
      log_.push_back(log);
    };
    server_ = std::make_unique<ApiServer>(*api_, options);
    Status s = server_->listen("127.0.0.1", 0, cert, key);
    ASSERT_TRUE(s.isOk()) << s.toString();
    ASSERT_GT(server_->port(), 0);
    serving_ = std::thread([this] { server_->run(); });
  }

  // Generous timeouts: under valgrind or a loaded machine the first answer
  // can take seconds (the server starts its worker threads first).
  std::unique_ptr<httplib::Client> client() {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    c->set_connection_timeout(30);
    c->set_read_timeout(30);
    return c;
  }

  httplib::Headers bearer(const std::string& who) { return {{"Authorization", "Bearer " + tokens_.at(who)}}; }

  std::unique_ptr<ApiServer> server_;
  std::thread serving_;
  std::mutex logMu_;
  std::vector<RequestLog> log_;
};

TEST_F(ApiServerTest, RequestsGoThroughTheApiAndBack) {
  start();
  auto owned = client();
  httplib::Client& client = *owned;
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(health->body)["status"], "ok");

  auto lab = client.Get("/api/v1/labs/demo.alice", bearer("alice"));
  ASSERT_TRUE(lab);
  EXPECT_EQ(lab->status, 200);
  EXPECT_EQ(json::parse(lab->body)["lab"], "demo.alice");
  EXPECT_EQ(client.Get("/api/v1/labs/demo.bob", bearer("alice"))->status, 403);

  auto anonymous = client.Get("/api/v1/labs/demo.alice");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_EQ(anonymous->get_header_value("WWW-Authenticate"), "Bearer realm=\"darasa\"");

  // The query string, decoded.
  auto window = client.Get("/api/v1/cohorts/demo/schedule?from=2026-01-19T00%3A00&to=2026-01-20T00:00", bearer("alice"));
  ASSERT_TRUE(window);
  ASSERT_EQ(window->status, 200) << window->body;
  EXPECT_EQ(json::parse(window->body)["sessions"].size(), 1u);

  // A body and a method: a token through the API, usable at once.
  auto created = client.Post("/api/v1/tokens", bearer("admin"), R"({"role": "trainee", "cohort": "demo", "trainee": "bob"})",
                             "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  std::string token = json::parse(created->body)["token"];
  auto who = client.Get("/api/v1/whoami", {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(json::parse(who->body)["lab"], "demo.bob");

  auto wrong = client.Put("/api/v1/labs/demo.alice", bearer("admin"), "", "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->get_header_value("Allow"), "DELETE, GET");
  EXPECT_EQ(client.Get("/nowhere")->status, 404);
}

TEST_F(ApiServerTest, OversizedBodiesGet413InTheApisShape) {
  ApiServerOptions options;
  options.maxBodyBytes = 1024;
  start(options);
  auto owned = client();
  httplib::Client& client = *owned;
  auto ok = client.Post("/api/v1/cohorts", bearer("admin"), apitest::applyBody("demo"), "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  auto big = client.Post("/api/v1/cohorts", bearer("admin"), std::string(4096, ' '), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(json::parse(big->body)["error"]["code"], "too-large");
}

TEST_F(ApiServerTest, RequestsAreCountedAndLoggedByRoutePatternNeverByPathOrToken) {
  start();
  auto owned = client();
  httplib::Client& client = *owned;
  for (const std::string lab : {"demo.alice", "demo.bob"}) ASSERT_TRUE(client.Get("/api/v1/labs/" + lab, bearer("admin")));
  ASSERT_TRUE(client.Get("/api/v1/labs/demo.alice", bearer("carol")));
  ASSERT_TRUE(client.Get("/nowhere"));
  std::string text = metrics_->render(nullptr);
  EXPECT_THAT(text, HasSubstr("darasa_http_requests_total{code=\"200\",route=\"/api/v1/labs/{lab}\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("darasa_http_requests_total{code=\"403\",route=\"/api/v1/labs/{lab}\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("darasa_http_requests_total{code=\"404\",route=\"(unmatched)\"} 1\n"));
  EXPECT_EQ(text.find("demo.alice"), std::string::npos);
  std::lock_guard lock(logMu_);
  ASSERT_EQ(log_.size(), 4u);
  EXPECT_EQ(log_[0].method, "GET");
  EXPECT_EQ(log_[0].path, "/api/v1/labs/demo.alice");
  EXPECT_EQ(log_[0].route, "/api/v1/labs/{lab}");
  EXPECT_EQ(log_[0].status, 200);
  EXPECT_THAT(log_[0].remote, ::testing::StartsWith("127.0.0.1:"));
}

TEST_F(ApiServerTest, ServesHttpsWithACertificateAndKey) {
  const std::string cert = dir_ / "cert.pem", key = dir_ / "key.pem";
  auto made = runCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                          "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                          "-keyout", key, "-out", cert},
                         {}, 30);
  ASSERT_EQ(made.exitCode, 0) << made.err;
  start({}, cert, key);
  EXPECT_TRUE(server_->tls());
  httplib::SSLClient client("127.0.0.1", server_->port());
  client.set_connection_timeout(30);
  client.set_read_timeout(30);
  client.set_ca_cert_path(cert.c_str());
  client.enable_server_certificate_verification(true);
  auto lab = client.Get("/api/v1/labs/demo.alice", bearer("alice"));
  ASSERT_TRUE(lab) << httplib::to_string(lab.error());
  EXPECT_EQ(lab->status, 200);
  EXPECT_EQ(json::parse(lab->body)["lab"], "demo.alice");
  // Plain HTTP to the TLS port gets nothing.
  httplib::Client plain("127.0.0.1", server_->port());
  plain.set_read_timeout(2);
  auto none = plain.Get("/healthz");
  EXPECT_TRUE(!none || none->status != 200);
}

TEST_F(ApiServerTest, ListenRefusesBadTlsFilesAndATakenPort) {
  ApiServer a(*api_, {});
  Status s = a.listen("127.0.0.1", 0, dir_ / "cert.pem", "");
  EXPECT_EQ(s.code(), Code::kInvalid);
  EXPECT_THAT(s.message(), HasSubstr("both"));
  testing::writeFile(dir_ / "bad.pem", "not a certificate\n");
  s = a.listen("127.0.0.1", 0, dir_ / "bad.pem", dir_ / "bad.pem");
  EXPECT_EQ(s.code(), Code::kInvalid);
  s = a.listen("127.0.0.1", 0, dir_ / "missing.pem", dir_ / "missing.pem");
  EXPECT_EQ(s.code(), Code::kInvalid);
  EXPECT_THAT(s.message(), HasSubstr("missing.pem"));

  start();
  ApiServer b(*api_, {});
  s = b.listen("127.0.0.1", server_->port());
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr(std::to_string(server_->port())));
}

TEST_F(ApiServerTest, StopEndsRunWithClientsStillConnected) {
  ApiServerOptions options;
  options.threads = 4;
  options.keepAliveTimeout = std::chrono::seconds(1);  // how long httplib keeps an idle connection after stop
  start(options);
  std::vector<std::unique_ptr<httplib::Client>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(client());
    clients.back()->set_keep_alive(true);
    ASSERT_EQ(clients.back()->Get("/healthz")->status, 200);  // connections left open
  }
  auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  serving_.join();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, std::chrono::seconds(3)) << "keep-alive connections held run() up";
  EXPECT_FALSE(testing::loopbackPortAnswers(server_->port()));
}

TEST_F(ApiServerTest, StopBeforeRunMakesRunReturnAtOnce) {
  ApiServer s(*api_, {});
  ASSERT_TRUE(s.listen("127.0.0.1", 0).isOk());
  s.stop();
  s.run();  // returns (a bug here hangs the test until ctest's timeout)
  EXPECT_FALSE(testing::loopbackPortAnswers(s.port()));
}

}  // namespace
}  // namespace darasa::cli
