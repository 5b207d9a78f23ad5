#include "provisioner/model_json.h"

namespace darasa {
using nlohmann::json;

namespace {
int64_t seconds(std::chrono::seconds s) { return s.count(); }
}  // namespace

void to_json(json& j, const Resources& r) {
  j = json{{"cpuMillis", r.cpuMillis}, {"memoryBytes", r.memoryBytes}, {"pids", r.pids}, {"diskBytes", r.diskBytes}};
}
void from_json(const json& j, Resources& r) {
  getIfPresent(j, "cpuMillis", r.cpuMillis);
  getIfPresent(j, "memoryBytes", r.memoryBytes);
  getIfPresent(j, "pids", r.pids);
  getIfPresent(j, "diskBytes", r.diskBytes);
}

void to_json(json& j, const PortSpec& p) { j = json{{"name", p.name}, {"port", p.port}, {"protocol", p.protocol}}; }
void from_json(const json& j, PortSpec& p) {
  getIfPresent(j, "name", p.name);
  getIfPresent(j, "port", p.port);
  getIfPresent(j, "protocol", p.protocol);
}

void to_json(json& j, const AccessSpec& a) {
  j = json{{"user", a.user}, {"password", a.password}, {"sshKey", a.sshKey}};
}
void from_json(const json& j, AccessSpec& a) {
  getIfPresent(j, "user", a.user);
  getIfPresent(j, "password", a.password);
  getIfPresent(j, "sshKey", a.sshKey);
}

void to_json(json& j, const ReadinessSpec& r) {
  j = json{{"tcp", r.tcpPort}, {"exec", r.exec}, {"timeoutSeconds", seconds(r.timeout)}};
}
void from_json(const json& j, ReadinessSpec& r) {
  getIfPresent(j, "tcp", r.tcpPort);
  getIfPresent(j, "exec", r.exec);
  int64_t t = r.timeout.count();
  getIfPresent(j, "timeoutSeconds", t);
  r.timeout = std::chrono::seconds(t);
}

void to_json(json& j, const LifetimeSpec& l) {
  j = json{{"idleTimeoutSeconds", seconds(l.idleTimeout)}, {"maxDurationSeconds", seconds(l.maxDuration)}};
}
void from_json(const json& j, LifetimeSpec& l) {
  int64_t idle = l.idleTimeout.count(), max = l.maxDuration.count();
  getIfPresent(j, "idleTimeoutSeconds", idle);
  getIfPresent(j, "maxDurationSeconds", max);
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
  getIfPresent(j, "cohort", s.cohort);
  getIfPresent(j, "trainee", s.trainee);
  getIfPresent(j, "generation", s.generation);
  getIfPresent(j, "templateName", s.templateName);
  getIfPresent(j, "templateHash", s.templateHash);
  getIfPresent(j, "provider", s.provider);
  getIfPresent(j, "image", s.image);
  getIfPresent(j, "command", s.command);
  getIfPresent(j, "env", s.env);
  getIfPresent(j, "workdir", s.workdir);
  getIfPresent(j, "user", s.user);
  getIfPresent(j, "resources", s.resources);
  getIfPresent(j, "ports", s.ports);
  getIfPresent(j, "access", s.access);
  getIfPresent(j, "readiness", s.readiness);
  getIfPresent(j, "lifetime", s.lifetime);
  std::string network = networkModeName(s.network);
  getIfPresent(j, "network", network);
  auto mode = networkModeFromName(network);
  if (!mode) throw std::invalid_argument("unknown network mode \"" + network + "\"");
  s.network = *mode;
  getIfPresent(j, "options", s.providerOptions);
  getIfPresent(j, "labels", s.labels);
}

void to_json(json& j, const Endpoint& e) {
  j = json{{"name", e.name}, {"protocol", e.protocol}, {"host", e.host}, {"port", e.port}};
}
void from_json(const json& j, Endpoint& e) {
  getIfPresent(j, "name", e.name);
  getIfPresent(j, "protocol", e.protocol);
  getIfPresent(j, "host", e.host);
  getIfPresent(j, "port", e.port);
}

void to_json(json& j, const ObservedLab& o) {
  j = json{{"labId", o.labId},         {"resourceId", o.resourceId}, {"state", observedStateName(o.state)},
           {"labels", o.labels},       {"endpoints", o.endpoints},   {"generation", o.generation},
           {"detail", o.detail}};
}
void from_json(const json& j, ObservedLab& o) {
  j.at("labId").get_to(o.labId);
  getIfPresent(j, "resourceId", o.resourceId);
  std::string state = "unknown";
  getIfPresent(j, "state", state);
  o.state = ObservedState::kUnknown;
  for (auto s : {ObservedState::kCreating, ObservedState::kRunning, ObservedState::kStopped, ObservedState::kFailed})
    if (state == observedStateName(s)) o.state = s;
  getIfPresent(j, "labels", o.labels);
  getIfPresent(j, "endpoints", o.endpoints);
  getIfPresent(j, "generation", o.generation);
  getIfPresent(j, "detail", o.detail);
}

void to_json(json& j, const Trainee& t) { j = json{{"id", t.id}, {"name", t.name}, {"email", t.email}}; }
void from_json(const json& j, Trainee& t) {
  j.at("id").get_to(t.id);
  getIfPresent(j, "name", t.name);
  getIfPresent(j, "email", t.email);
}

}  // namespace darasa
