#include "vault/background_pass.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace leadvault::vault {

BackgroundPass::BackgroundPass(std::string name, absl::Duration pause, absl::Duration retry_after,
                               bool start_paused)
    : name_(std::move(name)), pause_(pause), retry_after_(retry_after) {
  absl::MutexLock lock(&mu_);
  paused_ = start_paused;
}

BackgroundPass::~BackgroundPass() { Stop(); }

void BackgroundPass::StartThread() {
  thread_ = std::thread([this] { Run(); });
}

void BackgroundPass::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status BackgroundPass::WaitIdle() {
  absl::MutexLock lock(&mu_);
  auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || failed_ || !HasWork();
  };
  mu_.Await(absl::Condition(&settled));
  if (failed_) return last_error_;
  if (HasWork()) return absl::UnavailableError(absl::StrCat(name_, ": stopped"));
  return absl::OkStatus();
}

void BackgroundPass::SetPausedForTesting(bool paused) {
  absl::MutexLock lock(&mu_);
  paused_ = paused;
}

absl::Status BackgroundPass::StepForTesting() {
  absl::MutexLock lock(&mu_);
  const uint64_t want = steps_done_ + steps_ + 1;
  ++steps_;
  auto stepped = [this, want]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || steps_done_ >= want;
  };
  mu_.Await(absl::Condition(&stepped));
  if (steps_done_ < want) return absl::UnavailableError(absl::StrCat(name_, ": stopped"));
  return step_status_;
}

void BackgroundPass::Run() {
  bool ran = false;  // a batch ran last: pause before the next
  while (true) {
    bool step = false;
    bool work = false;
    {
      absl::MutexLock lock(&mu_);
      if (failed_) {
        // Retry later, or at once for new work or a test's step.
        auto retry_now = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || steps_ > 0 || NewWork();
        };
        mu_.AwaitWithTimeout(absl::Condition(&retry_now), retry_after_);
        failed_ = false;
      } else if (ran && !paused_ && pause_ > absl::ZeroDuration()) {
        auto stop_or_step = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || steps_ > 0;
        };
        mu_.AwaitWithTimeout(absl::Condition(&stop_or_step), pause_);
      }
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || (paused_ ? steps_ > 0 : HasWork());
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      if (paused_) {
        --steps_;
        step = true;
      }
      work = HasWork();
    }
    const absl::Status status = work ? RunBatch() : absl::OkStatus();
    ran = work;
    absl::MutexLock lock(&mu_);
    if (work) {
      last_error_ = status;
      failed_ = !status.ok();
    }
    if (step) {
      step_status_ = status;
      ++steps_done_;
    }
  }
}

}  // namespace leadvault::vault
