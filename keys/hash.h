// SHA-256 (FIPS 180-4) for the audit log's Merkle tree and key ids.
#ifndef LEADVAULT_KEYS_HASH_H_
#define LEADVAULT_KEYS_HASH_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "absl/strings/string_view.h"

namespace leadvault::keys {

inline constexpr size_t kSha256Size = 32;
using Sha256Digest = std::array<uint8_t, kSha256Size>;

// SHA-256 of the concatenation of `parts`, without copying them. Uses the
// CPU's SHA extensions where present (OpenSSL libcrypto). Thread-safe; cannot fail.
Sha256Digest Sha256(std::initializer_list<absl::string_view> parts);

}  // namespace leadvault::keys

#endif  // LEADVAULT_KEYS_HASH_H_
