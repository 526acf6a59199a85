// KeyRewrap: after a master-key rotation (KeyHierarchy::Rotate), moves every
// lead's data key to the current master-key version, on a thread of its own,
// in bounded batches through the Committer. No field is re-encrypted: only
// the `dek` rows change.
//
// A pass walks the `dek` family in lead-id order. It starts once every key
// wrapped under an older version is durable (KeyHierarchy::AwaitUnpinnedBefore),
// so a pass that reaches the end leaves none behind. Each batch takes the
// claims of its leads (a purge cannot land between the read and the write, so
// a shredded key never comes back: LeadStore::PrepareRewrap), re-wraps those
// under another version, and commits them together with the cursor (`meta`
// "kek/rewrap": version, last lead done, keys moved, done) and one audit entry
// "RewrapDataKeys" by principal "system" whose fields are counts only
// ("kek_version=V", "leads=N", "rewrapped=M", "unreadable=K", "done=0|1").
// A key that fails to unwrap is counted as unreadable and left as it is (the
// version it names then cannot be retired).
//
// Start() resumes an unfinished pass where the cursor left off (after a
// restart, or a kill -9: the cursor commits with its batch); a cursor of an
// older version, or none while the current version is not 1, starts a new
// pass. Batches pause for KeyRewrapOptions::pause between them so online
// calls keep their latency. A failed batch writes nothing; the pass retries
// it after KeyRewrapOptions::retry_after. Thread-safe.
#ifndef LEADVAULT_VAULT_KEY_REWRAP_H_
#define LEADVAULT_VAULT_KEY_REWRAP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vault/background_pass.h"
#include "vault/committer.h"
#include "vault/database.h"
#include "vault/key_hierarchy.h"
#include "vault/lead_store.h"

namespace leadvault::vault {

inline constexpr size_t kMaxRewrapBatch = 4096;

struct KeyRewrapOptions {
  // Leads per batch (1..kMaxRewrapBatch): their claims are held together
  // until the batch is durable. 32 leads 2 ms apart keep GetLead's p99
  // within 2x of idle on 2 cores (`leadvault-bench rewrap`).
  size_t batch_size = 32;
  // The wait between two batches of a pass (0: none).
  absl::Duration pause = absl::Milliseconds(2);
  // After a failed batch, the pass waits this long before it tries again.
  absl::Duration retry_after = absl::Minutes(1);
  // Test hook: the thread starts paused (SetPausedForTesting).
  bool start_paused_for_testing = false;
};

class KeyRewrap final : public BackgroundPass {
 public:
  // Reads the cursor (DATA_LOSS if malformed) and starts the thread. All
  // pointers must outlive the object; it must be stopped before `committer`.
  static absl::StatusOr<std::unique_ptr<KeyRewrap>> Start(Database* db, Committer* committer,
                                                          const KeyHierarchy* keys,
                                                          LeadStore* leads,
                                                          const KeyRewrapOptions& options);
  ~KeyRewrap() override { Stop(); }

  // The current version is now `version`: (re)start the pass.
  void Rotated(uint32_t version);

  struct Progress {
    uint32_t kek_version = 0;  // the pass moves keys to this version
    bool done = false;         // the pass reached the last lead
    uint64_t rewrapped = 0;    // keys the pass moved (kept across restarts)
    uint64_t unreadable = 0;   // keys this object could not unwrap, in the pass
    absl::Status last_error;   // of the latest batch (OK once one succeeds)
  };
  Progress progress() const;

  // Also: Stop, WaitIdle (until the pass to the current version is done) and
  // the test hooks (BackgroundPass).

 private:
  KeyRewrap(Database* db, Committer* committer, const KeyHierarchy* keys, LeadStore* leads,
            const KeyRewrapOptions& options)
      : BackgroundPass("key re-wrap", options.pause, options.retry_after,
                       options.start_paused_for_testing),
        db_(db),
        committer_(committer),
        keys_(keys),
        leads_(leads),
        options_(options) {}
  bool HasWork() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool NewWork() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RunBatch() override;

  // Constant after construction.
  Database* const db_;
  Committer* const committer_;
  const KeyHierarchy* const keys_;
  LeadStore* const leads_;
  const KeyRewrapOptions options_;

  // The pass, written on the re-wrap thread only (and by Rotated), under mu_.
  uint32_t target_version_ ABSL_GUARDED_BY(mu_) = 0;  // the newest current version told of
  std::string after_ ABSL_GUARDED_BY(mu_);            // last lead done (binary; empty: none)
  bool fresh_pass_ ABSL_GUARDED_BY(mu_) = false;      // older wraps not yet awaited
  Progress progress_ ABSL_GUARDED_BY(mu_);            // its last_error unused (the base's)
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_KEY_REWRAP_H_
