#include "vault/read_decision.h"

#include <algorithm>

#include "keys/error_reason.h"

namespace leadvault::vault {

bool ReadDecision::DisclosesAnyField() const {
  return std::any_of(fields.begin(), fields.end(),
                     [](Projection p) { return p != Projection::kHidden; });
}

namespace {

// Withholds the contact fields a read for `outreach` may not return.
void ApplyOutreach(const Outreach& outreach, const std::optional<ConsentDecision>& consent,
                   ReadDecision& decision) {
  const PiiField own =
      outreach.channel == ConsentChannel::kEmail ? PiiField::kEmail : PiiField::kPhone;
  const PiiField other = own == PiiField::kEmail ? PiiField::kPhone : PiiField::kEmail;
  auto withhold = [&decision](PiiField field, WithheldField why) {
    Projection& p = decision.fields[static_cast<size_t>(field) - 1];
    if (p == Projection::kHidden) return;  // not the caller's to see anyway
    p = Projection::kHidden;
    why.field = field;
    decision.withheld.push_back(std::move(why));
  };
  WithheldField not_this;
  not_this.reason = "not_outreach_channel";
  withhold(other, std::move(not_this));
  if (consent.has_value() && consent->allowed) return;
  WithheldField why;
  why.reason = std::string(
      ConsentReasonName(consent.has_value() ? consent->reason : ConsentReason::kNoConsent));
  if (consent.has_value()) {
    if (consent->reason == ConsentReason::kRevoked ||
        consent->reason == ConsentReason::kSuppressed ||
        consent->reason == ConsentReason::kContactChanged) {
      why.since = consent->at;
    }
    why.missing = consent->missing;
  }
  withhold(own, std::move(why));
}

}  // namespace

absl::StatusOr<ReadDecision> DecideRead(const Actor& actor, const LeadMetadata& meta, bool receipt,
                                        const std::optional<EmergencyGrant>& grant,
                                        const std::optional<Outreach>& outreach,
                                        const std::optional<ConsentDecision>& consent) {
  // A lead out of the caller's scope is answered exactly as a missing one; an
  // emergency grant never widens the scope.
  if (!MaySee(actor, meta)) return absl::NotFoundError("lead not found");
  ReadDecision decision;
  decision.meta = SeesLeadProgress(actor, meta) ? meta : SubmissionView(meta);
  decision.fields.fill(Projection::kHidden);
  // Emergency access: the purpose says so, and an open grant of the actor's
  // must cover the lead, in the scope of a role that may open one (the scope
  // may have shrunk since the grant was opened).
  if (actor.purpose == Purpose::kEmergency) {
    const bool covered = grant.has_value() && grant->principal_id == actor.principal_id &&
                         std::find(grant->lead_ids.begin(), grant->lead_ids.end(), meta.id) !=
                             grant->lead_ids.end() &&
                         MaySeeAs(actor, decision.meta, Rpc::kOpenEmergencyAccess);
    if (!covered) {
      return WithReason(
          absl::PermissionDeniedError(
              "purpose: emergency needs an open emergency access grant for this lead"),
          "EMERGENCY_GRANT_REQUIRED");
    }
    if (!receipt) {
      decision.fields.fill(Projection::kClear);
      decision.grant = grant;
      if (outreach.has_value()) ApplyOutreach(*outreach, consent, decision);
    }
    return decision;
  }
  // Without a grant: a read that would disclose a field states an allowed
  // purpose first, and then sees what the roles that may state it see.
  if (!WouldDiscloseFields(actor, decision.meta)) return decision;  // metadata only
  if (absl::Status s = CheckPurpose(actor, decision.meta); !s.ok()) return s;
  if (actor.purpose == Purpose::kSchedulingOutreach && !outreach.has_value()) {
    return absl::InvalidArgumentError("outreach.channel: required for purpose scheduling_outreach");
  }
  if (receipt) return decision;  // a receipt has no field
  decision.fields = ProjectionsFor(actor, decision.meta);
  if (outreach.has_value()) ApplyOutreach(*outreach, consent, decision);
  return decision;
}

}  // namespace leadvault::vault
