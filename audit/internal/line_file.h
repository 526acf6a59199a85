// The export file, read in large batches of complete '\n'-terminated lines.
#ifndef LEADVAULT_AUDIT_INTERNAL_LINE_FILE_H_
#define LEADVAULT_AUDIT_INTERNAL_LINE_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace leadvault::audit::internal {

// A line longer than this is refused ("line N: longer than ... bytes").
inline constexpr size_t kMaxLineBytes = size_t{64} << 20;

// The complete lines of one read (without their '\n'), viewing `buffer`.
struct Batch {
  std::unique_ptr<char[]> buffer;
  size_t capacity = 0;
  std::vector<absl::string_view> lines;
  uint64_t first_line = 0;  // the line number of lines[0]
};

// Not thread-safe: one reader at a time.
class LineFile {
 public:
  // NOT_FOUND if `path` does not exist, UNAVAILABLE if it cannot be opened,
  // INVALID_ARGUMENT if it is not a regular file.
  static absl::StatusOr<std::unique_ptr<LineFile>> Open(const std::string& path);
  ~LineFile();
  LineFile(const LineFile&) = delete;
  LineFile& operator=(const LineFile&) = delete;

  // True once every line has been returned.
  bool at_end() const { return eof_ && carry_size_ == 0; }

  // Replaces `batch` with the next complete lines: at least one, or none at
  // the end of the file. A line cut by the end of the buffer is carried into
  // the next call, so successive calls must alternate between two batches
  // (the carried bytes are read from the previous one, which is not written).
  // INVALID_ARGUMENT for a last line without '\n' or a line over
  // kMaxLineBytes, UNAVAILABLE for a failed read.
  absl::Status ReadBatch(Batch& batch);

  // Reads up to `n` bytes ending at the end of the file (as stat'ed at open)
  // into `out`, and their offset in the file into `offset`.
  absl::Status ReadTail(size_t n, std::string& out, uint64_t& offset);

 private:
  LineFile(int fd, uint64_t size) : fd_(fd), size_(size) {}

  const int fd_;
  const uint64_t size_;
  const char* carry_ = nullptr;  // an unfinished line, in the previous batch's buffer
  size_t carry_size_ = 0;
  uint64_t next_line_ = 1;
  bool eof_ = false;
};

}  // namespace leadvault::audit::internal

#endif  // LEADVAULT_AUDIT_INTERNAL_LINE_FILE_H_
