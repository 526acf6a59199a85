// The read decision as a value: what one read of one lead may return, field by
// field, decided from the caller, the lead's authenticated metadata and an
// emergency grant before any key is unwrapped. LeadStore executes it (unwrap,
// decrypt, mask); it does not decide. Pure: no storage, no clock, no I/O.
#ifndef LEADVAULT_VAULT_READ_DECISION_H_
#define LEADVAULT_VAULT_READ_DECISION_H_

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vault/access_policy.h"
#include "vault/actor.h"
#include "vault/consent.h"
#include "vault/emergency_access.h"
#include "vault/lead.h"

namespace leadvault::vault {

// A read for outreach names the channel it will use and what for. The contact
// field of that channel (phone for sms and voice, email for email) is
// returned only with active consent (ConsentState::Decide), the other contact
// field not at all; each is withheld with its reason (Lead::withheld). A read
// with purpose scheduling_outreach must name one.
struct Outreach {
  ConsentChannel channel = ConsentChannel::kVoice;
  ConsentPurpose purpose = ConsentPurpose::kScheduling;
  std::string third_party;  // kThirdPartySharing only
};

struct ReadDecision {
  // The metadata as the caller sees it: a capture principal's own submission
  // (SubmissionView) unless another of its roles sees the lead's progress.
  LeadMetadata meta;
  // Per field, indexed by field number - 1: clear, masked or hidden (never
  // decrypted). All hidden: a metadata-only read, no key unwrapped.
  FieldProjections fields{};
  // The emergency grant the read is made under: every field clear, the entry
  // flagged with its reason.
  std::optional<EmergencyGrant> grant;
  // Contact fields a read for outreach does not return (their `fields` entry
  // is then hidden: never decrypted), with the reason.
  std::vector<WithheldField> withheld;

  bool DisclosesAnyField() const;
};

// Decides a read of `meta` by `actor` (vault/access_policy.h has the rules):
//  - NOT_FOUND "lead not found" when the lead is out of every role's scope
//    (exactly as a missing lead);
//  - with purpose emergency, PERMISSION_DENIED unless `grant` is an open
//    grant of the actor's covering the lead in the scope of a role that may
//    open one (the store looks it up; the decision checks it);
//  - without a grant, a read that would disclose a field must state a purpose
//    one of its in-scope roles may use (INVALID_ARGUMENT missing,
//    PERMISSION_DENIED not allowed), and then sees what those roles see;
//  - a receipt (a capture principal's submission merged into a lead it did
//    not create) reads as its sender's lead with no field;
//  - a read for outreach (`outreach`; required with purpose
//    scheduling_outreach: INVALID_ARGUMENT) gets the contact field of its
//    channel only if `consent` (the decision for that channel and purpose;
//    nullopt counts as no consent) allows it, and never the other contact
//    field: each one the caller would otherwise see is withheld with its
//    reason.
absl::StatusOr<ReadDecision> DecideRead(
    const Actor& actor, const LeadMetadata& meta, bool receipt,
    const std::optional<EmergencyGrant>& grant,
    const std::optional<Outreach>& outreach = std::nullopt,
    const std::optional<ConsentDecision>& consent = std::nullopt);

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_READ_DECISION_H_
