#include "audit/internal/worker_pool.h"

namespace leadvault::audit::internal {

WorkerPool::WorkerPool(size_t helpers) {
  for (size_t i = 0; i < helpers; ++i) threads_.emplace_back([this, i] { Loop(i + 1); });
}

WorkerPool::~WorkerPool() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  work_cv_.SignalAll();
  for (std::thread& t : threads_) t.join();
}

void WorkerPool::Start(size_t chunks, const Work* work) {
  next_chunk_.store(0, std::memory_order_relaxed);
  chunks_ = chunks;
  work_ = work;
  if (threads_.empty()) return;
  absl::MutexLock lock(&mu_);
  pending_ = threads_.size();
  ++generation_;
  work_cv_.SignalAll();
}

void WorkerPool::Finish() {
  RunChunks(0);
  if (threads_.empty()) return;
  absl::MutexLock lock(&mu_);
  while (pending_ != 0) done_cv_.Wait(&mu_);
}

void WorkerPool::RunChunks(size_t worker) {
  for (;;) {
    const size_t chunk = next_chunk_.fetch_add(1, std::memory_order_relaxed);
    if (chunk >= chunks_) return;
    (*work_)(chunk, worker);
  }
}

void WorkerPool::Loop(size_t worker) {
  uint64_t seen = 0;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      while (!stop_ && generation_ == seen) work_cv_.Wait(&mu_);
      if (stop_) return;
      seen = generation_;
    }
    RunChunks(worker);
    absl::MutexLock lock(&mu_);
    if (--pending_ == 0) done_cv_.Signal();
  }
}

}  // namespace leadvault::audit::internal
