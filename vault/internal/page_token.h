// The opaque page token of a queue listing: created-at (8, offset big-endian)
// || lead id (16) of the last entry returned, base64url. It holds no PII.
#ifndef LEADVAULT_VAULT_INTERNAL_PAGE_TOKEN_H_
#define LEADVAULT_VAULT_INTERNAL_PAGE_TOKEN_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "vault/internal/keys.h"

namespace leadvault::vault::internal {

inline std::string EncodePageToken(absl::string_view queue_key_suffix) {
  return absl::WebSafeBase64Escape(queue_key_suffix);
}

// The queue key suffix a token names; INVALID_ARGUMENT if malformed.
inline absl::StatusOr<std::string> DecodePageToken(absl::string_view token) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || raw.size() != 8 + kLeadIdSize) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  return raw;
}

}  // namespace leadvault::vault::internal

#endif  // LEADVAULT_VAULT_INTERNAL_PAGE_TOKEN_H_
