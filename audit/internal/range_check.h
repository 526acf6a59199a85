// The checks over the export's range as a whole: sequence continuity, the
// rebuilt root (unfiltered), the manifest's count and leaf chain (filtered)
// and consistency with a trusted checkpoint. Entries are folded in file order
// on one thread; errors are INVALID_ARGUMENT naming the first bad entry.
#ifndef LEADVAULT_AUDIT_INTERNAL_RANGE_CHECK_H_
#define LEADVAULT_AUDIT_INTERNAL_RANGE_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/checkpoint.h"
#include "audit/export_format.h"
#include "audit/export_manifest.h"
#include "audit/internal/export_reader.h"
#include "audit/merkle.h"

namespace leadvault::audit::internal {

// Entry lines are checked in chunks of this many; unfiltered, each chunk's
// leaves are also merged into the chunk's compact range on the worker, so the
// in-order fold appends O(log kChunkLines) nodes per chunk.
inline constexpr size_t kChunkLines = 128;

// The outcome of checking one entry line on its own.
struct EntryResult {
  absl::Status status;
  uint64_t sequence = 0;
  Hash leaf{};
};

using ChunkNodes = std::vector<std::pair<NodeId, Hash>>;

// Filtered: the entry read from line `line_number` is in the header's range,
// matches its filter, and its inclusion proof leads to `checkpoint`'s root.
absl::Status CheckFilteredEntry(const ExportHeader& header, const Checkpoint& checkpoint,
                                const EntryLine& line, uint64_t line_number);

// Filtered: the signed manifest names the header's origin, range and filter
// and the export's checkpoint ("manifest: ..." otherwise).
absl::Status CheckManifestAgainstHeader(const ExportHeader& header, const ExportManifest& manifest,
                                        const Checkpoint& checkpoint);

// Unfiltered: into `nodes`, the compact range of the leaves of results
// [begin, end), leaf i at index first_leaf + i, as if every line holds the
// sequence expected there (the fold checks that first). Stops at the first
// failed result (the fold stops there too).
void ChunkRange(const EntryResult* results, size_t begin, size_t end, uint64_t first_leaf,
                ChunkNodes& nodes);

class RangeCheck {
 public:
  // `header` as ReadHeaderLine returns it. Errors name line 1.
  static absl::StatusOr<RangeCheck> Start(const ExportHeader& header,
                                          const std::optional<Checkpoint>& trusted);

  // Leaves in the rebuilt tree so far (unfiltered).
  uint64_t leaves() const { return frontier_.size(); }
  uint64_t entries() const { return entries_; }
  uint64_t last_seen() const { return last_seen_; }
  bool trusted_checked() const { return trusted_checked_; }

  // Folds results [0, count) of lines first_line.., in file order: the first
  // failed result, or the sequence rule (consecutive from first_sequence
  // unfiltered, increasing filtered); then the chunk's nodes
  // (chunk_nodes[c] for results [c * kChunkLines, ...)) into the tree.
  absl::Status Fold(const EntryResult* results, size_t count, uint64_t first_line,
                    const ChunkNodes* chunk_nodes);

  // Unfiltered: when the tree reaches the trusted size, its root must be the
  // trusted root (a fork otherwise), named at `line_number`.
  absl::Status CheckTrustedInStream(uint64_t line_number);

  // At the checkpoint line: unfiltered, every entry of the range was read and
  // with `right_nodes` they rebuild the checkpoint's root; filtered, the
  // entries are exactly the manifest's count and leaf chain.
  absl::Status CheckComplete(const Checkpoint& checkpoint, const std::vector<Hash>& right_nodes,
                             const std::optional<ExportManifest>& manifest);

  // After the last line: the checkpoint extends the trusted one (same root
  // at the same size, the stream's root at the trusted size, or the
  // consistency proof).
  absl::Status CheckTrustedAtEnd(const Checkpoint& checkpoint,
                                 const std::optional<Consistency>& consistency);

 private:
  RangeCheck(const ExportHeader& header, const std::optional<Checkpoint>& trusted)
      : header_(header), trusted_(trusted) {}

  // Constant after Start().
  ExportHeader header_;
  std::optional<Checkpoint> trusted_;

  MerkleFrontier frontier_;  // unfiltered: leaves [0, sequence of the last entry)
  uint64_t entries_ = 0;
  uint64_t last_seen_ = 0;  // sequence of the last entry (0 before the first)
  LeafChain chain_;         // filtered: over the leaves of the entries read
  bool trusted_checked_ = false;
};

}  // namespace leadvault::audit::internal

#endif  // LEADVAULT_AUDIT_INTERNAL_RANGE_CHECK_H_
