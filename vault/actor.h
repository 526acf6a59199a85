// Who is making a vault call, as recorded in its audit entry.
#ifndef LEADVAULT_VAULT_ACTOR_H_
#define LEADVAULT_VAULT_ACTOR_H_

#include <string>
#include <vector>

#include "audit/audit_entry.h"

namespace leadvault::vault {

struct Actor {
  std::string principal_id;
  std::string role;  // the role the call is made under
  std::vector<std::string> service_lines;
  std::string request_id;
  std::string peer;
  std::string purpose;  // purpose of use, for PII reads
};

// An audit entry for `action` by `actor`, outcome allowed; the Committer fills
// sequence and time.
inline audit::AuditEntry EntryFor(const Actor& actor, std::string action) {
  audit::AuditEntry e;
  e.principal_id = actor.principal_id;
  e.role = actor.role;
  e.action = std::move(action);
  e.outcome = audit::Outcome::kAllowed;
  e.request_id = actor.request_id;
  e.peer = actor.peer;
  e.purpose = actor.purpose;
  return e;
}

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_ACTOR_H_
