// A merge log: the Merge operands a commit group adds to one column family,
// written as ONE row of it instead of one operand per key, and folded into
// the keys' own operands later.
//
// Why: a group of lead changes adds a few dozen funnel operands (one per
// cell it moves a lead out of or into). Each is an entry in the memtable's
// skip list, inserted on the committer thread, which every write waits
// for; one record per group is one entry. Every `fold_every_groups` groups
// (or once their operands or bytes reach a bound) the committer writes, in
// one atomic batch, each touched key's operands combined and the deletion
// of the records it folded, so the log stays short.
//
// A record's key is the log's prefix || its number (8 bytes big-endian,
// increasing); its value is its operands, each as the key's length (LEB128
// varint), the key, the operand's length and the operand. A key's value is
// the merge of its row and of its operands in the unfolded records, in
// record order (ForEachLoggedOperand); readers that add (the funnel's) may
// visit the row and the operands in any order.
//
// Crash consistency: a record is part of the batch whose changes it counts,
// and a fold replaces records by operands in one batch, so whatever a crash
// leaves, rows plus unfolded records give the same values. Open folds
// whatever a previous run left (FoldMergeLog).
#ifndef LEADVAULT_VAULT_MERGE_LOG_H_
#define LEADVAULT_VAULT_MERGE_LOG_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rocksdb/db.h"
#include "rocksdb/merge_operator.h"
#include "rocksdb/write_batch.h"
#include "vault/database.h"

namespace leadvault::vault {

struct MergeLogOptions {
  Cf cf = Cf::kFunnel;
  // The column family's own merge operator (a fold combines each key's
  // operands with PartialMergeMulti; where it cannot, they are kept apart).
  std::shared_ptr<rocksdb::MergeOperator> op;
  // No other key of the column family starts with it.
  std::string prefix;
  // A fold is due once this many records are unfolded, or their operands
  // number this many (a fold's batch holds at most one operand per key), or
  // their bytes this many (what the writer keeps until the fold).
  size_t fold_every_groups = 1024;
  size_t fold_max_operands = 65536;
  size_t fold_max_bytes = 1 << 20;
};

// The key of record `number`.
std::string MergeLogKey(absl::string_view prefix, uint64_t number);

// Appends one operand to a record's value.
void AppendLoggedOperand(absl::string_view key, absl::string_view operand, std::string& record);

// Calls `visit` with each operand of a record's value, in order; DATA_LOSS
// (naming no byte of it) for a malformed one, after visiting those before.
absl::Status ForEachOperandOfRecord(
    absl::string_view record,
    const std::function<absl::Status(absl::string_view key, absl::string_view operand)>& visit);

// Every operand of every unfolded record of the log, in record order, as
// `read` sees them (its snapshot).
absl::Status ForEachLoggedOperand(
    Database& db, const rocksdb::ReadOptions& read, const MergeLogOptions& log,
    const std::function<absl::Status(absl::string_view key, absl::string_view operand)>& visit);

// Folds every record of the log into its keys' operands, in atomic batches
// of up to 4,096 records (a no-op when there are none). For an open, before anything writes the
// column family's rows directly.
absl::Status FoldMergeLog(Database& db, const MergeLogOptions& log);

// The committer's side (vault/committer.h): on the committer thread only.
class MergeLogWriter {
 public:
  // Folds what a previous run left (FoldMergeLog) first.
  static absl::StatusOr<std::unique_ptr<MergeLogWriter>> Open(Database* db,
                                                              MergeLogOptions options);

  const MergeLogOptions& options() const { return options_; }

  // Appends to `batch` the group's record (AppendLoggedOperand's, of
  // `operands` operands). Once per group, after any StageFold().
  absl::Status StageRecord(std::string record, size_t operands, rocksdb::WriteBatch& batch);
  // Appends to `batch` the fold of every record written before this group:
  // for a group that also writes the column family's rows directly, whose
  // order with the logged operands must be kept. Nothing without a record.
  // Once per group. Sets to_apply().
  absl::Status StageFold(rocksdb::WriteBatch& batch);
  // After the group's write: `written` adopts what was staged, else it is
  // forgotten (its record number is not reused either).
  void GroupDone(bool written);

  // Whether the log is due a fold; Fold() writes one on its own.
  bool FoldDue() const;
  absl::Status Fold();

  // For readers that follow the folds (Committer::CatchUpMergeLog): the
  // operands of the written records they have not seen yet, combined per key
  // as a fold would, in to_apply(); from then on a fold hands them only what
  // came after. Writes nothing. After GroupDone(), so the group's own
  // record is included.
  absl::Status CatchUp();

  // What readers get of the fold last staged or written, or of the last
  // CatchUp(): (key, operand), one per key (or each, where the operator
  // cannot combine them), of the records they had not seen.
  const std::vector<std::pair<std::string, std::string>>& to_apply() const { return to_apply_; }
  bool fold_staged() const { return fold_staged_; }

 private:
  MergeLogWriter(Database* db, MergeLogOptions options);
  // Appends to `batch` the fold of `records_` and the deletion of records [first_, next_).
  absl::Status StageFoldOf(rocksdb::WriteBatch& batch);

  Database* const db_;
  const MergeLogOptions options_;
  uint64_t first_ = 0;  // the oldest unfolded record
  uint64_t next_ = 0;   // the number of the next record
  // The written, unfolded records of this run, in order: kept whole and
  // parsed by the fold (and by a CatchUp() before it); a group only moves
  // its record here.
  std::vector<std::string> records_;
  size_t applied_ = 0;  // records_[0, applied_) were handed to readers (CatchUp)
  size_t pending_operands_ = 0;
  size_t pending_bytes_ = 0;
  std::vector<std::pair<std::string, std::string>> to_apply_;
  // Staged by the current group.
  bool fold_staged_ = false;
  uint64_t fold_end_ = 0;
  std::string staged_;  // the record
  size_t staged_operands_ = 0;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_MERGE_LOG_H_
