// Who is making a vault call, as recorded in its audit entry.
#ifndef LEADVAULT_VAULT_ACTOR_H_
#define LEADVAULT_VAULT_ACTOR_H_

#include <optional>
#include <string>
#include <vector>

#include "audit/audit_entry.h"
#include "vault/roles.h"

namespace leadvault::vault {

struct Actor {
  std::string principal_id;
  std::vector<Role> roles;  // the principal's roles: the call is made under all of them
  std::vector<std::string> service_lines;
  std::string request_id;
  std::string peer;
  std::optional<Purpose> purpose;  // purpose of use, for PII reads
  bool system = false;             // the vault itself (bootstrap): recorded as role "system"
};

// The vault itself, acting on no caller's behalf (principal and role "system").
inline Actor SystemActor() {
  Actor system;
  system.principal_id = "system";
  system.system = true;
  return system;
}

// The role an audit entry records for `actor`: its roles comma-joined, or "system".
inline std::string RoleLabel(const Actor& actor) {
  return actor.system ? std::string("system") : RolesLabel(actor.roles);
}

// An audit entry for `action` by `actor`, outcome allowed; the Committer fills
// sequence and time.
inline audit::AuditEntry EntryFor(const Actor& actor, std::string action) {
  audit::AuditEntry e;
  e.principal_id = actor.principal_id;
  e.role = RoleLabel(actor);
  e.action = std::move(action);
  e.outcome = audit::Outcome::kAllowed;
  e.request_id = actor.request_id;
  e.peer = actor.peer;
  if (actor.purpose.has_value()) e.purpose = std::string(PurposeName(*actor.purpose));
  return e;
}

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_ACTOR_H_
