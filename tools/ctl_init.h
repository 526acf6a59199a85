// `leadvaultctl init`: prepares a data dir offline, without a running daemon.
#ifndef LEADVAULT_TOOLS_CTL_INIT_H_
#define LEADVAULT_TOOLS_CTL_INIT_H_

#include <string>

#include "absl/status/statusor.h"
#include "vault/principal_store.h"

namespace leadvault::tools {

struct InitFlags {
  std::string data_dir;
  std::string key_file;  // empty: <data_dir>/master.key
};

// Creates `data_dir` (0700) and a new master key file (0600), initializes the
// vault in <data_dir>/db exactly as leadvaultd would, and bootstraps the admin
// principal, whose token is returned to be shown once. Refuses with
// ALREADY_EXISTS, changing nothing, if <data_dir>/db or the key file exists.
// REQUIRES: keys::InitCrypto() has succeeded.
absl::StatusOr<vault::IssuedToken> InitDataDir(const InitFlags& flags);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_INIT_H_
