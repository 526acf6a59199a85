#include "vault/audit_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/base/internal/endian.h"
#include "keys/error_reason.h"
#include "keys/hash.h"
#include "keys/status_macros.h"

namespace leadvault::vault {
namespace {

constexpr char kOrigin = 'O';
constexpr char kEntry = 'E';
constexpr char kGroupEntry = 'G';  // an entry that starts a commit group
constexpr char kCheckpoint = 'C';
constexpr size_t kFrame = 4 + 8 + 4;  // the bytes around a payload

absl::Status Unavailable() { return absl::UnavailableError("audit journal: cannot be read"); }

absl::Status WriteError(int error) {
  if (error == ENOSPC || error == EDQUOT) {
    return WithReason(absl::ResourceExhaustedError("audit journal: storage is full"),
                      "STORAGE_FULL");
  }
  return absl::UnavailableError("audit journal: cannot be written");
}

absl::Status Malformed() { return absl::DataLossError("audit journal: a record is malformed"); }

std::string Checksum(absl::string_view payload) {
  keys::Sha256Digest d = keys::Sha256({payload});
  return std::string(reinterpret_cast<const char*>(d.data()), 8);
}

void AppendRecord(std::string& out, absl::string_view payload) {
  char len[4];
  absl::little_endian::Store32(len, static_cast<uint32_t>(payload.size()));
  out.append(len, 4);
  out.append(payload.data(), payload.size());
  out.append(Checksum(payload));
  out.append(len, 4);
}

bool ReadExactly(int fd, uint64_t offset, char* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, out + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    done += static_cast<size_t>(r);
  }
  return true;
}

uint64_t EntrySequence(absl::string_view payload) {
  return absl::big_endian::Load64(payload.data() + 1);
}

bool IsEntry(absl::string_view payload) {
  return payload[0] == kEntry || payload[0] == kGroupEntry;
}

}  // namespace

bool IsPurgeEntry(const audit::AuditEntry& entry) {
  return entry.outcome == audit::Outcome::kAllowed &&
         (entry.action == "DeleteLead" || entry.action == "RetentionPurge");
}

bool IsReappliedOnRestore(const audit::AuditEntry& entry) {
  if (entry.outcome != audit::Outcome::kAllowed) return false;
  const std::string& a = entry.action;
  if (a == "RecordConsent") {
    return std::find(entry.fields.begin(), entry.fields.end(), "consent=revoke") !=
           entry.fields.end();
  }
  return a == "DeleteLead" || a == "RetentionPurge" || a == "DisablePrincipal" ||
         a == "RotateToken" || a == "IssueWebhookSecret" || a == "RevokeWebhookSecret" ||
         a == "SetServiceLines" || a == "PlaceLegalHold" || a == "ReleaseLegalHold" ||
         a == "CloseEmergencyAccess";
}

absl::StatusOr<std::unique_ptr<AuditJournal>> AuditJournal::Open(std::string path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == ELOOP) return absl::FailedPreconditionError("audit journal: is a symbolic link");
    return absl::UnavailableError("audit journal: cannot be opened");
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError("audit journal: not a regular file");
  }
  auto journal = std::unique_ptr<AuditJournal>(new AuditJournal(std::move(path), fd));
  journal->size_ = static_cast<uint64_t>(st.st_size);
  LV_RETURN_IF_ERROR(journal->Recover());
  return journal;
}

AuditJournal::~AuditJournal() { ::close(fd_); }

absl::Status AuditJournal::ReadRecordAt(uint64_t offset, std::string* payload,
                                        uint64_t* next) const {
  char len_bytes[4];
  if (offset + kFrame > size_ || !ReadExactly(fd_, offset, len_bytes, 4)) return Malformed();
  const uint32_t len = absl::little_endian::Load32(len_bytes);
  if (len == 0 || len > kMaxRecordBytes || offset + kFrame + len > size_) return Malformed();
  std::string rest(len + 12, '\0');
  if (!ReadExactly(fd_, offset + 4, rest.data(), rest.size())) return Unavailable();
  absl::string_view body(rest.data(), len);
  if (Checksum(body) != absl::string_view(rest.data() + len, 8) ||
      absl::little_endian::Load32(rest.data() + len + 8) != len) {
    return Malformed();
  }
  *payload = std::string(body);
  *next = offset + kFrame + len;
  return absl::OkStatus();
}

absl::Status AuditJournal::ReadRecordEndingAt(uint64_t end, std::string* payload,
                                              uint64_t* start) const {
  char len_bytes[4];
  if (end < kFrame || !ReadExactly(fd_, end - 4, len_bytes, 4)) return Malformed();
  const uint32_t len = absl::little_endian::Load32(len_bytes);
  if (len == 0 || len > kMaxRecordBytes || end < kFrame + len) return Malformed();
  uint64_t next = 0;
  LV_RETURN_IF_ERROR(ReadRecordAt(end - kFrame - len, payload, &next));
  if (next != end) return Malformed();
  *start = end - kFrame - len;
  return absl::OkStatus();
}

absl::Status AuditJournal::Recover() {
  if (size_ == 0) return absl::OkStatus();
  std::string payload;
  uint64_t next = 0;
  if (!ReadRecordAt(0, &payload, &next).ok() || payload[0] != kOrigin) {
    return absl::DataLossError("audit journal: does not start with its origin record");
  }
  origin_ = payload.substr(1);
  // The last whole record: from the end if it is intact, else (a torn
  // append) by reading forward, and the torn bytes are cut off.
  uint64_t start = 0;
  if (!ReadRecordEndingAt(size_, &payload, &start).ok()) {
    uint64_t good = next;
    absl::Status read;
    while ((read = ReadRecordAt(good, &payload, &next)).ok()) good = next;
    if (!absl::IsDataLoss(read)) return read;  // an I/O error: cut nothing
    // Only a record running past the end is a torn append; a bad record
    // with whole records after it is damage, never cut away.
    char len_bytes[4];
    const bool torn =
        size_ - good < kFrame || (ReadExactly(fd_, good, len_bytes, 4) &&
                                  good + kFrame + absl::little_endian::Load32(len_bytes) > size_);
    if (!torn) return absl::DataLossError("audit journal: a record before its end is damaged");
    if (::ftruncate(fd_, static_cast<off_t>(good)) != 0 || ::fdatasync(fd_) != 0) {
      return WriteError(errno);
    }
    size_ = good;
  }
  // The last entry: at most a few checkpoints follow it.
  for (uint64_t end = size_; end > 0; end = start) {
    LV_RETURN_IF_ERROR(ReadRecordEndingAt(end, &payload, &start));
    if (IsEntry(payload)) {
      if (payload.size() < 9) return Malformed();
      last_sequence_ = EntrySequence(payload);
      break;
    }
    if (payload[0] == kOrigin) break;
  }
  return absl::OkStatus();
}

absl::Status AuditJournal::Append(absl::string_view origin, const std::vector<Entry>& entries,
                                  absl::string_view checkpoint_note, bool sync,
                                  uint64_t group_first) {
  std::string bytes;
  if (size_ == 0) {
    AppendRecord(bytes, std::string(1, kOrigin) + std::string(origin));
  } else if (origin != origin_) {
    return absl::FailedPreconditionError("audit journal: belongs to another vault's log");
  }
  uint64_t last = last_sequence_;
  for (const Entry& e : entries) {
    if (e.sequence != last + 1) {
      return absl::InternalError("audit journal: entries out of sequence");
    }
    last = e.sequence;
    std::string payload(9, '\0');
    payload[0] = e.sequence == group_first ? kGroupEntry : kEntry;
    absl::big_endian::Store64(payload.data() + 1, e.sequence);
    payload.append(e.canonical);
    if (payload.size() > kMaxRecordBytes)
      return absl::InternalError("audit journal: entry too large");
    AppendRecord(bytes, payload);
  }
  if (!checkpoint_note.empty()) {
    AppendRecord(bytes, std::string(1, kCheckpoint) + std::string(checkpoint_note));
  }
  size_t done = 0;
  int error = 0;
  while (done < bytes.size()) {
    ssize_t n =
        ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(size_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : ENOSPC;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (error == 0 && sync && ::fdatasync(fd_) != 0) error = errno;
  if (error != 0) {
    // Whatever part landed is cut off again (a torn record would be anyway).
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      // The next Open() cuts a torn record; nothing more to do here.
    }
    return WriteError(error);
  }
  if (size_ == 0) origin_ = std::string(origin);
  size_ += bytes.size();
  last_sequence_ = last;
  return absl::OkStatus();
}

absl::Status AuditJournal::Scan(
    const std::function<bool(const Entry&)>& on_entry,
    const std::function<bool(absl::string_view note)>& on_checkpoint) const {
  std::string payload;
  uint64_t next = 0;
  for (uint64_t offset = 0; offset < size_; offset = next) {
    LV_RETURN_IF_ERROR(ReadRecordAt(offset, &payload, &next));
    if (IsEntry(payload)) {
      if (payload.size() < 9) return Malformed();
      Entry e{EntrySequence(payload), payload.substr(9)};
      if (!on_entry(e)) return absl::OkStatus();
    } else if (payload[0] == kCheckpoint) {
      if (!on_checkpoint(absl::string_view(payload).substr(1))) return absl::OkStatus();
    } else if (payload[0] != kOrigin || offset != 0) {
      return Malformed();
    }
  }
  return absl::OkStatus();
}

absl::Status AuditJournal::TruncateAfter(uint64_t sequence) {
  if (sequence >= last_sequence_) return absl::OkStatus();
  // From the end back to the first entry after `sequence` (the cut is near
  // the end: a lost tail, an unverified one, an interrupted group).
  std::string payload;
  uint64_t start = 0;
  uint64_t cut = size_;
  for (uint64_t end = size_; end > 0; end = start) {
    LV_RETURN_IF_ERROR(ReadRecordEndingAt(end, &payload, &start));
    if (payload[0] == kOrigin) break;
    if (IsEntry(payload)) {
      if (payload.size() < 9) return Malformed();
      if (EntrySequence(payload) <= sequence) break;
      cut = start;
    }
  }
  if (::ftruncate(fd_, static_cast<off_t>(cut)) != 0 || ::fdatasync(fd_) != 0) {
    return WriteError(errno);
  }
  size_ = cut;
  last_sequence_ = sequence;
  return absl::OkStatus();
}

absl::Status AuditJournal::Rewind(const Mark& mark) {
  if (mark.size > size_) return absl::InternalError("audit journal: rewind past its end");
  if (mark.size == size_) return absl::OkStatus();
  if (::ftruncate(fd_, static_cast<off_t>(mark.size)) != 0 || ::fdatasync(fd_) != 0) {
    return WriteError(errno);
  }
  size_ = mark.size;
  last_sequence_ = mark.last_sequence;
  if (size_ == 0) origin_.clear();
  return absl::OkStatus();
}

absl::StatusOr<bool> AuditJournal::OnlyLastGroupAfter(uint64_t sequence) const {
  if (last_sequence_ <= sequence) return true;
  // At most one group's worth of records is read: the committer's groups
  // are bounded, and anything longer is not one group.
  constexpr int kMaxRecords = 1 << 16;
  std::string payload;
  uint64_t start = 0;
  int read = 0;
  for (uint64_t end = size_; end > 0 && read < kMaxRecords; end = start, ++read) {
    LV_RETURN_IF_ERROR(ReadRecordEndingAt(end, &payload, &start));
    if (payload[0] == kOrigin) return false;
    if (!IsEntry(payload)) continue;
    if (payload.size() < 9) return Malformed();
    const uint64_t seq = EntrySequence(payload);
    if (seq <= sequence) return false;
    const bool group_start = payload[0] == kGroupEntry;
    if (seq == sequence + 1) return group_start;
    if (group_start) return false;  // a later group began: more than one is beyond
  }
  return false;
}

}  // namespace leadvault::vault
