#include "api/compliance_service.h"

#include <string>
#include <vector>

#include "api/auth.h"
#include "api/call.h"
#include "api/convert.h"
#include "keys/status_macros.h"

namespace leadvault::api {
namespace {

// A streamed export message is sent once its entries (and proofs) reach this
// size: well under the 4 MiB a gRPC client accepts by default, whatever the
// entries' sizes (a queue page's entry names up to 500 leads).
constexpr size_t kExportMessageBytes = 1 << 20;

void ToProto(const vault::SignedCheckpoint& in, v1::SignedCheckpoint* out) {
  out->set_note(in.note);
  out->set_origin(in.checkpoint.origin);
  out->set_tree_size(in.checkpoint.size);
  out->set_root_hash(std::string(audit::HashBytes(in.checkpoint.root)));
}

template <typename Repeated>
void AddHashes(const std::vector<audit::Hash>& hashes, Repeated* out) {
  for (const audit::Hash& h : hashes) out->Add(std::string(audit::HashBytes(h)));
}

absl::Status DoExport(vault::Vault& vault, AuthThrottle* throttle, grpc::ServerContext* context,
                      Call& call, const v1::ExportAuditRequest& request,
                      grpc::ServerWriter<v1::ExportAuditResponse>& writer) {
  LV_RETURN_IF_ERROR(BeginCall(context, vault.principals(), throttle, call));
  vault::AuditQuery query;
  query.from_sequence = request.from_sequence() == 0 ? 1 : request.from_sequence();
  query.to_sequence = request.to_sequence();
  if (request.since_unix_micros() != 0) {
    query.since = absl::FromUnixMicros(request.since_unix_micros());
  }
  if (request.until_unix_micros() != 0) {
    query.until = absl::FromUnixMicros(request.until_unix_micros());
  }
  query.principal_id = request.principal_id();
  query.action = request.action();
  query.lead_id = request.lead_id();
  LV_ASSIGN_OR_RETURN(vault::ExportPlan plan,
                      vault.audit().BeginExport(call.actor, query, &call.entry_committed));

  v1::ExportAuditResponse message;
  v1::AuditExportHeader* header = message.mutable_header();
  header->set_origin(plan.header.origin);
  header->set_first_sequence(plan.header.first_sequence);
  header->set_last_sequence(plan.header.last_sequence);
  header->set_filtered(plan.header.filtered);
  AddHashes(plan.header.left_frontier, header->mutable_left_frontier());
  header->set_checkpoint_note(plan.trailer.checkpoint_note);
  AddHashes(plan.trailer.right_nodes, header->mutable_right_nodes());
  header->set_filter_principal_id(plan.header.filter.principal_id);
  header->set_filter_action(plan.header.filter.action);
  header->set_filter_lead_id(plan.header.filter.lead_id);
  bool written = true;
  size_t pending_bytes = 0;
  auto flush = [&] {
    written = writer.Write(message);
    message.Clear();
    pending_bytes = 0;
    return written;
  };
  absl::StatusOr<std::string> streamed = vault.audit().StreamExport(
      plan,
      [&](const vault::StoredEntry& stored, const std::vector<audit::Hash>* proof) {
        v1::AuditRecord* record = message.add_entries();
        record->set_canonical(stored.canonical);
        pending_bytes += stored.canonical.size() + 8;
        if (proof != nullptr) {
          AddHashes(*proof, record->mutable_inclusion_proof());
          pending_bytes += proof->size() * (keys::kSha256Size + 2);
        }
        if (pending_bytes < kExportMessageBytes) return true;
        return flush() && !context->IsCancelled();
      },
      [context] { return context->IsCancelled(); });
  if (!written) return absl::CancelledError("export: the client went away");
  LV_RETURN_IF_ERROR(streamed.status());
  message.set_manifest_note(*std::move(streamed));
  if (message.has_header() || message.entries_size() > 0 || !message.manifest_note().empty()) {
    if (!flush()) return absl::CancelledError("export: the client went away");
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status ComplianceService::GetCheckpoint(grpc::ServerContext* context,
                                              const v1::GetCheckpointRequest*,
                                              v1::GetCheckpointResponse* response) {
  Call call(vault::Rpc::kGetCheckpoint);
  absl::Status status = [&]() -> absl::Status {
    LV_RETURN_IF_ERROR(BeginCall(context, vault_->principals(), throttle_, call));
    LV_ASSIGN_OR_RETURN(vault::SignedCheckpoint checkpoint,
                        vault_->audit().GetCheckpoint(call.actor, &call.entry_committed));
    ToProto(checkpoint, response->mutable_checkpoint());
    response->set_verifier_key(vault_->audit_log().VerifierKey());
    return absl::OkStatus();
  }();
  if (!status.ok()) response->Clear();
  return FinishSyncCall(*vault_, call, status);
}

grpc::Status ComplianceService::GetInclusionProof(grpc::ServerContext* context,
                                                  const v1::GetInclusionProofRequest* request,
                                                  v1::GetInclusionProofResponse* response) {
  Call call(vault::Rpc::kGetInclusionProof);
  absl::Status status = [&]() -> absl::Status {
    LV_RETURN_IF_ERROR(BeginCall(context, vault_->principals(), throttle_, call));
    LV_ASSIGN_OR_RETURN(
        vault::InclusionResult result,
        vault_->audit().GetInclusionProof(call.actor, request->sequence(), request->tree_size(),
                                          &call.entry_committed));
    response->set_entry(result.entry.canonical);
    AddHashes(result.proof, response->mutable_proof());
    response->set_tree_size(result.tree_size);
    if (result.checkpoint.has_value()) ToProto(*result.checkpoint, response->mutable_checkpoint());
    return absl::OkStatus();
  }();
  if (!status.ok()) response->Clear();
  return FinishSyncCall(*vault_, call, status);
}

grpc::Status ComplianceService::GetConsistencyProof(grpc::ServerContext* context,
                                                    const v1::GetConsistencyProofRequest* request,
                                                    v1::GetConsistencyProofResponse* response) {
  Call call(vault::Rpc::kGetConsistencyProof);
  absl::Status status = [&]() -> absl::Status {
    LV_RETURN_IF_ERROR(BeginCall(context, vault_->principals(), throttle_, call));
    LV_ASSIGN_OR_RETURN(
        vault::ConsistencyResult result,
        vault_->audit().GetConsistencyProof(call.actor, request->from_size(), request->to_size(),
                                            &call.entry_committed));
    AddHashes(result.proof, response->mutable_proof());
    response->set_to_size(result.to_size);
    if (result.checkpoint.has_value()) ToProto(*result.checkpoint, response->mutable_checkpoint());
    return absl::OkStatus();
  }();
  if (!status.ok()) response->Clear();
  return FinishSyncCall(*vault_, call, status);
}

grpc::Status ComplianceService::ExportAudit(grpc::ServerContext* context,
                                            const v1::ExportAuditRequest* request,
                                            grpc::ServerWriter<v1::ExportAuditResponse>* writer) {
  Call call(vault::Rpc::kExportAudit);
  absl::Status status = DoExport(*vault_, throttle_, context, call, *request, *writer);
  return FinishSyncCall(*vault_, call, status);
}

grpc::Status ComplianceService::AccountingOfDisclosures(
    grpc::ServerContext* context, const v1::AccountingOfDisclosuresRequest* request,
    v1::AccountingOfDisclosuresResponse* response) {
  Call call(vault::Rpc::kAccountingOfDisclosures);
  absl::Status status = [&]() -> absl::Status {
    LV_RETURN_IF_ERROR(BeginCall(context, vault_->principals(), throttle_, call));
    LV_ASSIGN_OR_RETURN(std::string lead_id, ParseLeadId(request->lead_id()));
    call.lead_ids.push_back(vault::EncodeLeadId(lead_id));
    LV_ASSIGN_OR_RETURN(vault::Accounting accounting,
                        vault_->audit().AccountingOfDisclosures(
                            call.actor, lead_id, absl::FromUnixMicros(request->since_unix_micros()),
                            request->from_sequence(), &call.entry_committed));
    for (const vault::Disclosure& d : accounting.disclosures) {
      const audit::AuditEntry& e = d.entry.entry;
      v1::Disclosure* out = response->add_disclosures();
      out->set_sequence(e.sequence);
      out->set_at_unix_micros(absl::ToUnixMicros(e.time));
      out->set_principal_id(e.principal_id);
      out->set_role(e.role);
      out->set_action(e.action);
      out->set_purpose(e.purpose);
      for (const std::string& f : e.fields) out->add_fields(f);
      out->set_request_id(e.request_id);
      out->set_break_glass_reason(e.break_glass_reason);
      out->set_entry(d.entry.canonical);
      AddHashes(d.inclusion_proof, out->mutable_inclusion_proof());
    }
    ToProto(accounting.checkpoint, response->mutable_checkpoint());
    response->set_next_sequence(accounting.next_sequence);
    return absl::OkStatus();
  }();
  if (!status.ok()) response->Clear();
  return FinishSyncCall(*vault_, call, status);
}

}  // namespace leadvault::api
