#include "tools/ctl_check.h"

#include <cstdint>
#include <iostream>
#include <utility>

#include "absl/status/status.h"
#include "keys/random.h"
#include "nlohmann/json.hpp"
#include "tools/ctl_connection.h"
#include "tools/ctl_print.h"
#include "vault/database.h"
#include "vault/disclosure_index.h"
#include "vault/funnel.h"
#include "vault/lead_rows_check.h"

namespace leadvault::tools {
namespace {

// `check --json`: {"ok", "disclosure_index": {...}, "lead_rows": {...}}, each
// part with its own "ok" and, when it fails, "error"; {"ok": false, "error"}
// when a check could not run. Lead and receipt ids only, as the text.
int PrintCheckJson(const absl::StatusOr<vault::DisclosureIndexReport>& index,
                   const absl::StatusOr<vault::LeadRowsReport>& rows,
                   const absl::StatusOr<vault::FunnelCheckReport>& funnel) {
  const absl::Status failed = !index.ok()  ? index.status()
                              : !rows.ok() ? rows.status()
                                           : funnel.status();
  if (!failed.ok()) {
    PrintJsonDocument({{"ok", false}, {"error", std::string(failed.message())}});
    return ReportError(failed);
  }
  nlohmann::ordered_json disclosure = {{"ok", index->result.ok()},
                                       {"audit_entries", index->entries},
                                       {"disclosures", index->disclosures},
                                       {"index_rows", index->index_rows},
                                       {"expected_rows", index->expected_rows},
                                       {"missing_rows", index->missing_rows},
                                       {"bogus_rows", index->bogus_rows},
                                       {"last_checked_entries", index->last_checked}};
  if (!index->result.ok()) disclosure["error"] = std::string(index->result.message());
  nlohmann::ordered_json lead_rows = {{"ok", rows->result.ok()},
                                      {"leads", rows->leads},
                                      {"receipts", rows->receipts},
                                      {"rows", rows->rows},
                                      {"consent_skeletons", rows->consent_skeletons},
                                      {"missing", rows->missing},
                                      {"orphans", rows->orphans},
                                      {"problems", rows->problems}};
  if (!rows->result.ok()) lead_rows["error"] = std::string(rows->result.message());
  nlohmann::ordered_json aggregates = {{"ok", funnel->result.ok()},
                                       {"leads", funnel->leads},
                                       {"cells", funnel->cells},
                                       {"mismatched", funnel->mismatched},
                                       {"problems", funnel->problems}};
  if (!funnel->result.ok()) aggregates["error"] = std::string(funnel->result.message());
  const bool ok = index->result.ok() && rows->result.ok() && funnel->result.ok();
  PrintJsonDocument({{"ok", ok},
                     {"disclosure_index", disclosure},
                     {"lead_rows", lead_rows},
                     {"funnel", aggregates}});
  if (!index->result.ok()) return ReportError(index->result);
  if (!rows->result.ok()) return ReportError(rows->result);
  if (!funnel->result.ok()) return ReportError(funnel->result);
  return kExitOk;
}

}  // namespace

std::unique_ptr<CheckCommand> AddCheckCommand(CLI::App& app) {
  auto command = std::make_unique<CheckCommand>();
  command->check = app.add_subcommand(
      "check",
      "check a data dir offline (read-only, no master key, no daemon needed): the disclosure "
      "index behind `audit accounting` against the whole audit log, and that every lead is "
      "whole (each row it owns there, no row naming a lead or receipt that is gone), and that "
      "the funnel aggregates equal a recount of the leads");
  command->check->add_option("--data-dir", command->data_dir, "the daemon's data directory")
      ->required();
  command->check->add_flag(
      "--json", command->json,
      "print one JSON document: {\"ok\", \"disclosure_index\": {\"ok\", \"audit_entries\", "
      "\"disclosures\", \"index_rows\", \"expected_rows\", \"missing_rows\", \"bogus_rows\", "
      "\"last_checked_entries\"}, \"lead_rows\": {\"ok\", \"leads\", \"receipts\", \"rows\", "
      "\"consent_skeletons\", \"missing\", \"orphans\", \"problems\"}, \"funnel\": {\"ok\", "
      "\"leads\", \"cells\", \"mismatched\", \"problems\"}} (\"error\" where one fails)");
  command->check->footer(
      "A running daemon may hold the data dir: the check covers what was committed when it "
      "opened.\nExit codes: 0 both pass, 1 a mismatch (named by sequence), a missing or "
      "orphaned lead row (named by lead or receipt id) or an error.");
  return command;
}

std::optional<int> RunCheckCommand(const CheckCommand& command) {
  if (!command.check->parsed()) return std::nullopt;
  absl::StatusOr<std::unique_ptr<vault::Database>> db =
      vault::Database::OpenReadOnly(command.data_dir + "/db");
  if (absl::IsNotFound(db.status())) {
    db = absl::NotFoundError("--data-dir: holds no leadvault database");
  }
  if (!db.ok()) {
    if (command.json) return PrintCheckJson(db.status(), db.status(), db.status());
    return ReportError(db.status());
  }
  absl::StatusOr<vault::DisclosureIndexReport> report =
      vault::CheckDisclosureIndex(**db, keys::SystemRandom());
  if (command.json) {
    if (!report.ok()) return PrintCheckJson(report, report.status(), report.status());
    absl::StatusOr<vault::LeadRowsReport> rows = vault::CheckLeadRows(**db);
    if (!rows.ok()) return PrintCheckJson(report, rows, rows.status());
    return PrintCheckJson(report, rows, vault::CheckFunnel(**db));
  }
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
  } else {
    std::cout << "disclosure index: ok (every disclosure has its rows, every row its disclosure)"
              << std::endl;
  }
  absl::StatusOr<vault::LeadRowsReport> rows = vault::CheckLeadRows(**db);
  if (!rows.ok()) return ReportError(rows.status());
  std::cout << "leads: " << rows->leads << ", receipts: " << rows->receipts
            << ", rows examined: " << rows->rows << "\n"
            << "consent skeletons of purged leads (kept by design): " << rows->consent_skeletons
            << "\n";
  if (!rows->result.ok()) {
    std::cout << "lead rows: INCONSISTENT (" << rows->missing << " missing, " << rows->orphans
              << " orphaned)\n";
    for (const std::string& problem : rows->problems) std::cout << "  " << problem << "\n";
    if (rows->missing + rows->orphans > rows->problems.size()) {
      std::cout << "  ... and " << rows->missing + rows->orphans - rows->problems.size()
                << " more\n";
    }
    std::cout << std::flush;
  } else {
    std::cout << "lead rows: ok (every lead whole, no row naming a lead or receipt that is gone)"
              << std::endl;
  }
  absl::StatusOr<vault::FunnelCheckReport> funnel = vault::CheckFunnel(**db);
  if (!funnel.ok()) return ReportError(funnel.status());
  if (!funnel->result.ok()) {
    std::cout << "funnel aggregates: MISMATCH (" << funnel->mismatched << " of " << funnel->cells
              << " cells differ from a recount of " << funnel->leads
              << " leads and the purged ones)\n";
    for (const std::string& problem : funnel->problems) std::cout << "  " << problem << "\n";
    std::cout << std::flush;
  } else {
    std::cout << "funnel aggregates: ok (" << funnel->cells << " cells equal a recount of "
              << funnel->leads << " leads and the purged ones)" << std::endl;
  }
  if (!report->result.ok()) return ReportError(report->result);
  if (!rows->result.ok()) return ReportError(rows->result);
  if (!funnel->result.ok()) return ReportError(funnel->result);
  return 0;
}

}  // namespace leadvault::tools
