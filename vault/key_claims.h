// In-memory claims that serialize read-check-write sequences on the same keys.
#ifndef LEADVAULT_VAULT_KEY_CLAIMS_H_
#define LEADVAULT_VAULT_KEY_CLAIMS_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace leadvault::vault {

// A claim on a set of keys (lead ids, blind tokens, idempotency hashes). While
// a claim is held, another Claim() on any of its keys waits. The mutex is NOT
// held while the claim is: the claim is a reservation, so no lock spans the
// commit's I/O. Claims on disjoint keys never wait for each other.
// Thread-safe.
class KeyClaims {
 public:
  class Claim {
   public:
    Claim(Claim&& other) noexcept : owner_(other.owner_), keys_(std::move(other.keys_)) {
      other.owner_ = nullptr;
    }
    Claim(const Claim&) = delete;
    Claim& operator=(const Claim&) = delete;
    Claim& operator=(Claim&&) = delete;
    ~Claim() {
      if (owner_ != nullptr) owner_->Release(keys_);
    }

   private:
    friend class KeyClaims;
    Claim(KeyClaims* owner, std::vector<std::string> keys)
        : owner_(owner), keys_(std::move(keys)) {}
    KeyClaims* owner_;
    std::vector<std::string> keys_;
  };

  // Blocks until none of `keys` is claimed, then claims them all at once.
  Claim Acquire(std::vector<std::string> keys) {
    absl::MutexLock lock(&mu_);
    auto free = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const std::string& k : keys) {
        if (held_.contains(k)) return false;
      }
      return true;
    };
    mu_.Await(absl::Condition(&free));
    for (const std::string& k : keys) held_.insert(k);
    return Claim(this, std::move(keys));
  }

 private:
  void Release(const std::vector<std::string>& keys) {
    absl::MutexLock lock(&mu_);
    for (const std::string& k : keys) held_.erase(k);
  }

  absl::Mutex mu_;
  absl::flat_hash_set<std::string> held_ ABSL_GUARDED_BY(mu_);
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_KEY_CLAIMS_H_
