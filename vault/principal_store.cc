#include "vault/principal_store.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "keys/blind_index.h"
#include "keys/error_reason.h"
#include "keys/status_macros.h"
#include "rocksdb/write_batch.h"
#include "sodium.h"
#include "vault/internal/keys.h"
#include "vault/internal/records.pb.h"
#include "vault/validation.h"

namespace leadvault::vault {
namespace {

constexpr size_t kPrincipalIdBytes = 8;  // 16 hex characters
constexpr size_t kSecretBytes = 32;      // 64 hex characters
constexpr size_t kMaxDisplayName = 100;
constexpr size_t kMaxServiceLines = 50;
constexpr size_t kCertSha256Hex = 64;
constexpr size_t kWebhookSaltBytes = 16;

absl::Status BadWebhookSignature() {
  return absl::UnauthenticatedError("invalid or expired webhook signature");
}

absl::Status Unauthenticated() { return absl::UnauthenticatedError("invalid or expired token"); }

bool IsLowerHex(absl::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

internal::PrincipalRecord ToRecord(const Principal& p, const std::string& token_hash,
                                   const std::string& previous_token_hash,
                                   const std::string& webhook_salt,
                                   const std::string& previous_webhook_salt) {
  internal::PrincipalRecord r;
  r.set_format_version(1);
  r.set_principal_id(p.id);
  r.set_display_name(p.display_name);
  for (const auto& role : p.roles) r.add_roles(role);
  for (const auto& line : p.service_lines) r.add_service_lines(line);
  r.set_created_at_unix_micros(absl::ToUnixMicros(p.created_at));
  r.set_expires_at_unix_micros(absl::ToUnixMicros(p.expires_at));
  r.set_enabled(p.enabled);
  r.set_token_hash(token_hash);
  r.set_client_cert_sha256(p.client_cert_sha256);
  if (!previous_token_hash.empty()) {
    r.set_previous_token_hash(previous_token_hash);
    r.set_previous_expires_at_unix_micros(absl::ToUnixMicros(p.previous_token_expires_at));
  }
  if (!webhook_salt.empty()) {
    r.set_webhook_salt(webhook_salt);
    r.set_webhook_expires_at_unix_micros(absl::ToUnixMicros(p.webhook_expires_at));
  }
  if (!previous_webhook_salt.empty()) {
    r.set_previous_webhook_salt(previous_webhook_salt);
    r.set_previous_webhook_expires_at_unix_micros(
        absl::ToUnixMicros(p.previous_webhook_expires_at));
  }
  return r;
}

Principal FromRecord(const internal::PrincipalRecord& r) {
  Principal p;
  p.id = r.principal_id();
  p.display_name = r.display_name();
  p.roles.assign(r.roles().begin(), r.roles().end());
  p.service_lines.assign(r.service_lines().begin(), r.service_lines().end());
  p.created_at = absl::FromUnixMicros(r.created_at_unix_micros());
  p.expires_at = absl::FromUnixMicros(r.expires_at_unix_micros());
  p.enabled = r.enabled();
  p.client_cert_sha256 = r.client_cert_sha256();
  if (!r.previous_token_hash().empty()) {
    p.previous_token_expires_at = absl::FromUnixMicros(r.previous_expires_at_unix_micros());
  }
  if (!r.webhook_salt().empty()) {
    p.webhook_expires_at = absl::FromUnixMicros(r.webhook_expires_at_unix_micros());
  }
  if (!r.previous_webhook_salt().empty()) {
    p.previous_webhook_expires_at =
        absl::FromUnixMicros(r.previous_webhook_expires_at_unix_micros());
  }
  return p;
}

absl::Status ValidateServiceLines(const std::vector<std::string>& lines) {
  if (lines.size() > kMaxServiceLines)
    return absl::InvalidArgumentError("service_lines: at most 50");
  for (const auto& line : lines) LV_RETURN_IF_ERROR(ValidateServiceLine("service_lines", line));
  return absl::OkStatus();
}

absl::Status ValidateGrace(absl::Duration grace) {
  if (grace < absl::ZeroDuration() || grace > kMaxRotationGrace) {
    return absl::InvalidArgumentError("grace_seconds: must be 0 to 7 days");
  }
  return absl::OkStatus();
}

absl::Status ValidateTtl(absl::Duration ttl) {
  if (ttl <= absl::ZeroDuration() || ttl > kMaxTokenTtl) {
    return absl::InvalidArgumentError("token_ttl_seconds: must be 1 second to 366 days");
  }
  return absl::OkStatus();
}

}  // namespace

bool IsKnownRole(absl::string_view role) {
  return role == "capture" || role == "analyst" || role == "intake" || role == "compliance" ||
         role == "admin" || role == "retention";
}

absl::StatusOr<std::unique_ptr<PrincipalStore>> PrincipalStore::Open(Database* db,
                                                                     Committer* committer,
                                                                     const KeyHierarchy* keys,
                                                                     const Clock* clock,
                                                                     keys::Random* random) {
  auto store =
      std::unique_ptr<PrincipalStore>(new PrincipalStore(db, committer, keys, clock, random));
  store->webhook_key_ = keys::DeriveSubkey(keys->token_key(), 1, "lvwhsec1");
  std::unique_ptr<rocksdb::Iterator> it(
      db->db()->NewIterator(rocksdb::ReadOptions(), db->cf(Cf::kMeta)));
  absl::MutexLock lock(&store->mu_);
  for (it->Seek(internal::kMetaPrincipalPrefix);
       it->Valid() && it->key().starts_with(internal::kMetaPrincipalPrefix); it->Next()) {
    internal::PrincipalRecord r;
    if (!r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) ||
        r.format_version() != 1) {
      return absl::DataLossError("principal record: malformed");
    }
    store->principals_[r.principal_id()] =
        Entry{FromRecord(r), r.token_hash(), r.previous_token_hash(), r.webhook_salt(),
              r.previous_webhook_salt()};
  }
  LV_RETURN_IF_ERROR(db->Check(it->status(), "scan principals"));
  return store;
}

bool PrincipalStore::empty() const {
  absl::MutexLock lock(&mu_);
  return principals_.empty();
}

absl::StatusOr<Principal> PrincipalStore::Authenticate(absl::string_view token) const {
  // lv_<16 hex>_<64 hex>
  constexpr size_t kLength = 3 + 2 * kPrincipalIdBytes + 1 + 2 * kSecretBytes;
  if (token.size() != kLength || token.substr(0, 3) != "lv_" ||
      token[3 + 2 * kPrincipalIdBytes] != '_') {
    return Unauthenticated();
  }
  absl::string_view id = token.substr(3, 2 * kPrincipalIdBytes);
  absl::string_view secret = token.substr(4 + 2 * kPrincipalIdBytes);
  if (!IsLowerHex(id) || !IsLowerHex(secret)) return Unauthenticated();
  std::string hash = keys::KeyedHash(keys_->token_key(), secret);
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = principals_.find(id);
  if (it == principals_.end()) return Unauthenticated();
  const Entry& e = it->second;
  // Both hashes are compared, whatever the first gives: constant time.
  const bool current = keys::ConstantTimeEquals(hash, e.token_hash);
  const bool previous =
      !e.previous_token_hash.empty() && keys::ConstantTimeEquals(hash, e.previous_token_hash);
  const bool live = (current && now < e.principal.expires_at) ||
                    (previous && now < e.principal.previous_token_expires_at);
  if (!live || !e.principal.enabled) return Unauthenticated();
  return e.principal;
}

keys::SecretBytes PrincipalStore::NewToken(const std::string& principal_id,
                                           std::string* hash) const {
  keys::SecretBytes raw(kSecretBytes);
  random_->Fill(raw.data(), raw.size());
  std::string secret_hex = absl::BytesToHexString(raw.view());
  *hash = keys::KeyedHash(keys_->token_key(), secret_hex);
  keys::SecretBytes token =
      keys::SecretBytes::CopyFrom(absl::StrCat("lv_", principal_id, "_", secret_hex));
  keys::WipeString(secret_hex);
  return token;
}

// While a change to a principal commits: the new entry, but with no more
// access than the old one had (disabled if either is, only the service lines
// both have). Its tokens are the new entry's: a new token is unknown to anyone
// until the change returns, and an old one survives only if the change keeps it.
PrincipalStore::Entry PrincipalStore::Narrowest(const Entry& old_entry, const Entry& new_entry) {
  Entry out = new_entry;
  out.principal.enabled = old_entry.principal.enabled && new_entry.principal.enabled;
  std::vector<std::string> lines;
  for (const std::string& line : new_entry.principal.service_lines) {
    const auto& was = old_entry.principal.service_lines;
    if (std::find(was.begin(), was.end(), line) != was.end()) lines.push_back(line);
  }
  out.principal.service_lines = std::move(lines);
  return out;
}

absl::Status PrincipalStore::Persist(const Actor& actor, const char* action, const Entry& entry,
                                     std::vector<std::string> fields) {
  rocksdb::WriteBatch batch;
  LV_RETURN_IF_ERROR(
      FromRocks(batch.Put(db_->cf(Cf::kMeta),
                          absl::StrCat(internal::kMetaPrincipalPrefix, entry.principal.id),
                          ToRecord(entry.principal, entry.token_hash, entry.previous_token_hash,
                                   entry.webhook_salt, entry.previous_webhook_salt)
                              .SerializeAsString()),
                "batch"));
  audit::AuditEntry audit_entry = EntryFor(actor, action);
  audit_entry.fields = std::move(fields);
  audit_entry.subject = entry.principal.id;
  // What the change takes away is gone before it is durable (no call that
  // authenticates after the change began gets it); what it adds comes only
  // after. A failed commit puts the principal back as it was. A call that
  // authenticated just before may still finish (see SECURITY.md).
  std::optional<Entry> before;
  {
    absl::MutexLock lock(&mu_);
    auto it = principals_.find(entry.principal.id);
    if (it != principals_.end()) {
      before = it->second;
      it->second = Narrowest(it->second, entry);
    }
  }
  absl::Status committed = committer_->Commit(std::move(batch), std::move(audit_entry)).status();
  absl::MutexLock lock(&mu_);
  if (!committed.ok()) {
    if (before.has_value()) principals_[entry.principal.id] = *std::move(before);
    return committed;
  }
  principals_[entry.principal.id] = entry;
  return absl::OkStatus();
}

absl::StatusOr<IssuedToken> PrincipalStore::Create(const Actor& actor, NewPrincipal request) {
  LV_ASSIGN_OR_RETURN(keys::SecretBytes name,
                      NormalizeText("display_name", request.display_name, kMaxDisplayName, false));
  if (name.empty()) return absl::InvalidArgumentError("display_name: required");
  if (request.roles.empty()) return absl::InvalidArgumentError("roles: at least one is required");
  std::sort(request.roles.begin(), request.roles.end());
  request.roles.erase(std::unique(request.roles.begin(), request.roles.end()), request.roles.end());
  for (const auto& role : request.roles) {
    if (!IsKnownRole(role)) return absl::InvalidArgumentError("roles: unknown role");
  }
  // Separation of duties: whoever manages principals reads no lead and audits no one.
  const bool admin =
      std::find(request.roles.begin(), request.roles.end(), "admin") != request.roles.end();
  if (admin && request.roles.size() > 1) {
    return absl::InvalidArgumentError("roles: admin cannot be combined with another role");
  }
  LV_RETURN_IF_ERROR(ValidateServiceLines(request.service_lines));
  LV_RETURN_IF_ERROR(ValidateTtl(request.token_ttl));
  if (!request.client_cert_sha256.empty() && (request.client_cert_sha256.size() != kCertSha256Hex ||
                                              !IsLowerHex(request.client_cert_sha256))) {
    return absl::InvalidArgumentError("client_cert_sha256: must be 64 hex characters");
  }

  const absl::Time now = clock_->Now();
  Entry entry;
  entry.principal.id = random_->Bytes(kPrincipalIdBytes);
  entry.principal.id = absl::BytesToHexString(entry.principal.id);
  entry.principal.display_name = std::string(name.view());
  entry.principal.roles = std::move(request.roles);
  entry.principal.service_lines = std::move(request.service_lines);
  entry.principal.created_at = now;
  entry.principal.expires_at = now + request.token_ttl;
  entry.principal.enabled = true;
  entry.principal.client_cert_sha256 = std::move(request.client_cert_sha256);
  keys::SecretBytes token = NewToken(entry.principal.id, &entry.token_hash);
  std::vector<std::string> fields = {"roles", "service_lines",
                                     absl::StrCat("display_name=", entry.principal.display_name)};
  if (!entry.principal.client_cert_sha256.empty()) fields.push_back("client_cert_sha256");
  LV_RETURN_IF_ERROR(Persist(actor, "CreatePrincipal", entry, std::move(fields)));
  return IssuedToken{entry.principal, std::move(token)};
}

absl::StatusOr<IssuedToken> PrincipalStore::CreateFirst(const Actor& actor, NewPrincipal request) {
  // Principal ids are hex, so this claim key cannot collide with one.
  KeyClaims::Claim claim = claims_.Acquire({"first-principal"});
  if (!empty()) return absl::AlreadyExistsError("principals already exist");
  return Create(actor, std::move(request));
}

absl::StatusOr<std::vector<Principal>> PrincipalStore::List(const Actor& actor) {
  std::vector<Principal> out;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, e] : principals_) out.push_back(e.principal);
  }
  std::sort(out.begin(), out.end(),
            [](const Principal& a, const Principal& b) { return a.created_at < b.created_at; });
  LV_RETURN_IF_ERROR(
      committer_->Commit(rocksdb::WriteBatch(), EntryFor(actor, "ListPrincipals")).status());
  return out;
}

absl::StatusOr<PrincipalStore::Page> PrincipalStore::ListPage(const Actor& actor, size_t page_size,
                                                              const std::string& page_token) {
  constexpr size_t kDefaultPage = 100, kMaxPage = 1000;
  if (page_size > kMaxPage) return absl::InvalidArgumentError("page_size: at most 1000");
  if (page_size == 0) page_size = kDefaultPage;
  // The token is the last principal's "<created_at micros>.<id>".
  int64_t after_micros = 0;
  std::string after_id;
  if (!page_token.empty()) {
    const size_t dot = page_token.find('.');
    if (dot == std::string::npos || !absl::SimpleAtoi(page_token.substr(0, dot), &after_micros) ||
        page_token.size() - dot - 1 != 2 * kPrincipalIdBytes ||
        !IsLowerHex(absl::string_view(page_token).substr(dot + 1))) {
      return absl::InvalidArgumentError("page_token: malformed");
    }
    after_id = page_token.substr(dot + 1);
  }
  auto key = [](const Principal& p) {
    return std::make_pair(absl::ToUnixMicros(p.created_at), p.id);
  };
  std::vector<Principal> all;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, e] : principals_) {
      if (page_token.empty() || key(e.principal) > std::make_pair(after_micros, after_id)) {
        all.push_back(e.principal);
      }
    }
  }
  std::sort(all.begin(), all.end(),
            [&key](const Principal& a, const Principal& b) { return key(a) < key(b); });
  Page page;
  if (all.size() > page_size) {
    all.resize(page_size);
    page.next_page_token =
        absl::StrCat(absl::ToUnixMicros(all.back().created_at), ".", all.back().id);
  }
  page.principals = std::move(all);
  LV_RETURN_IF_ERROR(
      committer_->Commit(rocksdb::WriteBatch(), EntryFor(actor, "ListPrincipals")).status());
  return page;
}

absl::StatusOr<PrincipalStore::Entry> PrincipalStore::Find(const std::string& principal_id) const {
  absl::MutexLock lock(&mu_);
  auto it = principals_.find(principal_id);
  if (it == principals_.end()) return absl::NotFoundError("principal not found");
  return it->second;
}

absl::StatusOr<Principal> PrincipalStore::Disable(const Actor& actor,
                                                  const std::string& principal_id) {
  KeyClaims::Claim claim = claims_.Acquire({principal_id});
  LV_ASSIGN_OR_RETURN(Entry entry, Find(principal_id));
  entry.principal.enabled = false;
  LV_RETURN_IF_ERROR(Persist(actor, "DisablePrincipal", entry, {"enabled"}));
  return entry.principal;
}

absl::StatusOr<IssuedToken> PrincipalStore::RotateToken(const Actor& actor,
                                                        const std::string& principal_id,
                                                        absl::Duration ttl, absl::Duration grace) {
  LV_RETURN_IF_ERROR(ValidateTtl(ttl));
  LV_RETURN_IF_ERROR(ValidateGrace(grace));
  KeyClaims::Claim claim = claims_.Acquire({principal_id});
  LV_ASSIGN_OR_RETURN(Entry entry, Find(principal_id));
  if (!entry.principal.enabled) {
    return WithReason(
        absl::FailedPreconditionError("principal: disabled principals cannot get a token"),
        "PRINCIPAL_DISABLED");
  }
  const absl::Time now = clock_->Now();
  if (grace > absl::ZeroDuration() && now < entry.principal.expires_at) {
    entry.previous_token_hash = entry.token_hash;
    entry.principal.previous_token_expires_at = std::min(now + grace, entry.principal.expires_at);
  } else {
    entry.previous_token_hash.clear();
    entry.principal.previous_token_expires_at = absl::InfinitePast();
  }
  entry.principal.expires_at = now + ttl;
  keys::SecretBytes token = NewToken(entry.principal.id, &entry.token_hash);
  LV_RETURN_IF_ERROR(Persist(actor, "RotateToken", entry,
                             grace > absl::ZeroDuration()
                                 ? std::vector<std::string>{"token", "grace"}
                                 : std::vector<std::string>{"token"}));
  return IssuedToken{entry.principal, std::move(token)};
}

absl::StatusOr<Principal> PrincipalStore::SetServiceLines(const Actor& actor,
                                                          const std::string& principal_id,
                                                          std::vector<std::string> service_lines) {
  LV_RETURN_IF_ERROR(ValidateServiceLines(service_lines));
  std::sort(service_lines.begin(), service_lines.end());
  service_lines.erase(std::unique(service_lines.begin(), service_lines.end()), service_lines.end());
  KeyClaims::Claim claim = claims_.Acquire({principal_id});
  LV_ASSIGN_OR_RETURN(Entry entry, Find(principal_id));
  entry.principal.service_lines = std::move(service_lines);
  LV_RETURN_IF_ERROR(
      Persist(actor, "SetServiceLines", entry,
              {"service_lines",
               absl::StrCat("service_lines=", absl::StrJoin(entry.principal.service_lines, ","))}));
  return entry.principal;
}

absl::StatusOr<bool> PrincipalStore::ReapplyDisable(const Actor& actor,
                                                    const std::string& principal_id,
                                                    uint64_t sequence) {
  KeyClaims::Claim claim = claims_.Acquire({principal_id});
  LV_ASSIGN_OR_RETURN(Entry entry, Find(principal_id));
  if (!entry.principal.enabled) return false;
  entry.principal.enabled = false;
  LV_RETURN_IF_ERROR(Persist(actor, "ReapplyDisablePrincipal", entry,
                             {"enabled", absl::StrCat("reapplied_sequence=", sequence)}));
  return true;
}

absl::StatusOr<bool> PrincipalStore::ReapplyTokenEnd(const Actor& actor,
                                                     const std::string& principal_id,
                                                     uint64_t sequence) {
  KeyClaims::Claim claim = claims_.Acquire({principal_id});
  LV_ASSIGN_OR_RETURN(Entry entry, Find(principal_id));
  if (entry.token_hash.empty() && entry.previous_token_hash.empty()) return false;
  // An empty hash matches no token (keys::ConstantTimeEquals).
  entry.token_hash.clear();
  entry.previous_token_hash.clear();
  entry.principal.previous_token_expires_at = absl::InfinitePast();
  entry.principal.expires_at = std::min(entry.principal.expires_at, clock_->Now());
  LV_RETURN_IF_ERROR(Persist(actor, "ReapplyRotateToken", entry,
                             {"token", absl::StrCat("reapplied_sequence=", sequence)}));
  return true;
}

absl::StatusOr<bool> PrincipalStore::ReapplyServiceLines(
    const Actor& actor, const std::string& principal_id,
    const std::vector<std::string>& service_lines, uint64_t sequence) {
  KeyClaims::Claim claim = claims_.Acquire({principal_id});
  LV_ASSIGN_OR_RETURN(Entry entry, Find(principal_id));
  std::vector<std::string> kept;
  for (const std::string& line : entry.principal.service_lines) {
    if (std::find(service_lines.begin(), service_lines.end(), line) != service_lines.end()) {
      kept.push_back(line);
    }
  }
  if (kept.size() == entry.principal.service_lines.size()) return false;
  entry.principal.service_lines = std::move(kept);
  LV_RETURN_IF_ERROR(Persist(actor, "ReapplySetServiceLines", entry,
                             {"service_lines", absl::StrCat("reapplied_sequence=", sequence)}));
  return true;
}

void PrincipalStore::EndWebhookSecrets(Entry& entry) {
  entry.webhook_salt.clear();
  entry.previous_webhook_salt.clear();
  entry.principal.webhook_expires_at = absl::InfinitePast();
  entry.principal.previous_webhook_expires_at = absl::InfinitePast();
}

keys::SecretBytes PrincipalStore::WebhookSecret(absl::string_view principal_id,
                                                absl::string_view salt) const {
  keys::SecretBytes raw(kSecretBytes);
  crypto_generichash_state state;
  crypto_generichash_init(&state, webhook_key_.data(), webhook_key_.size(), raw.size());
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(principal_id.data()),
                            principal_id.size());
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(salt.data()), salt.size());
  crypto_generichash_final(&state, raw.data(), raw.size());
  sodium_memzero(&state, sizeof(state));
  char hex[2 * kSecretBytes + 1];
  sodium_bin2hex(hex, sizeof(hex), raw.data(), raw.size());
  // "lvwh_" + id + "_" + 64 hex
  constexpr absl::string_view kPrefix = "lvwh_";
  keys::SecretBytes secret(kPrefix.size() + principal_id.size() + 1 + 2 * kSecretBytes);
  char* out = reinterpret_cast<char*>(secret.data());
  std::memcpy(out, kPrefix.data(), kPrefix.size());
  out += kPrefix.size();
  std::memcpy(out, principal_id.data(), principal_id.size());
  out += principal_id.size();
  *out++ = '_';
  std::memcpy(out, hex, 2 * kSecretBytes);
  sodium_memzero(hex, sizeof(hex));
  return secret;
}

absl::StatusOr<Principal> PrincipalStore::AuthenticateWebhook(absl::string_view principal_id,
                                                              absl::string_view payload,
                                                              absl::string_view signature) const {
  if (principal_id.size() != 2 * kPrincipalIdBytes || !IsLowerHex(principal_id) ||
      signature.size() != crypto_auth_hmacsha256_BYTES) {
    return BadWebhookSignature();
  }
  const absl::Time now = clock_->Now();
  Entry e;
  {
    absl::MutexLock lock(&mu_);
    auto it = principals_.find(principal_id);
    if (it == principals_.end()) return BadWebhookSignature();
    e = it->second;
  }
  auto verify = [&](const std::string& salt) {
    // An empty salt verifies nothing, but costs the same.
    keys::SecretBytes secret = WebhookSecret(principal_id, salt);
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, secret.data(), secret.size());
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const uint8_t*>(payload.data()),
                                  payload.size());
    crypto_auth_hmacsha256_final(&state, mac);
    sodium_memzero(&state, sizeof(state));
    const bool equal = keys::ConstantTimeEquals(
        absl::string_view(reinterpret_cast<const char*>(mac), sizeof(mac)), signature);
    return equal && !salt.empty();
  };
  const bool current = verify(e.webhook_salt);
  const bool previous = verify(e.previous_webhook_salt);
  const bool live = (current && now < e.principal.webhook_expires_at) ||
                    (previous && now < e.principal.previous_webhook_expires_at);
  if (!live || !e.principal.enabled) return BadWebhookSignature();
  return e.principal;
}

absl::StatusOr<IssuedWebhookSecret> PrincipalStore::IssueWebhookSecret(
    const Actor& actor, const std::string& principal_id, absl::Duration ttl, absl::Duration grace) {
  LV_RETURN_IF_ERROR(ValidateTtl(ttl));
  LV_RETURN_IF_ERROR(ValidateGrace(grace));
  KeyClaims::Claim claim = claims_.Acquire({principal_id});
  LV_ASSIGN_OR_RETURN(Entry entry, Find(principal_id));
  if (!entry.principal.enabled) {
    return WithReason(
        absl::FailedPreconditionError("principal: disabled principals cannot get a secret"),
        "PRINCIPAL_DISABLED");
  }
  // A webhook secret is a capture credential only: it cannot carry a read.
  if (entry.principal.roles != std::vector<std::string>{"capture"}) {
    return WithReason(absl::FailedPreconditionError(
                          "roles: only a principal with the capture role alone may sign webhooks"),
                      "WEBHOOK_CAPTURE_ONLY");
  }
  // The HTTP listener does not ask for client certificates.
  if (!entry.principal.client_cert_sha256.empty()) {
    return WithReason(absl::FailedPreconditionError(
                          "client_cert_sha256: a principal bound to a client certificate "
                          "calls over gRPC only"),
                      "WEBHOOK_CERT_BOUND");
  }
  const absl::Time now = clock_->Now();
  if (grace > absl::ZeroDuration() && !entry.webhook_salt.empty() &&
      now < entry.principal.webhook_expires_at) {
    entry.previous_webhook_salt = entry.webhook_salt;
    entry.principal.previous_webhook_expires_at =
        std::min(now + grace, entry.principal.webhook_expires_at);
  } else {
    entry.previous_webhook_salt.clear();
    entry.principal.previous_webhook_expires_at = absl::InfinitePast();
  }
  entry.webhook_salt = random_->Bytes(kWebhookSaltBytes);
  entry.principal.webhook_expires_at = now + ttl;
  LV_RETURN_IF_ERROR(Persist(actor, "IssueWebhookSecret", entry,
                             grace > absl::ZeroDuration()
                                 ? std::vector<std::string>{"webhook_secret", "grace"}
                                 : std::vector<std::string>{"webhook_secret"}));
  return IssuedWebhookSecret{entry.principal,
                             WebhookSecret(entry.principal.id, entry.webhook_salt)};
}

absl::StatusOr<Principal> PrincipalStore::RevokeWebhookSecret(const Actor& actor,
                                                              const std::string& principal_id) {
  KeyClaims::Claim claim = claims_.Acquire({principal_id});
  LV_ASSIGN_OR_RETURN(Entry entry, Find(principal_id));
  EndWebhookSecrets(entry);
  LV_RETURN_IF_ERROR(Persist(actor, "RevokeWebhookSecret", entry, {"webhook_secret"}));
  return entry.principal;
}

absl::StatusOr<bool> PrincipalStore::ReapplyWebhookEnd(const Actor& actor,
                                                       const std::string& principal_id,
                                                       uint64_t sequence) {
  KeyClaims::Claim claim = claims_.Acquire({principal_id});
  LV_ASSIGN_OR_RETURN(Entry entry, Find(principal_id));
  if (entry.webhook_salt.empty() && entry.previous_webhook_salt.empty()) return false;
  EndWebhookSecrets(entry);
  LV_RETURN_IF_ERROR(Persist(actor, "ReapplyWebhookSecretEnd", entry,
                             {"webhook_secret", absl::StrCat("reapplied_sequence=", sequence)}));
  return true;
}

bool PrincipalStore::HasUsableAdmin() const {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  for (const auto& [id, e] : principals_) {
    const auto& roles = e.principal.roles;
    if (e.principal.enabled && !e.token_hash.empty() && now < e.principal.expires_at &&
        std::find(roles.begin(), roles.end(), "admin") != roles.end()) {
      return true;
    }
  }
  return false;
}

std::string PrincipalStore::DisplayName(const std::string& principal_id) const {
  absl::MutexLock lock(&mu_);
  auto it = principals_.find(principal_id);
  return it == principals_.end() ? std::string() : it->second.principal.display_name;
}

}  // namespace leadvault::vault
