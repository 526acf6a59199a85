#include "vault/roles.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace leadvault::vault {

absl::string_view RoleName(Role role) {
  static constexpr const char* kNames[] = {"capture",    "analyst", "intake",
                                           "compliance", "admin",   "retention"};
  return kNames[static_cast<size_t>(role)];
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (Role r : kAllRoles) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

std::vector<Role> ParseRoles(const std::vector<std::string>& names) {
  std::vector<Role> roles;
  for (const std::string& name : names) {
    if (std::optional<Role> r = ParseRole(name)) roles.push_back(*r);
  }
  return roles;
}

std::string RolesLabel(const std::vector<Role>& roles) {
  return absl::StrJoin(roles, ",",
                       [](std::string* out, Role r) { absl::StrAppend(out, RoleName(r)); });
}

absl::string_view PurposeName(Purpose purpose) {
  static constexpr const char* kNames[] = {
      "treatment", "payment", "operations", "patient_request", "scheduling_outreach", "emergency"};
  return kNames[static_cast<size_t>(purpose)];
}

std::optional<Purpose> ParsePurpose(absl::string_view name) {
  for (Purpose p : kAllPurposes) {
    if (PurposeName(p) == name) return p;
  }
  return std::nullopt;
}

}  // namespace leadvault::vault
