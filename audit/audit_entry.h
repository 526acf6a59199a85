// Audit entries and their canonical encoding.
#ifndef LEADVAULT_AUDIT_AUDIT_ENTRY_H_
#define LEADVAULT_AUDIT_AUDIT_ENTRY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace leadvault::audit {

enum class Outcome : int {
  kAllowed = 1,
  kDenied = 2,
  kFailed = 3,
  kUnauthenticated = 4,
};
absl::string_view OutcomeName(Outcome outcome);  // "allowed", "denied", ...
// The outcome a call that ended with `code` is recorded with: OK allowed,
// UNAUTHENTICATED unauthenticated, PERMISSION_DENIED denied, anything else failed.
Outcome OutcomeForCode(absl::StatusCode code);

// One audited event. Holds names, ids and blind tokens, never a PII value.
struct AuditEntry {
  uint64_t sequence = 0;  // assigned by the Committer: 1, 2, 3, ... without gaps
  absl::Time time;        // assigned by the Committer
  std::string principal_id;
  std::string role;
  std::string action;  // RPC or internal action name, e.g. "CreateLead"
  Outcome outcome = Outcome::kAllowed;
  int code = 0;                       // absl::StatusCode of the outcome
  std::vector<std::string> lead_ids;  // text form (32 hex)
  // Field NAMES read or written; for Compliance calls, the query's shape
  // ("from_size=42", "filter=principal"): numbers and names, never a value.
  std::vector<std::string> fields;
  std::vector<std::string> blind_tokens;  // hex blind tokens of look-up keys
  std::string purpose;
  std::string request_id;
  std::string peer;
  std::string break_glass_reason;
  // The principal a call acted on (principal changes); for an unauthenticated
  // call, the principal id its token claimed (never any part of its secret).
  std::string subject;
};

inline constexpr uint8_t kCanonicalVersion = 1;

// The canonical, deterministic bytes of an entry (format version 1): the
// version byte, then each field in declaration order as a length-prefixed
// (varint) byte string or a varint, lists as a count followed by elements,
// time as signed microseconds since the Unix epoch (zig-zag varint). Equal
// entries always encode to equal bytes; these bytes are what the Merkle log hashes.
std::string EncodeCanonical(const AuditEntry& entry);

// Parses canonical bytes; DATA_LOSS on malformed input or trailing bytes.
absl::StatusOr<AuditEntry> DecodeCanonical(absl::string_view bytes);

}  // namespace leadvault::audit

#endif  // LEADVAULT_AUDIT_AUDIT_ENTRY_H_
