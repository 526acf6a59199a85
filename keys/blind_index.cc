#include "keys/blind_index.h"

#include <sodium.h>

#include <cstdlib>
#include <utility>

#include "absl/status/status.h"

namespace leadvault::keys {
namespace {

static_assert(crypto_kdf_KEYBYTES == 32);
static_assert(crypto_kdf_CONTEXTBYTES == 8);
static_assert(kBlindTokenSize == crypto_generichash_BYTES);

constexpr absl::string_view kBlindIndexContext = "lvbidx01";
constexpr size_t kSubkeySize = 32;

// Keyed BLAKE2b-256; a key outside libsodium's 16..64 bytes is a programming error.
std::string Blake2b256(const uint8_t* key, size_t key_size, absl::string_view data) {
  if (key_size < crypto_generichash_KEYBYTES_MIN || key_size > crypto_generichash_KEYBYTES_MAX) {
    std::abort();
  }
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<uint8_t*>(out.data()), out.size(),
                     reinterpret_cast<const uint8_t*>(data.data()), data.size(), key, key_size);
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BlindIndexer>> BlindIndexer::Create(const SecretBytes& root_key) {
  if (root_key.size() != crypto_kdf_KEYBYTES) {
    return absl::InvalidArgumentError("blind index root key must be 32 bytes");
  }
  SecretBytes email_key =
      DeriveSubkey(root_key, static_cast<uint64_t>(BlindIndexId::kEmail), kBlindIndexContext);
  SecretBytes phone_key =
      DeriveSubkey(root_key, static_cast<uint64_t>(BlindIndexId::kPhone), kBlindIndexContext);
  return std::unique_ptr<BlindIndexer>(
      new BlindIndexer(std::move(email_key), std::move(phone_key)));
}

std::string BlindIndexer::Token(BlindIndexId id, absl::string_view normalized_value) const {
  switch (id) {
    case BlindIndexId::kEmail:
      return Blake2b256(email_key_.data(), email_key_.size(), normalized_value);
    case BlindIndexId::kPhone:
      return Blake2b256(phone_key_.data(), phone_key_.size(), normalized_value);
  }
  std::abort();  // not a BlindIndexId
}

std::string KeyedHash(const SecretBytes& key, absl::string_view data) {
  return Blake2b256(key.data(), key.size(), data);
}

SecretBytes DeriveSubkey(const SecretBytes& root, uint64_t subkey_id, absl::string_view context) {
  // Wrong sizes are programming errors (the signature has no status to report them).
  if (root.size() != crypto_kdf_KEYBYTES || context.size() != crypto_kdf_CONTEXTBYTES) {
    std::abort();
  }
  SecretBytes subkey = SecretBytes::Guarded(kSubkeySize);
  if (crypto_kdf_derive_from_key(subkey.data(), subkey.size(), subkey_id, context.data(),
                                 root.data()) != 0) {
    std::abort();
  }
  return subkey;
}

}  // namespace leadvault::keys
