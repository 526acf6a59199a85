#include "vault/retention_recompute.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keys/status_macros.h"
#include "rocksdb/write_batch.h"
#include "vault/actor.h"
#include "vault/internal/keys.h"
#include "vault/internal/records.pb.h"

namespace leadvault::vault {
namespace {

constexpr uint32_t kCursorFormatVersion = 1;

}  // namespace

absl::StatusOr<std::unique_ptr<RetentionRecompute>> RetentionRecompute::Start(
    Database* db, Committer* committer, LeadStore* leads, RetentionPolicyStore* policies,
    const RetentionRecomputeOptions& options) {
  if (options.batch_size < 1 || options.batch_size > kMaxRecomputeBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("retention recompute batch_size: must be between 1 and ", kMaxRecomputeBatch));
  }
  auto recompute = std::unique_ptr<RetentionRecompute>(
      new RetentionRecompute(db, committer, leads, policies, options));
  const uint64_t version = policies->Current().version;
  auto row = db->Get(Cf::kMeta, internal::kMetaRetentionRecompute);
  if (!row.ok() && !absl::IsNotFound(row.status())) return row.status();
  {
    absl::MutexLock lock(&recompute->mu_);
    recompute->policy_version_ = version;
    recompute->pass_version_ = version;
    if (row.ok()) {
      internal::RetentionRecomputeRecord r;
      if (!r.ParseFromString(*row) || r.format_version() != kCursorFormatVersion) {
        return absl::DataLossError("retention recompute record: malformed");
      }
      // The cursor of the policy in force resumes; an older one's pass is void.
      if (r.policy_version() == version) {
        recompute->after_ = r.after_lead_id();
        recompute->done_ = r.done();
        recompute->committed_in_pass_ = true;
      }
    }
    recompute->progress_.policy_version = version;
    recompute->progress_.done = recompute->done_;
  }
  recompute->StartThread();
  return recompute;
}

void RetentionRecompute::PolicyChanged(uint64_t version) {
  absl::MutexLock lock(&mu_);
  policy_version_ = std::max(policy_version_, version);
}

bool RetentionRecompute::HasWork() const { return pass_version_ != policy_version_ || !done_; }

bool RetentionRecompute::NewWork() const { return pass_version_ != policy_version_; }

RetentionRecompute::Progress RetentionRecompute::progress() const {
  absl::MutexLock lock(&mu_);
  Progress p = progress_;
  p.last_error = last_error();
  return p;
}

absl::Status RetentionRecompute::RunBatch() {
  const RetentionPolicyStore::Snapshot current = policies_->Current();
  std::string after;
  bool committed_in_pass;
  bool fresh;
  {
    absl::MutexLock lock(&mu_);
    policy_version_ = std::max(policy_version_, current.version);
    if (current.version != pass_version_) {
      // A new policy: every lead again, from the first.
      pass_version_ = current.version;
      after_.clear();
      done_ = false;
      committed_in_pass_ = false;
      fresh_pass_ = true;
      progress_.policy_version = pass_version_;
      progress_.done = false;
    }
    after = after_;
    committed_in_pass = committed_in_pass_;
    fresh = fresh_pass_;
  }
  // Changes stamped under an older policy land before the pass walks past them.
  if (fresh) policies_->AwaitUnusedBefore(current.version);

  LV_ASSIGN_OR_RETURN(LeadStore::PreparedRestamp restamp,
                      leads_->PrepareRestamp(*current.policy, after, options_.batch_size));
  const bool commit = restamp.changed > 0 || current.version > 0 || committed_in_pass;
  if (commit) {
    internal::RetentionRecomputeRecord cursor;
    cursor.set_format_version(kCursorFormatVersion);
    cursor.set_policy_version(current.version);
    cursor.set_after_lead_id(restamp.last_id);
    cursor.set_done(restamp.done);
    LV_RETURN_IF_ERROR(
        FromRocks(restamp.batch.Put(db_->cf(Cf::kMeta), internal::kMetaRetentionRecompute,
                                    cursor.SerializeAsString()),
                  "batch"));
    audit::AuditEntry entry = EntryFor(SystemActor(), "RetentionRecompute");
    entry.fields = {
        absl::StrCat("policy_version=", current.version), absl::StrCat("leads=", restamp.leads),
        absl::StrCat("changed=", restamp.changed), absl::StrCat("unreadable=", restamp.unreadable),
        absl::StrCat("done=", restamp.done ? 1 : 0)};
    LV_RETURN_IF_ERROR(committer_->Commit(std::move(restamp.batch), std::move(entry)).status());
  }
  absl::MutexLock lock(&mu_);
  fresh_pass_ = false;
  after_ = restamp.last_id;
  done_ = restamp.done;
  committed_in_pass_ = committed_in_pass_ || commit;
  progress_.done = done_;
  if (commit) {
    ++progress_.batches;
    progress_.changed += restamp.changed;
  }
  return absl::OkStatus();
}

}  // namespace leadvault::vault
