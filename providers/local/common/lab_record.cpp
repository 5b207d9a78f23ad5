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
  for (const auto& p : r.ports)
    ports.push_back({{"name", p.name}, {"inner", p.inner}, {"protocol", p.protocol},
                     {"lastHostPort", p.lastHostPort}});
  json j = {
      {"version", r.version},
      {"labId", r.labId},
      {"cohort", r.cohort},
      {"trainee", r.trainee},
      {"generation", r.generation},
      {"labels", r.labels},
      {"templateHash", r.templateHash},
      {"desired", r.desired},
      {"prepared", r.prepared},
      {"createdAt", r.createdAt},
      {"hostUid", r.hostUid},
      {"hostGid", r.hostGid},
      {"uidSlot", r.uidSlot},
      {"sandboxUid", r.sandboxUid},
      {"sandboxGid", r.sandboxGid},
      {"user", r.user},
      {"home", r.home},
      {"hostname", r.hostname},
      {"ports", ports},
      {"resources",
       {{"cpuMillis", r.resources.cpuMillis},
        {"memoryBytes", r.resources.memoryBytes},
        {"pids", r.resources.pids},
        {"diskBytes", r.resources.diskBytes}}},
      {"network", networkModeName(r.network)},
      {"cgroupParent", r.cgroupParent},
      {"cgroupName", r.cgroupName},
      {"bwrap", r.bwrap},
      {"labBinary", r.labBinary},
      {"etcBinds", r.etcBinds},
  };
  return j.dump(2) + "\n";
}

Result<LabRecord> labRecordFromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    LabRecord r;
    r.version = j.value("version", 1);
    r.labId = j.at("labId").get<std::string>();
    r.cohort = j.value("cohort", "");
    r.trainee = j.value("trainee", "");
    r.generation = j.value("generation", int64_t{0});
    r.labels = j.value("labels", Labels{});
    r.templateHash = j.value("templateHash", "");
    r.desired = j.value("desired", "running");
    r.prepared = j.value("prepared", false);
    r.createdAt = j.value("createdAt", int64_t{0});
    r.hostUid = j.value("hostUid", uid_t{0});
    r.hostGid = j.value("hostGid", gid_t{0});
    r.uidSlot = j.value("uidSlot", -1);
    r.sandboxUid = j.value("sandboxUid", uid_t{1000});
    r.sandboxGid = j.value("sandboxGid", gid_t{1000});
    r.user = j.value("user", "trainee");
    r.home = j.value("home", "/home/" + r.user);
    r.hostname = j.value("hostname", "");
    for (const auto& p : j.value("ports", json::array())) {
      LabPort lp;
      lp.name = p.at("name").get<std::string>();
      lp.inner = p.at("inner").get<int>();
      lp.protocol = p.value("protocol", "tcp");
      lp.lastHostPort = p.value("lastHostPort", 0);
      r.ports.push_back(lp);
    }
    if (j.contains("resources")) {
      const auto& res = j["resources"];
      r.resources.cpuMillis = res.value("cpuMillis", int64_t{0});
      r.resources.memoryBytes = res.value("memoryBytes", int64_t{0});
      r.resources.pids = res.value("pids", int64_t{0});
      r.resources.diskBytes = res.value("diskBytes", int64_t{0});
    }
    r.network = networkModeFromName(j.value("network", "isolated")).value_or(NetworkMode::kIsolated);
    r.cgroupParent = j.value("cgroupParent", "");
    r.cgroupName = j.value("cgroupName", r.labId);
    r.bwrap = j.value("bwrap", "");
    r.labBinary = j.value("labBinary", "");
    r.etcBinds = j.value("etcBinds", std::vector<std::string>{});
    return r;
  } catch (const std::exception& e) {
    return internalError(std::string("lab.json is damaged: ") + e.what());
  }
}

std::string toJson(const RunRecord& r) {
  json j = {
      {"pid", r.pid},
      {"startTime", r.startTime},
      {"state", r.state},
      {"detail", r.detail},
      {"hostPorts", r.hostPorts},
      {"sandboxPid", r.sandboxPid},
      {"sandboxStartTime", r.sandboxStartTime},
      {"limits", r.limits},
      {"startedAt", r.startedAt},
      {"readyAt", r.readyAt},
      {"endedAt", r.endedAt},
  };
  return j.dump(2) + "\n";
}

Result<RunRecord> runRecordFromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    RunRecord r;
    r.pid = j.value("pid", pid_t{0});
    r.startTime = j.value("startTime", uint64_t{0});
    r.state = j.value("state", "");
    r.detail = j.value("detail", "");
    r.hostPorts = j.value("hostPorts", std::map<std::string, int>{});
    r.sandboxPid = j.value("sandboxPid", pid_t{0});
    r.sandboxStartTime = j.value("sandboxStartTime", uint64_t{0});
    r.limits = j.value("limits", "");
    r.startedAt = j.value("startedAt", int64_t{0});
    r.readyAt = j.value("readyAt", int64_t{0});
    r.endedAt = j.value("endedAt", int64_t{0});
    return r;
  } catch (const std::exception& e) {
    return internalError(std::string("run.json is damaged: ") + e.what());
  }
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

Status writeRunRecord(const LabPaths& paths, const RunRecord& r) {
  return writeFileAtomic(paths.runJson(), toJson(r), 0600);
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
