// Runs the chunks of a loop on helper threads and the calling thread; each
// thread claims the next chunk when it is done with one, so a thread that is
// descheduled does not hold the others up.
#ifndef LEADVAULT_AUDIT_INTERNAL_WORKER_POOL_H_
#define LEADVAULT_AUDIT_INTERNAL_WORKER_POOL_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"

namespace leadvault::audit::internal {

// Start() and Finish() are called by one thread (the owner); the helpers only
// run the work they are given.
class WorkerPool {
 public:
  // work(chunk, worker): worker 0 is the calling thread, 1.. the helpers.
  using Work = absl::FunctionRef<void(size_t chunk, size_t worker)>;

  explicit WorkerPool(size_t helpers);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  size_t workers() const { return threads_.size() + 1; }

  // The helpers start on chunks [0, chunks). `work` must stay alive until
  // Finish() returns. REQUIRES: no Start() without its Finish().
  void Start(size_t chunks, const Work* work);

  // Runs the chunks not yet claimed on the calling thread, then waits until
  // the helpers are done with theirs.
  void Finish();

 private:
  void RunChunks(size_t worker);
  void Loop(size_t worker);

  // Set by Start() before the helpers are woken, read by them after (the
  // hand-over through mu_ orders the accesses).
  const Work* work_ = nullptr;
  size_t chunks_ = 0;
  std::atomic<size_t> next_chunk_{0};

  absl::Mutex mu_;
  absl::CondVar work_cv_;                         // signalled on a new generation_ and on stop_
  absl::CondVar done_cv_;                         // signalled when pending_ reaches 0
  size_t pending_ ABSL_GUARDED_BY(mu_) = 0;       // helpers still on this generation
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // one per Start()
  bool stop_ ABSL_GUARDED_BY(mu_) = false;

  std::vector<std::thread> threads_;  // constant after construction
};

}  // namespace leadvault::audit::internal

#endif  // LEADVAULT_AUDIT_INTERNAL_WORKER_POOL_H_
