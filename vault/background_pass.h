// BackgroundPass: the thread of a resumable pass over the vault that commits
// in bounded batches (RetentionRecompute, KeyRewrap). A subclass says when
// there is work (HasWork) and runs one batch (RunBatch); the thread runs
// batches while there is work, waits `pause` between two of them, and after a
// failed one waits `retry_after` (or until NewWork) before it tries again.
// Test hooks pause the thread and run one batch at a time. Thread-safe.
#ifndef LEADVAULT_VAULT_BACKGROUND_PASS_H_
#define LEADVAULT_VAULT_BACKGROUND_PASS_H_

#include <cstdint>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace leadvault::vault {

class BackgroundPass {
 public:
  BackgroundPass(const BackgroundPass&) = delete;
  BackgroundPass& operator=(const BackgroundPass&) = delete;

  // Finishes the batch in hand (committed or dropped) and ends the thread.
  void Stop();

  // Blocks until there is no work, and returns OK; or until a batch fails,
  // and returns its error. REQUIRES: not paused.
  absl::Status WaitIdle();

  // Test hooks: while paused the thread runs no batch; StepForTesting runs
  // exactly one (on the thread) and returns its status, or OK at once if
  // there is nothing to do.
  void SetPausedForTesting(bool paused);
  absl::Status StepForTesting();

 protected:
  // `name` goes into the UNAVAILABLE of a stopped pass ("key re-wrap").
  BackgroundPass(std::string name, absl::Duration pause, absl::Duration retry_after,
                 bool start_paused);
  // A subclass's destructor calls Stop() first: the thread calls into it.
  virtual ~BackgroundPass();

  // Starts the thread; once, after the subclass is ready.
  void StartThread();

  virtual bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // Work that a failed batch's retry should not wait for (a new target).
  virtual bool NewWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // One batch, on the thread, without mu_.
  virtual absl::Status RunBatch() = 0;

  // The status of the latest batch (OK once one succeeds).
  absl::Status last_error() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return last_error_; }

  // Guards the subclass's pass state too, so HasWork may read it.
  mutable absl::Mutex mu_;

 private:
  void Run();

  const std::string name_;
  const absl::Duration pause_;
  const absl::Duration retry_after_;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  bool failed_ ABSL_GUARDED_BY(mu_) = false;  // the latest batch failed; retry pending
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t steps_ ABSL_GUARDED_BY(mu_) = 0;  // batches StepForTesting asked for
  uint64_t steps_done_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status step_status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_BACKGROUND_PASS_H_
