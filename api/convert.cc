#include "api/convert.h"

#include "absl/strings/ascii.h"

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
  }
  for (const auto& t : in.touches) {
    auto* p = out->add_touches();
    p->set_at_unix_micros(absl::ToUnixMicros(t.at));
    ToProto(t.attribution, p->mutable_attribution());
  }
  out->set_version(in.version);
}

vault::ContactAttempt FromProto(const v1::ContactAttempt& in) {
  return {absl::FromUnixMicros(in.at_unix_micros()),
          static_cast<vault::ContactChannel>(in.channel()),
          static_cast<vault::ContactOutcome>(in.outcome())};
}

void ToProto(const vault::Principal& in, v1::Principal* out) {
  out->set_principal_id(in.id);
  out->set_display_name(in.display_name);
  for (const auto& r : in.roles) out->add_roles(r);
  for (const auto& s : in.service_lines) out->add_service_lines(s);
  out->set_created_at_unix_micros(absl::ToUnixMicros(in.created_at));
  out->set_expires_at_unix_micros(absl::ToUnixMicros(in.expires_at));
  out->set_enabled(in.enabled);
  out->set_client_cert_sha256(in.client_cert_sha256);
  if (in.previous_token_expires_at != absl::InfinitePast()) {
    out->set_previous_token_expires_at_unix_micros(
        absl::ToUnixMicros(in.previous_token_expires_at));
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

absl::StatusOr<std::string> ParseLeadId(const std::string& text) {
  auto id = vault::DecodeLeadId(text);
  if (!id.has_value()) return absl::InvalidArgumentError("lead_id: must be 32 hex characters");
  return *std::move(id);
}

}  // namespace leadvault::api
