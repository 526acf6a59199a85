// Slows down repeated failed authentications from one peer address.
#ifndef LEADVAULT_API_AUTH_THROTTLE_H_
#define LEADVAULT_API_AUTH_THROTTLE_H_

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
  size_t max_peers = 10000;  // beyond it the least recently failed peer is forgotten
};

// Counts failed authentications per peer address (the IP, not the port), in
// memory. Once a peer has failed `free_failures` times, each failure within
// `window` of the one before, Admit refuses it (RESOURCE_EXHAUSTED) until a
// back-off has passed: first_backoff, doubling with every further failure, at
// most max_backoff. A success forgets the peer. At most max_peers are tracked.
// Thread-safe.
class AuthThrottle {
 public:
  // `clock` must outlive the throttle.
  explicit AuthThrottle(const vault::Clock* clock, AuthThrottleOptions options = {})
      : clock_(clock), options_(options) {}
  AuthThrottle(const AuthThrottle&) = delete;
  AuthThrottle& operator=(const AuthThrottle&) = delete;

  // OK, or RESOURCE_EXHAUSTED "too many failed authentications; retry later"
  // while `peer` (a gRPC peer string) is backing off; that refusal is counted.
  absl::Status Admit(absl::string_view peer);
  void RecordFailure(absl::string_view peer);
  void RecordSuccess(absl::string_view peer);

  // Calls Admit has refused so far.
  uint64_t refused() const;
  // Peers currently tracked (at most max_peers).
  size_t tracked_peers() const;

  // The address of a gRPC peer string without its port: "ipv4:10.0.0.1:5000"
  // -> "10.0.0.1", "ipv6:[::1]:5000" -> "::1"; anything else unchanged.
  static std::string PeerAddress(absl::string_view peer);

 private:
  struct PeerState {
    int failures = 0;
    absl::Time last_failure;
    absl::Time blocked_until = absl::InfinitePast();
    std::list<std::string>::iterator order;  // position in order_
  };

  // Constant after construction.
  const vault::Clock* const clock_;
  const AuthThrottleOptions options_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, PeerState> peers_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> order_ ABSL_GUARDED_BY(mu_);  // least recently failed first
  uint64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_AUTH_THROTTLE_H_
