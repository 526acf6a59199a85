// AuditJournal: a copy of the audit log kept outside RocksDB, from which a
// restored backup gets back the entries (and re-applies the purges) that came
// after it.
#ifndef LEADVAULT_VAULT_AUDIT_JOURNAL_H_
#define LEADVAULT_VAULT_AUDIT_JOURNAL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/audit_entry.h"

namespace leadvault::vault {

// True for an entry that records a lead's purge (an allowed "DeleteLead" or
// "RetentionPurge"): its group is checkpointed, and a restore re-applies it.
bool IsPurgeEntry(const audit::AuditEntry& entry);

// True for a purge and for an allowed entry of a restriction a restore
// re-applies (vault/restore_restrictions.h): the committer checkpoints its
// group, so a restore finds it verified.
bool IsReappliedOnRestore(const audit::AuditEntry& entry);

// An append-only file of the audit log's entries (sequence, canonical bytes)
// and of its signed checkpoints, in commit order: the committer appends each
// group before it writes the group to RocksDB (and cuts it off again if that
// write fails), so no change is durable that the journal lacks. The entries hold no PII (they are
// the audit log's); the checkpoints make them tamper-evident, since a verifier holding the log's
// signing key recomputes the Merkle root a checkpoint signs (vault/backup_restore.h does, at a
// restore).
//
// Records: u32 length (little-endian) | payload | first 8 bytes of
// SHA-256(payload) | u32 length; the payload is a type byte and its data:
//   'O' origin   the log's origin ("leadvault/<hex>"), the first record;
//   'E' entry    u64 sequence (big-endian) || canonical entry bytes;
//   'G' entry    the same, for the first entry of a commit group (the
//                committer appends each group before writing it, so only
//                the last group can be missing from the database: see
//                OnlyLastGroupAfter());
//   'C' checkpoint  the signed note.
// The length at both ends lets Open() read the last record without reading
// the file; a torn last record (a crash mid-append: its length runs past the
// end) is cut off at Open(); a damaged record before the end is DATA_LOSS.
//
// The file is opened without following a symlink, must be a regular file and
// is created with mode 0600. Errors name the journal, never its contents. Not
// thread-safe (the committer thread is its only writer after start).
class AuditJournal {
 public:
  // A record larger than this is not ours.
  static constexpr size_t kMaxRecordBytes = 4 << 20;

  // The high-water mark kept beside the journal at `path` (a copy of the
  // newest checkpoint served, vault/high_water_mark.h): a restore checks the
  // journal reaches it even when the data dir, and its own mark, are lost.
  static std::string HighWaterPath(const std::string& path) { return path + ".high-water"; }

  // Opens (creating it if absent) the journal at `path`.
  static absl::StatusOr<std::unique_ptr<AuditJournal>> Open(std::string path);
  ~AuditJournal();

  const std::string& path() const { return path_; }
  // The log origin its first record names ("" for a new, empty journal).
  const std::string& origin() const { return origin_; }
  // The sequence of the last entry in it (0: none).
  uint64_t last_sequence() const { return last_sequence_; }

  struct Entry {
    uint64_t sequence = 0;
    std::string canonical;
  };
  // Appends `entries` (whose sequences must follow last_sequence()) and then
  // `checkpoint_note` if not empty; fdatasync if `sync`. The entry whose
  // sequence is `group_first` (0: none) is marked as a group's first. The
  // origin record goes first into a new journal. On failure the journal is
  // cut back to what it held (UNAVAILABLE, RESOURCE_EXHAUSTED when the disk
  // is full).
  absl::Status Append(absl::string_view origin, const std::vector<Entry>& entries,
                      absl::string_view checkpoint_note, bool sync, uint64_t group_first = 0);

  // Where the journal ends now; Rewind() cuts it back there (and syncs): for
  // a group whose database write failed after its append.
  struct Mark {
    uint64_t size = 0;
    uint64_t last_sequence = 0;
  };
  Mark mark() const { return Mark{size_, last_sequence_}; }
  absl::Status Rewind(const Mark& mark);

  // True if every entry after `sequence` belongs to the journal's last
  // group and that group starts at sequence + 1: a crash came between the
  // group's append and its database write (its callers never got an
  // answer). False if earlier groups are beyond `sequence` too (the
  // database lost entries it had acknowledged) or the journal predates
  // group marks.
  absl::StatusOr<bool> OnlyLastGroupAfter(uint64_t sequence) const;

  // Every record from the start, in order: `on_entry` for entries,
  // `on_checkpoint` for notes; either returns false to stop. DATA_LOSS for a
  // malformed record before the end.
  absl::Status Scan(const std::function<bool(const Entry&)>& on_entry,
                    const std::function<bool(absl::string_view note)>& on_checkpoint) const;

  // Cuts the journal before the first entry after `sequence` (checkpoints
  // up to it stay): for a log whose lost tail an operator accepted, for a
  // restore's unverified tail, and for an interrupted last group. Reads
  // back from the end, so its cost is the size of what is cut.
  absl::Status TruncateAfter(uint64_t sequence);

 private:
  AuditJournal(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  // Reads the record that ends at `end`; its payload and where it starts.
  absl::Status ReadRecordEndingAt(uint64_t end, std::string* payload, uint64_t* start) const;
  absl::Status ReadRecordAt(uint64_t offset, std::string* payload, uint64_t* next) const;
  absl::Status Recover();

  const std::string path_;
  const int fd_;
  uint64_t size_ = 0;  // bytes of whole records
  std::string origin_;
  uint64_t last_sequence_ = 0;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_AUDIT_JOURNAL_H_
