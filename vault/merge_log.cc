#include "vault/merge_log.h"

#include <deque>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "keys/status_macros.h"

namespace leadvault::vault {
namespace {

constexpr size_t kNumberBytes = 8;
// Records folded by one FoldMergeLog batch at most (a crash usually leaves
// fewer than fold_every_groups; an open folds more in several batches).
constexpr size_t kFoldBatchRecords = 4096;

void AppendVarint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads a varint length and that many bytes from `in` (advanced past them).
bool ReadPiece(absl::string_view& in, absl::string_view& piece) {
  uint64_t n = 0;
  for (int shift = 0;; shift += 7) {
    if (in.empty() || shift > 28) return false;  // cut, or longer than any record
    const auto byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    n |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  if (n > in.size()) return false;
  piece = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

// Each key's operands in records [first, records.size()), in order, combined
// in one where the operator can (PartialMergeMulti), else each as it is.
// DATA_LOSS for a malformed record.
absl::Status CombineRecords(const MergeLogOptions& log, const std::vector<std::string>& records,
                            size_t first, std::vector<std::pair<std::string, std::string>>& out) {
  out.clear();
  // Views into `records`.
  absl::flat_hash_map<absl::string_view, std::deque<rocksdb::Slice>> operands;
  for (size_t i = first; i < records.size(); ++i) {
    LV_RETURN_IF_ERROR(ForEachOperandOfRecord(
        records[i], [&operands](absl::string_view key, absl::string_view op) {
          operands[key].emplace_back(op.data(), op.size());
          return absl::OkStatus();
        }));
  }
  std::string combined;
  for (const auto& [key, slices] : operands) {
    const rocksdb::Slice k(key.data(), key.size());
    if (slices.size() > 1) {
      combined.clear();
      if (log.op->PartialMergeMulti(k, slices, &combined, nullptr)) {
        out.emplace_back(key, combined);
        continue;
      }
    }
    for (const rocksdb::Slice& operand : slices) out.emplace_back(key, operand.ToStringView());
  }
  return absl::OkStatus();
}

// Appends to `batch` the fold of `records` (CombineRecords, left in
// `combined`) and the deletion of the records in [begin, end).
absl::Status StageFoldOfRecords(Database& db, const MergeLogOptions& log,
                                const std::vector<std::string>& records, const std::string& begin,
                                const std::string& end, rocksdb::WriteBatch& batch,
                                std::vector<std::pair<std::string, std::string>>& combined) {
  LV_RETURN_IF_ERROR(CombineRecords(log, records, 0, combined));
  rocksdb::ColumnFamilyHandle* cf = db.cf(log.cf);
  for (const auto& [key, operand] : combined) {
    LV_RETURN_IF_ERROR(db.Check(batch.Merge(cf, key, operand), "fold merge log"));
  }
  return db.Check(batch.DeleteRange(cf, begin, end), "fold merge log");
}

}  // namespace

std::string MergeLogKey(absl::string_view prefix, uint64_t number) {
  std::string key(prefix);
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(number >> shift));
  return key;
}

void AppendLoggedOperand(absl::string_view key, absl::string_view operand, std::string& record) {
  AppendVarint(key.size(), record);
  record.append(key.data(), key.size());
  AppendVarint(operand.size(), record);
  record.append(operand.data(), operand.size());
}

absl::Status ForEachOperandOfRecord(
    absl::string_view record,
    const std::function<absl::Status(absl::string_view key, absl::string_view operand)>& visit) {
  while (!record.empty()) {
    absl::string_view key, operand;
    if (!ReadPiece(record, key) || !ReadPiece(record, operand)) {
      return absl::DataLossError("merge log: malformed record");
    }
    LV_RETURN_IF_ERROR(visit(key, operand));
  }
  return absl::OkStatus();
}

absl::Status ForEachLoggedOperand(
    Database& db, const rocksdb::ReadOptions& read, const MergeLogOptions& log,
    const std::function<absl::Status(absl::string_view key, absl::string_view operand)>& visit) {
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(read, db.cf(log.cf)));
  for (it->Seek(log.prefix); it->Valid() && it->key().starts_with(log.prefix); it->Next()) {
    if (it->key().size() != log.prefix.size() + kNumberBytes) {
      return absl::DataLossError("merge log: malformed record key");
    }
    LV_RETURN_IF_ERROR(
        ForEachOperandOfRecord(absl::string_view(it->value().data(), it->value().size()), visit));
  }
  return db.Check(it->status(), "read merge log");
}

absl::Status FoldMergeLog(Database& db, const MergeLogOptions& log) {
  while (true) {
    std::vector<std::string> records;
    std::unique_ptr<rocksdb::Iterator> it(
        db.db()->NewIterator(rocksdb::ReadOptions(), db.cf(log.cf)));
    std::string begin, end;
    for (it->Seek(log.prefix);
         it->Valid() && it->key().starts_with(log.prefix) && records.size() < kFoldBatchRecords;
         it->Next()) {
      const absl::string_view key(it->key().data(), it->key().size());
      if (key.size() != log.prefix.size() + kNumberBytes) {
        return absl::DataLossError("merge log: malformed record key");
      }
      if (records.empty()) begin = std::string(key);
      // The key right after this one (whatever its number, even the last).
      end = std::string(key);
      end.push_back('\0');
      records.emplace_back(it->value().data(), it->value().size());
    }
    LV_RETURN_IF_ERROR(db.Check(it->status(), "fold merge log"));
    if (records.empty()) return absl::OkStatus();
    rocksdb::WriteBatch batch;
    std::vector<std::pair<std::string, std::string>> combined;
    LV_RETURN_IF_ERROR(StageFoldOfRecords(db, log, records, begin, end, batch, combined));
    LV_RETURN_IF_ERROR(db.Write(&batch, "fold merge log"));
  }
}

absl::StatusOr<std::unique_ptr<MergeLogWriter>> MergeLogWriter::Open(Database* db,
                                                                     MergeLogOptions options) {
  if (options.prefix.empty() || options.op == nullptr) {
    return absl::InvalidArgumentError("merge log: needs a prefix and a merge operator");
  }
  LV_RETURN_IF_ERROR(FoldMergeLog(*db, options));
  return std::unique_ptr<MergeLogWriter>(new MergeLogWriter(db, std::move(options)));
}

MergeLogWriter::MergeLogWriter(Database* db, MergeLogOptions options)
    : db_(db), options_(std::move(options)) {}

absl::Status MergeLogWriter::StageRecord(std::string record, size_t operands,
                                         rocksdb::WriteBatch& batch) {
  if (record.empty()) return absl::OkStatus();
  LV_RETURN_IF_ERROR(
      db_->Check(batch.Put(db_->cf(options_.cf), MergeLogKey(options_.prefix, next_++), record),
                 "stage merge log"));
  staged_ = std::move(record);
  staged_operands_ = operands;
  return absl::OkStatus();
}

absl::Status MergeLogWriter::StageFoldOf(rocksdb::WriteBatch& batch) {
  to_apply_.clear();
  // Numbers without a record (failed groups') need no deletion.
  if (records_.empty()) return absl::OkStatus();
  LV_RETURN_IF_ERROR(StageFoldOfRecords(*db_, options_, records_,
                                        MergeLogKey(options_.prefix, first_),
                                        MergeLogKey(options_.prefix, next_), batch, to_apply_));
  // What readers have not seen yet: the records since the last CatchUp()
  // (all of them, the usual case, is what was just combined).
  if (applied_ == 0) return absl::OkStatus();
  return CombineRecords(options_, records_, applied_, to_apply_);
}

absl::Status MergeLogWriter::StageFold(rocksdb::WriteBatch& batch) {
  if (fold_staged_) return absl::OkStatus();
  LV_RETURN_IF_ERROR(StageFoldOf(batch));
  fold_staged_ = true;
  fold_end_ = next_;
  return absl::OkStatus();
}

void MergeLogWriter::GroupDone(bool written) {
  if (!written || !fold_staged_) to_apply_.clear();  // nothing of it was written
  if (written) {
    if (fold_staged_) {
      records_.clear();
      applied_ = 0;
      pending_operands_ = 0;
      pending_bytes_ = 0;
      first_ = fold_end_;
    }
    if (!staged_.empty()) {
      pending_operands_ += staged_operands_;
      pending_bytes_ += staged_.size();
      records_.push_back(std::move(staged_));
    }
  }
  fold_staged_ = false;
  staged_.clear();
  staged_operands_ = 0;
}

bool MergeLogWriter::FoldDue() const {
  return next_ - first_ >= options_.fold_every_groups ||
         pending_operands_ >= options_.fold_max_operands ||
         pending_bytes_ >= options_.fold_max_bytes;
}

absl::Status MergeLogWriter::Fold() {
  to_apply_.clear();
  if (records_.empty()) {  // nothing to write (numbers of failed groups only)
    first_ = next_;
    return absl::OkStatus();
  }
  rocksdb::WriteBatch batch;
  absl::Status staged = StageFoldOf(batch);
  if (staged.ok()) staged = db_->Write(&batch, "fold merge log");
  if (!staged.ok()) {
    to_apply_.clear();
    return staged;
  }
  records_.clear();
  applied_ = 0;
  pending_operands_ = 0;
  pending_bytes_ = 0;
  first_ = next_;
  return absl::OkStatus();
}

absl::Status MergeLogWriter::CatchUp() {
  to_apply_.clear();
  LV_RETURN_IF_ERROR(CombineRecords(options_, records_, applied_, to_apply_));
  applied_ = records_.size();
  return absl::OkStatus();
}

}  // namespace leadvault::vault
