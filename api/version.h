// The build's version and commit, for --version, the start-up log line and
// leadvault_build_info.
#ifndef LEADVAULT_API_VERSION_H_
#define LEADVAULT_API_VERSION_H_

#include <string>

#include "absl/strings/string_view.h"

namespace leadvault::api {

// The project's version (CMake's PROJECT_VERSION), e.g. "0.1.0".
absl::string_view Version();
// The source tree's commit (12 hex digits, "-dirty" with uncommitted changes),
// or "unknown" for a build outside git.
absl::string_view Commit();

// "PROGRAM VERSION (commit COMMIT, on-disk format N)": what every binary's
// --version prints.
std::string VersionLine(absl::string_view program);

}  // namespace leadvault::api

#endif  // LEADVAULT_API_VERSION_H_
