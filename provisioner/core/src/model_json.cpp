#include "provisioner/model_json.h"

namespace darasa {
using nlohmann::json;

namespace {
template <typename T>
void getIf(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) it->get_to(out);
}
int64_t seconds(std::chrono::seconds s) { return s.count(); }
}  // namespace

void to_json(json& j, const Resources& r) {
  j = json{{"cpuMillis", r.cpuMillis}, {"memoryBytes", r.memoryBytes}, {"pids", r.pids}, {"diskBytes", r.diskBytes}};
}
void from_json(const json& j, Resources& r) {
  getIf(j, "cpuMillis", r.cpuMillis);
  getIf(j, "memoryBytes", r.memoryBytes);
  getIf(j, "pids", r.pids);
  getIf(j, "diskBytes", r.diskBytes);
}

void to_json(json& j, const PortSpec& p) { j = json{{"name", p.name}, {"port", p.port}, {"protocol", p.protocol}}; }
void from_json(const json& j, PortSpec& p) {
  getIf(j, "name", p.name);
  getIf(j, "port", p.port);
  getIf(j, "protocol", p.protocol);
}

void to_json(json& j, const AccessSpec& a) {
  j = json{{"user", a.user}, {"password", a.password}, {"sshKey", a.sshKey}};
}
void from_json(const json& j, AccessSpec& a) {
  getIf(j, "user", a.user);
  getIf(j, "password", a.password);
  getIf(j, "sshKey", a.sshKey);
}

void to_json(json& j, const ReadinessSpec& r) {
  j = json{{"tcp", r.tcpPort}, {"exec", r.exec}, {"timeoutSeconds", seconds(r.timeout)}};
}
void from_json(const json& j, ReadinessSpec& r) {
  getIf(j, "tcp", r.tcpPort);
  getIf(j, "exec", r.exec);
  int64_t t = r.timeout.count();
  getIf(j, "timeoutSeconds", t);
  r.timeout = std::chrono::seconds(t);
}

void to_json(json& j, const LifetimeSpec& l) {
  j = json{{"idleTimeoutSeconds", seconds(l.idleTimeout)}, {"maxDurationSeconds", seconds(l.maxDuration)}};
}
void from_json(const json& j, LifetimeSpec& l) {
  int64_t idle = l.idleTimeout.count(), max = l.maxDuration.count();
  getIf(j, "idleTimeoutSeconds", idle);
  getIf(j, "maxDurationSeconds", max);
  l.idleTimeout = std::chrono::seconds(idle);
  l.maxDuration = std::chrono::seconds(max);
}

void to_json(json& j, const LabSpec& s) {
  j = json{{"labId", s.labId},
           {"cohort", s.cohort},
           {"trainee", s.trainee},
           {"generation", s.generation},
           {"templateName", s.templateName},
           {"templateHash", s.templateHash},
           {"provider", s.provider},
           {"image", s.image},
           {"command", s.command},
           {"env", s.env},
           {"workdir", s.workdir},
           {"user", s.user},
           {"resources", s.resources},
           {"ports", s.ports},
           {"access", s.access},
           {"readiness", s.readiness},
           {"lifetime", s.lifetime},
           {"network", networkModeName(s.network)},
           {"options", s.providerOptions},
           {"labels", s.labels}};
}
void from_json(const json& j, LabSpec& s) {
  j.at("labId").get_to(s.labId);
  getIf(j, "cohort", s.cohort);
  getIf(j, "trainee", s.trainee);
  getIf(j, "generation", s.generation);
  getIf(j, "templateName", s.templateName);
  getIf(j, "templateHash", s.templateHash);
  getIf(j, "provider", s.provider);
  getIf(j, "image", s.image);
  getIf(j, "command", s.command);
  getIf(j, "env", s.env);
  getIf(j, "workdir", s.workdir);
  getIf(j, "user", s.user);
  getIf(j, "resources", s.resources);
  getIf(j, "ports", s.ports);
  getIf(j, "access", s.access);
  getIf(j, "readiness", s.readiness);
  getIf(j, "lifetime", s.lifetime);
  std::string network = networkModeName(s.network);
  getIf(j, "network", network);
  auto mode = networkModeFromName(network);
  if (!mode) throw std::invalid_argument("unknown network mode \"" + network + "\"");
  s.network = *mode;
  getIf(j, "options", s.providerOptions);
  getIf(j, "labels", s.labels);
}

void to_json(json& j, const Endpoint& e) {
  j = json{{"name", e.name}, {"protocol", e.protocol}, {"host", e.host}, {"port", e.port}};
}
void from_json(const json& j, Endpoint& e) {
  getIf(j, "name", e.name);
  getIf(j, "protocol", e.protocol);
  getIf(j, "host", e.host);
  getIf(j, "port", e.port);
}

void to_json(json& j, const ObservedLab& o) {
  j = json{{"labId", o.labId},         {"resourceId", o.resourceId}, {"state", observedStateName(o.state)},
           {"labels", o.labels},       {"endpoints", o.endpoints},   {"generation", o.generation},
           {"detail", o.detail}};
}
void from_json(const json& j, ObservedLab& o) {
  j.at("labId").get_to(o.labId);
  getIf(j, "resourceId", o.resourceId);
  std::string state = "unknown";
  getIf(j, "state", state);
  o.state = ObservedState::kUnknown;
  for (auto s : {ObservedState::kCreating, ObservedState::kRunning, ObservedState::kStopped, ObservedState::kFailed})
    if (state == observedStateName(s)) o.state = s;
  getIf(j, "labels", o.labels);
  getIf(j, "endpoints", o.endpoints);
  getIf(j, "generation", o.generation);
  getIf(j, "detail", o.detail);
}

void to_json(json& j, const Trainee& t) { j = json{{"id", t.id}, {"name", t.name}, {"email", t.email}}; }
void from_json(const json& j, Trainee& t) {
  j.at("id").get_to(t.id);
  getIf(j, "name", t.name);
  getIf(j, "email", t.email);
}

}  // namespace darasa
