// The one write path: group commit of state changes with their audit entries.
#ifndef LEADVAULT_VAULT_COMMITTER_H_
#define LEADVAULT_VAULT_COMMITTER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "audit/audit_entry.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "vault/clock.h"

namespace leadvault::vault {

class Database;

// Serializes every write of the vault. Callers hand over a WriteBatch plus the
// audit entry that describes it; one committer thread takes everything queued,
// assigns consecutive audit sequence numbers and times, writes ONE combined
// batch with sync=true, then completes every caller of the group.
//
// Guarantees: a batch and its audit entry are durable together or not at all;
// Commit() returns OK only after the write is durable; audit sequence numbers
// are 1, 2, 3, ... in commit order with no gap, also across restarts (a failed
// group consumes no numbers). If the write fails every caller of the group gets
// UNAVAILABLE and nothing of the group is applied.
//
// Thread-safe. Commit() blocks; it must not be called from the committer thread.
class Committer {
 public:
  // Starts the committer thread. The next sequence number follows the last
  // entry in the `audit` column family. `db` and `clock` must outlive it.
  static absl::StatusOr<std::unique_ptr<Committer>> Start(Database* db, const Clock* clock);

  ~Committer();  // Stops (see Stop()).

  // Durably writes `batch` and `entry` (whose sequence and time are assigned
  // here). Returns the entry's sequence number.
  absl::StatusOr<uint64_t> Commit(rocksdb::WriteBatch batch, audit::AuditEntry entry);

  // Like Commit(), but returns at once; `done` runs on the committer thread
  // once the write is durable (or failed), so it must be quick and must not call
  // Commit(). If the committer is stopping, `done` runs at once with UNAVAILABLE.
  void CommitAsync(rocksdb::WriteBatch batch, audit::AuditEntry entry,
                   std::function<void(absl::StatusOr<uint64_t>)> done);

  // Finishes everything queued, then stops; later Commit() calls get UNAVAILABLE.
  void Stop();

  // The sequence number the next committed entry will get.
  uint64_t next_sequence() const;

  // Test hook: while set, every group write fails as a storage error would.
  void SetFailWritesForTesting(bool fail);

 private:
  struct Pending;

  Committer(Database* db, const Clock* clock, uint64_t next_sequence);
  void Run();
  void WriteGroup(std::deque<Pending*>& group);

  Database* const db_;        // constant after construction
  const Clock* const clock_;  // constant after construction

  mutable absl::Mutex mu_;
  std::deque<Pending*> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_);
  bool fail_writes_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_COMMITTER_H_
