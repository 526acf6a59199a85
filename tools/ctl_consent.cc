#include "tools/ctl_consent.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/checkpoint.h"
#include "audit/consent_proof.h"
#include "keys/status_macros.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tools/ctl_files.h"
#include "tools/ctl_print.h"

namespace leadvault::tools {
namespace {

namespace v1 = ::leadvault::v1;

// The whole of the regular file `path`, refused when larger than the
// parser's bound (never read beyond it).
absl::StatusOr<std::string> ReadProofFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  constexpr size_t kLimit = audit::kMaxConsentProofBytes;
  if (static_cast<uint64_t>(st.st_size) > kLimit) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": larger than ", kLimit >> 20, " MiB, not a consent proof"));
  }
  std::string data(static_cast<size_t>(st.st_size) + 1, '\0');
  size_t size = 0;
  while (size < data.size()) {
    const ssize_t n = ::read(fd, data.data() + size, data.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("cannot read ", path));
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
    // Grown since fstat: read on, up to one byte past the limit.
    if (size == data.size() && data.size() <= kLimit) data.resize(std::min(2 * size, kLimit + 1));
  }
  ::close(fd);
  if (size > kLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": larger than ", kLimit >> 20, " MiB, not a consent proof"));
  }
  data.resize(size);
  return data;
}

const char* Plural(size_t n, const char* one, const char* many) { return n == 1 ? one : many; }

int RunExportProof(const Connection& connection, const std::string& lead_id,
                   const std::string& output, bool json) {
  // Refused before the call, so an existing file costs no audited export (as
  // `audit export`: exit 1).
  if (absl::Status free = RefuseExisting(output); !free.ok()) return ReportError(free);
  grpc::ClientContext context;
  connection.Prepare(&context);
  v1::ExportConsentProofRequest request;
  request.set_lead_id(lead_id);
  v1::ExportConsentProofResponse response;
  grpc::Status status =
      v1::Consent::NewStub(connection.channel())->ExportConsentProof(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, connection);
  if (absl::Status written = WriteNewFile(output, response.document()); !written.ok()) {
    return ReportError(written, kExitFailed);
  }
  if (json) {
    PrintJsonDocument({{"lead_id", lead_id}, {"file", output}});
    return kExitOk;
  }
  std::printf(
      "wrote the consent proof of lead %s to %s (verify: leadvaultctl consent proof %s "
      "--pubkey KEY)\n",
      lead_id.c_str(), output.c_str(), output.c_str());
  return kExitOk;
}

int RunProof(const std::string& file, const std::string& pubkey, bool json) {
  absl::StatusOr<audit::NoteVerifier> verifier = LoadVerifier(pubkey);
  if (!verifier.ok()) return ReportError(verifier.status(), kExitUsage);
  absl::StatusOr<std::string> text = ReadProofFile(file);
  if (!text.ok()) return ReportError(text.status(), kExitFailed);
  absl::StatusOr<audit::ConsentProof> proof = audit::ParseConsentProof(*text);
  absl::StatusOr<audit::ConsentProofReport> report =
      proof.ok() ? audit::VerifyConsentProof(*proof, *verifier) : proof.status();
  if (!report.ok()) {
    std::fprintf(stderr, "leadvaultctl: consent proof FAILED: %s\n",
                 std::string(report.status().message()).c_str());
    if (json) {
      PrintJsonDocument({{"ok", false}, {"error", std::string(report.status().message())}});
    }
    return kExitFailed;
  }
  const std::string exported_at =
      absl::FormatTime(absl::RFC3339_full, report->exported_at, absl::UTCTimeZone());
  if (json) {
    PrintJsonDocument(
        {{"ok", true},
         {"lead_id", proof->lead_id},
         {"events", report->events},
         {"grants", report->grants},
         {"revocations", report->revocations},
         {"checkpoint", {{"origin", report->checkpoint.origin}, {"size", report->checkpoint.size}}},
         {"export_sequence", report->export_sequence},
         {"exported_at", exported_at}});
    return kExitOk;
  }
  std::printf(
      "OK: lead %s: %zu consent %s (%zu %s, %zu %s), each recorded in the audit log and "
      "included in checkpoint %s size %llu\n",
      proof->lead_id.c_str(), report->events, Plural(report->events, "event", "events"),
      report->grants, Plural(report->grants, "grant", "grants"), report->revocations,
      Plural(report->revocations, "revocation", "revocations"), report->checkpoint.origin.c_str(),
      static_cast<unsigned long long>(report->checkpoint.size));
  const unsigned long long export_sequence = report->export_sequence;
  if (report->events == 0) {
    std::printf(
        "Proven: the lead had no consent event when the vault exported this document (its "
        "signed export entry, audit entry %llu at %s, counts none). Not proven: that none was "
        "recorded after the export; the document's generated_at and generated_by are the "
        "exporter's word.\n",
        export_sequence, exported_at.c_str());
    return kExitOk;
  }
  std::printf(
      "Proven: the document is complete as of the vault's export: events 1 to %zu are exactly as "
      "the log recorded them, in order, none missing, and they are every event the vault held "
      "for the lead when it exported (its signed export entry, audit entry %llu at %s, counts "
      "%zu). Not proven: that the lead has no event recorded after the export; the document's "
      "generated_at and generated_by are the exporter's word.\n",
      report->events, export_sequence, exported_at.c_str(), report->events);
  return kExitOk;
}

}  // namespace

std::unique_ptr<ConsentCommands> AddConsentCommands(CLI::App& app) {
  auto c = std::make_unique<ConsentCommands>();
  CLI::App* consent = app.add_subcommand(
      "consent", "the consent ledger: export a proof (daemon), verify it (offline)");
  consent->require_subcommand(1);
  c->proof = consent->add_subcommand(
      "proof", "verify a consent proof document offline (no daemon, no token)");
  c->proof->add_option("FILE", c->proof_file, "a consent proof (JSON)")->required();
  c->proof->add_option("--pubkey", c->proof_pubkey, "verifier key, or a file holding it")
      ->required();
  c->proof->add_flag("--json", c->json,
                     "print {\"ok\", \"lead_id\", \"events\", \"grants\", \"revocations\", "
                     "\"checkpoint\": {\"origin\", \"size\"}, \"export_sequence\", "
                     "\"exported_at\"}; on failure {\"ok\": false, \"error\"} (exit 1)");
  c->export_proof = consent->add_subcommand(
      "export-proof", "fetch a lead's consent proof document from the daemon (compliance)");
  c->export_proof->add_option("LEAD", c->export_lead_id, "lead id (32 hex)")->required();
  c->export_proof->add_option("-o,--output", c->export_output, "new file to write it to")
      ->required();
  c->export_proof->add_flag("--json", c->json, "print {\"lead_id\", \"file\"} once it is written");
  return c;
}

std::optional<int> RunConsentCommand(const ConsentCommands& c, const ConnectionFlags& flags) {
  if (c.proof->parsed()) return RunProof(c.proof_file, c.proof_pubkey, c.json);
  if (c.export_proof->parsed()) {
    return WithConnection(flags, [&](const Connection& connection) {
      return RunExportProof(connection, c.export_lead_id, c.export_output, c.json);
    });
  }
  return std::nullopt;
}

}  // namespace leadvault::tools
