// `leadvaultctl audit ...`: checkpoints, export, offline verify, accounting.
#ifndef LEADVAULT_TOOLS_CTL_AUDIT_H_
#define LEADVAULT_TOOLS_CTL_AUDIT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "audit/audit_entry.h"
#include "audit/checkpoint.h"
#include "audit/verifier.h"
#include "tools/ctl_connection.h"

namespace leadvault::tools {

struct AuditExportFlags {
  std::string format = "jsonl";  // jsonl | csv
  std::string output;            // required
  std::string since, until;      // RFC 3339 or YYYY-MM-DD (UTC)
  uint64_t from_sequence = 0, to_sequence = 0;
  std::string principal_id, action, lead_id;
  std::string trusted;         // a trusted checkpoint file: adds a consistency proof to it
  bool csv_canonical = false;  // csv: add the canonical bytes (base64) as the last column
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

// "2026-12-01", "2026-12-01T13:00:00Z" or any RFC 3339 time; UTC when no
// zone is given. INVALID_ARGUMENT naming `flag` otherwise.
absl::StatusOr<absl::Time> ParseTimeFlag(const std::string& flag, const std::string& text);

// The log's verifier key as the daemon serves it (GetCheckpoint, compliance).
absl::StatusOr<std::string> FetchVerifierKey(const Connection& connection);

// Display names of principals by id, for labelling ids in what leadvaultctl
// writes: learnt from the CreatePrincipal entries an export holds (the name
// each records, audit::RecordedDisplayName) or given by the daemon.
class PrincipalNames {
 public:
  // Learns the name `entry` records, if it is a CreatePrincipal entry that does.
  void Learn(const audit::AuditEntry& entry);
  // Sets `principal_id`'s name; an empty name is ignored.
  void Set(const std::string& principal_id, const std::string& display_name);
  // The name, or "" when none is known.
  const std::string& Name(const std::string& principal_id) const;
  // "Display Name (id)", or the id alone when no name is known.
  std::string Label(const std::string& principal_id) const;

 private:
  std::map<std::string, std::string> names_;
};

// Sees each entry an export writes, in the order written.
using ExportEntryVisitor = std::function<void(const audit::AuditEntry&)>;

// `audit export`: streams the export `flags` asks for into the new file
// `flags.output` (mode 0600, through a `.partial` file; an existing file is
// never overwritten) and returns the number of entries written. `visit`, if
// set, sees each entry as it is written. On failure nothing is left behind.
absl::StatusOr<uint64_t> ExportToFile(const Connection& connection, const AuditExportFlags& flags,
                                      const ExportEntryVisitor& visit = nullptr);

// Where `audit verify`'s checks stopped: the trusted checkpoint's file could
// not be read (a usage error), the trusted checkpoint did not open with the
// key, or the export failed verification.
enum class VerifyFailure { kTrustedFile, kTrustedCheckpoint, kExport };

// `audit verify`'s checks of the export at `file` against `verifier` and, when
// `trusted_file` is set, the signed checkpoint in it (audit/FORMAT.md,
// section 6). On failure `*failure` says which step refused; the message is
// the verifier's ("sequence S (line N): ...") or starts "trusted checkpoint: ".
absl::StatusOr<audit::VerifyReport> VerifyExport(const std::string& file,
                                                 const audit::NoteVerifier& verifier,
                                                 const std::string& trusted_file,
                                                 VerifyFailure* failure);

// What `audit verify` prints for a verified export: the "OK: N entries ..."
// line, then what that proves in plain words.
std::string VerifiedSummary(const audit::VerifyReport& report);
std::string DescribeProof(const audit::VerifyReport& report);

// `audit accounting`: every disclosure of one lead's personal data since
// `since_unix_micros` (0: all), oldest first, each decoded from the canonical
// entry whose inclusion proof leads to a checkpoint signed by `verifier`.
struct ProvenAccounting {
  std::vector<audit::AuditEntry> disclosures;
  audit::Checkpoint checkpoint;  // the last reply's; every row is in its tree
  // The principals' display names as the daemon has them now: labels for the
  // proven ids, not proven themselves.
  PrincipalNames names;
};
// DATA_LOSS when a checkpoint or a row fails its proof; the call's code otherwise.
absl::StatusOr<ProvenAccounting> FetchAccounting(const Connection& connection,
                                                 const std::string& lead_id,
                                                 int64_t since_unix_micros,
                                                 const audit::NoteVerifier& verifier);

// Runs the audit command that was parsed, if any, and returns its exit code
// (0 ok, 1 failed, 2 usage); nullopt if none was parsed. `verify` needs no
// daemon and no token.
std::optional<int> RunAuditCommand(const AuditCommands& commands, const ConnectionFlags& flags);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_AUDIT_H_
