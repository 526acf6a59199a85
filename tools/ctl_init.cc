#include "tools/ctl_init.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "keys/master_key.h"
#include "keys/random.h"
#include "keys/status_macros.h"
#include "vault/vault.h"

namespace leadvault::tools {

absl::StatusOr<vault::IssuedToken> InitDataDir(const InitFlags& flags) {
  if (flags.data_dir.empty()) return absl::InvalidArgumentError("--data-dir is required");
  const std::string db_dir = flags.data_dir + "/db";
  const std::string key_file =
      flags.key_file.empty() ? flags.data_dir + "/master.key" : flags.key_file;

  struct stat st;
  if (::lstat(db_dir.c_str(), &st) == 0 || errno != ENOENT) {
    return absl::AlreadyExistsError(
        absl::StrCat(db_dir, " already exists: this data dir is initialized; refusing"));
  }
  if (::lstat(key_file.c_str(), &st) == 0 || errno != ENOENT) {
    return absl::AlreadyExistsError(
        absl::StrCat("key file ", key_file, " already exists; refusing to reuse or overwrite it"));
  }
  if (::mkdir(flags.data_dir.c_str(), 0700) != 0) {
    if (errno != EEXIST || ::stat(flags.data_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("data dir ", flags.data_dir, " cannot be created"));
    }
  }

  LV_RETURN_IF_ERROR(keys::CreateKeyFile(key_file, keys::SystemRandom()));
  LV_ASSIGN_OR_RETURN(keys::SecretBytes kek, keys::NewKeyFileProvider(key_file)->Load());

  vault::VaultOptions options;
  options.data_dir = db_dir;
  LV_ASSIGN_OR_RETURN(std::unique_ptr<vault::Vault> vault,
                      vault::Vault::Open(options, std::move(kek)));
  absl::StatusOr<vault::IssuedToken> issued = vault->BootstrapAdmin();
  vault->Shutdown();
  return issued;
}

}  // namespace leadvault::tools
