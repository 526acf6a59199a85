// Deterministic seams for tests: seeded randomness and a settable clock.
#ifndef LEADVAULT_TESTS_TESTING_FAKES_H_
#define LEADVAULT_TESTS_TESTING_FAKES_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "keys/random.h"
#include "vault/clock.h"

namespace leadvault::testing {

// A deterministic byte stream (splitmix64) from a seed. Thread-safe.
class SeededRandom final : public keys::Random {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  void Fill(uint8_t* out, size_t size) override;

 private:
  absl::Mutex mu_;
  uint64_t state_ ABSL_GUARDED_BY(mu_);
};

// A clock that stands still until told to move. Thread-safe.
class FakeClock final : public vault::Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

// A fresh, empty directory under the test's temp dir; removed by the destructor.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// HMAC-SHA256 of `data` keyed with `key` (libsodium, 32 raw bytes): how a form
// tool signs an HTTP capture request with its webhook secret, computed apart
// from the vault's own code.
std::string HmacSha256(absl::string_view key, absl::string_view data);

}  // namespace leadvault::testing

#endif  // LEADVAULT_TESTS_TESTING_FAKES_H_
