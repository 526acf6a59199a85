#include "keys/base64.h"

#include <sodium.h>

#include <cstring>

namespace leadvault::keys {
namespace {

constexpr int kVariant = sodium_base64_VARIANT_ORIGINAL;

// True if encoding `bytes` gives exactly `text`. Encodes 48 bytes (64
// characters, no padding) at a time into a stack buffer: the same text as
// encoding the whole, without an allocation per call.
bool EncodesTo(const unsigned char* bytes, size_t size, absl::string_view text) {
  constexpr size_t kBlock = 48;
  char encoded[sodium_base64_ENCODED_LEN(kBlock, kVariant)];
  if (text.size() != sodium_base64_ENCODED_LEN(size, kVariant) - 1) return false;
  while (size > 0) {
    const size_t n = size < kBlock ? size : kBlock;
    sodium_bin2base64(encoded, sizeof(encoded), bytes, n, kVariant);
    const size_t chars = sodium_base64_ENCODED_LEN(n, kVariant) - 1;
    if (std::memcmp(encoded, text.data(), chars) != 0) return false;
    bytes += n;
    size -= n;
    text.remove_prefix(chars);
  }
  return true;
}

}  // namespace

absl::Status Base64Decode(absl::string_view in, std::string* out) {
  out->resize(in.size() / 4 * 3 + 3);
  auto* bytes = reinterpret_cast<unsigned char*>(out->data());
  size_t size = 0;
  // No ignored characters and no end pointer: libsodium then fails unless
  // every character of `in` is consumed.
  if (sodium_base642bin(bytes, out->size(), in.data(), in.size(), /*ignore=*/nullptr, &size,
                        /*b64_end=*/nullptr, kVariant) != 0 ||
      !EncodesTo(bytes, size, in)) {
    out->clear();
    return absl::InvalidArgumentError("invalid base64");
  }
  out->resize(size);
  return absl::OkStatus();
}

}  // namespace leadvault::keys
