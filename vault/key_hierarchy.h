// The vault's key hierarchy: the master key (KEK) and the keys it wraps.
#ifndef LEADVAULT_VAULT_KEY_HIERARCHY_H_
#define LEADVAULT_VAULT_KEY_HIERARCHY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "keys/blind_index.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "keys/signing.h"
#include "vault/committer.h"
#include "vault/database.h"

namespace leadvault::vault {

// Holds the KEK and the keys wrapped under it in `meta`: the blind-index root
// key, the token-hash key, the idempotency-hash key derived from the index
// root, and the audit log's Ed25519 signing key with the log's origin name.
// On a new database, Load() generates and stores them (with the KEK's key-check
// value) in one commit, audited as "InitializeVault"; on an existing one it
// checks the KEK against the stored key-check value first and fails with
// FAILED_PRECONDITION on a mismatch, writing nothing. A vault created before
// audit signing existed gets its signing key in a commit of its own
// ("InitializeAuditSigning"). Immutable and thread-safe after Load(), but for
// TakeAuditSigningKey().
class KeyHierarchy {
 public:
  static absl::StatusOr<std::unique_ptr<KeyHierarchy>> Load(Database* db, Committer* committer,
                                                            keys::SecretBytes kek,
                                                            keys::Random* random);

  uint32_t kek_version() const { return kek_version_; }
  const keys::BlindIndexer& blind_index() const { return *blind_index_; }
  const keys::SecretBytes& token_key() const { return token_key_; }
  const keys::SecretBytes& idempotency_key() const { return idempotency_key_; }
  // Authenticates the access-relevant metadata of lead records (derived from
  // the index root: crypto_kdf id 1, context "lvrmac01").
  const keys::SecretBytes& record_mac_key() const { return record_mac_key_; }
  // The audit log's origin, "leadvault/<16 hex>": its signed-note key name too.
  const std::string& log_origin() const { return log_origin_; }
  // Hands the audit signing key to its one user (the AuditLog); nullptr after.
  std::unique_ptr<keys::SigningKey> TakeAuditSigningKey() { return std::move(audit_signing_key_); }

 private:
  // Data keys are wrapped and unwrapped by their one owner, nothing else.
  friend class LeadKeys;
  const keys::SecretBytes& kek() const { return kek_; }

  KeyHierarchy() = default;
  keys::SecretBytes kek_;
  uint32_t kek_version_ = 1;
  std::unique_ptr<keys::BlindIndexer> blind_index_;
  keys::SecretBytes token_key_;
  keys::SecretBytes idempotency_key_;
  keys::SecretBytes record_mac_key_;
  std::unique_ptr<keys::SigningKey> audit_signing_key_;
  std::string log_origin_;
};

// The error for a master key that does not match the data dir.
absl::Status WrongMasterKeyError();

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_KEY_HIERARCHY_H_
