// Deletion receipts (audit/deletion_receipt.h), as `leadvaultctl receipt
// verify` reads them from anyone's hands: parsing is strict and bounded, a
// parsed receipt renders to one that parses to the same receipt, and
// verification (against FuzzLog's key) fails or succeeds cleanly.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/deletion_receipt.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_log.h"
#include "keys/random.h"

namespace {

struct Fixture {
  Fixture() {
    FUZZ_CHECK(leadvault::keys::InitCrypto());
    absl::StatusOr<leadvault::audit::NoteVerifier> parsed =
        leadvault::audit::NoteVerifier::Parse(log.VerifierKey());
    FUZZ_CHECK(parsed.ok());
    verifier.emplace(std::move(*parsed));
  }
  leadvault::fuzz::FuzzLog log;
  std::optional<leadvault::audit::NoteVerifier> verifier;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* const fixture = new Fixture;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<leadvault::audit::DeletionReceipt> receipt =
      leadvault::audit::ParseDeletionReceipt(input);
  if (!receipt.ok()) return 0;
  const std::string rendered = leadvault::audit::RenderDeletionReceipt(*receipt);
  absl::StatusOr<leadvault::audit::DeletionReceipt> again =
      leadvault::audit::ParseDeletionReceipt(rendered);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *receipt);
  FUZZ_CHECK(leadvault::audit::RenderDeletionReceipt(*again) == rendered);
  (void)leadvault::audit::VerifyDeletionReceipt(*receipt, *fixture->verifier);
  return 0;
}
