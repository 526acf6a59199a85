#include "api/worker_pool.h"

#include <utility>
#include <vector>

#include "keys/error_reason.h"

namespace leadvault::api {

WorkerPool::WorkerPool(int threads, size_t max_queued) : max_queued_(max_queued) {
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

absl::Status OverloadedError() {
  return WithRetryDelay(
      WithReason(absl::ResourceExhaustedError("server overloaded: retry with backoff"),
                 "OVERLOADED"),
      absl::Milliseconds(200));
}

absl::Status WorkerPool::Post(std::function<void()> task, std::function<void()> drop) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("server is shutting down");
  if (tasks_.size() >= max_queued_) {
    return OverloadedError();
  }
  tasks_.push_back(Task{std::move(task), std::move(drop)});
  return absl::OkStatus();
}

void WorkerPool::DropQueued() {
  std::vector<std::function<void()>> dropped;
  {
    absl::MutexLock lock(&mu_);
    std::deque<Task> kept;
    for (Task& t : tasks_) {
      if (t.drop) {
        dropped.push_back(std::move(t.drop));
      } else {
        kept.push_back(std::move(t));
      }
    }
    tasks_.swap(kept);
  }
  for (auto& drop : dropped) drop();
}

void WorkerPool::Run() {
  while (true) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !tasks_.empty() || stopping_; };
      mu_.Await(absl::Condition(&ready));
      if (tasks_.empty()) return;  // stopping and drained
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task.run();
  }
}

}  // namespace leadvault::api
