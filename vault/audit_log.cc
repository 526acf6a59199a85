#include "vault/audit_log.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keys/status_macros.h"
#include "vault/disclosure_index.h"
#include "vault/internal/keys.h"
#include "vault/lead.h"

namespace leadvault::vault {
namespace {

// The checkpoint a signed note carries, read without checking the signature
// (SetSigner checks it once the key is loaded).
absl::StatusOr<audit::Checkpoint> UnverifiedCheckpoint(absl::string_view note) {
  size_t end = note.find("\n\n");
  if (end == absl::string_view::npos) return absl::InvalidArgumentError("not a signed note");
  return audit::ParseCheckpoint(note.substr(0, end + 1));
}

// How an operator gets out of a refusal, appended to each.
constexpr absl::string_view kRecoveryHint =
    "; nothing was signed: restore the data dir from a backup, or accept the loss with "
    "leadvaultd --recover-lost-log-tail (recorded in the audit log)";

absl::Status ShorterThanServed(uint64_t log_size, uint64_t served_size) {
  return absl::DataLossError(
      absl::StrCat("audit: the log holds ", log_size, " entries but a checkpoint of ", served_size,
                   " entries was signed and served (the high-water mark): the log lost its tail",
                   kRecoveryHint));
}

}  // namespace

// Reads complete nodes: levels >= 1 from the `merkle` column family; leaves
// (level 0) are not stored twice but hashed from their entries in `audit`.
class AuditLog::Nodes final : public audit::NodeReader {
 public:
  explicit Nodes(Database* db) : db_(db) {}
  absl::StatusOr<std::vector<audit::Hash>> ReadNodes(
      const std::vector<audit::NodeId>& ids) override {
    std::vector<std::string> keys;
    keys.reserve(ids.size());
    std::vector<std::pair<Cf, rocksdb::Slice>> reads;
    reads.reserve(ids.size());
    for (const audit::NodeId& id : ids) {
      keys.push_back(id.level == 0 ? internal::SequenceKey(id.index + 1)
                                   : internal::MerkleNodeKey(id.level, id.index));
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      reads.emplace_back(ids[i].level == 0 ? Cf::kAudit : Cf::kMerkle, keys[i]);
    }
    std::vector<absl::StatusOr<std::string>> values = db_->MultiGet(reads);
    std::vector<audit::Hash> hashes;
    hashes.reserve(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      auto& v = values[i];
      if (absl::IsNotFound(v.status())) return absl::DataLossError("merkle: a node is missing");
      LV_RETURN_IF_ERROR(v.status());
      if (ids[i].level == 0) {
        hashes.push_back(audit::LeafHash(*v));
        continue;
      }
      auto hash = audit::HashFromBytes(*v);
      if (!hash.ok()) return absl::DataLossError("merkle: a node is malformed");
      hashes.push_back(*hash);
    }
    return hashes;
  }

 private:
  Database* db_;
};

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(Database* db,
                                                         const AuditLogOptions& options) {
  auto log = std::unique_ptr<AuditLog>(new AuditLog(db, options));
  // The tree size is the last stored sequence (entries are 1, 2, 3, ... without gaps).
  uint64_t size = 0;
  std::unique_ptr<rocksdb::Iterator> it(
      db->db()->NewIterator(rocksdb::ReadOptions(), db->cf(Cf::kAudit)));
  it->SeekToLast();
  if (it->Valid()) {
    auto seq = internal::DecodeSequenceKey(absl::string_view(it->key().data(), it->key().size()));
    if (!seq.has_value()) return absl::DataLossError("audit: malformed sequence key");
    size = *seq;
  }
  LV_RETURN_IF_ERROR(FromRocks(it->status(), "scan audit"));
  LV_RETURN_IF_ERROR(log->RebuildTreeIfAbsent(size));
  Nodes nodes(db);
  LV_ASSIGN_OR_RETURN(std::vector<audit::Hash> frontier,
                      nodes.ReadNodes(audit::RangeNodes(0, size)));
  auto restored = audit::MerkleFrontier::FromNodes(size, std::move(frontier));
  if (!restored.ok()) return absl::DataLossError("merkle: frontier does not match the log");
  log->staged_ = *restored;
  if (!options.high_water_file.empty()) {
    LV_ASSIGN_OR_RETURN(log->high_water_, HighWaterMark::Open(options.high_water_file));
    if (log->high_water_->note().has_value()) {
      auto claim = UnverifiedCheckpoint(*log->high_water_->note());
      if (!claim.ok() && !options.accept_lost_tail) {
        return absl::DataLossError("audit: the high-water mark is not a signed checkpoint");
      }
      if (claim.ok()) log->high_water_claim_ = *claim;
      // Refused before anything (the key hierarchy's first commit included)
      // could be appended to a log that lost its tail.
      if (claim.ok() && claim->size > size && !options.accept_lost_tail) {
        return ShorterThanServed(size, claim->size);
      }
    }
  }
  absl::MutexLock lock(&log->mu_);
  log->durable_ = *std::move(restored);
  return log;
}

absl::Status AuditLog::RebuildTreeIfAbsent(uint64_t size) {
  if (size < 2) return absl::OkStatus();  // a tree of 0 or 1 leaves has no stored node
  std::unique_ptr<rocksdb::Iterator> probe(
      db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf(Cf::kMerkle)));
  probe->SeekToFirst();
  LV_RETURN_IF_ERROR(FromRocks(probe->status(), "scan merkle"));
  if (probe->Valid()) return absl::OkStatus();
  // A log written before the Merkle tree existed: derive its nodes from the
  // entries, in one durable write, before anything is appended.
  audit::MerkleFrontier frontier;
  rocksdb::WriteBatch batch;
  rocksdb::Status s;
  LV_RETURN_IF_ERROR(ScanStored(1, size, [&](const StoredEntry& stored) {
    frontier.Append(audit::LeafHash(stored.canonical), [&](audit::NodeId id, const audit::Hash& h) {
      if (s.ok() && id.level > 0) {
        s = batch.Put(db_->cf(Cf::kMerkle), internal::MerkleNodeKey(id.level, id.index),
                      rocksdb::Slice(reinterpret_cast<const char*>(h.data()), h.size()));
      }
    });
    return s.ok();
  }));
  LV_RETURN_IF_ERROR(FromRocks(s, "rebuild merkle"));
  rocksdb::WriteOptions options;
  options.sync = true;
  return FromRocks(db_->db()->Write(options, &batch), "rebuild merkle");
}

absl::Status AuditLog::SetSigner(std::unique_ptr<keys::SigningKey> key, const std::string& origin) {
  LV_ASSIGN_OR_RETURN(audit::NoteSigner signer, audit::NoteSigner::Create(origin, key.get()));
  LV_ASSIGN_OR_RETURN(audit::NoteVerifier verifier,
                      audit::NoteVerifier::Parse(signer.VerifierKey()));
  const uint64_t log_size = size();
  std::optional<LostTail> lost;
  if (options_.accept_lost_tail) {
    lost = LostTail{high_water_claim_.has_value() ? high_water_claim_->size : 0, log_size, false};
  }
  // A signed tree larger than the stored one, or with another root, means
  // entries were lost or replaced: refuse rather than sign a fork.
  auto covers = [&](const audit::Checkpoint& checkpoint, const char* what) -> absl::Status {
    if (checkpoint.size > log_size) {
      return absl::DataLossError(absl::StrCat(
          "audit: the log holds ", log_size, " entries but its ", what, " is a checkpoint of ",
          checkpoint.size, " entries: the log lost its tail", kRecoveryHint));
    }
    Nodes nodes(db_);
    LV_ASSIGN_OR_RETURN(audit::Hash root, audit::RootAt(checkpoint.size, nodes));
    if (root != checkpoint.root) {
      return absl::DataLossError(absl::StrCat("audit: the log's first ", checkpoint.size,
                                              " entries do not match its ", what,
                                              ": entries were replaced", kRecoveryHint));
    }
    return absl::OkStatus();
  };
  // Under accept_lost_tail a failed check is noted (and the vault audits it)
  // instead of refusing.
  auto check = [&](absl::Status status) -> absl::Status {
    if (status.ok() || !lost.has_value() || !absl::IsDataLoss(status)) return status;
    lost->lost = true;
    return absl::OkStatus();
  };

  std::optional<SignedCheckpoint> latest;
  auto note = db_->Get(Cf::kMeta, internal::kMetaCheckpointLatest);
  if (note.ok()) {
    auto checkpoint = audit::OpenCheckpoint(*note, verifier);
    absl::Status status = checkpoint.ok()
                              ? covers(*checkpoint, "stored last checkpoint")
                              : absl::DataLossError("audit: stored checkpoint fails verification");
    LV_RETURN_IF_ERROR(check(status));
    if (status.ok()) latest = SignedCheckpoint{*checkpoint, *note};
  } else if (!absl::IsNotFound(note.status())) {
    return note.status();
  }

  std::optional<uint64_t> high_water_size;
  if (high_water_ != nullptr && high_water_->note().has_value()) {
    auto served = audit::OpenCheckpoint(*high_water_->note(), verifier);
    absl::Status status =
        served.ok() ? covers(*served, "high-water mark (the newest checkpoint served)")
                    : absl::DataLossError(
                          "audit: the high-water mark is not a checkpoint signed by this vault");
    LV_RETURN_IF_ERROR(check(status));
    if (status.ok()) high_water_size = served->size;
  }
  // The mark catches up with a stored checkpoint it missed (a crash between
  // the two writes, or a log kept before the mark existed). After an accepted
  // loss it is left alone: the vault's audited recovery entry moves it.
  if (high_water_ != nullptr && latest.has_value() && (lost == std::nullopt || !lost->lost) &&
      (!high_water_size.has_value() || *high_water_size < latest->checkpoint.size)) {
    LV_RETURN_IF_ERROR(high_water_->Record(latest->note));
  }
  absl::MutexLock lock(&mu_);
  lost_tail_ = lost;
  key_ = std::move(key);
  signer_ = std::make_unique<audit::NoteSigner>(std::move(signer));
  origin_ = origin;
  latest_ = std::move(latest);
  return absl::OkStatus();
}

absl::Status AuditLog::Stage(const audit::AuditEntry& entry, const std::string& canonical,
                             rocksdb::WriteBatch& batch) {
  if (entry.sequence != staged_.size() + 1) {
    return absl::InternalError("audit: entry out of sequence");
  }
  rocksdb::Status s =
      batch.Put(db_->cf(Cf::kAudit), internal::SequenceKey(entry.sequence), canonical);
  staged_.Append(audit::LeafHash(canonical), [&](audit::NodeId id, const audit::Hash& hash) {
    if (s.ok() && id.level > 0) {  // a leaf is its entry's hash: not stored twice
      s = batch.Put(db_->cf(Cf::kMerkle), internal::MerkleNodeKey(id.level, id.index),
                    rocksdb::Slice(reinterpret_cast<const char*>(hash.data()), hash.size()));
    }
  });
  for (const std::string& key : DisclosureIndexKeys(entry)) {
    if (s.ok()) s = batch.Put(db_->cf(Cf::kAuditLead), key, "");
  }
  return FromRocks(s, "stage audit entry");
}

bool AuditLog::CheckpointDue(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  if (signer_ == nullptr) return false;
  uint64_t signed_size = latest_.has_value() ? latest_->checkpoint.size : 0;
  uint64_t unsigned_entries = staged_.size() - signed_size;
  if (unsigned_entries == 0) return false;
  return unsigned_entries >= options_.checkpoint_every_entries ||
         now - last_checkpoint_time_ >= options_.checkpoint_interval;
}

absl::Status AuditLog::StageCheckpointIfDue(absl::Time now, bool force,
                                            rocksdb::WriteBatch& batch) {
  staged_checkpoint_ = false;
  if (!force && !CheckpointDue(now)) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  if (signer_ == nullptr) return absl::OkStatus();
  if (latest_.has_value() && latest_->checkpoint.size == staged_.size()) return absl::OkStatus();
  SignedCheckpoint signed_checkpoint;
  signed_checkpoint.checkpoint = {origin_, staged_.size(), staged_.Root()};
  signed_checkpoint.note = signer_->Sign(audit::FormatCheckpoint(signed_checkpoint.checkpoint));
  std::string history = internal::kMetaCheckpointPrefix;
  internal::PutBigEndian64(history, staged_.size());
  rocksdb::Status s = batch.Put(db_->cf(Cf::kMeta), history, signed_checkpoint.note);
  if (s.ok()) {
    s = batch.Put(db_->cf(Cf::kMeta), internal::kMetaCheckpointLatest, signed_checkpoint.note);
  }
  LV_RETURN_IF_ERROR(FromRocks(s, "stage checkpoint"));
  staged_signed_ = std::move(signed_checkpoint);
  staged_checkpoint_time_ = now;
  staged_checkpoint_ = true;
  return absl::OkStatus();
}

absl::Status AuditLog::CommitStaged() {
  // The mark is durable before the checkpoint can be read by anyone.
  absl::Status recorded = absl::OkStatus();
  if (staged_checkpoint_ && high_water_ != nullptr) {
    recorded = high_water_->Record(staged_signed_.note);
  }
  absl::MutexLock lock(&mu_);
  durable_ = staged_;
  if (staged_checkpoint_ && recorded.ok()) {
    latest_ = std::move(staged_signed_);
    last_checkpoint_time_ = staged_checkpoint_time_;
  }
  staged_checkpoint_ = false;
  return recorded;
}

audit::MerkleFrontier AuditLog::durable_frontier() const {
  absl::MutexLock lock(&mu_);
  return durable_;
}

const std::string& AuditLog::StagedCheckpointNote() const {
  static const std::string kNone;
  return staged_checkpoint_ ? staged_signed_.note : kNone;
}

void AuditLog::DiscardStaged() {
  absl::MutexLock lock(&mu_);
  staged_ = durable_;
  staged_checkpoint_ = false;
}

std::optional<LostTail> AuditLog::lost_tail() const {
  absl::MutexLock lock(&mu_);
  return lost_tail_;
}

uint64_t AuditLog::size() const {
  absl::MutexLock lock(&mu_);
  return durable_.size();
}

std::optional<SignedCheckpoint> AuditLog::LatestCheckpoint() const {
  absl::MutexLock lock(&mu_);
  return latest_;
}

std::string AuditLog::VerifierKey() const {
  absl::MutexLock lock(&mu_);
  return signer_ == nullptr ? std::string() : signer_->VerifierKey();
}

std::string AuditLog::origin() const {
  absl::MutexLock lock(&mu_);
  return origin_;
}

absl::StatusOr<std::string> AuditLog::SignExportManifest(
    const audit::ExportManifest& manifest) const {
  LV_RETURN_IF_ERROR(audit::ValidateExportFilter(manifest.filter));
  absl::MutexLock lock(&mu_);
  if (signer_ == nullptr) return absl::FailedPreconditionError("audit log: no signing key yet");
  if (manifest.origin != origin_) {
    return absl::InvalidArgumentError("export manifest: origin is not the log's");
  }
  return signer_->Sign(audit::FormatExportManifest(manifest));
}

absl::StatusOr<std::vector<audit::Hash>> AuditLog::InclusionProof(uint64_t index,
                                                                  uint64_t tree_size) {
  if (tree_size > size()) return absl::InvalidArgumentError("tree_size: beyond the log");
  if (index >= tree_size) return absl::InvalidArgumentError("sequence: beyond tree_size");
  Nodes nodes(db_);
  return audit::InclusionProof(index, tree_size, nodes);
}

absl::StatusOr<std::vector<audit::Hash>> AuditLog::ConsistencyProof(uint64_t size1,
                                                                    uint64_t size2) {
  if (size2 > size()) return absl::InvalidArgumentError("to_size: beyond the log");
  if (size1 > size2) return absl::InvalidArgumentError("from_size: larger than to_size");
  Nodes nodes(db_);
  return audit::ConsistencyProof(size1, size2, nodes);
}

absl::StatusOr<std::vector<audit::Hash>> AuditLog::RangeHashes(uint64_t begin, uint64_t end) {
  if (begin > end || end > size()) return absl::InvalidArgumentError("range: beyond the log");
  Nodes nodes(db_);
  return nodes.ReadNodes(audit::RangeNodes(begin, end));
}

absl::StatusOr<StoredEntry> AuditLog::ReadEntry(uint64_t sequence) {
  if (sequence == 0 || sequence > size()) return absl::NotFoundError("audit entry not found");
  auto bytes = db_->Get(Cf::kAudit, internal::SequenceKey(sequence));
  if (absl::IsNotFound(bytes.status())) return absl::DataLossError("audit: an entry is missing");
  LV_RETURN_IF_ERROR(bytes.status());
  LV_ASSIGN_OR_RETURN(audit::AuditEntry entry, audit::DecodeCanonical(*bytes));
  if (entry.sequence != sequence) return absl::DataLossError("audit: entry out of place");
  return StoredEntry{*std::move(bytes), std::move(entry)};
}

absl::Status AuditLog::ScanEntries(uint64_t first, uint64_t last,
                                   const std::function<bool(const StoredEntry&)>& fn) {
  return ScanStored(first, std::min(last, size()), fn);
}

absl::Status AuditLog::ScanStored(uint64_t first, uint64_t last,
                                  const std::function<bool(const StoredEntry&)>& fn) {
  if (first == 0 || last < first) return absl::OkStatus();
  rocksdb::ReadOptions options;
  options.fill_cache = false;  // a one-pass scan must not evict the working set
  std::string upper = internal::SequenceKey(last + 1);
  rocksdb::Slice upper_slice(upper);
  options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator(options, db_->cf(Cf::kAudit)));
  uint64_t expected = first;
  StoredEntry stored;
  for (it->Seek(internal::SequenceKey(first)); it->Valid(); it->Next()) {
    auto seq = internal::DecodeSequenceKey(absl::string_view(it->key().data(), it->key().size()));
    if (!seq.has_value() || *seq != expected) return absl::DataLossError("audit: gap in the log");
    ++expected;
    stored.canonical.assign(it->value().data(), it->value().size());
    LV_ASSIGN_OR_RETURN(stored.entry, audit::DecodeCanonical(stored.canonical));
    if (stored.entry.sequence != *seq) return absl::DataLossError("audit: entry out of place");
    if (!fn(stored)) return absl::CancelledError("scan stopped");
  }
  LV_RETURN_IF_ERROR(FromRocks(it->status(), "scan audit"));
  if (expected != last + 1) return absl::DataLossError("audit: gap in the log");
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> AuditLog::FirstSequenceAtOrAfter(absl::Time t) {
  // Binary search over [1, size + 1): times never decrease with sequence.
  uint64_t lo = 1, hi = size() + 1;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    LV_ASSIGN_OR_RETURN(StoredEntry e, ReadEntry(mid));
    if (e.entry.time < t) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

absl::Status AuditLog::ScanDisclosures(const std::string& lead_id, uint64_t from_sequence,
                                       const std::function<bool(uint64_t)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf(Cf::kAuditLead)));
  for (it->Seek(internal::AuditLeadKey(lead_id, from_sequence));
       it->Valid() && it->key().starts_with(lead_id); it->Next()) {
    absl::string_view key(it->key().data(), it->key().size());
    if (key.size() != lead_id.size() + 8) return absl::DataLossError("audit_lead: malformed key");
    if (!fn(internal::GetBigEndian64(key.substr(lead_id.size())))) break;
  }
  return FromRocks(it->status(), "scan audit_lead");
}

}  // namespace leadvault::vault
