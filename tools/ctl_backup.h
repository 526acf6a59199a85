// `leadvaultctl backup create|list|verify|restore`: backups of the database.
// `create` asks the running daemon (admin); the others read the backup
// directory offline, and `restore` needs the daemon stopped.
#ifndef LEADVAULT_TOOLS_CTL_BACKUP_H_
#define LEADVAULT_TOOLS_CTL_BACKUP_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "tools/ctl_connection.h"

namespace leadvault::tools {

struct BackupCommands {
  CLI::App* create = nullptr;
  CLI::App* list = nullptr;
  CLI::App* verify = nullptr;
  CLI::App* restore = nullptr;
  std::string backup_dir;
  std::string data_dir;
  uint32_t id = 0;    // 0: verify every backup / restore the newest
  bool json = false;  // one JSON document on stdout (each command's --help says which)
};

// Adds `backup` and its subcommands to `app`.
std::unique_ptr<BackupCommands> AddBackupCommands(CLI::App& app);

// Runs the command that was parsed, if any; its exit code, or nullopt.
std::optional<int> RunBackupCommand(const BackupCommands& commands, const ConnectionFlags& flags);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_BACKUP_H_
