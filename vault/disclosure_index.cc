#include "vault/disclosure_index.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "keys/blind_index.h"
#include "keys/secret_bytes.h"
#include "keys/status_macros.h"
#include "rocksdb/db.h"
#include "vault/internal/keys.h"
#include "vault/lead.h"

namespace leadvault::vault {
namespace {

constexpr size_t kIndexKeySize = internal::kLeadIdSize + 8;
constexpr size_t kMultiGetBatch = 1024;
constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();

// A read snapshot of `db`, released on destruction.
class Snapshot {
 public:
  explicit Snapshot(rocksdb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) {
    options_.snapshot = snapshot_;
    options_.fill_cache = false;  // one pass over the whole log must not evict the working set
    options_.readahead_size = 2 << 20;
  }
  ~Snapshot() { db_->ReleaseSnapshot(snapshot_); }
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;
  const rocksdb::ReadOptions& options() const { return options_; }

 private:
  rocksdb::DB* const db_;
  const rocksdb::Snapshot* const snapshot_;
  rocksdb::ReadOptions options_;
};

constexpr size_t kDigestKeySize = 32;

// An order-independent digest of a set of rows: the sum, in two 64-bit
// lanes, of each row's keyed BLAKE2b. Under a key the adversary does not
// know, two different sets of distinct rows collide with probability 2^-128.
class RowDigest {
 public:
  explicit RowDigest(const keys::SecretBytes& key) : key_(key) {}
  void Add(absl::string_view row) {
    const std::string h = keys::KeyedHash(key_, row);
    uint64_t lane[2];
    std::memcpy(lane, h.data(), sizeof(lane));
    sum_[0] += lane[0];
    sum_[1] += lane[1];
  }
  bool operator==(const RowDigest& other) const {
    return sum_[0] == other.sum_[0] && sum_[1] == other.sum_[1];
  }

 private:
  const keys::SecretBytes& key_;
  uint64_t sum_[2] = {0, 0};
};

// Calls `fn` for every entry 1, 2, ... of the log in order; DATA_LOSS on a gap
// or a malformed entry. Returns the number of entries.
absl::StatusOr<uint64_t> ScanLog(Database& db, const rocksdb::ReadOptions& options,
                                 const std::function<absl::Status(const audit::AuditEntry&)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(options, db.cf(Cf::kAudit)));
  uint64_t expected = 1;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected) {
    auto seq = internal::DecodeSequenceKey(absl::string_view(it->key().data(), it->key().size()));
    if (!seq.has_value() || *seq != expected) return absl::DataLossError("audit: gap in the log");
    LV_ASSIGN_OR_RETURN(audit::AuditEntry entry, audit::DecodeCanonical(absl::string_view(
                                                     it->value().data(), it->value().size())));
    if (entry.sequence != *seq) return absl::DataLossError("audit: entry out of place");
    LV_RETURN_IF_ERROR(fn(entry));
  }
  LV_RETURN_IF_ERROR(db.Check(it->status(), "scan audit"));
  return expected - 1;
}

// Index rows the log calls for, looked up in batches; counts the missing ones.
class ExpectedRows {
 public:
  ExpectedRows(Database& db, const rocksdb::ReadOptions& options, DisclosureIndexReport& report)
      : db_(db), options_(options), report_(report) {}

  absl::Status Add(uint64_t sequence, std::vector<std::string> keys) {
    for (std::string& key : keys) {
      pending_.push_back({sequence, std::move(key)});
      if (pending_.size() == kMultiGetBatch) LV_RETURN_IF_ERROR(Flush());
    }
    return absl::OkStatus();
  }

  absl::Status Flush() {
    if (pending_.empty()) return absl::OkStatus();
    std::vector<rocksdb::ColumnFamilyHandle*> cfs(pending_.size(), db_.cf(Cf::kAuditLead));
    std::vector<rocksdb::Slice> keys;
    keys.reserve(pending_.size());
    for (const auto& [seq, key] : pending_) keys.emplace_back(key);
    std::vector<std::string> values;
    std::vector<rocksdb::Status> statuses = db_.db()->MultiGet(options_, cfs, keys, &values);
    for (size_t i = 0; i < statuses.size(); ++i) {
      if (statuses[i].IsNotFound()) {
        ++report_.missing_rows;
        first_missing_ = std::min(first_missing_, pending_[i].first);
      } else {
        LV_RETURN_IF_ERROR(db_.Check(statuses[i], "read audit_lead"));
      }
    }
    pending_.clear();
    return absl::OkStatus();
  }

  uint64_t first_missing() const { return first_missing_; }

 private:
  Database& db_;
  const rocksdb::ReadOptions& options_;
  DisclosureIndexReport& report_;
  std::vector<std::pair<uint64_t, std::string>> pending_;
  uint64_t first_missing_ = kNone;
};

// Calls `fn` with every key of `audit_lead`.
absl::Status ScanIndex(Database& db, const rocksdb::ReadOptions& options,
                       const std::function<absl::Status(absl::string_view)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(options, db.cf(Cf::kAuditLead)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    LV_RETURN_IF_ERROR(fn(absl::string_view(it->key().data(), it->key().size())));
  }
  return db.Check(it->status(), "scan audit_lead");
}

// The smallest sequence a bogus index row points to (0 for a malformed row,
// which points nowhere). Reads the entry of every row: run only when the
// counts say bogus rows exist.
absl::StatusOr<uint64_t> FirstBogusSequence(Database& db, const rocksdb::ReadOptions& options,
                                            uint64_t log_size) {
  uint64_t first = kNone;
  LV_RETURN_IF_ERROR(ScanIndex(db, options, [&](absl::string_view key) -> absl::Status {
    if (key.size() != kIndexKeySize) {
      first = 0;
      return absl::OkStatus();
    }
    uint64_t seq = internal::GetBigEndian64(key.substr(internal::kLeadIdSize));
    if (seq >= first) return absl::OkStatus();
    bool backed = false;
    if (seq >= 1 && seq <= log_size) {
      std::string bytes;
      rocksdb::Status s =
          db.db()->Get(options, db.cf(Cf::kAudit), internal::SequenceKey(seq), &bytes);
      LV_RETURN_IF_ERROR(db.Check(s, "read audit"));
      LV_ASSIGN_OR_RETURN(audit::AuditEntry entry, audit::DecodeCanonical(bytes));
      std::vector<std::string> owned = DisclosureIndexKeys(entry);
      backed = std::find(owned.begin(), owned.end(), key) != owned.end();
    }
    if (!backed) first = seq;
    return absl::OkStatus();
  }));
  return first;
}

}  // namespace

bool IsPiiDisclosure(const audit::AuditEntry& entry) {
  if (entry.outcome != audit::Outcome::kAllowed || entry.fields.empty() || entry.lead_ids.empty()) {
    return false;
  }
  if (entry.action == "GetLead") {
    // A read for outreach names its channel and what it withheld: only a
    // field it returned is a disclosure.
    return std::any_of(entry.fields.begin(), entry.fields.end(), [](const std::string& f) {
      return !absl::StartsWith(f, "outreach:") && !absl::StartsWith(f, "withheld:");
    });
  }
  if (entry.action == "FindLeads") return true;
  // An amendment history that showed a previous value.
  if (entry.action == "ListAmendments") {
    return std::any_of(entry.fields.begin(), entry.fields.end(),
                       [](const std::string& f) { return absl::StartsWith(f, "previous:"); });
  }
  // A submission told of another principal's lead (its sender may see it).
  return entry.action == "CreateLead" &&
         std::any_of(entry.fields.begin(), entry.fields.end(),
                     [](const std::string& f) { return absl::StartsWith(f, "match:"); });
}

std::vector<std::string> DisclosureIndexKeys(const audit::AuditEntry& entry) {
  std::vector<std::string> keys;
  if (!IsPiiDisclosure(entry) || entry.lead_ids.size() > kMaxIndexedLeadsPerEntry) return keys;
  for (const std::string& text : entry.lead_ids) {
    std::optional<std::string> id = DecodeLeadId(text);
    if (!id.has_value()) continue;
    std::string key = internal::AuditLeadKey(*id, entry.sequence);
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(std::move(key));
  }
  return keys;
}

absl::StatusOr<DisclosureIndexReport> CheckDisclosureIndex(Database& db, keys::Random& random) {
  Snapshot snapshot(db.db());
  DisclosureIndexReport report;
  std::string record;
  rocksdb::Status read = db.db()->Get(snapshot.options(), db.cf(Cf::kMeta),
                                      internal::kMetaDisclosureIndexChecked, &record);
  if (!read.IsNotFound()) {
    LV_RETURN_IF_ERROR(db.Check(read, "read meta"));
    if (record.size() != 16) {
      return absl::DataLossError("meta: malformed disclosure index check record");
    }
    report.last_checked = internal::GetBigEndian64(record);
  }
  // Pass 1, two sequential scans: the rows the log calls for and the rows
  // the index holds, each summed under a key drawn for this check, so no row
  // can be crafted in advance to cancel another out.
  keys::SecretBytes key(kDigestKeySize);
  random.Fill(key.data(), key.size());
  RowDigest from_log(key), from_index(key);
  LV_ASSIGN_OR_RETURN(
      report.entries,
      ScanLog(db, snapshot.options(), [&](const audit::AuditEntry& entry) -> absl::Status {
        std::vector<std::string> keys = DisclosureIndexKeys(entry);
        if (keys.empty()) return absl::OkStatus();
        ++report.disclosures;
        report.expected_rows += keys.size();
        for (const std::string& k : keys) from_log.Add(k);
        return absl::OkStatus();
      }));
  if (report.entries < report.last_checked) {
    return absl::DataLossError(absl::StrCat("audit: the log has ", report.entries,
                                            " entries, fewer than the ", report.last_checked,
                                            " its disclosure index was last checked at"));
  }
  LV_RETURN_IF_ERROR(ScanIndex(db, snapshot.options(), [&](absl::string_view k) {
    ++report.index_rows;
    from_index.Add(k);
    return absl::OkStatus();
  }));
  if (report.expected_rows == report.index_rows && from_log == from_index) {
    report.result = absl::OkStatus();
    return report;
  }

  // Pass 2, only on a mismatch: look every expected row up to name the first
  // entry lacking one. Every expected row found is one index row (keys are
  // distinct), so what remains of the index is exactly the bogus rows.
  ExpectedRows expected(db, snapshot.options(), report);
  LV_RETURN_IF_ERROR(ScanLog(db, snapshot.options(), [&](const audit::AuditEntry& entry) {
                       return expected.Add(entry.sequence, DisclosureIndexKeys(entry));
                     }).status());
  LV_RETURN_IF_ERROR(expected.Flush());
  report.bogus_rows = report.index_rows - (report.expected_rows - report.missing_rows);
  std::string message = "audit_lead: the disclosure index does not match the audit log:";
  if (report.missing_rows > 0) {
    absl::StrAppend(&message, " entry ", expected.first_missing(), " has no index row (",
                    report.missing_rows, " rows missing in all)");
  }
  if (report.bogus_rows > 0) {
    LV_ASSIGN_OR_RETURN(uint64_t bogus, FirstBogusSequence(db, snapshot.options(), report.entries));
    absl::StrAppend(&message, report.missing_rows > 0 ? ";" : "",
                    bogus == 0
                        ? " a malformed index row"
                        : absl::StrCat(" an index row points to entry ", bogus,
                                       bogus > report.entries ? ", beyond the log"
                                                              : ", not a disclosure of that lead"),
                    " (", report.bogus_rows, " rows not backed by a disclosure in all)");
  }
  absl::StrAppend(&message, "; rebuild it from the log with leadvaultd --rebuild-disclosure-index");
  report.result = absl::DataLossError(message);
  return report;
}

absl::Status RecordDisclosureIndexCheck(Database& db, const DisclosureIndexReport& report) {
  if (!report.result.ok()) return absl::InternalError("disclosure index: recording a failed check");
  std::string record;
  internal::PutBigEndian64(record, report.entries);
  internal::PutBigEndian64(record, report.index_rows);
  auto stored = db.Get(Cf::kMeta, internal::kMetaDisclosureIndexChecked);
  if (stored.ok() && *stored == record) return absl::OkStatus();
  if (!stored.ok() && !absl::IsNotFound(stored.status())) return stored.status();
  rocksdb::WriteBatch batch;
  LV_RETURN_IF_ERROR(FromRocks(
      batch.Put(db.cf(Cf::kMeta), internal::kMetaDisclosureIndexChecked, record), "batch"));
  return db.Write(&batch, "record disclosure index check");
}

absl::Status StageDisclosureIndexRebuild(Database& db, uint64_t log_size,
                                         rocksdb::WriteBatch& batch) {
  Snapshot snapshot(db.db());
  rocksdb::Status s;
  LV_RETURN_IF_ERROR(ScanIndex(db, snapshot.options(), [&](absl::string_view key) {
    if (s.ok()) s = batch.Delete(db.cf(Cf::kAuditLead), rocksdb::Slice(key.data(), key.size()));
    return FromRocks(s, "stage index rebuild");
  }));
  LV_ASSIGN_OR_RETURN(
      uint64_t entries,
      ScanLog(db, snapshot.options(), [&](const audit::AuditEntry& entry) -> absl::Status {
        for (const std::string& key : DisclosureIndexKeys(entry)) {
          s = batch.Put(db.cf(Cf::kAuditLead), key, "");
          if (!s.ok()) return FromRocks(s, "stage index rebuild");
        }
        return absl::OkStatus();
      }));
  if (entries != log_size) return absl::InternalError("audit: the log changed during a rebuild");
  return absl::OkStatus();
}

}  // namespace leadvault::vault
