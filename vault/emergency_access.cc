#include "vault/emergency_access.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "keys/error_reason.h"
#include "keys/status_macros.h"
#include "rocksdb/write_batch.h"
#include "vault/internal/keys.h"
#include "vault/internal/records.pb.h"
#include "vault/lead.h"
#include "vault/validation.h"

namespace leadvault::vault {
namespace {

constexpr char kPrefix[] = "breakglass/";
constexpr absl::Duration kOpeningWindow = absl::Hours(1);

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

absl::StatusOr<EmergencyGrant> ParseGrant(rocksdb::Slice value) {
  internal::EmergencyGrantRecord r;
  if (!r.ParseFromArray(value.data(), static_cast<int>(value.size())) || r.format_version() != 1) {
    return absl::DataLossError("emergency grant record: malformed");
  }
  return FromRecord(r);
}

// A grant id as EmergencyGrant::id describes it (16 or 32 lower-case hex).
bool IsGrantId(absl::string_view id) {
  if (id.size() != 16 && id.size() != 32) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); });
}

// Whether a grant was opened under the compliance role (the role string is
// the comma-joined roles of the opener).
bool IsComplianceGrant(absl::string_view roles) {
  for (absl::string_view r : absl::StrSplit(roles, ',')) {
    if (r == "compliance") return true;
  }
  return false;
}

// What a grant costs in a reply, about.
size_t ApproximateBytes(const EmergencyGrant& g) {
  return 128 + g.id.size() + g.principal_id.size() + g.role.size() + g.reason.size() +
         g.closed_by.size() + 34 * g.lead_ids.size();
}

}  // namespace

absl::StatusOr<std::unique_ptr<EmergencyAccessStore>> EmergencyAccessStore::Open(
    Database* db, Committer* committer, const Clock* clock, keys::Random* random) {
  auto store =
      std::unique_ptr<EmergencyAccessStore>(new EmergencyAccessStore(db, committer, clock, random));
  const absl::Time now = clock->Now();
  std::unique_ptr<rocksdb::Iterator> it(
      db->db()->NewIterator(rocksdb::ReadOptions(), db->cf(Cf::kMeta)));
  absl::MutexLock lock(&store->mu_);
  for (it->Seek(kPrefix); it->Valid() && it->key().starts_with(kPrefix); it->Next()) {
    LV_ASSIGN_OR_RETURN(EmergencyGrant g, ParseGrant(it->value()));
    if (now - g.opened_at < kOpeningWindow) {
      store->openings_.push_back({g.opened_at, g.principal_id, IsComplianceGrant(g.role)});
    }
    store->last_opened_at_ = std::max(store->last_opened_at_, g.opened_at);
    if (g.OpenAt(now)) store->open_.push_back({std::move(g), /*active=*/true});
  }
  LV_RETURN_IF_ERROR(db->Check(it->status(), "scan emergency grants"));
  std::sort(store->openings_.begin(), store->openings_.end(),
            [](const Opening& a, const Opening& b) { return a.at < b.at; });
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
  return committer_->Commit(std::move(batch), std::move(entry)).status();
}

void EmergencyAccessStore::PruneLocked(absl::Time now) {
  open_.erase(std::remove_if(open_.begin(), open_.end(),
                             [now](const Slot& s) { return now >= s.grant.expires_at; }),
              open_.end());
  while (!openings_.empty() && now - openings_.front().at >= kOpeningWindow) {
    openings_.pop_front();
  }
}

absl::Status EmergencyAccessStore::CheckBoundsLocked(const std::string& principal_id,
                                                     bool compliance) const {
  size_t open_by_principal = 0;
  for (const Slot& s : open_) open_by_principal += s.grant.principal_id == principal_id;
  if (open_by_principal >= kMaxOpenGrantsPerPrincipal) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "emergency access: at most ", kMaxOpenGrantsPerPrincipal, " open grants per principal"));
  }
  if (open_.size() >= kMaxOpenGrants) {
    return absl::ResourceExhaustedError(
        absl::StrCat("emergency access: at most ", kMaxOpenGrants, " open grants in all"));
  }
  size_t opened_by_principal = 0;
  for (const Opening& o : openings_) opened_by_principal += o.principal_id == principal_id;
  if (opened_by_principal >= kMaxGrantOpeningsPerPrincipalPerHour) {
    return absl::ResourceExhaustedError(absl::StrCat("emergency access: at most ",
                                                     kMaxGrantOpeningsPerPrincipalPerHour,
                                                     " grants opened per principal per hour"));
  }
  // The site-wide budget binds intake only: however many desks break glass, a
  // compliance officer (the second person for a lead out of a desk's scope)
  // still can.
  size_t opened_by_intake = 0;
  for (const Opening& o : openings_) opened_by_intake += !o.compliance;
  if (!compliance && opened_by_intake >= kMaxGrantOpeningsPerHour) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "emergency access: at most ", kMaxGrantOpeningsPerHour, " grants opened per hour"));
  }
  return absl::OkStatus();
}

absl::StatusOr<EmergencyGrant> EmergencyAccessStore::OpenGrant(const Actor& actor,
                                                               const std::string& reason,
                                                               std::vector<std::string> lead_ids,
                                                               absl::Duration duration) {
  if (lead_ids.empty() || lead_ids.size() > kMaxEmergencyLeads) {
    return absl::InvalidArgumentError(
        absl::StrCat("lead_ids: 1 to ", kMaxEmergencyLeads, " leads"));
  }
  if (duration < absl::Seconds(1) || duration > kMaxEmergencyAccess) {
    return absl::InvalidArgumentError("duration_seconds: must be 1 second to 60 minutes");
  }
  LV_ASSIGN_OR_RETURN(keys::SecretBytes text,
                      NormalizeText("reason", reason, kMaxEmergencyReason, /*multiline=*/true));
  if (text.size() < kMinEmergencyReason) {
    return absl::InvalidArgumentError(
        "reason: a written reason of at least 10 characters is required");
  }
  std::sort(lead_ids.begin(), lead_ids.end());
  lead_ids.erase(std::unique(lead_ids.begin(), lead_ids.end()), lead_ids.end());
  if (scope_ == nullptr) return absl::InternalError("emergency access: no lead scope");
  for (const std::string& id : lead_ids)
    LV_RETURN_IF_ERROR(scope_->CheckInScope(actor, id, Rpc::kOpenEmergencyAccess));

  EmergencyGrant grant;
  grant.principal_id = actor.principal_id;
  grant.role = RoleLabel(actor);
  grant.reason = std::string(text.view());
  grant.lead_ids = std::move(lead_ids);
  const bool compliance =
      std::find(actor.roles.begin(), actor.roles.end(), Role::kCompliance) != actor.roles.end();
  const std::string random_part = random_->Bytes(8);
  absl::Time now;
  {
    // Reserve the opening before the commit, so concurrent openings count;
    // opening times (and so ids) strictly increase, whatever the wall clock does.
    absl::MutexLock lock(&mu_);
    now = std::max(clock_->Now(), last_opened_at_ + absl::Microseconds(1));
    PruneLocked(now);
    if (absl::Status bounds = CheckBoundsLocked(actor.principal_id, compliance); !bounds.ok()) {
      refused_.fetch_add(1);
      return WithReason(std::move(bounds), "EMERGENCY_GRANT_LIMIT");
    }
    last_opened_at_ = now;
    std::string id_bytes;
    internal::PutBigEndian64(id_bytes, static_cast<uint64_t>(absl::ToUnixMicros(now)));
    grant.id = absl::BytesToHexString(absl::StrCat(id_bytes, random_part));
    grant.opened_at = now;
    grant.expires_at = now + duration;
    open_.push_back({grant, /*active=*/false});
    openings_.push_back({now, actor.principal_id, compliance});
  }
  absl::Status persisted = Persist(actor, "OpenEmergencyAccess", grant);
  absl::MutexLock lock(&mu_);
  auto slot = std::find_if(open_.begin(), open_.end(),
                           [&](const Slot& s) { return s.grant.id == grant.id; });
  if (!persisted.ok()) {
    if (slot != open_.end()) open_.erase(slot);
    auto opening = std::find_if(openings_.begin(), openings_.end(), [&](const Opening& o) {
      return o.at == now && o.principal_id == actor.principal_id;
    });
    if (opening != openings_.end()) openings_.erase(opening);
    return persisted;
  }
  if (slot != open_.end()) slot->active = true;
  opened_.fetch_add(1);
  return grant;
}

absl::StatusOr<GrantPage> EmergencyAccessStore::List(const Actor& actor, bool open_only,
                                                     int page_size, const std::string& page_token) {
  if (page_size == 0) page_size = kDefaultGrantPageSize;
  if (page_size < 1 || page_size > kMaxGrantPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be 1..", kMaxGrantPageSize, " (0: the default)"));
  }
  if (!page_token.empty() && !IsGrantId(page_token)) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  const absl::Time now = clock_->Now();
  std::vector<EmergencyGrant> candidates;  // newest first, after the token
  if (open_only) {
    absl::MutexLock lock(&mu_);
    PruneLocked(now);
    for (const Slot& s : open_) {
      if (s.active && s.grant.OpenAt(now)) candidates.push_back(s.grant);
    }
    std::sort(candidates.begin(), candidates.end(),
              [](const EmergencyGrant& a, const EmergencyGrant& b) { return a.id > b.id; });
    if (!page_token.empty()) {
      candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                      [&](const EmergencyGrant& g) { return g.id >= page_token; }),
                       candidates.end());
    }
  } else {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf(Cf::kMeta)));
    const std::string start =
        page_token.empty() ? std::string(kPrefix) + '\x7f' : absl::StrCat(kPrefix, page_token);
    it->SeekForPrev(start);
    if (!page_token.empty() && it->Valid() && it->key() == start) it->Prev();
    for (; it->Valid() && it->key().starts_with(kPrefix) &&
           candidates.size() <= static_cast<size_t>(page_size);
         it->Prev()) {
      LV_ASSIGN_OR_RETURN(EmergencyGrant g, ParseGrant(it->value()));
      candidates.push_back(std::move(g));
    }
    LV_RETURN_IF_ERROR(db_->Check(it->status(), "scan emergency grants"));
  }
  GrantPage page;
  size_t bytes = 0;
  for (EmergencyGrant& g : candidates) {
    if (page.grants.size() == static_cast<size_t>(page_size) || bytes >= (size_t{1} << 20)) {
      page.next_page_token = page.grants.back().id;
      break;
    }
    bytes += ApproximateBytes(g);
    page.grants.push_back(std::move(g));
  }
  audit::AuditEntry entry = EntryFor(actor, "ListEmergencyAccess");
  if (open_only) entry.fields = {"filter=open"};
  LV_RETURN_IF_ERROR(committer_->Commit(rocksdb::WriteBatch(), std::move(entry)).status());
  return page;
}

absl::StatusOr<EmergencyGrant> EmergencyAccessStore::Close(const Actor& actor,
                                                           const std::string& grant_id) {
  if (!IsGrantId(grant_id)) return absl::InvalidArgumentError("grant_id: malformed");
  KeyClaims::Claim claim = claims_.Acquire({grant_id});  // one close at a time per grant
  const absl::Time now = clock_->Now();
  EmergencyGrant grant;
  {
    // Out of use before the close is committed.
    absl::MutexLock lock(&mu_);
    auto slot = std::find_if(open_.begin(), open_.end(),
                             [&](const Slot& s) { return s.grant.id == grant_id; });
    if (slot != open_.end() && slot->grant.OpenAt(now)) {
      if (!slot->active) return absl::AbortedError("grant: still being opened; retry");
      slot->active = false;
      grant = slot->grant;
    }
  }
  if (grant.id.empty()) {
    auto stored = db_->Get(Cf::kMeta, absl::StrCat(kPrefix, grant_id));
    if (absl::IsNotFound(stored.status())) return absl::NotFoundError("grant not found");
    LV_RETURN_IF_ERROR(stored.status());
    return WithReason(absl::FailedPreconditionError("grant: no longer open"), "GRANT_CLOSED");
  }
  grant.closed_at = now;
  grant.closed_by = actor.principal_id;
  absl::Status persisted = Persist(actor, "CloseEmergencyAccess", grant);
  absl::MutexLock lock(&mu_);
  auto slot = std::find_if(open_.begin(), open_.end(),
                           [&](const Slot& s) { return s.grant.id == grant_id; });
  if (!persisted.ok()) {
    if (slot != open_.end()) slot->active = true;  // the close did not happen
    return persisted;
  }
  if (slot != open_.end()) open_.erase(slot);
  return grant;
}

std::optional<EmergencyGrant> EmergencyAccessStore::ActiveGrant(const std::string& principal_id,
                                                                const std::string& lead_id) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  for (const Slot& s : open_) {
    const EmergencyGrant& g = s.grant;
    if (s.active && g.principal_id == principal_id && g.OpenAt(now) &&
        std::binary_search(g.lead_ids.begin(), g.lead_ids.end(), lead_id)) {
      return g;
    }
  }
  return std::nullopt;
}

size_t EmergencyAccessStore::open_count() const {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  size_t open = 0;
  for (const Slot& slot : open_) {
    if (slot.active && slot.grant.OpenAt(now)) ++open;
  }
  return open;
}

}  // namespace leadvault::vault
