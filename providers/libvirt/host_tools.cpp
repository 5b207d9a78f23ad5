#include "libvirt/host_tools.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace darasa::providers::libvirt {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxToolOutput = 1u << 20;

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

std::string tail(const std::string& s, size_t n) {
  std::string t = s;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t.size() > n ? "…" + t.substr(t.size() - n) : t;
}

bool isFile(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::string firstLine(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

}  // namespace

Result<std::string> runTool(const std::vector<std::string>& argv, const Deadline& deadline) {
  if (argv.empty()) return internalError("runTool: no program");
  if (deadline.expired()) return timeoutError(argv[0] + ": deadline passed before it started");
  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC) != 0) return internalError(std::string("pipe: ") + std::strerror(errno));
  Fd readEnd(pipeFds[0]), writeEnd(pipeFds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, writeEnd.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, writeEnd.fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Default signal dispositions and an unblocked mask in the child, whatever
  // the calling thread has.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  writeEnd.reset();
  if (rc != 0) return unavailableError("cannot run " + argv[0] + ": " + std::strerror(rc));

  std::string out;
  bool timedOut = false;
  for (;;) {
    auto left = deadline.remaining();
    if (left.count() <= 0) {
      timedOut = true;
      break;
    }
    pollfd p{readEnd.fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[4096];
    ssize_t got = ::read(readEnd.fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (out.size() < kMaxToolOutput) out.append(buf, static_cast<size_t>(got));
  }
  int status = 0;
  if (timedOut) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return timeoutError(argv[0] + " did not finish by the deadline");
  }
  // Output closed: the program is ending; wait for it, within the deadline.
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return internalError("waitpid " + argv[0] + ": " + std::strerror(errno));
    if (deadline.expired()) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return timeoutError(argv[0] + " did not finish by the deadline");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return out;
  std::string how = WIFEXITED(status) ? "exited with " + std::to_string(WEXITSTATUS(status))
                                      : "was killed by signal " + std::to_string(WTERMSIG(status));
  return internalError(argv[0] + " " + how + (out.empty() ? "" : ": " + tail(out, 400)));
}

std::string findInPath(const std::vector<std::string>& names) {
  const char* path = std::getenv("PATH");
  std::string dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  for (const auto& name : names) {
    if (name.find('/') != std::string::npos) {
      if (::access(name.c_str(), X_OK) == 0) return name;
      continue;
    }
    std::istringstream in(dirs);
    for (std::string d; std::getline(in, d, ':');) {
      if (d.empty()) continue;
      std::string full = d + "/" + name;
      if (::access(full.c_str(), X_OK) == 0) return full;
    }
  }
  return "";
}

HostCapacity localCapacity() {
  HostCapacity c;
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  c.cpus = n > 0 ? static_cast<int>(n) : 0;
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemTotal:") {
      c.memoryBytes = kib * 1024;
      break;
    }
  }
  return c;
}

std::string diskFormat(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  if (in.gcount() == 4 && magic[0] == 'Q' && magic[1] == 'F' && magic[2] == 'I' &&
      static_cast<unsigned char>(magic[3]) == 0xfb)
    return "qcow2";
  return "raw";
}

Result<VmImage> resolveImage(const std::string& image, const std::string& imageDir) {
  if (image.empty()) return invalidError("image: required for libvirt labs (e.g. busybox-vm)");
  fs::path p;
  if (image.front() == '/') {
    p = fs::path(image).lexically_normal();
  } else {
    fs::path rel = fs::path(image).lexically_normal();
    for (const auto& part : rel)
      if (part == "..") return invalidError("image: \"" + image + "\" leaves the image directory " + imageDir);
    p = fs::path(imageDir) / rel;
  }
  std::error_code ec;
  VmImage img;
  img.path = p.string();
  if (fs::is_directory(p, ec)) {
    img.kind = VmImage::Kind::kKernel;
    img.kernel = (p / "vmlinuz").string();
    img.initrd = (p / "initrd.img").string();
    if (!isFile(img.kernel) || !isFile(img.initrd))
      return notFoundError("image \"" + image + "\": " + p.string() +
                           " has no vmlinuz and initrd.img (a kernel image directory needs both)");
    img.cmdline = isFile(p / "cmdline") ? firstLine(p / "cmdline") : "console=ttyS0";
    img.readyMarker = isFile(p / "ready-marker") ? firstLine(p / "ready-marker") : "";
    if (isFile(p / "disk.qcow2")) {
      img.baseDisk = (p / "disk.qcow2").string();
      img.baseFormat = diskFormat(img.baseDisk);
    }
    return img;
  }
  if (isFile(p)) {
    img.kind = VmImage::Kind::kDisk;
    img.baseDisk = p.string();
    img.baseFormat = diskFormat(img.baseDisk);
    return img;
  }
  return notFoundError("image \"" + image + "\" not found (looked for " + p.string() +
                       "): build the example guest with examples/images/build-vm-guest.sh, or put a "
                       "qcow2 disk or a kernel directory there (darasa never downloads images)");
}

std::string readTail(const std::string& path, size_t maxBytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  auto size = static_cast<int64_t>(in.tellg());
  if (size <= 0) return "";
  int64_t from = std::max<int64_t>(0, size - static_cast<int64_t>(maxBytes));
  in.seekg(from);
  std::string out(static_cast<size_t>(size - from), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

TcpAnswer tcpCheck(int port, const std::string& sendFirst, const Deadline& deadline) {
  Fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (sock.fd < 0) return TcpAnswer::kRefused;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // only ever 127.0.0.1
  auto waitFor = [&](short events, std::chrono::milliseconds cap) {
    pollfd p{sock.fd, events, 0};
    int ms = static_cast<int>(std::min(deadline.remaining(), cap).count());
    int n;
    do n = ::poll(&p, 1, ms);
    while (n < 0 && errno == EINTR);
    return n > 0 ? p.revents : 0;
  };
  if (::connect(sock.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) return TcpAnswer::kRefused;
    if (!(waitFor(POLLOUT, std::chrono::milliseconds(2000)) & POLLOUT)) return TcpAnswer::kRefused;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return TcpAnswer::kRefused;
  }
  if (!sendFirst.empty()) {
    ssize_t n = ::send(sock.fd, sendFirst.data(), sendFirst.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) return TcpAnswer::kRefused;
  }
  // QEMU's user-mode network accepts on the host before it reaches the
  // guest: a closed guest port shows as a connection closed at once.
  if (waitFor(POLLIN, std::chrono::milliseconds(1000)) & (POLLIN | POLLHUP | POLLERR)) {
    char buf[64];
    ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    return n > 0 ? TcpAnswer::kSpoke : TcpAnswer::kRefused;
  }
  return TcpAnswer::kSilent;
}

bool kvmUsable(bool systemUri) {
  struct stat st{};
  if (::stat("/dev/kvm", &st) != 0 || !S_ISCHR(st.st_mode)) return false;
  // Hardware virtualisation: kvm_intel or kvm_amd. Other back ends behind
  // /dev/kvm (kvm_pvm on the microVMs darasa is tested on) boot only guest
  // kernels built for them: a stock kernel hangs early in its boot.
  std::error_code ec;
  if (!fs::exists("/sys/module/kvm_intel", ec) && !fs::exists("/sys/module/kvm_amd", ec)) return false;
  if (!systemUri) return ::access("/dev/kvm", R_OK | W_OK) == 0;
  return (st.st_mode & 0060) == 0060 || (st.st_mode & 0006) == 0006;
}

}  // namespace darasa::providers::libvirt
