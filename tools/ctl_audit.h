// `leadvaultctl audit ...`: checkpoints, export, offline verify, accounting.
#ifndef LEADVAULT_TOOLS_CTL_AUDIT_H_
#define LEADVAULT_TOOLS_CTL_AUDIT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "tools/ctl_connection.h"

namespace leadvault::tools {

struct AuditExportFlags {
  std::string format = "jsonl";  // jsonl | csv
  std::string output;            // required
  std::string since, until;      // RFC 3339 or YYYY-MM-DD (UTC)
  uint64_t from_sequence = 0, to_sequence = 0;
  std::string principal_id, action, lead_id;
  std::string trusted;  // a trusted checkpoint file: adds a consistency proof to it
};

struct AuditVerifyFlags {
  std::string file;
  std::string pubkey;   // the verifier key, or a file holding it
  std::string trusted;  // a trusted signed checkpoint file
};

// The `audit` command tree, registered on the app; see RunAuditCommand.
struct AuditCommands {
  CLI::App* pubkey = nullptr;
  CLI::App* checkpoint = nullptr;
  CLI::App* export_log = nullptr;
  CLI::App* verify = nullptr;
  CLI::App* accounting = nullptr;
  std::string checkpoint_output;
  AuditExportFlags export_flags;
  AuditVerifyFlags verify_flags;
  std::string lead_id;
  std::string since;
  std::string accounting_pubkey;
};

std::unique_ptr<AuditCommands> AddAuditCommands(CLI::App& app);

// Runs the audit command that was parsed, if any, and returns its exit code
// (0 ok, 1 failed, 2 usage); nullopt if none was parsed. `verify` needs no
// daemon and no token.
std::optional<int> RunAuditCommand(const AuditCommands& commands, const ConnectionFlags& flags);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_AUDIT_H_
