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
    recompute->paused_ = options.start_paused_for_testing;
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
  recompute->thread_ = std::thread([r = recompute.get()] { r->Run(); });
  return recompute;
}

RetentionRecompute::~RetentionRecompute() { Stop(); }

void RetentionRecompute::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void RetentionRecompute::PolicyChanged(uint64_t version) {
  absl::MutexLock lock(&mu_);
  policy_version_ = std::max(policy_version_, version);
}

bool RetentionRecompute::HasWork() const { return pass_version_ != policy_version_ || !done_; }

RetentionRecompute::Progress RetentionRecompute::progress() const {
  absl::MutexLock lock(&mu_);
  return progress_;
}

absl::Status RetentionRecompute::WaitIdle() {
  absl::MutexLock lock(&mu_);
  auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || failed_ || !HasWork();
  };
  mu_.Await(absl::Condition(&settled));
  if (failed_) return progress_.last_error;
  if (HasWork()) return absl::UnavailableError("retention recompute: stopped");
  return absl::OkStatus();
}

void RetentionRecompute::SetPausedForTesting(bool paused) {
  absl::MutexLock lock(&mu_);
  paused_ = paused;
}

absl::Status RetentionRecompute::StepForTesting() {
  absl::MutexLock lock(&mu_);
  const uint64_t want = steps_done_ + steps_ + 1;
  ++steps_;
  auto stepped = [this, want]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || steps_done_ >= want;
  };
  mu_.Await(absl::Condition(&stepped));
  if (steps_done_ < want) return absl::UnavailableError("retention recompute: stopped");
  return step_status_;
}

void RetentionRecompute::Run() {
  while (true) {
    bool step = false;
    bool work = false;
    {
      absl::MutexLock lock(&mu_);
      if (failed_) {
        // Retry later, or at once for a new policy or a test's step.
        auto retry_now = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || steps_ > 0 || pass_version_ != policy_version_;
        };
        mu_.AwaitWithTimeout(absl::Condition(&retry_now), options_.retry_after);
        failed_ = false;
      }
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || (paused_ ? steps_ > 0 : HasWork());
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      if (paused_) {
        --steps_;
        step = true;
      }
      work = HasWork();
    }
    const absl::Status status = work ? RunBatch() : absl::OkStatus();
    absl::MutexLock lock(&mu_);
    if (work) {
      progress_.last_error = status;
      failed_ = !status.ok();
    }
    if (step) {
      step_status_ = status;
      ++steps_done_;
    }
  }
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
