#include "keys/aead.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace leadvault::keys {
namespace {

static_assert(kNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32);

constexpr size_t kAeadKeySize = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr absl::string_view kWrapLabel = "leadvault-wrap-v1";

// libsodium accepts empty messages, but an empty string_view may carry a null
// pointer; give empty inputs a valid address.
constexpr uint8_t kEmptyInput = 0;

const uint8_t* InputPtr(absl::string_view s) {
  return s.empty() ? &kEmptyInput : reinterpret_cast<const uint8_t*>(s.data());
}

void AppendBigEndian32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xff));
  out.push_back(static_cast<char>((v >> 16) & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

// Associated data of a wrapped key, after the format byte:
// "leadvault-wrap-v1" || kek_version (uint32 big-endian) || purpose.
std::string WrapAssociatedData(uint32_t kek_version, absl::string_view purpose) {
  std::string ad;
  ad.reserve(1 + kWrapLabel.size() + 4 + purpose.size());
  ad.push_back(static_cast<char>(kFieldFormatVersion));
  ad.append(kWrapLabel.data(), kWrapLabel.size());
  AppendBigEndian32(ad, kek_version);
  ad.append(purpose.data(), purpose.size());
  return ad;
}

std::string FieldAd(absl::string_view lead_id, uint32_t field_number, uint32_t dek_version) {
  std::string ad;
  ad.reserve(1 + lead_id.size() + 8);
  ad.push_back(static_cast<char>(kFieldFormatVersion));
  ad += FieldAssociatedData(lead_id, field_number, dek_version);
  return ad;
}

// Seals `plaintext` as version || nonce || ciphertext+tag. `ad` already starts
// with the version byte, so the format byte is authenticated.
std::string Seal(const SecretBytes& key, absl::string_view ad, absl::string_view plaintext,
                 const uint8_t* nonce) {
  // A wrong-size key or nonce is a programming error, not a runtime condition.
  if (key.size() != kAeadKeySize) std::abort();
  std::string out(kCiphertextOverhead + plaintext.size(), '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  p[0] = kFieldFormatVersion;
  std::memcpy(p + 1, nonce, kNonceSize);
  unsigned long long ct_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(p + 1 + kNonceSize, &ct_len, InputPtr(plaintext),
                                             plaintext.size(), InputPtr(ad), ad.size(), nullptr,
                                             p + 1, key.data());
  if (ct_len != plaintext.size() + kTagSize) std::abort();
  return out;
}

// Opens what Seal made into `out`, which must hold exactly the plaintext size.
// `what` names the kind of ciphertext for error messages.
absl::Status Open(const SecretBytes& key, absl::string_view ad, absl::string_view sealed,
                  absl::string_view what, SecretBytes& out) {
  const auto* p = reinterpret_cast<const uint8_t*>(sealed.data());
  unsigned long long pt_len = 0;
  uint8_t empty_output = 0;
  uint8_t* dst = out.empty() ? &empty_output : out.data();
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(dst, &pt_len, nullptr, p + 1 + kNonceSize,
                                                 sealed.size() - 1 - kNonceSize, InputPtr(ad),
                                                 ad.size(), p + 1, key.data()) != 0 ||
      pt_len != out.size()) {
    return absl::DataLossError(
        absl::StrCat(what, ": authentication failed (wrong key, associated data, or corrupted)"));
  }
  return absl::OkStatus();
}

// Checks the parts of a sealed value that come before authentication.
absl::Status CheckShape(const SecretBytes& key, absl::string_view sealed, absl::string_view what) {
  if (key.size() != kAeadKeySize) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": key must be 32 bytes"));
  }
  if (sealed.size() < kCiphertextOverhead) {
    return absl::DataLossError(
        absl::StrCat(what, ": shorter than the 41-byte minimum (version, nonce, tag)"));
  }
  if (static_cast<uint8_t>(sealed[0]) != kFieldFormatVersion) {
    return absl::DataLossError(absl::StrCat(what, ": unknown format version (expected 1)"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string FieldAssociatedData(absl::string_view lead_id, uint32_t field_number,
                                uint32_t dek_version) {
  std::string ad;
  ad.reserve(lead_id.size() + 8);
  ad.append(lead_id.data(), lead_id.size());
  AppendBigEndian32(ad, field_number);
  AppendBigEndian32(ad, dek_version);
  return ad;
}

std::string EncryptField(const SecretBytes& dek, uint32_t dek_version, absl::string_view lead_id,
                         uint32_t field_number, absl::string_view plaintext,
                         absl::string_view nonce) {
  if (nonce.size() != kNonceSize) std::abort();
  return Seal(dek, FieldAd(lead_id, field_number, dek_version), plaintext,
              reinterpret_cast<const uint8_t*>(nonce.data()));
}

absl::StatusOr<SecretBytes> DecryptField(const SecretBytes& dek, uint32_t dek_version,
                                         absl::string_view lead_id, uint32_t field_number,
                                         absl::string_view ciphertext) {
  constexpr absl::string_view kWhat = "field ciphertext";
  if (absl::Status s = CheckShape(dek, ciphertext, kWhat); !s.ok()) return s;
  SecretBytes plaintext(ciphertext.size() - kCiphertextOverhead);
  if (absl::Status s =
          Open(dek, FieldAd(lead_id, field_number, dek_version), ciphertext, kWhat, plaintext);
      !s.ok()) {
    return s;
  }
  return plaintext;
}

std::string WrapKey(const SecretBytes& kek, uint32_t kek_version, absl::string_view purpose,
                    const SecretBytes& key, Random& random) {
  uint8_t nonce[kNonceSize];
  random.Fill(nonce, sizeof nonce);
  return Seal(kek, WrapAssociatedData(kek_version, purpose), key.view(), nonce);
}

absl::StatusOr<SecretBytes> UnwrapKey(const SecretBytes& kek, uint32_t kek_version,
                                      absl::string_view purpose, absl::string_view wrapped,
                                      bool guarded) {
  constexpr absl::string_view kWhat = "wrapped key";
  if (absl::Status s = CheckShape(kek, wrapped, kWhat); !s.ok()) return s;
  const size_t key_size = wrapped.size() - kCiphertextOverhead;
  SecretBytes key = guarded ? SecretBytes::Guarded(key_size) : SecretBytes(key_size);
  if (absl::Status s = Open(kek, WrapAssociatedData(kek_version, purpose), wrapped, kWhat, key);
      !s.ok()) {
    return s;
  }
  return key;
}

}  // namespace leadvault::keys
