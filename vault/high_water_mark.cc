#include "vault/high_water_mark.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "audit/checkpoint.h"

namespace leadvault::vault {
namespace {

// The directory holding `path` ("." for a bare name).
std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status WriteError(int error) {
  if (error == ENOSPC || error == EDQUOT) {
    return absl::ResourceExhaustedError("audit high-water mark: storage is full");
  }
  return absl::UnavailableError("audit high-water mark: cannot be written");
}

bool WriteAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

uint64_t HighWaterMark::ClaimedSize(const std::optional<std::string>& note) {
  if (!note.has_value()) return 0;
  const size_t end = note->find("\n\n");
  if (end == std::string::npos) return 0;
  absl::StatusOr<audit::Checkpoint> claim =
      audit::ParseCheckpoint(absl::string_view(*note).substr(0, end + 1));
  return claim.ok() ? claim->size : 0;
}

absl::StatusOr<std::unique_ptr<HighWaterMark>> HighWaterMark::Open(std::string path) {
  auto mark = std::unique_ptr<HighWaterMark>(new HighWaterMark(std::move(path)));
  int fd = ::open(mark->path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return mark;
    if (errno == ELOOP) {
      return absl::FailedPreconditionError("audit high-water mark: is a symbolic link");
    }
    return absl::UnavailableError("audit high-water mark: cannot be opened");
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<size_t>(st.st_size) > kMaxNoteBytes) {
    ::close(fd);
    return absl::FailedPreconditionError(
        "audit high-water mark: not a regular file of a signed checkpoint's size");
  }
  std::string note(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < note.size()) {
    ssize_t n = ::read(fd, note.data() + done, note.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (done != note.size()) return absl::UnavailableError("audit high-water mark: cannot be read");
  mark->note_ = std::move(note);
  return mark;
}

absl::Status HighWaterMark::Record(const std::string& note) {
  // A stale temporary file (a crash between create and rename) is ours to replace.
  const std::string tmp = path_ + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return WriteError(errno);
  bool ok = WriteAll(fd, note) && ::fsync(fd) == 0;
  int error = ok ? 0 : errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    error = errno;
  }
  if (ok && ::rename(tmp.c_str(), path_.c_str()) != 0) {
    ok = false;
    error = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return WriteError(error);
  }
  // The rename is durable only once the directory is.
  int dir = ::open(DirectoryOf(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return WriteError(errno);
  ok = ::fsync(dir) == 0;
  error = errno;
  ::close(dir);
  if (!ok) return WriteError(error);
  note_ = note;
  return absl::OkStatus();
}

}  // namespace leadvault::vault
