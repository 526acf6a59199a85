// Files leadvaultctl reads and writes: verifier keys, small inputs, and new
// output files that are never followed or overwritten.
#ifndef LEADVAULT_TOOLS_CTL_FILES_H_
#define LEADVAULT_TOOLS_CTL_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/checkpoint.h"

namespace leadvault::tools {

// ALREADY_EXISTS naming `path` and saying it is never overwritten.
absl::Status AlreadyThere(const std::string& path);

// OK if nothing at all (not even a dangling symlink) is at `path`.
absl::Status RefuseExisting(const std::string& path);

// Creates `path` as a new file of ours, mode 0600 (exports hold who read
// which lead): an existing file or symlink there is refused, never followed
// or overwritten. The descriptor, for writing.
absl::StatusOr<int> CreateNewFile(const std::string& path);

// Writes `contents` to the new file `path` (CreateNewFile) and syncs it; a
// partial file is removed.
absl::Status WriteNewFile(const std::string& path, absl::string_view contents);

// A file of at most 64 KiB (keys, notes).
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);

// A written reason: `inline_reason`, or the contents of `file` ("-": stdin)
// when `file` is set. Reasons are free text that may mention a patient, so
// commands take them from a file by default, out of argv and shell history.
absl::StatusOr<std::string> ReadReason(const std::string& inline_reason, const std::string& file);

// The verifier key, given inline ("name+hex+base64") or as a file holding it.
absl::StatusOr<audit::NoteVerifier> LoadVerifier(const std::string& pubkey);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_FILES_H_
