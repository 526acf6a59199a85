#include "api/version.h"

#include "absl/strings/str_cat.h"
#include "leadvault/version_generated.h"
#include "vault/vault.h"

namespace leadvault::api {

absl::string_view Version() { return LEADVAULT_VERSION_STRING; }

absl::string_view Commit() { return LEADVAULT_COMMIT_STRING; }

std::string VersionLine(absl::string_view program) {
  return absl::StrCat(program, " ", Version(), " (commit ", Commit(), ", on-disk format ",
                      vault::kOnDiskFormatVersion, ")");
}

}  // namespace leadvault::api
