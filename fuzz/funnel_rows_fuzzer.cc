// The funnel column family's stored bytes (vault/funnel.h, vault/merge_log.h):
// a row's counters, a row key, and a merge-log record, as a damaged or
// tampered data dir may hold them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "rocksdb/slice.h"
#include "vault/funnel.h"
#include "vault/merge_log.h"

using leadvault::vault::AppendLoggedOperand;
using leadvault::vault::DecodeFunnelCounters;
using leadvault::vault::EncodeFunnelCounters;
using leadvault::vault::ForEachOperandOfRecord;
using leadvault::vault::FunnelCell;
using leadvault::vault::FunnelCounters;
using leadvault::vault::FunnelKey;
using leadvault::vault::FunnelMergeOperator;
using leadvault::vault::ParseFunnelKey;

namespace {

using Operands = std::vector<std::pair<std::string, std::string>>;

absl::StatusOr<Operands> ReadRecord(absl::string_view record) {
  Operands out;
  absl::Status read =
      ForEachOperandOfRecord(record, [&out](absl::string_view key, absl::string_view operand) {
        out.emplace_back(std::string(key), std::string(operand));
        return absl::OkStatus();
      });
  if (!read.ok()) return read;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);

  // Counters: what decodes encodes to a value that decodes the same.
  absl::StatusOr<FunnelCounters> counters = DecodeFunnelCounters(input);
  if (counters.ok()) {
    absl::StatusOr<FunnelCounters> again = DecodeFunnelCounters(EncodeFunnelCounters(*counters));
    FUZZ_CHECK(again.ok() && *again == *counters);
  } else {
    FUZZ_CHECK(absl::IsDataLoss(counters.status()));
  }

  // A row key parses to the cell whose key it is, byte for byte.
  char kind = 0;
  absl::StatusOr<FunnelCell> cell = ParseFunnelKey(input, &kind);
  if (cell.ok()) {
    FUZZ_CHECK(FunnelKey(kind, *cell) == input);
  } else {
    FUZZ_CHECK(absl::IsDataLoss(cell.status()));
  }

  // A merge-log record: what reads is re-encoded to a record that reads the same.
  absl::StatusOr<Operands> operands = ReadRecord(input);
  if (operands.ok()) {
    std::string record;
    for (const auto& [key, operand] : *operands) AppendLoggedOperand(key, operand, record);
    absl::StatusOr<Operands> again = ReadRecord(record);
    FUZZ_CHECK(again.ok() && *again == *operands);
  } else {
    FUZZ_CHECK(absl::IsDataLoss(operands.status()));
    FUZZ_CHECK(operands.status().message() == "merge log: malformed record");
  }

  // The merge operator on two halves: refuses (RocksDB reports corruption)
  // or adds.
  const absl::string_view left = input.substr(0, size / 2);
  const absl::string_view right = input.substr(size / 2);
  std::string merged;
  const bool combined = FunnelMergeOperator()->PartialMerge(
      rocksdb::Slice("k"), rocksdb::Slice(left.data(), left.size()),
      rocksdb::Slice(right.data(), right.size()), &merged, nullptr);
  absl::StatusOr<FunnelCounters> a = DecodeFunnelCounters(left);
  absl::StatusOr<FunnelCounters> b = DecodeFunnelCounters(right);
  FUZZ_CHECK(combined == (a.ok() && b.ok()));
  if (combined) {
    absl::StatusOr<FunnelCounters> sum = DecodeFunnelCounters(merged);
    FUZZ_CHECK(sum.ok());
    for (size_t i = 0; i < sum->size(); ++i) {
      FUZZ_CHECK((*sum)[i] == static_cast<int64_t>(static_cast<uint64_t>((*a)[i]) +
                                                   static_cast<uint64_t>((*b)[i])));
    }
  }
  return 0;
}
