// Who acts and why: the fixed roles and the purposes of use, as typed values.
// Names appear only at the edges (a principal record, a request, an audit entry).
#ifndef LEADVAULT_VAULT_ROLES_H_
#define LEADVAULT_VAULT_ROLES_H_

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace leadvault::vault {

// The fixed roles (DESIGN.md); kRetention is the built-in retention principal.
enum class Role { kCapture, kAnalyst, kIntake, kCompliance, kAdmin, kRetention };
inline constexpr std::array<Role, 6> kAllRoles = {Role::kCapture, Role::kAnalyst,
                                                  Role::kIntake,  Role::kCompliance,
                                                  Role::kAdmin,   Role::kRetention};
absl::string_view RoleName(Role role);  // "capture", ...
std::optional<Role> ParseRole(absl::string_view name);

// The roles named in `names` (a principal record's), unknown names dropped.
std::vector<Role> ParseRoles(const std::vector<std::string>& names);
// "intake,compliance": the comma-joined names, as an audit entry records them.
std::string RolesLabel(const std::vector<Role>& roles);

// Purposes of use a read of personal data must name (HIPAA's TPO and more).
enum class Purpose {
  kTreatment,
  kPayment,
  kOperations,
  kPatientRequest,
  kSchedulingOutreach,
  kEmergency,
};
inline constexpr std::array<Purpose, 6> kAllPurposes = {
    Purpose::kTreatment,          Purpose::kPayment,
    Purpose::kOperations,         Purpose::kPatientRequest,
    Purpose::kSchedulingOutreach, Purpose::kEmergency};
absl::string_view PurposeName(Purpose purpose);  // "treatment", "scheduling_outreach", ...
std::optional<Purpose> ParsePurpose(absl::string_view name);

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_ROLES_H_
