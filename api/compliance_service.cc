#include "api/compliance_service.h"

#include <string>
#include <vector>

#include "api/call.h"
#include "api/convert.h"
#include "api/export_stream.h"
#include "keys/status_macros.h"

namespace leadvault::api {
namespace {

template <typename Repeated>
void AddHashes(const std::vector<audit::Hash>& hashes, Repeated* out) {
  for (const audit::Hash& h : hashes) out->Add(std::string(audit::HashBytes(h)));
}

absl::Status DoCheckpoint(vault::Vault& vault, Call& call, const v1::GetCheckpointRequest&,
                          v1::GetCheckpointResponse& response) {
  LV_ASSIGN_OR_RETURN(vault::SignedCheckpoint checkpoint,
                      vault.audit().GetCheckpoint(call.actor, &call.entry_committed));
  ToProto(checkpoint, response.mutable_checkpoint());
  response.set_verifier_key(vault.audit_log().VerifierKey());
  return absl::OkStatus();
}

absl::Status DoInclusion(vault::Vault& vault, Call& call,
                         const v1::GetInclusionProofRequest& request,
                         v1::GetInclusionProofResponse& response) {
  LV_ASSIGN_OR_RETURN(vault::InclusionResult result,
                      vault.audit().GetInclusionProof(call.actor, request.sequence(),
                                                      request.tree_size(), &call.entry_committed));
  response.set_entry(result.entry.canonical);
  AddHashes(result.proof, response.mutable_proof());
  response.set_tree_size(result.tree_size);
  if (result.checkpoint.has_value()) ToProto(*result.checkpoint, response.mutable_checkpoint());
  return absl::OkStatus();
}

absl::Status DoConsistency(vault::Vault& vault, Call& call,
                           const v1::GetConsistencyProofRequest& request,
                           v1::GetConsistencyProofResponse& response) {
  LV_ASSIGN_OR_RETURN(vault::ConsistencyResult result,
                      vault.audit().GetConsistencyProof(call.actor, request.from_size(),
                                                        request.to_size(), &call.entry_committed));
  AddHashes(result.proof, response.mutable_proof());
  response.set_to_size(result.to_size);
  if (result.checkpoint.has_value()) ToProto(*result.checkpoint, response.mutable_checkpoint());
  return absl::OkStatus();
}

absl::Status DoAccounting(vault::Vault& vault, Call& call,
                          const v1::AccountingOfDisclosuresRequest& request,
                          v1::AccountingOfDisclosuresResponse& response) {
  LV_ASSIGN_OR_RETURN(std::string lead_id, ParseLeadId(request.lead_id()));
  call.lead_ids.push_back(vault::EncodeLeadId(lead_id));
  LV_ASSIGN_OR_RETURN(vault::Accounting accounting,
                      vault.audit().AccountingOfDisclosures(
                          call.actor, lead_id, absl::FromUnixMicros(request.since_unix_micros()),
                          request.from_sequence(), &call.entry_committed));
  for (const vault::Disclosure& d : accounting.disclosures) {
    const audit::AuditEntry& e = d.entry.entry;
    v1::Disclosure* out = response.add_disclosures();
    out->set_sequence(e.sequence);
    out->set_at_unix_micros(absl::ToUnixMicros(e.time));
    out->set_principal_id(e.principal_id);
    out->set_principal_display_name(vault.principals().DisplayName(e.principal_id));
    out->set_role(e.role);
    for (v1::Role r : RolesFromLabel(e.role)) out->add_role_codes(r);
    out->set_action(e.action);
    out->set_purpose(e.purpose);
    out->set_purpose_code(PurposeFromName(e.purpose));
    for (const std::string& f : e.fields) out->add_fields(f);
    out->set_request_id(e.request_id);
    out->set_break_glass_reason(e.break_glass_reason);
    out->set_entry(d.entry.canonical);
    AddHashes(d.inclusion_proof, out->mutable_inclusion_proof());
  }
  ToProto(accounting.checkpoint, response.mutable_checkpoint());
  response.set_next_sequence(accounting.next_sequence);
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* ComplianceService::GetCheckpoint(grpc::CallbackServerContext* context,
                                                           const v1::GetCheckpointRequest* request,
                                                           v1::GetCheckpointResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kGetCheckpoint,
               DoCheckpoint, request, response);
}

grpc::ServerUnaryReactor* ComplianceService::GetInclusionProof(
    grpc::CallbackServerContext* context, const v1::GetInclusionProofRequest* request,
    v1::GetInclusionProofResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kGetInclusionProof,
               DoInclusion, request, response);
}

grpc::ServerUnaryReactor* ComplianceService::GetConsistencyProof(
    grpc::CallbackServerContext* context, const v1::GetConsistencyProofRequest* request,
    v1::GetConsistencyProofResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kGetConsistencyProof,
               DoConsistency, request, response);
}

grpc::ServerWriteReactor<v1::ExportAuditResponse>* ComplianceService::ExportAudit(
    grpc::CallbackServerContext* context, const v1::ExportAuditRequest* request) {
  return ServeExport(vault_, throttle_, pool_, limiter_, context, request);
}

grpc::ServerUnaryReactor* ComplianceService::AccountingOfDisclosures(
    grpc::CallbackServerContext* context, const v1::AccountingOfDisclosuresRequest* request,
    v1::AccountingOfDisclosuresResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kAccountingOfDisclosures,
               DoAccounting, request, response);
}

}  // namespace leadvault::api
