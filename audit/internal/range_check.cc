#include "audit/internal/range_check.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keys/status_macros.h"

namespace leadvault::audit::internal {
namespace {

absl::Status CheckManifestAgainstEntries(const ExportManifest& m, uint64_t entries,
                                         const Hash& chain) {
  if (entries != m.matches) {
    return absl::InvalidArgumentError(absl::StrCat(
        "manifest: the file has ", entries, " entry lines, the daemon attested ", m.matches,
        " matching entries in [", m.first_sequence, ", ", m.last_sequence, "] (",
        entries < m.matches ? "an entry was removed" : "an entry was added", ")"));
  }
  if (chain != m.leaf_chain) {
    return absl::InvalidArgumentError(
        "manifest: the entry lines' leaf_chain differs from the attested one (an entry was "
        "replaced by another, or the manifest is another export's)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckFilteredEntry(const ExportHeader& header, const Checkpoint& cp,
                                const EntryLine& line, uint64_t line_number) {
  const uint64_t seq = line.entry.sequence;
  if (seq < header.first_sequence || seq > header.last_sequence) {
    return EntryError(seq, line_number,
                      absl::StrCat("outside the export's range [", header.first_sequence, ", ",
                                   header.last_sequence, "]"));
  }
  if (!header.filter.Matches(line.entry)) {
    return EntryError(seq, line_number, "does not match the export's filter");
  }
  absl::Status included = VerifyInclusion(seq - 1, cp.size, line.leaf, line.inclusion, cp.root);
  if (!included.ok()) {
    return EntryError(
        seq, line_number,
        absl::StrCat("inclusion proof against the checkpoint fails: ", included.message()));
  }
  return absl::OkStatus();
}

absl::Status CheckManifestAgainstHeader(const ExportHeader& header, const ExportManifest& m,
                                        const Checkpoint& cp) {
  if (m.origin != header.origin) {
    return absl::InvalidArgumentError("manifest: its origin differs from the header's origin");
  }
  if (m.tree_size != cp.size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "manifest: it was made against tree size ", m.tree_size,
        ", the export's checkpoint has tree size ", cp.size, " (the manifest of another export?)"));
  }
  if (m.root != cp.root) {
    return absl::InvalidArgumentError(
        "manifest: its root differs from the export's checkpoint root (the manifest of another "
        "export?)");
  }
  if (m.first_sequence != header.first_sequence || m.last_sequence != header.last_sequence) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest: it covers sequences [", m.first_sequence, ", ", m.last_sequence,
                     "], the header [", header.first_sequence, ", ", header.last_sequence, "]"));
  }
  const struct {
    absl::string_view name;
    const std::string& signed_value;
    const std::string& header_value;
  } members[] = {{"principal_id", m.filter.principal_id, header.filter.principal_id},
                 {"action", m.filter.action, header.filter.action},
                 {"lead_id", m.filter.lead_id, header.filter.lead_id}};
  for (const auto& member : members) {
    if (member.signed_value != member.header_value) {
      return absl::InvalidArgumentError(absl::StrCat(
          "manifest: its filter ", member.name, " differs from the header's filter_", member.name));
    }
  }
  return absl::OkStatus();
}

void ChunkRange(const EntryResult* results, size_t begin, size_t end, uint64_t first_leaf,
                ChunkNodes& nodes) {
  nodes.clear();
  for (size_t i = begin; i < end; ++i) {
    if (!results[i].status.ok()) return;  // the fold stops at this line
    NodeId id{0, first_leaf + i};
    Hash hash = results[i].leaf;
    while (!nodes.empty() && nodes.back().first.level == id.level &&
           (nodes.back().first.index & 1) == 0 && nodes.back().first.index + 1 == id.index) {
      hash = NodeHash(nodes.back().second, hash);
      id = NodeId{id.level + 1, id.index >> 1};
      nodes.pop_back();
    }
    nodes.emplace_back(id, hash);
  }
}

absl::StatusOr<RangeCheck> RangeCheck::Start(const ExportHeader& header,
                                             const std::optional<Checkpoint>& trusted) {
  RangeCheck check(header, trusted);
  if (!header.filtered) {
    auto frontier = MerkleFrontier::FromNodes(header.first_sequence - 1, header.left_frontier);
    if (!frontier.ok()) return WithPrefix("line 1: left_frontier: ", frontier.status());
    check.frontier_ = *std::move(frontier);
  }
  if (trusted.has_value() && trusted->origin != header.origin) {
    return absl::InvalidArgumentError(
        "line 1: the export's origin differs from the trusted checkpoint's");
  }
  return check;
}

absl::Status RangeCheck::Fold(const EntryResult* results, size_t count, uint64_t first_line,
                              const ChunkNodes* chunk_nodes) {
  const size_t chunks = (count + kChunkLines - 1) / kChunkLines;
  const std::optional<uint64_t> trusted_size = trusted_.has_value() && !trusted_checked_
                                                   ? std::optional<uint64_t>(trusted_->size)
                                                   : std::nullopt;
  for (size_t chunk = 0; chunk < chunks; ++chunk) {
    const size_t begin = chunk * kChunkLines;
    const size_t end = std::min(count, begin + kChunkLines);
    for (size_t i = begin; i < end; ++i) {
      const uint64_t line_number = first_line + i;
      const EntryResult& r = results[i];
      if (!r.status.ok()) return r.status;
      const uint64_t seq = r.sequence;
      if (header_.filtered) {
        if (entries_ > 0 && seq <= last_seen_) {
          return EntryError(
              seq, line_number,
              absl::StrCat("not after sequence ", last_seen_, " (duplicate or out of order)"));
        }
        chain_.Append(r.leaf);
      } else {
        if (entries_ == header_.last_sequence - (header_.first_sequence - 1)) {
          return EntryError(
              seq, line_number,
              absl::StrCat("beyond the export's last_sequence ", header_.last_sequence));
        }
        const uint64_t expected = header_.first_sequence + entries_;
        if (seq > expected) {
          return EntryError(expected, line_number,
                            absl::StrCat("missing: found sequence ", seq,
                                         " here (an entry is missing or out of order)"));
        }
        if (seq < expected) {
          return EntryError(seq, line_number,
                            absl::StrCat("already seen (duplicate or out of order); expected "
                                         "sequence ",
                                         expected));
        }
      }
      last_seen_ = seq;
      ++entries_;
    }
    if (header_.filtered) continue;
    if (trusted_size.has_value() && *trusted_size > frontier_.size() &&
        *trusted_size <= frontier_.size() + (end - begin)) {
      // The trusted size falls in this chunk: leaf by leaf, to see its root.
      for (size_t i = begin; i < end; ++i) {
        frontier_.Append(results[i].leaf);
        LV_RETURN_IF_ERROR(CheckTrustedInStream(first_line + i));
      }
      continue;
    }
    for (const auto& [id, hash] : chunk_nodes[chunk]) {
      LV_RETURN_IF_ERROR(frontier_.AppendNode(id, hash));
    }
  }
  return absl::OkStatus();
}

absl::Status RangeCheck::CheckComplete(const Checkpoint& cp, const std::vector<Hash>& right,
                                       const std::optional<ExportManifest>& manifest) {
  if (header_.filtered) return CheckManifestAgainstEntries(*manifest, entries_, chain_.value());

  const uint64_t expected_entries = header_.last_sequence - (header_.first_sequence - 1);
  if (entries_ != expected_entries) {
    return absl::InvalidArgumentError(
        absl::StrCat("truncated: entries after sequence ", header_.first_sequence - 1 + entries_,
                     " are missing (the header promises up to ", header_.last_sequence, ")"));
  }
  const std::vector<NodeId> ids = RangeNodes(header_.last_sequence, cp.size);
  if (right.size() != ids.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint: right_nodes has ", right.size(), " hashes, expected ", ids.size(),
                     " for leaves [", header_.last_sequence, ", ", cp.size, ")"));
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    LV_RETURN_IF_ERROR(
        WithPrefix("checkpoint: right_nodes: ", frontier_.AppendNode(ids[i], right[i])));
  }
  if (frontier_.Root() != cp.root) {
    return absl::InvalidArgumentError(
        absl::StrCat("root mismatch: the ", entries_,
                     " entries with the left frontier and "
                     "right nodes do not rebuild the checkpoint's root (tree size ",
                     cp.size, ")"));
  }
  return absl::OkStatus();
}

// Unfiltered: when the stream's tree reaches the trusted size, its root must
// be the trusted root.
absl::Status RangeCheck::CheckTrustedInStream(uint64_t line_number) {
  if (!trusted_.has_value() || trusted_checked_ || frontier_.size() != trusted_->size) {
    return absl::OkStatus();
  }
  if (frontier_.Root() != trusted_->root) {
    const std::string what =
        absl::StrCat("the tree of ", frontier_.size(),
                     " entries differs from the trusted checkpoint of that size (fork)");
    if (line_number <= 1) return absl::InvalidArgumentError(absl::StrCat("line 1: ", what));
    return EntryError(frontier_.size(), line_number, what);
  }
  trusted_checked_ = true;
  return absl::OkStatus();
}

absl::Status RangeCheck::CheckTrustedAtEnd(const Checkpoint& cp,
                                           const std::optional<Consistency>& consistency) {
  if (!trusted_.has_value()) return absl::OkStatus();
  const Checkpoint& trusted = *trusted_;
  if (trusted.size > cp.size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollback: the export's checkpoint (tree size ", cp.size,
                     ") is older than the trusted checkpoint (tree size ", trusted.size, ")"));
  }
  if (trusted.size == cp.size) {
    if (trusted.root != cp.root) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint: root differs from the trusted checkpoint of the same tree size ", cp.size,
          " (fork)"));
    }
    trusted_checked_ = true;
    return absl::OkStatus();
  }
  if (trusted.size == 0 && !trusted_checked_) {  // every tree extends the empty tree
    if (trusted.root != EmptyTreeHash()) {
      return absl::InvalidArgumentError("checkpoint: the trusted empty tree has a wrong root");
    }
    trusted_checked_ = true;
  }
  if (consistency.has_value() && consistency->from_size == trusted.size && trusted.size != 0) {
    absl::Status consistent =
        VerifyConsistency(trusted.size, cp.size, trusted.root, cp.root, consistency->proof);
    if (!consistent.ok()) {
      return WithPrefix(absl::StrCat("checkpoint: not consistent with the trusted checkpoint "
                                     "(tree size ",
                                     trusted.size, "): "),
                        consistent);
    }
    trusted_checked_ = true;
    return absl::OkStatus();
  }
  if (trusted_checked_) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("checkpoint: a consistency proof from the trusted tree size ", trusted.size,
                   " to ", cp.size, " is needed",
                   consistency.has_value()
                       ? absl::StrCat(" (the export's is from size ", consistency->from_size, ")")
                       : std::string(" (the export has none: export with --trusted and the "
                                     "same checkpoint file to include it)")));
}

}  // namespace leadvault::audit::internal
