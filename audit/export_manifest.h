// The signed manifest of a filtered audit export: what the daemon attests it
// selected, so that an entry left out of (or added to, or moved within) a
// filtered export is caught offline.
//
// A filtered export proves each entry it holds by its own inclusion proof, but
// inclusion says nothing about the entries it lacks. The manifest closes that:
// the daemon signs, with the log's checkpoint key, the filter it applied, the
// sequence range it scanned, the checkpoint the proofs are against, how many
// entries matched and a hash chain over their leaf hashes. The guarantee is
// therefore the daemon's word on the selection (not a Merkle proof of it): a
// filtered export is only as honest as the daemon that made it.
//
// Text (a C2SP signed-note body; every line ends in '\n'):
//   <origin> export-manifest
//   checkpoint <tree size> <base64 root>
//   range <first_sequence> <last_sequence>
//   filter principal_id=<value> action=<value> lead_id=<value>
//   matches <count>
//   leaf_chain <base64 of 32 bytes>
// Numbers are canonical unsigned decimal; a filter value is empty when that
// filter was not applied, else 1..kMaxFilterValueBytes printable ASCII
// characters other than space (so the line splits unambiguously).
// leaf_chain is c_n, where c_0 is 32 zero bytes and c_i = SHA-256(c_{i-1} ||
// leaf_i), leaf_i the RFC 6962 leaf hash of the i-th matching entry in
// ascending sequence (which binds its sequence and its bytes).
//
// A manifest can never be read as a checkpoint nor a checkpoint as a manifest:
// a checkpoint's first line is the origin alone and its second a bare decimal
// tree size; a manifest's first line ends in " export-manifest" (an origin is
// a key name, which has no space) and its second starts with "checkpoint ".
#ifndef LEADVAULT_AUDIT_EXPORT_MANIFEST_H_
#define LEADVAULT_AUDIT_EXPORT_MANIFEST_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/audit_entry.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"

namespace leadvault::audit {

inline constexpr size_t kMaxFilterValueBytes = 128;

// Which entries a filtered export selects; an empty member does not filter.
struct ExportFilter {
  std::string principal_id;
  std::string action;
  std::string lead_id;  // text form (32 lower-case hex)

  bool empty() const { return principal_id.empty() && action.empty() && lead_id.empty(); }
  // True if `entry` passes every filter that is set (lead_id: one of its leads).
  bool Matches(const AuditEntry& entry) const;
  friend bool operator==(const ExportFilter&, const ExportFilter&) = default;
};

// INVALID_ARGUMENT naming the member ("action: ...") if a value is not
// empty or 1..kMaxFilterValueBytes printable ASCII characters without space.
absl::Status ValidateExportFilter(const ExportFilter& filter);

// The running hash chain over the leaf hashes of the matching entries.
class LeafChain {
 public:
  void Append(const Hash& leaf);
  const Hash& value() const { return value_; }
  uint64_t count() const { return count_; }

 private:
  Hash value_{};
  uint64_t count_ = 0;
};

struct ExportManifest {
  std::string origin;
  uint64_t tree_size = 0;  // of the checkpoint the entries are proven against
  Hash root{};             // that checkpoint's root
  uint64_t first_sequence = 1;
  uint64_t last_sequence = 0;
  ExportFilter filter;
  uint64_t matches = 0;
  Hash leaf_chain{};
};

// The manifest text described above. REQUIRES: ValidateExportFilter(filter) is OK.
std::string FormatExportManifest(const ExportManifest& manifest);
// Parses exactly that text; INVALID_ARGUMENT naming the line that is malformed
// ("manifest line 4 (filter): ...").
absl::StatusOr<ExportManifest> ParseExportManifest(absl::string_view text);
// Opens a signed manifest: NoteVerifier::Open() (INVALID_ARGUMENT if
// malformed, PERMISSION_DENIED without a valid signature by the key), then
// ParseExportManifest(); also requires the origin to be the key's name.
absl::StatusOr<ExportManifest> OpenExportManifest(absl::string_view note,
                                                  const NoteVerifier& verifier);

}  // namespace leadvault::audit

#endif  // LEADVAULT_AUDIT_EXPORT_MANIFEST_H_
