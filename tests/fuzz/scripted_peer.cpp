// ScriptedPeer: one poll loop over the listening socket, its connections
// and a stop pipe (see scripted_peer.h).
#include "scripted_peer.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <list>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <stdexcept>

namespace darasa::fuzz {

struct ScriptedPeer::Conn {
  int fd = -1;
  std::string in;
};

namespace {

void sendAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

std::string lowerCopy(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::vector<std::string> splitAnswers(const std::string& input) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t sep = input.find("\n----\n", start);
    if (sep == std::string::npos) {
      out.push_back(input.substr(start));
      return out;
    }
    out.push_back(input.substr(start, sep - start));
    start = sep + 6;
  }
}

ScriptedPeer::ScriptedPeer(Protocol protocol, std::string socketPath)
    : protocol_(protocol), path_(std::move(socketPath)), verbose_(std::getenv("DARASA_FUZZ_VERBOSE") != nullptr) {
  // The providers' warnings about what the peer said would be most of the
  // run's time: shown only when asked for.
  if (!verbose_) spdlog::set_level(spdlog::level::off);
  ::unlink(path_.c_str());
  listenFd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
  if (listenFd_ < 0 || ::bind(listenFd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listenFd_, 64) != 0 || ::pipe2(stop_, O_CLOEXEC) != 0)
    throw std::runtime_error("ScriptedPeer: cannot listen on " + path_);
  thread_ = std::thread([this] { loop(); });
}

ScriptedPeer::~ScriptedPeer() {
  [[maybe_unused]] auto n = ::write(stop_[1], "x", 1);
  thread_.join();
  ::close(listenFd_);
  ::close(stop_[0]);
  ::close(stop_[1]);
  ::unlink(path_.c_str());
}

void ScriptedPeer::hangUp() {
  int before = hangUps_.load();
  [[maybe_unused]] auto n = ::write(stop_[1], "h", 1);
  while (hangUps_.load() == before) std::this_thread::yield();
}

void ScriptedPeer::setScript(std::vector<std::string> answers) {
  std::lock_guard lock(mu_);
  script_ = std::move(answers);
  at_ = 0;
  served_ = 0;
}

std::string ScriptedPeer::next(const std::string& requestId, bool handshake) {
  std::lock_guard lock(mu_);
  ++served_;
  if (at_ >= script_.size()) {
    if (protocol_ == Protocol::kHttp) return "500\n{\"message\": \"fuzz: no more answers\"}";
    // A plugin that keeps running and answers errors: restarting one costs
    // milliseconds, and nothing new is learnt from it.
    if (handshake) return "{\"id\": " + requestId + ", \"result\": {\"protocol\": 1}}";
    return "{\"id\": " + requestId + ", \"error\": {\"code\": \"unavailable\", \"message\": \"fuzz: no more answers\"}}";
  }
  std::string a = script_[at_++];
  if (protocol_ == Protocol::kLines)
    for (size_t p; (p = a.find("@ID@")) != std::string::npos;) a.replace(p, 4, requestId);
  return a;
}

bool ScriptedPeer::answer(Conn& c) {
  for (;;) {
    if (protocol_ == Protocol::kLines) {
      size_t nl = c.in.find('\n');
      if (nl == std::string::npos) return true;
      std::string line = c.in.substr(0, nl);
      c.in.erase(0, nl + 1);
      if (verbose_) std::fprintf(stderr, "peer <- %s\n", line.c_str());
      auto j = nlohmann::json::parse(line, nullptr, false);
      std::string id = j.is_object() && j.contains("id") ? j["id"].dump() : "0";
      std::string a = next(id, j.is_object() && j.value("method", "") == "handshake");
      sendAll(c.fd, a + "\n");
      continue;
    }
    size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return true;
    std::string head = lowerCopy(c.in.substr(0, end));
    size_t length = 0;
    if (auto cl = head.find("content-length:"); cl != std::string::npos)
      length = std::strtoul(head.c_str() + cl + 15, nullptr, 10);
    if (head.find("expect: 100-continue") != std::string::npos && c.in.size() < end + 4 + length &&
        head.find("x-darasa-continued") == std::string::npos) {
      sendAll(c.fd, "HTTP/1.1 100 Continue\r\n\r\n");
      c.in.insert(end, "\r\nx-darasa-continued: 1");  // once
      return true;
    }
    if (c.in.size() < end + 4 + length) return true;
    if (verbose_) std::fprintf(stderr, "peer <- %s\n", c.in.substr(0, c.in.find("\r\n")).c_str());
    c.in.erase(0, end + 4 + length);
    std::string a = next("0", false);
    size_t nl = a.find('\n');
    std::string first = a.substr(0, nl);
    std::string body = nl == std::string::npos ? "" : a.substr(nl + 1);
    int status = std::atoi(first.c_str());
    if (status < 100 || status > 599) {
      status = 200;
      body = a;
    }
    sendAll(c.fd, "HTTP/1.1 " + std::to_string(status) + " Fuzz\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body);
  }
}

void exerciseProvider(Provider& p, const LabSpec& spec, std::chrono::milliseconds perCall) {
  auto d = [&] { return Deadline::after(perCall); };
  (void)p.usable();
  (void)p.validate(spec);
  (void)p.list(LabelSelector::cohort(spec.cohort), d());
  (void)p.inspect(spec.labId, d());
  (void)p.create(spec, d());
  (void)p.probe(spec, d());
  (void)p.activity(spec.labId, d());
  (void)p.exec(spec.labId, {"true"}, d());
  (void)p.stop(spec.labId, d());
  (void)p.start(spec.labId, d());
  (void)p.destroy(spec.labId, d());
  (void)p.capacity();
  (void)p.info();
}

void ScriptedPeer::loop() {
  std::list<Conn> conns;
  for (;;) {
    std::vector<pollfd> fds = {{stop_[0], POLLIN, 0}, {listenFd_, POLLIN, 0}};
    for (const auto& c : conns) fds.push_back({c.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[0].revents) {
      char cmd = 'x';
      if (::read(stop_[0], &cmd, 1) != 1 || cmd == 'x') break;
      for (auto& c : conns) ::close(c.fd);
      conns.clear();
      ++hangUps_;
      continue;
    }
    if (fds[1].revents & POLLIN) {
      int c = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) conns.push_back({c, ""});
    }
    size_t i = 2;
    for (auto it = conns.begin(); it != conns.end(); ++i) {
      bool keep = true;
      if (i < fds.size() && fds[i].revents) {
        char buf[65536];
        ssize_t n = ::recv(it->fd, buf, sizeof buf, 0);
        if (n <= 0) keep = false;
        else {
          it->in.append(buf, static_cast<size_t>(n));
          keep = answer(*it);
        }
      }
      if (keep) {
        ++it;
      } else {
        ::close(it->fd);
        it = conns.erase(it);
      }
    }
  }
  for (auto& c : conns) ::close(c.fd);
}

}  // namespace darasa::fuzz
