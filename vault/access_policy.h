// The access policy: which role may call which RPC, which fields each role
// sees (clear, masked or hidden), and for which purposes of use. Two
// declarative tables (access_policy.cc) are the one source: the code consults
// them and SECURITY.md prints them (a test checks the printout).
#ifndef LEADVAULT_VAULT_ACCESS_POLICY_H_
#define LEADVAULT_VAULT_ACCESS_POLICY_H_

#include <array>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "keys/secret_bytes.h"
#include "vault/actor.h"
#include "vault/lead.h"
#include "vault/roles.h"

namespace leadvault::vault {

// The RPCs of leadvault.v1 the policy governs.
enum class Rpc {
  kCreateLead,
  kGetLead,
  kFindLeads,
  kListQueue,
  kUpdateLead,
  kOpenEmergencyAccess,
  kListEmergencyAccess,
  kCloseEmergencyAccess,
  kCreatePrincipal,
  kListPrincipals,
  kDisablePrincipal,
  kRotateToken,
  kSetServiceLines,
  kGetCheckpoint,
  kGetInclusionProof,
  kGetConsistencyProof,
  kExportAudit,
  kAccountingOfDisclosures,
  kRecordConsent,
  kCheckConsent,
  kGetConsentHistory,
  kExportConsentProof,
  kDeleteLead,
  kPlaceLegalHold,
  kReleaseLegalHold,
  kListLegalHolds,
  kSweepRetention,
  kSetRetentionPolicy,
  kGetRetentionPolicy,
  kRotateMasterKey,
  kGetMasterKeyStatus,
  kRetireMasterKey,
  kCreateBackup,
  kAmendLead,
  kListAmendments,
  kIssueWebhookSecret,
  kRevokeWebhookSecret,
  kGetFunnelMetrics,
};
inline constexpr size_t kRpcCount = 38;
absl::string_view RpcName(Rpc rpc);  // "CreateLead", ...

// How a role sees a personal field. Ordered: a principal with several roles
// gets the most open projection any of them gives.
enum class Projection { kHidden = 0, kMasked = 1, kClear = 2 };
absl::string_view ProjectionName(Projection projection);  // "hidden", "masked", "clear"

// The tables, one cell at a time.
bool RoleMayCall(Role role, Rpc rpc);
Projection RoleProjection(Role role, PiiField field);
bool RoleMayUsePurpose(Role role, Purpose purpose);

// OK if one of the actor's roles may call `rpc`; PERMISSION_DENIED naming the
// RPC otherwise (nothing about any data).
absl::Status CheckCall(const Actor& actor, Rpc rpc);

// Whether the actor may see lead `meta` at all, and the projection of `field`
// for it. A lead is visible to a role that may read leads when it is in that
// role's scope: intake, the service lines on its principal; capture, the leads
// it created; compliance, every lead. A lead out of every role's scope must be
// treated exactly as one that does not exist.
bool MaySee(const Actor& actor, const LeadMetadata& meta);
// Whether a role of the actor other than capture has `meta` in scope. Capture
// sees only its own submission of a lead (SubmissionView): never what intake
// did with it, nor later submissions by others, so a submission merged into
// another principal's lead (a receipt) looks exactly like a lead of its own.
bool SeesLeadProgress(const Actor& actor, const LeadMetadata& meta);
// The submission as its creator sent it: id, creation time, attribution and
// creator; status unspecified, version 0, no touches or contact attempts.
LeadMetadata SubmissionView(const LeadMetadata& meta);

// OK if the actor states a purpose of use (Actor::purpose) that one of its
// roles allowed to call `rpc` may state: INVALID_ARGUMENT if missing,
// PERMISSION_DENIED otherwise. For look-ups (FindLeads), whose
// matches disclose that a person is a lead of a service line.
absl::Status CheckPurposeFor(const Actor& actor, Rpc rpc);

// Whether a role of the actor that may call `rpc` has `meta` in its scope
// (emergency grants name only leads in the scope of a role that may open them).
bool MaySeeAs(const Actor& actor, const LeadMetadata& meta, Rpc rpc);

// Whether one of the actor's roles has leads of `service_line` in its scope
// (a work queue of another service line is empty to it).
bool MayListServiceLine(const Actor& actor, absl::string_view service_line);
// Every field's projection, indexed by field number - 1. With a purpose stated,
// only the roles that may state it contribute.
using FieldProjections = std::array<Projection, kPiiFieldCount>;
FieldProjections ProjectionsFor(const Actor& actor, const LeadMetadata& meta);

// True if some role of the actor that has `meta` in scope would see a field
// of it, whatever the purpose: then the read must state an allowed purpose.
bool WouldDiscloseFields(const Actor& actor, const LeadMetadata& meta);

// OK if the actor's purpose of use (Actor::purpose) is allowed for one of its
// roles that would disclose a field of `meta`: INVALID_ARGUMENT if it is
// missing, PERMISSION_DENIED if no such role may use it.
absl::Status CheckPurpose(const Actor& actor, const LeadMetadata& meta);

// The masked form of a (normalized) value: email "j***@***.com", phone
// "***-***-1234", date of birth the year ("90+" when the person is over 89 at
// `now`), postal code the first three digits, names the initial, state as it
// is; anything else (street, city, free text) is hidden (empty).
keys::SecretBytes Mask(PiiField field, const keys::SecretBytes& value, absl::Time now);

// The two tables as Markdown, as SECURITY.md prints them.
std::string RpcTableMarkdown();
std::string ProjectionTableMarkdown();

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_ACCESS_POLICY_H_
