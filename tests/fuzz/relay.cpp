// darasa-fuzz-relay SOCKET: a provider "plugin" that is only a pipe. It
// connects to the Unix socket and copies stdin to it and it to stdout, so
// that the plugin fuzz target (in another process) answers what darasa's
// exec provider asks. Ends when either side closes.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>

namespace {
bool copy(int from, int to) {
  char buf[65536];
  ssize_t n = ::read(from, buf, sizeof buf);
  if (n <= 0) return false;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
    if (w <= 0) return false;
    off += w;
  }
  return true;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: darasa-fuzz-relay SOCKET\n");
    return 2;
  }
  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", argv[1]);
  if (s < 0 || ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror(argv[1]);
    return 1;
  }
  pollfd fds[2] = {{0, POLLIN, 0}, {s, POLLIN, 0}};
  while (::poll(fds, 2, -1) > 0) {
    if (fds[0].revents && !copy(0, s)) break;
    if (fds[1].revents && !copy(s, 1)) break;
  }
  return 0;
}
