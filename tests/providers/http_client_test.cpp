// Tests of the shared libcurl client: against small servers made here (on
// 127.0.0.1 and on Unix sockets in a temporary directory) and against the
// real Podman API socket when it runs (scripts/podman-service.sh).
#include "http/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace darasa::providers::http {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kPodmanSocket = "/run/podman/podman.sock";

// A temporary directory, removed with its contents.
struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/darasa-http-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// A small HTTP/1.1 server: keep-alive, one thread per connection. Answers
// every request with `status` and a body "<request line>\n<request body>".
class TestServer {
 public:
  enum class Mode {
    kReply,          // answer every request
    kNeverAccept,    // listen, never accept: the kernel completes connects, nothing answers
    kDropMidBody,    // send headers announcing 100 bytes, send 5, close
  };

  explicit TestServer(Mode mode = Mode::kReply, std::string unixPath = "") : mode_(mode) {
    if (unixPath.empty()) {
      fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
      socklen_t len = sizeof a;
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin_port);
    } else {
      fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::snprintf(a.sun_path, sizeof a.sun_path, "%s", unixPath.c_str());
      EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    }
    EXPECT_EQ(::listen(fd_, 64), 0);
    EXPECT_EQ(::pipe(stop_), 0);
    if (mode_ != Mode::kNeverAccept) acceptor_ = std::thread([this] { acceptLoop(); });
  }

  ~TestServer() {
    [[maybe_unused]] auto n = ::write(stop_[1], "x", 1);
    if (acceptor_.joinable()) acceptor_.join();
    for (auto& t : workers_) t.join();
    ::close(fd_);
    ::close(stop_[0]);
    ::close(stop_[1]);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }
  void setStatus(int s) { status_ = s; }
  void setBodyPadding(size_t n) { padding_ = n; }

 private:
  bool waitReadable(int fd) {
    pollfd p[2] = {{fd, POLLIN, 0}, {stop_[0], POLLIN, 0}};
    return ::poll(p, 2, -1) > 0 && !(p[1].revents & POLLIN);
  }

  void acceptLoop() {
    while (waitReadable(fd_)) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++connections_;
      std::lock_guard<std::mutex> lock(mu_);
      workers_.emplace_back([this, c] { serve(c); });
    }
  }

  void serve(int c) {
    std::string buf;
    char chunk[4096];
    for (;;) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (!waitReadable(c)) return ::close(c), void();
        ssize_t n = ::recv(c, chunk, sizeof chunk, 0);
        if (n <= 0) return ::close(c), void();
        buf.append(chunk, static_cast<size_t>(n));
      }
      std::string head = buf.substr(0, end);
      size_t length = 0;
      auto cl = head.find("Content-Length: ");
      if (cl != std::string::npos) length = std::stoul(head.substr(cl + 16));
      while (buf.size() < end + 4 + length) {
        if (!waitReadable(c)) return ::close(c), void();
        ssize_t n = ::recv(c, chunk, sizeof chunk, 0);
        if (n <= 0) return ::close(c), void();
        buf.append(chunk, static_cast<size_t>(n));
      }
      std::string body = head.substr(0, head.find("\r\n")) + "\n" + buf.substr(end + 4, length) +
                         std::string(padding_, '.');
      buf.erase(0, end + 4 + length);
      std::string resp;
      if (mode_ == Mode::kDropMidBody) {
        resp = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello";
        ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
        ::close(c);
        return;
      }
      resp = "HTTP/1.1 " + std::to_string(status_.load()) + " Whatever\r\nX-Test: yes\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body;
      ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
    }
  }

  Mode mode_;
  int fd_ = -1;
  int port_ = 0;
  int stop_[2] = {-1, -1};
  std::atomic<int> connections_{0};
  std::atomic<int> status_{200};
  std::atomic<size_t> padding_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
};

HttpClient clientFor(const std::string& url, ErrorHints hints = {}) {
  auto ep = Endpoint::parse(url);
  EXPECT_TRUE(ep.isOk()) << ep.status().toString();
  return HttpClient(*ep, std::move(hints));
}

// ----- Endpoint -------------------------------------------------------------

TEST(HttpEndpoint, ParsesTheAddressForms) {
  auto u = Endpoint::parse("unix:///run/podman/podman.sock");
  ASSERT_TRUE(u.isOk());
  EXPECT_EQ(u->unixSocket, "/run/podman/podman.sock");
  EXPECT_EQ(u->display(), "unix:///run/podman/podman.sock");

  auto t = Endpoint::parse("tcp://127.0.0.1:2375");
  ASSERT_TRUE(t.isOk());
  EXPECT_EQ(t->baseUrl, "http://127.0.0.1:2375");
  EXPECT_FALSE(t->tls());

  auto tls = Endpoint::parse("tcp://127.0.0.1:2376", "/etc/ca.pem", "/etc/cert.pem", "/etc/key.pem");
  ASSERT_TRUE(tls.isOk());
  EXPECT_EQ(tls->baseUrl, "https://127.0.0.1:2376");
  EXPECT_TRUE(tls->tls());
  EXPECT_EQ(tls->caFile, "/etc/ca.pem");

  auto h = Endpoint::parse("https://127.0.0.1:8443/");
  ASSERT_TRUE(h.isOk());
  EXPECT_EQ(h->baseUrl, "https://127.0.0.1:8443");
}

TEST(HttpEndpoint, RejectsWhatIsNotAnAddress) {
  EXPECT_EQ(Endpoint::parse("unix://relative.sock").status().code(), Code::kInvalid);
  EXPECT_EQ(Endpoint::parse("/var/run/docker.sock").status().code(), Code::kInvalid);
  EXPECT_EQ(Endpoint::parse("tcp://").status().code(), Code::kInvalid);
  EXPECT_EQ(Endpoint::parse("http://127.0.0.1:80", "/ca.pem").status().code(), Code::kInvalid);
  auto bad = Endpoint::parse("ftp://x:21");
  EXPECT_NE(bad.status().message().find("unix:///path"), std::string::npos) << bad.status().message();
}

// ----- talking to a server --------------------------------------------------

TEST(HttpClient, SendsMethodPathQueryBodyAndReadsTheAnswer) {
  TestServer server;
  auto client = clientFor(server.url());
  HttpRequest req;
  req.method = "PUT";
  req.path = "/v1/things";
  req.query = {{"filters", "{\"label\":[\"a=b c\"]}"}, {"all", "true"}};
  req.body = "payload";
  req.contentType = "application/json";
  auto resp = client.request(req, Deadline::after(5s));
  ASSERT_TRUE(resp.isOk()) << resp.status().toString();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->header("x-test"), "yes");
  EXPECT_EQ(resp->body,
            "PUT /v1/things?filters=%7B%22label%22%3A%5B%22a%3Db%20c%22%5D%7D&all=true HTTP/1.1\npayload");
}

TEST(HttpClient, EmptyPostAndDeleteHaveTheirMethod) {
  TestServer server;
  auto client = clientFor(server.url());
  HttpRequest post;
  post.method = "POST";
  post.path = "/start";
  auto p = client.request(post, Deadline::after(5s));
  ASSERT_TRUE(p.isOk()) << p.status().toString();
  EXPECT_EQ(p->body, "POST /start HTTP/1.1\n");
  HttpRequest del;
  del.method = "DELETE";
  del.path = "/x";
  auto d = client.request(del, Deadline::after(5s));
  ASSERT_TRUE(d.isOk()) << d.status().toString();
  EXPECT_EQ(d->body, "DELETE /x HTTP/1.1\n");
}

TEST(HttpClient, HttpErrorsAreAnswersNotTransportErrors) {
  TestServer server;
  server.setStatus(500);
  auto client = clientFor(server.url());
  auto resp = client.get("/boom", Deadline::after(5s));
  ASSERT_TRUE(resp.isOk()) << resp.status().toString();
  EXPECT_EQ(resp->status, 500);
  EXPECT_FALSE(resp->ok());
  server.setStatus(404);
  resp = client.get("/missing", Deadline::after(5s));
  ASSERT_TRUE(resp.isOk());
  EXPECT_EQ(resp->status, 404);
}

TEST(HttpClient, ReusesOneConnectionForSequentialRequests) {
  TestServer server;
  auto client = clientFor(server.url());
  for (int i = 0; i < 5; ++i) {
    auto resp = client.get("/n" + std::to_string(i), Deadline::after(5s));
    ASSERT_TRUE(resp.isOk()) << resp.status().toString();
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClient, ManyThreadsAtOnce) {
  TestServer server;
  auto client = clientFor(server.url());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        auto path = "/t" + std::to_string(t) + "/" + std::to_string(i);
        auto resp = client.get(path, Deadline::after(10s));
        if (resp.isOk() && resp->body == "GET " + path + " HTTP/1.1\n") ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 160);
  // Pooled handles keep their connections: far fewer than one per request.
  EXPECT_LE(server.connections(), 16);
}

TEST(HttpClient, KeepsAtMostMaxBodyBytesAndSaysSo) {
  TestServer server;
  server.setBodyPadding(1000);
  auto client = clientFor(server.url());
  HttpRequest req;
  req.path = "/big";
  req.maxBodyBytes = 10;
  auto resp = client.request(req, Deadline::after(5s));
  ASSERT_TRUE(resp.isOk()) << resp.status().toString();
  EXPECT_EQ(resp->body, "GET /big H");
  EXPECT_TRUE(resp->truncated);
  // The rest was read and dropped: the connection is still good.
  auto again = client.get("/next", Deadline::after(5s));
  ASSERT_TRUE(again.isOk());
  EXPECT_FALSE(again->truncated);
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClient, WorksOverAUnixSocket) {
  TempDir dir;
  std::string path = (dir.path / "api.sock").string();
  TestServer server(TestServer::Mode::kReply, path);
  auto client = clientFor("unix://" + path);
  auto resp = client.get("/v1.41/_ping", Deadline::after(5s));
  ASSERT_TRUE(resp.isOk()) << resp.status().toString();
  EXPECT_EQ(resp->body, "GET /v1.41/_ping HTTP/1.1\n");
}

// ----- transport errors -----------------------------------------------------

TEST(HttpClient, MissingSocketIsUnavailableWithTheHint) {
  TempDir dir;
  std::string path = (dir.path / "nobody-here.sock").string();
  ErrorHints hints{"the container engine", "is `podman system service` running?", ""};
  auto client = clientFor("unix://" + path, hints);
  auto resp = client.get("/_ping", Deadline::after(5s));
  ASSERT_FALSE(resp.isOk());
  EXPECT_EQ(resp.status().code(), Code::kUnavailable);
  EXPECT_TRUE(resp.status().retryable());
  EXPECT_EQ(resp.status().message(), "cannot reach the container engine at unix://" + path +
                                         ": no such socket — is `podman system service` running?");
}

TEST(HttpClient, SocketWithNobodyListeningIsConnectionRefused) {
  TempDir dir;
  std::string path = (dir.path / "dead.sock").string();
  // A socket file whose server is gone: bound, never listening.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::close(fd);
  ErrorHints hints{"the container engine", "is `podman system service` running?", ""};
  auto client = clientFor("unix://" + path, hints);
  auto resp = client.get("/_ping", Deadline::after(5s));
  ASSERT_FALSE(resp.isOk());
  EXPECT_EQ(resp.status().code(), Code::kUnavailable);
  EXPECT_EQ(resp.status().message(), "cannot reach the container engine at unix://" + path +
                                         ": connection refused — is `podman system service` running?");
}

TEST(HttpClient, ClosedTcpPortIsUnavailable) {
  int port;
  {
    TestServer gone;  // take a free port, then let it go
    port = std::stoi(gone.url().substr(gone.url().rfind(':') + 1));
  }
  auto client = clientFor("tcp://127.0.0.1:" + std::to_string(port));
  auto resp = client.get("/", Deadline::after(5s));
  ASSERT_FALSE(resp.isOk());
  EXPECT_EQ(resp.status().code(), Code::kUnavailable);
  EXPECT_NE(resp.status().message().find("connection refused"), std::string::npos) << resp.status().message();
}

TEST(HttpClient, PermissionDeniedOnTheSocketIsDenied) {
  TempDir dir;
  ::chmod(dir.path.c_str(), 0755);
  std::string path = (dir.path / "root-only.sock").string();
  TestServer server(TestServer::Mode::kReply, path);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ErrorHints hints{"the container engine", "", "add your user to the docker group or run as root"};
  std::string expected = "permission denied on " + path + " — add your user to the docker group or run as root";

  if (::geteuid() != 0) {
    ASSERT_EQ(::chmod(path.c_str(), 0000), 0);  // not even the owner may connect
    auto client = clientFor("unix://" + path, hints);
    auto resp = client.get("/_ping", Deadline::after(5s));
    ASSERT_FALSE(resp.isOk());
    EXPECT_EQ(resp.status().code(), Code::kDenied);
    EXPECT_EQ(resp.status().message(), expected);
    return;
  }
  // As root: ask from a child that has become "nobody".
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    auto client = clientFor("unix://" + path, hints);
    auto resp = client.get("/_ping", Deadline::after(5s));
    std::string out = resp.isOk() ? "ok" : std::string(codeName(resp.status().code())) + "|" + resp.status().message();
    [[maybe_unused]] auto written = ::write(pipefd[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << "child could not become nobody";
  EXPECT_EQ(out, "denied|" + expected);
}

TEST(HttpClient, ServerThatNeverAnswersTimesOutAtTheDeadline) {
  TestServer silent(TestServer::Mode::kNeverAccept);
  auto client = clientFor(silent.url());
  auto start = std::chrono::steady_clock::now();
  auto resp = client.get("/slow", Deadline::after(300ms));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(resp.isOk());
  EXPECT_EQ(resp.status().code(), Code::kTimeout);
  EXPECT_TRUE(resp.status().retryable());
  EXPECT_NE(resp.status().message().find("no answer from the server at " + silent.url()), std::string::npos)
      << resp.status().message();
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
}

TEST(HttpClient, DeadlinePassedBeforeTheCallSendsNothing) {
  TestServer server;
  auto client = clientFor(server.url());
  auto resp = client.get("/late", Deadline(std::chrono::steady_clock::now() - 1s));
  ASSERT_FALSE(resp.isOk());
  EXPECT_EQ(resp.status().code(), Code::kTimeout);
  EXPECT_EQ(server.connections(), 0);
}

TEST(HttpClient, ConnectionDroppedMidAnswerIsUnavailable) {
  TestServer server(TestServer::Mode::kDropMidBody);
  auto client = clientFor(server.url());
  auto resp = client.get("/", Deadline::after(5s));
  ASSERT_FALSE(resp.isOk());
  EXPECT_EQ(resp.status().code(), Code::kUnavailable);
  EXPECT_NE(resp.status().message().find("dropped"), std::string::npos) << resp.status().message();
}

// ----- TLS --------------------------------------------------------------------

// `openssl s_server -www` on 127.0.0.1 with a certificate from a CA made
// here; it insists on a client certificate from the same CA.
class TlsServer {
 public:
  explicit TlsServer(const fs::path& dir) {
    int probe = ::socket(AF_INET, SOCK_STREAM, 0);  // a free port, handed to openssl
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::close(probe);
    std::string accept = "127.0.0.1:" + std::to_string(port_);
    std::string cert = (dir / "srv.pem").string(), key = (dir / "srv.key").string(), ca = (dir / "ca.pem").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::execlp("openssl", "openssl", "s_server", "-quiet", "-www", "-accept", accept.c_str(), "-cert", cert.c_str(),
               "-key", key.c_str(), "-CAfile", ca.c_str(), "-Verify", "1", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100 && !accepting(); ++i) std::this_thread::sleep_for(50ms);
  }
  ~TlsServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool accepting() const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }
  std::string address() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST(HttpClientTls, VerifiesTheServerAndPresentsTheClientCertificate) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "openssl not installed";
  TempDir dir;
  auto sh = [&](const std::string& cmd) {
    std::string full = "cd '" + dir.path.string() + "' && " + cmd + " >/dev/null 2>&1";
    return std::system(full.c_str());
  };
  const std::string newKey = "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes ";
  ASSERT_EQ(sh(newKey + "-x509 -days 2 -keyout ca.key -out ca.pem -subj /CN=darasa-test-ca"), 0);
  ASSERT_EQ(sh(newKey + "-x509 -days 2 -keyout other.key -out other.pem -subj /CN=another-ca"), 0);
  ASSERT_EQ(sh(newKey + "-keyout srv.key -out srv.csr -subj /CN=127.0.0.1"), 0);
  ASSERT_EQ(sh("printf 'subjectAltName=IP:127.0.0.1\\n' > san && openssl x509 -req -in srv.csr -CA ca.pem "
               "-CAkey ca.key -CAcreateserial -days 2 -extfile san -out srv.pem"),
            0);
  ASSERT_EQ(sh(newKey + "-keyout cli.key -out cli.csr -subj /CN=darasa"), 0);
  ASSERT_EQ(sh("openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out cli.pem"), 0);
  TlsServer server(dir.path);
  ASSERT_TRUE(server.accepting());
  auto file = [&](const char* name) { return (dir.path / name).string(); };

  auto ep = Endpoint::parse(server.address(), file("ca.pem"), file("cli.pem"), file("cli.key"));
  ASSERT_TRUE(ep.isOk());
  ASSERT_TRUE(ep->tls());
  HttpClient client(*ep);
  auto resp = client.get("/", Deadline::after(10s));
  ASSERT_TRUE(resp.isOk()) << resp.status().toString();
  EXPECT_EQ(resp->status, 200);
  EXPECT_NE(resp->body.find("<HTML>"), std::string::npos);

  // A server whose certificate the given CA did not sign: a configuration
  // error, not worth a retry.
  HttpClient wrongCa(*Endpoint::parse(server.address(), file("other.pem"), file("cli.pem"), file("cli.key")));
  auto refused = wrongCa.get("/", Deadline::after(10s));
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), Code::kInvalid) << refused.status().toString();
  EXPECT_NE(refused.status().message().find("TLS with the server at https://127.0.0.1:"), std::string::npos)
      << refused.status().message();

  // No client certificate: the server will not talk.
  HttpClient anonymous(*Endpoint::parse("https" + server.address().substr(3), file("ca.pem")));
  EXPECT_FALSE(anonymous.get("/", Deadline::after(10s)).isOk());
}

// ----- the real Podman service ----------------------------------------------

bool podmanRequired() {
  const char* v = std::getenv("DARASA_REQUIRE_ENGINE");
  return v && std::string(v) == "1";
}

TEST(HttpClientPodman, PingsAndGetsA404AsAnAnswer) {
  if (!fs::exists(kPodmanSocket)) {
    if (podmanRequired()) FAIL() << kPodmanSocket << " missing: run scripts/podman-service.sh";
    GTEST_SKIP() << kPodmanSocket << " missing: run scripts/podman-service.sh to test against Podman";
  }
  auto client = clientFor(std::string("unix://") + kPodmanSocket);
  auto ping = client.get("/v1.41/_ping", Deadline::after(10s));
  ASSERT_TRUE(ping.isOk()) << ping.status().toString();
  EXPECT_EQ(ping->status, 200);
  EXPECT_EQ(ping->body, "OK");
  auto missing = client.get("/v1.41/containers/darasa-no-such-container-xyz/json", Deadline::after(10s));
  ASSERT_TRUE(missing.isOk()) << missing.status().toString();
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("no such container"), std::string::npos) << missing->body;
}

}  // namespace
}  // namespace darasa::providers::http
