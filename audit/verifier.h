// Offline verification of a JSON Lines audit export: needs only the file and
// the log's public (verifier) key; no daemon, no master key.
#ifndef LEADVAULT_AUDIT_VERIFIER_H_
#define LEADVAULT_AUDIT_VERIFIER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "audit/checkpoint.h"
#include "audit/export_manifest.h"

namespace leadvault::audit {

struct VerifyOptions {
  const NoteVerifier* verifier = nullptr;  // required
  // A checkpoint trusted from before (already opened with `verifier`); the
  // export's checkpoint must be consistent with it (same or larger tree).
  std::optional<Checkpoint> trusted;
};

struct VerifyReport {
  uint64_t entries = 0;
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  bool filtered = false;
  Checkpoint checkpoint;         // the export's signed checkpoint
  bool trusted_checked = false;  // consistency with options.trusted proven
  // Filtered: the daemon's signed manifest the entries were checked against
  // (filter, range, checkpoint, match count and leaf chain).
  std::optional<ExportManifest> manifest;
};

// Verifies the export at `path`: the checkpoint's signature; for every entry,
// that its displayed fields are exactly its canonical bytes rendered, its
// sequence is the next one expected (no gap, reorder or duplicate); that the
// leaves rebuild the signed root (with the header's left frontier and the
// trailer's right nodes, or each entry's inclusion proof when filtered); that
// the file is complete; and consistency with `options.trusted`. A filtered
// export must carry the daemon's signed manifest (audit/export_manifest.h):
// its filter, range and checkpoint must be the header's and the trailer's,
// every entry must match the filter, and the entry lines must be exactly the
// attested number with the attested leaf chain. So the file is proven to hold
// every entry the daemon says matched (no entry removed, added, replaced or
// reordered), but which entries match is the daemon's word, not a proof.
//
// On failure the status (INVALID_ARGUMENT, or NOT_FOUND/UNAVAILABLE for the
// file itself) says where and what: "sequence 42 (line 43): ..." for an entry,
// "line 1: ..." or "checkpoint: ..." otherwise.
absl::StatusOr<VerifyReport> VerifyExportFile(const std::string& path,
                                              const VerifyOptions& options);

}  // namespace leadvault::audit

#endif  // LEADVAULT_AUDIT_VERIFIER_H_
