#include "vault/key_hierarchy.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

// The master-key rows of a vault, parsed.
struct KekState {
  bool initialized = false;  // "kek/current" is present
  uint32_t current = 0;
  std::map<uint32_t, std::string> in_use;   // version -> key-check value
  std::map<uint32_t, std::string> retired;  // version -> key-check value
  uint32_t next() const {
    uint32_t last = current;
    if (!in_use.empty()) last = std::max(last, in_use.rbegin()->first);
    if (!retired.empty()) last = std::max(last, retired.rbegin()->first);
    return last + 1;
  }
};

// At most this many "kek/" rows (a rotation adds one, and the re-wrap cursor).
constexpr size_t kMaxKekRows = 100000;

// What a retired version's "kek/check/V" row holds: a value no key verifies,
// so a binary from before the key ring (which knew only "kek/check/1", and
// took a vault without it for a new one) refuses the data dir instead of
// initializing it afresh over its keys.
constexpr char kRetiredCheck[] = "retired";

absl::StatusOr<uint32_t> ParseVersion(absl::string_view text) {
  uint32_t v = 0;
  if (!absl::SimpleAtoi(text, &v) || v == 0 || absl::StrCat(v) != text) {
    return absl::DataLossError("meta: malformed master-key version");
  }
  return v;
}

absl::StatusOr<KekState> ParseKekState(
    const std::vector<std::pair<std::string, std::string>>& rows) {
  KekState state;
  for (const auto& [key, value] : rows) {
    const absl::string_view k = key;
    if (k == internal::kMetaKekCurrent) {
      LV_ASSIGN_OR_RETURN(state.current, ParseVersion(value));
      state.initialized = true;
    } else if (absl::StartsWith(k, internal::kMetaKekCheckPrefix)) {
      LV_ASSIGN_OR_RETURN(uint32_t v,
                          ParseVersion(k.substr(strlen(internal::kMetaKekCheckPrefix))));
      state.in_use[v] = value;
    } else if (absl::StartsWith(k, internal::kMetaKekRetiredPrefix)) {
      LV_ASSIGN_OR_RETURN(uint32_t v,
                          ParseVersion(k.substr(strlen(internal::kMetaKekRetiredPrefix))));
      state.retired[v] = value;
    }
  }
  // A retired version keeps a placeholder check row (kRetiredCheck).
  for (const auto& [version, check] : state.retired) state.in_use.erase(version);
  if (!state.initialized && (!state.in_use.empty() || !state.retired.empty())) {
    return absl::DataLossError(
        "meta: master-key rows without a current version (refusing to initialize over them)");
  }
  if (state.initialized && !state.in_use.contains(state.current)) {
    return absl::DataLossError("meta: the current master-key version has no key-check value");
  }
  return state;
}

absl::StatusOr<KekState> ReadKekState(Database* db) {
  std::vector<std::pair<std::string, std::string>> rows;
  std::unique_ptr<rocksdb::Iterator> it(
      db->db()->NewIterator(rocksdb::ReadOptions(), db->cf(Cf::kMeta)));
  const rocksdb::Slice prefix(internal::kMetaKekPrefix);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (rows.size() == kMaxKekRows) return absl::DataLossError("meta: too many master-key rows");
    rows.emplace_back(it->key().ToString(), it->value().ToString());
  }
  LV_RETURN_IF_ERROR(db->Check(it->status(), "read master-key rows"));
  return ParseKekState(rows);
}

std::string CheckKey(uint32_t version) {
  return absl::StrCat(internal::kMetaKekCheckPrefix, version);
}

// The index of the key in `keks` whose key-check value is `check`, if any.
std::optional<size_t> FindKey(const std::vector<keys::SecretBytes>& keks, absl::string_view check) {
  for (size_t i = 0; i < keks.size(); ++i) {
    if (keys::VerifyKeyCheck(keks[i], check)) return i;
  }
  return std::nullopt;
}

// Matches `keks` to the versions in use: version -> index in `keks`. A
// source matching none is the wrong key (at start) or names what it lacks.
absl::StatusOr<std::map<uint32_t, size_t>> MatchKeys(const KekState& state,
                                                     const std::vector<keys::SecretBytes>& keks,
                                                     bool at_start = true) {
  for (const keys::SecretBytes& kek : keks) {
    if (kek.size() != keys::kKeySize) {
      return absl::InvalidArgumentError("master key: must be 32 bytes");
    }
  }
  std::map<uint32_t, size_t> found;
  std::vector<uint32_t> missing;
  for (const auto& [version, check] : state.in_use) {
    std::optional<size_t> i = FindKey(keks, check);
    if (i.has_value()) {
      found[version] = *i;
    } else {
      missing.push_back(version);
    }
  }
  if (found.empty() && at_start) return WrongMasterKeyError();
  if (!missing.empty()) {
    const bool current = std::find(missing.begin(), missing.end(), state.current) != missing.end();
    return absl::FailedPreconditionError(absl::StrCat(
        "master key: version", missing.size() > 1 ? "s " : " ", absl::StrJoin(missing, ", "),
        current && missing.size() == 1 ? " (the current one)" : "",
        current && missing.size() > 1 ? absl::StrCat(" (", state.current, " the current one)") : "",
        missing.size() > 1 ? " are" : " is",
        " in use but not in the key source; nothing was changed (a version leaves the source "
        "only after `leadvaultctl keys retire`)"));
  }
  return found;
}

}  // namespace

absl::Status WrongMasterKeyError() {
  return absl::FailedPreconditionError(
      "master key does not match this data dir (key-check value differs); nothing was changed");
}

absl::Status KeyHierarchy::CheckKeys(
    const std::vector<std::pair<std::string, std::string>>& kek_rows,
    const std::vector<keys::SecretBytes>& keks) {
  LV_ASSIGN_OR_RETURN(KekState state, ParseKekState(kek_rows));
  if (!state.initialized) {
    if (keks.size() != 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "master key: a new data dir takes one master key; the key source holds ", keks.size()));
    }
    return absl::OkStatus();
  }
  return MatchKeys(state, keks).status();
}

absl::StatusOr<std::unique_ptr<KeyHierarchy>> KeyHierarchy::Load(
    Database* db, Committer* committer, std::vector<keys::SecretBytes> keks, keys::Random* random) {
  auto h = std::unique_ptr<KeyHierarchy>(new KeyHierarchy(db, committer, random));
  LV_ASSIGN_OR_RETURN(KekState state, ReadKekState(db));
  auto ring = std::make_shared<Ring>();
  keys::SecretBytes index_root;
  if (!state.initialized) {
    if (keks.size() != 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "master key: a new data dir takes one master key; the key source holds ", keks.size()));
    }
    if (keks[0].size() != keys::kKeySize) {
      return absl::InvalidArgumentError("master key: must be 32 bytes");
    }
    const keys::SecretBytes& kek = keks[0];
    // Wrapped keys without master-key rows are a damaged vault, not a new one.
    for (const char* row :
         {internal::kMetaIndexRootKey, internal::kMetaTokenKey, internal::kMetaAuditSigningKey}) {
      auto found = db->Get(Cf::kMeta, row);
      if (found.ok()) {
        return absl::DataLossError(
            "meta: wrapped keys without master-key rows (refusing to initialize over them)");
      }
      if (!absl::IsNotFound(found.status())) return found.status();
    }
    // A new vault: generate and store the wrapped keys in one durable write.
    index_root = keys::SecretBytes::Guarded(keys::kKeySize);
    random->Fill(index_root.data(), index_root.size());
    h->token_key_ = keys::SecretBytes::Guarded(keys::kKeySize);
    random->Fill(h->token_key_.data(), h->token_key_.size());
    rocksdb::WriteBatch batch;
    auto* meta = db->cf(Cf::kMeta);
    LV_RETURN_IF_ERROR(
        FromRocks(batch.Put(meta, internal::kMetaSchemaVersion, absl::StrCat(kOnDiskFormatVersion)),
                  "init meta"));
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
    LV_RETURN_IF_ERROR(
        FromRocks(batch.Put(meta, CheckKey(1), keys::ComputeKeyCheck(kek)), "init meta"));
    audit::AuditEntry entry;
    entry.principal_id = "system";
    entry.role = "system";
    entry.action = "InitializeVault";
    entry.fields = {"kek_check", "index_root_key", "token_key", "audit_signing_key", "log_origin"};
    LV_RETURN_IF_ERROR(committer->Commit(std::move(batch), std::move(entry)).status());
    ring->current = 1;
    ring->keks[1] = std::make_shared<const keys::SecretBytes>(std::move(keks[0]));
  } else {
    LV_ASSIGN_OR_RETURN(auto found, MatchKeys(state, keks));
    ring->current = state.current;
    for (const auto& [version, i] : found) {
      ring->keks[version] = std::make_shared<const keys::SecretBytes>(std::move(keks[i]));
    }
    const keys::SecretBytes& kek = *ring->keks.at(state.current);
    LV_ASSIGN_OR_RETURN(std::string wrapped_root, db->Get(Cf::kMeta, internal::kMetaIndexRootKey));
    LV_ASSIGN_OR_RETURN(index_root, keys::UnwrapKey(kek, state.current, kIndexRootPurpose,
                                                    wrapped_root, /*guarded=*/true));
    LV_ASSIGN_OR_RETURN(std::string wrapped_token, db->Get(Cf::kMeta, internal::kMetaTokenKey));
    LV_ASSIGN_OR_RETURN(h->token_key_, keys::UnwrapKey(kek, state.current, kTokenKeyPurpose,
                                                       wrapped_token, /*guarded=*/true));
  }
  if (h->audit_signing_key_ == nullptr) {
    LV_RETURN_IF_ERROR(LoadAuditSigning(db, committer, *ring->keks.at(ring->current), ring->current,
                                        random, &h->audit_signing_key_, &h->log_origin_));
  }
  LV_ASSIGN_OR_RETURN(h->blind_index_, keys::BlindIndexer::Create(index_root));
  h->idempotency_key_ = keys::DeriveSubkey(index_root, 1, "lvidem01");
  h->record_mac_key_ = keys::DeriveSubkey(index_root, 1, "lvrmac01");
  {
    absl::MutexLock lock(&h->mu_);
    h->ring_ = std::move(ring);
  }
  return h;
}

std::shared_ptr<const KeyHierarchy::Ring> KeyHierarchy::ring() const {
  absl::MutexLock lock(&mu_);
  return ring_;
}

uint32_t KeyHierarchy::kek_version() const { return ring()->current; }

std::vector<uint32_t> KeyHierarchy::kek_versions() const {
  std::vector<uint32_t> versions;
  for (const auto& [version, kek] : ring()->keks) versions.push_back(version);
  return versions;
}

KeyHierarchy::Pinned& KeyHierarchy::Pinned::operator=(Pinned&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = std::exchange(other.owner_, nullptr);
    version_ = other.version_;
    kek_ = std::move(other.kek_);
  }
  return *this;
}

void KeyHierarchy::Pinned::Release() {
  if (owner_ == nullptr) return;
  absl::MutexLock lock(&owner_->mu_);
  if (--owner_->pins_[version_] == 0) owner_->pins_.erase(version_);
  owner_ = nullptr;
  kek_.reset();
}

KeyHierarchy::Pinned KeyHierarchy::PinCurrent() const {
  Pinned pin;
  absl::MutexLock lock(&mu_);
  pin.owner_ = this;
  pin.version_ = ring_->current;
  pin.kek_ = ring_->keks.at(ring_->current);
  ++pins_[pin.version_];
  return pin;
}

void KeyHierarchy::AwaitUnpinnedBefore(uint32_t version) const {
  absl::MutexLock lock(&mu_);
  auto unpinned = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return pins_.empty() || pins_.begin()->first >= version;
  };
  mu_.Await(absl::Condition(&unpinned));
}

absl::StatusOr<KeyHierarchy::Rotation> KeyHierarchy::Rotate(const Actor& actor,
                                                            std::vector<keys::SecretBytes> source) {
  absl::MutexLock admin(&admin_mu_);
  LV_ASSIGN_OR_RETURN(KekState state, ReadKekState(db_));
  std::shared_ptr<const Ring> ring = this->ring();
  // Every version in use must stay in the source, or the next start fails.
  LV_RETURN_IF_ERROR(MatchKeys(state, source, /*at_start=*/false).status());
  std::vector<size_t> fresh;
  for (size_t i = 0; i < source.size(); ++i) {
    bool known = false;
    for (const auto* checks : {&state.in_use, &state.retired}) {
      for (const auto& [version, check] : *checks) {
        if (keys::VerifyKeyCheck(source[i], check)) known = true;
      }
    }
    if (!known) fresh.push_back(i);
  }
  if (fresh.size() != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key source: holds ", fresh.size(),
        " new master keys; a rotation adds exactly one (see SECURITY.md, \"Rotating the master "
        "key\"); nothing was changed"));
  }
  keys::SecretBytes& added = source[fresh[0]];
  const uint32_t previous = ring->current;
  const uint32_t version = state.next();
  const keys::SecretBytes& old_kek = *ring->keks.at(previous);
  rocksdb::WriteBatch batch;
  auto* meta = db_->cf(Cf::kMeta);
  for (const auto& [key, purpose] :
       {std::pair<const char*, absl::string_view>{internal::kMetaIndexRootKey, kIndexRootPurpose},
        {internal::kMetaTokenKey, kTokenKeyPurpose},
        {internal::kMetaAuditSigningKey, kAuditSigningPurpose}}) {
    LV_ASSIGN_OR_RETURN(std::string wrapped, db_->Get(Cf::kMeta, key));
    LV_ASSIGN_OR_RETURN(keys::SecretBytes plain,
                        keys::UnwrapKey(old_kek, previous, purpose, wrapped, /*guarded=*/true));
    LV_RETURN_IF_ERROR(
        FromRocks(batch.Put(meta, key, keys::WrapKey(added, version, purpose, plain, *random_)),
                  "rotate master key"));
  }
  LV_RETURN_IF_ERROR(FromRocks(batch.Put(meta, CheckKey(version), keys::ComputeKeyCheck(added)),
                               "rotate master key"));
  LV_RETURN_IF_ERROR(FromRocks(batch.Put(meta, internal::kMetaKekCurrent, absl::StrCat(version)),
                               "rotate master key"));
  audit::AuditEntry entry = EntryFor(actor, "RotateMasterKey");
  entry.fields = {absl::StrCat("kek_version=", version),
                  absl::StrCat("previous_version=", previous)};
  LV_RETURN_IF_ERROR(committer_->Commit(std::move(batch), std::move(entry)).status());
  auto next = std::make_shared<Ring>(*ring);
  next->current = version;
  next->keks[version] = std::make_shared<const keys::SecretBytes>(std::move(added));
  absl::MutexLock lock(&mu_);
  ring_ = std::move(next);
  return Rotation{previous, version};
}

absl::Status KeyHierarchy::Retire(
    const Actor& actor, uint32_t version,
    const std::function<absl::StatusOr<uint64_t>(uint32_t)>& wrapped_under) {
  absl::MutexLock admin(&admin_mu_);
  LV_ASSIGN_OR_RETURN(KekState state, ReadKekState(db_));
  if (!state.in_use.contains(version)) {
    return absl::NotFoundError(absl::StrCat("kek_version: version ", version, " is not in use"));
  }
  if (version == state.current) {
    return absl::FailedPreconditionError(absl::StrCat(
        "kek_version: version ", version, " is the current one; rotate to a new one first"));
  }
  // A key wrapped under it before the rotation may still be on its way to disk.
  AwaitUnpinnedBefore(state.current);
  LV_ASSIGN_OR_RETURN(uint64_t wrapped, wrapped_under(version));
  if (wrapped != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("kek_version: ", wrapped, " data keys are still wrapped under version ",
                     version, " (the re-wrap moves them; see `leadvaultctl keys status`)"));
  }
  // No table file may keep a key wrapped under it: the re-wrap and the
  // rotation replaced every such row, and this rewrites the files that still
  // hold the old values (an operator retires a key to destroy it, often
  // because it leaked).
  LV_RETURN_IF_ERROR(db_->CompactAway({Cf::kDek, Cf::kMeta}).status());
  rocksdb::WriteBatch batch;
  auto* meta = db_->cf(Cf::kMeta);
  LV_RETURN_IF_ERROR(
      FromRocks(batch.Put(meta, CheckKey(version), kRetiredCheck), "retire master key"));
  LV_RETURN_IF_ERROR(
      FromRocks(batch.Put(meta, absl::StrCat(internal::kMetaKekRetiredPrefix, version),
                          state.in_use.at(version)),
                "retire master key"));
  audit::AuditEntry entry = EntryFor(actor, "RetireMasterKey");
  entry.fields = {absl::StrCat("kek_version=", version)};
  LV_RETURN_IF_ERROR(committer_->Commit(std::move(batch), std::move(entry)).status());
  auto next = std::make_shared<Ring>(*this->ring());
  next->keks.erase(version);
  absl::MutexLock lock(&mu_);
  ring_ = std::move(next);
  return absl::OkStatus();
}

}  // namespace leadvault::vault
