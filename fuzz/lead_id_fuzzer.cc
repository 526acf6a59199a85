// DecodeLeadId: the text form of a lead id, from requests and tool arguments.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "vault/lead.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  std::optional<std::string> id = leadvault::vault::DecodeLeadId(input);
  if (id.has_value()) {
    // Accepted: exactly 32 hex digits, and the id encodes back to them (lower case).
    FUZZ_CHECK(id->size() == 16);
    FUZZ_CHECK(leadvault::vault::EncodeLeadId(*id) == absl::AsciiStrToLower(input));
  } else {
    FUZZ_CHECK(input.size() != 32 ||
               !std::all_of(input.begin(), input.end(), absl::ascii_isxdigit));
  }
  // Any 16 bytes round-trip through the text form.
  if (size >= 16) {
    const absl::string_view binary = input.substr(0, 16);
    const std::string text = leadvault::vault::EncodeLeadId(binary);
    FUZZ_CHECK(text.size() == 32);
    std::optional<std::string> back = leadvault::vault::DecodeLeadId(text);
    FUZZ_CHECK(back.has_value() && *back == binary);
  }
  return 0;
}
