// Consent proof documents (audit/consent_proof.h), as `leadvaultctl consent
// proof` reads them from a lawyer's hands: parsing is strict and bounded, a
// parsed document renders to one that parses to the same proof, and
// verification (against FuzzLog's key, which signed none of them) fails
// cleanly.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/consent_proof.h"
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
  absl::StatusOr<leadvault::audit::ConsentProof> proof = leadvault::audit::ParseConsentProof(input);
  if (!proof.ok()) return 0;
  const std::string rendered = leadvault::audit::RenderConsentProof(*proof);
  absl::StatusOr<leadvault::audit::ConsentProof> again =
      leadvault::audit::ParseConsentProof(rendered);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *proof);
  FUZZ_CHECK(leadvault::audit::RenderConsentProof(*again) == rendered);
  (void)leadvault::audit::VerifyConsentProof(*proof, *fixture->verifier);
  return 0;
}
