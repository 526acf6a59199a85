// Storage faults: what the fault-injecting FileSystem does, and how the vault
// reports a full disk, a failed fsync and corrupted table data.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "rocksdb/table_properties.h"
#include "tests/testing/fakes.h"
#include "tests/testing/fault_fs.h"
#include "tests/vault/vault_fixture.h"
#include "vault/database.h"

namespace leadvault::vault::testing {
namespace {

using leadvault::testing::FaultEnv;
using leadvault::testing::ScratchDir;

// A plain RocksDB database over the fault env, to test the injector alone.
std::unique_ptr<rocksdb::DB> OpenRaw(const std::string& dir, rocksdb::Env* env) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.env = env;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::unique_ptr<rocksdb::DB>(raw);
}

rocksdb::WriteOptions Synced() {
  rocksdb::WriteOptions options;
  options.sync = true;
  return options;
}

TEST(FaultFileSystemTest, ForwardsEverythingWithEverySwitchOff) {
  ScratchDir dir;
  FaultEnv fault;
  auto db = OpenRaw(dir.path(), fault.env());
  ASSERT_TRUE(db->Put(Synced(), "k", "v").ok());
  ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
  std::string value;
  ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), "k", &value).ok());
  EXPECT_EQ(value, "v");
  EXPECT_EQ(fault.fs().injected(), 0u);
}

TEST(FaultFileSystemTest, NoSpaceFailsAWriteWithNoSpace) {
  ScratchDir dir;
  FaultEnv fault;
  auto db = OpenRaw(dir.path(), fault.env());
  fault.fs().SetNoSpace(true);
  rocksdb::Status s = db->Put(Synced(), "k", "v");
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_GT(fault.fs().injected(), 0u);
}

TEST(FaultFileSystemTest, FailSyncFailsASyncedWrite) {
  ScratchDir dir;
  FaultEnv fault;
  auto db = OpenRaw(dir.path(), fault.env());
  fault.fs().SetFailSync(true);
  rocksdb::Status s = db->Put(Synced(), "k", "v");
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_FALSE(s.IsNoSpace());
  EXPECT_GT(fault.fs().injected(), 0u);
}

TEST(FaultFileSystemTest, CorruptReadsFailTableReadsWithCorruption) {
  ScratchDir dir;
  FaultEnv fault;
  {
    auto db = OpenRaw(dir.path(), fault.env());
    ASSERT_TRUE(db->Put(Synced(), "k", "v").ok());
    ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
  }
  fault.fs().SetCorruptReads(true);
  rocksdb::Options options;
  options.env = fault.env();
  options.paranoid_checks = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir.path(), &raw);
  std::unique_ptr<rocksdb::DB> db(raw);
  if (s.ok()) {  // the table may be opened lazily: then the read finds it
    std::string value;
    s = db->Get(rocksdb::ReadOptions(), "k", &value);
  }
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_GT(fault.fs().injected(), 0u);
  // The file itself is intact: with the switch off the value reads back.
  db.reset();
  fault.fs().SetCorruptReads(false);
  auto clean = OpenRaw(dir.path(), fault.env());
  std::string value;
  ASSERT_TRUE(clean->Get(rocksdb::ReadOptions(), "k", &value).ok());
  EXPECT_EQ(value, "v");
}

// Flips one bit of the byte at `offset` of the file at `path`, on disk.
void FlipBitOnDisk(const std::string& path, uint64_t offset) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char byte = 0;
  ASSERT_EQ(::pread(fd, &byte, 1, static_cast<off_t>(offset)), 1);
  byte ^= 0x10;
  ASSERT_EQ(::pwrite(fd, &byte, 1, static_cast<off_t>(offset)), 1);
  ASSERT_EQ(::fsync(fd), 0);
  ::close(fd);
}

// A status a client may see: no path, nothing of RocksDB's wording.
void ExpectGenericText(const absl::Status& status) {
  const std::string message = absl::AsciiStrToLower(status.message());
  EXPECT_FALSE(absl::StrContains(message, "/")) << message;
  for (const char* word : {"rocksdb", "corruption", "checksum", "block", ".sst", ".log", "manifest",
                           "io error", "no space", "injected"}) {
    EXPECT_FALSE(absl::StrContains(message, word)) << word << " in: " << message;
  }
}

// A vault over the fault-injecting file system whose storage-error detail
// lines are collected.
class StorageFaultTest : public VaultFixture {
 protected:
  // The vault closes before the file system and the log it uses go away.
  ~StorageFaultTest() override { vault_.reset(); }

  void OpenFaultVault() {
    absl::StatusOr<std::unique_ptr<Vault>> v = OpenVaultOverFaults();
    ASSERT_TRUE(v.ok()) << v.status() << "\n" << absl::StrJoin(Logged(), "\n");
    vault_ = *std::move(v);
  }

  absl::StatusOr<std::unique_ptr<Vault>> OpenVaultOverFaults() {
    VaultOptions options;
    options.data_dir = DataDir();
    options.clock = &clock_;
    options.random = &random_;
    options.database.block_cache_bytes = 1 << 20;
    options.database.write_buffer_bytes = 1 << 20;
    options.database.env = fault_.env();
    options.database.storage_error_log = [this](const std::string& detail) {
      absl::MutexLock lock(&mu_);
      logged_.push_back(detail);
    };
    return Vault::Open(options, TestKek(1));
  }

  std::vector<std::string> Logged() {
    absl::MutexLock lock(&mu_);
    return logged_;
  }

  // Creates one lead, flushes it into a table file, closes the vault and
  // flips a bit in the middle of that file's data blocks. Returns the lead id.
  std::string LeadInACorruptedTableFile(std::string* table_file) {
    OpenFaultVault();
    absl::StatusOr<CreateResult> created =
        vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k1"));
    EXPECT_TRUE(created.ok()) << created.status();
    EXPECT_TRUE(vault_->database().Flush().ok());
    rocksdb::TablePropertiesCollection tables;
    EXPECT_TRUE(vault_->database()
                    .db()
                    ->GetPropertiesOfAllTables(vault_->database().cf(Cf::kLeads), &tables)
                    .ok());
    EXPECT_EQ(tables.size(), 1u);
    vault_.reset();
    if (tables.empty() || !created.ok()) return "";
    const auto& [path, properties] = *tables.begin();
    EXPECT_GT(properties->data_size, 0u);
    FlipBitOnDisk(path, properties->data_size / 2);
    *table_file = path.substr(path.rfind('/') + 1);
    return created->lead_id;
  }

  FaultEnv fault_;
  absl::Mutex mu_;
  std::vector<std::string> logged_ ABSL_GUARDED_BY(mu_);
};

TEST_F(StorageFaultTest, AFlippedBitInATableFileIsDataLossWithGenericText) {
  std::string table_file;
  const std::string lead_id = LeadInACorruptedTableFile(&table_file);
  ASSERT_FALSE(lead_id.empty());

  // Reopened with paranoid checks; the data block is first read by the Get.
  {
    DatabaseOptions options;
    options.env = fault_.env();
    options.storage_error_log = [this](const std::string& detail) {
      absl::MutexLock lock(&mu_);
      logged_.push_back(detail);
    };
    absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(DataDir(), options);
    ASSERT_TRUE(db.ok()) << db.status();
    absl::StatusOr<std::string> read = (*db)->Get(Cf::kLeads, lead_id);
    ASSERT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << read.status();
    EXPECT_EQ(read.status().message(), "stored data failed its integrity check in read");
    ExpectGenericText(read.status());
  }
  // RocksDB's account of it, naming the file, went to the local log only.
  bool detail_logged = false;
  for (const std::string& line : Logged()) {
    detail_logged = detail_logged || (absl::StrContains(line, "checksum mismatch") &&
                                      absl::StrContains(line, table_file));
  }
  EXPECT_TRUE(detail_logged) << absl::StrJoin(Logged(), "\n");

  // Through the vault the same. (A background compaction may read the block
  // first: then the database holds the error and the open's own commit fails,
  // as DATA_LOSS too.)
  absl::StatusOr<std::unique_ptr<Vault>> vault = OpenVaultOverFaults();
  if (!vault.ok()) {
    EXPECT_EQ(vault.status().code(), absl::StatusCode::kDataLoss) << vault.status();
    ExpectGenericText(vault.status());
    return;
  }
  vault_ = *std::move(vault);
  absl::StatusOr<Lead> lead = vault_->leads().GetLead(IntakeActor(), lead_id);
  ASSERT_EQ(lead.status().code(), absl::StatusCode::kDataLoss) << lead.status();
  ExpectGenericText(lead.status());
}

TEST_F(StorageFaultTest, CorruptedReadsAreDataLossWithGenericText) {
  OpenFaultVault();
  absl::StatusOr<CreateResult> created =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k1"));
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(vault_->database().Flush().ok());
  vault_.reset();
  OpenFaultVault();
  fault_.fs().SetCorruptReads(true);  // the disk now returns a flipped bit; the file is intact

  absl::StatusOr<Lead> lead = vault_->leads().GetLead(IntakeActor(), created->lead_id);
  ASSERT_EQ(lead.status().code(), absl::StatusCode::kDataLoss) << lead.status();
  ExpectGenericText(lead.status());
  EXPECT_GT(fault_.fs().injected(), 0u);
  EXPECT_FALSE(Logged().empty());
}

TEST_F(StorageFaultTest, VerifyChecksumsPassesACleanDatabase) {
  OpenFaultVault();
  ASSERT_TRUE(
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k1")).ok());
  ASSERT_TRUE(vault_->database().Flush().ok());
  // While the vault holds the database: a read-only check takes no lock.
  absl::StatusOr<ChecksumSummary> summary = Database::VerifyChecksums(DataDir());
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_GT(summary->table_files, 0u);
  EXPECT_GT(summary->table_bytes, 0u);
  vault_.reset();
  summary = Database::VerifyChecksums(DataDir());
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(Database::VerifyChecksums(dir_.path() + "/none").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(StorageFaultTest, VerifyChecksumsFindsTheFlippedBit) {
  std::string table_file;
  ASSERT_FALSE(LeadInACorruptedTableFile(&table_file).empty());

  absl::StatusOr<ChecksumSummary> summary = Database::VerifyChecksums(DataDir());
  ASSERT_EQ(summary.status().code(), absl::StatusCode::kDataLoss) << summary.status();
  // An operator's message: the file by its base name, and what is wrong with it.
  EXPECT_TRUE(absl::StrContains(summary.status().message(), table_file)) << summary.status();
  EXPECT_TRUE(absl::StrContains(summary.status().message(), "checksum mismatch"))
      << summary.status();
  EXPECT_FALSE(absl::StrContains(summary.status().message(), "/")) << summary.status();
}

TEST_F(StorageFaultTest, AFullDiskIsResourceExhaustedFromACommit) {
  OpenFaultVault();
  const uint64_t next = vault_->committer().next_sequence();
  fault_.fs().SetNoSpace(true);

  absl::StatusOr<CreateResult> created =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k1"));
  ASSERT_EQ(created.status().code(), absl::StatusCode::kResourceExhausted) << created.status();
  EXPECT_EQ(created.status().message(), "storage is full");
  ExpectGenericText(created.status());
  EXPECT_GT(fault_.fs().injected(), 0u);
  EXPECT_EQ(vault_->committer().next_sequence(), next);  // the failed group took no number
  EXPECT_EQ(CountKeys(*vault_, Cf::kLeads), 0u);
  EXPECT_FALSE(Logged().empty());
}

TEST_F(StorageFaultTest, AFailedFsyncIsUnavailableAndNothingOfTheGroupIsVisible) {
  OpenFaultVault();
  const uint64_t next = vault_->committer().next_sequence();
  const auto before = DumpAll(*vault_);
  fault_.fs().SetFailSync(true);

  constexpr int kCallers = 6;
  std::vector<absl::StatusCode> codes(kCallers);
  std::vector<std::string> messages(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      absl::StatusOr<CreateResult> created = vault_->leads().CreateLead(
          CaptureActor(), MakeNewLead(EmailOnlyInput(i), "ortho", absl::StrCat("k", i)));
      codes[i] = created.status().code();
      messages[i] = std::string(created.status().message());
    });
  }
  for (auto& c : callers) c.join();

  for (int i = 0; i < kCallers; ++i) {
    EXPECT_EQ(codes[i], absl::StatusCode::kUnavailable) << i << ": " << messages[i];
    EXPECT_EQ(messages[i], "vault could not make the change durable");
  }
  EXPECT_GT(fault_.fs().injected(), 0u);
  EXPECT_EQ(vault_->committer().next_sequence(), next);
  EXPECT_EQ(DumpAll(*vault_), before);  // not a lead, index row or audit entry of them

  // After a restart the group whose WAL append was written but not synced may
  // be back (the OS kept the bytes): then whole, each lead with its entry, and
  // the log still without a gap.
  vault_.reset();
  fault_.fs().SetFailSync(false);
  OpenFaultVault();
  std::set<std::string> audited;
  uint64_t expected = 1;
  for (const auto& [seq, entry] : ReadAudit(*vault_)) {
    EXPECT_EQ(seq, expected++);
    if (entry.action == "CreateLead") audited.insert(entry.lead_ids.begin(), entry.lead_ids.end());
  }
  const auto leads = ReadCf(*vault_, Cf::kLeads);
  for (const auto& [id, record] : leads) EXPECT_EQ(audited.count(EncodeLeadId(id)), 1u);
}

// Holds the flush pool's jobs back until Open(), so that a flush scheduled
// before a storage error starts after RocksDB met it.
class GatedFlushEnv final : public rocksdb::EnvWrapper {
 public:
  explicit GatedFlushEnv(rocksdb::Env* target) : rocksdb::EnvWrapper(target) {
    file_system_ = target->GetFileSystem();
    system_clock_ = target->GetSystemClock();
  }
  const char* Name() const override { return "GatedFlushEnv"; }

  void Schedule(void (*function)(void*), void* arg, Priority pri, void* tag,
                void (*unschedule)(void*)) override {
    if (pri != Priority::HIGH) {
      target()->Schedule(function, arg, pri, tag, unschedule);
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      ++scheduled_;
    }
    target()->Schedule(&Run, new Job{this, function, arg, unschedule}, pri, tag, &Unschedule);
  }

  int scheduled() {
    absl::MutexLock lock(&mu_);
    return scheduled_;
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    open_ = false;
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }

 private:
  struct Job {
    GatedFlushEnv* env;
    void (*function)(void*);
    void* arg;
    void (*unschedule)(void*);
  };
  static void Run(void* p) {
    std::unique_ptr<Job> job(static_cast<Job*>(p));
    {
      absl::MutexLock lock(&job->env->mu_);
      job->env->mu_.Await(absl::Condition(&job->env->open_));
    }
    job->function(job->arg);
  }
  static void Unschedule(void* p) {
    std::unique_ptr<Job> job(static_cast<Job*>(p));
    if (job->unschedule != nullptr) job->unschedule(job->arg);
  }

  absl::Mutex mu_;
  int scheduled_ ABSL_GUARDED_BY(mu_) = 0;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
};

// RocksDB 7.8 leaves a flush that was scheduled before a background error and
// starts after it queued with no job to run it, and DB::Resume then waits for
// it forever; the database lets such flushes run before the error is set.
TEST(StorageRecoveryTest, AFlushScheduledBeforeAStorageErrorDoesNotHangTheRecovery) {
  ScratchDir dir;
  FaultEnv fault;
  GatedFlushEnv gated(fault.env());
  DatabaseOptions options;
  options.env = &gated;
  options.block_cache_bytes = 1 << 20;
  options.write_buffer_bytes = 64 << 10;
  absl::StatusOr<std::unique_ptr<Database>> opened = Database::Open(dir.path(), options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Database& db = **opened;

  // Writes until a memtable is full and its flush is scheduled (and held).
  gated.Close();
  const std::string value(4096, 'v');
  for (int i = 0; gated.scheduled() == 0; ++i) {
    ASSERT_LT(i, 10000) << "no flush was scheduled";
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put(db.cf(Cf::kLeads), absl::StrCat("fill-", i), value).ok());
    ASSERT_TRUE(db.Write(&batch, "fill").ok());
  }

  // The disk fills: the next write fails and RocksDB sets its error. Space
  // returns at once, and the held flush is let go a while later, which
  // without the database's wait was after the error was set.
  fault.fs().SetNoSpace(true);
  std::thread space_returns([&] {
    while (!db.HasBackgroundError()) absl::SleepFor(absl::Milliseconds(1));
    fault.fs().SetNoSpace(false);
    absl::SleepFor(absl::Milliseconds(200));
    gated.Open();
  });
  rocksdb::WriteBatch failing;
  ASSERT_TRUE(failing.Put(db.cf(Cf::kLeads), "after", value).ok());
  EXPECT_FALSE(db.Write(&failing, "write").ok());
  space_returns.join();
  ASSERT_TRUE(db.HasBackgroundError());

  std::future<absl::Status> resumed = std::async(std::launch::async, [&db] { return db.Resume(); });
  if (resumed.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    // The recovery thread cannot be stopped; neither can the database close.
    std::fprintf(stderr, "Database::Resume did not return within 60 s: the flush was stranded\n");
    std::_Exit(1);
  }
  ASSERT_TRUE(resumed.get().ok());
  EXPECT_FALSE(db.HasBackgroundError());
  rocksdb::WriteBatch again;
  ASSERT_TRUE(again.Put(db.cf(Cf::kLeads), "again", "v").ok());
  ASSERT_TRUE(db.Write(&again, "write").ok());
  EXPECT_TRUE(db.Get(Cf::kLeads, "again").ok());
  EXPECT_TRUE(db.Get(Cf::kLeads, "fill-0").ok());
}

}  // namespace
}  // namespace leadvault::vault::testing
