// Strict base64 decoding (libsodium) for bytes read from untrusted files.
#ifndef LEADVAULT_KEYS_BASE64_H_
#define LEADVAULT_KEYS_BASE64_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace leadvault::keys {

// Decodes `in`, standard base64 (RFC 4648 section 4: '+' and '/', '='
// padding) in its one canonical spelling: the whole input is consumed, no
// whitespace or other character is skipped, padding is exactly what the
// length needs and the unused bits of the last character are zero, so
// re-encoding the bytes gives `in` again and each byte string has one
// accepted encoding. The empty string decodes to no bytes.
//
// On success replaces `*out` with the bytes (reusing its capacity); on
// failure returns INVALID_ARGUMENT "invalid base64" and leaves `*out` empty.
// Thread-safe; needs no InitCrypto().
[[nodiscard]] absl::Status Base64Decode(absl::string_view in, std::string* out);

}  // namespace leadvault::keys

#endif  // LEADVAULT_KEYS_BASE64_H_
