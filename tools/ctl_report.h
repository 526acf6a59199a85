// `leadvaultctl report audit|accounting`: self-contained HTML reports for
// compliance officers, made from the same export, verification and accounting
// as `audit export|verify|accounting` (tools/ctl_audit.h).
//
// A report is one HTML file with inline CSS and inline SVG: no script, no
// external resource of any kind, and a Content-Security-Policy that forbids
// loading one. Every string from the audit log is HTML-escaped. The log holds
// ids, role and field names and written reasons, never a personal value, so a
// report holds none either. Reports are written as new files of mode 0600
// (they say who read which lead); an existing file is refused unless --force,
// which replaces it (a symlink there is replaced, never followed).
#ifndef LEADVAULT_TOOLS_CTL_REPORT_H_
#define LEADVAULT_TOOLS_CTL_REPORT_H_

#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "tools/ctl_connection.h"

namespace leadvault::tools {

struct ReportCommands {
  CLI::App* audit = nullptr;       // report audit: the periodic activity review
  CLI::App* accounting = nullptr;  // report accounting LEAD_ID: for the patient
  std::string since, until;        // YYYY-MM-DD or RFC 3339 (UTC); until is exclusive
  std::string output;
  std::string pubkey;   // the verifier key or a file holding it; empty: the daemon's
  std::string trusted;  // report audit: a signed checkpoint trusted from before
  std::string lead_id;  // report accounting
  bool force = false;   // replace an existing output file
};

std::unique_ptr<ReportCommands> AddReportCommands(CLI::App& app);

// Runs the report command that was parsed, if any, and returns its exit code
// (0 ok, 1 failed, 2 usage); nullopt if none was parsed. `report audit`
// writes its report even when the export fails verification (the report says
// so at the top) and then exits 1.
std::optional<int> RunReportCommand(const ReportCommands& commands, const ConnectionFlags& flags);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_REPORT_H_
