// Slows down repeated failed authentications, per peer address and per
// claimed principal.
#ifndef LEADVAULT_API_AUTH_THROTTLE_H_
#define LEADVAULT_API_AUTH_THROTTLE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "vault/clock.h"

namespace leadvault::api {

struct AuthThrottleOptions {
  int free_failures = 5;  // failures, each within `window` of the last, before back-off
  absl::Duration window = absl::Seconds(60);
  absl::Duration first_backoff = absl::Seconds(1);  // doubles per further failure
  absl::Duration max_backoff = absl::Seconds(60);
  // Addresses and principals tracked together; beyond it the least recently
  // failed one is forgotten.
  size_t max_keys = 10000;
};

// Counts failed authentications in memory under two keys: the peer's address
// (the IP without the port; an IPv6 address by its /64, an IPv4-mapped one by
// its IPv4) and the principal id the failed token claimed, if any. Once a key
// has failed `free_failures` times, each failure within `window` of the one
// before, it backs off: first_backoff, doubling with every further failure,
// at most max_backoff. While backing off, Admit refuses (RESOURCE_EXHAUSTED)
// every call from that address, and every call claiming that principal from an
// address that has itself failed within `window` (so strangers failing against
// a principal cannot lock it out of a clean address). A success forgives
// nothing: a key is forgotten only once `window` passes without a failure (or
// it is evicted), so no valid token, of that principal or another, buys fresh
// tries. At most max_keys are tracked. Thread-safe.
class AuthThrottle {
 public:
  // `clock` must outlive the throttle.
  explicit AuthThrottle(const vault::Clock* clock, AuthThrottleOptions options = {})
      : clock_(clock), options_(options) {}
  AuthThrottle(const AuthThrottle&) = delete;
  AuthThrottle& operator=(const AuthThrottle&) = delete;

  // OK, or RESOURCE_EXHAUSTED "too many failed authentications; retry later"
  // while `peer` (a gRPC peer string) or the principal `claimed` (empty: none)
  // is backing off as described above; that refusal is counted.
  absl::Status Admit(absl::string_view peer, absl::string_view claimed);
  // Counts a failure against `peer`'s address and, unless empty, `claimed`.
  void RecordFailure(absl::string_view peer, absl::string_view claimed);

  // Calls Admit has refused so far.
  uint64_t refused() const;
  // Failures RecordFailure has counted so far.
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  // Addresses and principals currently tracked (at most max_keys).
  size_t tracked_keys() const;

  // The address of a gRPC peer string without its port: "ipv4:10.0.0.1:5000"
  // -> "10.0.0.1", "ipv6:[::1]:5000" -> "::1"; anything else unchanged.
  static std::string PeerAddress(absl::string_view peer);
  // The address key of a peer: PeerAddress, except that an IPv6 address
  // becomes its /64 ("2001:db8:1:2::/64"; one host usually holds a whole
  // /64) and an IPv4-mapped IPv6 address its IPv4.
  static std::string AddressKey(absl::string_view peer);

 private:
  struct KeyState {
    int failures = 0;
    absl::Time last_failure;
    absl::Time blocked_until = absl::InfinitePast();
    std::list<std::string>::iterator order;  // position in order_
  };

  // True if `state` has a failure within the window at `now`.
  bool Live(const KeyState& state, absl::Time now) const;
  void CountFailure(std::string key, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const vault::Clock* const clock_;
  const AuthThrottleOptions options_;

  mutable absl::Mutex mu_;
  // "address <AddressKey>" or "principal <id>" -> its failures.
  absl::flat_hash_map<std::string, KeyState> keys_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> order_ ABSL_GUARDED_BY(mu_);  // least recently failed first
  uint64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> failures_{0};
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_AUTH_THROTTLE_H_
