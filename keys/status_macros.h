// The project's two status-propagation macros (Debian 12's Abseil has none).
// Ignoring a status elsewhere is written `IgnoreError(...)` so it can be grepped.
#ifndef LEADVAULT_KEYS_STATUS_MACROS_H_
#define LEADVAULT_KEYS_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define LV_STATUS_CONCAT_INNER(a, b) a##b
#define LV_STATUS_CONCAT(a, b) LV_STATUS_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define LV_RETURN_IF_ERROR(expr)                     \
  do {                                               \
    ::absl::Status lv_status_tmp_ = (expr);          \
    if (!lv_status_tmp_.ok()) return lv_status_tmp_; \
  } while (0)

// `LV_ASSIGN_OR_RETURN(auto x, Foo());` evaluates Foo() (an absl::StatusOr<T>),
// returns its status on error, else move-assigns the value to `x`.
#define LV_ASSIGN_OR_RETURN(lhs, rexpr) \
  LV_ASSIGN_OR_RETURN_IMPL(LV_STATUS_CONCAT(lv_statusor_, __LINE__), lhs, rexpr)

#define LV_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                             \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = std::move(tmp).value()

namespace leadvault {

// Explicitly discards a status. Use only where failure truly changes nothing.
inline void IgnoreError(const absl::Status&) {}

}  // namespace leadvault

#endif  // LEADVAULT_KEYS_STATUS_MACROS_H_
