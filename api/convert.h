// Conversions between leadvault.v1 protos and vault domain types.
#ifndef LEADVAULT_API_CONVERT_H_
#define LEADVAULT_API_CONVERT_H_

#include <optional>

#include "absl/status/statusor.h"
#include "leadvault/v1/leadvault.pb.h"
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
vault::ContactAttempt FromProto(const v1::ContactAttempt& in);

void ToProto(const vault::Principal& in, v1::Principal* out);

// The purpose of use a request states: nullopt for UNSPECIFIED (the vault
// decides whether the call needs one); INVALID_ARGUMENT "purpose: unknown
// purpose of use" for a value this build does not know.
absl::StatusOr<std::optional<vault::Purpose>> PurposeFromProto(v1::PurposeOfUse purpose);

// Parses a lead id's text form; INVALID_ARGUMENT "lead_id: ..." if malformed.
absl::StatusOr<std::string> ParseLeadId(const std::string& text);

}  // namespace leadvault::api

#endif  // LEADVAULT_API_CONVERT_H_
