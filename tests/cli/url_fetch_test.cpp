// `schedule: {ical: URL}` through the darasa binary: a tiny HTTP server on
// 127.0.0.1 in this process serves calendars, errors, a redirect and an
// oversized body. Nothing here talks to any other address.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/command.h"

namespace darasa::testing {
namespace {

const std::string kIcs =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
    "BEGIN:VEVENT\r\nUID:web-1\r\nSUMMARY:Fetched class\r\n"
    "DTSTART;TZID=Africa/Nairobi:20260112T140000\r\nDURATION:PT3H\r\n"
    "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

// A minimal HTTP/1.1 server on 127.0.0.1 (one connection at a time,
// Connection: close): enough for one GET per request, and it needs no
// library in this test binary.
class CalendarServer {
 public:
  CalendarServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 16) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1");
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~CalendarServer() {
    stopping_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  int hits() const { return hits_; }

 private:
  static std::string answer(int status, const std::string& reason, const std::string& type, const std::string& body,
                            const std::string& extra = "") {
    return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "Connection: close\r\n\r\n" + body;
  }
  std::string route(const std::string& path) {
    if (path == "/class.ics") {
      ++hits_;
      return answer(200, "OK", "text/calendar", kIcs);
    }
    if (path == "/moved.ics") return answer(302, "Found", "text/plain", "", "Location: /class.ics\r\n");
    if (path == "/private.ics") return answer(403, "Forbidden", "text/plain", "no");
    if (path == "/huge.ics") return answer(200, "OK", "text/calendar", kIcs + std::string(9u << 20, '\n'));
    if (path == "/page") return answer(200, "OK", "text/html", "<html><body>Sign in</body></html>");
    return answer(404, "Not Found", "text/plain", "not here");
  }
  void serve() {
    while (!stopping_) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (stopping_) return;
        continue;
      }
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      // "GET /path HTTP/1.1"
      size_t sp1 = req.find(' '), sp2 = req.find(' ', sp1 + 1);
      std::string out = route(sp1 == std::string::npos || sp2 == std::string::npos ? "" : req.substr(sp1 + 1, sp2 - sp1 - 1));
      for (size_t off = 0; off < out.size();) {
        ssize_t n = send(c, out.data() + off, out.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> hits_{0};
};

class UrlFetch : public ::testing::Test {
 protected:
  CommandResult darasa(std::vector<std::string> args) {
    args.insert(args.begin(), darasaBinary());
    return runCommand(args, {{"DARASA_HOME", state_.path()}}, 60);
  }
  std::string cohortFile(const std::string& ical) {
    std::string path = work_ / "c.yaml";
    writeFile(path, "apiVersion: darasa/v1\nkind: LabTemplate\nmetadata: {name: shell}\nspec:\n  provider: local\n  ports: [{name: ssh, port: 2222}]\n"
                    "---\napiVersion: darasa/v1\nkind: Cohort\nmetadata: {name: web}\nspec:\n  template: shell\n"
                    "  trainees: [{id: t1, name: T One, email: t1@example.org}]\n  timezone: Africa/Nairobi\n"
                    "  schedule:\n    ical: \"" + ical + "\"\n");
    return path;
  }
  TempDir state_;
  TempDir work_;
  CalendarServer server_;
};

TEST_F(UrlFetch, CalendarFromAUrlIsFetchedOnceAndKeptInTheState) {
  std::string file = cohortFile(server_.url("/class.ics"));
  auto v = darasa({"validate", file});
  EXPECT_EQ(v.exitCode, 0) << v.out << v.err;
  auto a = darasa({"apply", file});
  ASSERT_EQ(a.exitCode, 0) << a.out << a.err;
  int fetched = server_.hits();
  EXPECT_EQ(fetched, 2);  // validate, apply
  auto s = darasa({"schedule", "web", "--all", "-o", "json"});
  ASSERT_EQ(s.exitCode, 0) << s.out << s.err;
  auto j = nlohmann::json::parse(s.out);
  ASSERT_EQ(j["sessions"].size(), 3u);
  EXPECT_EQ(j["sessions"][0]["summary"], "Fetched class");
  EXPECT_EQ(j["sessions"][0]["start"], "2026-01-12T11:00:00Z");
  EXPECT_EQ(j["sessions"][0]["end"], "2026-01-12T14:00:00Z");
  EXPECT_EQ(server_.hits(), fetched);  // the schedule comes from the state, not the URL
}

TEST_F(UrlFetch, RedirectIsFollowed) {
  auto v = darasa({"validate", cohortFile(server_.url("/moved.ics"))});
  EXPECT_EQ(v.exitCode, 0) << v.out << v.err;
  EXPECT_EQ(server_.hits(), 1);
}

TEST_F(UrlFetch, HttpErrorNamesTheUrlAndStatus) {
  std::string url = server_.url("/private.ics");
  auto v = darasa({"validate", cohortFile(url)});
  EXPECT_EQ(v.exitCode, 2) << v.out << v.err;
  EXPECT_NE(v.out.find("c.yaml:16:11: error: cannot fetch schedule URL \"" + url + "\": HTTP 403 from " + url),
            std::string::npos)
      << v.out;
  std::string missing = server_.url("/missing.ics");
  auto m = darasa({"validate", cohortFile(missing)});
  EXPECT_EQ(m.exitCode, 2);
  EXPECT_NE(m.out.find("HTTP 404 from " + missing), std::string::npos) << m.out;
}

TEST_F(UrlFetch, NothingListeningIsATransportError) {
  // A port that was just free: bind, note, close (no listen).
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  close(fd);
  ASSERT_FALSE(loopbackPortAnswers(port));
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/class.ics";
  auto v = darasa({"validate", cohortFile(url)});
  EXPECT_EQ(v.exitCode, 2) << v.out << v.err;
  EXPECT_NE(v.out.find("cannot fetch schedule URL \"" + url + "\": fetching " + url), std::string::npos) << v.out;
}

TEST_F(UrlFetch, OversizedBodyIsRefused) {
  auto v = darasa({"validate", cohortFile(server_.url("/huge.ics"))});
  EXPECT_EQ(v.exitCode, 2) << v.out << v.err;
  EXPECT_NE(v.out.find("larger than 8Mi"), std::string::npos) << v.out;
}

TEST_F(UrlFetch, AnHtmlPageIsNotACalendar) {
  std::string url = server_.url("/page");
  auto v = darasa({"validate", cohortFile(url)});
  EXPECT_EQ(v.exitCode, 2) << v.out << v.err;
  EXPECT_NE(v.out.find(url + ": error: not an iCalendar file"), std::string::npos) << v.out;
}

TEST_F(UrlFetch, PlainHttpElsewhereIsRefusedWithoutFetching) {
  // Refused by the loader before any name lookup or connection.
  auto v = darasa({"validate", cohortFile("http://calendar.example.invalid/class.ics")});
  EXPECT_EQ(v.exitCode, 2) << v.out << v.err;
  EXPECT_NE(v.out.find("must use https://"), std::string::npos) << v.out;
}

}  // namespace
}  // namespace darasa::testing
