#include "api/consent_service.h"

#include <string>
#include <utility>
#include <vector>

#include "api/call.h"
#include "api/convert.h"
#include "audit/consent_proof.h"
#include "keys/status_macros.h"

namespace leadvault::api {
namespace {

// RequestLeadId, typed.
absl::StatusOr<vault::LeadId> RequestConsentLeadId(Call& call, const std::string& text) {
  LV_ASSIGN_OR_RETURN(std::string id, RequestLeadId(call, text));
  return *vault::LeadId::FromBytes(id);
}

absl::Status DoRecord(vault::Vault& vault, Call& call, const v1::RecordConsentRequest& request,
                      v1::RecordConsentResponse& response) {
  LV_ASSIGN_OR_RETURN(vault::LeadId lead, RequestConsentLeadId(call, request.lead_id()));
  absl::StatusOr<vault::ConsentEvent> event;
  switch (request.event_case()) {
    case v1::RecordConsentRequest::kGrant: {
      LV_ASSIGN_OR_RETURN(vault::ConsentGrant grant, FromProto(request.grant()));
      event = vault.consent().RecordGrant(call.actor, lead, std::move(grant));
      break;
    }
    case v1::RecordConsentRequest::kRevocation: {
      LV_ASSIGN_OR_RETURN(vault::ConsentRevocation revocation, FromProto(request.revocation()));
      event = vault.consent().RecordRevocation(call.actor, lead, std::move(revocation));
      break;
    }
    default:
      return absl::InvalidArgumentError("event: a grant or a revocation is required");
  }
  LV_RETURN_IF_ERROR(event.status());
  ToProto(*event, response.mutable_event());
  return absl::OkStatus();
}

absl::Status DoCheck(vault::Vault& vault, Call& call, const v1::CheckConsentRequest& request,
                     v1::CheckConsentResponse& response) {
  LV_ASSIGN_OR_RETURN(vault::LeadId lead, RequestConsentLeadId(call, request.lead_id()));
  LV_ASSIGN_OR_RETURN(vault::ConsentChannel channel,
                      ConsentChannelFromProto(request.channel(), "channel"));
  LV_ASSIGN_OR_RETURN(vault::ConsentPurpose purpose,
                      ConsentPurposeFromProto(request.purpose(), "purpose"));
  LV_ASSIGN_OR_RETURN(
      vault::ConsentDecision decision,
      vault.consent().CheckConsent(call.actor, lead, channel, purpose, request.third_party()));
  ToProto(decision, &response);
  return absl::OkStatus();
}

absl::Status DoHistory(vault::Vault& vault, Call& call, const v1::GetConsentHistoryRequest& request,
                       v1::GetConsentHistoryResponse& response) {
  LV_ASSIGN_OR_RETURN(vault::LeadId lead, RequestConsentLeadId(call, request.lead_id()));
  LV_ASSIGN_OR_RETURN(vault::ConsentHistoryPage page,
                      vault.consent().GetConsentHistory(call.actor, lead, request.after_number(),
                                                        request.page_size()));
  for (const vault::ConsentEvent& e : page.events) ToProto(e, response.add_events());
  response.set_next_after_number(page.next_after_number);
  return absl::OkStatus();
}

absl::Status DoExport(vault::Vault& vault, Call& call, const v1::ExportConsentProofRequest& request,
                      v1::ExportConsentProofResponse& response) {
  LV_ASSIGN_OR_RETURN(vault::LeadId lead, RequestConsentLeadId(call, request.lead_id()));
  LV_ASSIGN_OR_RETURN(audit::ConsentProof proof,
                      vault.consent().ExportConsentProof(call.actor, lead, &call.entry_committed));
  response.set_document(audit::RenderConsentProof(proof));
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* ConsentService::RecordConsent(grpc::CallbackServerContext* context,
                                                        const v1::RecordConsentRequest* request,
                                                        v1::RecordConsentResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kRecordConsent, DoRecord,
               request, response);
}

grpc::ServerUnaryReactor* ConsentService::CheckConsent(grpc::CallbackServerContext* context,
                                                       const v1::CheckConsentRequest* request,
                                                       v1::CheckConsentResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kCheckConsent, DoCheck,
               request, response);
}

grpc::ServerUnaryReactor* ConsentService::GetConsentHistory(
    grpc::CallbackServerContext* context, const v1::GetConsentHistoryRequest* request,
    v1::GetConsentHistoryResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kGetConsentHistory,
               DoHistory, request, response);
}

grpc::ServerUnaryReactor* ConsentService::ExportConsentProof(
    grpc::CallbackServerContext* context, const v1::ExportConsentProofRequest* request,
    v1::ExportConsentProofResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kExportConsentProof,
               DoExport, request, response);
}

}  // namespace leadvault::api
