// What a restore takes away again: the restrictions made after the backup.
#ifndef LEADVAULT_VAULT_RESTORE_RESTRICTIONS_H_
#define LEADVAULT_VAULT_RESTORE_RESTRICTIONS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/audit_entry.h"
#include "vault/actor.h"
#include "vault/consent_store.h"
#include "vault/emergency_access.h"
#include "vault/legal_hold.h"
#include "vault/principal_store.h"

namespace leadvault::vault {

// The stores a restore re-applies restrictions through.
struct RestrictionTargets {
  PrincipalStore* principals = nullptr;
  EmergencyAccessStore* emergency = nullptr;
  LegalHolds* holds = nullptr;
  ConsentStore* consent = nullptr;
};

// Collects, from the allowed entries after a backup (in sequence order),
// every change that took access away or protects data, and re-applies them
// to the restored database, fail closed: what was granted after the backup
// is not granted again.
//   "DisablePrincipal"      the principal is disabled again;
//   "RotateToken"           every token of the principal ends (the new one
//                           is not in the backup; an admin issues another);
//   "IssueWebhookSecret", "RevokeWebhookSecret"
//                           every webhook secret of the principal ends
//                           (the restored salt is not the one in use);
//   "SetServiceLines"       the principal keeps only the lines it has that
//                           the last change left it ("service_lines=");
//   "PlaceLegalHold"        the hold is put back (same id, reason, placer)
//                           unless a later "ReleaseLegalHold" released it;
//                           a release of a hold the backup holds is not
//                           re-applied (the hold stays);
//   "CloseEmergencyAccess"  the grant is closed again if still open;
//   "RecordConsent" revoking  the channels and purposes it names are revoked
//                           again (sharing with every party the restored
//                           ledger names), and the lead's contacts go on the
//                           suppression list again, also for a lead the
//                           restore then purges (the list outlives leads).
// Consent grants, retention policy changes and lead updates are not
// (SECURITY.md, "Backups and restore"). The committer checkpoints each of
// these entries' groups (IsReappliedOnRestore), so a restore finds them
// verified. Memory: one item per principal,
// grant and hold touched after the backup.
class RestrictionsSinceBackup {
 public:
  void Note(const audit::AuditEntry& entry, uint64_t sequence);

  // Re-applies what Note() collected, each with its own audit entry by
  // `system`; skips holds on leads in `purged` (binary ids: the restore
  // purges them again) and what the restored database does not have; any
  // other error (a full consent ledger) fails it, nothing skipped silently.
  // Returns how many changes it made.
  absl::StatusOr<uint64_t> Reapply(const Actor& system, const RestrictionTargets& to,
                                   const std::set<std::string>& purged) const;

 private:
  std::map<std::string, uint64_t> disabled_;        // principal id -> sequence
  std::map<std::string, uint64_t> tokens_ended_;    // principal id -> sequence
  std::map<std::string, uint64_t> webhooks_ended_;  // principal id -> sequence
  std::map<std::string, std::pair<uint64_t, std::vector<std::string>>> service_lines_;
  std::map<std::string, std::pair<uint64_t, LegalHold>> holds_;  // lead id + hold id
  std::map<std::string, uint64_t> closed_grants_;                // grant id -> sequence
  struct Revocation {
    uint64_t sequence = 0;
    std::string lead_id;                   // binary
    std::vector<ConsentChannel> channels;  // empty: every one
    std::vector<ConsentPurpose> purposes;  // empty: every one
    RevocationMethod method = RevocationMethod::kIntakeCall;
  };
  std::map<std::string, Revocation> revocations_;  // by lead: the union, newest sequence
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_RESTORE_RESTRICTIONS_H_
