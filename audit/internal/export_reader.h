// Reading the lines of a JSON Lines audit export (audit/export_format.h) back
// into values. Every reader requires the line to be exactly what the writer
// renders for the values it read (byte for byte), so a line with any other
// spelling, order or extra member is refused. Errors are INVALID_ARGUMENT and
// name the line ("line 1: ...", "<label>: ...", "sequence S (line N): ...").
// Thread-safe: the functions share no state.
#ifndef LEADVAULT_AUDIT_INTERNAL_EXPORT_READER_H_
#define LEADVAULT_AUDIT_INTERNAL_EXPORT_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/audit_entry.h"
#include "audit/export_format.h"
#include "audit/merkle.h"

namespace leadvault::audit::internal {

// How each kind of line after the header starts (the writer's member order).
inline constexpr absl::string_view kEntryPrefix = "{\"type\":\"entry\",";
inline constexpr absl::string_view kCheckpointPrefix = "{\"type\":\"checkpoint\",";
inline constexpr absl::string_view kConsistencyPrefix = "{\"type\":\"consistency\",";

std::string LineLabel(uint64_t line);
// `status` with `prefix` before its message.
absl::Status WithPrefix(absl::string_view prefix, const absl::Status& status);
// "sequence S (line N): what", or "line N: what" when S is 0 (unknown).
absl::Status EntryError(uint64_t sequence, uint64_t line_number, absl::string_view what);

// The header (line 1), with the rules that need nothing else: first_sequence
// at least 1, last_sequence not before first_sequence - 1, and when filtered
// no left frontier and a valid, non-empty filter.
absl::StatusOr<ExportHeader> ReadHeaderLine(absl::string_view line);

// The checkpoint line; errors start with `label`. A filtered export's must
// carry the manifest note, an unfiltered one's must not. Neither note is
// opened here.
absl::StatusOr<ExportTrailer> ReadTrailerLine(absl::string_view line, absl::string_view label,
                                              bool filtered);

struct Consistency {
  uint64_t from_size = 0;
  std::vector<Hash> proof;
};
// The consistency line after the checkpoint line; errors start with `label`.
absl::StatusOr<Consistency> ReadConsistencyLine(absl::string_view line, absl::string_view label);

// One entry line, decoded. Reused from line to line by one thread.
struct EntryLine {
  AuditEntry entry;
  std::string canonical;  // the entry's canonical bytes
  std::string rendered;   // scratch
  bool has_inclusion = false;
  std::vector<Hash> inclusion;  // when has_inclusion
  Hash leaf{};                  // the leaf hash of `canonical`
};

// Reads the entry line numbered `line_number` into `out`: its canonical
// bytes must decode to an entry that encodes to the same bytes, it must carry
// an inclusion proof exactly when `filtered`, and the line must be exactly
// the writer's rendering of that entry. Nothing is checked against the
// export's range, filter or checkpoint here.
absl::Status ReadEntryLine(absl::string_view line, uint64_t line_number, bool filtered,
                           EntryLine& out);

}  // namespace leadvault::audit::internal

#endif  // LEADVAULT_AUDIT_INTERNAL_EXPORT_READER_H_
