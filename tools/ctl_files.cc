#include "tools/ctl_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iostream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "keys/status_macros.h"

namespace leadvault::tools {
namespace {

constexpr size_t kMaxSmallFile = 64 << 10;

}  // namespace

absl::Status AlreadyThere(const std::string& path) {
  return absl::AlreadyExistsError(
      absl::StrCat(path, " already exists; refusing to overwrite it (choose a new path)"));
}

absl::Status RefuseExisting(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) return AlreadyThere(path);
  if (errno != ENOENT) return absl::UnavailableError(absl::StrCat("cannot inspect ", path));
  return absl::OkStatus();
}

absl::StatusOr<int> CreateNewFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  if (errno == EEXIST) return AlreadyThere(path);
  return absl::UnavailableError(absl::StrCat("cannot create ", path));
}

absl::Status WriteNewFile(const std::string& path, absl::string_view contents) {
  LV_ASSIGN_OR_RETURN(int fd, CreateNewFile(path));
  bool ok = true;
  while (ok && !contents.empty()) {
    ssize_t n = ::write(fd, contents.data(), contents.size());
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) contents.remove_prefix(static_cast<size_t>(n));
  }
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    ::unlink(path.c_str());
    return absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() > kMaxSmallFile) return absl::InvalidArgumentError(path + ": too large");
  return data;
}

absl::StatusOr<std::string> ReadReason(const std::string& inline_reason, const std::string& file) {
  if (file.empty()) return inline_reason;
  std::ifstream opened;
  std::istream* in = &std::cin;
  if (file != "-") {
    opened.open(file);
    if (!opened) return absl::NotFoundError("--reason-file: cannot be read");
    in = &opened;
  }
  std::string reason((std::istreambuf_iterator<char>(*in)), std::istreambuf_iterator<char>());
  if (reason.size() > kMaxSmallFile) return absl::InvalidArgumentError("--reason-file: too large");
  return reason;
}

absl::StatusOr<audit::NoteVerifier> LoadVerifier(const std::string& pubkey) {
  std::string text = pubkey;
  if (!absl::StrContains(pubkey, '+') || ::access(pubkey.c_str(), R_OK) == 0) {
    LV_ASSIGN_OR_RETURN(text, ReadSmallFile(pubkey));
  }
  return audit::NoteVerifier::Parse(absl::StripAsciiWhitespace(text));
}

}  // namespace leadvault::tools
