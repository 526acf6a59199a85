// The vault's RocksDB instance and its column families.
#ifndef LEADVAULT_VAULT_DATABASE_H_
#define LEADVAULT_VAULT_DATABASE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace leadvault::vault {

// Column families, in DESIGN.md's table.
enum class Cf {
  kLeads,
  kDek,
  kBidx,
  kExpiry,
  kQueue,
  kConsent,
  kAudit,
  kMerkle,
  kMeta,
  kAuditLead,  // lead id || sequence -> empty: the audit entries that touched a lead's fields
  kSuppress,   // channel || purpose || blind token -> revocation time (vault/consent_ledger.h)
  kFunnel,     // de-identified funnel aggregates, kept by Merge (vault/funnel.h)
};
inline constexpr size_t kCfCount = 12;
// The family's name on disk ("leads", "dek", ...).
const char* CfName(Cf cf);

// The data dir's on-disk format, stored at creation in `meta` schema_version.
// A build refuses a data dir of a newer format (Vault::Open); a change of the
// layout an older build would misread increments it.
inline constexpr int kOnDiskFormatVersion = 1;

// Keys of the `bidx` column family start with index id (1) || blind token (32).
inline constexpr size_t kBlindIndexPrefixSize = 33;

struct DatabaseOptions {
  // Block cache; memtables are charged to it too (see Database::Open).
  size_t block_cache_bytes = 128 << 20;
  // Per column family memtable size; all memtables together are capped at twice this.
  size_t write_buffer_bytes = 8 << 20;
  // Test hook: a fault-injecting Env (not owned); nullptr for the default.
  rocksdb::Env* env = nullptr;
  // Free space kept on the database's filesystem (0: no check). The Committer
  // refuses changes once less is left and audit-only entries (reads, failed
  // calls) once less than half is left, so RocksDB never meets a full disk in
  // normal operation; a compaction must leave this much free too.
  uint64_t min_free_bytes = 0;
  // Operator recovery: open a database whose write-ahead log has a damaged
  // tail by dropping the tail (RocksDB point-in-time recovery). Otherwise
  // damage to the WAL fails Open with DATA_LOSS (absolute consistency), except
  // an incomplete last record, as a crash while writing it leaves: that one
  // was never acknowledged and is dropped, reported to storage_error_log.
  bool tolerate_damaged_wal_tail = false;
  // The MANIFEST (the table files' metadata, with each file's first and last
  // key) is rewritten from the current state once it grows past this.
  uint64_t max_manifest_bytes = 4 << 20;
  // Test hook: reports free space instead of the filesystem (FreeBytes()).
  std::function<std::optional<uint64_t>()> free_space_for_testing;
  // Receives RocksDB's own description of each storage error the Database
  // reports (files named by base name; never a key's or value's bytes), for
  // the local log only: statuses carry generic text. Called from any thread;
  // may be empty.
  std::function<void(const std::string& detail)> storage_error_log;
};

// What VerifyChecksums() covered.
struct ChecksumSummary {
  uint64_t table_files = 0;  // table files whose every block checksum matched
  uint64_t table_bytes = 0;  // their total size
};

// Owns the RocksDB handle. Reads are thread-safe; writes go only through the Committer.
class Database {
 public:
  // Opens `dir` (creating the database and its column families if absent).
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& dir,
                                                        const DatabaseOptions& options);
  // Opens an existing database read-only: nothing is written to `dir`, no
  // lock is taken, so a running daemon may hold it; what is read is the
  // database as of this call (later writes are not seen). Every table file is
  // opened here, so the daemon's compactions cannot pull one away later.
  // NOT_FOUND if there is no database; writes through it fail.
  static absl::StatusOr<std::unique_ptr<Database>> OpenReadOnly(const std::string& dir);
  // Reads the `meta` rows whose keys start with one of `prefixes` (key,
  // value; in key order per prefix, prefixes in the order given) from an
  // existing database in one read-only open (nothing is written to `dir`).
  // NOT_FOUND if there is no database; DATA_LOSS if more than `max_rows` match.
  static absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ReadMetaReadOnly(
      const std::string& dir, const std::vector<std::string>& prefixes, size_t max_rows);
  // Checks an existing database offline without writing to `dir` or taking
  // its lock (a running daemon may hold it): the MANIFEST and WAL must replay
  // cleanly (a corrupted record is an error; only an incomplete last record,
  // as a crash leaves, is tolerated), and every block of every live table file
  // must match its checksum. A table file the daemon compacts away meanwhile is
  // replaced by its successors, which are checked instead.
  // Returns DATA_LOSS naming the first bad file by base name (a local
  // operator's message: it is not meant for a client) and RocksDB's reason,
  // e.g. "checksum mismatch"; NOT_FOUND if there is no database.
  static absl::StatusOr<ChecksumSummary> VerifyChecksums(const std::string& dir);
  ~Database();  // Flushes memtables and closes.

  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(Cf which) { return handles_[static_cast<size_t>(which)]; }

  // FromRocks(s, operation), and a storage error's RocksDB detail goes to
  // DatabaseOptions::storage_error_log. For callers outside this class.
  absl::Status Check(const rocksdb::Status& s, const char* operation);

  // Writes `batch` durably (sync=true); on failure as Check(), and the
  // destructor then leaves the WAL alone.
  absl::Status Write(rocksdb::WriteBatch* batch, const char* operation);

  // Point read; NOT_FOUND if absent, otherwise as Check().
  absl::StatusOr<std::string> Get(Cf which, const rocksdb::Slice& key);

  // Point reads of several keys in one call (one snapshot); each result as Get's.
  std::vector<absl::StatusOr<std::string>> MultiGet(
      const std::vector<std::pair<Cf, rocksdb::Slice>>& keys);

  // Flushes all memtables to SST files (used at shutdown and by tests).
  absl::Status Flush();

  // Makes deleted rows of `cfs` leave the disk: flushes every memtable (so the
  // write-ahead logs that held them become obsolete), compacts each of `cfs`
  // whole into its bottommost level (where deletion markers are dropped with
  // the rows they cover) and deletes obsolete files before returning. Keys of
  // deleted rows that once bounded a table file stay in the MANIFEST until it
  // rolls over (DatabaseOptions::max_manifest_bytes).
  struct CompactionBytes {
    uint64_t before = 0;  // table bytes of `cfs` once flushed, before compacting
    uint64_t after = 0;
  };
  absl::StatusOr<CompactionBytes> CompactAway(const std::vector<Cf>& cfs);

  // Bytes an unprivileged writer may still use on the database's filesystem;
  // nullopt if the filesystem cannot say.
  std::optional<uint64_t> FreeBytes() const;
  uint64_t min_free_bytes() const { return min_free_bytes_; }

  // True while RocksDB holds a background error: writes fail until Resume()
  // clears it (RocksDB's own recovery is switched off). Non-blocking.
  bool HasBackgroundError() const;
  // Clears a background error once its cause is gone (rocksdb::DB::Resume);
  // OK at once if there is none. Tried only after a synced 1 MiB probe write
  // succeeds, since a failed recovery makes RocksDB's error permanent until
  // the database is reopened. Errors that RocksDB deems fatal (a failed fsync
  // may have lost pages) are never cleared: they need a restart.
  absl::Status Resume();

  // For /metrics: sizes summed over the column families, and the block
  // cache's hits and misses since the open (tickers of the statistics the
  // database keeps, without their histograms or timers).
  struct StorageStats {
    uint64_t live_table_bytes = 0;          // rocksdb.live-sst-files-size
    uint64_t pending_compaction_bytes = 0;  // rocksdb.estimate-pending-compaction-bytes
    uint64_t memtable_bytes = 0;            // rocksdb.cur-size-all-mem-tables
    uint64_t block_cache_hits = 0;
    uint64_t block_cache_misses = 0;
  };
  StorageStats Stats() const;

 private:
  // Tracks RocksDB's background error state for HasBackgroundError().
  class ErrorListener;
  struct ListenerState;

  Database();
  // Constant after construction.
  bool read_only_ = false;
  std::string dir_;
  uint64_t min_free_bytes_ = 0;
  std::function<std::optional<uint64_t>()> free_space_for_testing_;
  // Shared with the listener RocksDB holds; owns the Env wrapper the database runs on.
  std::shared_ptr<ListenerState> listener_;
  std::function<void(const std::string&)> storage_error_log_;
  std::shared_ptr<rocksdb::Statistics> statistics_;  // null when read-only
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;

  std::atomic<bool> write_failed_{false};  // a Write() failed: the WAL writer is unusable
};

// rocksdb::Status -> absl::Status: NOT_FOUND; DATA_LOSS "stored data failed
// its integrity check in <operation>" for corruption; RESOURCE_EXHAUSTED
// "storage is full in <operation>" for no space (or an SstFileManager space
// limit); UNAVAILABLE "storage error in <operation>" for anything else. The
// message never carries RocksDB's text (it names files of the data dir): log
// that through Database::Check().
absl::Status FromRocks(const rocksdb::Status& s, const char* operation);

// Explicitly discards a RocksDB status where failure changes nothing (closing).
inline void IgnoreRocks(const rocksdb::Status&) {}

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_DATABASE_H_
