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
#include "audit/checkpoint.h"
#include "audit/consent_proof.h"
#include "keys/status_macros.h"

namespace leadvault::tools {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr size_t kMaxKeyFile = 64 << 10;

// The verifier key, given inline ("name+hex+base64") or as a file holding
// it, read as `audit verify --pubkey` reads it.
absl::StatusOr<audit::NoteVerifier> LoadVerifier(const std::string& pubkey) {
  std::string text = pubkey;
  if (!absl::StrContains(pubkey, '+') || ::access(pubkey.c_str(), R_OK) == 0) {
    std::ifstream in(pubkey, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", pubkey));
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (text.size() > kMaxKeyFile) return absl::InvalidArgumentError(pubkey + ": too large");
  }
  return audit::NoteVerifier::Parse(absl::StripAsciiWhitespace(text));
}

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

int RunProof(const std::string& file, const std::string& pubkey) {
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
    return kExitFailed;
  }
  std::printf(
      "OK: lead %s: %zu consent %s (%zu %s, %zu %s), each recorded in the audit log and "
      "included in checkpoint %s size %llu\n",
      proof->lead_id.c_str(), report->events, Plural(report->events, "event", "events"),
      report->grants, Plural(report->grants, "grant", "grants"), report->revocations,
      Plural(report->revocations, "revocation", "revocations"), report->checkpoint.origin.c_str(),
      static_cast<unsigned long long>(report->checkpoint.size));
  if (report->events == 0) {
    std::printf(
        "Proven: only the signed checkpoint; the document holds no consent event, and that the "
        "lead has none is the exporter's word.\n");
    return kExitOk;
  }
  std::printf(
      "Proven: events 1 to %zu are exactly as the log recorded them, in order, none missing "
      "between them, under the signed Merkle root. Not proven: that the lead has no later event "
      "than these; the document's generated_at and generated_by are the exporter's word.\n",
      report->events);
  return kExitOk;
}

}  // namespace

std::unique_ptr<ConsentCommands> AddConsentCommands(CLI::App& app) {
  auto c = std::make_unique<ConsentCommands>();
  CLI::App* consent = app.add_subcommand("consent", "the consent ledger (proof works offline)");
  consent->require_subcommand(1);
  c->proof = consent->add_subcommand(
      "proof", "verify a consent proof document offline (no daemon, no token)");
  c->proof->add_option("FILE", c->proof_file, "a consent proof (JSON)")->required();
  c->proof->add_option("--pubkey", c->proof_pubkey, "verifier key, or a file holding it")
      ->required();
  return c;
}

std::optional<int> RunConsentCommand(const ConsentCommands& c, const ConnectionFlags& /*flags*/) {
  if (c.proof->parsed()) return RunProof(c.proof_file, c.proof_pubkey);
  return std::nullopt;
}

}  // namespace leadvault::tools
