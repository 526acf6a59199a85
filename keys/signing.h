// Ed25519 signatures (libsodium crypto_sign) for the audit log's checkpoints.
#ifndef LEADVAULT_KEYS_SIGNING_H_
#define LEADVAULT_KEYS_SIGNING_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"

namespace leadvault::keys {

inline constexpr size_t kEd25519SeedSize = 32;
inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;

// An Ed25519 private key. The secret half lives in guarded memory and is never
// exposed; only signatures and the public key leave the object. Signing is
// deterministic (RFC 8032). Thread-safe after construction.
class SigningKey {
 public:
  // A new random 32-byte seed (guarded), to be wrapped and stored by the caller.
  static SecretBytes GenerateSeed(Random& random);
  // The key of a 32-byte seed; INVALID_ARGUMENT for another length.
  static absl::StatusOr<std::unique_ptr<SigningKey>> FromSeed(const SecretBytes& seed);

  // The 64-byte signature of `message`.
  std::string Sign(absl::string_view message) const;
  // The 32-byte public key.
  const std::string& public_key() const { return public_key_; }

 private:
  SigningKey() = default;
  SecretBytes secret_key_;  // libsodium's 64-byte form (seed || public key), guarded
  std::string public_key_;
};

// True if `signature` is a valid Ed25519 signature of `message` under the
// 32-byte `public_key`. False for any malformed input; never throws.
[[nodiscard]] bool VerifySignature(absl::string_view public_key, absl::string_view message,
                                   absl::string_view signature);

}  // namespace leadvault::keys

#endif  // LEADVAULT_KEYS_SIGNING_H_
