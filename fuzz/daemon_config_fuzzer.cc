// leadvaultd's config file (TOML), as an operator writes it: any bytes are
// either applied whole or refused with INVALID_ARGUMENT naming the source,
// and a refused file changes nothing.
#include <cstddef>
#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "api/daemon_config.h"
#include "fuzz/fuzz_check.h"

using leadvault::api::ApplyConfigToml;
using leadvault::api::DaemonConfig;
using leadvault::api::ValidateConfig;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  DaemonConfig config;
  absl::Status applied = ApplyConfigToml(input, "fuzz.toml", &config);
  if (!applied.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(applied));
    FUZZ_CHECK(absl::StartsWith(applied.message(), "fuzz.toml:"));
    FUZZ_CHECK(config == DaemonConfig{});
    return 0;
  }
  // Whatever was applied is either valid or refused by name; never a crash.
  absl::Status valid = ValidateConfig(config);
  FUZZ_CHECK(valid.ok() || absl::IsInvalidArgument(valid));
  return 0;
}
