// Verification streams the file once, in large read(2)s into two alternating
// buffers (the next is read while the current one is checked); only two
// batches of lines and the O(log n) Merkle frontier are held, whatever the
// file's size. A batch's entry lines are checked in chunks claimed by the
// calling thread and helper threads (decode, re-encode, re-render and compare,
// leaf hash, and unfiltered the chunk's compact range, filtered the inclusion
// proof), then folded in file order on the calling thread (sequence rule,
// frontier append), so the failure reported is the first in file order.
//
// A filtered export's entries are checked against the checkpoint as they are
// read, so its trailer is first read from the end of the file (the last
// kTailBytes, with pread); when the stream reaches that line it must be the
// same bytes. The signature is thus checked before any entry, and so is the
// signed manifest of a filtered export (audit/export_manifest.h), whose count
// and leaf chain are then checked against the entry lines once they are read.
#include "audit/verifier.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "audit/export_format.h"
#include "audit/export_manifest.h"
#include "audit/internal/export_reader.h"
#include "audit/internal/line_file.h"
#include "audit/internal/range_check.h"
#include "audit/internal/worker_pool.h"
#include "audit/merkle.h"
#include "keys/status_macros.h"

namespace leadvault::audit {
namespace {

using internal::Batch;
using internal::ChunkNodes;
using internal::Consistency;
using internal::EntryLine;
using internal::EntryResult;
using internal::kCheckpointPrefix;
using internal::kChunkLines;
using internal::kConsistencyPrefix;
using internal::kEntryPrefix;
using internal::LineFile;
using internal::LineLabel;
using internal::RangeCheck;
using internal::WithPrefix;
using internal::WorkerPool;

constexpr size_t kTailBytes = size_t{1} << 20;
constexpr unsigned kMaxThreads = 4;

struct ParsedTrailer {
  std::string line;  // as read, without '\n'
  ExportTrailer trailer;
  Checkpoint checkpoint;
  std::optional<ExportManifest> manifest;  // filtered only
};

class ExportVerifier {
 public:
  ExportVerifier(const VerifyOptions& options, LineFile& file) : options_(options), file_(file) {}

  absl::StatusOr<VerifyReport> Run();

 private:
  absl::Status ReadTrailerFromEnd();
  // The checkpoint line read and its notes opened against the header.
  absl::StatusOr<ParsedTrailer> OpenTrailer(absl::string_view line, absl::string_view label) const;
  absl::Status OnCheckpointLine(absl::string_view line, uint64_t line_number);
  absl::Status OnConsistencyLine(absl::string_view line, uint64_t line_number);
  // Checks lines [0, count) of `lines` (entry lines, the first numbered
  // first_line) on all workers; the read of the next batch, `prefetch`, runs
  // on this thread meanwhile. Then folds them in order.
  absl::Status CheckEntries(const absl::string_view* lines, size_t count, uint64_t first_line,
                            absl::FunctionRef<void()> prefetch);
  void CheckChunk(const absl::string_view* lines, size_t count, uint64_t first_line,
                  uint64_t first_leaf, size_t chunk, size_t worker);

  const VerifyOptions& options_;
  LineFile& file_;

  // Constant after the header (and, when filtered, the trailer read from the end).
  ExportHeader header_;
  std::optional<ParsedTrailer> tail_trailer_;

  std::optional<RangeCheck> range_;  // from the header on
  std::optional<ParsedTrailer> trailer_;
  std::optional<Consistency> consistency_;

  std::unique_ptr<WorkerPool> pool_;
  std::vector<EntryLine> scratch_;       // one per worker
  std::vector<EntryResult> results_;     // one per line of a batch
  std::vector<ChunkNodes> chunk_nodes_;  // one per chunk of a batch
};

absl::StatusOr<VerifyReport> ExportVerifier::Run() {
  Batch batches[2];
  size_t current = 0;
  LV_RETURN_IF_ERROR(file_.ReadBatch(batches[0]));
  if (batches[0].lines.empty()) return absl::InvalidArgumentError("line 1: empty file, no header");
  LV_ASSIGN_OR_RETURN(header_, internal::ReadHeaderLine(batches[0].lines[0]));
  LV_ASSIGN_OR_RETURN(RangeCheck range, RangeCheck::Start(header_, options_.trusted));
  range_ = std::move(range);
  if (header_.filtered) {
    LV_RETURN_IF_ERROR(ReadTrailerFromEnd());
  } else {
    LV_RETURN_IF_ERROR(range_->CheckTrustedInStream(1));
  }

  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, kMaxThreads);
  pool_ = std::make_unique<WorkerPool>(threads - 1);
  scratch_.resize(pool_->workers());

  enum class State { kEntries, kAfterCheckpoint, kAfterConsistency } state = State::kEntries;
  size_t start = 1;  // the header is done
  for (;;) {
    const Batch& batch = batches[current];
    Batch& next = batches[current ^ 1];
    const std::vector<absl::string_view>& lines = batch.lines;
    size_t i = start;
    if (state == State::kEntries) {
      while (i < lines.size() && absl::StartsWith(lines[i], kEntryPrefix)) ++i;
    }
    // Read the next batch while this one is checked; its error comes after
    // this batch's (file order).
    const bool more = !file_.at_end();
    absl::Status read_status;
    LV_RETURN_IF_ERROR(CheckEntries(lines.data() + start, i - start, batch.first_line + start, [&] {
      if (more) read_status = file_.ReadBatch(next);
    }));
    for (; i < lines.size(); ++i) {
      const uint64_t line_number = batch.first_line + i;
      const absl::string_view line = lines[i];
      switch (state) {
        case State::kEntries:
          if (!absl::StartsWith(line, kCheckpointPrefix)) {
            return absl::InvalidArgumentError(
                absl::StrCat(LineLabel(line_number), ": expected an entry or the checkpoint line"));
          }
          LV_RETURN_IF_ERROR(OnCheckpointLine(line, line_number));
          state = State::kAfterCheckpoint;
          break;
        case State::kAfterCheckpoint:
          if (!absl::StartsWith(line, kConsistencyPrefix)) {
            return absl::InvalidArgumentError(
                absl::StrCat(LineLabel(line_number), ": unexpected line after the checkpoint"));
          }
          LV_RETURN_IF_ERROR(OnConsistencyLine(line, line_number));
          state = State::kAfterConsistency;
          break;
        case State::kAfterConsistency:
          return absl::InvalidArgumentError(
              absl::StrCat(LineLabel(line_number), ": unexpected line after the trailer"));
      }
    }
    LV_RETURN_IF_ERROR(read_status);
    if (!more || next.lines.empty()) break;
    current ^= 1;
    start = 0;
  }
  pool_.reset();
  if (!trailer_.has_value()) {
    const uint64_t last_line = batches[current].first_line + batches[current].lines.size() - 1;
    return absl::InvalidArgumentError(absl::StrCat(
        "truncated: no checkpoint line after line ", last_line,
        range_->entries() > 0 ? absl::StrCat(" (sequence ", range_->last_seen(), ")") : ""));
  }
  LV_RETURN_IF_ERROR(range_->CheckTrustedAtEnd(trailer_->checkpoint, consistency_));

  VerifyReport report;
  report.entries = range_->entries();
  report.first_sequence = header_.first_sequence;
  report.last_sequence = header_.last_sequence;
  report.filtered = header_.filtered;
  report.checkpoint = trailer_->checkpoint;
  report.trusted_checked = range_->trusted_checked();
  report.manifest = trailer_->manifest;
  return report;
}

absl::StatusOr<ParsedTrailer> ExportVerifier::OpenTrailer(absl::string_view line,
                                                          absl::string_view label) const {
  ParsedTrailer parsed;
  parsed.line = std::string(line);
  LV_ASSIGN_OR_RETURN(parsed.trailer, internal::ReadTrailerLine(line, label, header_.filtered));
  auto checkpoint = OpenCheckpoint(parsed.trailer.checkpoint_note, *options_.verifier);
  if (!checkpoint.ok()) return WithPrefix("checkpoint: ", checkpoint.status());
  parsed.checkpoint = *std::move(checkpoint);
  const Checkpoint& cp = parsed.checkpoint;
  if (cp.origin != header_.origin) {
    return absl::InvalidArgumentError("checkpoint: its origin differs from the header's origin");
  }
  if (cp.size < header_.last_sequence) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint: tree size ", cp.size,
                                                   " does not cover last_sequence ",
                                                   header_.last_sequence));
  }
  if (header_.filtered && !parsed.trailer.right_nodes.empty()) {
    return absl::InvalidArgumentError("checkpoint: a filtered export has no right_nodes");
  }
  if (header_.filtered) {
    auto manifest = OpenExportManifest(parsed.trailer.manifest_note, *options_.verifier);
    if (!manifest.ok()) return WithPrefix("manifest: ", manifest.status());
    LV_RETURN_IF_ERROR(internal::CheckManifestAgainstHeader(header_, *manifest, cp));
    parsed.manifest = *std::move(manifest);
  }
  return parsed;
}

absl::Status ExportVerifier::ReadTrailerFromEnd() {
  std::string tail;
  uint64_t offset = 0;
  LV_RETURN_IF_ERROR(file_.ReadTail(kTailBytes, tail, offset));
  absl::string_view rest(tail);
  if (rest.empty() || rest.back() != '\n') {
    return absl::InvalidArgumentError("truncated: the file does not end in '\\n'");
  }
  // The last line, and the one before it; each must be complete in the tail.
  auto take_last_line = [&](absl::string_view& line) {
    rest.remove_suffix(1);  // its '\n'
    const size_t nl = rest.rfind('\n');
    if (nl == absl::string_view::npos && offset > 0) return false;
    const size_t start = nl == absl::string_view::npos ? 0 : nl + 1;
    line = rest.substr(start);
    rest = rest.substr(0, start);
    return true;
  };
  absl::string_view line;
  if (!take_last_line(line)) {
    return absl::InvalidArgumentError("checkpoint: trailer lines longer than 1 MiB");
  }
  if (absl::StartsWith(line, kConsistencyPrefix)) {
    if (rest.empty() || !take_last_line(line)) {
      return absl::InvalidArgumentError("truncated: no checkpoint line at the end of the file");
    }
  }
  if (!absl::StartsWith(line, kCheckpointPrefix)) {
    return absl::InvalidArgumentError("truncated: no checkpoint line at the end of the file");
  }
  LV_ASSIGN_OR_RETURN(ParsedTrailer parsed, OpenTrailer(line, "checkpoint line"));
  tail_trailer_ = std::move(parsed);
  return absl::OkStatus();
}

absl::Status ExportVerifier::OnCheckpointLine(absl::string_view line, uint64_t line_number) {
  const std::string label = LineLabel(line_number);
  if (tail_trailer_.has_value()) {
    if (line != tail_trailer_->line) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, ": a checkpoint line that is not the file's trailer"));
    }
    trailer_ = tail_trailer_;  // the entries were checked against tail_trailer_
  } else {
    LV_ASSIGN_OR_RETURN(ParsedTrailer parsed, OpenTrailer(line, label));
    trailer_ = std::move(parsed);
  }
  return range_->CheckComplete(trailer_->checkpoint, trailer_->trailer.right_nodes,
                               trailer_->manifest);
}

absl::Status ExportVerifier::OnConsistencyLine(absl::string_view line, uint64_t line_number) {
  const std::string label = LineLabel(line_number);
  LV_ASSIGN_OR_RETURN(Consistency c, internal::ReadConsistencyLine(line, label));
  if (c.from_size > trailer_->checkpoint.size) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, ": consistency from_size is beyond the checkpoint's tree size"));
  }
  consistency_ = std::move(c);
  return absl::OkStatus();
}

void ExportVerifier::CheckChunk(const absl::string_view* lines, size_t count, uint64_t first_line,
                                uint64_t first_leaf, size_t chunk, size_t worker) {
  const size_t begin = chunk * kChunkLines;
  const size_t end = std::min(count, begin + kChunkLines);
  EntryLine& scratch = scratch_[worker];
  for (size_t i = begin; i < end; ++i) {
    EntryResult& result = results_[i];
    const uint64_t line_number = first_line + i;
    result.status = internal::ReadEntryLine(lines[i], line_number, header_.filtered, scratch);
    if (!result.status.ok()) continue;
    result.sequence = scratch.entry.sequence;
    result.leaf = scratch.leaf;
    if (header_.filtered) {
      result.status =
          internal::CheckFilteredEntry(header_, tail_trailer_->checkpoint, scratch, line_number);
    }
  }
  if (!header_.filtered)
    internal::ChunkRange(results_.data(), begin, end, first_leaf, chunk_nodes_[chunk]);
}

absl::Status ExportVerifier::CheckEntries(const absl::string_view* lines, size_t count,
                                          uint64_t first_line, absl::FunctionRef<void()> prefetch) {
  const size_t chunks = (count + kChunkLines - 1) / kChunkLines;
  if (results_.size() < count) results_.resize(count);
  if (chunk_nodes_.size() < chunks) chunk_nodes_.resize(chunks);
  const uint64_t first_leaf = range_->leaves();
  auto check_chunk = [&](size_t chunk, size_t worker) {
    CheckChunk(lines, count, first_line, first_leaf, chunk, worker);
  };
  const WorkerPool::Work work = check_chunk;
  pool_->Start(chunks, &work);
  prefetch();
  pool_->Finish();
  return range_->Fold(results_.data(), count, first_line, chunk_nodes_.data());
}

}  // namespace

absl::StatusOr<VerifyReport> VerifyExportFile(const std::string& path,
                                              const VerifyOptions& options) {
  if (options.verifier == nullptr) {
    return absl::InvalidArgumentError("verify: no verifier key given");
  }
  LV_ASSIGN_OR_RETURN(std::unique_ptr<LineFile> file, LineFile::Open(path));
  ExportVerifier verifier(options, *file);
  return verifier.Run();
}

}  // namespace leadvault::audit
