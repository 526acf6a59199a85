// Time seam: the vault reads the time only through a Clock.
#ifndef LEADVAULT_VAULT_CLOCK_H_
#define LEADVAULT_VAULT_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace leadvault::vault {

// Thread-safe source of the current time.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The system's real-time clock.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_CLOCK_H_
