#include "api/auth_throttle.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/strip.h"

namespace leadvault::api {

std::string AuthThrottle::PeerAddress(absl::string_view peer) {
  absl::string_view rest = peer;
  if (absl::ConsumePrefix(&rest, "ipv4:")) {
    size_t colon = rest.rfind(':');
    return std::string(colon == absl::string_view::npos ? rest : rest.substr(0, colon));
  }
  if (absl::ConsumePrefix(&rest, "ipv6:")) {
    // "[addr]:port", or its URL-encoded form "%5Baddr%5D:port".
    for (auto [open, close] :
         {std::pair<absl::string_view, absl::string_view>{"[", "]"}, {"%5B", "%5D"}}) {
      absl::string_view inner = rest;
      if (absl::ConsumePrefix(&inner, open)) {
        size_t end = inner.find(close);
        if (end != absl::string_view::npos) return std::string(inner.substr(0, end));
      }
    }
  }
  return std::string(peer);
}

absl::Status AuthThrottle::Admit(absl::string_view peer) {
  const std::string address = PeerAddress(peer);
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(address);
  if (it == peers_.end() || now >= it->second.blocked_until) return absl::OkStatus();
  ++refused_;
  return absl::ResourceExhaustedError("too many failed authentications; retry later");
}

void AuthThrottle::RecordFailure(absl::string_view peer) {
  std::string address = PeerAddress(peer);
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(address);
  if (it == peers_.end()) {
    if (options_.max_peers == 0) return;
    while (peers_.size() >= options_.max_peers) {
      peers_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(address);
    it = peers_.emplace(std::move(address), PeerState{}).first;
    it->second.order = std::prev(order_.end());
  } else {
    order_.splice(order_.end(), order_, it->second.order);
    // The window runs from the later of the last failure and the end of the
    // last back-off, so sitting out a back-off does not buy fresh free tries.
    absl::Time since = std::max(it->second.last_failure, it->second.blocked_until);
    if (now - since > options_.window) it->second.failures = 0;
  }
  PeerState& state = it->second;
  state.failures = std::min(state.failures + 1, options_.free_failures + 64);
  state.last_failure = now;
  int over = state.failures - options_.free_failures;
  if (over >= 0) {
    absl::Duration backoff = options_.first_backoff;
    for (int i = 0; i < over && backoff < options_.max_backoff; ++i) backoff *= 2;
    state.blocked_until = now + std::min(backoff, options_.max_backoff);
  }
}

void AuthThrottle::RecordSuccess(absl::string_view peer) {
  const std::string address = PeerAddress(peer);
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(address);
  if (it == peers_.end()) return;
  order_.erase(it->second.order);
  peers_.erase(it);
}

uint64_t AuthThrottle::refused() const {
  absl::MutexLock lock(&mu_);
  return refused_;
}

size_t AuthThrottle::tracked_peers() const {
  absl::MutexLock lock(&mu_);
  return peers_.size();
}

}  // namespace leadvault::api
