#include "tools/ctl_check.h"

#include <cstdint>
#include <iostream>
#include <utility>

#include "absl/status/status.h"
#include "keys/random.h"
#include "tools/ctl_connection.h"
#include "vault/database.h"
#include "vault/disclosure_index.h"

namespace leadvault::tools {

std::unique_ptr<CheckCommand> AddCheckCommand(CLI::App& app) {
  auto command = std::make_unique<CheckCommand>();
  command->check = app.add_subcommand(
      "check",
      "check a data dir offline (read-only, no master key, no daemon needed): the disclosure "
      "index behind `audit accounting` against the whole audit log");
  command->check->add_option("--data-dir", command->data_dir, "the daemon's data directory")
      ->required();
  command->check->footer(
      "A running daemon may hold the data dir: the check covers what was committed when it "
      "opened.\nExit codes: 0 the index matches the log, 1 a mismatch (named by sequence) or "
      "an error.");
  return command;
}

std::optional<int> RunCheckCommand(const CheckCommand& command) {
  if (!command.check->parsed()) return std::nullopt;
  absl::StatusOr<std::unique_ptr<vault::Database>> db =
      vault::Database::OpenReadOnly(command.data_dir + "/db");
  if (absl::IsNotFound(db.status())) {
    return ReportError(absl::NotFoundError("--data-dir: holds no leadvault database"));
  }
  if (!db.ok()) return ReportError(db.status());
  absl::StatusOr<vault::DisclosureIndexReport> report =
      vault::CheckDisclosureIndex(**db, keys::SystemRandom());
  if (!report.ok()) return ReportError(report.status());
  std::cout << "audit entries scanned: " << report->entries << "\n"
            << "disclosures: " << report->disclosures << "\n"
            << "index rows: " << report->index_rows << " (the log calls for "
            << report->expected_rows << ")\n"
            << "last check recorded by the daemon: ";
  if (report->last_checked == 0) {
    std::cout << "none\n";
  } else {
    std::cout << "at " << report->last_checked << " entries\n";
  }
  if (!report->result.ok()) {
    std::cout << "disclosure index: MISMATCH (" << report->missing_rows << " rows missing, "
              << report->bogus_rows << " rows not backed by a disclosure)" << std::endl;
    return ReportError(report->result);
  }
  std::cout << "disclosure index: ok (every disclosure has its rows, every row its disclosure)"
            << std::endl;
  return 0;
}

}  // namespace leadvault::tools
