// Conversions between leadvault.v1 protos and vault domain types.
#ifndef LEADVAULT_API_CONVERT_H_
#define LEADVAULT_API_CONVERT_H_

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "leadvault/v1/leadvault.pb.h"
#include "vault/actor.h"
#include "vault/audit_log.h"
#include "vault/consent.h"
#include "vault/consent_store.h"
#include "vault/lead.h"
#include "vault/principal_store.h"
#include "vault/roles.h"

namespace leadvault::api {

// Copies every non-empty field into SecretBytes.
vault::LeadPii FromProto(const v1::PersonalData& in);
void ToProto(const vault::LeadPii& in, v1::PersonalData* out);

// Enum values outside the known set are passed through; the vault refuses them
// with INVALID_ARGUMENT naming the field.
vault::Attribution FromProto(const v1::Attribution& in);
void ToProto(const vault::Attribution& in, v1::Attribution* out);
void ToProto(const vault::LeadMetadata& in, v1::LeadMetadata* out);
void ToProto(const vault::SignedCheckpoint& in, v1::SignedCheckpoint* out);
// Channel and outcome are passed through (the vault refuses unknown ones); the
// purpose UNSPECIFIED is scheduling, an unknown one INVALID_ARGUMENT
// "add_contact_attempts.purpose: unknown purpose".
absl::StatusOr<vault::ContactAttempt> FromProto(const v1::ContactAttempt& in);

// Consent. An enum value in a required place that is UNSPECIFIED or unknown to
// this build is INVALID_ARGUMENT "<field>: unknown channel" (purpose, method);
// no message ever holds a submitted value. The consenting person's IP address
// and an SMS reply's text go straight from the request into SecretBytes.
absl::StatusOr<vault::ConsentChannel> ConsentChannelFromProto(v1::ConsentChannel channel,
                                                              absl::string_view field);
absl::StatusOr<vault::ConsentPurpose> ConsentPurposeFromProto(v1::ConsentPurpose purpose,
                                                              absl::string_view field);
// As ConsentPurposeFromProto, with UNSPECIFIED meaning scheduling.
absl::StatusOr<vault::ConsentPurpose> OptionalConsentPurposeFromProto(v1::ConsentPurpose purpose,
                                                                      absl::string_view field);
// Fields are named "consent.channels", "consent.purposes" (the vault's names
// for a grant's).
absl::StatusOr<vault::ConsentGrant> FromProto(const v1::ConsentGrant& in);
// Fields are named "revocation.channels", "revocation.purposes",
// "revocation.method". A method UNSPECIFIED is recorded as "other": a
// revocation is never refused for how it was heard.
absl::StatusOr<vault::ConsentRevocation> FromProto(const v1::ConsentRevocation& in);
v1::ConsentChannel ToProto(vault::ConsentChannel channel);
v1::ConsentPurpose ToProto(vault::ConsentPurpose purpose);
// Evidence without the IP address (ip_captured and ip_commitment say whether one was kept).
void ToProto(const vault::ConsentEvent& in, v1::ConsentEvent* out);
void ToProto(const vault::ConsentDecision& in, v1::CheckConsentResponse* out);
void ToProto(const vault::WithheldField& in, v1::WithheldField* out);
// Everything but hidden_fields, which is the read's (HiddenFields).
void ToProto(const vault::Submission& in, v1::Submission* out);

// Closed sets the API first sent as strings, typed: each enum value's name is
// its prefix and the upper-cased string ("no_consent" is
// WITHHELD_REASON_NO_CONSENT). A string the enum lacks is UNSPECIFIED.
v1::PersonalField ToProto(vault::PiiField field);
v1::TcpaElement ToProto(vault::TcpaElement element);
v1::ConsentReason ToProto(vault::ConsentReason reason);
v1::ConsentAction ToProto(vault::ConsentAction action);
v1::Role ToProto(vault::Role role);
// WithheldField::reason: a consent reason's name or "not_outreach_channel".
v1::WithheldReason WithheldReasonFromName(absl::string_view reason);
// A role's name ("intake"), as a principal record holds it.
v1::Role RoleFromName(absl::string_view name);
// An audit entry's role label: role names joined by commas ("intake,compliance";
// empty: none), each typed in order.
std::vector<v1::Role> RolesFromLabel(absl::string_view label);
// An audit entry's purpose ("treatment"; empty: none stated).
v1::PurposeOfUse PurposeFromName(absl::string_view name);

// The personal fields a GetLead that returned `lead` to `actor` did not
// disclose (in field order), as vault::DecideRead decided them: those its
// roles' projection hides for the purpose stated (all of them for a read
// that shows no field), none under emergency access, and the contact fields
// withheld for outreach. The same set applies to the lead's submissions.
std::vector<vault::PiiField> HiddenFields(const vault::Actor& actor, const vault::Lead& lead);

void ToProto(const vault::Principal& in, v1::Principal* out);

// The purpose of use a request states: nullopt for UNSPECIFIED (the vault
// decides whether the call needs one); INVALID_ARGUMENT "purpose: unknown
// purpose of use" for a value this build does not know.
absl::StatusOr<std::optional<vault::Purpose>> PurposeFromProto(v1::PurposeOfUse purpose);
v1::PurposeOfUse ToProto(vault::Purpose purpose);

// Parses a lead id's text form; INVALID_ARGUMENT "lead_id: ..." if malformed.
absl::StatusOr<std::string> ParseLeadId(const std::string& text);

}  // namespace leadvault::api

#endif  // LEADVAULT_API_CONVERT_H_
