// Blind indexes and keyed hashes: equality look-ups without storing values.
#ifndef LEADVAULT_KEYS_BLIND_INDEX_H_
#define LEADVAULT_KEYS_BLIND_INDEX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keys/secret_bytes.h"

namespace leadvault::keys {

inline constexpr size_t kBlindTokenSize = 32;

// Which blind index a token belongs to. The number is the crypto_kdf subkey id;
// never renumber.
enum class BlindIndexId : uint64_t {
  kEmail = 1,
  kPhone = 2,
};

// Computes blind tokens: keyed BLAKE2b (crypto_generichash, 32-byte output) of
// the normalized value under a per-index key derived with crypto_kdf (context
// "lvbidx01") from an index root key that is separate from the KEK.
// Thread-safe after construction.
class BlindIndexer {
 public:
  // REQUIRES: root_key.size() == 32; otherwise INVALID_ARGUMENT.
  static absl::StatusOr<std::unique_ptr<BlindIndexer>> Create(const SecretBytes& root_key);

  // The 32-byte token for `normalized_value` in index `id`.
  std::string Token(BlindIndexId id, absl::string_view normalized_value) const;

 private:
  BlindIndexer(SecretBytes email_key, SecretBytes phone_key)
      : email_key_(std::move(email_key)), phone_key_(std::move(phone_key)) {}
  SecretBytes email_key_;  // constant after construction
  SecretBytes phone_key_;  // constant after construction
};

// Keyed BLAKE2b-256 of `data` under `key` (16..64 bytes). Used for token hashes.
std::string KeyedHash(const SecretBytes& key, absl::string_view data);

// Derives a 32-byte guarded subkey from a 32-byte root with crypto_kdf.
// `context` must be exactly 8 characters.
SecretBytes DeriveSubkey(const SecretBytes& root, uint64_t subkey_id, absl::string_view context);

}  // namespace leadvault::keys

#endif  // LEADVAULT_KEYS_BLIND_INDEX_H_
