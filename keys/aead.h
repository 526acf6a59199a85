// XChaCha20-Poly1305-IETF field encryption and key wrapping.
//
// Security guarantee: a ciphertext decrypts only under the key and associated
// data it was made with; any change to the format byte, nonce, ciphertext, tag
// or associated data, and any truncation, fails with DATA_LOSS and yields no
// plaintext. Errors never carry key, nonce or ciphertext bytes.
#ifndef LEADVAULT_KEYS_AEAD_H_
#define LEADVAULT_KEYS_AEAD_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"

namespace leadvault::keys {

inline constexpr uint8_t kFieldFormatVersion = 1;
inline constexpr size_t kNonceSize = 24;  // crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
inline constexpr size_t kTagSize = 16;    // crypto_aead_xchacha20poly1305_ietf_ABYTES
// Bytes a ciphertext adds to its plaintext: format version, nonce, tag.
inline constexpr size_t kCiphertextOverhead = 1 + kNonceSize + kTagSize;

// Associated data binding a field ciphertext to its place:
// lead_id || field_number (uint32 big-endian) || dek_version (uint32 big-endian).
std::string FieldAssociatedData(absl::string_view lead_id, uint32_t field_number,
                                uint32_t dek_version);

// Encrypts one PII field under the lead's data key. `nonce` must be kNonceSize
// fresh random bytes (callers draw all of a lead's nonces with one Random::Fill).
// Output: version(1) || nonce(24) || ciphertext+tag, where the AEAD associated
// data is version(1) || FieldAssociatedData(...), so the format byte is authenticated.
// REQUIRES: dek.size() == 32, nonce.size() == kNonceSize.
std::string EncryptField(const SecretBytes& dek, uint32_t dek_version, absl::string_view lead_id,
                         uint32_t field_number, absl::string_view plaintext,
                         absl::string_view nonce);

// Decrypts a field ciphertext made by EncryptField with the same arguments.
absl::StatusOr<SecretBytes> DecryptField(const SecretBytes& dek, uint32_t dek_version,
                                         absl::string_view lead_id, uint32_t field_number,
                                         absl::string_view ciphertext);

// Wraps a key (a lead's DEK, the index root key, ...) under a KEK version.
// `purpose` is bound into the associated data together with `kek_version`, so a
// wrapped key moved to another lead or purpose fails to unwrap.
// Output: version(1) || nonce(24) || ciphertext+tag, with associated data
// version(1) || "leadvault-wrap-v1" || kek_version (uint32 big-endian) || purpose.
// The nonce is drawn from `random`. REQUIRES: kek.size() == 32.
std::string WrapKey(const SecretBytes& kek, uint32_t kek_version, absl::string_view purpose,
                    const SecretBytes& key, Random& random);

// Unwraps a key made by WrapKey; the result is a plain (per-request) buffer
// unless `guarded` is true.
absl::StatusOr<SecretBytes> UnwrapKey(const SecretBytes& kek, uint32_t kek_version,
                                      absl::string_view purpose, absl::string_view wrapped,
                                      bool guarded = false);

}  // namespace leadvault::keys

#endif  // LEADVAULT_KEYS_AEAD_H_
