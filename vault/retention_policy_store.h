// RetentionPolicyStore: the retention policy in force (vault/retention.h),
// kept in `meta` ("retention/policy") with a version that grows by one at
// every change, and in memory for the stamping of every create, update and
// re-submission. Until an administrator sets one, the built-in policy
// (DefaultRetentionPolicy) is in force as version 0.
//
// A change commits the stored policy and one audit entry together
// ("SetRetentionPolicy": its version and rules by name and number, never a
// lead's value), and is in force for stamping once durable. Re-stamping the
// leads it affects is RetentionRecompute's work (vault/retention_recompute.h),
// started by the listener; until it reaches a lead, a sweep asks DecideForPurge,
// so no lead is purged earlier than the policy in force says.
//
// Thread-safe.
#ifndef LEADVAULT_VAULT_RETENTION_POLICY_STORE_H_
#define LEADVAULT_VAULT_RETENTION_POLICY_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "vault/actor.h"
#include "vault/clock.h"
#include "vault/committer.h"
#include "vault/database.h"
#include "vault/key_claims.h"
#include "vault/retention.h"

namespace leadvault::vault {

// A policy as stored, with who set it and when.
struct StoredRetentionPolicy {
  RetentionPolicy policy;
  uint64_t version = 0;                      // 0: the built-in policy, never set
  absl::Time set_at = absl::InfinitePast();  // InfinitePast for version 0
  std::string set_by;                        // principal id; empty for version 0
};

class RetentionPolicyStore {
 public:
  // The policy a change of a lead is being stamped with. While a handle is
  // held its version counts as in use (AwaitUnusedBefore): a stamper holds it
  // until its change is durable or dropped. Move-only; empty when default
  // constructed or moved from.
  class Pinned {
   public:
    Pinned() = default;
    Pinned(Pinned&& other) noexcept;
    Pinned& operator=(Pinned&& other) noexcept;
    Pinned(const Pinned&) = delete;
    Pinned& operator=(const Pinned&) = delete;
    ~Pinned();

    // REQUIRES: not empty.
    const RetentionPolicy& policy() const { return *policy_; }
    uint64_t version() const { return version_; }

   private:
    friend class RetentionPolicyStore;
    void Release();
    RetentionPolicyStore* owner_ = nullptr;
    std::shared_ptr<const RetentionPolicy> policy_;
    uint64_t version_ = 0;
  };

  // Loads the stored policy (DATA_LOSS if its row is malformed or invalid).
  // All pointers must outlive the store.
  static absl::StatusOr<std::unique_ptr<RetentionPolicyStore>> Open(Database* db,
                                                                    Committer* committer,
                                                                    const Clock* clock);

  // The policy in force and its version: cheap (a pointer copy under a mutex).
  struct Snapshot {
    std::shared_ptr<const RetentionPolicy> policy;
    uint64_t version = 0;
  };
  Snapshot Current() const;

  // Current(), counted as in use until the handle goes (see Pinned).
  Pinned Pin();

  // The policy in force, with who set it and when; writes nothing (for the
  // vault itself). Get(actor) is the audited read (entry "GetRetentionPolicy").
  StoredRetentionPolicy Get() const;
  absl::StatusOr<StoredRetentionPolicy> Get(const Actor& actor);

  // Replaces the policy: INVALID_ARGUMENT (ValidateRetentionPolicy) writes
  // nothing. Otherwise the next version is committed with one audit entry
  // "SetRetentionPolicy" by `actor` (fields "version=V", "rules=N", then
  // "rule.NAME=Dd/ANCHOR[;service_line=S][;source=N][;status=NAME]" per rule
  // in order and "default=Dd/ANCHOR"), is in force once durable, and the
  // listener is told. Concurrent calls are applied one after the other.
  // Errors of the commit as Committer::Commit (nothing changed).
  absl::StatusOr<StoredRetentionPolicy> Set(const Actor& actor, RetentionPolicy policy);

  // When a purge of a lead with `facts` may happen at the earliest: the
  // policy in force decides, and while a Set is being committed the later of
  // the old and the new policy's expiry (a purge never runs ahead of a
  // policy that is, or is about to be, in force).
  RetentionDecision DecideForPurge(const RetentionFacts& facts) const;

  // Blocks until no Pinned of a version below `version` is held: every change
  // stamped under an older policy is durable or dropped.
  void AwaitUnusedBefore(uint64_t version) const;

  // Called with the new version after each Set is in force (on the thread that
  // called Set, no lock held). Set once, before any Set; nullptr to clear.
  void SetListener(std::function<void(uint64_t version)> listener);

 private:
  RetentionPolicyStore(Database* db, Committer* committer, const Clock* clock)
      : db_(db), committer_(committer), clock_(clock) {}
  void Unpin(uint64_t version);

  // Constant after construction.
  Database* const db_;
  Committer* const committer_;
  const Clock* const clock_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const RetentionPolicy> policy_ ABSL_GUARDED_BY(mu_);
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time set_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string set_by_ ABSL_GUARDED_BY(mu_);
  // The policy a Set is committing, until it is in force or has failed.
  std::shared_ptr<const RetentionPolicy> pending_ ABSL_GUARDED_BY(mu_);
  // Pinned handles held, per version.
  std::map<uint64_t, uint64_t> pinned_ ABSL_GUARDED_BY(mu_);
  std::function<void(uint64_t)> listener_ ABSL_GUARDED_BY(mu_);
  // Serializes Set calls (read the version, commit the next) without holding
  // mu_ across the commit.
  KeyClaims claims_;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_RETENTION_POLICY_STORE_H_
