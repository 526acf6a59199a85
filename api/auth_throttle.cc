#include "api/auth_throttle.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "keys/error_reason.h"

namespace leadvault::api {
namespace {

// The two kinds of key, in one map so one bound covers both.
constexpr absl::string_view kAddress = "address ";
constexpr absl::string_view kPrincipal = "principal ";

}  // namespace

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

std::string AuthThrottle::AddressKey(absl::string_view peer) {
  std::string address = PeerAddress(peer);
  in6_addr v6;
  if (!absl::StartsWith(peer, "ipv6:") || ::inet_pton(AF_INET6, address.c_str(), &v6) != 1) {
    return address;
  }
  char text[INET6_ADDRSTRLEN];
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    if (::inet_ntop(AF_INET, &v6.s6_addr[12], text, sizeof(text)) == nullptr) return address;
    return text;
  }
  std::memset(&v6.s6_addr[8], 0, 8);
  if (::inet_ntop(AF_INET6, &v6, text, sizeof(text)) == nullptr) return address;
  return absl::StrCat(text, "/64");
}

bool AuthThrottle::Live(const KeyState& state, absl::Time now) const {
  // The window runs from the later of the last failure and the end of the
  // last back-off, so sitting out a back-off does not buy fresh free tries.
  return now - std::max(state.last_failure, state.blocked_until) <= options_.window;
}

absl::Status AuthThrottle::Admit(absl::string_view peer, absl::string_view claimed) {
  const std::string address = absl::StrCat(kAddress, AddressKey(peer));
  const std::string principal = absl::StrCat(kPrincipal, claimed);
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto from = keys_.find(address);
  absl::Time until = absl::InfinitePast();
  if (from != keys_.end() && now < from->second.blocked_until) until = from->second.blocked_until;
  if (until <= now && !claimed.empty() && from != keys_.end() && Live(from->second, now)) {
    auto against = keys_.find(principal);
    if (against != keys_.end() && now < against->second.blocked_until) {
      until = against->second.blocked_until;
    }
  }
  if (until <= now) return absl::OkStatus();
  ++refused_;
  return WithRetryDelay(
      WithReason(absl::ResourceExhaustedError("too many failed authentications; retry later"),
                 "AUTH_THROTTLED"),
      until - now);
}

void AuthThrottle::RecordFailure(absl::string_view peer, absl::string_view claimed) {
  failures_.fetch_add(1, std::memory_order_relaxed);
  const absl::Time now = clock_->Now();
  std::string address = absl::StrCat(kAddress, AddressKey(peer));
  absl::MutexLock lock(&mu_);
  CountFailure(std::move(address), now);
  if (!claimed.empty()) CountFailure(absl::StrCat(kPrincipal, claimed), now);
}

void AuthThrottle::CountFailure(std::string key, absl::Time now) {
  auto it = keys_.find(key);
  if (it == keys_.end()) {
    if (options_.max_keys == 0) return;
    while (keys_.size() >= options_.max_keys) {
      keys_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(key);
    it = keys_.emplace(std::move(key), KeyState{}).first;
    it->second.order = std::prev(order_.end());
  } else {
    order_.splice(order_.end(), order_, it->second.order);
    if (!Live(it->second, now)) it->second.failures = 0;
  }
  KeyState& state = it->second;
  state.failures = std::min(state.failures + 1, options_.free_failures + 64);
  state.last_failure = now;
  int over = state.failures - options_.free_failures;
  if (over >= 0) {
    absl::Duration backoff = options_.first_backoff;
    for (int i = 0; i < over && backoff < options_.max_backoff; ++i) backoff *= 2;
    state.blocked_until = now + std::min(backoff, options_.max_backoff);
  }
}

uint64_t AuthThrottle::refused() const {
  absl::MutexLock lock(&mu_);
  return refused_;
}

size_t AuthThrottle::tracked_keys() const {
  absl::MutexLock lock(&mu_);
  return keys_.size();
}

}  // namespace leadvault::api
