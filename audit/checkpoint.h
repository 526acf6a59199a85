// Signed checkpoints of the audit log: a C2SP tlog-checkpoint body inside a
// C2SP signed-note, signed with Ed25519.
#ifndef LEADVAULT_AUDIT_CHECKPOINT_H_
#define LEADVAULT_AUDIT_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/merkle.h"
#include "keys/signing.h"

namespace leadvault::audit {

// A decimal as signed notes spell sizes: ASCII digits, no sign, no leading
// zero unless it is "0", at most 2^64-1. False (and `out` untouched) otherwise.
bool ParseCanonicalUint64(absl::string_view s, uint64_t* out);

// The state of the log at one moment: origin, tree size and root hash.
struct Checkpoint {
  std::string origin;  // the log's name: one line, no control characters
  uint64_t size = 0;
  Hash root{};
};

// "<origin>\n<size>\n<base64 root>\n" (C2SP tlog-checkpoint, no extension lines).
std::string FormatCheckpoint(const Checkpoint& checkpoint);
// Parses a checkpoint body (extension lines after the root are allowed and
// ignored). INVALID_ARGUMENT naming the line that is malformed.
absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view body);

// The signed-note key id of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || public key)[:4],
// big-endian.
uint32_t NoteKeyId(absl::string_view name, absl::string_view public_key);

// Signs notes with one Ed25519 key under a key name. Thread-safe.
class NoteSigner {
 public:
  // `name` must be non-empty, without whitespace or '+' (INVALID_ARGUMENT
  // otherwise). `key` must outlive the signer.
  static absl::StatusOr<NoteSigner> Create(std::string name, const keys::SigningKey* key);

  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }

  // The signed note: `text` (which must end in '\n'), a blank line, then
  // "\u2014 <name> <base64(key id || signature)>\n".
  std::string Sign(absl::string_view text) const;

  // The verifier key, "<name>+<8 hex key id>+<base64(0x01 || public key)>",
  // as golang.org/x/mod/sumdb/note prints it.
  std::string VerifierKey() const;

 private:
  NoteSigner(std::string name, const keys::SigningKey* key, uint32_t key_id)
      : name_(std::move(name)), key_(key), key_id_(key_id) {}
  std::string name_;
  const keys::SigningKey* key_;
  uint32_t key_id_;
};

// Verifies notes signed by one Ed25519 key.
class NoteVerifier {
 public:
  // Parses a verifier key as NoteSigner::VerifierKey() prints it; checks that
  // the key id matches the name and key. INVALID_ARGUMENT otherwise.
  static absl::StatusOr<NoteVerifier> Parse(absl::string_view verifier_key);

  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }

  // The note's text if the note is well formed and carries a valid signature
  // by this key (other signatures are ignored). INVALID_ARGUMENT if malformed,
  // PERMISSION_DENIED if no valid signature by this key is present.
  absl::StatusOr<std::string> Open(absl::string_view note) const;

 private:
  NoteVerifier() = default;
  std::string name_;
  uint32_t key_id_ = 0;
  std::string public_key_;
};

// Opens a signed checkpoint: Open() then ParseCheckpoint(); also requires the
// checkpoint's origin to equal the key name.
absl::StatusOr<Checkpoint> OpenCheckpoint(absl::string_view note, const NoteVerifier& verifier);

}  // namespace leadvault::audit

#endif  // LEADVAULT_AUDIT_CHECKPOINT_H_
