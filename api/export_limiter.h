// Admission and write deadlines for the server's audit export streams.
#ifndef LEADVAULT_API_EXPORT_LIMITER_H_
#define LEADVAULT_API_EXPORT_LIMITER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "vault/clock.h"

namespace leadvault::api {

struct ExportLimits {
  // Streams open at once, per principal and in all; beyond them a new export
  // gets RESOURCE_EXHAUSTED. Both are kept below the worker pool's threads,
  // so exports never take every thread that other calls need.
  int per_principal = 2;
  int total = 8;
  // A stream whose write (one message of about 1 MiB) the client has not
  // taken within this is cancelled and its slot freed: a client that stops
  // reading cannot hold a slot, or the server's drain, for longer.
  absl::Duration write_timeout = absl::Seconds(30);
};

// Counts export streams against ExportLimits and cancels the ones that stall.
// A watchdog thread looks for writes outstanding past the timeout every
// write_timeout / 4 (at least every second, at most every 10 ms), reading
// the time from `clock`. Thread-safe.
class ExportLimiter {
 public:
  // `clock` must outlive the limiter.
  ExportLimiter(const vault::Clock* clock, const ExportLimits& limits);
  // REQUIRES: every stream released (the server has stopped).
  ~ExportLimiter();
  ExportLimiter(const ExportLimiter&) = delete;
  ExportLimiter& operator=(const ExportLimiter&) = delete;

  // A slot for a stream of `principal_id`, or RESOURCE_EXHAUSTED naming the
  // cap it would pass, or UNAVAILABLE once draining. `cancel` ends the
  // stream (it must not call back into the limiter); it is called at most
  // once, never under the limiter's lock, and never after Release returns.
  absl::StatusOr<uint64_t> Acquire(const std::string& principal_id, std::function<void()> cancel);
  // The stream started a write; the write completed (either way).
  void WriteStarted(uint64_t slot);
  void WriteDone(uint64_t slot);
  // The stream is over: frees its slot, unless cancelling it already did.
  // Waits for a cancel of this stream that is under way.
  void Release(uint64_t slot);

  // Cancels, and then frees the slot of, every stream whose write has been
  // outstanding for longer than write_timeout; returns once each of them is
  // cancelled (here or by a concurrent call). Returns how many it found.
  int CancelStalled();
  // The server is stopping: refuses new streams and cancels every open one,
  // returning once each is cancelled (an export is a read: its client asks
  // again, from the last sequence it has, once the server is back).
  void Drain();

  struct Counts {
    size_t open = 0;     // streams holding a slot
    size_t writing = 0;  // of them, with a write outstanding
  };
  Counts counts() const;

 private:
  struct Stream {
    std::string principal_id;
    std::function<void()> cancel;
    bool counted = true;                                // holds a slot
    bool cancelling = false;                            // `cancel` is running
    absl::Time write_started = absl::InfiniteFuture();  // InfiniteFuture: no write outstanding
  };
  // Runs the `cancel` of each stream in `slots` (outside the lock), then frees its slot.
  void CancelSlots(std::vector<uint64_t> slots) ABSL_LOCKS_EXCLUDED(mu_);
  void Uncount(Stream& stream) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Watch();

  const vault::Clock* const clock_;  // constant after construction
  const ExportLimits limits_;        // constant after construction
  mutable absl::Mutex mu_;
  std::map<uint64_t, Stream> streams_ ABSL_GUARDED_BY(mu_);  // node-stable
  absl::flat_hash_map<std::string, int> per_principal_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_slot_ ABSL_GUARDED_BY(mu_) = 1;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread watchdog_;
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_EXPORT_LIMITER_H_
