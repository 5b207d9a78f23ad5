#include "local/common/cgroups.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <sstream>
#include <thread>

#include "local/common/sys_util.h"

namespace darasa::providers::local {

namespace {

// cpuacct only meters (the lab's CPU time, for idle culling and usage); on
// v1 it may be a hierarchy of its own, and it is optional: where its tree is
// not writable the limits still work without it.
const char* const kControllers[] = {"memory", "cpu", "cpuacct", "pids", "freezer"};

std::vector<std::string> splitBy(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  return out;
}

// Writes value to a control file (no temp+rename: cgroupfs files are not
// regular files).
Status writeControl(const std::string& path, const std::string& value) {
  FILE* f = std::fopen(path.c_str(), "we");
  if (!f) return internalError("cannot open " + path + ": " + errnoText(errno));
  bool ok = std::fputs(value.c_str(), f) >= 0;
  int e = errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    e = errno;
  }
  if (!ok) return internalError("cannot write \"" + value + "\" to " + path + ": " + errnoText(e));
  return Status::ok();
}

}  // namespace

std::string formatBytes(int64_t bytes) {
  const char* units[] = {"Gi", "Mi", "Ki"};
  int64_t scale[] = {1LL << 30, 1LL << 20, 1LL << 10};
  for (int i = 0; i < 3; ++i)
    if (bytes >= scale[i] && bytes % scale[i] == 0) return std::to_string(bytes / scale[i]) + units[i];
  return std::to_string(bytes);
}

CgroupManager CgroupManager::detect(const std::string& parent, bool enabled,
                                    const std::string& mountinfo) {
  CgroupManager m;
  m.parent_ = parent;
  if (!enabled) {
    m.reason_ = "cgroups are turned off (option cgroups=off)";
    return m;
  }
  auto text = readFile(mountinfo);
  if (!text) {
    m.reason_ = "cannot read " + mountinfo;
    return m;
  }
  std::map<std::string, std::string> v1;
  std::string v2;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    auto sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    auto left = splitBy(line.substr(0, sep), ' ');
    auto right = splitBy(line.substr(sep + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    const std::string& mountPoint = left[4];
    if (right[0] == "cgroup2") {
      if (v2.empty()) v2 = mountPoint;
    } else if (right[0] == "cgroup") {
      for (const auto& opt : splitBy(right[2], ','))
        for (const char* c : kControllers)
          if (opt == c && !v1.count(c)) v1[c] = mountPoint;
    }
  }
  if (v1.count("memory") || v1.count("cpu") || v1.count("pids")) {
    m.version_ = Version::kV1;
    m.mounts_ = v1;
  } else if (!v2.empty()) {
    auto ctl = readFile(v2 + "/cgroup.controllers");
    std::set<std::string> have;
    if (ctl)
      for (const auto& c : splitBy(*ctl, ' ')) have.insert(c.substr(0, c.find('\n')));
    for (const char* c : {"memory", "cpu", "pids"})
      if (have.count(c)) m.mounts_[c] = v2;
    if (m.mounts_.empty()) {
      m.reason_ = "the cgroup2 tree at " + v2 + " offers no memory, cpu or pids controller";
      return m;
    }
    m.mounts_["freezer"] = v2;  // cgroup.freeze / cgroup.kill are core files in v2
    m.version_ = Version::kV2;
    // Controllers must be enabled in every ancestor's subtree_control.
    std::string want;
    for (const char* c : {"memory", "cpu", "pids"})
      if (have.count(c)) want += std::string(want.empty() ? "" : " ") + "+" + c;
    (void)writeControl(v2 + "/cgroup.subtree_control", want);
  } else {
    m.reason_ = "no cgroup hierarchy is mounted";
    return m;
  }
  // Writable? Create the parent group in every hierarchy now.
  std::set<std::string> seen;
  if (m.version_ == Version::kV1 && m.mounts_.count("cpuacct")) {
    const std::string& mount = m.mounts_["cpuacct"];
    bool shared = false;
    for (const auto& [ctl, other] : m.mounts_) shared = shared || (ctl != "cpuacct" && other == mount);
    std::string dir = mount + "/" + parent;
    if (!shared) {
      if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
        m.mounts_.erase("cpuacct");
      else
        seen.insert(mount);
    }
  }
  for (const auto& [ctl, mount] : m.mounts_) {
    if (!seen.insert(mount).second) continue;
    std::string dir = mount + "/" + parent;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      m.reason_ = "cannot create " + dir + " (" + errnoText(errno) + ")";
      m.version_ = Version::kNone;
      m.mounts_.clear();
      return m;
    }
    if (m.version_ == Version::kV2) {
      std::string want;
      for (const char* c : {"memory", "cpu", "pids"})
        if (m.mounts_.count(c)) want += std::string(want.empty() ? "" : " ") + "+" + c;
      if (Status st = writeControl(dir + "/cgroup.subtree_control", want); !st) {
        m.reason_ = st.message();
        m.version_ = Version::kNone;
        m.mounts_.clear();
        return m;
      }
    }
  }
  return m;
}

std::string CgroupManager::describe() const {
  if (!usable()) return "no cgroups: " + reason_;
  std::string s = version_ == Version::kV1 ? "cgroup v1 (" : "cgroup v2 (";
  bool first = true;
  for (const char* c : kControllers)
    if (mounts_.count(c)) {
      s += std::string(first ? "" : ", ") + c;
      first = false;
    }
  return s + ")";
}

std::string CgroupManager::dirFor(const std::string& controller, const std::string& name) const {
  auto it = mounts_.find(controller);
  if (it == mounts_.end()) return "";
  return it->second + "/" + parent_ + "/" + name;
}

std::vector<std::string> CgroupManager::allDirs(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [ctl, mount] : mounts_) {
    std::string d = mount + "/" + parent_ + "/" + name;
    if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
  }
  return out;
}

std::vector<std::string> CgroupManager::existingDirs(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& d : allDirs(name))
    if (pathExists(d)) out.push_back(d);
  return out;
}

Result<std::string> CgroupManager::create(const std::string& name, const Resources& r) const {
  if (!usable()) return unavailableError("no cgroups: " + reason_);
  for (const auto& d : allDirs(name))
    if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST)
      return internalError("cannot create " + d + ": " + errnoText(errno));
  std::string applied;
  auto note = [&](const std::string& s) { applied += (applied.empty() ? "" : " ") + s; };

  if (auto d = dirFor("memory", name); !d.empty()) {
    if (version_ == Version::kV1) {
      std::string v = r.memoryBytes > 0 ? std::to_string(r.memoryBytes) : "-1";
      bool memsw = pathExists(d + "/memory.memsw.limit_in_bytes");
      // memsw must stay >= the memory limit: order the writes accordingly,
      // and retry in the other order for a reused group.
      Status st = writeControl(d + "/memory.limit_in_bytes", v);
      if (memsw) {
        Status sw = writeControl(d + "/memory.memsw.limit_in_bytes", v);
        if (!st.isOk() && sw.isOk()) st = writeControl(d + "/memory.limit_in_bytes", v);
        if (st.isOk() && !sw.isOk()) st = sw;
      }
      if (!st) return st;
    } else {
      if (Status st = writeControl(d + "/memory.max", r.memoryBytes > 0 ? std::to_string(r.memoryBytes) : "max"); !st)
        return st;
      if (pathExists(d + "/memory.swap.max"))
        (void)writeControl(d + "/memory.swap.max", r.memoryBytes > 0 ? "0" : "max");
    }
    if (r.memoryBytes > 0) note("memory=" + formatBytes(r.memoryBytes));
  }
  if (auto d = dirFor("cpu", name); !d.empty()) {
    const int64_t period = 100000;  // 100 ms
    int64_t quota = r.cpuMillis > 0 ? r.cpuMillis * period / 1000 : -1;
    if (version_ == Version::kV1) {
      if (Status st = writeControl(d + "/cpu.cfs_period_us", std::to_string(period)); !st) return st;
      if (Status st = writeControl(d + "/cpu.cfs_quota_us", std::to_string(quota)); !st) return st;
    } else {
      std::string v = (quota > 0 ? std::to_string(quota) : "max") + " " + std::to_string(period);
      if (Status st = writeControl(d + "/cpu.max", v); !st) return st;
    }
    if (r.cpuMillis > 0) note("cpu=" + std::to_string(r.cpuMillis) + "m");
  }
  if (auto d = dirFor("pids", name); !d.empty()) {
    if (Status st = writeControl(d + "/pids.max", r.pids > 0 ? std::to_string(r.pids) : "max"); !st)
      return st;
    if (r.pids > 0) note("pids=" + std::to_string(r.pids));
  }
  std::string missing;
  if (r.memoryBytes > 0 && !mounts_.count("memory")) missing += " memory";
  if (r.cpuMillis > 0 && !mounts_.count("cpu")) missing += " cpu";
  if (r.pids > 0 && !mounts_.count("pids")) missing += " pids";
  if (!missing.empty()) note("(not enforced, no controller:" + missing + ")");
  if (applied.empty()) applied = "no limits requested";
  return applied;
}

Status CgroupManager::join(const std::string& name, pid_t pid) const {
  if (!usable()) return unavailableError("no cgroups: " + reason_);
  for (const auto& d : allDirs(name))
    if (Status st = writeControl(d + "/cgroup.procs", std::to_string(pid)); !st) return st;
  return Status::ok();
}

std::vector<pid_t> CgroupManager::members(const std::string& name) const {
  std::set<pid_t> pids;
  for (const auto& d : allDirs(name)) {
    auto text = readFile(d + "/cgroup.procs");
    if (!text) continue;
    std::istringstream in(*text);
    pid_t p;
    while (in >> p) pids.insert(p);
  }
  return {pids.begin(), pids.end()};
}

Result<std::string> CgroupManager::readControl(const std::string& name, const std::string& controller,
                                               const std::string& file) const {
  std::string d = dirFor(controller, name);
  if (d.empty()) return notFoundError("no " + controller + " controller");
  return readFile(d + "/" + file);
}

namespace {

int64_t parseInt64(const std::string& s) {
  try {
    size_t used = 0;
    long long v = std::stoll(s, &used);
    return v < 0 ? -1 : v;
  } catch (const std::exception&) {
    return -1;
  }
}

// The value of `key` in a flat-keyed file ("usage_usec 1234\n...").
int64_t keyedValue(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  std::string v;
  while (in >> k >> v)
    if (k == key) return parseInt64(v);
  return -1;
}

}  // namespace

Result<CgroupManager::Usage> CgroupManager::usage(const std::string& name) const {
  if (!usable()) return unavailableError("no cgroups: " + reason_);
  if (existingDirs(name).empty()) return notFoundError("no cgroup " + parent_ + "/" + name);
  Usage u;
  if (version_ == Version::kV1) {
    if (auto t = readControl(name, "cpuacct", "cpuacct.usage")) u.cpuNanos = parseInt64(*t);
    if (auto t = readControl(name, "memory", "memory.usage_in_bytes")) u.memoryBytes = parseInt64(*t);
  } else {
    // cpu.stat is a core file of every v2 group, with or without the cpu controller.
    for (const auto& d : existingDirs(name)) {
      if (auto t = readFile(d + "/cpu.stat")) {
        int64_t usec = keyedValue(*t, "usage_usec");
        if (usec >= 0) u.cpuNanos = usec * 1000;
        break;
      }
    }
    if (auto t = readControl(name, "memory", "memory.current")) u.memoryBytes = parseInt64(*t);
  }
  return u;
}

Status CgroupManager::destroy(const std::string& name, std::chrono::milliseconds timeout) const {
  auto dirs = existingDirs(name);
  if (dirs.empty()) return Status::ok();
  auto until = std::chrono::steady_clock::now() + timeout;
  std::string freezer = dirFor("freezer", name);
  bool v2 = version_ == Version::kV2;
  if (v2 && pathExists(freezer + "/cgroup.kill")) {
    (void)writeControl(freezer + "/cgroup.kill", "1");
  }
  for (int round = 0;; ++round) {
    auto pids = members(name);
    if (pids.empty()) break;
    // Usually the lab's processes are exiting already (its PID namespace is
    // gone) and plain kills suffice. If they keep coming back (something
    // forking as fast as we kill), freeze first so that nothing forks while
    // we kill, then thaw so the kills are delivered. Freezing is not free
    // (v1 patches kernel code when the first group freezes), hence not
    // from the start.
    bool frozen = false;
    if (round >= 5 && !freezer.empty() && pathExists(freezer)) {
      frozen = v2 ? writeControl(freezer + "/cgroup.freeze", "1").isOk()
                  : writeControl(freezer + "/freezer.state", "FROZEN").isOk();
    }
    for (pid_t p : members(name))
      if (p != getpid()) ::kill(p, SIGKILL);
    if (frozen) {
      if (v2)
        (void)writeControl(freezer + "/cgroup.freeze", "0");
      else
        (void)writeControl(freezer + "/freezer.state", "THAWED");
    }
    if (std::chrono::steady_clock::now() >= until)
      return timeoutError("processes of cgroup " + parent_ + "/" + name + " did not exit");
    std::this_thread::sleep_for(std::chrono::milliseconds(round < 10 ? 2 : 20));
  }
  // Remove children first (v2 nested groups a lab might have made), then ours.
  for (const auto& d : dirs) {
    for (;;) {
      if (::rmdir(d.c_str()) == 0 || errno == ENOENT) break;
      if (errno != EBUSY || std::chrono::steady_clock::now() >= until)
        return internalError("cannot remove " + d + ": " + errnoText(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return Status::ok();
}

}  // namespace darasa::providers::local
