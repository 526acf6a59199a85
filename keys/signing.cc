#include "keys/signing.h"

#include <sodium.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace leadvault::keys {
namespace {

static_assert(kEd25519SeedSize == crypto_sign_SEEDBYTES);
static_assert(kEd25519PublicKeySize == crypto_sign_PUBLICKEYBYTES);
static_assert(kEd25519SignatureSize == crypto_sign_BYTES);
static_assert(crypto_sign_SECRETKEYBYTES == 64);

// An empty string_view may carry a null pointer; give empty messages a valid address.
constexpr uint8_t kEmptyInput = 0;

const uint8_t* InputPtr(absl::string_view s) {
  return s.empty() ? &kEmptyInput : reinterpret_cast<const uint8_t*>(s.data());
}

}  // namespace

SecretBytes SigningKey::GenerateSeed(Random& random) {
  SecretBytes seed = SecretBytes::Guarded(kEd25519SeedSize);
  random.Fill(seed.data(), seed.size());
  return seed;
}

absl::StatusOr<std::unique_ptr<SigningKey>> SigningKey::FromSeed(const SecretBytes& seed) {
  if (seed.size() != kEd25519SeedSize) {
    return absl::InvalidArgumentError("Ed25519 seed must be 32 bytes");
  }
  std::unique_ptr<SigningKey> key(new SigningKey());
  key->secret_key_ = SecretBytes::Guarded(crypto_sign_SECRETKEYBYTES);
  key->public_key_.assign(kEd25519PublicKeySize, '\0');
  // Cannot fail for a seed of the right size.
  if (crypto_sign_seed_keypair(reinterpret_cast<uint8_t*>(key->public_key_.data()),
                               key->secret_key_.data(), seed.data()) != 0) {
    std::abort();
  }
  return key;
}

std::string SigningKey::Sign(absl::string_view message) const {
  std::string signature(kEd25519SignatureSize, '\0');
  unsigned long long signature_len = 0;
  if (crypto_sign_detached(reinterpret_cast<uint8_t*>(signature.data()), &signature_len,
                           InputPtr(message), message.size(), secret_key_.data()) != 0 ||
      signature_len != kEd25519SignatureSize) {
    std::abort();
  }
  return signature;
}

bool VerifySignature(absl::string_view public_key, absl::string_view message,
                     absl::string_view signature) {
  if (public_key.size() != kEd25519PublicKeySize || signature.size() != kEd25519SignatureSize) {
    return false;
  }
  return crypto_sign_verify_detached(reinterpret_cast<const uint8_t*>(signature.data()),
                                     InputPtr(message), message.size(),
                                     reinterpret_cast<const uint8_t*>(public_key.data())) == 0;
}

}  // namespace leadvault::keys
