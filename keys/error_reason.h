// A machine-readable reason and retry delay carried on an absl::Status, for the
// API to send as google.rpc.ErrorInfo and RetryInfo (api/status.h). Layers below
// the API tag the errors whose cause a program should tell apart; an untagged
// error gets its code's default reason there.
#ifndef LEADVAULT_KEYS_ERROR_REASON_H_
#define LEADVAULT_KEYS_ERROR_REASON_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace leadvault {

// `status` tagged with `reason` (UPPER_SNAKE_CASE, stable across releases, never a
// value from a request). OK statuses are returned unchanged.
absl::Status WithReason(absl::Status status, absl::string_view reason);

// `status` tagged with the delay after which a retry may succeed (rounded up to
// the millisecond; at least 1 ms).
absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);

// The reason a lower layer tagged `status` with, if any.
std::optional<std::string> ErrorReason(const absl::Status& status);

// The retry delay `status` was tagged with, if any.
std::optional<absl::Duration> RetryDelay(const absl::Status& status);

}  // namespace leadvault

#endif  // LEADVAULT_KEYS_ERROR_REASON_H_
