#include "provisioner/records.h"

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
