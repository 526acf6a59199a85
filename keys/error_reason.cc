#include "keys/error_reason.h"

#include <cstdint>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace leadvault {
namespace {

constexpr absl::string_view kReasonPayload = "type.leadvault.dev/reason";
constexpr absl::string_view kRetryPayload = "type.leadvault.dev/retry_delay_ms";

}  // namespace

absl::Status WithReason(absl::Status status, absl::string_view reason) {
  if (!status.ok()) status.SetPayload(kReasonPayload, absl::Cord(reason));
  return status;
}

absl::Status WithRetryDelay(absl::Status status, absl::Duration delay) {
  if (status.ok()) return status;
  int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(delay, absl::Milliseconds(1)));
  if (ms < 1) ms = 1;
  status.SetPayload(kRetryPayload, absl::Cord(absl::StrCat(ms)));
  return status;
}

std::optional<std::string> ErrorReason(const absl::Status& status) {
  auto payload = status.GetPayload(kReasonPayload);
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}

std::optional<absl::Duration> RetryDelay(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryPayload);
  int64_t ms = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &ms) || ms < 1) {
    return std::nullopt;
  }
  return absl::Milliseconds(ms);
}

}  // namespace leadvault
