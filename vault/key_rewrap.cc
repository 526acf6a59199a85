#include "vault/key_rewrap.h"

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

absl::StatusOr<std::unique_ptr<KeyRewrap>> KeyRewrap::Start(Database* db, Committer* committer,
                                                            const KeyHierarchy* keys,
                                                            LeadStore* leads,
                                                            const KeyRewrapOptions& options) {
  if (options.batch_size < 1 || options.batch_size > kMaxRewrapBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("key re-wrap batch_size: must be between 1 and ", kMaxRewrapBatch));
  }
  auto rewrap = std::unique_ptr<KeyRewrap>(new KeyRewrap(db, committer, keys, leads, options));
  const uint32_t current = keys->kek_version();
  auto row = db->Get(Cf::kMeta, internal::kMetaKekRewrap);
  if (!row.ok() && !absl::IsNotFound(row.status())) return row.status();
  {
    absl::MutexLock lock(&rewrap->mu_);
    rewrap->target_version_ = current;
    // Version 1 with no cursor: no key was ever wrapped under another one.
    Progress& p = rewrap->progress_;
    p.kek_version = current == 1 ? 1 : 0;
    p.done = current == 1;
    if (row.ok()) {
      internal::KeyRewrapRecord r;
      if (!r.ParseFromString(*row) || r.format_version() != kCursorFormatVersion) {
        return absl::DataLossError("key re-wrap record: malformed");
      }
      // The cursor of the current version resumes; an older one's pass is void.
      if (r.kek_version() == current) {
        p.kek_version = current;
        p.done = r.done();
        p.rewrapped = r.rewrapped();
        rewrap->after_ = r.after_lead_id();
      }
    }
  }
  rewrap->StartThread();
  return rewrap;
}

void KeyRewrap::Rotated(uint32_t version) {
  absl::MutexLock lock(&mu_);
  target_version_ = std::max(target_version_, version);
}

bool KeyRewrap::HasWork() const {
  return progress_.kek_version != target_version_ || !progress_.done;
}

bool KeyRewrap::NewWork() const { return progress_.kek_version != target_version_; }

KeyRewrap::Progress KeyRewrap::progress() const {
  absl::MutexLock lock(&mu_);
  Progress p = progress_;
  p.last_error = last_error();
  return p;
}

absl::Status KeyRewrap::RunBatch() {
  const uint32_t current = keys_->kek_version();
  std::string after;
  bool fresh;
  uint64_t rewrapped;
  {
    absl::MutexLock lock(&mu_);
    target_version_ = std::max(target_version_, current);
    if (progress_.kek_version != current) {
      // A new version: every key again, from the first lead.
      progress_ = Progress();
      progress_.kek_version = current;
      after_.clear();
      fresh_pass_ = true;
    }
    after = after_;
    fresh = fresh_pass_;
    rewrapped = progress_.rewrapped;
  }
  // Keys wrapped under an older version land before the pass walks past them.
  if (fresh) keys_->AwaitUnpinnedBefore(current);
  const KeyHierarchy::Pinned pin = keys_->PinCurrent();
  if (pin.version() != current) return absl::OkStatus();  // rotated again: a new pass

  LV_ASSIGN_OR_RETURN(LeadStore::PreparedRewrap batch,
                      leads_->PrepareRewrap(pin, after, options_.batch_size));
  internal::KeyRewrapRecord cursor;
  cursor.set_format_version(kCursorFormatVersion);
  cursor.set_kek_version(current);
  cursor.set_after_lead_id(batch.last_id);
  cursor.set_rewrapped(rewrapped + batch.rewrapped);
  cursor.set_done(batch.done);
  LV_RETURN_IF_ERROR(FromRocks(
      batch.batch.Put(db_->cf(Cf::kMeta), internal::kMetaKekRewrap, cursor.SerializeAsString()),
      "batch"));
  audit::AuditEntry entry = EntryFor(SystemActor(), "RewrapDataKeys");
  entry.fields = {absl::StrCat("kek_version=", current), absl::StrCat("leads=", batch.leads),
                  absl::StrCat("rewrapped=", batch.rewrapped),
                  absl::StrCat("unreadable=", batch.unreadable),
                  absl::StrCat("done=", batch.done ? 1 : 0)};
  LV_RETURN_IF_ERROR(committer_->Commit(std::move(batch.batch), std::move(entry)).status());
  absl::MutexLock lock(&mu_);
  fresh_pass_ = false;
  after_ = batch.last_id;
  progress_.done = batch.done;
  progress_.rewrapped = cursor.rewrapped();
  progress_.unreadable += batch.unreadable;
  return absl::OkStatus();
}

}  // namespace leadvault::vault
