#include "tools/bench_audit.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/audit_entry.h"
#include "audit/checkpoint.h"
#include "audit/export_format.h"
#include "audit/merkle.h"
#include "audit/verifier.h"
#include "benchmark/benchmark.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "keys/signing.h"

namespace leadvault::tools {
namespace {

constexpr uint64_t kExportEntries = 1'000'000;
constexpr char kOrigin[] = "bench.leadvault.local";
constexpr char kDefaultFilter[] = "--benchmark_filter=^BM_(VerifyExport|RenderJsonl)";

// What a GetLead by an intake principal records.
audit::AuditEntry GetLeadEntry(uint64_t seq) {
  audit::AuditEntry e;
  e.sequence = seq;
  e.time = absl::FromUnixMicros(1'796'130'000'000'000 + static_cast<int64_t>(seq) * 73);
  e.principal_id = PseudoRandomHex(seq % 50);
  e.role = "intake";
  e.action = "GetLead";
  e.outcome = audit::Outcome::kAllowed;
  e.code = 0;
  e.lead_ids = {PseudoRandomHex(seq * 7919 + 1)};
  e.fields = {"first_name",    "last_name",          "email", "phone",
              "date_of_birth", "street_address",     "city",  "state",
              "postal_code",   "reason_for_inquiry", "notes"};
  e.purpose = "treatment";
  e.request_id = PseudoRandomHex(seq * 104729 + 3, 16);
  e.peer = "ipv4:127.0.0.1:54321";
  return e;
}

// The export BM_VerifyExport verifies, written on first use and removed on
// destruction.
class ExportFile {
 public:
  ExportFile() = default;
  ExportFile(const ExportFile&) = delete;
  ExportFile& operator=(const ExportFile&) = delete;
  ~ExportFile() {
    if (!path_.empty()) std::remove(path_.c_str());
  }

  absl::Status Prepare() {
    if (!path_.empty()) return absl::OkStatus();
    auto key = keys::SigningKey::FromSeed(keys::SigningKey::GenerateSeed(keys::SystemRandom()));
    if (!key.ok()) return key.status();
    key_ = *std::move(key);
    auto signer = audit::NoteSigner::Create(kOrigin, key_.get());
    if (!signer.ok()) return signer.status();
    auto verifier = audit::NoteVerifier::Parse(signer->VerifierKey());
    if (!verifier.ok()) return verifier.status();
    verifier_.emplace(*std::move(verifier));

    const char* dir = std::getenv("TMPDIR");
    std::string path = absl::StrCat(dir != nullptr && *dir != '\0' ? dir : "/tmp",
                                    "/leadvault-bench-audit-XXXXXX");
    const int fd = ::mkstemp(path.data());
    if (fd < 0) return absl::UnavailableError("cannot create a temporary file");
    path_ = path;
    std::FILE* out = ::fdopen(fd, "wb");
    if (out == nullptr) {
      ::close(fd);
      return absl::UnavailableError("fdopen failed");
    }
    std::string buffer;
    audit::ExportHeader header;
    header.origin = kOrigin;
    header.first_sequence = 1;
    header.last_sequence = kExportEntries;
    audit::AppendJsonlHeader(header, buffer);
    audit::MerkleFrontier tree;
    bool ok = true;
    for (uint64_t seq = 1; seq <= kExportEntries; ++seq) {
      const audit::AuditEntry entry = GetLeadEntry(seq);
      const std::string canonical = audit::EncodeCanonical(entry);
      tree.Append(audit::LeafHash(canonical));
      audit::AppendJsonlEntry(entry, canonical, nullptr, buffer);
      if (buffer.size() >= (size_t{1} << 22)) {
        ok = ok && std::fwrite(buffer.data(), 1, buffer.size(), out) == buffer.size();
        bytes_ += buffer.size();
        buffer.clear();
      }
    }
    audit::ExportTrailer trailer;
    trailer.checkpoint_note =
        signer->Sign(audit::FormatCheckpoint({kOrigin, tree.size(), tree.Root()}));
    audit::AppendJsonlTrailer(trailer, buffer);
    ok = ok && std::fwrite(buffer.data(), 1, buffer.size(), out) == buffer.size();
    bytes_ += buffer.size();
    ok = std::fclose(out) == 0 && ok;
    if (!ok) return absl::UnavailableError("cannot write the export");
    return absl::OkStatus();
  }

  const std::string& path() const { return path_; }
  const audit::NoteVerifier& verifier() const { return *verifier_; }
  uint64_t bytes() const { return bytes_; }

 private:
  std::unique_ptr<keys::SigningKey> key_;
  std::optional<audit::NoteVerifier> verifier_;
  std::string path_;
  uint64_t bytes_ = 0;
};

void BM_VerifyExport(benchmark::State& state, ExportFile* file) {
  if (absl::Status prepared = file->Prepare(); !prepared.ok()) {
    state.SkipWithError(std::string(prepared.message()).c_str());
    return;
  }
  audit::VerifyOptions options;
  options.verifier = &file->verifier();
  for (auto _ : state) {
    absl::StatusOr<audit::VerifyReport> report = audit::VerifyExportFile(file->path(), options);
    if (!report.ok() || report->entries != kExportEntries) {
      state.SkipWithError("verification failed");
      return;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kExportEntries));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * file->bytes()));
}

void BM_RenderJsonl(benchmark::State& state) {
  const audit::AuditEntry entry = GetLeadEntry(123'456);
  const std::string canonical = audit::EncodeCanonical(entry);
  std::string line;
  for (auto _ : state) {
    line.clear();
    audit::AppendJsonlEntry(entry, canonical, nullptr, line);
    benchmark::DoNotOptimize(line.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * line.size()));
}

}  // namespace

int RunAuditBench(int argc, char** argv) {
  if (!keys::InitCrypto()) {
    std::fprintf(stderr, "leadvault-bench: libsodium failed to initialize\n");
    return 1;
  }
  // The crypto benchmarks are registered statically; run only these unless
  // the caller filters (a later flag wins).
  std::vector<char*> args(argv, argv + argc);
  std::string filter = kDefaultFilter;
  args.insert(args.begin() + 1, filter.data());
  int args_count = static_cast<int>(args.size());
  args.push_back(nullptr);

  ExportFile file;
  benchmark::RegisterBenchmark("BM_VerifyExport", BM_VerifyExport, &file)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_RenderJsonl", BM_RenderJsonl);
  benchmark::Initialize(&args_count, args.data());
  if (benchmark::ReportUnrecognizedArguments(args_count, args.data())) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

std::string PseudoRandomHex(uint64_t seed, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n, '0');
  uint64_t x = seed;
  for (char& c : out) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    c = kHex[x >> 60];
  }
  return out;
}

}  // namespace leadvault::tools
