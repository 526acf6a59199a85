// The master-key encoding of key files and key commands (keys/master_key.h):
// 32 raw bytes are one key equal to them; anything else decodes only as 1 to
// kMaxMasterKeys lines of exactly 64 hex characters, each key the bytes its
// line spells; every other input decodes to no key at all.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "keys/master_key.h"
#include "keys/secret_bytes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool crypto_ready = leadvault::keys::InitCrypto();
  FUZZ_CHECK(crypto_ready);
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<leadvault::keys::SecretBytes> keys = leadvault::keys::DecodeMasterKeys(input);
  if (size == leadvault::keys::kKeySize) {
    FUZZ_CHECK(keys.size() == 1 && keys[0].view() == input);
    return 0;
  }
  if (keys.empty()) return 0;
  FUZZ_CHECK(keys.size() <= leadvault::keys::kMaxMasterKeys);
  absl::string_view text = input;
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  const std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  FUZZ_CHECK(lines.size() == keys.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    FUZZ_CHECK(lines[i].size() == 64);
    for (char c : lines[i]) FUZZ_CHECK(absl::ascii_isxdigit(static_cast<unsigned char>(c)));
    FUZZ_CHECK(keys[i].guarded() && keys[i].size() == leadvault::keys::kKeySize);
    FUZZ_CHECK(absl::AsciiStrToLower(absl::BytesToHexString(keys[i].view())) ==
               absl::AsciiStrToLower(std::string(lines[i])));
  }
  return 0;
}
