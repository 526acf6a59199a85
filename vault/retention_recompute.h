// RetentionRecompute: re-stamps every lead's expiry under the policy in force
// (vault/retention_policy_store.h) after it changes, on a thread of its own,
// in bounded batches through the Committer.
//
// A pass walks the `leads` family in id order. Each batch takes the claims of
// its leads, re-reads and re-decides them, rewrites those whose expiry or rule
// changed and moves their expiry rows (LeadStore::PrepareRestamp: neither the
// version nor updated_at changes), and commits them together with the cursor
// (`meta` "retention/recompute": policy version, last lead done, done) and one
// audit entry "RetentionRecompute" by principal "system" whose fields are
// counts only ("policy_version=V", "leads=N", "changed=M", "unreadable=K",
// "done=0|1"). A lead whose record fails authentication is counted as
// unreadable and left as it is (re-sealing it would launder the edit).
//
// A pass starts at Start() where the cursor left off: after a restart an
// unfinished pass resumes; a cursor of an older version, or none at all (a
// data dir from before the expiry index: the backfill), starts a full pass.
// A new policy restarts the pass from the first lead, once every change
// stamped under an older policy is durable (RetentionPolicyStore::Pinned), so
// none slips in behind it. Under the built-in policy (version 0) a batch that
// changes nothing is not committed unless an earlier one of its pass was: a
// vault that needs no backfill writes nothing, and looks again at its next start.
//
// A failed batch writes nothing; the pass retries it after
// RetentionRecomputeOptions::retry_after, or at once on a new policy.
// Thread-safe.
#ifndef LEADVAULT_VAULT_RETENTION_RECOMPUTE_H_
#define LEADVAULT_VAULT_RETENTION_RECOMPUTE_H_

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
#include "vault/lead_store.h"
#include "vault/retention_policy_store.h"

namespace leadvault::vault {

inline constexpr size_t kMaxRecomputeBatch = 4096;

struct RetentionRecomputeOptions {
  // Leads per batch (1..kMaxRecomputeBatch): their claims are held together
  // until the batch is durable.
  size_t batch_size = 256;
  // After a failed batch, the pass waits this long before it tries again.
  absl::Duration retry_after = absl::Minutes(1);
  // Test hook: the thread starts paused (SetPausedForTesting).
  bool start_paused_for_testing = false;
};

class RetentionRecompute final : public BackgroundPass {
 public:
  // Reads the cursor (DATA_LOSS if malformed) and starts the thread. All
  // pointers must outlive the object; it must be stopped before `committer`.
  static absl::StatusOr<std::unique_ptr<RetentionRecompute>> Start(
      Database* db, Committer* committer, LeadStore* leads, RetentionPolicyStore* policies,
      const RetentionRecomputeOptions& options);
  ~RetentionRecompute() override { Stop(); }

  // The policy is now `version`: (re)start the pass (RetentionPolicyStore's listener).
  void PolicyChanged(uint64_t version);

  struct Progress {
    uint64_t policy_version = 0;  // of the pass
    bool done = false;            // every lead stamped under it
    uint64_t batches = 0;         // committed by this object, every pass
    uint64_t changed = 0;         // leads re-stamped by this object, every pass
    absl::Status last_error;      // of the latest batch (OK once one succeeds)
  };
  Progress progress() const;

  // Also: Stop, WaitIdle (until the pass under the policy in force is done)
  // and the test hooks (BackgroundPass).

 private:
  RetentionRecompute(Database* db, Committer* committer, LeadStore* leads,
                     RetentionPolicyStore* policies, const RetentionRecomputeOptions& options)
      : BackgroundPass("retention recompute", absl::ZeroDuration(), options.retry_after,
                       options.start_paused_for_testing),
        db_(db),
        committer_(committer),
        leads_(leads),
        policies_(policies),
        options_(options) {}
  // One batch of the pass (starting a new one if the policy changed).
  absl::Status RunBatch() override;
  bool HasWork() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool NewWork() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  Database* const db_;
  Committer* const committer_;
  LeadStore* const leads_;
  RetentionPolicyStore* const policies_;
  const RetentionRecomputeOptions options_;

  // The pass, read and written on the recompute thread only, under mu_ so
  // progress() and WaitIdle() may read it.
  uint64_t pass_version_ ABSL_GUARDED_BY(mu_) = 0;
  std::string after_ ABSL_GUARDED_BY(mu_);  // last lead done (binary; empty: none)
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool committed_in_pass_ ABSL_GUARDED_BY(mu_) = false;
  bool fresh_pass_ ABSL_GUARDED_BY(mu_) = false;      // older stamps not yet awaited
  uint64_t policy_version_ ABSL_GUARDED_BY(mu_) = 0;  // the newest the thread was told of
  Progress progress_ ABSL_GUARDED_BY(mu_);            // its last_error unused (the base's)
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_RETENTION_RECOMPUTE_H_
