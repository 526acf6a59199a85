// The deletion receipt: proof that a lead was purged. It is the purge's audit
// entry (a "DeleteLead" a data-subject request made, or a "RetentionPurge" of
// a retention sweep) with its RFC 9162 inclusion proof against one signed
// checkpoint, as one JSON document anyone can verify offline with only the
// log's verifier key (`leadvaultctl receipt verify FILE --pubkey KEY`).
//
// What verification proves: the log the key signs holds, at `sequence`, an
// allowed purge entry naming exactly this lead, at the entry's time, by the
// principal and role it names (and, for a deletion request, with the reason
// it carries). The vault commits that entry atomically with the deletion of
// every row the lead owned and of its wrapped data key, so the entry being in
// the log means the deletion was durable. It does not prove when the deleted
// bytes left the disk (the next sweep's compaction: SECURITY.md), nor that
// the lead's id is never reused (ids are random 128-bit values).
//
// Thread-safe: pure functions.
#ifndef LEADVAULT_AUDIT_DELETION_RECEIPT_H_
#define LEADVAULT_AUDIT_DELETION_RECEIPT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/audit_entry.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"

namespace leadvault::audit {

struct DeletionReceipt {
  std::string lead_id;                // text form: 32 lower-case hex
  uint64_t sequence = 0;              // the purge's audit entry
  std::string entry;                  // its canonical bytes (EncodeCanonical)
  std::vector<Hash> inclusion_proof;  // leaf sequence - 1 in the checkpoint's tree
  std::string checkpoint_note;        // signed note (C2SP) covering `sequence`

  friend bool operator==(const DeletionReceipt&, const DeletionReceipt&) = default;
};

inline constexpr size_t kMaxDeletionReceiptBytes = size_t{1} << 20;

// The document, format "leadvault-deletion-receipt" version 1: one JSON
// object, two-space indented, keys in this order, ending in '\n': format,
// version, lead_id, sequence, deleted_at (the entry's time as RFC 3339 UTC
// with six fraction digits: informative, checked against the entry), entry
// (base64 of the canonical bytes), inclusion_proof (array of base64 hashes),
// checkpoint (the signed note). Deterministic.
std::string RenderDeletionReceipt(const DeletionReceipt& receipt);

// Parses a document as rendered above, with any JSON whitespace and key
// order. Strict: an unknown, missing, repeated or wrongly typed key, base64
// that is not canonical, a hash that is not 32 bytes, an entry that does not
// decode, or a deleted_at that does not spell the entry's time is
// INVALID_ARGUMENT naming the key, never quoting the input. At most
// kMaxDeletionReceiptBytes and 64 proof hashes.
absl::StatusOr<DeletionReceipt> ParseDeletionReceipt(absl::string_view text);

struct DeletionReceiptReport {
  Checkpoint checkpoint;
  AuditEntry entry;  // the purge, decoded
};

// Verifies offline: the checkpoint note's signature (NoteVerifier); the entry
// decodes with sequence == `sequence`, is an allowed "DeleteLead" or
// "RetentionPurge" whose lead_ids are exactly [lead_id]; `sequence` is in
// 1..tree size and the entry's leaf hash with the inclusion proof rebuilds the
// checkpoint's root at index sequence - 1. Errors are INVALID_ARGUMENT
// ("entry: ...", "checkpoint: ...", "inclusion_proof: ...") or, for a
// signature by another key, PERMISSION_DENIED; never a field's value.
absl::StatusOr<DeletionReceiptReport> VerifyDeletionReceipt(const DeletionReceipt& receipt,
                                                            const NoteVerifier& verifier);

}  // namespace leadvault::audit

#endif  // LEADVAULT_AUDIT_DELETION_RECEIPT_H_
