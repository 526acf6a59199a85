#include "vault/retention_sweep.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "keys/status_macros.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "vault/internal/keys.h"
#include "vault/lead.h"
#include "vault/retention.h"

namespace leadvault::vault {
namespace {

constexpr size_t kLeadIdSize = 16;

// What a purge removes rows from (the audit families and the suppression
// list are never touched).
const std::vector<Cf>& PurgedFamilies() {
  static const std::vector<Cf> families = {Cf::kLeads, Cf::kDek,     Cf::kBidx, Cf::kExpiry,
                                           Cf::kQueue, Cf::kConsent, Cf::kMeta};
  return families;
}

struct Due {
  std::string key;  // its `expiry` row
  std::string lead_id;
};

// At most `limit` expiry rows after `after` (all if empty), oldest first,
// whose time is at or before `as_of`.
absl::StatusOr<std::vector<Due>> ReadDue(Database& db, const std::string& after, absl::Time as_of,
                                         size_t limit) {
  const std::string upper = internal::ExpiryKey(absl::ToUnixMicros(as_of) + 1, "");
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(options, db.cf(Cf::kExpiry)));
  if (after.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(after);
    if (it->Valid() && it->key() == rocksdb::Slice(after)) it->Next();
  }
  std::vector<Due> due;
  for (; it->Valid() && due.size() < limit; it->Next()) {
    const rocksdb::Slice key = it->key();
    if (key.size() != 8 + kLeadIdSize) return absl::DataLossError("expiry row: malformed key");
    due.push_back({key.ToString(), std::string(key.data() + 8, kLeadIdSize)});
  }
  LV_RETURN_IF_ERROR(db.Check(it->status(), "scan the expiry index"));
  return due;
}

// Expiry rows at or before `as_of`, counted up to `limit` (for progress).
absl::StatusOr<uint64_t> CountDue(Database& db, absl::Time as_of, uint64_t limit) {
  const std::string upper = internal::ExpiryKey(absl::ToUnixMicros(as_of) + 1, "");
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(options, db.cf(Cf::kExpiry)));
  uint64_t due = 0;
  for (it->SeekToFirst(); it->Valid() && due < limit; it->Next()) ++due;
  LV_RETURN_IF_ERROR(db.Check(it->status(), "count the expiry index"));
  return due;
}

// The rows of deletion requests awaiting compaction (at most kMaxCompactionDue).
absl::StatusOr<std::vector<std::string>> ReadCompactionDue(Database& db) {
  const std::string prefix = internal::kMetaCompactionDuePrefix;
  std::unique_ptr<rocksdb::Iterator> it(
      db.db()->NewIterator(rocksdb::ReadOptions(), db.cf(Cf::kMeta)));
  std::vector<std::string> keys;
  for (it->Seek(prefix);
       it->Valid() && it->key().starts_with(prefix) && keys.size() < kMaxCompactionDue;
       it->Next()) {
    keys.push_back(it->key().ToString());
  }
  LV_RETURN_IF_ERROR(db.Check(it->status(), "scan compaction rows"));
  return keys;
}

}  // namespace

absl::StatusOr<SweepReport> RetentionSweeper::Sweep(const Actor& actor, const SweepOptions& options,
                                                    const SweepProgress& progress) {
  if (options.batch_size < 1 || options.batch_size > kMaxSweepBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size: must be between 1 and ", kMaxSweepBatch));
  }
  if (options.max_leads < 1 || options.max_leads > kMaxSweepLeads) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_leads: must be between 1 and ", kMaxSweepLeads));
  }
  if (options.pause < absl::ZeroDuration() || options.pause > absl::Minutes(1)) {
    return absl::InvalidArgumentError("pause: must be between 0 and 1 minute");
  }
  {
    absl::MutexLock lock(&mu_);
    if (running_) return absl::FailedPreconditionError("retention: a sweep is already running");
    running_ = true;
  }
  absl::Cleanup not_running = [this] {
    absl::MutexLock lock(&mu_);
    running_ = false;
  };

  SweepReport report;
  report.dry_run = options.dry_run;
  report.as_of = clock_->Now();
  LV_ASSIGN_OR_RETURN(report.due, CountDue(*db_, report.as_of, options.max_leads));

  // One batch commits while the next is staged. Its purges keep their claims
  // until it is counted; `held_keys` names every claim this sweep holds, so a
  // lead needing one of them is never waited for (that would wait for this
  // thread): it ends the batch being staged, or, first in it, lets the batch
  // in flight finish before it is tried again.
  struct Batch {
    std::vector<LeadStore::PreparedPurge> staged;
    std::vector<absl::Status> results;
    std::unique_ptr<absl::BlockingCounter> committed;
  };
  std::optional<Batch> in_flight;
  absl::flat_hash_set<std::string> held_keys;
  auto count_in_flight = [&]() -> absl::Status {
    if (!in_flight.has_value()) return absl::OkStatus();
    if (in_flight->committed != nullptr) in_flight->committed->Wait();
    std::optional<absl::Status> failed;
    for (size_t i = 0; i < in_flight->staged.size(); ++i) {
      const LeadStore::PreparedPurge& purge = in_flight->staged[i];
      for (const std::string& key : purge.claim_keys) held_keys.erase(key);
      if (!in_flight->results[i].ok()) {
        if (!failed.has_value()) failed = in_flight->results[i];
        continue;
      }
      ++report.purged;
      ++report.per_rule[purge.retention_rule];
      if (report.listed.size() < kMaxSweepListed) {
        report.listed.emplace_back(EncodeLeadId(purge.meta.id), purge.retention_rule);
      }
    }
    in_flight.reset();  // the claims go
    if (failed.has_value()) return *failed;
    if (progress) progress(report);
    return absl::OkStatus();
  };
  // On an early return the batch in flight is still waited for: its callbacks
  // name it.
  absl::Cleanup drain = [&] {
    if (in_flight.has_value() && in_flight->committed != nullptr) in_flight->committed->Wait();
  };

  std::string after;
  bool stopped = false;
  for (bool first = true;; first = false) {
    if (!first && options.pause > absl::ZeroDuration()) {
      // A paced sweep yields: nothing of it is in flight while it pauses.
      LV_RETURN_IF_ERROR(count_in_flight());
      absl::SleepFor(options.pause);
    }
    if (options.stop != nullptr && options.stop->load(std::memory_order_acquire)) {
      report.more = true;
      stopped = true;
      break;
    }
    const uint64_t taken = report.purged + (in_flight.has_value() ? in_flight->staged.size() : 0);
    const uint64_t room = options.max_leads - taken;
    LV_ASSIGN_OR_RETURN(std::vector<Due> due,
                        ReadDue(*db_, after, report.as_of,
                                room == 0 ? 1 : std::min<uint64_t>(options.batch_size, room)));
    if (due.empty()) break;
    if (room == 0) {
      report.more = true;
      break;
    }
    after = due.back().key;

    // Staged under each lead's claims, which are held until the purges are
    // durable; a lead renewed since its expiry row was read is left alone.
    Batch next;
    next.staged.reserve(due.size());
    std::vector<std::string> ids;
    ids.reserve(due.size());
    for (const Due& d : due) ids.push_back(d.lead_id);
    const Actor* pages_for = options.dry_run ? nullptr : &actor;
    std::vector<absl::StatusOr<LeadStore::PreparedPurge>> purges =
        leads_->PreparePurges(ids, pages_for, nullptr, &held_keys);
    if (purges.size() == 1 && absl::IsAborted(purges[0].status()) && in_flight.has_value()) {
      // Its claims are the batch in flight's: once that is counted, they are free.
      LV_RETURN_IF_ERROR(count_in_flight());
      purges = leads_->PreparePurges(ids, pages_for, nullptr, &held_keys);
    }
    for (size_t i = 0; i < purges.size(); ++i) {
      absl::StatusOr<LeadStore::PreparedPurge>& purge = purges[i];
      if (absl::IsAborted(purge.status()) && i > 0) {
        after = due[i - 1].key;  // it is the next batch's first
        break;
      }
      if (absl::IsNotFound(purge.status())) {
        ++report.renewed;
        continue;
      }
      if (IsLegalHold(purge.status())) {
        ++report.held;
        continue;
      }
      LV_RETURN_IF_ERROR(purge.status());
      // The policy in force may keep it longer than its stamp says (a change
      // not yet re-stamped): it decides, and names the rule.
      RetentionDecision in_force = policies_->DecideForPurge(RetentionFactsOf(purge->meta));
      if (purge->expires_at > report.as_of || in_force.expires_at > report.as_of) {
        ++report.renewed;
        for (const std::string& key : purge->claim_keys) held_keys.erase(key);
        continue;  // its claims go
      }
      purge->retention_rule = std::move(in_force.rule_name);
      next.staged.push_back(*std::move(purge));
    }

    next.results.assign(next.staged.size(), absl::OkStatus());
    if (!options.dry_run && !next.staged.empty()) {
      next.committed =
          std::make_unique<absl::BlockingCounter>(static_cast<int>(next.staged.size()));
    }
    LV_RETURN_IF_ERROR(count_in_flight());
    in_flight = std::move(next);
    if (in_flight->committed != nullptr) {
      for (size_t i = 0; i < in_flight->staged.size(); ++i) {
        LeadStore::PreparedPurge& purge = in_flight->staged[i];
        audit::AuditEntry entry = EntryFor(actor, "RetentionPurge");
        entry.lead_ids.push_back(EncodeLeadId(purge.meta.id));
        entry.fields.push_back(absl::StrCat("retention_rule=", purge.retention_rule));
        absl::Status* result = &in_flight->results[i];
        absl::BlockingCounter* committed = in_flight->committed.get();
        committer_->CommitAsync(std::move(purge.batch), std::move(entry),
                                [result, committed](absl::StatusOr<uint64_t> seq) {
                                  *result = seq.status();
                                  committed->DecrementCount();
                                });
      }
    }
  }
  LV_RETURN_IF_ERROR(count_in_flight());

  rocksdb::WriteBatch done;  // committed with the sweep's entry
  if (!options.dry_run && options.compact && stopped) {
    // A stopped sweep (the daemon is stopping) does not hold the stop for a
    // compaction: the next sweep does it.
    if (report.purged > 0) {
      LV_RETURN_IF_ERROR(
          db_->Check(done.Put(db_->cf(Cf::kMeta),
                              absl::StrCat(internal::kMetaCompactionDuePrefix, "sweep"), ""),
                     "stage compaction"));
    }
  } else if (!options.dry_run && options.compact) {
    // Read before compacting: a deletion that lands after the read keeps its
    // row for the next sweep.
    LV_ASSIGN_OR_RETURN(std::vector<std::string> due, ReadCompactionDue(*db_));
    if (report.purged > 0 || !due.empty()) {
      LV_ASSIGN_OR_RETURN(Database::CompactionBytes bytes, db_->CompactAway(PurgedFamilies()));
      report.table_bytes_before = bytes.before;
      report.table_bytes_after = bytes.after;
      for (const std::string& key : due) {
        LV_RETURN_IF_ERROR(db_->Check(done.Delete(db_->cf(Cf::kMeta), key), "stage compaction"));
      }
      for (const std::string& key : due) {
        // Rows of deletion requests end in a lead id; a stopped sweep's in "sweep".
        if (key.size() == sizeof(internal::kMetaCompactionDuePrefix) - 1 + kLeadIdSize) {
          ++report.deletions_compacted;
        }
      }
    }
  }

  // The sweep's own entry: counts, never ids (each purge has its entry).
  audit::AuditEntry entry =
      EntryFor(actor, options.dry_run ? "RetentionSweepDryRun" : "RetentionSweep");
  entry.fields = {absl::StrCat("purged=", report.purged), absl::StrCat("renewed=", report.renewed),
                  absl::StrCat("held=", report.held),
                  absl::StrCat("deletions_compacted=", report.deletions_compacted),
                  absl::StrCat("more=", report.more ? 1 : 0)};
  for (const auto& [rule, count] : report.per_rule) {
    entry.fields.push_back(absl::StrCat("rule.", rule, "=", count));
  }
  LV_ASSIGN_OR_RETURN(report.audit_sequence, committer_->Commit(std::move(done), std::move(entry)));
  return report;
}

RetentionScheduler::RetentionScheduler(
    RetentionSweeper* sweeper, absl::Duration interval, SweepOptions options,
    std::function<void(const absl::StatusOr<SweepReport>&)> report)
    : sweeper_(sweeper), interval_(interval), options_(options), report_(std::move(report)) {
  options_.stop = &stop_;
  thread_ = std::thread([this] { Run(); });
}

RetentionScheduler::~RetentionScheduler() { Stop(); }

void RetentionScheduler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

void RetentionScheduler::Run() {
  const Actor system = SystemActor();
  while (true) {
    absl::StatusOr<SweepReport> report = sweeper_->Sweep(system, options_);
    if (report_) report_(report);
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_);
    if (stopping_) return;
  }
}

}  // namespace leadvault::vault
