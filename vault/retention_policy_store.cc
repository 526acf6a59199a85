#include "vault/retention_policy_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "keys/status_macros.h"
#include "rocksdb/write_batch.h"
#include "vault/internal/keys.h"
#include "vault/internal/records.pb.h"
#include "vault/lead.h"

namespace leadvault::vault {
namespace {

constexpr uint32_t kPolicyFormatVersion = 1;
constexpr absl::Duration kDay = absl::Hours(24);

void ToRecord(const RetentionRule& rule, internal::RetentionRuleRecord* r) {
  r->set_name(rule.name);
  if (rule.service_line.has_value()) r->set_service_line(*rule.service_line);
  if (rule.source.has_value()) r->set_source(static_cast<int32_t>(*rule.source));
  if (rule.status.has_value()) r->set_status(static_cast<int32_t>(*rule.status));
  r->set_period_days(static_cast<uint32_t>(rule.period / kDay));
  r->set_from(static_cast<int32_t>(rule.from));
}

RetentionRule FromRecord(const internal::RetentionRuleRecord& r) {
  RetentionRule rule;
  rule.name = r.name();
  if (r.has_service_line()) rule.service_line = r.service_line();
  if (r.has_source()) rule.source = static_cast<SourceChannel>(r.source());
  if (r.has_status()) rule.status = static_cast<LeadStatus>(r.status());
  rule.period = r.period_days() * kDay;
  rule.from = static_cast<RetentionAnchor>(r.from());
  return rule;
}

// "90d/last_activity;service_line=ortho;source=2;status=closed_lost": names
// and numbers of the policy, never a lead's value.
std::string Describe(const RetentionRule& rule) {
  std::string out = absl::StrCat(rule.period / kDay, "d/", RetentionAnchorName(rule.from));
  if (rule.service_line.has_value()) absl::StrAppend(&out, ";service_line=", *rule.service_line);
  if (rule.source.has_value()) absl::StrAppend(&out, ";source=", static_cast<int>(*rule.source));
  if (rule.status.has_value()) absl::StrAppend(&out, ";status=", LeadStatusName(*rule.status));
  return out;
}

}  // namespace

RetentionPolicyStore::Pinned::Pinned(Pinned&& other) noexcept
    : owner_(other.owner_), policy_(std::move(other.policy_)), version_(other.version_) {
  other.owner_ = nullptr;
}

RetentionPolicyStore::Pinned& RetentionPolicyStore::Pinned::operator=(Pinned&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = other.owner_;
    policy_ = std::move(other.policy_);
    version_ = other.version_;
    other.owner_ = nullptr;
  }
  return *this;
}

RetentionPolicyStore::Pinned::~Pinned() { Release(); }

void RetentionPolicyStore::Pinned::Release() {
  if (owner_ != nullptr) owner_->Unpin(version_);
  owner_ = nullptr;
}

absl::StatusOr<std::unique_ptr<RetentionPolicyStore>> RetentionPolicyStore::Open(
    Database* db, Committer* committer, const Clock* clock) {
  auto store =
      std::unique_ptr<RetentionPolicyStore>(new RetentionPolicyStore(db, committer, clock));
  auto row = db->Get(Cf::kMeta, internal::kMetaRetentionPolicy);
  absl::MutexLock lock(&store->mu_);
  if (absl::IsNotFound(row.status())) {
    store->policy_ = std::make_shared<const RetentionPolicy>(DefaultRetentionPolicy());
    return store;
  }
  LV_RETURN_IF_ERROR(row.status());
  internal::RetentionPolicyRecord r;
  if (!r.ParseFromString(*row) || r.format_version() != kPolicyFormatVersion || r.version() == 0) {
    return absl::DataLossError("retention policy record: malformed");
  }
  RetentionPolicy policy;
  for (const auto& rule : r.rules()) policy.rules.push_back(FromRecord(rule));
  policy.default_rule = FromRecord(r.default_rule());
  if (!ValidateRetentionPolicy(policy).ok()) {
    return absl::DataLossError("retention policy record: not a valid policy");
  }
  store->policy_ = std::make_shared<const RetentionPolicy>(std::move(policy));
  store->version_ = r.version();
  store->set_at_ = absl::FromUnixMicros(r.set_at_unix_micros());
  store->set_by_ = r.set_by();
  return store;
}

RetentionPolicyStore::Snapshot RetentionPolicyStore::Current() const {
  absl::MutexLock lock(&mu_);
  return Snapshot{policy_, version_};
}

RetentionPolicyStore::Pinned RetentionPolicyStore::Pin() {
  Pinned pinned;
  absl::MutexLock lock(&mu_);
  pinned.owner_ = this;
  pinned.policy_ = policy_;
  pinned.version_ = version_;
  ++pinned_[version_];
  return pinned;
}

void RetentionPolicyStore::Unpin(uint64_t version) {
  absl::MutexLock lock(&mu_);
  auto it = pinned_.find(version);
  if (it != pinned_.end() && --it->second == 0) pinned_.erase(it);
}

void RetentionPolicyStore::AwaitUnusedBefore(uint64_t version) const {
  absl::MutexLock lock(&mu_);
  auto unused = [this, version]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return pinned_.empty() || pinned_.begin()->first >= version;
  };
  mu_.Await(absl::Condition(&unused));
}

StoredRetentionPolicy RetentionPolicyStore::Get() const {
  absl::MutexLock lock(&mu_);
  return StoredRetentionPolicy{*policy_, version_, set_at_, set_by_};
}

absl::StatusOr<StoredRetentionPolicy> RetentionPolicyStore::Get(const Actor& actor) {
  StoredRetentionPolicy stored = Get();
  audit::AuditEntry entry = EntryFor(actor, "GetRetentionPolicy");
  entry.fields = {absl::StrCat("version=", stored.version)};
  LV_RETURN_IF_ERROR(committer_->Commit(rocksdb::WriteBatch(), std::move(entry)).status());
  return stored;
}

absl::StatusOr<StoredRetentionPolicy> RetentionPolicyStore::Set(const Actor& actor,
                                                                RetentionPolicy policy) {
  LV_RETURN_IF_ERROR(ValidateRetentionPolicy(policy));
  KeyClaims::Claim claim = claims_.Acquire({internal::kMetaRetentionPolicy});
  StoredRetentionPolicy stored;
  stored.set_at = clock_->Now();
  stored.set_by = actor.principal_id;
  {
    absl::MutexLock lock(&mu_);
    stored.version = version_ + 1;
  }
  internal::RetentionPolicyRecord r;
  r.set_format_version(kPolicyFormatVersion);
  r.set_version(stored.version);
  for (const RetentionRule& rule : policy.rules) ToRecord(rule, r.add_rules());
  ToRecord(policy.default_rule, r.mutable_default_rule());
  r.set_set_at_unix_micros(absl::ToUnixMicros(stored.set_at));
  r.set_set_by(stored.set_by);
  rocksdb::WriteBatch batch;
  LV_RETURN_IF_ERROR(FromRocks(
      batch.Put(db_->cf(Cf::kMeta), internal::kMetaRetentionPolicy, r.SerializeAsString()),
      "batch"));

  audit::AuditEntry entry = EntryFor(actor, "SetRetentionPolicy");
  entry.fields = {absl::StrCat("version=", stored.version),
                  absl::StrCat("rules=", policy.rules.size())};
  for (const RetentionRule& rule : policy.rules) {
    entry.fields.push_back(absl::StrCat("rule.", rule.name, "=", Describe(rule)));
  }
  entry.fields.push_back(absl::StrCat("default=", Describe(policy.default_rule)));

  auto next = std::make_shared<const RetentionPolicy>(std::move(policy));
  {
    absl::MutexLock lock(&mu_);
    pending_ = next;
  }
  absl::StatusOr<uint64_t> committed = committer_->Commit(std::move(batch), std::move(entry));
  std::function<void(uint64_t)> listener;
  {
    absl::MutexLock lock(&mu_);
    pending_ = nullptr;
    if (!committed.ok()) return committed.status();
    policy_ = next;
    version_ = stored.version;
    set_at_ = stored.set_at;
    set_by_ = stored.set_by;
    listener = listener_;
  }
  if (listener) listener(stored.version);
  stored.policy = *next;
  return stored;
}

RetentionDecision RetentionPolicyStore::DecideForPurge(const RetentionFacts& facts) const {
  std::shared_ptr<const RetentionPolicy> current, pending;
  {
    absl::MutexLock lock(&mu_);
    current = policy_;
    pending = pending_;
  }
  RetentionDecision decision = DecideRetention(*current, facts);
  if (pending != nullptr) {
    RetentionDecision next = DecideRetention(*pending, facts);
    if (next.expires_at > decision.expires_at) decision = std::move(next);
  }
  return decision;
}

void RetentionPolicyStore::SetListener(std::function<void(uint64_t version)> listener) {
  absl::MutexLock lock(&mu_);
  listener_ = std::move(listener);
}

}  // namespace leadvault::vault
