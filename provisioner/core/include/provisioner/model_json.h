// JSON forms of the model types (nlohmann ADL to_json/from_json): what the
// state store keeps, what `darasa render` prints and what the plugin protocol
// carries. LabSpec's credentials are never serialised. from_json throws
// nlohmann::json::exception on a wrong shape: catch it at the adapter.
#pragma once

#include <nlohmann/json.hpp>

#include "provisioner/model.h"
#include "provisioner/status.h"

namespace darasa {

void to_json(nlohmann::json& j, const Resources& r);
void from_json(const nlohmann::json& j, Resources& r);
void to_json(nlohmann::json& j, const PortSpec& p);
void from_json(const nlohmann::json& j, PortSpec& p);
void to_json(nlohmann::json& j, const AccessSpec& a);
void from_json(const nlohmann::json& j, AccessSpec& a);
void to_json(nlohmann::json& j, const ReadinessSpec& r);
void from_json(const nlohmann::json& j, ReadinessSpec& r);
void to_json(nlohmann::json& j, const LifetimeSpec& l);
void from_json(const nlohmann::json& j, LifetimeSpec& l);
void to_json(nlohmann::json& j, const LabSpec& s);  // without credentials
void from_json(const nlohmann::json& j, LabSpec& s);
void to_json(nlohmann::json& j, const Endpoint& e);
void from_json(const nlohmann::json& j, Endpoint& e);
void to_json(nlohmann::json& j, const ObservedLab& o);
void from_json(const nlohmann::json& j, ObservedLab& o);
void to_json(nlohmann::json& j, const Trainee& t);
void from_json(const nlohmann::json& j, Trainee& t);

// Reads j[key] into out when it is there and not null (out keeps its value
// otherwise); throws like get_to on a wrong type.
template <typename T>
void getIfPresent(const nlohmann::json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) it->get_to(out);
}

// Parses text as JSON into T, as a Result (no exception escapes).
template <typename T>
Result<T> parseJsonAs(const std::string& text, const char* what) {
  try {
    return nlohmann::json::parse(text).get<T>();
  } catch (const std::exception& e) {
    return invalidError(std::string("malformed ") + what + ": " + e.what());
  }
}

}  // namespace darasa
