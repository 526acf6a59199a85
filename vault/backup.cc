#include "vault/backup.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "keys/status_macros.h"
#include "rocksdb/env.h"
#include "rocksdb/utilities/backup_engine.h"

namespace leadvault::vault {
namespace {

constexpr absl::string_view kAuditSizeKey = "audit_size=";

// RocksDB's own words name paths and files; the caller gets the code and rule.
absl::Status FromBackup(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(absl::StrCat(what, ": storage is full"));
  if (s.IsCorruption()) {
    return absl::DataLossError(absl::StrCat(what, ": a file does not match its checksum"));
  }
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat(what, ": no such backup"));
  return absl::UnavailableError(absl::StrCat(what, ": failed (", s.ToString(), ")"));
}

rocksdb::BackupEngineOptions EngineOptions(const std::string& backup_dir) {
  rocksdb::BackupEngineOptions options(backup_dir);
  options.share_table_files = true;
  options.share_files_with_checksum = true;
  options.sync = true;
  // Copying is I/O and kernel copies more than CPU: four copies at a time
  // beat two (leadvault-bench backup) even on two cores.
  options.max_background_operations = 4;
  return options;
}

BackupSummary Summarize(const rocksdb::BackupInfo& info) {
  BackupSummary s;
  s.id = info.backup_id;
  s.created_unix_seconds = info.timestamp;
  s.bytes = info.size;
  s.files = info.number_files;
  absl::string_view meta = info.app_metadata;
  if (absl::ConsumePrefix(&meta, kAuditSizeKey)) {
    if (!absl::SimpleAtoi(meta, &s.audit_size)) s.audit_size = 0;
  }
  return s;
}

std::string RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) return path;
  return resolved;
}

bool Within(const std::string& inner, const std::string& outer) {
  return inner == outer || absl::StartsWith(inner, outer + "/");
}

absl::StatusOr<std::unique_ptr<rocksdb::BackupEngineReadOnly>> OpenReadOnly(
    const std::string& backup_dir) {
  struct stat st;
  if (::stat(backup_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError("backup dir: not a directory");
  }
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  LV_RETURN_IF_ERROR(FromBackup(
      rocksdb::BackupEngineReadOnly::Open(EngineOptions(backup_dir), rocksdb::Env::Default(), &raw),
      "backup dir"));
  return std::unique_ptr<rocksdb::BackupEngineReadOnly>(raw);
}

absl::Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::UnavailableError("restore: the data dir cannot be synced");
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok ? absl::OkStatus() : absl::UnavailableError("restore: the data dir cannot be synced");
}

// FAILED_PRECONDITION while a process holds the database's lock (RocksDB
// takes an fcntl write lock on LOCK).
absl::Status CheckNotOpen(const std::string& db_dir) {
  const std::string lock = db_dir + "/LOCK";
  int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return absl::OkStatus();
  if (fd < 0)
    return absl::FailedPreconditionError("restore: the database's lock cannot be checked");
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  const bool locked = ::fcntl(fd, F_SETLK, &fl) != 0;
  ::close(fd);  // releases it
  if (locked) {
    return absl::FailedPreconditionError(
        "restore: the database is open (stop the daemon first); nothing was changed");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckBackupDir(const std::string& backup_dir, const std::string& data_dir) {
  if (backup_dir.empty() || backup_dir[0] != '/') {
    return absl::InvalidArgumentError("backup_dir: must be an absolute path");
  }
  struct stat st;
  if (::lstat(backup_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        "backup_dir: must be an existing directory (not a symbolic link)");
  }
  if (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        "backup_dir: must be owned by the daemon's user with mode 0700 (no group or other bits)");
  }
  const std::string backups = RealPath(backup_dir);
  const std::string data = RealPath(data_dir);
  if (Within(backups, data) || Within(data, backups)) {
    return absl::FailedPreconditionError(
        "backup_dir: must be outside the data dir (a backup beside the data is lost with it)");
  }
  return absl::OkStatus();
}

absl::StatusOr<BackupSummary> CreateBackup(Database& db, const std::string& backup_dir,
                                           uint64_t audit_size) {
  rocksdb::BackupEngine* raw = nullptr;
  LV_RETURN_IF_ERROR(FromBackup(
      rocksdb::BackupEngine::Open(EngineOptions(backup_dir), rocksdb::Env::Default(), &raw),
      "backup"));
  std::unique_ptr<rocksdb::BackupEngine> engine(raw);
  rocksdb::CreateBackupOptions options;
  options.flush_before_backup = true;
  rocksdb::BackupID id = 0;
  LV_RETURN_IF_ERROR(FromBackup(engine->CreateNewBackupWithMetadata(
                                    options, db.db(), absl::StrCat(kAuditSizeKey, audit_size), &id),
                                "backup"));
  rocksdb::BackupInfo info;
  LV_RETURN_IF_ERROR(FromBackup(engine->GetBackupInfo(id, &info), "backup"));
  return Summarize(info);
}

absl::StatusOr<std::vector<BackupSummary>> ListBackups(const std::string& backup_dir) {
  LV_ASSIGN_OR_RETURN(auto engine, OpenReadOnly(backup_dir));
  std::vector<rocksdb::BackupInfo> infos;
  engine->GetBackupInfo(&infos);
  std::vector<BackupSummary> out;
  for (const rocksdb::BackupInfo& info : infos) {
    if (out.size() == kMaxListedBackups) break;
    out.push_back(Summarize(info));
  }
  return out;
}

absl::Status VerifyBackup(const std::string& backup_dir, uint32_t id) {
  LV_ASSIGN_OR_RETURN(auto engine, OpenReadOnly(backup_dir));
  return FromBackup(engine->VerifyBackup(id, /*verify_with_checksum=*/true),
                    absl::StrCat("backup ", id));
}

absl::StatusOr<BackupSummary> RestoreBackup(const std::string& backup_dir, uint32_t id,
                                            const RestoreLayout& layout) {
  LV_ASSIGN_OR_RETURN(auto engine, OpenReadOnly(backup_dir));
  if (id == 0) {
    std::vector<rocksdb::BackupInfo> infos;
    engine->GetBackupInfo(&infos);
    if (infos.empty()) return absl::NotFoundError("backup dir: holds no backup");
    id = infos.back().backup_id;
  }
  rocksdb::BackupInfo info;
  LV_RETURN_IF_ERROR(FromBackup(engine->GetBackupInfo(id, &info), absl::StrCat("backup ", id)));
  if (::mkdir(layout.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError("restore: the data dir cannot be created");
  }
  LV_RETURN_IF_ERROR(CheckNotOpen(layout.db_dir()));
  LV_RETURN_IF_ERROR(FromBackup(engine->VerifyBackup(id, /*verify_with_checksum=*/true),
                                absl::StrCat("backup ", id)));
  const std::string staging = layout.data_dir + "/db.restoring";
  std::error_code ec;
  std::filesystem::remove_all(staging, ec);
  if (ec) return absl::UnavailableError("restore: a staging dir from before cannot be removed");
  LV_RETURN_IF_ERROR(FromBackup(engine->RestoreDBFromBackup(id, staging, staging),
                                absl::StrCat("restore of backup ", id)));
  // An earlier restore is unfinished only while its marker is there; without
  // it, a database set aside before is a leftover of a finished one.
  struct stat st;
  const bool unfinished = ::lstat(layout.marker().c_str(), &st) == 0;
  if (!unfinished) {
    std::filesystem::remove_all(layout.previous_db_dir(), ec);
    if (ec) return absl::UnavailableError("restore: a database set aside before cannot be removed");
  }
  // The marker and the high-water mark go first: a crash after them leaves
  // a start that replays (over the old database or the restored one), never
  // one that takes a restored log for a lost tail.
  // The newest checkpoint served stays, aside, for the replay to check
  // against (an earlier, unfinished restore's is older and kept).
  if (::lstat(layout.high_water().c_str(), &st) == 0 &&
      ::lstat(layout.pre_restore_high_water().c_str(), &st) != 0) {
    if (::rename(layout.high_water().c_str(), layout.pre_restore_high_water().c_str()) != 0) {
      return absl::UnavailableError("restore: the high-water mark cannot be set aside");
    }
  } else {
    ::unlink(layout.high_water().c_str());
  }
  int fd =
      ::open(layout.marker().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  const std::string text = absl::StrCat("backup_id=", id, "\n");
  if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    return absl::UnavailableError("restore: the restore marker cannot be written");
  }
  ::close(fd);
  LV_RETURN_IF_ERROR(SyncDir(layout.data_dir));
  // The restored database replaces the old one, which stays aside until the
  // replay succeeds (a journal that fails verification then leaves it to go
  // back to). One left by an unfinished restore is the database from before
  // that restore: it is kept, and the half-replayed one is deleted.
  if (::lstat(layout.previous_db_dir().c_str(), &st) != 0 &&
      ::lstat(layout.db_dir().c_str(), &st) == 0) {
    if (::rename(layout.db_dir().c_str(), layout.previous_db_dir().c_str()) != 0) {
      return absl::UnavailableError("restore: the old database cannot be moved aside");
    }
  } else {
    std::filesystem::remove_all(layout.db_dir(), ec);
    if (ec) return absl::UnavailableError("restore: the old database cannot be removed");
  }
  if (::rename(staging.c_str(), layout.db_dir().c_str()) != 0) {
    return absl::UnavailableError("restore: the restored database cannot be moved into place");
  }
  LV_RETURN_IF_ERROR(SyncDir(layout.data_dir));
  return Summarize(info);
}

}  // namespace leadvault::vault
