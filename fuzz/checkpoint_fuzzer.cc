// Signed notes and checkpoints (audit/checkpoint.h), as a verifier reads them
// from an export or from the daemon: checkpoint bodies, verifier keys and
// signed notes, all from the same bytes. The verifier is FuzzLog's key, so a
// note can only open if it is one FuzzLog signed (the seed corpus has some).
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "audit/checkpoint.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_log.h"
#include "keys/random.h"

namespace {

using leadvault::audit::Checkpoint;
using leadvault::fuzz::FuzzLog;
using leadvault::fuzz::kLogSize;

bool SameCheckpoint(const Checkpoint& a, const Checkpoint& b) {
  return a.origin == b.origin && a.size == b.size && a.root == b.root;
}

struct Fixture {
  Fixture() {
    FUZZ_CHECK(leadvault::keys::InitCrypto());
    absl::StatusOr<leadvault::audit::NoteVerifier> parsed =
        leadvault::audit::NoteVerifier::Parse(log.VerifierKey());
    FUZZ_CHECK(parsed.ok());
    verifier.emplace(std::move(*parsed));
  }
  FuzzLog log;
  std::optional<leadvault::audit::NoteVerifier> verifier;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* const fixture = new Fixture;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);

  // A parsed body formats to a body that parses to the same checkpoint.
  absl::StatusOr<Checkpoint> body = leadvault::audit::ParseCheckpoint(input);
  if (body.ok()) {
    FUZZ_CHECK(!absl::StrContains(body->origin, "\n"));
    const std::string formatted = leadvault::audit::FormatCheckpoint(*body);
    absl::StatusOr<Checkpoint> again = leadvault::audit::ParseCheckpoint(formatted);
    FUZZ_CHECK(again.ok() && SameCheckpoint(*again, *body));
    FUZZ_CHECK(absl::StartsWith(input, formatted));  // extension lines follow, if any
  } else {
    FUZZ_CHECK(absl::IsInvalidArgument(body.status()));
  }

  // A parsed verifier key has a usable name and a key id that matches it.
  absl::StatusOr<leadvault::audit::NoteVerifier> key = leadvault::audit::NoteVerifier::Parse(input);
  if (key.ok()) {
    FUZZ_CHECK(!key->name().empty());
    for (char c : key->name()) FUZZ_CHECK(c != '+' && c != ' ' && c != '\n');
  } else {
    FUZZ_CHECK(absl::IsInvalidArgument(key.status()));
  }

  // Without the private key, nothing opens but a note FuzzLog signed.
  absl::StatusOr<std::string> text = fixture->verifier->Open(input);
  if (text.ok()) {
    FUZZ_CHECK(absl::StartsWith(input, *text));
    bool signed_by_log = false;
    for (uint64_t n = 0; n <= kLogSize; ++n) {
      signed_by_log = signed_by_log ||
                      *text == leadvault::audit::FormatCheckpoint(fixture->log.CheckpointAt(n));
    }
    FUZZ_CHECK(signed_by_log);
  } else {
    FUZZ_CHECK(absl::IsInvalidArgument(text.status()) || absl::IsPermissionDenied(text.status()));
  }
  absl::StatusOr<Checkpoint> opened = leadvault::audit::OpenCheckpoint(input, *fixture->verifier);
  if (opened.ok()) {
    FUZZ_CHECK(text.ok());
    FUZZ_CHECK(opened->size <= kLogSize);
    FUZZ_CHECK(SameCheckpoint(*opened, fixture->log.CheckpointAt(opened->size)));
  }
  return 0;
}
