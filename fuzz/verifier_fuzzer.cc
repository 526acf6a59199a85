// The offline export verifier (audit/verifier.h) on a whole file's bytes,
// with FuzzLog's public key. Without the private key no file can verify
// except one carrying a checkpoint FuzzLog signed (the seed exports), and
// then only for that log's real tree.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "audit/checkpoint.h"
#include "audit/verifier.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_log.h"
#include "keys/random.h"

namespace {

using leadvault::fuzz::FuzzLog;
using leadvault::fuzz::kLogOrigin;
using leadvault::fuzz::kLogSize;

struct Fixture {
  Fixture() {
    FUZZ_CHECK(leadvault::keys::InitCrypto());
    absl::StatusOr<leadvault::audit::NoteVerifier> parsed =
        leadvault::audit::NoteVerifier::Parse(log.VerifierKey());
    FUZZ_CHECK(parsed.ok());
    verifier.emplace(std::move(*parsed));
    const char* tmp = std::getenv("TMPDIR");
    path = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/leadvault_verifier_fuzz_",
                        getpid(), ".jsonl");
  }
  FuzzLog log;
  std::optional<leadvault::audit::NoteVerifier> verifier;
  std::string path;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* const fixture = new Fixture;
  {
    std::FILE* file = std::fopen(fixture->path.c_str(), "wb");
    FUZZ_CHECK(file != nullptr);
    FUZZ_CHECK(std::fwrite(data, 1, size, file) == size);
    FUZZ_CHECK(std::fclose(file) == 0);
  }
  leadvault::audit::VerifyOptions options;
  options.verifier = &*fixture->verifier;
  absl::StatusOr<leadvault::audit::VerifyReport> report =
      leadvault::audit::VerifyExportFile(fixture->path, options);
  std::remove(fixture->path.c_str());
  if (!report.ok()) {
    // PERMISSION_DENIED: a checkpoint with no valid signature by the key.
    FUZZ_CHECK(absl::IsInvalidArgument(report.status()) ||
               absl::IsPermissionDenied(report.status()));
    return 0;
  }
  // Accepted: the checkpoint is one FuzzLog signed, and the entries lie in it.
  const leadvault::audit::Checkpoint& checkpoint = report->checkpoint;
  FUZZ_CHECK(checkpoint.origin == kLogOrigin);
  FUZZ_CHECK(checkpoint.size <= kLogSize);
  const leadvault::audit::Checkpoint real = fixture->log.CheckpointAt(checkpoint.size);
  FUZZ_CHECK(checkpoint.root == real.root);
  FUZZ_CHECK(report->first_sequence >= 1);
  FUZZ_CHECK(report->last_sequence <= checkpoint.size);
  FUZZ_CHECK(report->last_sequence + 1 >= report->first_sequence);
  FUZZ_CHECK(report->entries <= report->last_sequence + 1 - report->first_sequence);
  if (!report->filtered) {
    FUZZ_CHECK(report->entries == report->last_sequence + 1 - report->first_sequence);
    FUZZ_CHECK(!report->manifest.has_value());
  } else {
    // Filtered: only with a manifest FuzzLog signed, whose count the file holds.
    FUZZ_CHECK(report->manifest.has_value());
    FUZZ_CHECK(report->manifest->matches == report->entries);
    FUZZ_CHECK(report->manifest->tree_size == checkpoint.size);
  }
  return 0;
}
