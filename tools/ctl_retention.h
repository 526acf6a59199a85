// `leadvaultctl lead delete`, `receipt verify`, `hold place|release|list`,
// `retention sweep` and `retention policy set|list`: deletion requests and
// their receipts, legal holds, manual retention sweeps and the policy.
#ifndef LEADVAULT_TOOLS_CTL_RETENTION_H_
#define LEADVAULT_TOOLS_CTL_RETENTION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "tools/ctl_connection.h"

namespace leadvault::tools {

struct RetentionCommands {
  CLI::App* lead_delete = nullptr;
  CLI::App* receipt_verify = nullptr;
  CLI::App* hold_place = nullptr;
  CLI::App* hold_release = nullptr;
  CLI::App* hold_list = nullptr;
  CLI::App* sweep = nullptr;
  CLI::App* policy_set = nullptr;
  CLI::App* policy_list = nullptr;
  std::string policy_file;
  std::string lead_id;
  std::string hold_id;
  std::string reason;
  std::string reason_file;
  std::string output;  // lead delete -o: the receipt also to this new file
  std::string receipt_file;
  std::string pubkey;
  bool dry_run = false;
  int batch = 0;
  uint64_t max_leads = 0;
  bool quiet = false;
  bool json = false;  // one JSON document on stdout (each command's --help says which)
};

// Adds the commands: `lead delete` under `lead` (the existing `lead`
// command), the others at the top of `app`.
std::unique_ptr<RetentionCommands> AddRetentionCommands(CLI::App& app, CLI::App& lead);

// Runs the command that was parsed, if any; its exit code, or nullopt.
std::optional<int> RunRetentionCommand(const RetentionCommands& commands,
                                       const ConnectionFlags& flags);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_RETENTION_H_
