// The one write path: group commit of state changes with their audit entries.
#ifndef LEADVAULT_VAULT_COMMITTER_H_
#define LEADVAULT_VAULT_COMMITTER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "audit/audit_entry.h"
#include "rocksdb/db.h"
#include "rocksdb/merge_operator.h"
#include "rocksdb/write_batch.h"
#include "vault/audit_journal.h"
#include "vault/audit_log.h"
#include "vault/clock.h"
#include "vault/database.h"
#include "vault/high_water_mark.h"
#include "vault/histogram.h"
#include "vault/merge_log.h"

namespace leadvault::vault {

// A Merge operand a group wrote (CommitterOptions::on_merges_written): views
// into the group's batches, valid only during the call.
struct MergeOperand {
  Cf cf;
  absl::string_view key;
  absl::string_view value;
};

struct CommitterOptions {
  AuditLogOptions audit;
  // Benchmark only (leadvault-bench's audit-cost comparison; no flag of the
  // daemon sets it): writes the batches without their audit entries.
  bool omit_audit_for_benchmark = false;
  // The audit journal (vault/audit_journal.h), outside RocksDB; empty: none.
  // Every group is appended to it before the group's database write (synced
  // first if the group changes state or carries a checkpoint), and cut off
  // again if that write fails; a failed append fails the group, nothing
  // written. A group with a purge (IsPurgeEntry) always carries a checkpoint.
  // Each checkpoint is also recorded in the high-water mark beside it
  // (AuditJournal::HighWaterPath) before it is served.
  std::string journal_file;
  // Appends to the journal are held from the start (a restore's replay reads
  // and cuts it first, then calls AttachJournal()).
  bool hold_journal = false;
  // A column family whose Merge operands a group writes as ONE record of its
  // merge log (vault/merge_log.h) instead of one memtable entry each (the
  // funnel aggregates: one per lead change), folded into the keys' operands
  // every thousand groups or so, after the group's callers are answered. A Put
  // or Delete on it first folds every record written before and the group's
  // operands so far (in the same batch), so the order of a key's operations
  // is kept. Start() folds what a previous run left.
  std::optional<MergeLogOptions> merge_log;
  // Called on the committer thread with every Merge operand written as an
  // entry of its own, once durable: a group's (before its callers are
  // answered: operands of other column families, and the log's written
  // directly ahead of a Put or Delete), each fold's of the merge log (one
  // per key), and a CatchUpMergeLog()'s, so the merge log's operands arrive
  // with their fold or the catch-up before it, each once (the funnel
  // aggregates' in-memory table follows the column family this way; a
  // reader of it calls CatchUpMergeLog() first). Must be quick and must not
  // call Commit(). Empty: none.
  std::function<void(const std::vector<MergeOperand>&)> on_merges_written;
};

// Serializes every write of the vault. Callers hand over a WriteBatch plus the
// audit entry that describes it; one committer thread takes everything queued,
// assigns consecutive audit sequence numbers and times, writes ONE combined
// batch with sync=true, then completes every caller of the group.
//
// Guarantees: a batch and its audit entry are durable together or not at all;
// Commit() returns OK only after the write is durable; audit sequence numbers
// are 1, 2, 3, ... in commit order with no gap, also across restarts (a failed
// group consumes no numbers). If the write fails nothing of the group is
// applied and every caller of the group gets DATA_LOSS if storage found
// corrupted data, RESOURCE_EXHAUSTED if it is full, else UNAVAILABLE. The
// same holds when the group cannot be appended to the audit journal: a
// change the journal lacks is never written.
//
// Storage faults: while free space is below DatabaseOptions::min_free_bytes a
// group's changes are refused with RESOURCE_EXHAUSTED before RocksDB sees them
// (audit-only entries until half of it), so the disk never fills. If a write
// still leaves the database holding a background error (writes fail until it
// is cleared), the committer clears it (DB::Resume) once there is room again,
// within about a second even when no call arrives. A checkpoint is served
// (AuditLog::LatestCheckpoint) only once the high-water mark records it; if
// that fails, the group's entries are still durable and only callers that
// asked for the checkpoint (CommitWithCheckpoint) get the error.
//
// Each entry is also appended to the AuditLog's Merkle tree in the same write,
// and entry times never decrease with sequence. A signed checkpoint is written
// with a group when one is due (AuditLogOptions), on request, and at Stop().
//
// Thread-safe. Commit() blocks; it must not be called from the committer thread.
class Committer {
 public:
  // Starts the committer thread. The next sequence number follows the last
  // entry in the `audit` column family. `db` and `clock` must outlive it.
  static absl::StatusOr<std::unique_ptr<Committer>> Start(Database* db, const Clock* clock,
                                                          const CommitterOptions& options = {});

  ~Committer();  // Stops (see Stop()).

  // Runs on the committer thread once `entry` has its sequence, before the
  // group is written: adds to the batch the rows that must name that
  // sequence (e.g. a consent event's record). A stamp only builds rows; an
  // error from one fails its whole group, as a storage error would.
  using Stamp = std::function<absl::Status(uint64_t sequence, rocksdb::WriteBatch& batch)>;

  // Durably writes `batch` and `entry` (whose sequence and time are assigned
  // here), with what `stamp` (if any) adds. Returns the entry's sequence number.
  absl::StatusOr<uint64_t> Commit(rocksdb::WriteBatch batch, audit::AuditEntry entry,
                                  Stamp stamp = nullptr);

  // Like Commit(), but returns at once; `done` runs on the committer thread
  // once the write is durable (or failed), so it must be quick and must not call
  // Commit(). If the committer is stopping, `done` runs at once with UNAVAILABLE.
  void CommitAsync(rocksdb::WriteBatch batch, audit::AuditEntry entry,
                   std::function<void(absl::StatusOr<uint64_t>)> done, Stamp stamp = nullptr);

  // Like Commit(), and the group that writes `entry` also writes a signed
  // checkpoint covering it (once the log has a signer): for calls that hand
  // out proofs against a checkpoint.
  absl::StatusOr<uint64_t> CommitWithCheckpoint(rocksdb::WriteBatch batch, audit::AuditEntry entry,
                                                Stamp stamp = nullptr);

  AuditLog& audit_log() { return *audit_log_; }

  // The journal (null without one) and whether appends to it are held: they
  // are while it holds entries beyond the log (a restore replays them, and
  // then calls AttachJournal()).
  AuditJournal* journal() { return journal_.get(); }
  bool journal_detached() const;
  void AttachJournal();
  // The error of the latest append to the journal (OK when it succeeded, or
  // there is none). While it holds, the committer retries the journal's
  // catch-up about every second, so it clears once there is room again.
  absl::Status journal_error() const;
  // The tree size the high-water mark beside the journal claims (0: none):
  // a checkpoint recorded there was written to the database first. Only
  // while the journal is detached (nothing records the mark then).
  uint64_t journal_high_water_size() const;

  // Appends `entries` (the journal's, verified: their sequences follow the
  // log's, their times do not go back) verbatim, in one group of their own
  // with `batch` and a checkpoint. For a restore (vault/backup_restore.h).
  absl::Status CommitReplayed(std::vector<StoredEntry> entries, rocksdb::WriteBatch batch);

  // Returns once on_merges_written has been handed the operands of every
  // written, unfolded merge-log record (CommitterOptions::merge_log) it had
  // not seen, combined per key as a fold would (the next fold hands it only
  // those written after): what on_merges_written maintains then counts
  // every call answered before this one began. Queued like a commit, and
  // done once its group is durable (so the group's own record is counted
  // too); it writes nothing (no fold, no audit entry), so it is admitted
  // like an audit-only entry, down to half the disk's headroom, and fails
  // with its group. OK at once without a merge log.
  absl::Status CatchUpMergeLog();

  // Finishes everything queued, then stops; later Commit() calls get UNAVAILABLE.
  void Stop();

  // The sequence number the next committed entry will get.
  uint64_t next_sequence() const;

  // For /metrics: audit entries per group written, the seconds each group's
  // synced write took (the fsync's latency, mostly), and the commits waiting.
  const Histogram& group_entries() const { return group_entries_; }
  const Histogram& write_seconds() const { return write_seconds_; }
  size_t queue_depth() const;
  // When this committer last served a signed checkpoint (real time; the
  // start before its first).
  absl::Time last_checkpoint_time() const {
    return absl::FromUnixNanos(last_checkpoint_unix_nanos_.load(std::memory_order_relaxed));
  }

  // Test hook: while set, every group write fails as a storage error would.
  void SetFailWritesForTesting(bool fail);
  // Test hook: while set, every append to the journal fails as a full disk would.
  void SetFailJournalForTesting(bool fail);
  // Test hook: runs on the committer thread before each group is written (no
  // lock held), so a test can look at the world while a commit is in flight.
  void SetBeforeWriteHookForTesting(std::function<void()> hook);

 private:
  struct Pending;

  Committer(Database* db, const Clock* clock, const CommitterOptions& options,
            std::unique_ptr<AuditLog> audit_log, std::unique_ptr<AuditJournal> journal,
            std::unique_ptr<HighWaterMark> journal_high_water,
            std::unique_ptr<MergeLogWriter> merge_log, uint64_t next_sequence,
            absl::Time last_time);
  // Folds the merge log when due (and there is room on the disk).
  void MaybeFoldMergeLog();
  // Writes a fold of the merge log on its own and hands its operands to
  // on_merges_written.
  absl::Status FoldAndReport();
  // Hands MergeLogWriter::to_apply() to on_merges_written.
  void ReportToApply();
  // Appends the group's entries (first..) to the journal, after any the
  // journal lacks, and the staged checkpoint.
  absl::Status AppendToJournal(uint64_t first, const std::vector<std::string>& canonical,
                               bool sync);
  absl::StatusOr<uint64_t> CommitPending(Pending& pending);
  void Run();
  // Writes `group` (possibly empty, for a due checkpoint) as one batch.
  void WriteGroup(std::deque<Pending*>& group, bool force_checkpoint);
  // Removes from `group` (and returns, their results set to
  // RESOURCE_EXHAUSTED) what the disk has no room for (DatabaseOptions::min_free_bytes).
  std::deque<Pending*> TakeRefusedForSpace(std::deque<Pending*>& group);
  // Clears the database's background error once there is room again.
  void MaybeRecover();
  // After a failed journal append: cuts a failed group still in it, appends
  // what it lacks, and brings the mark beside it up to the log's newest
  // checkpoint.
  void MaybeCatchUpJournal();
  // Cuts a failed group off the journal if an earlier cut failed.
  absl::Status RewindPending();

  // Constant after construction.
  Database* const db_;
  const Clock* const clock_;
  const CommitterOptions options_;
  const std::unique_ptr<AuditLog> audit_log_;
  const std::unique_ptr<AuditJournal> journal_;  // may be null
  // Beside the journal (null without one); written while it is attached.
  const std::unique_ptr<HighWaterMark> journal_high_water_;

  std::atomic<int64_t> last_checkpoint_unix_nanos_{absl::ToUnixNanos(absl::Now())};
  Histogram group_entries_{Histogram::PowersOfTwo(4096)};
  Histogram write_seconds_{Histogram::LatencySeconds()};

  // Committer thread only (Run and what it calls); never read elsewhere, so no lock.
  absl::Time last_time_;  // the newest entry time
  // Where the journal must be cut back to before its next append (a failed
  // group's cut failed too).
  std::optional<AuditJournal::Mark> rewind_to_;
  const std::unique_ptr<MergeLogWriter> merge_log_;  // null without CommitterOptions::merge_log

  mutable absl::Mutex mu_;
  std::deque<Pending*> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_);
  bool fail_writes_ ABSL_GUARDED_BY(mu_) = false;
  bool fail_journal_ ABSL_GUARDED_BY(mu_) = false;
  bool journal_detached_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status journal_error_ ABSL_GUARDED_BY(mu_);
  std::function<void()> before_write_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_COMMITTER_H_
