#include "local/common/lab_record.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "local/common/sys_util.h"

namespace darasa::providers::local {

using nlohmann::json;

LabPaths::LabPaths(std::string labDir) : dir(std::move(labDir)) {}

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool isSafeLabId(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum) continue;
    if (i > 0 && (c == '.' || c == '_' || c == '-')) continue;
    return false;
  }
  return true;
}

std::string toJson(const LabRecord& r) {
  json ports = json::array();
  for (const auto& p : r.ports) ports.push_back({{"name", p.name}, {"inner", p.inner}, {"protocol", p.protocol}});
  json j = {
      {"version", r.version},
      {"labId", r.labId},
      {"cohort", r.cohort},
      {"trainee", r.trainee},
      {"generation", r.generation},
      {"labels", r.labels},
      {"templateHash", r.templateHash},
      {"desired", r.desired},
      {"createdAt", r.createdAt},
      {"hostUid", r.hostUid},
      {"hostGid", r.hostGid},
      {"uidSlot", r.uidSlot},
      {"sandboxUid", r.sandboxUid},
      {"sandboxGid", r.sandboxGid},
      {"user", r.user},
      {"home", r.home},
      {"shell", r.shell},
      {"hostname", r.hostname},
      {"ports", ports},
      {"readyPorts", r.readyPorts},
      {"passwordLogin", r.passwordLogin},
      {"command", r.command},
      {"env", r.env},
      {"workdir", r.workdir},
      {"resources",
       {{"cpuMillis", r.resources.cpuMillis},
        {"memoryBytes", r.resources.memoryBytes},
        {"pids", r.resources.pids},
        {"diskBytes", r.resources.diskBytes}}},
      {"network", networkModeName(r.network)},
      {"cgroupParent", r.cgroupParent},
      {"noLimitsReason", r.noLimitsReason},
      {"cgroupName", r.cgroupName},
      {"bwrap", r.bwrap},
      {"labBinary", r.labBinary},
      {"dropbear", r.dropbear},
      {"etcBinds", r.etcBinds},
  };
  return j.dump(2) + "\n";
}

Result<LabRecord> labRecordFromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    LabRecord r;
    r.version = j.value("version", 2);
    r.labId = j.at("labId").get<std::string>();
    r.cohort = j.value("cohort", "");
    r.trainee = j.value("trainee", "");
    r.generation = j.value("generation", int64_t{0});
    r.labels = j.value("labels", Labels{});
    r.templateHash = j.value("templateHash", "");
    r.desired = j.value("desired", "running");
    r.createdAt = j.value("createdAt", int64_t{0});
    r.hostUid = j.value("hostUid", uid_t{0});
    r.hostGid = j.value("hostGid", gid_t{0});
    r.uidSlot = j.value("uidSlot", -1);
    r.sandboxUid = j.value("sandboxUid", uid_t{1000});
    r.sandboxGid = j.value("sandboxGid", gid_t{1000});
    r.user = j.value("user", "trainee");
    r.home = j.value("home", "/home/" + r.user);
    r.shell = j.value("shell", "/bin/sh");
    r.hostname = j.value("hostname", "");
    for (const auto& p : j.value("ports", json::array())) {
      LabPort lp;
      lp.name = p.at("name").get<std::string>();
      lp.inner = p.at("inner").get<int>();
      lp.protocol = p.value("protocol", "tcp");
      r.ports.push_back(lp);
    }
    r.readyPorts = j.value("readyPorts", std::vector<int>{});
    r.passwordLogin = j.value("passwordLogin", true);
    r.command = j.value("command", std::vector<std::string>{});
    r.env = j.value("env", std::map<std::string, std::string>{});
    r.workdir = j.value("workdir", "");
    if (j.contains("resources")) {
      const auto& res = j["resources"];
      r.resources.cpuMillis = res.value("cpuMillis", int64_t{0});
      r.resources.memoryBytes = res.value("memoryBytes", int64_t{0});
      r.resources.pids = res.value("pids", int64_t{0});
      r.resources.diskBytes = res.value("diskBytes", int64_t{0});
    }
    r.network = networkModeFromName(j.value("network", "isolated")).value_or(NetworkMode::kIsolated);
    r.cgroupParent = j.value("cgroupParent", "");
    r.noLimitsReason = j.value("noLimitsReason", "");
    r.cgroupName = j.value("cgroupName", r.labId);
    r.bwrap = j.value("bwrap", "");
    r.labBinary = j.value("labBinary", "");
    r.dropbear = j.value("dropbear", "/usr/sbin/dropbear");
    r.etcBinds = j.value("etcBinds", std::vector<std::string>{});
    return r;
  } catch (const std::exception& e) {
    return internalError(std::string("lab.json is damaged: ") + e.what());
  }
}

std::string toJson(const RunRecord& r) {
  json j = {{"pid", r.pid}, {"startTime", r.startTime}, {"hostPorts", r.hostPorts}, {"startedAt", r.startedAt}};
  return j.dump(2) + "\n";
}

Result<RunRecord> runRecordFromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    RunRecord r;
    r.pid = j.value("pid", pid_t{0});
    r.startTime = j.value("startTime", uint64_t{0});
    r.hostPorts = j.value("hostPorts", std::map<std::string, int>{});
    r.startedAt = j.value("startedAt", int64_t{0});
    return r;
  } catch (const std::exception& e) {
    // Empty or half written: the launcher is writing it right now.
    return unavailableError(std::string("run.json is being written: ") + e.what());
  }
}

LabStatus parseLabStatus(const std::string& text) {
  LabStatus st;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) break;  // a line still being written
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line == "started") st.started = true;
    else if (line == "ready") st.ready = true;
    else if (line.rfind("failed ", 0) == 0) st.failed = line.substr(7);
    else if (line.rfind("limits ", 0) == 0) st.limits = line.substr(7);
    else if (auto at = line.find("\"child-pid\":"); at != std::string::npos)
      st.sandboxPid = static_cast<pid_t>(std::atol(line.c_str() + at + 12));
  }
  return st;
}

LabStatus readLabStatus(const LabPaths& paths) {
  auto text = readFile(paths.status());
  return text ? parseLabStatus(*text) : LabStatus{};
}

Result<LabRecord> readLabRecord(const LabPaths& paths) {
  auto text = readFile(paths.labJson());
  if (!text) return text.status();
  return labRecordFromJson(*text);
}

Status writeLabRecord(const LabPaths& paths, const LabRecord& r) {
  return writeFileAtomic(paths.labJson(), toJson(r), 0600, /*sync=*/false);
}

Result<RunRecord> readRunRecord(const LabPaths& paths) {
  auto text = readFile(paths.runJson());
  if (!text) return text.status();
  return runRecordFromJson(*text);
}

InitConfig initConfigFor(const LabRecord& rec) {
  InitConfig c;
  c.user = rec.user;
  c.home = rec.home;
  c.shell = rec.shell;
  for (const auto& p : rec.ports) {
    c.innerPorts[p.name] = p.inner;
    if (p.name == "ssh") {
      InitService s;
      s.name = "ssh";
      s.argv = {rec.dropbear, "-F", "-E", "-p", "127.0.0.1:" + std::to_string(p.inner), "-r", kSandboxHostKey,
                "-P", "/run/dropbear.pid"};
      if (!rec.passwordLogin) s.argv.push_back("-s");
      c.services.push_back(std::move(s));
    }
  }
  if (!rec.command.empty()) {
    InitService s;
    s.name = "command";
    s.argv = rec.command;
    s.env = rec.env;
    s.workdir = rec.workdir;
    c.services.push_back(std::move(s));
  }
  c.readyPorts = rec.readyPorts;
  return c;
}

std::map<std::string, std::string> generatedEtcFiles(const LabRecord& rec) {
  std::string shells = "/bin/sh\n/bin/bash\n/usr/bin/sh\n/usr/bin/bash\n";
  if (shells.find(rec.shell + "\n") == std::string::npos) shells += rec.shell + "\n";
  const std::string gid = std::to_string(rec.sandboxGid);
  return {
      {"group", "root:x:0:\n" + rec.user + ":x:" + gid + ":\nnogroup:x:65534:\n"},
      {"shells", shells},
      {"hosts", "127.0.0.1\tlocalhost\n127.0.1.1\t" + rec.hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
      {"hostname", rec.hostname + "\n"},
      {"nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files\n"},
  };
}

std::string passwdFile(const LabRecord& rec, const std::string& passwordHash) {
  const std::string uid = std::to_string(rec.sandboxUid), gid = std::to_string(rec.sandboxGid);
  return "root:x:0:0:root:/root:/usr/sbin/nologin\n" + rec.user + ":" + passwordHash + ":" + uid + ":" + gid + ":" +
         rec.user + ":" + rec.home + ":" + rec.shell + "\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
}

std::string toJson(const InitConfig& c) {
  json services = json::array();
  for (const auto& s : c.services)
    services.push_back({{"name", s.name}, {"argv", s.argv}, {"env", s.env}, {"workdir", s.workdir}});
  json j = {{"user", c.user},           {"home", c.home},
            {"shell", c.shell},         {"services", services},
            {"innerPorts", c.innerPorts}, {"readyPorts", c.readyPorts}};
  return j.dump(2) + "\n";
}

Result<InitConfig> initConfigFromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    InitConfig c;
    c.user = j.value("user", "trainee");
    c.home = j.value("home", "/home/" + c.user);
    c.shell = j.value("shell", "/bin/sh");
    for (const auto& s : j.value("services", json::array())) {
      InitService svc;
      svc.name = s.at("name").get<std::string>();
      svc.argv = s.at("argv").get<std::vector<std::string>>();
      svc.env = s.value("env", std::map<std::string, std::string>{});
      svc.workdir = s.value("workdir", "");
      c.services.push_back(std::move(svc));
    }
    c.innerPorts = j.value("innerPorts", std::map<std::string, int>{});
    c.readyPorts = j.value("readyPorts", std::vector<int>{});
    return c;
  } catch (const std::exception& e) {
    return invalidError(std::string("init.json is damaged: ") + e.what());
  }
}

}  // namespace darasa::providers::local
