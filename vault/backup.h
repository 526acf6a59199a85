// Online backups of the database (RocksDB BackupEngine) and their restore.
#ifndef LEADVAULT_VAULT_BACKUP_H_
#define LEADVAULT_VAULT_BACKUP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vault/database.h"

namespace leadvault::vault {

// One backup in a backup directory.
struct BackupSummary {
  uint32_t id = 0;
  int64_t created_unix_seconds = 0;
  uint64_t bytes = 0;
  uint32_t files = 0;
  uint64_t audit_size = 0;  // audit entries the log held when it was taken (at least)
};

// A backup directory must be an absolute path to an existing directory owned
// by the running user with no group or other permission bits, outside
// `data_dir`: FAILED_PRECONDITION naming the rule otherwise. The backups in
// it hold the database's files only: field ciphertexts, wrapped keys, blind
// tokens, the audit log; never a master key.
absl::Status CheckBackupDir(const std::string& backup_dir, const std::string& data_dir);

// Takes a consistent backup of the open database (memtables flushed first)
// while it serves; table files already in the directory are shared, not
// copied again. `audit_size` is kept in the backup's metadata.
absl::StatusOr<BackupSummary> CreateBackup(Database& db, const std::string& backup_dir,
                                           uint64_t audit_size);

// The backups in `backup_dir`, oldest first (at most kMaxListedBackups).
inline constexpr size_t kMaxListedBackups = 1000;
absl::StatusOr<std::vector<BackupSummary>> ListBackups(const std::string& backup_dir);

// Re-reads every file of backup `id` and checks its size and checksum.
// DATA_LOSS naming the backup if one differs.
absl::Status VerifyBackup(const std::string& backup_dir, uint32_t id);

// The daemon's files in its data dir that a restore reads and writes.
struct RestoreLayout {
  std::string data_dir;  // the daemon's --data-dir
  std::string db_dir() const { return data_dir + "/db"; }
  // The database from before the restore, kept until the replay succeeds.
  std::string previous_db_dir() const { return data_dir + "/db.before-restore"; }
  std::string high_water() const { return data_dir + "/audit-high-water"; }
  std::string pre_restore_high_water() const {
    return data_dir + "/audit-high-water.before-restore";
  }
  std::string marker() const { return data_dir + "/restore-pending"; }
};

// Restores backup `id` (0: the newest) into layout.db_dir() with the daemon
// stopped (FAILED_PRECONDITION while the database is open): the backup is
// restored beside it and verified, the old database is moved aside
// (previous_db_dir(); the daemon deletes it once the replay succeeded, and an
// unfinished earlier restore's is kept, not replaced) and the restored one
// takes its place; the high-water mark is kept aside as the
// last checkpoint served, and a marker file makes the next start replay the
// audit journal (VaultOptions::restore). Returns the backup restored.
absl::StatusOr<BackupSummary> RestoreBackup(const std::string& backup_dir, uint32_t id,
                                            const RestoreLayout& layout);

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_BACKUP_H_
