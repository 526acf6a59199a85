#include "api/convert.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "keys/status_macros.h"
#include "vault/access_policy.h"

namespace leadvault::api {
namespace {

using vault::PiiField;

// The proto's string for each PII field, in field-number order.
const std::string& FieldOf(const v1::PersonalData& p, PiiField f) {
  switch (f) {
    case PiiField::kFirstName:
      return p.first_name();
    case PiiField::kLastName:
      return p.last_name();
    case PiiField::kEmail:
      return p.email();
    case PiiField::kPhone:
      return p.phone();
    case PiiField::kDateOfBirth:
      return p.date_of_birth();
    case PiiField::kStreetAddress:
      return p.street_address();
    case PiiField::kCity:
      return p.city();
    case PiiField::kState:
      return p.state();
    case PiiField::kPostalCode:
      return p.postal_code();
    case PiiField::kConditionInterest:
      return p.condition_interest();
    case PiiField::kNotes:
      return p.notes();
  }
  return p.notes();
}

// A time on the wire: 0 for "none" (InfinitePast, or the zero absl::Time).
int64_t MicrosOrZero(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::UnixEpoch()) return 0;
  return absl::ToUnixMicros(t);
}

v1::RevocationMethod ToProto(vault::RevocationMethod method) {
  switch (method) {
    case vault::RevocationMethod::kIntakeCall:
      return v1::REVOCATION_METHOD_INTAKE_CALL;
    case vault::RevocationMethod::kSmsReply:
      return v1::REVOCATION_METHOD_SMS_REPLY;
    case vault::RevocationMethod::kEmailUnsubscribe:
      return v1::REVOCATION_METHOD_EMAIL_UNSUBSCRIBE;
    case vault::RevocationMethod::kPreferencePage:
      return v1::REVOCATION_METHOD_PREFERENCE_PAGE;
    case vault::RevocationMethod::kOther:
      return v1::REVOCATION_METHOD_OTHER;
  }
  return v1::REVOCATION_METHOD_UNSPECIFIED;
}

std::string* MutableFieldOf(v1::PersonalData* p, PiiField f) {
  switch (f) {
    case PiiField::kFirstName:
      return p->mutable_first_name();
    case PiiField::kLastName:
      return p->mutable_last_name();
    case PiiField::kEmail:
      return p->mutable_email();
    case PiiField::kPhone:
      return p->mutable_phone();
    case PiiField::kDateOfBirth:
      return p->mutable_date_of_birth();
    case PiiField::kStreetAddress:
      return p->mutable_street_address();
    case PiiField::kCity:
      return p->mutable_city();
    case PiiField::kState:
      return p->mutable_state();
    case PiiField::kPostalCode:
      return p->mutable_postal_code();
    case PiiField::kConditionInterest:
      return p->mutable_condition_interest();
    case PiiField::kNotes:
      return p->mutable_notes();
  }
  return p->mutable_notes();
}

}  // namespace

vault::LeadPii FromProto(const v1::PersonalData& in) {
  vault::LeadPii out;
  for (PiiField f : vault::kAllPiiFields) {
    const std::string& value = FieldOf(in, f);
    if (!value.empty()) out.Set(f, keys::SecretBytes::CopyFrom(value));
  }
  return out;
}

void ToProto(const vault::LeadPii& in, v1::PersonalData* out) {
  for (PiiField f : vault::kAllPiiFields) {
    if (!in.Has(f)) continue;
    absl::string_view v = in.Get(f).view();
    MutableFieldOf(out, f)->assign(v.data(), v.size());
  }
}

vault::Attribution FromProto(const v1::Attribution& in) {
  vault::Attribution a;
  a.source = static_cast<vault::SourceChannel>(in.source());
  a.campaign = in.campaign();
  a.utm_source = in.utm_source();
  a.utm_medium = in.utm_medium();
  a.utm_campaign = in.utm_campaign();
  a.utm_term = in.utm_term();
  a.utm_content = in.utm_content();
  a.landing_page = in.landing_page();
  a.service_line = in.service_line();
  return a;
}

void ToProto(const vault::Attribution& in, v1::Attribution* out) {
  out->set_source(static_cast<v1::SourceChannel>(in.source));
  out->set_campaign(in.campaign);
  out->set_utm_source(in.utm_source);
  out->set_utm_medium(in.utm_medium);
  out->set_utm_campaign(in.utm_campaign);
  out->set_utm_term(in.utm_term);
  out->set_utm_content(in.utm_content);
  out->set_landing_page(in.landing_page);
  out->set_service_line(in.service_line);
}

void ToProto(const vault::LeadMetadata& in, v1::LeadMetadata* out) {
  out->set_lead_id(vault::EncodeLeadId(in.id));
  out->set_created_at_unix_micros(absl::ToUnixMicros(in.created_at));
  out->set_updated_at_unix_micros(absl::ToUnixMicros(in.updated_at));
  ToProto(in.attribution, out->mutable_attribution());
  out->set_status(static_cast<v1::LeadStatus>(in.status));
  for (const auto& c : in.contact_attempts) {
    auto* p = out->add_contact_attempts();
    p->set_at_unix_micros(absl::ToUnixMicros(c.at));
    p->set_channel(static_cast<v1::ContactChannel>(c.channel));
    p->set_outcome(static_cast<v1::ContactOutcome>(c.outcome));
    p->set_purpose(ToProto(c.purpose));
    p->set_automated(c.automated);
  }
  for (const auto& t : in.touches) {
    auto* p = out->add_touches();
    p->set_at_unix_micros(absl::ToUnixMicros(t.at));
    ToProto(t.attribution, p->mutable_attribution());
  }
  out->set_version(in.version);
}

absl::StatusOr<vault::ContactAttempt> FromProto(const v1::ContactAttempt& in) {
  vault::ContactAttempt out;
  out.at = absl::FromUnixMicros(in.at_unix_micros());
  out.channel = static_cast<vault::ContactChannel>(in.channel());
  out.outcome = static_cast<vault::ContactOutcome>(in.outcome());
  LV_ASSIGN_OR_RETURN(
      out.purpose, OptionalConsentPurposeFromProto(in.purpose(), "add_contact_attempts.purpose"));
  out.automated = in.automated();
  return out;
}

absl::StatusOr<vault::ConsentChannel> ConsentChannelFromProto(v1::ConsentChannel channel,
                                                              absl::string_view field) {
  switch (channel) {
    case v1::CONSENT_CHANNEL_EMAIL:
      return vault::ConsentChannel::kEmail;
    case v1::CONSENT_CHANNEL_SMS:
      return vault::ConsentChannel::kSms;
    case v1::CONSENT_CHANNEL_VOICE:
      return vault::ConsentChannel::kVoice;
    case v1::CONSENT_CHANNEL_AUTODIALED_VOICE:
      return vault::ConsentChannel::kAutodialedVoice;
    default:
      return absl::InvalidArgumentError(absl::StrCat(field, ": unknown channel"));
  }
}

absl::StatusOr<vault::ConsentPurpose> ConsentPurposeFromProto(v1::ConsentPurpose purpose,
                                                              absl::string_view field) {
  switch (purpose) {
    case v1::CONSENT_PURPOSE_SCHEDULING:
      return vault::ConsentPurpose::kScheduling;
    case v1::CONSENT_PURPOSE_TREATMENT_FOLLOW_UP:
      return vault::ConsentPurpose::kTreatmentFollowUp;
    case v1::CONSENT_PURPOSE_MARKETING:
      return vault::ConsentPurpose::kMarketing;
    case v1::CONSENT_PURPOSE_THIRD_PARTY_SHARING:
      return vault::ConsentPurpose::kThirdPartySharing;
    default:
      return absl::InvalidArgumentError(absl::StrCat(field, ": unknown purpose"));
  }
}

absl::StatusOr<vault::ConsentPurpose> OptionalConsentPurposeFromProto(v1::ConsentPurpose purpose,
                                                                      absl::string_view field) {
  if (purpose == v1::CONSENT_PURPOSE_UNSPECIFIED) return vault::ConsentPurpose::kScheduling;
  return ConsentPurposeFromProto(purpose, field);
}

absl::StatusOr<vault::ConsentGrant> FromProto(const v1::ConsentGrant& in) {
  vault::ConsentGrant out;
  for (int c : in.channels()) {
    LV_ASSIGN_OR_RETURN(
        vault::ConsentChannel channel,
        ConsentChannelFromProto(static_cast<v1::ConsentChannel>(c), "consent.channels"));
    out.channels.push_back(channel);
  }
  for (int p : in.purposes()) {
    LV_ASSIGN_OR_RETURN(
        vault::ConsentPurpose purpose,
        ConsentPurposeFromProto(static_cast<v1::ConsentPurpose>(p), "consent.purposes"));
    out.purposes.push_back(purpose);
  }
  out.third_party = in.third_party();
  const v1::ConsentEvidence& e = in.evidence();
  out.evidence.captured_at = absl::FromUnixMicros(e.captured_at_unix_micros());
  out.evidence.source_url = e.source_url();
  out.evidence.seller_name = e.seller_name();
  out.evidence.disclosure_version = e.disclosure_version();
  out.evidence.disclosure_sha256 = e.disclosure_sha256();
  out.evidence.authorizes_automated = e.authorizes_automated();
  out.evidence.not_condition_of_purchase = e.not_condition_of_purchase();
  out.evidence.capture_certificate_id = e.capture_certificate_id();
  out.evidence.user_agent = e.user_agent();
  // PII: from the request straight into SecretBytes, no copy in between.
  if (!e.ip_address().empty()) {
    out.evidence.ip_address = keys::SecretBytes::CopyFrom(e.ip_address());
  }
  return out;
}

absl::StatusOr<vault::ConsentRevocation> FromProto(const v1::ConsentRevocation& in) {
  vault::ConsentRevocation out;
  for (int c : in.channels()) {
    LV_ASSIGN_OR_RETURN(
        vault::ConsentChannel channel,
        ConsentChannelFromProto(static_cast<v1::ConsentChannel>(c), "revocation.channels"));
    out.channels.push_back(channel);
  }
  for (int p : in.purposes()) {
    LV_ASSIGN_OR_RETURN(
        vault::ConsentPurpose purpose,
        ConsentPurposeFromProto(static_cast<v1::ConsentPurpose>(p), "revocation.purposes"));
    out.purposes.push_back(purpose);
  }
  out.third_party = in.third_party();
  switch (in.method()) {
    case v1::REVOCATION_METHOD_UNSPECIFIED:
    case v1::REVOCATION_METHOD_OTHER:
      out.method = vault::RevocationMethod::kOther;
      break;
    case v1::REVOCATION_METHOD_INTAKE_CALL:
      out.method = vault::RevocationMethod::kIntakeCall;
      break;
    case v1::REVOCATION_METHOD_SMS_REPLY:
      out.method = vault::RevocationMethod::kSmsReply;
      break;
    case v1::REVOCATION_METHOD_EMAIL_UNSUBSCRIBE:
      out.method = vault::RevocationMethod::kEmailUnsubscribe;
      break;
    case v1::REVOCATION_METHOD_PREFERENCE_PAGE:
      out.method = vault::RevocationMethod::kPreferencePage;
      break;
    default:
      return absl::InvalidArgumentError("revocation.method: unknown method");
  }
  // Never stored: from the request straight into SecretBytes for the classifier.
  if (!in.reply_text().empty()) out.reply_text = keys::SecretBytes::CopyFrom(in.reply_text());
  return out;
}

v1::ConsentChannel ToProto(vault::ConsentChannel channel) {
  switch (channel) {
    case vault::ConsentChannel::kEmail:
      return v1::CONSENT_CHANNEL_EMAIL;
    case vault::ConsentChannel::kSms:
      return v1::CONSENT_CHANNEL_SMS;
    case vault::ConsentChannel::kVoice:
      return v1::CONSENT_CHANNEL_VOICE;
    case vault::ConsentChannel::kAutodialedVoice:
      return v1::CONSENT_CHANNEL_AUTODIALED_VOICE;
  }
  return v1::CONSENT_CHANNEL_UNSPECIFIED;
}

v1::ConsentPurpose ToProto(vault::ConsentPurpose purpose) {
  switch (purpose) {
    case vault::ConsentPurpose::kScheduling:
      return v1::CONSENT_PURPOSE_SCHEDULING;
    case vault::ConsentPurpose::kTreatmentFollowUp:
      return v1::CONSENT_PURPOSE_TREATMENT_FOLLOW_UP;
    case vault::ConsentPurpose::kMarketing:
      return v1::CONSENT_PURPOSE_MARKETING;
    case vault::ConsentPurpose::kThirdPartySharing:
      return v1::CONSENT_PURPOSE_THIRD_PARTY_SHARING;
  }
  return v1::CONSENT_PURPOSE_UNSPECIFIED;
}

void ToProto(const vault::ConsentEvent& in, v1::ConsentEvent* out) {
  const bool grant = in.action == vault::ConsentAction::kGrant;
  out->set_number(in.number);
  out->set_at_unix_micros(MicrosOrZero(in.at));
  out->set_recorded_by(in.recorded_by);
  out->set_action(std::string(vault::ConsentActionName(in.action)));
  out->set_action_code(ToProto(in.action));
  for (vault::ConsentChannel c : in.channels) out->add_channels(ToProto(c));
  for (vault::ConsentPurpose p : in.purposes) out->add_purposes(ToProto(p));
  for (const std::string& t : in.third_parties) out->add_third_parties(t);
  if (grant) {
    const vault::ConsentEvidence& e = in.evidence;
    v1::ConsentEvidence* p = out->mutable_evidence();
    p->set_captured_at_unix_micros(MicrosOrZero(e.captured_at));
    p->set_source_url(e.source_url);
    p->set_seller_name(e.seller_name);
    p->set_disclosure_version(e.disclosure_version);
    p->set_disclosure_sha256(e.disclosure_sha256);
    p->set_authorizes_automated(e.authorizes_automated);
    p->set_not_condition_of_purchase(e.not_condition_of_purchase);
    p->set_capture_certificate_id(e.capture_certificate_id);
    p->set_user_agent(e.user_agent);
    // ip_address stays empty: the IP is never returned.
    out->set_ip_captured(!in.ip_commitment.empty());
    out->set_ip_commitment(in.ip_commitment);
    for (vault::TcpaElement m : in.missing) {
      out->add_missing(std::string(vault::TcpaElementName(m)));
      out->add_missing_elements(ToProto(m));
    }
    out->set_complete(in.missing.empty());
  } else {
    out->set_method(ToProto(in.method));
    out->set_method_detail(in.method_detail);
  }
  out->set_audit_sequence(in.audit_sequence);
}

void ToProto(const vault::ConsentDecision& in, v1::CheckConsentResponse* out) {
  out->set_allowed(in.allowed);
  out->set_reason(std::string(vault::ConsentReasonName(in.reason)));
  out->set_reason_code(ToProto(in.reason));
  out->set_since_unix_micros(MicrosOrZero(in.at));
  for (vault::TcpaElement m : in.missing) {
    out->add_missing(std::string(vault::TcpaElementName(m)));
    out->add_missing_elements(ToProto(m));
  }
  out->set_event_number(in.event_number);
}

void ToProto(const vault::WithheldField& in, v1::WithheldField* out) {
  out->set_field(std::string(vault::PiiFieldName(in.field)));
  out->set_personal_field(ToProto(in.field));
  out->set_reason(in.reason);
  out->set_reason_code(WithheldReasonFromName(in.reason));
  out->set_since_unix_micros(MicrosOrZero(in.since));
  for (vault::TcpaElement m : in.missing) {
    out->add_missing(std::string(vault::TcpaElementName(m)));
    out->add_missing_elements(ToProto(m));
  }
}

void ToProto(const vault::Principal& in, v1::Principal* out) {
  out->set_principal_id(in.id);
  out->set_display_name(in.display_name);
  for (const auto& r : in.roles) {
    out->add_roles(r);
    out->add_role_codes(RoleFromName(r));
  }
  for (const auto& s : in.service_lines) out->add_service_lines(s);
  out->set_created_at_unix_micros(absl::ToUnixMicros(in.created_at));
  out->set_expires_at_unix_micros(absl::ToUnixMicros(in.expires_at));
  out->set_enabled(in.enabled);
  out->set_client_cert_sha256(in.client_cert_sha256);
  if (in.previous_token_expires_at != absl::InfinitePast()) {
    out->set_previous_token_expires_at_unix_micros(
        absl::ToUnixMicros(in.previous_token_expires_at));
  }
  if (in.webhook_expires_at != absl::InfinitePast()) {
    out->set_webhook_secret_expires_at_unix_micros(absl::ToUnixMicros(in.webhook_expires_at));
  }
  if (in.previous_webhook_expires_at != absl::InfinitePast()) {
    out->set_previous_webhook_secret_expires_at_unix_micros(
        absl::ToUnixMicros(in.previous_webhook_expires_at));
  }
}

absl::StatusOr<std::optional<vault::Purpose>> PurposeFromProto(v1::PurposeOfUse purpose) {
  if (purpose == v1::PURPOSE_OF_USE_UNSPECIFIED) return std::nullopt;
  std::optional<vault::Purpose> parsed;
  if (v1::PurposeOfUse_IsValid(purpose)) {
    std::string name = v1::PurposeOfUse_Name(purpose);
    parsed = vault::ParsePurpose(
        absl::AsciiStrToLower(absl::string_view(name).substr(sizeof("PURPOSE_OF_USE_") - 1)));
  }
  if (!parsed.has_value()) return absl::InvalidArgumentError("purpose: unknown purpose of use");
  return parsed;
}

void ToProto(const vault::Submission& in, v1::Submission* out) {
  out->set_at_unix_micros(absl::ToUnixMicros(in.at));
  ToProto(in.attribution, out->mutable_attribution());
  ToProto(in.pii, out->mutable_personal());
  for (vault::PiiField f : in.masked) {
    out->add_masked_fields(std::string(vault::PiiFieldName(f)));
    out->add_masked_personal_fields(ToProto(f));
  }
  for (vault::PiiField f : in.conflicts) {
    out->add_conflicts(std::string(vault::PiiFieldName(f)));
    out->add_conflicting_fields(ToProto(f));
  }
}

v1::PersonalField ToProto(vault::PiiField field) {
  // PersonalField numbers are PersonalData's field numbers, as PiiField's are.
  const int number = static_cast<int>(field);
  return v1::PersonalField_IsValid(number) ? static_cast<v1::PersonalField>(number)
                                           : v1::PERSONAL_FIELD_UNSPECIFIED;
}

v1::TcpaElement ToProto(vault::TcpaElement element) {
  switch (element) {
    case vault::TcpaElement::kSourceUrl:
      return v1::TCPA_ELEMENT_SOURCE_URL;
    case vault::TcpaElement::kSellerName:
      return v1::TCPA_ELEMENT_SELLER_NAME;
    case vault::TcpaElement::kDisclosureVersion:
      return v1::TCPA_ELEMENT_DISCLOSURE_VERSION;
    case vault::TcpaElement::kDisclosureSha256:
      return v1::TCPA_ELEMENT_DISCLOSURE_SHA256;
    case vault::TcpaElement::kAuthorizesAutomated:
      return v1::TCPA_ELEMENT_AUTHORIZES_AUTOMATED;
    case vault::TcpaElement::kNotConditionOfPurchase:
      return v1::TCPA_ELEMENT_NOT_CONDITION_OF_PURCHASE;
    case vault::TcpaElement::kCaptureCertificateId:
      return v1::TCPA_ELEMENT_CAPTURE_CERTIFICATE_ID;
  }
  return v1::TCPA_ELEMENT_UNSPECIFIED;
}

v1::ConsentReason ToProto(vault::ConsentReason reason) {
  switch (reason) {
    case vault::ConsentReason::kActive:
      return v1::CONSENT_REASON_ACTIVE;
    case vault::ConsentReason::kNoConsent:
      return v1::CONSENT_REASON_NO_CONSENT;
    case vault::ConsentReason::kRevoked:
      return v1::CONSENT_REASON_REVOKED;
    case vault::ConsentReason::kIncomplete:
      return v1::CONSENT_REASON_INCOMPLETE;
    case vault::ConsentReason::kSuppressed:
      return v1::CONSENT_REASON_SUPPRESSED;
    case vault::ConsentReason::kContactChanged:
      return v1::CONSENT_REASON_CONTACT_CHANGED;
  }
  return v1::CONSENT_REASON_UNSPECIFIED;
}

v1::ConsentAction ToProto(vault::ConsentAction action) {
  switch (action) {
    case vault::ConsentAction::kGrant:
      return v1::CONSENT_ACTION_GRANT;
    case vault::ConsentAction::kRevoke:
      return v1::CONSENT_ACTION_REVOKE;
  }
  return v1::CONSENT_ACTION_UNSPECIFIED;
}

v1::Role ToProto(vault::Role role) {
  switch (role) {
    case vault::Role::kCapture:
      return v1::ROLE_CAPTURE;
    case vault::Role::kAnalyst:
      return v1::ROLE_ANALYST;
    case vault::Role::kIntake:
      return v1::ROLE_INTAKE;
    case vault::Role::kCompliance:
      return v1::ROLE_COMPLIANCE;
    case vault::Role::kAdmin:
      return v1::ROLE_ADMIN;
    case vault::Role::kRetention:
      return v1::ROLE_RETENTION;
  }
  return v1::ROLE_UNSPECIFIED;
}

v1::WithheldReason WithheldReasonFromName(absl::string_view reason) {
  v1::WithheldReason out = v1::WITHHELD_REASON_UNSPECIFIED;
  if (reason.empty()) return out;
  // The names are the enum's own (a consent reason's, or "not_outreach_channel").
  const std::string name = absl::StrCat("WITHHELD_REASON_", absl::AsciiStrToUpper(reason));
  return v1::WithheldReason_Parse(name, &out) ? out : v1::WITHHELD_REASON_UNSPECIFIED;
}

v1::Role RoleFromName(absl::string_view name) {
  std::optional<vault::Role> role = vault::ParseRole(name);
  return role.has_value() ? ToProto(*role) : v1::ROLE_UNSPECIFIED;
}

std::vector<v1::Role> RolesFromLabel(absl::string_view label) {
  std::vector<v1::Role> out;
  if (label.empty()) return out;
  for (absl::string_view name : absl::StrSplit(label, ',')) out.push_back(RoleFromName(name));
  return out;
}

v1::PurposeOfUse PurposeFromName(absl::string_view name) {
  std::optional<vault::Purpose> purpose = vault::ParsePurpose(name);
  return purpose.has_value() ? ToProto(*purpose) : v1::PURPOSE_OF_USE_UNSPECIFIED;
}

std::vector<vault::PiiField> HiddenFields(const vault::Actor& actor, const vault::Lead& lead) {
  // vault::DecideRead's projection: under emergency access (the read passed
  // its grant check) every field; otherwise what the caller's roles with the
  // lead in scope see for the purpose stated (none for a metadata-only read,
  // whose roles see no field: ProjectionsFor hides all then too).
  vault::FieldProjections projections;
  if (actor.purpose == vault::Purpose::kEmergency) {
    projections.fill(vault::Projection::kClear);
  } else {
    projections = vault::ProjectionsFor(actor, lead.meta);
  }
  for (const vault::WithheldField& w : lead.withheld) {
    projections[static_cast<size_t>(w.field) - 1] = vault::Projection::kHidden;
  }
  std::vector<vault::PiiField> hidden;
  for (vault::PiiField f : vault::kAllPiiFields) {
    if (projections[static_cast<size_t>(f) - 1] == vault::Projection::kHidden) hidden.push_back(f);
  }
  return hidden;
}

v1::PurposeOfUse ToProto(vault::Purpose purpose) {
  v1::PurposeOfUse out = v1::PURPOSE_OF_USE_UNSPECIFIED;
  const std::string name =
      absl::StrCat("PURPOSE_OF_USE_", absl::AsciiStrToUpper(vault::PurposeName(purpose)));
  return v1::PurposeOfUse_Parse(name, &out) ? out : v1::PURPOSE_OF_USE_UNSPECIFIED;
}

absl::StatusOr<std::string> ParseLeadId(const std::string& text) {
  auto id = vault::DecodeLeadId(text);
  if (!id.has_value()) return absl::InvalidArgumentError("lead_id: must be 32 hex characters");
  return *std::move(id);
}

void ToProto(const vault::SignedCheckpoint& in, v1::SignedCheckpoint* out) {
  out->set_note(in.note);
  out->set_origin(in.checkpoint.origin);
  out->set_tree_size(in.checkpoint.size);
  out->set_root_hash(std::string(audit::HashBytes(in.checkpoint.root)));
}

}  // namespace leadvault::api
