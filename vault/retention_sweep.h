// Retention sweeps (issue 11): the `expiry` index names the leads whose
// retention has ended, oldest first; each is purged (vault/lead_rows.h: every
// row it owns and its wrapped data key) through the Committer with an audit
// entry of its own naming the lead and the rule that expired it, and the
// sweep's own entry counts what it did. A dry run lists and counts instead and
// writes nothing but its entry. Afterwards the purged rows are compacted off
// the disk (Database::CompactAway).
#ifndef LEADVAULT_VAULT_RETENTION_SWEEP_H_
#define LEADVAULT_VAULT_RETENTION_SWEEP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "vault/actor.h"
#include "vault/clock.h"
#include "vault/committer.h"
#include "vault/database.h"
#include "vault/lead_store.h"
#include "vault/retention_policy_store.h"

namespace leadvault::vault {

inline constexpr size_t kMaxSweepBatch = 4096;
inline constexpr uint64_t kMaxSweepLeads = 10'000'000;
// Deletion requests one sweep's compaction accounts for; the rest wait.
inline constexpr size_t kMaxCompactionDue = 100'000;
// Leads a report names by id (a dry run's list); the counts cover them all.
inline constexpr size_t kMaxSweepListed = 1000;
// The daemon's pacing of scheduled sweeps: small groups, far enough apart that
// online calls keep the committer (leadvault-bench retention measures it).
inline constexpr size_t kDaemonSweepBatch = 4;
inline constexpr absl::Duration kDaemonSweepPause = absl::Milliseconds(2);

struct SweepOptions {
  bool dry_run = false;
  // Leads staged and committed together (1..kMaxSweepBatch): one group write.
  size_t batch_size = 256;
  // Between batches, so that online calls get the committer and the disk.
  absl::Duration pause = absl::ZeroDuration();
  // Leads purged (or listed) in one sweep at most (1..kMaxSweepLeads); the
  // rest wait for the next sweep.
  uint64_t max_leads = 1'000'000;
  // Compact the purged rows off the disk afterwards (also those of deletion
  // requests since the last compaction, even when the sweep purged nothing).
  bool compact = true;
  // When set, checked between batches: the sweep ends early (with its entry,
  // `more` set) once it is true, and leaves its compaction to the next sweep.
  const std::atomic<bool>* stop = nullptr;
};

struct SweepReport {
  bool dry_run = false;
  absl::Time as_of;      // leads expired at or before this were due
  uint64_t due = 0;      // expiry rows due at the start (at most max_leads counted)
  uint64_t purged = 0;   // dry run: that would be purged
  uint64_t renewed = 0;  // due when seen; renewed, gone or kept by the policy in force
  uint64_t held = 0;     // under a legal hold (vault/legal_hold.h): kept
  // Deletion requests (LeadStore::DeleteLead) whose bytes this sweep's
  // compaction took off the disk.
  uint64_t deletions_compacted = 0;
  bool more = false;                         // max_leads was reached with more due
  std::map<std::string, uint64_t> per_rule;  // purged per retention rule
  // (lead id as text, rule) of the first kMaxSweepListed purged.
  std::vector<std::pair<std::string, std::string>> listed;
  uint64_t table_bytes_before = 0;  // of the compacted families (0: not compacted)
  uint64_t table_bytes_after = 0;
  uint64_t audit_sequence = 0;  // the sweep's own audit entry
};

// Called after each batch with the report so far (on the sweeping thread).
using SweepProgress = std::function<void(const SweepReport&)>;

// Thread-safe; one sweep runs at a time (another is FAILED_PRECONDITION).
class RetentionSweeper {
 public:
  // All pointers must outlive the sweeper.
  RetentionSweeper(Database* db, Committer* committer, LeadStore* leads, const Clock* clock,
                   const RetentionPolicyStore* policies)
      : db_(db), committer_(committer), leads_(leads), clock_(clock), policies_(policies) {}

  // Purges (or lists) the leads whose retention ended at or before now, both
  // as stamped and as the policy in force decides now
  // (RetentionPolicyStore::DecideForPurge: a lead not yet re-stamped under a
  // longer policy stays); a purge names the rule of the policy in force.
  // INVALID_ARGUMENT for options out of range; a storage error stops the
  // sweep (what was purged stays purged, each with its entry).
  absl::StatusOr<SweepReport> Sweep(const Actor& actor, const SweepOptions& options,
                                    const SweepProgress& progress = nullptr);

 private:
  Database* const db_;
  Committer* const committer_;
  LeadStore* const leads_;
  const Clock* const clock_;
  const RetentionPolicyStore* const policies_;
  absl::Mutex mu_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
};

// Sweeps as the vault itself (principal and role "system") at start and then
// every `interval`, on a thread of its own, each sweep's outcome handed to
// `report` (on that thread).
class RetentionScheduler {
 public:
  // `sweeper` must outlive the scheduler.
  RetentionScheduler(RetentionSweeper* sweeper, absl::Duration interval, SweepOptions options,
                     std::function<void(const absl::StatusOr<SweepReport>&)> report);
  ~RetentionScheduler();  // Stop()
  RetentionScheduler(const RetentionScheduler&) = delete;
  RetentionScheduler& operator=(const RetentionScheduler&) = delete;

  // Ends a running sweep after its current batch, and the thread.
  void Stop();

 private:
  void Run();

  RetentionSweeper* const sweeper_;
  const absl::Duration interval_;
  SweepOptions options_;
  const std::function<void(const absl::StatusOr<SweepReport>&)> report_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_RETENTION_SWEEP_H_
