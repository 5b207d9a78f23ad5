#include "systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace darasa::cli {

namespace {

std::once_flag taken;
std::string socketPath;

}  // namespace

void takeNotifySocket() {
  std::call_once(taken, [] {
    if (const char* s = std::getenv("NOTIFY_SOCKET"); s && *s) socketPath = s;
    ::unsetenv("NOTIFY_SOCKET");
  });
}

const std::string& notifySocket() {
  takeNotifySocket();
  return socketPath;
}

bool notifySystemd(std::string_view state) {
  const std::string& path = notifySocket();
  // A file path or, with a leading '@', an abstract socket name.
  if (path.empty() || (path[0] != '/' && path[0] != '@')) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '/' ? 1 : 0));
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
  ::close(fd);
  return n == static_cast<ssize_t>(state.size());
}

}  // namespace darasa::cli
