// LeadKeys: the one owner of leads' data keys (DEKs) at rest. Each lead's
// fields are encrypted with a DEK of its own (keys::EncryptField); the DEK is
// stored only wrapped under the master key (KEK), in the lead's `dek` row:
// a WrappedKeyRecord naming the KEK version it is wrapped under, the DEK
// version, and XChaCha20-Poly1305 of the DEK bound to the lead id
// ("dek:" || hex id). Nothing else reads the KEK to wrap or unwrap a DEK.
//
// Rotation: a new master-key version wraps new DEKs at once; Rewrap() moves
// an existing one to it (vault/key_rewrap.h) without touching a field.
//
// Shredding: a purge deletes the `dek` row (LeadRows::AddPurge lists it
// among the rows a lead owns), after which no ciphertext of the lead can be
// decrypted by anyone holding the master key.
//
// Immutable and thread-safe.
#ifndef LEADVAULT_VAULT_LEAD_KEYS_H_
#define LEADVAULT_VAULT_LEAD_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "vault/database.h"
#include "vault/key_hierarchy.h"

namespace leadvault::vault {

// The version of the DEK scheme (field encryption) new leads get.
inline constexpr uint32_t kDekVersion = 1;

class LeadKeys {
 public:
  // All must outlive the object.
  LeadKeys(Database* db, const KeyHierarchy* keys, keys::Random* random)
      : db_(db), keys_(keys), random_(random) {}

  // The `dek` row value of lead `lead_id` holding `dek`, wrapped under the
  // master-key version `pin` holds (KeyHierarchy::PinCurrent(), to be held
  // until the row is durable or dropped). REQUIRES: `pin` not empty.
  std::string Wrap(const std::string& lead_id, const keys::SecretBytes& dek,
                   const KeyHierarchy::Pinned& pin) const;

  // The `dek` row `row` of lead `lead_id` moved to the version `pin` holds;
  // nullopt if it is under that version already. DATA_LOSS as Unwrap.
  absl::StatusOr<std::optional<std::string>> Rewrap(const std::string& lead_id,
                                                    const std::string& row,
                                                    const KeyHierarchy::Pinned& pin) const;

  // The master-key version a `dek` row names (DATA_LOSS if malformed).
  static absl::StatusOr<uint32_t> VersionOf(absl::string_view row);

  // The DEK of lead `lead_id` from its `dek` row as read (DATA_LOSS if the row
  // is missing, malformed or fails authentication; a read error as it is). A
  // row read under a version retired since (the re-wrap moved it meanwhile)
  // is read again once.
  absl::StatusOr<keys::SecretBytes> Unwrap(const std::string& lead_id,
                                           const absl::StatusOr<std::string>& row) const;

 private:
  Database* const db_;
  const KeyHierarchy* const keys_;
  keys::Random* const random_;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_LEAD_KEYS_H_
