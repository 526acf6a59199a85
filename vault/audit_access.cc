#include "vault/audit_access.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "keys/error_reason.h"
#include "keys/status_macros.h"
#include "vault/lead.h"

namespace leadvault::vault {

absl::Status AuditAccess::Commit(audit::AuditEntry entry, bool* committed) {
  LV_RETURN_IF_ERROR(committer_->Commit(rocksdb::WriteBatch(), std::move(entry)).status());
  if (committed != nullptr) *committed = true;
  return absl::OkStatus();
}

absl::StatusOr<SignedCheckpoint> AuditAccess::CommitWithCheckpoint(audit::AuditEntry entry,
                                                                   bool* committed) {
  LV_ASSIGN_OR_RETURN(uint64_t seq,
                      committer_->CommitWithCheckpoint(rocksdb::WriteBatch(), std::move(entry)));
  if (committed != nullptr) *committed = true;
  std::optional<SignedCheckpoint> latest = log_->LatestCheckpoint();
  if (!latest.has_value() || latest->checkpoint.size < seq) {
    return WithReason(absl::FailedPreconditionError("audit log: no signed checkpoint yet"),
                      "NO_SIGNED_CHECKPOINT");
  }
  return *std::move(latest);
}

absl::Status AuditAccess::CommitForProof(audit::AuditEntry entry, uint64_t& size,
                                         std::optional<SignedCheckpoint>& checkpoint,
                                         bool* committed) {
  if (size != 0) return Commit(std::move(entry), committed);
  LV_ASSIGN_OR_RETURN(checkpoint, CommitWithCheckpoint(std::move(entry), committed));
  size = checkpoint->checkpoint.size;
  return absl::OkStatus();
}

absl::StatusOr<SignedCheckpoint> AuditAccess::GetCheckpoint(const Actor& actor, bool* committed) {
  return CommitWithCheckpoint(EntryFor(actor, "GetCheckpoint"), committed);
}

absl::StatusOr<InclusionResult> AuditAccess::GetInclusionProof(const Actor& actor,
                                                               uint64_t sequence,
                                                               uint64_t tree_size,
                                                               bool* committed) {
  if (sequence == 0) return absl::InvalidArgumentError("sequence: must be at least 1");
  if (tree_size != 0 && sequence > tree_size) {
    return absl::InvalidArgumentError("sequence: beyond tree_size");
  }
  if (tree_size > log_->size()) return absl::InvalidArgumentError("tree_size: beyond the log");
  if (sequence > log_->size()) return absl::InvalidArgumentError("sequence: beyond the log");
  audit::AuditEntry audit_entry = EntryFor(actor, "GetInclusionProof");
  audit_entry.fields = {absl::StrCat("sequence=", sequence)};
  InclusionResult result;
  LV_RETURN_IF_ERROR(
      CommitForProof(std::move(audit_entry), tree_size, result.checkpoint, committed));
  LV_ASSIGN_OR_RETURN(result.entry, log_->ReadEntry(sequence));
  LV_ASSIGN_OR_RETURN(result.proof, log_->InclusionProof(sequence - 1, tree_size));
  result.tree_size = tree_size;
  return result;
}

absl::StatusOr<ConsistencyResult> AuditAccess::GetConsistencyProof(const Actor& actor,
                                                                   uint64_t from_size,
                                                                   uint64_t to_size,
                                                                   bool* committed) {
  if (to_size > log_->size()) return absl::InvalidArgumentError("to_size: beyond the log");
  if (to_size != 0 && from_size > to_size) {
    return absl::InvalidArgumentError("from_size: larger than to_size");
  }
  if (from_size > log_->size()) return absl::InvalidArgumentError("from_size: beyond the log");
  audit::AuditEntry audit_entry = EntryFor(actor, "GetConsistencyProof");
  audit_entry.fields = {absl::StrCat("from_size=", from_size)};
  ConsistencyResult result;
  LV_RETURN_IF_ERROR(CommitForProof(std::move(audit_entry), to_size, result.checkpoint, committed));
  LV_ASSIGN_OR_RETURN(result.proof, log_->ConsistencyProof(from_size, to_size));
  result.to_size = to_size;
  return result;
}

absl::StatusOr<ExportPlan> AuditAccess::BeginExport(const Actor& actor, const AuditQuery& query,
                                                    bool* committed) {
  if (query.from_sequence == 0) return absl::InvalidArgumentError("from_sequence: must be >= 1");
  if (query.to_sequence != 0 && query.to_sequence < query.from_sequence) {
    return absl::InvalidArgumentError("to_sequence: before from_sequence");
  }
  if (query.since.has_value() && query.until.has_value() && *query.until < *query.since) {
    return absl::InvalidArgumentError("until: before since");
  }
  std::string lead_id;  // normalized text form
  if (!query.lead_id.empty()) {
    std::optional<std::string> id = DecodeLeadId(query.lead_id);
    if (!id.has_value()) return absl::InvalidArgumentError("lead_id: must be 32 hex characters");
    lead_id = EncodeLeadId(*id);
  }
  // The filter as applied is signed into the export's manifest, one token a value.
  const audit::ExportFilter filter{query.principal_id, query.action, lead_id};
  LV_RETURN_IF_ERROR(audit::ValidateExportFilter(filter));
  audit::AuditEntry audit_entry = EntryFor(actor, "ExportAudit");
  if (!lead_id.empty()) audit_entry.lead_ids.push_back(lead_id);
  // The query's shape (no values of people): which filters and bounds were used.
  std::vector<std::string> shape;
  shape.push_back(absl::StrCat("from_sequence=", query.from_sequence));
  if (query.to_sequence != 0) shape.push_back(absl::StrCat("to_sequence=", query.to_sequence));
  if (query.since) shape.push_back(absl::StrCat("since=", absl::ToUnixMicros(*query.since)));
  if (query.until) shape.push_back(absl::StrCat("until=", absl::ToUnixMicros(*query.until)));
  if (!query.principal_id.empty()) shape.push_back("filter=principal");
  if (!query.action.empty()) shape.push_back("filter=action");
  audit_entry.fields = std::move(shape);
  LV_ASSIGN_OR_RETURN(SignedCheckpoint checkpoint,
                      CommitWithCheckpoint(std::move(audit_entry), committed));

  ExportPlan plan;
  plan.query = query;
  plan.query.lead_id = lead_id;
  plan.checkpoint_size = checkpoint.checkpoint.size;
  plan.checkpoint_root = checkpoint.checkpoint.root;
  uint64_t first = query.from_sequence;
  uint64_t last = plan.checkpoint_size;
  if (query.to_sequence != 0) last = std::min(last, query.to_sequence);
  if (query.since.has_value()) {
    LV_ASSIGN_OR_RETURN(uint64_t s, log_->FirstSequenceAtOrAfter(*query.since));
    first = std::max(first, s);
  }
  if (query.until.has_value()) {
    LV_ASSIGN_OR_RETURN(uint64_t u, log_->FirstSequenceAtOrAfter(*query.until));
    last = std::min(last, u - 1);
  }
  if (first > plan.checkpoint_size + 1) first = plan.checkpoint_size + 1;
  if (last + 1 < first) last = first - 1;  // an empty range
  plan.header.origin = checkpoint.checkpoint.origin;
  plan.header.first_sequence = first;
  plan.header.last_sequence = last;
  plan.header.filtered = query.filtered();
  if (plan.header.filtered) plan.header.filter = filter;
  plan.trailer.checkpoint_note = checkpoint.note;
  if (!plan.header.filtered) {
    LV_ASSIGN_OR_RETURN(plan.header.left_frontier, log_->RangeHashes(0, first - 1));
    LV_ASSIGN_OR_RETURN(plan.trailer.right_nodes, log_->RangeHashes(last, plan.checkpoint_size));
  }
  return plan;
}

ExportCursor::ExportCursor(AuditLog* log, ExportPlan plan)
    : log_(log), plan_(std::move(plan)), next_(plan_.header.first_sequence) {
  done_ = next_ > plan_.header.last_sequence;
}

absl::Status ExportCursor::Step(const Sink& sink, const std::function<bool()>& cancelled) {
  if (done_) return absl::OkStatus();
  const uint64_t last = plan_.header.last_sequence;
  const bool filtered = plan_.header.filtered;
  absl::Status inner;
  bool paused = false;
  uint64_t scanned_count = 0;
  absl::Status scanned = log_->ScanEntries(next_, last, [&](const StoredEntry& stored) {
    if (++scanned_count % 4096 == 0 && cancelled()) return false;
    next_ = stored.entry.sequence + 1;
    bool more = true;
    if (!filtered) {
      more = sink(stored, nullptr);
    } else if (plan_.header.filter.Matches(stored.entry)) {
      auto p = log_->InclusionProof(stored.entry.sequence - 1, plan_.checkpoint_size);
      if (!p.ok()) {
        inner = p.status();
        return false;
      }
      proof_ = *std::move(p);
      chain_.Append(audit::LeafHash(stored.canonical));
      more = sink(stored, &proof_);
    }
    paused = !more;
    return more;
  });
  LV_RETURN_IF_ERROR(inner);
  if (paused) {
    done_ = next_ > last;
    return absl::OkStatus();
  }
  if (absl::IsCancelled(scanned)) return absl::CancelledError("export cancelled");
  LV_RETURN_IF_ERROR(scanned);
  done_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ExportCursor::Manifest() {
  if (!done_) return absl::FailedPreconditionError("export: not every entry was taken");
  if (!plan_.header.filtered) return std::string();
  audit::ExportManifest manifest;
  manifest.origin = plan_.header.origin;
  manifest.tree_size = plan_.checkpoint_size;
  manifest.root = plan_.checkpoint_root;
  manifest.first_sequence = plan_.header.first_sequence;
  manifest.last_sequence = plan_.header.last_sequence;
  manifest.filter = plan_.header.filter;
  manifest.matches = chain_.count();
  manifest.leaf_chain = chain_.value();
  return log_->SignExportManifest(manifest);
}

absl::StatusOr<std::string> AuditAccess::StreamExport(
    const ExportPlan& plan,
    const std::function<bool(const StoredEntry&, const std::vector<audit::Hash>*)>& sink,
    const std::function<bool()>& cancelled) {
  ExportCursor cursor(log_, plan);
  bool stopped = false;
  LV_RETURN_IF_ERROR(cursor.Step(
      [&](const StoredEntry& stored, const std::vector<audit::Hash>* proof) {
        stopped = !sink(stored, proof);
        return !stopped;
      },
      cancelled));
  if (stopped) return absl::CancelledError("export cancelled");
  return cursor.Manifest();
}

absl::StatusOr<Accounting> AuditAccess::AccountingOfDisclosures(const Actor& actor,
                                                                const std::string& lead_id,
                                                                absl::Time since,
                                                                uint64_t from_sequence,
                                                                bool* committed) {
  audit::AuditEntry audit_entry = EntryFor(actor, "AccountingOfDisclosures");
  audit_entry.lead_ids.push_back(EncodeLeadId(lead_id));
  Accounting accounting;
  LV_ASSIGN_OR_RETURN(accounting.checkpoint,
                      CommitWithCheckpoint(std::move(audit_entry), committed));
  const uint64_t tree_size = accounting.checkpoint.checkpoint.size;
  LV_ASSIGN_OR_RETURN(uint64_t start, log_->FirstSequenceAtOrAfter(since));
  start = std::max(start, from_sequence);
  size_t bytes = 0;
  absl::Status inner;
  LV_RETURN_IF_ERROR(log_->ScanDisclosures(lead_id, start, [&](uint64_t seq) {
    if (seq > tree_size) return false;
    if (accounting.disclosures.size() == kMaxDisclosures || bytes >= kMaxAccountingBytes) {
      accounting.next_sequence = seq;
      return false;
    }
    auto stored = log_->ReadEntry(seq);
    auto proof = stored.ok() ? log_->InclusionProof(seq - 1, tree_size)
                             : absl::StatusOr<std::vector<audit::Hash>>(stored.status());
    if (!proof.ok()) {
      inner = proof.status();
      return false;
    }
    // A row must point at a disclosure of this very lead (a planted row is
    // refused here, not only by the start-up cross-check).
    const std::vector<std::string>& named = stored->entry.lead_ids;
    if (!IsPiiDisclosure(stored->entry) ||
        std::find(named.begin(), named.end(), EncodeLeadId(lead_id)) == named.end()) {
      inner = absl::DataLossError(absl::StrCat("audit_lead: the row for sequence ", seq,
                                               " is not a disclosure of the lead"));
      return false;
    }
    bytes += 2 * stored->canonical.size() + proof->size() * (keys::kSha256Size + 2) + 64;
    accounting.disclosures.push_back({*std::move(stored), *std::move(proof)});
    return true;
  }));
  LV_RETURN_IF_ERROR(inner);
  return accounting;
}

}  // namespace leadvault::vault
