// The queue listing's page token, as a client sends it back.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "vault/internal/keys.h"
#include "vault/internal/page_token.h"

using leadvault::vault::internal::DecodePageToken;
using leadvault::vault::internal::EncodePageToken;
using leadvault::vault::internal::kLeadIdSize;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::string> suffix = DecodePageToken(input);
  if (suffix.ok()) {
    // A token names exactly one queue key suffix, and that suffix's own
    // token names it again.
    FUZZ_CHECK(suffix->size() == 8 + kLeadIdSize);
    absl::StatusOr<std::string> again = DecodePageToken(EncodePageToken(*suffix));
    FUZZ_CHECK(again.ok() && *again == *suffix);
  } else {
    FUZZ_CHECK(absl::IsInvalidArgument(suffix.status()));
    FUZZ_CHECK(suffix.status().message() == "page_token: malformed");
  }
  // Every suffix the store can hand out round-trips.
  if (size >= 8 + kLeadIdSize) {
    const absl::string_view raw = input.substr(0, 8 + kLeadIdSize);
    absl::StatusOr<std::string> back = DecodePageToken(EncodePageToken(raw));
    FUZZ_CHECK(back.ok() && *back == raw);
  }
  return 0;
}
