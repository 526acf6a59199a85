// AuditLog: the vault's tamper-evident audit log over RocksDB.
#ifndef LEADVAULT_VAULT_AUDIT_LOG_H_
#define LEADVAULT_VAULT_AUDIT_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/audit_entry.h"
#include "audit/checkpoint.h"
#include "audit/export_manifest.h"
#include "audit/merkle.h"
#include "keys/signing.h"
#include "rocksdb/write_batch.h"
#include "vault/database.h"
#include "vault/disclosure_index.h"
#include "vault/high_water_mark.h"

namespace leadvault::vault {

struct AuditLogOptions {
  // A signed checkpoint is written once this many entries are unsigned, or
  // once `checkpoint_interval` has passed since the last one with entries
  // unsigned, and at a clean stop.
  uint64_t checkpoint_every_entries = 1000;
  absl::Duration checkpoint_interval = absl::Seconds(10);
  // The high-water mark file (vault/high_water_mark.h): every checkpoint is
  // recorded there before it is served, and the log must cover it at start.
  // Empty: none (tests of the log alone).
  std::string high_water_file;
  // Operator recovery (leadvaultd --recover-lost-log-tail): start on a log
  // shorter than, or inconsistent with, the high-water mark instead of
  // refusing; the vault then records what it accepted (lost_tail()).
  bool accept_lost_tail = false;
};

// What a start under AuditLogOptions::accept_lost_tail found.
struct LostTail {
  uint64_t high_water_size = 0;  // the newest checkpoint served (0: none recorded)
  uint64_t log_size = 0;         // entries the log holds
  bool lost = false;             // the log is shorter than, or disagrees with, the mark
};

struct SignedCheckpoint {
  audit::Checkpoint checkpoint;
  std::string note;  // the C2SP signed note
};

// One entry as stored: its canonical bytes and their decoded form.
struct StoredEntry {
  std::string canonical;
  audit::AuditEntry entry;
};

// The audit log: canonical entries in the `audit` column family (key:
// sequence), the complete Merkle nodes above the leaves in `merkle` (a leaf is
// its entry's hash), a lead id -> sequence index of disclosures in
// `audit_lead`, and signed checkpoints in `meta`. Entry n is leaf n - 1. There
// is no delete path.
//
// Appends are staged into the Committer's group batch, on the committer
// thread only, so an entry, its Merkle nodes and the change it describes are
// one atomic write; the staged state becomes visible to readers only after
// CommitStaged(). Readers see only durable state. Thread-safe.
class AuditLog {
 public:
  // Loads the Merkle frontier for the entries on disk (first deriving the
  // tree's nodes from the entries of a log written before the tree existed);
  // DATA_LOSS if the stored tree does not cover exactly the stored entries,
  // or if the log is shorter than the high-water mark's checkpoint (naming
  // both sizes), before anything can be appended to it.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(Database* db,
                                                        const AuditLogOptions& options);

  // Installs the checkpoint signer; until then no checkpoint is written. The
  // key name and checkpoint origin are `origin`. DATA_LOSS if the stored last
  // checkpoint or the high-water mark does not verify or does not describe
  // the stored tree (a shorter log, or another root at its size), unless
  // options.accept_lost_tail (see lost_tail()). Brings the high-water mark up
  // to the stored last checkpoint if it is behind (written before this
  // version, or a crash between the two writes).
  absl::Status SetSigner(std::unique_ptr<keys::SigningKey> key, const std::string& origin);

  // ---- The committer thread only. ----

  // Adds `entry` (whose sequence must be the next one) with its canonical
  // bytes, Merkle nodes and index keys to `batch`.
  absl::Status Stage(const audit::AuditEntry& entry, const std::string& canonical,
                     rocksdb::WriteBatch& batch);
  // Adds a signed checkpoint of the staged tree to `batch` if one is due at
  // `now` (or `force`, when anything is unsigned). No-op without a signer.
  absl::Status StageCheckpointIfDue(absl::Time now, bool force, rocksdb::WriteBatch& batch);
  // True if a checkpoint would be due at `now` with nothing more appended.
  bool CheckpointDue(absl::Time now) const;
  // The staged state becomes the durable one (the batch was written) or is
  // dropped. A staged checkpoint is recorded in the high-water mark first and
  // served only once that is durable: if recording fails, the entries are
  // still durable but the checkpoint is not served, and the error is returned.
  absl::Status CommitStaged();
  void DiscardStaged();
  // The staged checkpoint's signed note ("" if none is staged).
  const std::string& StagedCheckpointNote() const;

  // ---- Readers (any thread). ----

  uint64_t size() const;  // durable entries
  // The durable tree's frontier (its size, and what appending to it needs).
  audit::MerkleFrontier durable_frontier() const;
  // Set once SetSigner accepted a log under options.accept_lost_tail.
  std::optional<LostTail> lost_tail() const;
  // The newest durable signed checkpoint, if any.
  std::optional<SignedCheckpoint> LatestCheckpoint() const;
  // "<name>+<key id>+<key>": what verifiers need (empty before SetSigner).
  std::string VerifierKey() const;
  std::string origin() const;
  // The export manifest signed with the checkpoint key (a C2SP signed note of
  // audit::FormatExportManifest, which never reads as a checkpoint).
  // FAILED_PRECONDITION before SetSigner; INVALID_ARGUMENT for another origin.
  absl::StatusOr<std::string> SignExportManifest(const audit::ExportManifest& manifest) const;

  // Proofs over the durable tree. INVALID_ARGUMENT for sizes beyond it.
  absl::StatusOr<std::vector<audit::Hash>> InclusionProof(uint64_t index, uint64_t tree_size);
  absl::StatusOr<std::vector<audit::Hash>> ConsistencyProof(uint64_t size1, uint64_t size2);
  // The hashes of audit::RangeNodes(begin, end), for exports of a range.
  absl::StatusOr<std::vector<audit::Hash>> RangeHashes(uint64_t begin, uint64_t end);

  // One durable entry; NOT_FOUND beyond size().
  absl::StatusOr<StoredEntry> ReadEntry(uint64_t sequence);
  // Calls `fn` for entries first..last (durable ones) in order; CANCELLED as
  // soon as `fn` returns false, DATA_LOSS if an entry is missing or malformed.
  absl::Status ScanEntries(uint64_t first, uint64_t last,
                           const std::function<bool(const StoredEntry&)>& fn);
  // The first sequence whose time is >= `t` (size() + 1 if none). Entry times
  // never decrease with sequence (the Committer guarantees it).
  absl::StatusOr<uint64_t> FirstSequenceAtOrAfter(absl::Time t);
  // Calls `fn` with the sequence of each disclosure of `lead_id` (binary) at
  // or after `from_sequence`, ascending, until `fn` returns false.
  absl::Status ScanDisclosures(const std::string& lead_id, uint64_t from_sequence,
                               const std::function<bool(uint64_t)>& fn);

 private:
  AuditLog(Database* db, const AuditLogOptions& options) : db_(db), options_(options) {}
  class Nodes;
  absl::Status RebuildTreeIfAbsent(uint64_t size);
  // ScanEntries over stored entries, durable or not yet loaded.
  absl::Status ScanStored(uint64_t first, uint64_t last,
                          const std::function<bool(const StoredEntry&)>& fn);

  Database* const db_;
  const AuditLogOptions options_;
  // Read at Open; written by SetSigner (before the signer is installed) and
  // then only by the committer thread (CommitStaged). Null without a file.
  std::unique_ptr<HighWaterMark> high_water_;
  // The high-water mark's checkpoint as parsed (unverified) at Open.
  std::optional<audit::Checkpoint> high_water_claim_;

  // Committer-thread state (staged, not yet durable).
  audit::MerkleFrontier staged_;
  bool staged_checkpoint_ = false;
  SignedCheckpoint staged_signed_;
  absl::Time staged_checkpoint_time_;

  mutable absl::Mutex mu_;
  audit::MerkleFrontier durable_ ABSL_GUARDED_BY(mu_);
  std::optional<SignedCheckpoint> latest_ ABSL_GUARDED_BY(mu_);
  absl::Time last_checkpoint_time_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::unique_ptr<keys::SigningKey> key_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<audit::NoteSigner> signer_ ABSL_GUARDED_BY(mu_);
  std::string origin_ ABSL_GUARDED_BY(mu_);
  std::optional<LostTail> lost_tail_ ABSL_GUARDED_BY(mu_);
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_AUDIT_LOG_H_
