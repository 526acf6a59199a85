#include "vault/committer.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "keys/error_reason.h"
#include "keys/status_macros.h"
#include "rocksdb/options.h"
#include "vault/database.h"
#include "vault/internal/keys.h"

namespace leadvault::vault {

struct Committer::Pending {
  // Not changed once the group has iterated it: the group's Merge operands
  // are views into it until the callers are answered.
  rocksdb::WriteBatch batch;
  audit::AuditEntry entry;
  absl::StatusOr<uint64_t> result = absl::UnknownError("pending");
  bool done = false;
  bool checkpoint = false;  // the group must also write a signed checkpoint
  // CatchUpMergeLog: no batch, no entry; once the group is durable,
  // on_merges_written gets the merge log's operands it has not seen.
  bool catch_up = false;
  // CommitReplayed: entries appended as they are (`entry` unused).
  std::vector<StoredEntry> replayed;
  // Set for CommitAsync: the Pending is heap-owned and deleted after `on_done`.
  std::function<void(absl::StatusOr<uint64_t>)> on_done;
  Stamp stamp;  // may be empty
};

namespace {

// Re-applies one caller's batch to the group batch (RocksDB has no public
// batch append), appending the Merge operands of the merge log's column
// family to the group's record instead (MergeLogWriter) until Finish().
class AppendHandler final : public rocksdb::WriteBatch::Handler {
 public:
  AppendHandler(rocksdb::WriteBatch* out, Database* db) : out_(out), db_(db) {}

  rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    const size_t i = CfIndex(cf);
    if (rocksdb::Status s = BeforeDirectWrite(i); !s.ok()) return s;
    return out_->Put(Handle(i), key, value);
  }
  rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
    const size_t i = CfIndex(cf);
    if (rocksdb::Status s = BeforeDirectWrite(i); !s.ok()) return s;
    return out_->Delete(Handle(i), key);
  }
  rocksdb::Status SingleDeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
    const size_t i = CfIndex(cf);
    if (rocksdb::Status s = BeforeDirectWrite(i); !s.ok()) return s;
    return out_->SingleDelete(Handle(i), key);
  }
  rocksdb::Status DeleteRangeCF(uint32_t cf, const rocksdb::Slice& begin,
                                const rocksdb::Slice& end) override {
    const size_t i = CfIndex(cf);
    if (rocksdb::Status s = BeforeDirectWrite(i); !s.ok()) return s;
    return out_->DeleteRange(Handle(i), begin, end);
  }
  rocksdb::Status MergeCF(uint32_t cf, const rocksdb::Slice& key,
                          const rocksdb::Slice& value) override {
    const size_t i = CfIndex(cf);
    // Views into the caller's batch, which is not changed until its caller
    // is answered (Pending::batch).
    const absl::string_view k(key.data(), key.size());
    const absl::string_view v(value.data(), value.size());
    if (log_ != nullptr && i == log_cf_) {
      // Reaches the collected merges with its fold (or a catch-up before it).
      AppendLoggedOperand(k, v, record_);
      ++record_operands_;
      return rocksdb::Status::OK();
    }
    if (merges_ != nullptr) merges_->push_back({static_cast<Cf>(i), k, v});
    return out_->Merge(Handle(i), key, value);
  }
  void LogData(const rocksdb::Slice&) override {}

  // Writes the Merge operands of the log's column family as one record of `log`.
  void LogMerges(MergeLogWriter* log) {
    log_ = log;
    if (log != nullptr) log_cf_ = static_cast<size_t>(log->options().cf);
  }
  // Every Merge operand written as an entry of its own is also collected
  // here (when set), as views valid until the callers are answered; the
  // log's operands are not (they are with the log's fold or catch-up).
  void CollectMerges(std::vector<MergeOperand>* merges) { merges_ = merges; }
  // Appends the group's record.
  rocksdb::Status Finish() {
    if (record_.empty()) return rocksdb::Status::OK();
    if (absl::Status s = log_->StageRecord(std::move(record_), record_operands_, *out_); !s.ok()) {
      return rocksdb::Status::Aborted("stage merge log");
    }
    record_.clear();
    record_operands_ = 0;
    return rocksdb::Status::OK();
  }

 private:
  rocksdb::ColumnFamilyHandle* Handle(size_t i) {
    return i < kCfCount ? db_->cf(static_cast<Cf>(i)) : db_->db()->DefaultColumnFamily();
  }
  size_t CfIndex(uint32_t id) {
    for (size_t i = 0; i < kCfCount; ++i) {
      if (db_->cf(static_cast<Cf>(i))->GetID() == id) return i;
    }
    return kCfCount;
  }
  // A Put or Delete on the log's column family: every record written
  // before, and this group's operands so far, go first, as operands.
  rocksdb::Status BeforeDirectWrite(size_t i) {
    if (log_ == nullptr || i != log_cf_) return rocksdb::Status::OK();
    absl::Status s = log_->StageFold(*out_);
    if (s.ok()) {
      s = ForEachOperandOfRecord(record_, [this](absl::string_view key, absl::string_view value) {
        if (merges_ != nullptr) {
          // record_ is cleared below: the views are into copies.
          const std::string& k = direct_.emplace_back(key);
          const std::string& v = direct_.emplace_back(value);
          merges_->push_back({static_cast<Cf>(log_cf_), k, v});
        }
        return db_->Check(out_->Merge(Handle(log_cf_), rocksdb::Slice(key.data(), key.size()),
                                      rocksdb::Slice(value.data(), value.size())),
                          "build commit batch");
      });
    }
    record_.clear();
    record_operands_ = 0;
    return s.ok() ? rocksdb::Status::OK() : rocksdb::Status::Aborted("fold merge log");
  }

  rocksdb::WriteBatch* out_;
  Database* db_;
  std::vector<MergeOperand>* merges_ = nullptr;
  MergeLogWriter* log_ = nullptr;
  size_t log_cf_ = kCfCount;  // meaningful only with log_
  std::string record_;        // the log's operands since the last direct write
  size_t record_operands_ = 0;
  std::deque<std::string> direct_;  // logged operands written directly (merges_ views them)
};

// What every caller of a failed group is told: corruption and a full disk
// keep their codes (retrying does not help), anything else is worth a retry.
absl::Status GroupWriteFailure(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kDataLoss:
      return absl::DataLossError("stored data failed its integrity check");
    case absl::StatusCode::kResourceExhausted:
      return WithReason(absl::ResourceExhaustedError("storage is full"), "STORAGE_FULL");
    default:
      return absl::UnavailableError("vault could not make the change durable");
  }
}

// A mark beside the journal older than the log's newest checkpoint (a crash
// or failure between the two records, a journal added later) catches up; a
// newer one is never moved back.
absl::Status CatchUpHighWater(const AuditLog& log, HighWaterMark& mark) {
  std::optional<SignedCheckpoint> latest = log.LatestCheckpoint();
  if (!latest.has_value() ||
      HighWaterMark::ClaimedSize(latest->note) <= HighWaterMark::ClaimedSize(mark.note())) {
    return absl::OkStatus();
  }
  return mark.Record(latest->note);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Committer>> Committer::Start(Database* db, const Clock* clock,
                                                            const CommitterOptions& options) {
  if (options.audit.checkpoint_every_entries == 0) {
    return absl::InvalidArgumentError("checkpoint_every_entries: must be at least 1");
  }
  if (options.audit.checkpoint_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("checkpoint_interval: must be positive");
  }
  LV_ASSIGN_OR_RETURN(std::unique_ptr<AuditLog> log, AuditLog::Open(db, options.audit));
  // The next sequence follows the last audit entry on disk; its time is the floor for new ones.
  uint64_t next = log->size() + 1;
  absl::Time last_time = absl::InfinitePast();
  if (next > 1) {
    LV_ASSIGN_OR_RETURN(StoredEntry last, log->ReadEntry(next - 1));
    last_time = last.entry.time;
  }
  std::unique_ptr<AuditJournal> journal;
  std::unique_ptr<HighWaterMark> journal_high_water;
  if (!options.journal_file.empty()) {
    LV_ASSIGN_OR_RETURN(journal, AuditJournal::Open(options.journal_file));
    LV_ASSIGN_OR_RETURN(journal_high_water,
                        HighWaterMark::Open(AuditJournal::HighWaterPath(options.journal_file)));
  }
  const bool detached =
      journal != nullptr && (options.hold_journal || journal->last_sequence() >= next);
  if (journal != nullptr && !detached) {
    LV_RETURN_IF_ERROR(CatchUpHighWater(*log, *journal_high_water));
  }
  std::unique_ptr<MergeLogWriter> merge_log;
  if (options.merge_log.has_value()) {
    LV_ASSIGN_OR_RETURN(merge_log, MergeLogWriter::Open(db, *options.merge_log));
  }
  auto committer = std::unique_ptr<Committer>(
      new Committer(db, clock, options, std::move(log), std::move(journal),
                    std::move(journal_high_water), std::move(merge_log), next, last_time));
  {
    absl::MutexLock lock(&committer->mu_);
    committer->journal_detached_ = detached;
  }
  committer->thread_ = std::thread([c = committer.get()] { c->Run(); });
  return committer;
}

Committer::Committer(Database* db, const Clock* clock, const CommitterOptions& options,
                     std::unique_ptr<AuditLog> audit_log, std::unique_ptr<AuditJournal> journal,
                     std::unique_ptr<HighWaterMark> journal_high_water,
                     std::unique_ptr<MergeLogWriter> merge_log, uint64_t next_sequence,
                     absl::Time last_time)
    : db_(db),
      clock_(clock),
      options_(options),
      audit_log_(std::move(audit_log)),
      journal_(std::move(journal)),
      journal_high_water_(std::move(journal_high_water)),
      last_time_(last_time),
      merge_log_(std::move(merge_log)),
      next_sequence_(next_sequence) {}

Committer::~Committer() { Stop(); }

void Committer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

size_t Committer::queue_depth() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

uint64_t Committer::next_sequence() const {
  absl::MutexLock lock(&mu_);
  return next_sequence_;
}

bool Committer::journal_detached() const {
  absl::MutexLock lock(&mu_);
  return journal_detached_;
}

absl::Status Committer::journal_error() const {
  absl::MutexLock lock(&mu_);
  return journal_error_;
}

void Committer::AttachJournal() {
  absl::MutexLock lock(&mu_);
  journal_detached_ = false;
}

absl::Status Committer::CommitReplayed(std::vector<StoredEntry> entries,
                                       rocksdb::WriteBatch batch) {
  if (entries.empty()) return absl::InvalidArgumentError("replay: no entries");
  Pending pending;
  pending.batch = std::move(batch);
  pending.replayed = std::move(entries);
  pending.checkpoint = true;
  return CommitPending(pending).status();
}

absl::Status Committer::AppendToJournal(uint64_t first, const std::vector<std::string>& canonical,
                                        bool sync) {
  const std::string origin = audit_log_->origin();
  if (origin.empty()) return absl::OkStatus();  // no signer yet: caught up later
  // Entries the journal lacks (written before the log had a signer, or by a
  // vault older than its journal) go first, in chunks.
  constexpr size_t kChunk = 1000;
  std::vector<AuditJournal::Entry> missing;
  while (journal_->last_sequence() + 1 < first) {
    const uint64_t from = journal_->last_sequence() + 1;
    const uint64_t to = std::min<uint64_t>(first - 1, from + kChunk - 1);
    missing.clear();
    LV_RETURN_IF_ERROR(audit_log_->ScanEntries(from, to, [&missing](const StoredEntry& e) {
      missing.push_back({e.entry.sequence, e.canonical});
      return true;
    }));
    LV_RETURN_IF_ERROR(journal_->Append(origin, missing, "", /*sync=*/false));
  }
  std::vector<AuditJournal::Entry> entries;
  entries.reserve(canonical.size());
  for (size_t i = 0; i < canonical.size(); ++i) entries.push_back({first + i, canonical[i]});
  return journal_->Append(origin, entries, audit_log_->StagedCheckpointNote(), sync,
                          /*group_first=*/canonical.empty() ? 0 : first);
}

void Committer::SetFailWritesForTesting(bool fail) {
  absl::MutexLock lock(&mu_);
  fail_writes_ = fail;
}

void Committer::SetFailJournalForTesting(bool fail) {
  absl::MutexLock lock(&mu_);
  fail_journal_ = fail;
}

void Committer::SetBeforeWriteHookForTesting(std::function<void()> hook) {
  absl::MutexLock lock(&mu_);
  before_write_ = std::move(hook);
}

absl::StatusOr<uint64_t> Committer::Commit(rocksdb::WriteBatch batch, audit::AuditEntry entry,
                                           Stamp stamp) {
  Pending pending;
  pending.batch = std::move(batch);
  pending.entry = std::move(entry);
  pending.stamp = std::move(stamp);
  return CommitPending(pending);
}

absl::StatusOr<uint64_t> Committer::CommitWithCheckpoint(rocksdb::WriteBatch batch,
                                                         audit::AuditEntry entry, Stamp stamp) {
  Pending pending;
  pending.batch = std::move(batch);
  pending.entry = std::move(entry);
  pending.stamp = std::move(stamp);
  pending.checkpoint = true;
  return CommitPending(pending);
}

absl::StatusOr<uint64_t> Committer::CommitPending(Pending& pending) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("vault is shutting down");
  queue_.push_back(&pending);
  mu_.Await(absl::Condition(&pending.done));
  return std::move(pending.result);
}

void Committer::CommitAsync(rocksdb::WriteBatch batch, audit::AuditEntry entry,
                            std::function<void(absl::StatusOr<uint64_t>)> done, Stamp stamp) {
  auto pending = std::make_unique<Pending>();
  pending->batch = std::move(batch);
  pending->entry = std::move(entry);
  pending->on_done = std::move(done);
  pending->stamp = std::move(stamp);
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(pending.release());
      return;
    }
  }
  pending->on_done(absl::UnavailableError("vault is shutting down"));
}

void Committer::Run() {
  std::deque<Pending*> group;
  while (true) {
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stopping_; };
      // Wakes at least once per checkpoint interval, so a quiet log still gets
      // its entries signed in time, and every second while the database holds
      // an error, so it recovers without waiting for a caller.
      absl::Duration wait = options_.audit.checkpoint_interval;
      if (db_->HasBackgroundError() || !journal_error_.ok()) {
        wait = std::min(wait, absl::Seconds(1));
      }
      mu_.AwaitWithTimeout(absl::Condition(&ready), wait);
      group.swap(queue_);
      stopping = stopping_;
    }
    MaybeRecover();
    MaybeCatchUpJournal();
    if (!group.empty() || audit_log_->CheckpointDue(clock_->Now())) {
      WriteGroup(group, /*force_checkpoint=*/false);
      group.clear();
    }
    if (stopping) {
      absl::MutexLock lock(&mu_);
      if (!queue_.empty()) continue;  // finish everything queued first
      break;
    }
  }
  // A clean stop signs whatever is unsigned, and leaves the merge log folded.
  WriteGroup(group, /*force_checkpoint=*/true);
  if (merge_log_ != nullptr) IgnoreError(FoldAndReport());
}

absl::Status Committer::FoldAndReport() {
  LV_RETURN_IF_ERROR(merge_log_->Fold());
  ReportToApply();
  return absl::OkStatus();
}

void Committer::ReportToApply() {
  if (!options_.on_merges_written || merge_log_->to_apply().empty()) return;
  std::vector<MergeOperand> merges;
  merges.reserve(merge_log_->to_apply().size());
  for (const auto& [key, operand] : merge_log_->to_apply()) {
    merges.push_back({merge_log_->options().cf, key, operand});
  }
  options_.on_merges_written(merges);
}

absl::Status Committer::CatchUpMergeLog() {
  if (merge_log_ == nullptr) return absl::OkStatus();
  Pending pending;
  pending.catch_up = true;
  return CommitPending(pending).status();
}

void Committer::MaybeFoldMergeLog() {
  if (!merge_log_->FoldDue()) return;
  // Not below the disk's headroom (TakeRefusedForSpace): a fold adds bytes
  // before compaction drops the records; they are read as they are meanwhile.
  const uint64_t min_free = db_->min_free_bytes();
  if (min_free > 0) {
    std::optional<uint64_t> free = db_->FreeBytes();
    if (free.has_value() && *free < min_free) return;
  }
  IgnoreError(FoldAndReport());  // tried again after the next group
}

absl::Status Committer::RewindPending() {
  // A group whose write failed after its append, and whose cut failed too,
  // is cut off first: its entries were never written.
  if (!rewind_to_.has_value()) return absl::OkStatus();
  LV_RETURN_IF_ERROR(journal_->Rewind(*rewind_to_));
  rewind_to_.reset();
  return absl::OkStatus();
}

void Committer::MaybeCatchUpJournal() {
  uint64_t next;
  {
    absl::MutexLock lock(&mu_);
    if (journal_error_.ok() || journal_detached_ || fail_journal_) return;
    next = next_sequence_;
  }
  absl::Status caught_up = RewindPending();
  if (caught_up.ok()) caught_up = AppendToJournal(next, {}, /*sync=*/true);
  if (caught_up.ok()) caught_up = CatchUpHighWater(*audit_log_, *journal_high_water_);
  absl::MutexLock lock(&mu_);
  journal_error_ = caught_up;
}

uint64_t Committer::journal_high_water_size() const {
  return journal_high_water_ == nullptr ? 0
                                        : HighWaterMark::ClaimedSize(journal_high_water_->note());
}

void Committer::MaybeRecover() {
  if (!db_->HasBackgroundError()) return;
  // Not while the disk is still nearly full: recovery flushes memtables, and
  // writes resumed there would only fill it.
  std::optional<uint64_t> free = db_->FreeBytes();
  if (free.has_value() && *free < db_->min_free_bytes()) return;
  IgnoreError(db_->Resume());
}

std::deque<Committer::Pending*> Committer::TakeRefusedForSpace(std::deque<Pending*>& group) {
  std::deque<Pending*> refused;
  const uint64_t min_free = db_->min_free_bytes();
  if (min_free == 0 || group.empty()) return refused;
  std::optional<uint64_t> free = db_->FreeBytes();
  if (!free.has_value() || *free >= min_free) return refused;
  // Below the headroom only audit-only entries (reads, failed calls) are
  // written, and below half of it nothing: the room left is for RocksDB's
  // own flushes and for recovery.
  std::deque<Pending*> admitted;
  for (Pending* p : group) {
    // A catch-up (CatchUpMergeLog) writes nothing: it counts as audit-only.
    bool audit_only = p->batch.Count() == 0 && !p->stamp;
    if (audit_only && *free >= min_free / 2) {
      admitted.push_back(p);
    } else {
      p->result = WithReason(
          absl::ResourceExhaustedError(
              "storage nearly full: the vault keeps free space on its disk for recovery; free "
              "space or grow the volume"),
          "STORAGE_FULL");
      refused.push_back(p);
    }
  }
  group.swap(admitted);
  return refused;
}

void Committer::WriteGroup(std::deque<Pending*>& group, bool force_checkpoint) {
  std::deque<Pending*> refused = TakeRefusedForSpace(group);
  uint64_t first;
  bool fail;
  bool fail_journal;
  bool journal = journal_ != nullptr && !options_.omit_audit_for_benchmark;
  std::function<void()> before_write;
  {
    absl::MutexLock lock(&mu_);
    first = next_sequence_;
    fail = fail_writes_;
    fail_journal = fail_journal_;
    before_write = before_write_;
    if (journal_detached_) journal = false;
  }
  if (before_write) before_write();
  // Entry times never go backwards, even if the wall clock does.
  absl::Time now = std::max(clock_->Now(), last_time_);
  for (Pending* p : group) {
    if (!p->replayed.empty()) now = std::max(now, p->replayed.back().entry.time);
  }
  rocksdb::WriteBatch combined;
  AppendHandler append(&combined, db_);
  append.LogMerges(merge_log_.get());
  std::vector<MergeOperand> merges;
  if (options_.on_merges_written) append.CollectMerges(&merges);
  absl::Status status;
  uint64_t seq = first;
  bool checkpoint = force_checkpoint;
  bool changes = false;   // the group changes state: its journal append is synced
  bool catch_up = false;  // CatchUpMergeLog
  std::vector<std::string> canonical;
  for (Pending* p : group) {
    if (p->catch_up) {
      catch_up = true;
      continue;
    }
    checkpoint = checkpoint || p->checkpoint;
    changes = changes || p->batch.Count() > 0 || p->stamp;
    if (!p->replayed.empty()) {
      for (const StoredEntry& e : p->replayed) {
        if (!status.ok()) break;
        if (e.entry.sequence != seq++) {
          status = absl::InternalError("replay: entries out of sequence");
          break;
        }
        canonical.push_back(e.canonical);
        status = audit_log_->Stage(e.entry, e.canonical, combined);
      }
      p->entry.sequence = seq - 1;
      if (status.ok()) status = FromRocks(p->batch.Iterate(&append), "build commit batch");
      if (!status.ok()) break;
      continue;
    }
    p->entry.sequence = seq++;
    p->entry.time = now;
    if (IsReappliedOnRestore(p->entry)) checkpoint = true;  // a restore must find it verified
    if (!options_.omit_audit_for_benchmark) {
      canonical.push_back(audit::EncodeCanonical(p->entry));
      status = audit_log_->Stage(p->entry, canonical.back(), combined);
    }
    if (status.ok() && p->stamp) status = p->stamp(p->entry.sequence, p->batch);
    if (status.ok()) status = FromRocks(p->batch.Iterate(&append), "build commit batch");
    if (!status.ok()) break;
  }
  if (status.ok()) status = FromRocks(append.Finish(), "build commit batch");
  if (status.ok() && !options_.omit_audit_for_benchmark) {
    status = audit_log_->StageCheckpointIfDue(now, checkpoint, combined);
  }
  // The journal gets the group (and its checkpoint) before the database
  // does, so nothing is durable that a restore could not replay; a failed
  // append fails the group before anything is written.
  absl::Status journaled = absl::OkStatus();
  std::optional<AuditJournal::Mark> appended;
  const bool to_journal =
      status.ok() && journal && (!canonical.empty() || !audit_log_->StagedCheckpointNote().empty());
  if (to_journal) {
    // A pending cut goes first, so the mark taken is where this group starts.
    journaled = RewindPending();
    const AuditJournal::Mark mark = journal_->mark();
    if (journaled.ok()) {
      journaled = fail_journal
                      ? WithReason(absl::ResourceExhaustedError("audit journal: storage is full"),
                                   "STORAGE_FULL")
                      : AppendToJournal(first, canonical,
                                        changes || !audit_log_->StagedCheckpointNote().empty());
    }
    if (journaled.ok()) {
      appended = mark;
    } else {
      status = journaled;
    }
  }
  if (status.ok() && fail) status = absl::UnavailableError("storage error in commit (injected)");
  if (status.ok() && combined.Count() > 0) {
    const absl::Time started = absl::Now();  // the real time, whatever clock_ says
    status = db_->Write(&combined, "commit");
    write_seconds_.Observe(absl::ToDoubleSeconds(absl::Now() - started));
    if (!canonical.empty()) group_entries_.Observe(static_cast<double>(canonical.size()));
  }
  const bool written = status.ok();
  absl::Status published = absl::OkStatus();
  if (status.ok()) {
    // A checkpoint is served only once the high-water marks record it (else
    // the calls that need it fail): the one beside the journal first, so it
    // is never behind the one beside the database.
    const std::string note = audit_log_->StagedCheckpointNote();
    if (journal && !note.empty()) {
      absl::Status recorded = journal_high_water_->Record(note);
      if (!recorded.ok()) journaled = recorded;
    }
    published = audit_log_->CommitStaged();
    if (!note.empty() && published.ok()) {
      last_checkpoint_unix_nanos_.store(absl::ToUnixNanos(absl::Now()), std::memory_order_relaxed);
    }
    if (!journaled.ok()) published = journaled;
    last_time_ = now;
    // Before any caller is answered: what a call wrote is seen by its next one.
    if (merge_log_ != nullptr && merge_log_->fold_staged()) {
      for (const auto& [key, operand] : merge_log_->to_apply()) {
        merges.push_back({merge_log_->options().cf, key, operand});
      }
    }
    if (!merges.empty() && options_.on_merges_written) options_.on_merges_written(merges);
  } else {
    audit_log_->DiscardStaged();
    if (appended.has_value()) {
      // The group is in the journal but not in the database: cut it off
      // again (or before the next append, if this fails too).
      absl::Status cut = journal_->Rewind(*appended);
      if (!cut.ok()) {
        rewind_to_ = appended;
        journaled = cut;
      }
    }
    status = GroupWriteFailure(status);
  }
  absl::Status caught_up = absl::OkStatus();
  if (merge_log_ != nullptr) {
    // The group's record joins the written ones (or its staging is
    // forgotten); a catch-up then hands readers every one they lack.
    merge_log_->GroupDone(written);
    if (written && catch_up) {
      caught_up = merge_log_->CatchUp();  // fails only on a record it did not build
      if (caught_up.ok()) ReportToApply();
    }
  }

  std::vector<std::unique_ptr<Pending>> async;
  {
    absl::MutexLock lock(&mu_);
    if (status.ok()) next_sequence_ = seq;
    if (to_journal || !journaled.ok()) journal_error_ = journaled;
    for (Pending* p : group) {
      if (!status.ok()) {
        p->result = status;
      } else if (p->catch_up) {
        if (caught_up.ok()) {
          p->result = 0;  // no entry
        } else {
          p->result = caught_up;
        }
      } else if (p->checkpoint && !published.ok()) {
        p->result = published;
      } else {
        p->result = p->entry.sequence;
      }
    }
    group.insert(group.end(), refused.begin(), refused.end());
    for (Pending* p : group) {
      // A synchronous caller may free its Pending as soon as `done` is seen, so
      // only asynchronous ones are touched after the lock is released.
      if (p->on_done) {
        async.emplace_back(p);
      } else {
        p->done = true;
      }
    }
  }
  for (auto& p : async) p->on_done(std::move(p->result));
  // After the callers are answered.
  if (merge_log_ != nullptr) MaybeFoldMergeLog();
}

}  // namespace leadvault::vault
