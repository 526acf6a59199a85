#include "audit/internal/line_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace leadvault::audit::internal {
namespace {

// Bytes asked of each read(2).
constexpr size_t kReadBytes = size_t{4} << 20;

}  // namespace

absl::StatusOr<std::unique_ptr<LineFile>> LineFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string what = absl::StrCat("cannot open ", path, ": ", std::strerror(err));
    if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(what);
    return absl::UnavailableError(what);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<LineFile>(new LineFile(fd, static_cast<uint64_t>(st.st_size)));
}

LineFile::~LineFile() { ::close(fd_); }

absl::Status LineFile::ReadBatch(Batch& batch) {
  batch.lines.clear();
  batch.first_line = next_line_;
  if (batch.capacity < carry_size_ + kReadBytes / 2) {
    batch.capacity = std::max(kReadBytes, 2 * carry_size_);
    batch.buffer = std::make_unique_for_overwrite<char[]>(batch.capacity);
  }
  if (carry_size_ > 0) std::memcpy(batch.buffer.get(), carry_, carry_size_);
  size_t end = carry_size_;
  size_t begin = 0;  // of the first line not yet split off
  size_t scanned = 0;
  for (;;) {
    while (!eof_ && end < batch.capacity) {
      const ssize_t r = ::read(fd_, batch.buffer.get() + end, batch.capacity - end);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return absl::UnavailableError(absl::StrCat("read: ", std::strerror(errno)));
      if (r == 0) eof_ = true;
      end += static_cast<size_t>(r);
    }
    const char* base = batch.buffer.get();
    while (scanned < end) {
      const void* nl = std::memchr(base + scanned, '\n', end - scanned);
      if (nl == nullptr) {
        scanned = end;
        break;
      }
      const size_t at = static_cast<size_t>(static_cast<const char*>(nl) - base);
      batch.lines.emplace_back(base + begin, at - begin);
      begin = scanned = at + 1;
    }
    if (!batch.lines.empty() || (eof_ && begin == end)) break;
    if (eof_) {
      return absl::InvalidArgumentError(absl::StrCat(absl::StrCat("line ", next_line_),
                                                     ": does not end in '\\n' (truncated file?)"));
    }
    // One unfinished line fills the buffer: grow it.
    if (batch.capacity >= kMaxLineBytes) {
      return absl::InvalidArgumentError(absl::StrCat(absl::StrCat("line ", next_line_),
                                                     ": longer than ", kMaxLineBytes, " bytes"));
    }
    auto bigger = std::make_unique_for_overwrite<char[]>(batch.capacity * 2);
    std::memcpy(bigger.get(), batch.buffer.get(), end);
    batch.buffer = std::move(bigger);
    batch.capacity *= 2;
  }
  carry_ = batch.buffer.get() + begin;
  carry_size_ = end - begin;
  next_line_ += batch.lines.size();
  return absl::OkStatus();
}

absl::Status LineFile::ReadTail(size_t n, std::string& out, uint64_t& offset) {
  n = static_cast<size_t>(std::min<uint64_t>(n, size_));
  offset = size_ - n;
  out.resize(n);
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd_, out.data() + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return absl::UnavailableError(absl::StrCat("read: ", std::strerror(errno)));
    if (r == 0) return absl::UnavailableError("read: the file shrank while being verified");
    done += static_cast<size_t>(r);
  }
  return absl::OkStatus();
}

}  // namespace leadvault::audit::internal
