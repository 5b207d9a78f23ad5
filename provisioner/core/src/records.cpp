#include "provisioner/records.h"

#include "provisioner/model_json.h"

namespace darasa {

const char* operationStatusName(OperationStatus s) {
  switch (s) {
    case OperationStatus::kPending: return "pending";
    case OperationStatus::kOk: return "ok";
    case OperationStatus::kFailed: return "failed";
  }
  return "failed";
}

const char* tokenRoleName(TokenRole r) {
  switch (r) {
    case TokenRole::kAdmin: return "admin";
    case TokenRole::kInstructor: return "instructor";
    case TokenRole::kTrainee: return "trainee";
  }
  return "trainee";
}

std::optional<TokenRole> tokenRoleFromName(const std::string& s) {
  if (s == "admin") return TokenRole::kAdmin;
  if (s == "instructor") return TokenRole::kInstructor;
  if (s == "trainee") return TokenRole::kTrainee;
  return std::nullopt;
}

}  // namespace darasa

namespace darasa {

Result<CohortSpec> cohortSpecOf(const CohortRecord& cohort) {
  try {
    return nlohmann::json::parse(cohort.specJson).get<CohortSpec>();
  } catch (const std::exception& e) {
    return internalError("cohort " + cohort.name + ": the stored spec does not read back: " + e.what());
  }
}

Result<LabSpec> labSpecOf(const LabRecord& lab) {
  LabSpec spec;
  try {
    spec = nlohmann::json::parse(lab.specJson).get<LabSpec>();
  } catch (const std::exception& e) {
    return internalError("lab " + lab.labId + ": the stored spec does not read back: " + e.what());
  }
  spec.generation = lab.generation;
  spec.labels[kLabelGeneration] = std::to_string(lab.generation);
  return spec;
}

std::string labSpecForStore(const LabSpec& spec) {
  nlohmann::json j = spec;
  j.erase("generation");
  if (j.contains("labels")) j["labels"].erase(kLabelGeneration);
  return j.dump();
}

}  // namespace darasa
