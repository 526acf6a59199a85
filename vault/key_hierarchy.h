// The vault's key hierarchy: the master key (KEK) and the keys it wraps.
#ifndef LEADVAULT_VAULT_KEY_HIERARCHY_H_
#define LEADVAULT_VAULT_KEY_HIERARCHY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "keys/blind_index.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "keys/signing.h"
#include "vault/actor.h"
#include "vault/committer.h"
#include "vault/database.h"

namespace leadvault::vault {

// Holds the master keys (KEKs) and the keys wrapped under the current one in
// `meta`: the blind-index root key, the token-hash key, the idempotency-hash
// key derived from the index root, and the audit log's Ed25519 signing key
// with the log's origin name.
//
// The key ring. Master keys have versions 1, 2, ...; `meta` holds each
// version's key-check value ("kek/check/V" while in use, "kek/retired/V" once
// retired) and the current one ("kek/current"). A key source may hold several
// keys in any order: each is matched to its version by its key-check value.
// Every version in use must be in the source (a key wrapped under it could
// not be read otherwise); a key matching no version is ignored until a
// rotation adds it. Data keys are wrapped under the current version (LeadKeys)
// and unwrapped under the version they name.
//
// On a new database (no "kek/current" and no other "kek/" or wrapped-key row:
// those without it are DATA_LOSS), Load() needs exactly one key, and
// generates and stores the wrapped keys (with its key-check value, version 1)
// in one commit, audited as "InitializeVault"; on an existing one it matches
// the keys first and fails with FAILED_PRECONDITION, writing nothing, if the
// current version or another in use is missing. A vault created before audit
// signing existed gets its signing key in a commit of its own
// ("InitializeAuditSigning").
//
// Thread-safe. Rotate() and Retire() are serialized with each other.
class KeyHierarchy {
 public:
  static absl::StatusOr<std::unique_ptr<KeyHierarchy>> Load(Database* db, Committer* committer,
                                                            std::vector<keys::SecretBytes> keks,
                                                            keys::Random* random);

  // What Load() checks before anything is written: that `keks` open a vault
  // whose "kek/" rows are `kek_rows` (none: a new vault).
  static absl::Status CheckKeys(const std::vector<std::pair<std::string, std::string>>& kek_rows,
                                const std::vector<keys::SecretBytes>& keks);

  // The current master-key version.
  uint32_t kek_version() const;
  // The versions in use (ascending): the current one and those not retired.
  std::vector<uint32_t> kek_versions() const;

  // A hold on the current version, for a key being wrapped under it: held
  // until the write carrying the wrapped key is durable or dropped, so a
  // rotation can wait for every wrap under the old version
  // (AwaitUnpinnedBefore). Move-only; empty when default constructed or moved
  // from.
  class Pinned {
   public:
    Pinned() = default;
    Pinned(Pinned&& other) noexcept { *this = std::move(other); }
    Pinned& operator=(Pinned&& other) noexcept;
    Pinned(const Pinned&) = delete;
    Pinned& operator=(const Pinned&) = delete;
    ~Pinned() { Release(); }
    // REQUIRES: not empty.
    uint32_t version() const { return version_; }

   private:
    friend class KeyHierarchy;
    friend class LeadKeys;
    void Release();
    const KeyHierarchy* owner_ = nullptr;
    uint32_t version_ = 0;
    std::shared_ptr<const keys::SecretBytes> kek_;
  };
  Pinned PinCurrent() const;
  // Blocks until no Pinned of a version below `version` is held.
  void AwaitUnpinnedBefore(uint32_t version) const;

  // Adds the one key in `source` that matches no version (in use or retired)
  // as the next version and makes it current: its key-check value, the new
  // current version and the index root, token and audit-signing keys
  // re-wrapped under it go in one commit with one audit entry
  // "RotateMasterKey" by `actor` (fields "kek_version=V",
  // "previous_version=P"); new wraps use it once that is durable.
  // FAILED_PRECONDITION, writing nothing, if the source holds no new key, or
  // more than one, or lacks a version in use (the daemon could not start
  // again).
  struct Rotation {
    uint32_t previous = 0;
    uint32_t version = 0;  // the new current one
  };
  absl::StatusOr<Rotation> Rotate(const Actor& actor, std::vector<keys::SecretBytes> source);

  // Retires `version`, which must be in use and not current: once every wrap
  // under older versions is durable, `wrapped_under(version)` must count
  // none; then the `dek` and `meta` families are compacted (no table file
  // keeps a row wrapped under it), and "kek/retired/V" (its key-check value)
  // and a "kek/check/V" that no key verifies go in one commit with one audit
  // entry "RetireMasterKey" by `actor` ("kek_version=V"); the key leaves the
  // ring, and the daemon starts without it. NOT_FOUND for a
  // version not in use, FAILED_PRECONDITION for the current one or one that
  // still wraps keys (naming the count); nothing is written then.
  absl::Status Retire(const Actor& actor, uint32_t version,
                      const std::function<absl::StatusOr<uint64_t>(uint32_t)>& wrapped_under);

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
  // The master keys in use by version; replaced whole (never changed) under mu_.
  struct Ring {
    uint32_t current = 0;
    std::map<uint32_t, std::shared_ptr<const keys::SecretBytes>> keks;
  };
  // Data keys are wrapped and unwrapped by their one owner, nothing else.
  friend class LeadKeys;
  std::shared_ptr<const Ring> ring() const;

  KeyHierarchy(Database* db, Committer* committer, keys::Random* random)
      : db_(db), committer_(committer), random_(random) {}

  Database* const db_;
  Committer* const committer_;
  keys::Random* const random_;
  absl::Mutex admin_mu_;  // serializes Rotate and Retire
  mutable absl::Mutex mu_;
  std::shared_ptr<const Ring> ring_ ABSL_GUARDED_BY(mu_);
  mutable std::map<uint32_t, uint64_t> pins_ ABSL_GUARDED_BY(mu_);  // version -> held
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
