#include "tools/ctl_db.h"

#include <cstdint>
#include <iostream>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "tools/ctl_connection.h"
#include "tools/ctl_print.h"
#include "vault/database.h"

namespace leadvault::tools {

std::unique_ptr<DbCommands> AddDbCommands(CLI::App& app) {
  auto commands = std::make_unique<DbCommands>();
  CLI::App* db = app.add_subcommand("db", "offline checks of a data dir's database files");
  db->require_subcommand(1);
  commands->verify = db->add_subcommand(
      "verify",
      "check every block checksum of every table file, and that the MANIFEST and WAL replay "
      "cleanly (read-only, no master key, no daemon needed)");
  commands->verify->add_option("--data-dir", commands->data_dir, "the daemon's data directory")
      ->required();
  commands->verify->add_flag("--json", commands->json,
                             "print {\"ok\": true, \"table_files\", \"table_bytes\"}; on a "
                             "corrupted file or an error {\"ok\": false, \"error\"} (exit 1)");
  commands->verify->footer(
      "A running daemon may hold the data dir: files it compacts away meanwhile are replaced "
      "by their successors.\nExit codes: 0 every checksum matched, 1 a corrupted file (named) "
      "or an error.");
  return commands;
}

std::optional<int> RunDbCommand(const DbCommands& commands) {
  if (!commands.verify->parsed()) return std::nullopt;
  absl::StatusOr<vault::ChecksumSummary> summary =
      vault::Database::VerifyChecksums(commands.data_dir + "/db");
  if (absl::IsNotFound(summary.status())) {
    summary = absl::NotFoundError("--data-dir: holds no leadvault database");
  }
  if (!summary.ok()) {
    if (commands.json) {
      PrintJsonDocument({{"ok", false}, {"error", std::string(summary.status().message())}});
    }
    return ReportError(summary.status());
  }
  if (commands.json) {
    PrintJsonDocument({{"ok", true},
                       {"table_files", summary->table_files},
                       {"table_bytes", summary->table_bytes}});
    return 0;
  }
  std::cout << "db verify: ok: " << summary->table_files << " table files (" << summary->table_bytes
            << " bytes) match their block checksums; MANIFEST and WAL "
            << "replay cleanly" << std::endl;
  return 0;
}

}  // namespace leadvault::tools
