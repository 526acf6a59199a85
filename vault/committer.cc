#include "vault/committer.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "keys/status_macros.h"
#include "rocksdb/options.h"
#include "vault/database.h"
#include "vault/internal/keys.h"

namespace leadvault::vault {

struct Committer::Pending {
  rocksdb::WriteBatch batch;
  audit::AuditEntry entry;
  absl::StatusOr<uint64_t> result = absl::UnknownError("pending");
  bool done = false;
  // Set for CommitAsync: the Pending is heap-owned and deleted after `on_done`.
  std::function<void(absl::StatusOr<uint64_t>)> on_done;
};

namespace {

// Re-applies one caller's batch to the group batch (RocksDB has no public batch append).
class AppendHandler final : public rocksdb::WriteBatch::Handler {
 public:
  explicit AppendHandler(rocksdb::WriteBatch* out) : out_(out) {}
  rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    return out_->Put(Handle(cf), key, value);
  }
  rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
    return out_->Delete(Handle(cf), key);
  }
  rocksdb::Status SingleDeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
    return out_->SingleDelete(Handle(cf), key);
  }
  rocksdb::Status DeleteRangeCF(uint32_t cf, const rocksdb::Slice& begin,
                                const rocksdb::Slice& end) override {
    return out_->DeleteRange(Handle(cf), begin, end);
  }
  rocksdb::Status MergeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return rocksdb::Status::NotSupported("merge");
  }
  void LogData(const rocksdb::Slice&) override {}

  void SetHandles(Database* db) { db_ = db; }

 private:
  rocksdb::ColumnFamilyHandle* Handle(uint32_t id) {
    for (Cf cf : {Cf::kLeads, Cf::kDek, Cf::kBidx, Cf::kExpiry, Cf::kQueue, Cf::kConsent,
                  Cf::kAudit, Cf::kMerkle, Cf::kMeta}) {
      if (db_->cf(cf)->GetID() == id) return db_->cf(cf);
    }
    return db_->db()->DefaultColumnFamily();
  }
  rocksdb::WriteBatch* out_;
  Database* db_ = nullptr;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Committer>> Committer::Start(Database* db, const Clock* clock) {
  // The next sequence follows the last audit entry on disk.
  uint64_t next = 1;
  std::unique_ptr<rocksdb::Iterator> it(
      db->db()->NewIterator(rocksdb::ReadOptions(), db->cf(Cf::kAudit)));
  it->SeekToLast();
  if (it->Valid()) {
    auto seq = internal::DecodeSequenceKey(absl::string_view(it->key().data(), it->key().size()));
    if (!seq.has_value()) return absl::DataLossError("audit: malformed sequence key");
    next = *seq + 1;
  }
  LV_RETURN_IF_ERROR(FromRocks(it->status(), "scan audit"));
  auto committer = std::unique_ptr<Committer>(new Committer(db, clock, next));
  committer->thread_ = std::thread([c = committer.get()] { c->Run(); });
  return committer;
}

Committer::Committer(Database* db, const Clock* clock, uint64_t next_sequence)
    : db_(db), clock_(clock), next_sequence_(next_sequence) {}

Committer::~Committer() { Stop(); }

void Committer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t Committer::next_sequence() const {
  absl::MutexLock lock(&mu_);
  return next_sequence_;
}

void Committer::SetFailWritesForTesting(bool fail) {
  absl::MutexLock lock(&mu_);
  fail_writes_ = fail;
}

absl::StatusOr<uint64_t> Committer::Commit(rocksdb::WriteBatch batch, audit::AuditEntry entry) {
  Pending pending;
  pending.batch = std::move(batch);
  pending.entry = std::move(entry);
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("vault is shutting down");
  queue_.push_back(&pending);
  mu_.Await(absl::Condition(&pending.done));
  return std::move(pending.result);
}

void Committer::CommitAsync(rocksdb::WriteBatch batch, audit::AuditEntry entry,
                            std::function<void(absl::StatusOr<uint64_t>)> done) {
  auto pending = std::make_unique<Pending>();
  pending->batch = std::move(batch);
  pending->entry = std::move(entry);
  pending->on_done = std::move(done);
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
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stopping_; };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and everything queued is done
      group.swap(queue_);
    }
    WriteGroup(group);
    group.clear();
  }
}

void Committer::WriteGroup(std::deque<Pending*>& group) {
  uint64_t first;
  bool fail;
  {
    absl::MutexLock lock(&mu_);
    first = next_sequence_;
    fail = fail_writes_;
  }
  const absl::Time now = clock_->Now();
  rocksdb::WriteBatch combined;
  AppendHandler append(&combined);
  append.SetHandles(db_);
  absl::Status status;
  uint64_t seq = first;
  for (Pending* p : group) {
    p->entry.sequence = seq++;
    p->entry.time = now;
    rocksdb::Status s = combined.Put(db_->cf(Cf::kAudit), internal::SequenceKey(p->entry.sequence),
                                     audit::EncodeCanonical(p->entry));
    if (s.ok()) s = p->batch.Iterate(&append);
    if (!s.ok()) {
      status = FromRocks(s, "build commit batch");
      break;
    }
  }
  if (status.ok() && fail) status = absl::UnavailableError("storage error in commit (injected)");
  if (status.ok()) {
    rocksdb::WriteOptions options;
    options.sync = true;
    status = FromRocks(db_->db()->Write(options, &combined), "commit");
  }
  if (!status.ok()) status = absl::UnavailableError("vault could not make the change durable");

  std::vector<std::unique_ptr<Pending>> async;
  {
    absl::MutexLock lock(&mu_);
    if (status.ok()) next_sequence_ = seq;
    for (Pending* p : group) {
      if (status.ok()) {
        p->result = p->entry.sequence;
      } else {
        p->result = status;
      }
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
}

}  // namespace leadvault::vault
