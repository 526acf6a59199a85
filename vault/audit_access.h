// AuditAccess: what compliance officers read from the audit log.
#ifndef LEADVAULT_VAULT_AUDIT_ACCESS_H_
#define LEADVAULT_VAULT_AUDIT_ACCESS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "audit/export_format.h"
#include "audit/export_manifest.h"
#include "vault/actor.h"
#include "vault/audit_log.h"
#include "vault/committer.h"

namespace leadvault::vault {

struct InclusionResult {
  StoredEntry entry;
  std::vector<audit::Hash> proof;
  uint64_t tree_size = 0;
  std::optional<SignedCheckpoint> checkpoint;  // when a fresh one was asked for
};

struct ConsistencyResult {
  std::vector<audit::Hash> proof;
  uint64_t to_size = 0;
  std::optional<SignedCheckpoint> checkpoint;
};

// Which entries an export covers. Sequences [from_sequence, to_sequence]
// (to_sequence 0: no bound) and times [since, until) both apply.
struct AuditQuery {
  uint64_t from_sequence = 1;
  uint64_t to_sequence = 0;
  std::optional<absl::Time> since;
  std::optional<absl::Time> until;
  // Filters; empty matches all. lead_id in text form (32 hex).
  std::string principal_id;
  std::string action;
  std::string lead_id;
  bool filtered() const { return !principal_id.empty() || !action.empty() || !lead_id.empty(); }
};

// An export ready to stream: the header and trailer of the file, fixed
// against one signed checkpoint taken when the export began.
struct ExportPlan {
  AuditQuery query;
  audit::ExportHeader header;    // filtered: with the filter as applied
  audit::ExportTrailer trailer;  // without the manifest, which StreamExport signs
  uint64_t checkpoint_size = 0;
  audit::Hash checkpoint_root{};
};

// The entries of an ExportPlan, handed out in steps: a server sends what one
// step produced and takes the next step once the reader has taken it, so no
// scan (and no RocksDB iterator) is held open while a client is slow. Entries
// at or below the plan's checkpoint never change, so steps may be taken at
// any pace. Not thread-safe: one step at a time.
class ExportCursor {
 public:
  using Sink = std::function<bool(const StoredEntry&, const std::vector<audit::Hash>*)>;

  ExportCursor(AuditLog* log, ExportPlan plan);

  // Calls `sink` for each entry from where the last step stopped, in sequence
  // order (with its inclusion proof when filtered), until `sink` returns
  // false (that entry counts as taken: the next step goes on after it) or
  // the plan's range is done (done() then true). CANCELLED when `cancelled`
  // returns true (asked every few thousand entries scanned, matching or
  // not); DATA_LOSS or UNAVAILABLE as the log's scan fails.
  absl::Status Step(const Sink& sink, const std::function<bool()>& cancelled);
  bool done() const { return done_; }
  // REQUIRES: done(). The export's signed manifest when filtered
  // (audit/export_manifest.h: the filter, range, checkpoint, match count and
  // leaf chain), else "".
  absl::StatusOr<std::string> Manifest();

 private:
  AuditLog* log_;
  ExportPlan plan_;
  uint64_t next_;  // the first sequence the next step scans
  bool done_ = false;
  audit::LeafChain chain_;  // of the matches so far (filtered)
  std::vector<audit::Hash> proof_;
};

struct Disclosure {
  StoredEntry entry;
  std::vector<audit::Hash> inclusion_proof;
};

struct Accounting {
  std::vector<Disclosure> disclosures;  // oldest first
  SignedCheckpoint checkpoint;
  // Set when more disclosures exist than one reply holds: ask again from here.
  uint64_t next_sequence = 0;
};

// One reply holds at most this many disclosures, and about this many bytes of
// entries and proofs (well under gRPC's default 4 MiB message limit).
inline constexpr size_t kMaxDisclosures = 2000;
inline constexpr size_t kMaxAccountingBytes = 2 << 20;

// Checkpoints, proofs, exports and the accounting of disclosures. Each call
// commits its own audit entry (action named after the call) before anything
// is returned, together with a fresh signed checkpoint that covers it, so what
// a call returns can be checked against that checkpoint. Errors:
// INVALID_ARGUMENT (a size or range beyond the log), FAILED_PRECONDITION (the
// log has no signing key yet), UNAVAILABLE (storage), DATA_LOSS (a stored
// entry or node fails its checks). Thread-safe.
class AuditAccess {
 public:
  // Both must outlive this object.
  AuditAccess(Committer* committer, AuditLog* log) : committer_(committer), log_(log) {}

  // Each call sets `*committed` (when given) once its own audit entry is
  // durable: a later failure of the call must not be audited a second time.

  absl::StatusOr<SignedCheckpoint> GetCheckpoint(const Actor& actor, bool* committed = nullptr);
  // tree_size 0: against a fresh checkpoint.
  absl::StatusOr<InclusionResult> GetInclusionProof(const Actor& actor, uint64_t sequence,
                                                    uint64_t tree_size, bool* committed = nullptr);
  // to_size 0: to a fresh checkpoint.
  absl::StatusOr<ConsistencyResult> GetConsistencyProof(const Actor& actor, uint64_t from_size,
                                                        uint64_t to_size,
                                                        bool* committed = nullptr);

  // Commits the export's entry and fixes the checkpoint, range, left
  // frontier and right nodes. A filter value must be empty or 1..128
  // printable ASCII characters without space (INVALID_ARGUMENT naming it).
  absl::StatusOr<ExportPlan> BeginExport(const Actor& actor, const AuditQuery& query,
                                         bool* committed = nullptr);
  // The plan's entries, to be taken in steps (see ExportCursor).
  ExportCursor OpenExport(ExportPlan plan) { return ExportCursor(log_, std::move(plan)); }
  // The plan's entries in one pass: calls `sink` for each (see
  // ExportCursor::Step); stops early, with CANCELLED, when `sink` returns
  // false or `cancelled` does. Once every entry was handed to `sink`, returns
  // ExportCursor::Manifest().
  absl::StatusOr<std::string> StreamExport(
      const ExportPlan& plan,
      const std::function<bool(const StoredEntry&, const std::vector<audit::Hash>*)>& sink,
      const std::function<bool()>& cancelled);

  // Every access to the personal data of `lead_id` (binary) at or after
  // `since`, with inclusion proofs against a fresh checkpoint.
  absl::StatusOr<Accounting> AccountingOfDisclosures(const Actor& actor, const std::string& lead_id,
                                                     absl::Time since, uint64_t from_sequence,
                                                     bool* committed = nullptr);

 private:
  // Commits `entry` (with a fresh checkpoint, which is returned).
  absl::StatusOr<SignedCheckpoint> CommitWithCheckpoint(audit::AuditEntry entry, bool* committed);
  absl::Status Commit(audit::AuditEntry entry, bool* committed);
  // Commits `entry` for a proof against the tree of `size` leaves; `size` 0
  // asks for a fresh checkpoint, which is stored in `checkpoint` and whose
  // size `size` becomes.
  absl::Status CommitForProof(audit::AuditEntry entry, uint64_t& size,
                              std::optional<SignedCheckpoint>& checkpoint, bool* committed);

  Committer* const committer_;
  AuditLog* const log_;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_AUDIT_ACCESS_H_
