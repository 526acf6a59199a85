// Validation and normalization of lead input.
//
// Every error is INVALID_ARGUMENT with a message of the form
// "<field>: <rule>" (e.g. "email: must be a valid address",
// "phone: not a valid number for its region"); no message ever contains the
// offending value or any part of it.
#ifndef LEADVAULT_VAULT_VALIDATION_H_
#define LEADVAULT_VAULT_VALIDATION_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "keys/secret_bytes.h"
#include "vault/lead.h"

namespace leadvault::vault {

// Length limits, in bytes of UTF-8.
inline constexpr size_t kMaxNameLength = 100;
inline constexpr size_t kMaxEmailLength = 254;
inline constexpr size_t kMaxPhoneInputLength = 32;
inline constexpr size_t kMaxStreetLength = 200;
inline constexpr size_t kMaxCityLength = 100;
inline constexpr size_t kMaxFreeTextLength = 4000;    // condition_interest, notes
inline constexpr size_t kMaxAttributionLength = 200;  // campaign, utm_*
inline constexpr size_t kMaxLandingPageLength = 2048;
inline constexpr size_t kMaxServiceLineLength = 64;
inline constexpr size_t kMaxIdempotencyKeyLength = 128;

// Practical RFC 5322 address (dot-atom local part, LDH domain labels with a dot,
// TLD alphabetic), trimmed, domain lower-cased, local part kept as given.
absl::StatusOr<keys::SecretBytes> NormalizeEmail(absl::string_view input);
// The blind-index form of a normalized email: fully lower-cased.
keys::SecretBytes EmailIndexForm(const keys::SecretBytes& normalized_email);

// E.164 (e.g. "+16175551234"), parsed with libphonenumber, US as the default
// region; numbers that are not valid for their region are refused. Input is at
// most 32 bytes of digits, spaces and + - . ( ); extensions are refused.
absl::StatusOr<keys::SecretBytes> NormalizePhone(absl::string_view input);

// ISO date "YYYY-MM-DD" (US "MM/DD/YYYY" is accepted and converted) of a real
// calendar day, not after the UTC date of `now`, giving an age from 0 to 120
// whole years at `now` (UTC).
absl::StatusOr<keys::SecretBytes> NormalizeDateOfBirth(absl::string_view input, absl::Time now);

// A US state, DC, territory or military code; any case in, upper-case out.
absl::StatusOr<keys::SecretBytes> NormalizeState(absl::string_view input);

// "12345" or "12345-6789" ("123456789" becomes "12345-6789").
absl::StatusOr<keys::SecretBytes> NormalizePostalCode(absl::string_view input);

// Free text: valid UTF-8, at most `max_length` bytes, no control characters
// (newline and tab allowed only when `multiline`; also refused: C1 controls, DEL,
// U+2028/2029 and bidi overrides/isolates); leading/trailing ASCII whitespace
// trimmed, and the limit applies after trimming. May return an empty buffer.
absl::StatusOr<keys::SecretBytes> NormalizeText(absl::string_view field_name,
                                                absl::string_view input, size_t max_length,
                                                bool multiline);

// Validates and normalizes every present field of `pii` in place. At least one
// of email and phone is required ("email: email or phone is required"). On error
// `pii` is unchanged. A text field that trims to nothing becomes absent.
absl::Status NormalizeLeadPii(LeadPii& pii, absl::Time now);

// As NormalizeLeadPii for the fields `pii` has, without requiring an email or
// phone (an amendment's new values).
absl::Status NormalizePiiFields(LeadPii& pii, absl::Time now);

// Validates attribution: known source enum (not unspecified), lengths, valid
// UTF-8, no control characters; service_line required and lower-case
// [a-z0-9_-]; landing_page must be an http(s) URL and is reduced to scheme,
// host and path (query string and fragment dropped: they often carry PII).
absl::Status NormalizeAttribution(Attribution& attribution);

// An idempotency key: 1..128 printable ASCII characters.
absl::Status ValidateIdempotencyKey(absl::string_view key);

// A service line name (lower-case [a-z0-9_-], 1..64). `field` names it in errors.
absl::Status ValidateServiceLine(absl::string_view field, absl::string_view service_line);

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_VALIDATION_H_
