// HighWaterMark: the newest signed checkpoint the vault has let out, kept
// outside RocksDB so a database that lost its tail cannot be re-signed.
#ifndef LEADVAULT_VAULT_HIGH_WATER_MARK_H_
#define LEADVAULT_VAULT_HIGH_WATER_MARK_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace leadvault::vault {

// A file holding one signed checkpoint note (C2SP signed-note text, readable
// by an operator). The audit log records each checkpoint here, durably, before
// the checkpoint can leave the process; at start the log must be at least as
// long as this checkpoint and agree with its root. The file lives beside the
// database, not in its WAL: a lost or truncated WAL cannot take it along.
//
// The file is replaced whole (a new file, fsync, rename, fsync of the
// directory), so a crash leaves the old or the new note, never a mix. It is
// opened without following a symlink and must be a regular file; errors name
// the file's role, never its contents. Not thread-safe (the committer thread
// is its only writer after start).
class HighWaterMark {
 public:
  // Reads `path` if it exists. FAILED_PRECONDITION if it is a symlink, not a
  // regular file, or larger than a note can be; UNAVAILABLE if unreadable.
  static absl::StatusOr<std::unique_ptr<HighWaterMark>> Open(std::string path);

  // The recorded note, if any.
  const std::optional<std::string>& note() const { return note_; }
  // The tree size `note` claims, its signature not checked (0: none, or not
  // a signed checkpoint).
  static uint64_t ClaimedSize(const std::optional<std::string>& note);

  // Durably replaces the recorded note with `note`. On failure the file still
  // holds the previous note (UNAVAILABLE, or RESOURCE_EXHAUSTED when the disk
  // is full) and note() is unchanged.
  absl::Status Record(const std::string& note);

  // A note is a few hundred bytes; anything much larger is not ours.
  static constexpr size_t kMaxNoteBytes = 16 * 1024;

 private:
  explicit HighWaterMark(std::string path) : path_(std::move(path)) {}
  const std::string path_;  // constant after construction
  std::optional<std::string> note_;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_HIGH_WATER_MARK_H_
