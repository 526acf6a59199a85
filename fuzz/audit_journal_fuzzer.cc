// The audit journal file (vault/audit_journal.h), read at every start and by
// a restore: any bytes open as a journal (a torn tail cut off) or fail with a
// clean status; a journal that opens scans to its end or fails with
// DATA_LOSS, and its last entry is the one Open() found.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "fuzz/fuzz_check.h"
#include "vault/audit_journal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = [] {
    char dir[] = "/tmp/leadvault-journal-fuzz-XXXXXX";
    FUZZ_CHECK(::mkdtemp(dir) != nullptr);
    return std::string(dir) + "/journal";
  }();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(::write(fd, data, size) == static_cast<ssize_t>(size));
  ::close(fd);

  auto journal = leadvault::vault::AuditJournal::Open(path);
  if (!journal.ok()) {
    FUZZ_CHECK(journal.status().code() == absl::StatusCode::kDataLoss ||
               journal.status().code() == absl::StatusCode::kFailedPrecondition);
    return 0;
  }
  uint64_t last = 0;
  size_t records = 0;
  absl::Status scanned = (*journal)->Scan(
      [&](const leadvault::vault::AuditJournal::Entry& e) {
        last = e.sequence;
        ++records;
        return true;
      },
      [&](absl::string_view) {
        ++records;
        return true;
      });
  FUZZ_CHECK(scanned.ok() || scanned.code() == absl::StatusCode::kDataLoss);
  if (scanned.ok()) FUZZ_CHECK(last == (*journal)->last_sequence());
  return 0;
}
