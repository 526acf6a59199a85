#include "vault/emergency_access.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "keys/status_macros.h"
#include "rocksdb/write_batch.h"
#include "vault/internal/keys.h"
#include "vault/internal/records.pb.h"
#include "vault/lead.h"
#include "vault/validation.h"

namespace leadvault::vault {
namespace {

constexpr char kPrefix[] = "breakglass/";
constexpr size_t kMinReason = 10;
constexpr size_t kMaxReason = 1000;

internal::EmergencyGrantRecord ToRecord(const EmergencyGrant& g) {
  internal::EmergencyGrantRecord r;
  r.set_format_version(1);
  r.set_grant_id(g.id);
  r.set_principal_id(g.principal_id);
  r.set_role(g.role);
  r.set_reason(g.reason);
  for (const std::string& id : g.lead_ids) r.add_lead_ids(id);
  r.set_opened_at_unix_micros(absl::ToUnixMicros(g.opened_at));
  r.set_expires_at_unix_micros(absl::ToUnixMicros(g.expires_at));
  if (g.closed_at != absl::InfinitePast()) {
    r.set_closed_at_unix_micros(absl::ToUnixMicros(g.closed_at));
  }
  r.set_closed_by(g.closed_by);
  return r;
}

EmergencyGrant FromRecord(const internal::EmergencyGrantRecord& r) {
  EmergencyGrant g;
  g.id = r.grant_id();
  g.principal_id = r.principal_id();
  g.role = r.role();
  g.reason = r.reason();
  g.lead_ids.assign(r.lead_ids().begin(), r.lead_ids().end());
  g.opened_at = absl::FromUnixMicros(r.opened_at_unix_micros());
  g.expires_at = absl::FromUnixMicros(r.expires_at_unix_micros());
  if (r.closed_at_unix_micros() != 0) g.closed_at = absl::FromUnixMicros(r.closed_at_unix_micros());
  g.closed_by = r.closed_by();
  return g;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EmergencyAccessStore>> EmergencyAccessStore::Open(
    Database* db, Committer* committer, const Clock* clock, keys::Random* random) {
  auto store =
      std::unique_ptr<EmergencyAccessStore>(new EmergencyAccessStore(db, committer, clock, random));
  std::unique_ptr<rocksdb::Iterator> it(
      db->db()->NewIterator(rocksdb::ReadOptions(), db->cf(Cf::kMeta)));
  absl::MutexLock lock(&store->mu_);
  for (it->Seek(kPrefix); it->Valid() && it->key().starts_with(kPrefix); it->Next()) {
    internal::EmergencyGrantRecord r;
    if (!r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) ||
        r.format_version() != 1) {
      return absl::DataLossError("emergency grant record: malformed");
    }
    store->grants_[r.grant_id()] = FromRecord(r);
  }
  LV_RETURN_IF_ERROR(FromRocks(it->status(), "scan emergency grants"));
  return store;
}

absl::Status EmergencyAccessStore::Persist(const Actor& actor, const char* action,
                                           const EmergencyGrant& grant) {
  rocksdb::WriteBatch batch;
  LV_RETURN_IF_ERROR(FromRocks(batch.Put(db_->cf(Cf::kMeta), absl::StrCat(kPrefix, grant.id),
                                         ToRecord(grant).SerializeAsString()),
                               "batch"));
  audit::AuditEntry entry = EntryFor(actor, action);
  entry.break_glass_reason = grant.reason;
  entry.subject = grant.principal_id;
  entry.fields = {absl::StrCat("grant=", grant.id),
                  absl::StrCat("expires_at=", absl::ToUnixMicros(grant.expires_at))};
  for (const std::string& id : grant.lead_ids) entry.lead_ids.push_back(EncodeLeadId(id));
  LV_RETURN_IF_ERROR(committer_->Commit(std::move(batch), std::move(entry)).status());
  absl::MutexLock lock(&mu_);
  grants_[grant.id] = grant;
  return absl::OkStatus();
}

absl::StatusOr<EmergencyGrant> EmergencyAccessStore::OpenGrant(const Actor& actor,
                                                               const std::string& reason,
                                                               std::vector<std::string> lead_ids,
                                                               absl::Duration duration) {
  LV_ASSIGN_OR_RETURN(keys::SecretBytes text,
                      NormalizeText("reason", reason, kMaxReason, /*multiline=*/true));
  if (text.size() < kMinReason) {
    return absl::InvalidArgumentError(
        "reason: a written reason of at least 10 characters is required");
  }
  if (lead_ids.empty() || lead_ids.size() > kMaxEmergencyLeads) {
    return absl::InvalidArgumentError("lead_ids: 1 to 20 leads");
  }
  std::sort(lead_ids.begin(), lead_ids.end());
  lead_ids.erase(std::unique(lead_ids.begin(), lead_ids.end()), lead_ids.end());
  if (duration < absl::Seconds(1) || duration > kMaxEmergencyAccess) {
    return absl::InvalidArgumentError("duration_seconds: must be 1 second to 60 minutes");
  }
  const absl::Time now = clock_->Now();
  EmergencyGrant grant;
  grant.id = absl::BytesToHexString(random_->Bytes(8));
  grant.principal_id = actor.principal_id;
  grant.role = actor.role;
  grant.reason = std::string(text.view());
  grant.lead_ids = std::move(lead_ids);
  grant.opened_at = now;
  grant.expires_at = now + duration;
  LV_RETURN_IF_ERROR(Persist(actor, "OpenEmergencyAccess", grant));
  opened_.fetch_add(1);
  return grant;
}

absl::StatusOr<std::vector<EmergencyGrant>> EmergencyAccessStore::List(const Actor& actor,
                                                                       bool open_only) {
  const absl::Time now = clock_->Now();
  std::vector<EmergencyGrant> out;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, g] : grants_) {
      if (!open_only || g.OpenAt(now)) out.push_back(g);
    }
  }
  std::sort(out.begin(), out.end(), [](const EmergencyGrant& a, const EmergencyGrant& b) {
    return a.opened_at > b.opened_at || (a.opened_at == b.opened_at && a.id < b.id);
  });
  audit::AuditEntry entry = EntryFor(actor, "ListEmergencyAccess");
  if (open_only) entry.fields = {"filter=open"};
  LV_RETURN_IF_ERROR(committer_->Commit(rocksdb::WriteBatch(), std::move(entry)).status());
  return out;
}

absl::StatusOr<EmergencyGrant> EmergencyAccessStore::Close(const Actor& actor,
                                                           const std::string& grant_id) {
  KeyClaims::Claim claim = claims_.Acquire({grant_id});  // one close at a time per grant
  EmergencyGrant grant;
  {
    absl::MutexLock lock(&mu_);
    auto it = grants_.find(grant_id);
    if (it == grants_.end()) return absl::NotFoundError("grant not found");
    grant = it->second;
  }
  const absl::Time now = clock_->Now();
  if (!grant.OpenAt(now)) return absl::FailedPreconditionError("grant: no longer open");
  grant.closed_at = now;
  grant.closed_by = actor.principal_id;
  LV_RETURN_IF_ERROR(Persist(actor, "CloseEmergencyAccess", grant));
  return grant;
}

std::optional<EmergencyGrant> EmergencyAccessStore::ActiveGrant(const std::string& principal_id,
                                                                const std::string& lead_id) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  for (const auto& [id, g] : grants_) {
    if (g.principal_id == principal_id && g.OpenAt(now) &&
        std::find(g.lead_ids.begin(), g.lead_ids.end(), lead_id) != g.lead_ids.end()) {
      return g;
    }
  }
  return std::nullopt;
}

}  // namespace leadvault::vault
