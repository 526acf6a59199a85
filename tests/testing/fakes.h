// Deterministic seams for tests: seeded randomness and a settable clock.
#ifndef LEADVAULT_TESTS_TESTING_FAKES_H_
#define LEADVAULT_TESTS_TESTING_FAKES_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "keys/random.h"

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

}  // namespace leadvault::testing

#endif  // LEADVAULT_TESTS_TESTING_FAKES_H_
