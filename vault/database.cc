#include "vault/database.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <set>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "keys/error_reason.h"
#include "keys/status_macros.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/listener.h"
#include "rocksdb/metadata.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/sst_file_manager.h"
#include "rocksdb/sst_file_reader.h"
#include "rocksdb/table.h"
#include "rocksdb/write_buffer_manager.h"
#include "vault/funnel.h"

namespace leadvault::vault {
namespace {

constexpr const char* kCfNames[] = {"leads", "dek",    "bidx", "expiry",     "queue",    "consent",
                                    "audit", "merkle", "meta", "audit_lead", "suppress", "funnel"};
static_assert(sizeof(kCfNames) / sizeof(kCfNames[0]) == kCfCount);

// RocksDB's informational log (DIR/LOG), at WARN and above, written so that a
// full disk cannot bring the daemon down: RocksDB's own file logger asserts
// on a write after a failed one (Debian's build keeps assertions), which
// aborted the daemon when the disk filled. A line that cannot be written is
// dropped. Lines quote file names, never keys or values.
class InfoLog final : public rocksdb::Logger {
 public:
  static std::shared_ptr<rocksdb::Logger> Open(const std::string& dir) {
    int fd = ::open((dir + "/LOG").c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    return std::make_shared<InfoLog>(fd);
  }
  explicit InfoLog(int fd) : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), fd_(fd) {}
  ~InfoLog() override {
    if (fd_ >= 0) ::close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (fd_ < 0) return;
    char line[1024];
    std::string stamp = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ ", absl::Now(), absl::UTCTimeZone());
    int n = std::vsnprintf(line, sizeof(line) - 1, format, ap);
    if (n < 0) return;
    size_t size = std::min(static_cast<size_t>(n), sizeof(line) - 2);
    line[size++] = '\n';
    stamp.append(line, size);
    ssize_t ignored = ::write(fd_, stamp.data(), stamp.size());
    (void)ignored;
  }

 private:
  const int fd_;
};

// RocksDB's message with every path cut to its base name ("/d/db/000012.sst"
// becomes "000012.sst"), for an operator's message that names the bad file.
std::string WithBaseNames(const rocksdb::Status& s) {
  std::vector<std::string> words = absl::StrSplit(s.ToString(), ' ');
  for (std::string& word : words) {
    if (size_t slash = word.rfind('/'); slash != std::string::npos) word.erase(0, slash + 1);
  }
  return absl::StrJoin(words, " ");
}

// Hands RocksDB's description of a storage error (not of a plain NOT_FOUND),
// files named by base name, to the log.
void LogStorageError(const std::function<void(const std::string&)>& log, const rocksdb::Status& s,
                     const char* operation) {
  if (!log || s.ok() || s.IsNotFound()) return;
  log(absl::StrCat(operation, ": ", WithBaseNames(s)));
}

// True for RocksDB's report of a WAL whose last record is incomplete (its
// log reader's wording in absolute-consistency mode), as a crash mid-write
// leaves it.
bool IsIncompleteLastRecord(const rocksdb::Status& s) {
  const std::string text = s.ToString();
  return text.find("truncated record body") != std::string::npos ||
         text.find("truncated header") != std::string::npos ||
         text.find("error reading trailing data") != std::string::npos;
}

// RocksDB 7.8 strands a flush job that was scheduled before a background
// error is set and first takes the DB mutex after it: DBImpl::BackgroundFlush
// then returns without taking its request off the flush queue, so the column
// family stays queued with no job left to flush it, is never queued again,
// and DB::Resume waits for its flush forever. (The compaction path counts
// such a job back; the flush path does not.)
//
// FlushTrackingEnv sees the flush jobs RocksDB schedules (flush-pool jobs
// with an unschedule callback: BGWorkFlush; its purge jobs have none), and
// the error listener, which RocksDB calls with the DB mutex released just
// before it sets the error, waits until each of them has started and taken
// the DB mutex (RocksDB's running-flush count, read under that mutex, covers
// it): such a job has made its check while no error was set, and takes its
// request off the queue as any flush does. Only that far: a running flush may
// itself wait for the writer that met the error (to sync the logs it closed).

class FlushTrackingEnv final : public rocksdb::EnvWrapper {
 public:
  explicit FlushTrackingEnv(rocksdb::Env* target) : rocksdb::EnvWrapper(target) {
    // Files go straight to the target's file system, not through the legacy
    // Env file API.
    file_system_ = target->GetFileSystem();
    system_clock_ = target->GetSystemClock();
  }
  const char* Name() const override { return "LeadvaultFlushTrackingEnv"; }

  void Schedule(void (*function)(void*), void* arg, Priority pri, void* tag,
                void (*unschedule)(void*)) override {
    if (pri != Priority::HIGH || unschedule == nullptr) {
      target()->Schedule(function, arg, pri, tag, unschedule);
      return;
    }
    counts_->Add(0, +1);
    target()->Schedule(&Run, new Job{counts_, function, arg, unschedule}, pri, tag, &Unschedule);
  }

  // Waits, at most `limit`, until every flush job scheduled so far has ended
  // or is running past its check: started, and counted by `db` as a running
  // flush (as is the job of a flush thread that met the error itself). False
  // if `limit` passed first.
  bool AwaitScheduledFlushesChecked(rocksdb::DB* db, absl::Duration limit) {
    const absl::Time deadline = absl::Now() + limit;
    while (true) {
      const auto [started, unfinished] = counts_->Read();
      if (unfinished == 0) return true;
      uint64_t running = 0;
      if (started == unfinished &&
          db->GetIntProperty(rocksdb::DB::Properties::kNumRunningFlushes, &running) &&
          running >= static_cast<uint64_t>(unfinished)) {
        return true;
      }
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Microseconds(200));
    }
  }

 private:
  // Shared with every job: a job's thread counts its end after RocksDB saw it
  // end, when the database (and this Env) may already be gone.
  struct Counts {
    void Add(int started_delta, int unfinished_delta) {
      absl::MutexLock lock(&mu);
      started += started_delta;
      unfinished += unfinished_delta;
    }
    std::pair<int, int> Read() {
      absl::MutexLock lock(&mu);
      return {started, unfinished};
    }
    absl::Mutex mu;
    int started ABSL_GUARDED_BY(mu) = 0;     // of those unfinished, started
    int unfinished ABSL_GUARDED_BY(mu) = 0;  // scheduled, not ended
  };
  struct Job {
    std::shared_ptr<Counts> counts;
    void (*function)(void*);
    void* arg;
    void (*unschedule)(void*);
  };
  static void Run(void* p) {
    std::unique_ptr<Job> job(static_cast<Job*>(p));
    job->counts->Add(+1, 0);
    job->function(job->arg);
    job->counts->Add(-1, -1);
  }
  static void Unschedule(void* p) {  // a job dropped unrun, as at close
    std::unique_ptr<Job> job(static_cast<Job*>(p));
    job->unschedule(job->arg);
    job->counts->Add(0, -1);
  }

  const std::shared_ptr<Counts> counts_ = std::make_shared<Counts>();
};

}  // namespace

const char* CfName(Cf cf) {
  const size_t i = static_cast<size_t>(cf);
  return i < kCfCount ? kCfNames[i] : "unknown";
}

struct Database::ListenerState {
  std::atomic<bool> error{false};
  // The Env the database runs on and the database, once open (Open only),
  // and where a flush that does not start is told.
  std::unique_ptr<FlushTrackingEnv> flushes;
  std::atomic<rocksdb::DB*> db{nullptr};
  std::function<void(const std::string&)> log;
};

Database::Database() : listener_(std::make_shared<ListenerState>()) {}

bool Database::HasBackgroundError() const {
  return listener_->error.load(std::memory_order_acquire);
}

// RocksDB calls these on its own threads, with its mutex released.
class Database::ErrorListener final : public rocksdb::EventListener {
 public:
  explicit ErrorListener(std::shared_ptr<ListenerState> state) : state_(std::move(state)) {}
  void OnBackgroundError(rocksdb::BackgroundErrorReason, rocksdb::Status* error) override {
    if (error == nullptr || error->ok()) return;
    state_->error.store(true, std::memory_order_release);
    // Flushes scheduled before the error make their check first (see
    // FlushTrackingEnv). The bound only keeps a stuck thread pool from
    // holding the thread that met the error forever.
    rocksdb::DB* db = state_->db.load(std::memory_order_acquire);
    if (db != nullptr && !state_->flushes->AwaitScheduledFlushesChecked(db, absl::Seconds(10)) &&
        state_->log) {
      state_->log(
          "a flush scheduled before a storage error did not start within 10 s; "
          "recovering from the error may need a restart");
    }
  }
  // Recovery is the Committer's (Database::Resume once there is room): while
  // RocksDB's own recovery runs, a Resume() is answered Busy and writes keep
  // failing for as long as its polling takes.
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    if (auto_recovery != nullptr) *auto_recovery = false;
  }
  void OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) override {
    if (info.new_bg_error.ok()) state_->error.store(false, std::memory_order_release);
  }

 private:
  const std::shared_ptr<ListenerState> state_;
};

absl::Status FromRocks(const rocksdb::Status& s, const char* operation) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound()) return absl::NotFoundError(operation);
  // RocksDB's own text stays out: it names files of the data dir.
  if (s.IsCorruption()) {
    return absl::DataLossError(
        absl::StrCat("stored data failed its integrity check in ", operation));
  }
  if (s.IsNoSpace() || s.subcode() == rocksdb::Status::kSpaceLimit) {
    return WithReason(absl::ResourceExhaustedError(absl::StrCat("storage is full in ", operation)),
                      "STORAGE_FULL");
  }
  return absl::UnavailableError(absl::StrCat("storage error in ", operation));
}

absl::Status Database::Check(const rocksdb::Status& s, const char* operation) {
  LogStorageError(storage_error_log_, s, operation);
  return FromRocks(s, operation);
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& dir,
                                                         const DatabaseOptions& options) {
  // One memory budget: memtables of every column family are charged to the block
  // cache, so the daemon's RocksDB memory stays near block_cache_bytes however
  // many leads it holds.
  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  // Index and filter blocks stay with their open table readers instead of
  // competing for the block cache: cached, they were evicted and re-read (and
  // re-checksummed) on every look-up once the data outgrew the cache, which
  // cut create throughput to a third at 600k leads. Their memory grows with the
  // data (a few MB per million leads) and is part of the RSS target.
  table.cache_index_and_filter_blocks = false;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));

  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.write_buffer_size = options.write_buffer_bytes;
  // Memtables grow in 64 KiB arena blocks, not write_buffer_size / 8: the
  // write buffer manager charges whole blocks, and every column family a
  // write touches holds one, so with the default 1 MiB blocks the dozen
  // column families pinned most of the shared budget and it flushed them
  // round robin at a megabyte or so each (more L0 files, more compaction;
  // with 64 KiB blocks CreateLead is ~8% faster and an unloaded retention
  // sweep of 1M leads ~12%).
  cf_options.arena_block_size = 64 << 10;
  cf_options.compression = rocksdb::kNoCompression;

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.paranoid_checks = true;
  db_options.max_background_jobs = 2;
  db_options.max_total_wal_size = 256 << 20;
  db_options.max_manifest_file_size = options.max_manifest_bytes;
  db_options.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(options.write_buffer_bytes * 2, cache);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError("data_dir: cannot be created");
  }
  db_options.info_log = InfoLog::Open(dir);
  // Every acknowledged write was synced, so a complete WAL has no damage; a
  // damaged one is a loud start-up error, never a silently shorter log.
  db_options.wal_recovery_mode = options.tolerate_damaged_wal_tail
                                     ? rocksdb::WALRecoveryMode::kPointInTimeRecovery
                                     : rocksdb::WALRecoveryMode::kAbsoluteConsistency;
  auto database = std::unique_ptr<Database>(new Database());
  database->dir_ = dir;
  database->min_free_bytes_ = options.min_free_bytes;
  database->free_space_for_testing_ = options.free_space_for_testing;
  database->listener_->flushes = std::make_unique<FlushTrackingEnv>(
      options.env != nullptr ? options.env : rocksdb::Env::Default());
  database->listener_->log = options.storage_error_log;
  db_options.env = database->listener_->flushes.get();
  // The SstFileManager makes a compaction leave min_free_bytes on the disk
  // (once a first out-of-space error was seen).
  rocksdb::Status sfm_status;
  std::shared_ptr<rocksdb::SstFileManager> sst_files(
      rocksdb::NewSstFileManager(db_options.env, nullptr, "", 0, true, &sfm_status));
  if (!sfm_status.ok()) return FromRocks(sfm_status, "open database");
  sst_files->SetCompactionBufferSize(options.min_free_bytes);
  db_options.sst_file_manager = sst_files;
  db_options.max_bgerror_resume_count = 0;  // see ErrorListener::OnErrorRecoveryBegin
  // Tickers only (per-core counters): the block cache's hit rate for /metrics.
  database->statistics_ = rocksdb::CreateDBStatistics();
  database->statistics_->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  db_options.statistics = database->statistics_;
  db_options.listeners.push_back(std::make_shared<ErrorListener>(database->listener_));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (const char* name : kCfNames) {
    descriptors.emplace_back(name, cf_options);
    if (std::string_view(name) == "bidx") {
      // Look-ups seek "index id || token" (33 bytes): prefix blooms in the memtable and
      // the SST files let a new email or phone (the common case) skip the seek.
      auto& bidx = descriptors.back().options;
      bidx.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(kBlindIndexPrefixSize));
      bidx.memtable_prefix_bloom_size_ratio = 0.05;
    }
    if (std::string_view(name) == "funnel") {
      descriptors.back().options.merge_operator = FunnelMergeOperator();
    }
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, descriptors, &handles, &raw);
  LogStorageError(options.storage_error_log, s, "open database");
  if (s.IsCorruption() && IsIncompleteLastRecord(s) && !options.tolerate_damaged_wal_tail) {
    // A crash while a record was being written leaves it incomplete at the
    // very end of the WAL; it was never acknowledged (a write is acknowledged
    // once synced whole), so it is dropped, and said so. A record lost whole
    // or cut after it was acknowledged (a disk that lost synced data) is
    // what the audit high-water mark catches next. Damage anywhere else still
    // fails the open.
    if (options.storage_error_log) {
      options.storage_error_log(
          "the write-ahead log ends in an incomplete record (a crash while writing it): "
          "dropped, as it was never acknowledged; the audit high-water mark is checked next");
    }
    db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
    s = rocksdb::DB::Open(db_options, dir, descriptors, &handles, &raw);
    LogStorageError(options.storage_error_log, s, "open database");
  }
  if (s.IsCorruption() && !options.tolerate_damaged_wal_tail) {
    return absl::DataLossError(
        "storage: the database failed its integrity check while opening: a damaged table "
        "file (leadvaultctl db verify names it) or a damaged write-ahead-log tail "
        "(leadvaultd --recover-lost-log-tail drops it, recorded in the audit log)");
  }
  if (!s.ok()) return FromRocks(s, "open database");
  database->storage_error_log_ = options.storage_error_log;
  database->db_.reset(raw);
  database->listener_->db.store(raw, std::memory_order_release);
  // handles[0] is the default CF, which the vault does not use; keep it for closing.
  database->handles_.assign(handles.begin() + 1, handles.end());
  database->handles_.push_back(handles[0]);
  return database;
}

absl::StatusOr<std::unique_ptr<Database>> Database::OpenReadOnly(const std::string& dir) {
  if (::access((dir + "/CURRENT").c_str(), F_OK) != 0) return absl::NotFoundError("no database");
  rocksdb::DBOptions db_options;
  db_options.paranoid_checks = true;
  db_options.max_open_files = -1;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (const char* name : kCfNames) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    if (std::string_view(name) == "funnel") {
      descriptors.back().options.merge_operator = FunnelMergeOperator();
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "open database read-only");
  auto database = std::unique_ptr<Database>(new Database());
  database->read_only_ = true;
  database->db_.reset(raw);
  database->handles_.assign(handles.begin() + 1, handles.end());
  database->handles_.push_back(handles[0]);
  return database;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Database::ReadMetaReadOnly(
    const std::string& dir, const std::vector<std::string>& prefixes, size_t max_rows) {
  if (::access((dir + "/CURRENT").c_str(), F_OK) != 0) return absl::NotFoundError("no database");
  rocksdb::DBOptions db_options;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  descriptors.emplace_back("meta", rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &handles, &raw);
  if (!s.ok()) {
    if (s.IsNotFound() || s.IsInvalidArgument()) return absl::NotFoundError("no database");
    return FromRocks(s, "open database read-only");
  }
  std::vector<std::pair<std::string, std::string>> rows;
  bool too_many = false;
  {
    std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions(), handles[1]));
    for (const std::string& prefix : prefixes) {
      for (it->Seek(prefix); !too_many && it->Valid() && it->key().starts_with(prefix);
           it->Next()) {
        too_many = rows.size() == max_rows;
        if (!too_many) rows.emplace_back(it->key().ToString(), it->value().ToString());
      }
      s = it->status();
      if (!s.ok() || too_many) break;
    }
  }
  for (auto* h : handles) IgnoreRocks(raw->DestroyColumnFamilyHandle(h));
  delete raw;
  if (!s.ok()) return FromRocks(s, "read meta");
  if (too_many) return absl::DataLossError("meta: more rows under one prefix than expected");
  return rows;
}

absl::StatusOr<ChecksumSummary> Database::VerifyChecksums(const std::string& dir) {
  if (::access((dir + "/CURRENT").c_str(), F_OK) != 0) return absl::NotFoundError("no database");
  // A running daemon may compact between the listing of live files and their
  // reading, or even between a read-only open's MANIFEST read and its file
  // check: a pass that loses a file to that is followed by another, which
  // verifies only the files not verified yet (table files never change).
  constexpr int kPasses = 5;
  ChecksumSummary summary;
  std::set<std::string> verified;
  rocksdb::Options table_options;  // a reader needs no column family's options to verify blocks
  rocksdb::ReadOptions read;
  read.verify_checksums = true;
  read.fill_cache = false;
  rocksdb::Status last;
  for (int pass = 0; pass < kPasses; ++pass) {
    rocksdb::DBOptions db_options;
    db_options.paranoid_checks = true;
    // Every corrupted WAL record is an error; an incomplete last one (a crash
    // mid-write, or the daemon's write in progress) is not.
    db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
    db_options.max_open_files = 16;  // tables are opened below, one by one, not by the open
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
    for (const char* name : kCfNames) {
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
      if (std::string_view(name) == "funnel") {  // the WAL replay applies its merges
        descriptors.back().options.merge_operator = FunnelMergeOperator();
      }
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    last = rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &handles, &raw);
    if (!last.ok()) {
      if (last.IsCorruption()) continue;  // a file compacted away mid-open, or real: see below
      return absl::UnavailableError(
          absl::StrCat("cannot open the database read-only: ", WithBaseNames(last)));
    }
    std::vector<rocksdb::LiveFileMetaData> files;
    raw->GetLiveFilesMetaData(&files);
    for (auto* h : handles) IgnoreRocks(raw->DestroyColumnFamilyHandle(h));
    IgnoreRocks(raw->Close());
    delete raw;

    bool lost_one = false;
    for (const rocksdb::LiveFileMetaData& file : files) {
      if (verified.count(file.relative_filename) != 0) continue;
      const std::string path = file.directory + "/" + file.relative_filename;
      rocksdb::SstFileReader reader(table_options);
      rocksdb::Status s = reader.Open(path);
      if (s.ok()) s = reader.VerifyChecksum(read);
      if (!s.ok() && ::access(path.c_str(), F_OK) != 0) {
        lost_one = true;  // compacted away: its successors are in the next pass's listing
        continue;
      }
      if (s.IsCorruption()) {
        return absl::DataLossError(
            absl::StrCat("table file ", file.relative_filename, ": ", WithBaseNames(s)));
      }
      if (!s.ok()) {
        return absl::UnavailableError(
            absl::StrCat("table file ", file.relative_filename, ": ", WithBaseNames(s)));
      }
      verified.insert(file.relative_filename);
      summary.table_files++;
      summary.table_bytes += file.size;
    }
    if (!lost_one) return summary;
    last = rocksdb::Status::OK();
  }
  if (last.IsCorruption()) {
    return absl::DataLossError(
        absl::StrCat("the MANIFEST or WAL failed its integrity check: ", WithBaseNames(last)));
  }
  return absl::UnavailableError(
      "the database changed under every verification pass (compactions running); run it again");
}

Database::~Database() {
  if (db_ == nullptr) return;
  // With a background error held, or after a failed write (RocksDB's WAL
  // writer must not be used again: its assertion aborts the process), close
  // without flushing: every write was synced, so what the memtables hold is in
  // the WAL, which the next open replays.
  if (!read_only_ && !HasBackgroundError() && !write_failed_.load()) {
    IgnoreRocks(db_->FlushWAL(/*sync=*/true));
    rocksdb::FlushOptions flush;
    flush.wait = true;
    IgnoreRocks(db_->Flush(
        flush, std::vector<rocksdb::ColumnFamilyHandle*>(handles_.begin(), handles_.end())));
  }
  for (auto* h : handles_) IgnoreRocks(db_->DestroyColumnFamilyHandle(h));
  IgnoreRocks(db_->Close());
  listener_->db.store(nullptr, std::memory_order_release);
}

absl::Status Database::Write(rocksdb::WriteBatch* batch, const char* operation) {
  rocksdb::WriteOptions options;
  options.sync = true;
  rocksdb::Status s = db_->Write(options, batch);
  if (!s.ok()) write_failed_ = true;
  return Check(s, operation);
}

absl::StatusOr<std::string> Database::Get(Cf which, const rocksdb::Slice& key) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(which), key, &value);
  if (s.IsNotFound()) return absl::NotFoundError("not found");
  if (!s.ok()) return Check(s, "read");
  return value;
}

std::vector<absl::StatusOr<std::string>> Database::MultiGet(
    const std::vector<std::pair<Cf, rocksdb::Slice>>& keys) {
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  std::vector<rocksdb::Slice> slices;
  for (const auto& [which, key] : keys) {
    cfs.push_back(cf(which));
    slices.push_back(key);
  }
  // The batched form: one look-up per table block, not one per key.
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), keys.size(), cfs.data(), slices.data(), values.data(),
                statuses.data());
  std::vector<absl::StatusOr<std::string>> out;
  out.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) {
      out.push_back(absl::NotFoundError("not found"));
    } else if (!statuses[i].ok()) {
      out.push_back(Check(statuses[i], "read"));
    } else {
      out.push_back(values[i].ToString());
    }
  }
  return out;
}

std::optional<uint64_t> Database::FreeBytes() const {
  if (free_space_for_testing_) return free_space_for_testing_();
  struct statvfs fs;
  if (::statvfs(dir_.c_str(), &fs) != 0) return std::nullopt;
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

absl::Status Database::Resume() {
  if (!HasBackgroundError()) return absl::OkStatus();
  // A recovery that fails leaves RocksDB's error unrecoverable until a
  // restart, so it is tried only once a probe write of 1 MiB, synced, through
  // the database's own file system succeeds.
  rocksdb::Env* env = db_->GetEnv();
  const std::string probe = dir_ + "/RESUME-PROBE";
  std::unique_ptr<rocksdb::WritableFile> file;
  rocksdb::Status s = env->NewWritableFile(probe, &file, rocksdb::EnvOptions());
  if (s.ok()) s = file->Append(std::string(1 << 20, '\0'));
  if (s.ok()) s = file->Sync();
  if (file != nullptr) IgnoreRocks(file->Close());
  IgnoreRocks(env->DeleteFile(probe));
  if (!s.ok()) return FromRocks(s, "resume (probe write)");
  s = db_->Resume();
  if (s.ok()) listener_->error.store(false, std::memory_order_release);
  return FromRocks(s, "resume");
}

absl::Status Database::Flush() {
  if (HasBackgroundError()) return absl::UnavailableError("storage holds an error: not flushed");
  rocksdb::FlushOptions flush;
  flush.wait = true;
  return Check(db_->Flush(flush, std::vector<rocksdb::ColumnFamilyHandle*>(handles_.begin(),
                                                                           handles_.end())),
               "flush");
}

absl::StatusOr<Database::CompactionBytes> Database::CompactAway(const std::vector<Cf>& cfs) {
  auto table_bytes = [this, &cfs] {
    uint64_t total = 0;
    for (Cf which : cfs) {
      rocksdb::ColumnFamilyMetaData meta;
      db_->GetColumnFamilyMetaData(cf(which), &meta);
      total += meta.size;
    }
    return total;
  };
  LV_RETURN_IF_ERROR(Flush());
  CompactionBytes bytes;
  bytes.before = table_bytes();
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (Cf which : cfs) {
    LV_RETURN_IF_ERROR(
        Check(db_->CompactRange(options, cf(which), nullptr, nullptr), "compact deleted rows"));
  }
  // Obsolete files are deleted in the background after a flush or a
  // compaction; re-enabling deletions deletes them now.
  LV_RETURN_IF_ERROR(Check(db_->DisableFileDeletions(), "compact deleted rows"));
  LV_RETURN_IF_ERROR(Check(db_->EnableFileDeletions(/*force=*/false), "compact deleted rows"));
  bytes.after = table_bytes();
  return bytes;
}

Database::StorageStats Database::Stats() const {
  StorageStats stats;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    uint64_t value = 0;
    if (db_->GetIntProperty(handle, rocksdb::DB::Properties::kLiveSstFilesSize, &value)) {
      stats.live_table_bytes += value;
    }
    if (db_->GetIntProperty(handle, rocksdb::DB::Properties::kEstimatePendingCompactionBytes,
                            &value)) {
      stats.pending_compaction_bytes += value;
    }
    if (db_->GetIntProperty(handle, rocksdb::DB::Properties::kCurSizeAllMemTables, &value)) {
      stats.memtable_bytes += value;
    }
  }
  if (statistics_ != nullptr) {
    stats.block_cache_hits = statistics_->getTickerCount(rocksdb::BLOCK_CACHE_HIT);
    stats.block_cache_misses = statistics_->getTickerCount(rocksdb::BLOCK_CACHE_MISS);
  }
  return stats;
}

}  // namespace leadvault::vault
