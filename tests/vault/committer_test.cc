#include "vault/committer.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "rocksdb/write_batch.h"
#include "tests/vault/vault_fixture.h"
#include "vault/funnel.h"

namespace leadvault::vault::testing {
namespace {

// A new vault's first entry records its initialization (keys generated).
constexpr uint64_t kInit = 1;

// One funnel key's value: its row plus its operands in the unfolded merge
// log (ForEachFunnelValue, as every reader of the aggregates reads them).
absl::StatusOr<FunnelCounters> FunnelValue(Database& db, const std::string& key) {
  FunnelCounters sum{};
  absl::Status read = ForEachFunnelValue(db, rocksdb::ReadOptions(), key.front(),
                                         [&](absl::string_view k, const FunnelCounters& counters) {
                                           if (k == key) {
                                             for (size_t i = 0; i < sum.size(); ++i)
                                               sum[i] += counters[i];
                                           }
                                           return absl::OkStatus();
                                         });
  if (!read.ok()) return read;
  return sum;
}

class CommitterTest : public VaultFixture {
 protected:
  void SetUp() override { OpenOrDie(); }

  // A batch that writes meta key "test/<name>".
  rocksdb::WriteBatch BatchFor(const std::string& name) {
    rocksdb::WriteBatch batch;
    EXPECT_TRUE(batch.Put(vault_->database().cf(Cf::kMeta), absl::StrCat("test/", name), "v").ok());
    return batch;
  }

  audit::AuditEntry EntryNamed(const std::string& name) {
    audit::AuditEntry e = EntryFor(MakeActor("00000000000000c0", "admin"), "TestAction");
    e.request_id = name;
    return e;
  }

  bool HasMeta(const std::string& name) {
    return vault_->database().Get(Cf::kMeta, absl::StrCat("test/", name)).ok();
  }

  absl::StatusOr<uint64_t> CommitNamed(const std::string& name) {
    return vault_->committer().Commit(BatchFor(name), EntryNamed(name));
  }
};

TEST_F(CommitterTest, SequencesHaveNoGapsUnderConcurrency) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::vector<std::vector<uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<uint64_t> seq = CommitNamed(absl::StrCat(t, "-", i));
        EXPECT_TRUE(seq.ok()) << seq.status();
        if (seq.ok()) got[t].push_back(*seq);
      }
    });
  }
  for (auto& th : threads) th.join();

  constexpr uint64_t kTotal = kThreads * kPerThread;
  std::set<uint64_t> returned;
  for (const auto& v : got) {
    // One caller's commits are ordered.
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    returned.insert(v.begin(), v.end());
  }
  ASSERT_EQ(returned.size(), kTotal);
  EXPECT_EQ(*returned.begin(), kInit + 1);
  EXPECT_EQ(*returned.rbegin(), kInit + kTotal);

  auto audit = ReadAudit(*vault_);
  ASSERT_EQ(audit.size(), kInit + kTotal);
  EXPECT_EQ(audit[0].second.action, "InitializeVault");
  std::set<std::string> request_ids;
  for (size_t i = kInit; i < audit.size(); ++i) {
    EXPECT_EQ(audit[i].first, i + 1);
    EXPECT_EQ(audit[i].second.sequence, i + 1);
    EXPECT_EQ(audit[i].second.time, clock_.Now());
    EXPECT_EQ(audit[i].second.action, "TestAction");
    request_ids.insert(audit[i].second.request_id);
  }
  EXPECT_EQ(request_ids.size(), kTotal);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) EXPECT_TRUE(HasMeta(absl::StrCat(t, "-", i)));
  }
  EXPECT_EQ(vault_->committer().next_sequence(), kInit + kTotal + 1);
}

TEST_F(CommitterTest, SequenceContinuesAcrossReopen) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(CommitNamed(absl::StrCat("a", i)).ok());
  Reopen();
  EXPECT_EQ(vault_->committer().next_sequence(), kInit + 6);
  absl::StatusOr<uint64_t> seq = CommitNamed("b");
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(*seq, kInit + 6);
  auto audit = ReadAudit(*vault_);
  ASSERT_EQ(audit.size(), kInit + 6);
  for (size_t i = 0; i < audit.size(); ++i) EXPECT_EQ(audit[i].first, i + 1);
}

TEST_F(CommitterTest, EntryTimeIsTheClockTimeAtCommit) {
  ASSERT_TRUE(CommitNamed("t1").ok());
  const absl::Time t1 = clock_.Now();
  clock_.Advance(absl::Seconds(90));
  ASSERT_TRUE(CommitNamed("t2").ok());
  auto audit = ReadAudit(*vault_);
  ASSERT_EQ(audit.size(), kInit + 2);
  EXPECT_EQ(audit[kInit].second.time, t1);
  EXPECT_EQ(audit[kInit + 1].second.time, t1 + absl::Seconds(90));
}

TEST_F(CommitterTest, FailedWriteAppliesNothingAndConsumesNoSequence) {
  ASSERT_TRUE(CommitNamed("before").ok());
  vault_->committer().SetFailWritesForTesting(true);
  absl::StatusOr<uint64_t> failed = CommitNamed("failed");
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
  EXPECT_FALSE(HasMeta("failed"));
  EXPECT_EQ(CountKeys(*vault_, Cf::kAudit), kInit + 1);
  EXPECT_EQ(vault_->committer().next_sequence(), kInit + 2);

  // A whole group of concurrent callers fails together.
  std::vector<std::thread> threads;
  std::vector<absl::StatusCode> codes(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back(
        [&, t] { codes[t] = CommitNamed(absl::StrCat("group", t)).status().code(); });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) {
    EXPECT_EQ(codes[t], absl::StatusCode::kUnavailable);
    EXPECT_FALSE(HasMeta(absl::StrCat("group", t)));
  }
  EXPECT_EQ(CountKeys(*vault_, Cf::kAudit), kInit + 1);

  vault_->committer().SetFailWritesForTesting(false);
  absl::StatusOr<uint64_t> next = CommitNamed("after");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, kInit + 2);
  EXPECT_TRUE(HasMeta("after"));
  auto audit = ReadAudit(*vault_);
  ASSERT_EQ(audit.size(), kInit + 2);
  EXPECT_EQ(audit[kInit].second.request_id, "before");
  EXPECT_EQ(audit[kInit + 1].first, kInit + 2);
  EXPECT_EQ(audit[kInit + 1].second.request_id, "after");
}

TEST_F(CommitterTest, EntryWithEmptyBatchIsStillAudited) {
  absl::StatusOr<uint64_t> seq =
      vault_->committer().Commit(rocksdb::WriteBatch(), EntryNamed("read"));
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(*seq, kInit + 1);
  auto audit = ReadAudit(*vault_);
  ASSERT_EQ(audit.size(), kInit + 1);
  EXPECT_EQ(audit[kInit].second.request_id, "read");
  EXPECT_EQ(audit[kInit].second.principal_id, "00000000000000c0");
}

TEST_F(CommitterTest, BatchOperationsOnEveryCfAreApplied) {
  ASSERT_TRUE(CommitNamed("x").ok());
  rocksdb::WriteBatch batch;
  ASSERT_TRUE(batch.Put(vault_->database().cf(Cf::kQueue), "q", "").ok());
  ASSERT_TRUE(batch.Put(vault_->database().cf(Cf::kLeads), "l", "rec").ok());
  ASSERT_TRUE(batch.Delete(vault_->database().cf(Cf::kMeta), "test/x").ok());
  ASSERT_TRUE(vault_->committer().Commit(std::move(batch), EntryNamed("y")).ok());
  EXPECT_FALSE(HasMeta("x"));
  EXPECT_TRUE(vault_->database().Get(Cf::kQueue, "q").ok());
  absl::StatusOr<std::string> l = vault_->database().Get(Cf::kLeads, "l");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(*l, "rec");
  EXPECT_FALSE(vault_->database().Get(Cf::kMeta, "q").ok()) << "written to the wrong CF";
}

TEST_F(CommitterTest, AsyncCommitsShareTheSequenceAndFailClosed) {
  constexpr int kAsync = 20;
  absl::Mutex mu;
  std::vector<uint64_t> seqs;
  absl::BlockingCounter pending(kAsync);
  for (int i = 0; i < kAsync; ++i) {
    const std::string name = absl::StrCat("async", i);
    vault_->committer().CommitAsync(BatchFor(name), EntryNamed(name),
                                    [&](absl::StatusOr<uint64_t> seq) {
                                      EXPECT_TRUE(seq.ok()) << seq.status();
                                      absl::MutexLock lock(&mu);
                                      if (seq.ok()) seqs.push_back(*seq);
                                      pending.DecrementCount();
                                    });
  }
  ASSERT_TRUE(CommitNamed("sync").ok());
  pending.Wait();
  std::sort(seqs.begin(), seqs.end());
  ASSERT_EQ(seqs.size(), static_cast<size_t>(kAsync));
  for (int i = 0; i < kAsync; ++i) EXPECT_TRUE(HasMeta(absl::StrCat("async", i)));
  EXPECT_EQ(CountKeys(*vault_, Cf::kAudit), kInit + kAsync + 1);
  EXPECT_EQ(vault_->committer().next_sequence(), kInit + kAsync + 2);

  // A failed write: the callback gets UNAVAILABLE and nothing is written.
  vault_->committer().SetFailWritesForTesting(true);
  absl::Notification failed;
  vault_->committer().CommitAsync(BatchFor("async-failed"), EntryNamed("async-failed"),
                                  [&](absl::StatusOr<uint64_t> seq) {
                                    EXPECT_EQ(seq.status().code(), absl::StatusCode::kUnavailable);
                                    failed.Notify();
                                  });
  failed.WaitForNotification();
  EXPECT_FALSE(HasMeta("async-failed"));
  vault_->committer().SetFailWritesForTesting(false);

  // After Stop the callback runs at once with UNAVAILABLE.
  vault_->committer().Stop();
  bool called = false;
  vault_->committer().CommitAsync(BatchFor("late"), EntryNamed("late"),
                                  [&](absl::StatusOr<uint64_t> seq) {
                                    EXPECT_EQ(seq.status().code(), absl::StatusCode::kUnavailable);
                                    called = true;
                                  });
  EXPECT_TRUE(called);
  EXPECT_FALSE(HasMeta("late"));
}

// A funnel row no lead writes (week 100000 starts in the year 3886).
FunnelCell TestCell(const std::string& service_line) {
  FunnelCell cell;
  cell.week = 100000;
  cell.source = SourceChannel::kWebForm;
  cell.service_line = service_line;
  return cell;
}

FunnelCounters Counters(int64_t leads, int64_t contacted) {
  FunnelCounters c{};
  c[kFunnelLeads] = leads;
  c[kFunnelContacted] = contacted;
  return c;
}

class MergeLogTest : public CommitterTest {
 protected:
  // Holds the committer on a group of its own until ReleaseAndWait(), so
  // that what is queued meanwhile is written as one group.
  // (Again after ReleaseAndWait.)
  void Park() {
    entered_ = std::make_shared<absl::Notification>();
    release_ = std::make_shared<absl::Notification>();
    parked_ = true;
    vault_->committer().SetBeforeWriteHookForTesting(
        [this, entered = entered_, release = release_] {
          if (parked_.exchange(false)) {
            entered->Notify();
            release->WaitForNotification();
          }
        });
    vault_->committer().CommitAsync(BatchFor("park"), EntryNamed("park"),
                                    [](absl::StatusOr<uint64_t> seq) { EXPECT_TRUE(seq.ok()); });
    entered_->WaitForNotification();
  }
  // CatchUpMergeLog() in one group with `batches`, queued before it.
  absl::Status CatchUpInAGroupWith(std::vector<rocksdb::WriteBatch> batches) {
    Park();
    const size_t queued = batches.size() + 1;
    for (rocksdb::WriteBatch& batch : batches) Queue(std::move(batch));
    absl::Status caught_up = absl::UnknownError("not run");
    std::thread reader([&] { caught_up = vault_->committer().CatchUpMergeLog(); });
    while (vault_->committer().queue_depth() < queued) absl::SleepFor(absl::Milliseconds(1));
    ReleaseAndWait();
    reader.join();
    return caught_up;
  }
  // Queues `batch`; ReleaseAndWait() returns once every queued one is answered.
  void Queue(rocksdb::WriteBatch batch) {
    const std::string name = absl::StrCat("queued", queued_++);
    vault_->committer().CommitAsync(std::move(batch), EntryNamed(name),
                                    [this](absl::StatusOr<uint64_t> seq) {
                                      EXPECT_TRUE(seq.ok()) << seq.status();
                                      absl::MutexLock lock(&mu_);
                                      ++answered_;
                                    });
  }
  void ReleaseAndWait() {
    release_->Notify();
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &MergeLogTest::AllAnswered));
    // The hook refers to this fixture; the vault outlives it.
    vault_->committer().SetBeforeWriteHookForTesting(nullptr);
  }
  bool AllAnswered() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return answered_ == queued_; }

  rocksdb::ColumnFamilyHandle* funnel_cf() { return vault_->database().cf(Cf::kFunnel); }

  // A key's value: its row plus its operands in the unfolded merge log.
  FunnelCounters Value(const std::string& key) {
    absl::StatusOr<FunnelCounters> c = FunnelValue(vault_->database(), key);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : FunnelCounters{};
  }

  // The unfolded merge log: per record, its operands' keys in order.
  std::vector<std::vector<std::string>> LogRecords() {
    std::vector<std::vector<std::string>> records;
    std::unique_ptr<rocksdb::Iterator> it(
        vault_->database().db()->NewIterator(rocksdb::ReadOptions(), funnel_cf()));
    const std::string prefix(1, kFunnelLog);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      std::vector<std::string>& keys = records.emplace_back();
      absl::Status read =
          ForEachOperandOfRecord(absl::string_view(it->value().data(), it->value().size()),
                                 [&](absl::string_view key, absl::string_view) {
                                   keys.emplace_back(key);
                                   return absl::OkStatus();
                                 });
      EXPECT_TRUE(read.ok()) << read;
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    return records;
  }

  absl::StatusOr<uint64_t> CommitMerge(const std::string& key, int64_t leads) {
    rocksdb::WriteBatch batch;
    EXPECT_TRUE(batch.Merge(funnel_cf(), key, EncodeFunnelCounters(Counters(leads, 0))).ok());
    return vault_->committer().Commit(std::move(batch), EntryNamed(absl::StrCat("merge-", key)));
  }

  // Returns once the committer has finished what it does after a group (a
  // fold): it writes the next group only then.
  void Settle() {
    ASSERT_TRUE(vault_->committer().Commit(rocksdb::WriteBatch(), EntryNamed("settle")).ok());
  }

  // How many operands RocksDB holds for `key` (none flushed or compacted yet).
  int Operands(const std::string& key) {
    std::vector<rocksdb::PinnableSlice> slices(64);
    rocksdb::GetMergeOperandsOptions options;
    options.expected_max_number_of_operands = static_cast<int>(slices.size());
    int n = 0;
    rocksdb::Status s = vault_->database().db()->GetMergeOperands(
        rocksdb::ReadOptions(), funnel_cf(), key, slices.data(), &options, &n);
    if (s.IsNotFound()) return 0;
    EXPECT_TRUE(s.ok()) << s.ToString();
    return n;
  }

  // The table's counts of `cell` (zeros: none) as of the last fold or
  // catch-up.
  FunnelTable::Counts TableCountsSeen(const FunnelCell& cell) {
    FunnelTable::Counts found{};
    vault_->funnel_table().ForEach(
        cell.week, cell.week + 1, [&](const FunnelTable::Cell& c, const FunnelTable::Counts& n) {
          if (vault_->funnel_table().Name(c.service_line) == cell.service_line) found = n;
        });
    return found;
  }

  std::atomic<bool> parked_{false};
  std::shared_ptr<absl::Notification> entered_;
  std::shared_ptr<absl::Notification> release_;
  absl::Mutex mu_;
  int queued_ = 0;
  int answered_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(MergeLogTest, AGroupWritesItsFunnelOperandsAsOneRecord) {
  const FunnelCell a = TestCell("combine-a");
  const FunnelCell b = TestCell("combine-b");
  const std::string key_a = FunnelKey(kFunnelAggregate, a);
  const std::string key_b = FunnelKey(kFunnelAggregate, b);
  Park();
  constexpr int kCalls = 40;
  for (int i = 0; i < kCalls; ++i) {
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Merge(funnel_cf(), key_a, EncodeFunnelCounters(Counters(1, i % 2))).ok());
    if (i % 4 == 0) {
      ASSERT_TRUE(batch.Merge(funnel_cf(), key_b, EncodeFunnelCounters(Counters(2, -1))).ok());
    }
    // Other column families in the same batches are written as they came.
    ASSERT_TRUE(batch.Put(vault_->database().cf(Cf::kMeta), absl::StrCat("test/m", i), "v").ok());
    Queue(std::move(batch));
  }
  ReleaseAndWait();

  EXPECT_EQ(Value(key_a), Counters(kCalls, kCalls / 2));
  EXPECT_EQ(Value(key_b), Counters(2 * kCalls / 4, -kCalls / 4));
  // The group's one record of the merge log holds every operand (40 and 10
  // calls), in the calls' order; none is in the rows yet.
  std::vector<std::vector<std::string>> records = LogRecords();
  ASSERT_EQ(records.size(), 1u);  // the park's group has no funnel operand
  std::vector<std::string> keys;
  for (int i = 0; i < kCalls; ++i) {
    keys.push_back(key_a);
    if (i % 4 == 0) keys.push_back(key_b);
  }
  EXPECT_EQ(records.front(), keys);
  EXPECT_EQ(Operands(key_a), 0);
  EXPECT_EQ(Operands(key_b), 0);
  for (int i = 0; i < kCalls; ++i) EXPECT_TRUE(HasMeta(absl::StrCat("m", i)));
  // A clean stop folds the log: one operand per key in the rows (combined
  // there), no record.
  vault_->committer().Stop();
  EXPECT_TRUE(LogRecords().empty());
  EXPECT_EQ(Operands(key_a), 1);
  EXPECT_EQ(Operands(key_b), 1);
  EXPECT_EQ(Value(key_a), Counters(kCalls, kCalls / 2));
  EXPECT_EQ(Value(key_b), Counters(2 * kCalls / 4, -kCalls / 4));
  // The in-memory table was fed the operands, and agrees.
  FunnelTable::Counts want_a{};
  want_a[kFunnelLeads] = kCalls;
  want_a[kFunnelContacted] = kCalls / 2;
  EXPECT_EQ(TableCountsSeen(a), want_a);
  FunnelTable::Counts want_b{};
  want_b[kFunnelLeads] = 2 * kCalls / 4;
  want_b[kFunnelContacted] = -kCalls / 4;
  EXPECT_EQ(TableCountsSeen(b), want_b);
  // Every call has its own audit entry still.
  EXPECT_EQ(CountKeys(*vault_, Cf::kAudit), kInit + 1 + kCalls);
}

TEST_F(MergeLogTest, APutOrDeleteBetweenMergesKeepsTheirOrder) {
  const std::string put_key = FunnelKey(kFunnelPurged, TestCell("order-put"));
  const std::string delete_key = FunnelKey(kFunnelPurged, TestCell("order-delete"));
  Park();
  auto merge = [&](const std::string& key, int64_t leads) {
    rocksdb::WriteBatch batch;
    EXPECT_TRUE(batch.Merge(funnel_cf(), key, EncodeFunnelCounters(Counters(leads, 0))).ok());
    Queue(std::move(batch));
  };
  merge(put_key, 1);
  merge(put_key, 2);
  {
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put(funnel_cf(), put_key, EncodeFunnelCounters(Counters(100, 7))).ok());
    Queue(std::move(batch));
  }
  merge(put_key, 10);
  merge(put_key, 20);
  merge(delete_key, 5);
  {
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Delete(funnel_cf(), delete_key).ok());
    Queue(std::move(batch));
  }
  merge(delete_key, 3);
  ReleaseAndWait();

  // Merges combined across the Put or Delete would have landed after it
  // (133 and 8).
  EXPECT_EQ(Value(put_key), Counters(130, 7));
  EXPECT_EQ(Value(delete_key), Counters(3, 0));
}

TEST_F(MergeLogTest, ARowWrittenDirectlyFoldsTheLogFirst) {
  const std::string key = FunnelKey(kFunnelPurged, TestCell("fold-first"));
  ASSERT_TRUE(CommitMerge(key, 1).ok());  // a record of its own
  ASSERT_EQ(LogRecords().size(), 1u);
  {
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put(funnel_cf(), key, EncodeFunnelCounters(Counters(100, 7))).ok());
    ASSERT_TRUE(vault_->committer().Commit(std::move(batch), EntryNamed("put")).ok());
  }
  // The record was folded in the Put's own batch, before the Put.
  EXPECT_TRUE(LogRecords().empty());
  ASSERT_TRUE(CommitMerge(key, 10).ok());
  // Folded after the Put, the first operand would count again (111).
  EXPECT_EQ(Value(key), Counters(110, 7));
  Reopen();  // a clean stop folds; the next open finds nothing to fold
  EXPECT_TRUE(LogRecords().empty());
  EXPECT_EQ(Value(key), Counters(110, 7));
  // Record numbers start again after an open (the old records' deletion
  // covers only what was written before it).
  ASSERT_TRUE(CommitMerge(key, 5).ok());
  EXPECT_EQ(LogRecords().size(), 1u);
  EXPECT_EQ(Value(key), Counters(115, 7));
  Reopen();
  EXPECT_EQ(Value(key), Counters(115, 7));
}

class FoldingTest : public MergeLogTest {
 protected:
  void SetUp() override {
    MergeLogOptions often;
    often.fold_every_groups = 4;
    often.fold_max_operands = 5;
    committer_options_.merge_log = often;
    OpenOrDie();
  }
};

TEST_F(FoldingTest, TheLogIsFoldedEveryFewGroupsOrOperands) {
  const std::string key = FunnelKey(kFunnelPurged, TestCell("fold-every"));
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(CommitMerge(key, i).ok());
    Settle();
    // Folded after its 4th record: never 4 unfolded ones.
    EXPECT_EQ(LogRecords().size(), static_cast<size_t>(i % 4)) << i;
  }
  EXPECT_EQ(Operands(key), 2);             // 1..4 and 5..8, one operand per fold
  EXPECT_EQ(Value(key), Counters(55, 0));  // 1 + ... + 10
  // Five operands (two records of one, then one of three) fold at once:
  // the third record, not the fourth.
  EXPECT_EQ(LogRecords().size(), 2u);
  {
    rocksdb::WriteBatch batch;
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(batch
                      .Merge(funnel_cf(), FunnelKey(kFunnelPurged, TestCell(absl::StrCat("k", i))),
                             EncodeFunnelCounters(Counters(1, 0)))
                      .ok());
    }
    ASSERT_TRUE(vault_->committer().Commit(std::move(batch), EntryNamed("two-keys")).ok());
  }
  Settle();
  EXPECT_TRUE(LogRecords().empty());
  EXPECT_EQ(Operands(key), 3);
  EXPECT_EQ(Value(key), Counters(55, 0));
}

// The in-memory table follows the folds: a group's logged operands reach it
// with the fold that takes them out of the log, or earlier with a
// CatchUpMergeLog (what a report calls first), which writes nothing and
// counts every record written, its own group's included; a later fold then
// hands the table only what came after.
TEST_F(MergeLogTest, TheTableCountsEachLoggedOperandOnceByFoldOrCatchUp) {
  const FunnelCell cell = TestCell("catch-up");
  const std::string key = FunnelKey(kFunnelAggregate, cell);
  FunnelTable::Counts leads{};
  auto counting = [&leads](int n) {
    leads[kFunnelLeads] = n;
    return leads;
  };
  ASSERT_TRUE(CommitMerge(key, 3).ok());
  ASSERT_TRUE(CommitMerge(key, 3).ok());
  EXPECT_EQ(Value(key), Counters(6, 0));          // rows plus log
  EXPECT_EQ(TableCountsSeen(cell), counting(0));  // nothing folded yet
  ASSERT_TRUE(vault_->committer().CatchUpMergeLog().ok());
  EXPECT_EQ(TableCountsSeen(cell), counting(6));
  EXPECT_EQ(LogRecords().size(), 2u);  // nothing written: still logged
  EXPECT_EQ(Operands(key), 0);

  // A fold after it (here for a direct write) hands the table only the
  // record written since: 10, not 16.
  ASSERT_TRUE(CommitMerge(key, 4).ok());
  EXPECT_EQ(TableCountsSeen(cell), counting(6));
  {
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch
                    .Put(funnel_cf(), FunnelKey(kFunnelPurged, TestCell("catch-up-put")),
                         EncodeFunnelCounters(Counters(1, 0)))
                    .ok());
    ASSERT_TRUE(vault_->committer().Commit(std::move(batch), EntryNamed("put")).ok());
  }
  EXPECT_TRUE(LogRecords().empty());
  EXPECT_EQ(TableCountsSeen(cell), counting(10));
  EXPECT_EQ(Value(key), Counters(10, 0));

  // The calls of the catch-up's own group are counted too.
  {
    std::vector<rocksdb::WriteBatch> batches(1);
    ASSERT_TRUE(batches[0].Merge(funnel_cf(), key, EncodeFunnelCounters(Counters(5, 0))).ok());
    absl::Status caught_up = CatchUpInAGroupWith(std::move(batches));
    ASSERT_TRUE(caught_up.ok()) << caught_up;
  }
  EXPECT_EQ(TableCountsSeen(cell), counting(15));

  // A catch-up whose group fails counts nothing; the next one counts it once.
  ASSERT_TRUE(CommitMerge(key, 1).ok());
  vault_->committer().SetFailWritesForTesting(true);
  EXPECT_FALSE(vault_->committer().CatchUpMergeLog().ok());
  vault_->committer().SetFailWritesForTesting(false);
  EXPECT_EQ(TableCountsSeen(cell), counting(15));
  ASSERT_TRUE(vault_->committer().CatchUpMergeLog().ok());
  EXPECT_EQ(TableCountsSeen(cell), counting(16));
  ASSERT_TRUE(vault_->committer().CatchUpMergeLog().ok());  // nothing new
  EXPECT_EQ(TableCountsSeen(cell), counting(16));

  // A catch-up in a group that also folds for a direct write: the fold hands
  // the table the record it had not seen (2), the catch-up the group's (3).
  ASSERT_TRUE(CommitMerge(key, 2).ok());
  {
    std::vector<rocksdb::WriteBatch> batches(2);
    ASSERT_TRUE(batches[0].Merge(funnel_cf(), key, EncodeFunnelCounters(Counters(3, 0))).ok());
    ASSERT_TRUE(batches[1]
                    .Put(funnel_cf(), FunnelKey(kFunnelPurged, TestCell("catch-up-put")),
                         EncodeFunnelCounters(Counters(2, 0)))
                    .ok());
    absl::Status caught_up = CatchUpInAGroupWith(std::move(batches));
    ASSERT_TRUE(caught_up.ok()) << caught_up;
  }
  EXPECT_EQ(TableCountsSeen(cell), counting(21));
  EXPECT_EQ(Value(key), Counters(21, 0));

  // Eleven calls (five merges, two puts, two parks, two queued merges); a
  // catch-up has no audit entry of its own.
  EXPECT_EQ(CountKeys(*vault_, Cf::kAudit), kInit + 11);
  // The clean stop folds all of it, and counts none of it again.
  vault_->committer().Stop();
  EXPECT_TRUE(LogRecords().empty());
  EXPECT_EQ(TableCountsSeen(cell), counting(21));
  EXPECT_EQ(Value(key), Counters(21, 0));
}

// A fold is due too once the records the committer keeps reach
// fold_max_bytes.
class FoldingByBytesTest : public MergeLogTest {
 protected:
  void SetUp() override {
    MergeLogOptions by_bytes;
    by_bytes.fold_max_bytes = 40;
    committer_options_.merge_log = by_bytes;
    OpenOrDie();
  }
};

TEST_F(FoldingByBytesTest, TheLogIsFoldedOnceItsRecordsReachTheByteBound) {
  const std::string key = FunnelKey(kFunnelPurged, TestCell("fold-bytes"));
  // A record of one operand of this key is 26 bytes: every second one
  // reaches 40.
  for (int i = 1; i <= 6; ++i) {
    ASSERT_TRUE(CommitMerge(key, i).ok());
    Settle();
    EXPECT_EQ(LogRecords().size(), static_cast<size_t>(i % 2)) << i;
  }
  EXPECT_EQ(Operands(key), 3);
  EXPECT_EQ(Value(key), Counters(21, 0));
}

TEST_F(FoldingTest, AFailedGroupsRecordCountsNothing) {
  const std::string key = FunnelKey(kFunnelPurged, TestCell("fold-failed"));
  ASSERT_TRUE(CommitMerge(key, 1).ok());
  vault_->committer().SetFailWritesForTesting(true);
  EXPECT_FALSE(CommitMerge(key, 1000).ok());
  vault_->committer().SetFailWritesForTesting(false);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(CommitMerge(key, 2).ok());  // folds on the way
  EXPECT_EQ(Value(key), Counters(11, 0));
  Reopen();
  EXPECT_EQ(Value(key), Counters(11, 0));
}

TEST_F(FoldingTest, AFailedGroupThatFoldedForADirectWriteFoldsNothing) {
  const std::string key = FunnelKey(kFunnelPurged, TestCell("fold-failed-put"));
  ASSERT_TRUE(CommitMerge(key, 1).ok());
  auto put = [&](int64_t leads) {
    rocksdb::WriteBatch batch;
    EXPECT_TRUE(batch.Put(funnel_cf(), key, EncodeFunnelCounters(Counters(leads, 0))).ok());
    return vault_->committer().Commit(std::move(batch), EntryNamed("put"));
  };
  vault_->committer().SetFailWritesForTesting(true);
  EXPECT_FALSE(put(100).ok());  // staged the fold of the first record, then failed
  vault_->committer().SetFailWritesForTesting(false);
  ASSERT_TRUE(CommitMerge(key, 2).ok());
  EXPECT_EQ(Value(key), Counters(3, 0));  // the first record still counts, once
  ASSERT_TRUE(put(100).ok());
  ASSERT_TRUE(CommitMerge(key, 10).ok());
  EXPECT_EQ(Value(key), Counters(110, 0));
  Reopen();
  EXPECT_EQ(Value(key), Counters(110, 0));
}

TEST_F(FoldingTest, RecordsACrashLeftAreCountedAndFoldedAtOpen) {
  // What a kill -9 leaves: rows plus unfolded records (written here as the
  // committer writes them, with the vault closed).
  const FunnelCell cell = TestCell("crash-left");
  const std::string key = FunnelKey(kFunnelAggregate, cell);
  ASSERT_TRUE(CommitMerge(key, 3).ok());
  vault_.reset();
  {
    absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(DataDir(), DatabaseOptions{});
    ASSERT_TRUE(db.ok()) << db.status();
    rocksdb::WriteBatch batch;
    // The last number a key can hold too: its deletion must still cover it.
    for (auto [n, leads] : {std::pair<uint64_t, int64_t>{7, 7}, {~uint64_t{0}, 11}}) {
      std::string record;
      AppendLoggedOperand(key, EncodeFunnelCounters(Counters(leads, 1)), record);
      ASSERT_TRUE(
          batch.Put((*db)->cf(Cf::kFunnel), MergeLogKey(std::string(1, kFunnelLog), n), record)
              .ok());
    }
    ASSERT_TRUE((*db)->Write(&batch, "test").ok());
    // A reader of the rows sees the records' operands too: one key's value,
    // the table a start loads, the check's.
    absl::StatusOr<FunnelCounters> value = FunnelValue(**db, key);
    ASSERT_TRUE(value.ok()) << value.status();
    EXPECT_EQ(*value, Counters(21, 2));
    FunnelTable table;
    ASSERT_TRUE(table.Load(**db).ok());
    FunnelTable::Counts loaded{};
    table.ForEach(cell.week, cell.week + 1,
                  [&](const FunnelTable::Cell&, const FunnelTable::Counts& n) { loaded = n; });
    EXPECT_EQ(loaded[kFunnelLeads], 21);
    EXPECT_EQ(loaded[kFunnelContacted], 2);
  }
  OpenOrDie();
  EXPECT_TRUE(LogRecords().empty());
  EXPECT_EQ(Value(key), Counters(21, 2));
  FunnelTable::Counts want{};
  want[kFunnelLeads] = 21;
  want[kFunnelContacted] = 2;
  EXPECT_EQ(TableCountsSeen(cell), want);
}

TEST(MergeLogRecordTest, MalformedRecordsAreDataLoss) {
  std::string record;
  AppendLoggedOperand("key", "operand", record);
  AppendLoggedOperand("", "", record);
  std::vector<std::pair<std::string, std::string>> seen;
  auto collect = [&](absl::string_view key, absl::string_view operand) {
    seen.emplace_back(key, operand);
    return absl::OkStatus();
  };
  ASSERT_TRUE(ForEachOperandOfRecord(record, collect).ok());
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{{"key", "operand"}, {"", ""}}));
  for (const std::string& bad : {record.substr(0, record.size() - 1), record.substr(0, 5),
                                 std::string("\x05"
                                             "ab"),
                                 std::string("\x80\x80\x80\x80\x80\x01"), std::string("\x03key")}) {
    absl::Status s = ForEachOperandOfRecord(
        bad, [](absl::string_view, absl::string_view) { return absl::OkStatus(); });
    EXPECT_TRUE(absl::IsDataLoss(s)) << s;
    EXPECT_EQ(s.message(), "merge log: malformed record");
  }
}

TEST_F(CommitterTest, StopMakesLaterCommitsUnavailable) {
  ASSERT_TRUE(CommitNamed("before").ok());
  vault_->committer().Stop();
  absl::StatusOr<uint64_t> after = CommitNamed("after");
  EXPECT_EQ(after.status().code(), absl::StatusCode::kUnavailable) << after.status();
  EXPECT_FALSE(HasMeta("after"));
  EXPECT_EQ(CountKeys(*vault_, Cf::kAudit), kInit + 1);
  vault_->committer().Stop();  // Idempotent.
}

}  // namespace
}  // namespace leadvault::vault::testing
