#include "api/export_limiter.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "keys/error_reason.h"

namespace leadvault::api {
namespace {

// Streams picked for cancelling, with what cancels each.
using Doomed = std::vector<std::pair<uint64_t, std::function<void()>>>;

}  // namespace

ExportLimiter::ExportLimiter(const vault::Clock* clock, const ExportLimits& limits)
    : clock_(clock), limits_(limits) {
  watchdog_ = std::thread([this] { Watch(); });
}

ExportLimiter::~ExportLimiter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  watchdog_.join();
}

absl::StatusOr<uint64_t> ExportLimiter::Acquire(const std::string& principal_id,
                                                std::function<void()> cancel) {
  absl::MutexLock lock(&mu_);
  if (draining_) return absl::UnavailableError("server is shutting down");
  auto mine = per_principal_.find(principal_id);
  if (mine != per_principal_.end() && mine->second >= limits_.per_principal) {
    return WithRetryDelay(
        WithReason(absl::ResourceExhaustedError(
                       absl::StrCat("ExportAudit: at most ", limits_.per_principal,
                                    " exports at once per principal; retry when one has finished")),
                   "EXPORT_LIMIT"),
        absl::Seconds(1));
  }
  if (open_ >= limits_.total) {
    return WithRetryDelay(WithReason(absl::ResourceExhaustedError(
                                         absl::StrCat("ExportAudit: at most ", limits_.total,
                                                      " exports at once; retry with backoff")),
                                     "EXPORT_LIMIT"),
                          absl::Seconds(1));
  }
  ++per_principal_[principal_id];
  ++open_;
  const uint64_t slot = next_slot_++;
  streams_[slot] = Stream{principal_id, std::move(cancel)};
  return slot;
}

void ExportLimiter::WriteStarted(uint64_t slot) {
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(slot);
  if (it != streams_.end()) it->second.write_started = clock_->Now();
}

void ExportLimiter::WriteDone(uint64_t slot) {
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(slot);
  if (it != streams_.end()) it->second.write_started = absl::InfiniteFuture();
}

void ExportLimiter::Release(uint64_t slot) {
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(slot);
  if (it == streams_.end()) return;
  Stream* stream = &it->second;  // node-stable, and only this call erases it
  auto cancel_over = [stream]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !stream->cancelling; };
  mu_.Await(absl::Condition(&cancel_over));
  Uncount(*stream);
  streams_.erase(slot);
}

void ExportLimiter::Uncount(Stream& stream) {
  if (!stream.counted) return;
  stream.counted = false;
  --open_;
  auto mine = per_principal_.find(stream.principal_id);
  if (--mine->second == 0) per_principal_.erase(mine);
}

int ExportLimiter::CancelStalled() {
  std::vector<uint64_t> stalled;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    for (const auto& [slot, stream] : streams_) {
      if (stream.counted && stream.write_started != absl::InfiniteFuture() &&
          now - stream.write_started > limits_.write_timeout) {
        stalled.push_back(slot);
      }
    }
  }
  const int n = static_cast<int>(stalled.size());
  CancelSlots(std::move(stalled));
  return n;
}

void ExportLimiter::Drain() {
  std::vector<uint64_t> open;
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    for (const auto& [slot, stream] : streams_) open.push_back(slot);
  }
  CancelSlots(std::move(open));
}

void ExportLimiter::CancelSlots(std::vector<uint64_t> slots) {
  Doomed doomed;
  {
    absl::MutexLock lock(&mu_);
    for (uint64_t slot : slots) {
      auto it = streams_.find(slot);
      // Each stream is cancelled once.
      if (it == streams_.end() || !it->second.counted || it->second.cancelling) continue;
      it->second.cancelling = true;
      doomed.emplace_back(slot, it->second.cancel);
    }
  }
  // Outside the lock: gRPC's cancellation runs none of the stream's
  // reactions on this thread, but the limiter need not rely on it.
  for (auto& [slot, cancel] : doomed) cancel();
  absl::MutexLock lock(&mu_);
  // The slot is freed only once the stream is cancelled: whoever sees it free
  // sees the stream's client told.
  for (auto& [slot, cancel] : doomed) {
    Stream& stream = streams_.find(slot)->second;  // Release waits for `cancelling`
    stream.cancelling = false;
    Uncount(stream);
  }
  // Another thread may have been cancelling some of `slots`: return once it has.
  auto settled = [this, &slots]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (uint64_t slot : slots) {
      auto it = streams_.find(slot);
      if (it != streams_.end() && it->second.cancelling) return false;
    }
    return true;
  };
  mu_.Await(absl::Condition(&settled));
}

ExportLimiter::Counts ExportLimiter::counts() const {
  absl::MutexLock lock(&mu_);
  Counts counts;
  for (const auto& [slot, stream] : streams_) {
    if (!stream.counted) continue;
    ++counts.open;
    counts.writing += stream.write_started != absl::InfiniteFuture();
  }
  return counts;
}

void ExportLimiter::Watch() {
  const absl::Duration every =
      std::clamp(limits_.write_timeout / 4, absl::Milliseconds(10), absl::Seconds(1));
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), every)) return;
    }
    CancelStalled();
  }
}

}  // namespace leadvault::api
