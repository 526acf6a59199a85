#include "vault/key_hierarchy.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "keys/aead.h"
#include "keys/master_key.h"
#include "keys/status_macros.h"
#include "rocksdb/write_batch.h"
#include "vault/internal/keys.h"

namespace leadvault::vault {
namespace {

constexpr absl::string_view kIndexRootPurpose = "index-root";
constexpr absl::string_view kTokenKeyPurpose = "token-key";
constexpr absl::string_view kAuditSigningPurpose = "audit-signing-key";

// Adds a new audit signing key (wrapped) and log origin to `batch`.
absl::Status NewAuditSigning(Database* db, const keys::SecretBytes& kek, uint32_t kek_version,
                             keys::Random* random, rocksdb::WriteBatch& batch,
                             keys::SecretBytes* seed, std::string* origin) {
  *seed = keys::SigningKey::GenerateSeed(*random);
  *origin = absl::StrCat("leadvault/", absl::BytesToHexString(random->Bytes(8)));
  auto* meta = db->cf(Cf::kMeta);
  LV_RETURN_IF_ERROR(
      FromRocks(batch.Put(meta, internal::kMetaAuditSigningKey,
                          keys::WrapKey(kek, kek_version, kAuditSigningPurpose, *seed, *random)),
                "init meta"));
  return FromRocks(batch.Put(meta, internal::kMetaLogOrigin, *origin), "init meta");
}

// Loads the audit signing key and log origin; a vault made before audit
// signing existed gets them in a commit of their own.
absl::Status LoadAuditSigning(Database* db, Committer* committer, const keys::SecretBytes& kek,
                              uint32_t kek_version, keys::Random* random,
                              std::unique_ptr<keys::SigningKey>* key, std::string* origin) {
  auto wrapped = db->Get(Cf::kMeta, internal::kMetaAuditSigningKey);
  keys::SecretBytes seed;
  if (absl::IsNotFound(wrapped.status())) {
    rocksdb::WriteBatch batch;
    LV_RETURN_IF_ERROR(NewAuditSigning(db, kek, kek_version, random, batch, &seed, origin));
    audit::AuditEntry entry;
    entry.principal_id = "system";
    entry.role = "system";
    entry.action = "InitializeAuditSigning";
    entry.fields = {"audit_signing_key", "log_origin"};
    LV_RETURN_IF_ERROR(committer->Commit(std::move(batch), std::move(entry)).status());
  } else {
    LV_RETURN_IF_ERROR(wrapped.status());
    LV_ASSIGN_OR_RETURN(seed, keys::UnwrapKey(kek, kek_version, kAuditSigningPurpose, *wrapped,
                                              /*guarded=*/true));
    LV_ASSIGN_OR_RETURN(*origin, db->Get(Cf::kMeta, internal::kMetaLogOrigin));
  }
  LV_ASSIGN_OR_RETURN(*key, keys::SigningKey::FromSeed(seed));
  return absl::OkStatus();
}

}  // namespace

absl::Status WrongMasterKeyError() {
  return absl::FailedPreconditionError(
      "master key does not match this data dir (key-check value differs); nothing was changed");
}

absl::StatusOr<std::unique_ptr<KeyHierarchy>> KeyHierarchy::Load(Database* db, Committer* committer,
                                                                 keys::SecretBytes kek,
                                                                 keys::Random* random) {
  if (kek.size() != keys::kKeySize) {
    return absl::InvalidArgumentError("master key: must be 32 bytes");
  }
  auto h = std::unique_ptr<KeyHierarchy>(new KeyHierarchy());
  auto check = db->Get(Cf::kMeta, internal::kMetaKeyCheck);
  keys::SecretBytes index_root;
  if (absl::IsNotFound(check.status())) {
    // A new vault: generate and store the wrapped keys in one durable write.
    index_root = keys::SecretBytes::Guarded(keys::kKeySize);
    random->Fill(index_root.data(), index_root.size());
    h->token_key_ = keys::SecretBytes::Guarded(keys::kKeySize);
    random->Fill(h->token_key_.data(), h->token_key_.size());
    rocksdb::WriteBatch batch;
    auto* meta = db->cf(Cf::kMeta);
    LV_RETURN_IF_ERROR(FromRocks(batch.Put(meta, internal::kMetaSchemaVersion, "1"), "init meta"));
    LV_RETURN_IF_ERROR(FromRocks(batch.Put(meta, internal::kMetaKekCurrent, "1"), "init meta"));
    LV_RETURN_IF_ERROR(
        FromRocks(batch.Put(meta, internal::kMetaIndexRootKey,
                            keys::WrapKey(kek, 1, kIndexRootPurpose, index_root, *random)),
                  "init meta"));
    LV_RETURN_IF_ERROR(
        FromRocks(batch.Put(meta, internal::kMetaTokenKey,
                            keys::WrapKey(kek, 1, kTokenKeyPurpose, h->token_key_, *random)),
                  "init meta"));
    keys::SecretBytes signing_seed;
    LV_RETURN_IF_ERROR(NewAuditSigning(db, kek, 1, random, batch, &signing_seed, &h->log_origin_));
    LV_ASSIGN_OR_RETURN(h->audit_signing_key_, keys::SigningKey::FromSeed(signing_seed));
    // The key-check value goes last in the batch; the batch is atomic anyway.
    LV_RETURN_IF_ERROR(FromRocks(
        batch.Put(meta, internal::kMetaKeyCheck, keys::ComputeKeyCheck(kek)), "init meta"));
    audit::AuditEntry entry;
    entry.principal_id = "system";
    entry.role = "system";
    entry.action = "InitializeVault";
    entry.fields = {"kek_check", "index_root_key", "token_key", "audit_signing_key", "log_origin"};
    LV_RETURN_IF_ERROR(committer->Commit(std::move(batch), std::move(entry)).status());
  } else {
    LV_RETURN_IF_ERROR(check.status());
    if (!keys::VerifyKeyCheck(kek, *check)) return WrongMasterKeyError();
    LV_ASSIGN_OR_RETURN(std::string version, db->Get(Cf::kMeta, internal::kMetaKekCurrent));
    if (!absl::SimpleAtoi(version, &h->kek_version_)) {
      return absl::DataLossError("meta: malformed KEK version");
    }
    LV_ASSIGN_OR_RETURN(std::string wrapped_root, db->Get(Cf::kMeta, internal::kMetaIndexRootKey));
    LV_ASSIGN_OR_RETURN(index_root, keys::UnwrapKey(kek, h->kek_version_, kIndexRootPurpose,
                                                    wrapped_root, /*guarded=*/true));
    LV_ASSIGN_OR_RETURN(std::string wrapped_token, db->Get(Cf::kMeta, internal::kMetaTokenKey));
    LV_ASSIGN_OR_RETURN(h->token_key_, keys::UnwrapKey(kek, h->kek_version_, kTokenKeyPurpose,
                                                       wrapped_token, /*guarded=*/true));
  }
  if (h->audit_signing_key_ == nullptr) {
    LV_RETURN_IF_ERROR(LoadAuditSigning(db, committer, kek, h->kek_version_, random,
                                        &h->audit_signing_key_, &h->log_origin_));
  }
  LV_ASSIGN_OR_RETURN(h->blind_index_, keys::BlindIndexer::Create(index_root));
  h->idempotency_key_ = keys::DeriveSubkey(index_root, 1, "lvidem01");
  h->record_mac_key_ = keys::DeriveSubkey(index_root, 1, "lvrmac01");
  h->kek_ = std::move(kek);
  return h;
}

}  // namespace leadvault::vault
