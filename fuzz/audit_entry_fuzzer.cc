// DecodeCanonical: audit entries as stored in the `audit` column family and
// carried (base64) in every export line.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/audit_entry.h"
#include "fuzz/fuzz_check.h"

namespace {

using leadvault::audit::AuditEntry;

bool SameEntry(const AuditEntry& a, const AuditEntry& b) {
  return a.sequence == b.sequence && a.time == b.time && a.principal_id == b.principal_id &&
         a.role == b.role && a.action == b.action && a.outcome == b.outcome && a.code == b.code &&
         a.lead_ids == b.lead_ids && a.fields == b.fields && a.blind_tokens == b.blind_tokens &&
         a.purpose == b.purpose && a.request_id == b.request_id && a.peer == b.peer &&
         a.break_glass_reason == b.break_glass_reason && a.subject == b.subject;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<AuditEntry> entry = leadvault::audit::DecodeCanonical(input);
  if (!entry.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(entry.status()));
    return 0;
  }
  // Canonical means one encoding per entry: what decodes is exactly the
  // encoding of what it decodes to, and that decodes to the same entry.
  const std::string encoded = leadvault::audit::EncodeCanonical(*entry);
  FUZZ_CHECK(encoded == input);
  absl::StatusOr<AuditEntry> again = leadvault::audit::DecodeCanonical(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(SameEntry(*entry, *again));
  // Any strict prefix is malformed (no entry is a prefix of another).
  if (size > 0) FUZZ_CHECK(!leadvault::audit::DecodeCanonical(input.substr(0, size - 1)).ok());
  return 0;
}
