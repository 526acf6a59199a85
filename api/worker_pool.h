// A fixed pool of threads that run blocking vault calls for the gRPC callback API.
#ifndef LEADVAULT_API_WORKER_POOL_H_
#define LEADVAULT_API_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace leadvault::api {

// gRPC's callback threads must not block, but a vault call blocks until its
// commit is durable. Handlers post the call here instead. The threads are
// created once (a thread per call, as gRPC's synchronous server does, costs
// more than the call), and enough of them exist for every caller to be waiting
// in the same group commit. Thread-safe.
// RESOURCE_EXHAUSTED, reason OVERLOADED, with a short retry delay: the answer to
// a call that finds the admission bound or the pool's queue full.
absl::Status OverloadedError();

class WorkerPool {
 public:
  // `max_queued`: tasks that may wait for a thread before Post refuses more.
  WorkerPool(int threads, size_t max_queued);
  // Runs everything already posted, then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`. Refuses it (and does not run it) with UNAVAILABLE once the
  // pool is stopping, and with RESOURCE_EXHAUSTED while `max_queued` tasks wait.
  // `drop` (may be empty) is what DropQueued calls instead of `task`.
  absl::Status Post(std::function<void()> task, std::function<void()> drop = nullptr);

  // Takes every queued task that has a `drop` out of the queue and calls its
  // `drop` on the calling thread instead of running it (at drain: calls that
  // have not started are answered at once). Running tasks are not touched, and
  // later Posts are accepted as before.
  void DropQueued();

 private:
  struct Task {
    std::function<void()> run;
    std::function<void()> drop;
  };
  void Run();

  absl::Mutex mu_;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  const size_t max_queued_;  // constant after construction
  std::vector<std::thread> threads_;
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_WORKER_POOL_H_
