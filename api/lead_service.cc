#include "api/lead_service.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/call.h"
#include "api/convert.h"
#include "api/status.h"
#include "keys/status_macros.h"

namespace leadvault::api {
namespace {

absl::Status DoFind(vault::Vault& vault, Call& call, const v1::FindLeadsRequest& request,
                    v1::FindLeadsResponse& response) {
  vault::LookupKind kind;
  const std::string* value;
  switch (request.key_case()) {
    case v1::FindLeadsRequest::kEmail:
      kind = vault::LookupKind::kEmail;
      value = &request.email();
      break;
    case v1::FindLeadsRequest::kPhone:
      kind = vault::LookupKind::kPhone;
      value = &request.phone();
      break;
    default:
      return absl::InvalidArgumentError("key: email or phone is required");
  }
  LV_ASSIGN_OR_RETURN(call.actor.purpose, PurposeFromProto(request.purpose()));
  LV_ASSIGN_OR_RETURN(auto leads, vault.leads().FindLeads(call.actor, kind, *value));
  for (const auto& meta : leads) ToProto(meta, response.add_leads());
  return absl::OkStatus();
}

absl::Status DoList(vault::Vault& vault, Call& call, const v1::ListQueueRequest& request,
                    v1::ListQueueResponse& response) {
  vault::QueueQuery query;
  query.service_line = request.service_line();
  query.status = static_cast<vault::LeadStatus>(request.status());
  query.page_size = request.page_size();
  query.page_token = request.page_token();
  LV_ASSIGN_OR_RETURN(vault::QueuePage page, vault.leads().ListQueue(call.actor, query));
  for (const auto& meta : page.leads) ToProto(meta, response.add_leads());
  response.set_next_page_token(page.next_page_token);
  return absl::OkStatus();
}

absl::Status DoUpdate(vault::Vault& vault, Call& call, const v1::UpdateLeadRequest& request,
                      v1::UpdateLeadResponse& response) {
  vault::LeadUpdate update;
  LV_ASSIGN_OR_RETURN(update.lead_id, RequestLeadId(call, request.lead_id()));
  update.expected_version = request.expected_version();
  update.status = static_cast<vault::LeadStatus>(request.status());
  for (const auto& a : request.add_contact_attempts()) {
    LV_ASSIGN_OR_RETURN(vault::ContactAttempt attempt, FromProto(a));
    update.add_contact_attempts.push_back(std::move(attempt));
  }
  LV_ASSIGN_OR_RETURN(vault::LeadMetadata meta, vault.leads().UpdateLead(call.actor, update));
  ToProto(meta, response.mutable_metadata());
  return absl::OkStatus();
}

absl::Status DoDelete(vault::Vault& vault, Call& call, const v1::DeleteLeadRequest& request,
                      v1::DeleteLeadResponse& response) {
  LV_ASSIGN_OR_RETURN(std::string id, RequestLeadId(call, request.lead_id()));
  LV_ASSIGN_OR_RETURN(
      vault::DeletionReceipt receipt,
      vault.leads().DeleteLead(call.actor, id, request.reason(), &call.entry_committed));
  v1::DeletionReceipt* out = response.mutable_receipt();
  out->set_lead_id(vault::EncodeLeadId(id));
  out->set_sequence(receipt.entry.entry.sequence);
  out->set_entry(receipt.entry.canonical);
  for (const audit::Hash& h : receipt.inclusion_proof) {
    out->add_inclusion_proof(std::string(audit::HashBytes(h)));
  }
  ToProto(receipt.checkpoint, out->mutable_checkpoint());
  out->set_verifier_key(receipt.verifier_key);
  return absl::OkStatus();
}

absl::Status DoAmend(vault::Vault& vault, Call& call, const v1::AmendLeadRequest& request,
                     v1::AmendLeadResponse& response) {
  vault::LeadAmendment amendment;
  LV_ASSIGN_OR_RETURN(amendment.lead_id, RequestLeadId(call, request.lead_id()));
  LV_ASSIGN_OR_RETURN(call.actor.purpose, PurposeFromProto(request.purpose()));
  amendment.expected_version = request.expected_version();
  amendment.reason = request.reason();
  amendment.values = FromProto(request.personal());
  if (request.clear_size() > static_cast<int>(vault::kPiiFieldCount)) {
    return absl::InvalidArgumentError("clear: at most every field once");
  }
  for (int field : request.clear()) {
    if (field < 1 || field > static_cast<int>(vault::kPiiFieldCount)) {
      return absl::InvalidArgumentError("clear: unknown field");
    }
    amendment.clear.push_back(static_cast<vault::PiiField>(field));
  }
  LV_ASSIGN_OR_RETURN(vault::AmendResult result, vault.leads().AmendLead(call.actor, amendment));
  ToProto(result.meta, response.mutable_metadata());
  response.set_amendment_number(result.number);
  for (vault::PiiField f : result.amended) {
    response.add_amended(ToProto(f));
  }
  return absl::OkStatus();
}

absl::Status DoListAmendments(vault::Vault& vault, Call& call,
                              const v1::ListAmendmentsRequest& request,
                              v1::ListAmendmentsResponse& response) {
  LV_ASSIGN_OR_RETURN(std::string id, RequestLeadId(call, request.lead_id()));
  LV_ASSIGN_OR_RETURN(call.actor.purpose, PurposeFromProto(request.purpose()));
  LV_ASSIGN_OR_RETURN(
      vault::AmendmentPage page,
      vault.leads().ListAmendments(call.actor, id, request.page_size(), request.page_token()));
  for (const vault::AmendmentView& a : page.amendments) {
    v1::Amendment* out = response.add_amendments();
    out->set_number(a.number);
    out->set_at_unix_micros(absl::ToUnixMicros(a.at));
    out->set_principal_id(a.principal_id);
    if (a.purpose.has_value()) out->set_purpose(ToProto(*a.purpose));
    out->set_reason(std::string(a.reason.view()));
    out->set_version(a.version);
    for (const vault::AmendedFieldView& c : a.changes) {
      v1::AmendedField* change = out->add_changes();
      change->set_field(ToProto(c.field));
      change->set_previous(std::string(c.previous.view()));
      change->set_masked(c.projection == vault::Projection::kMasked && !c.previous.empty());
      change->set_hidden(c.projection == vault::Projection::kHidden);
      change->set_cleared(c.cleared);
    }
  }
  response.set_next_page_token(page.next_page_token);
  return absl::OkStatus();
}

// The outreach a read names: nullopt without a channel (the vault refuses a
// scheduling_outreach read without one).
absl::StatusOr<std::optional<vault::Outreach>> OutreachFromRequest(
    const v1::GetLeadRequest& request) {
  if (request.outreach_channel() == v1::CONSENT_CHANNEL_UNSPECIFIED) {
    if (request.outreach_purpose() != v1::CONSENT_PURPOSE_UNSPECIFIED ||
        !request.outreach_third_party().empty()) {
      return absl::InvalidArgumentError(
          "outreach_channel: required with outreach_purpose or outreach_third_party");
    }
    return std::nullopt;
  }
  vault::Outreach outreach;
  LV_ASSIGN_OR_RETURN(outreach.channel,
                      ConsentChannelFromProto(request.outreach_channel(), "outreach_channel"));
  LV_ASSIGN_OR_RETURN(outreach.purpose, OptionalConsentPurposeFromProto(request.outreach_purpose(),
                                                                        "outreach_purpose"));
  outreach.third_party = request.outreach_third_party();
  return outreach;
}

}  // namespace

grpc::ServerUnaryReactor* LeadVaultService::CreateLead(grpc::CallbackServerContext* context,
                                                       const v1::CreateLeadRequest* request,
                                                       v1::CreateLeadResponse* response) {
  // Runs on the gRPC thread; the call finishes from the committer once durable.
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Call call(vault::Rpc::kCreateLead);
  if (absl::Status s = BeginCall(context, vault_->principals(), throttle_, call); !s.ok()) {
    FinishCall(*vault_, reactor, call, s);
    return reactor;
  }
  if (absl::Status s = admission_->Admit(call, request->ByteSizeLong()); !s.ok()) {
    admission_->Refuse(reactor, call, s);
    return reactor;
  }
  vault::NewLead lead;
  if (request->has_consent()) {
    absl::StatusOr<vault::ConsentGrant> consent = FromProto(request->consent());
    if (!consent.ok()) {
      FinishCall(*vault_, reactor, call, consent.status());
      return reactor;
    }
    lead.consent = *std::move(consent);
  }
  lead.pii = FromProto(request->personal());
  lead.attribution = FromProto(request->attribution());
  lead.idempotency_key = request->idempotency_key();
  vault::Actor actor = call.actor;
  vault_->leads().CreateLeadAsync(actor, std::move(lead),
                                  [vault = vault_, reactor, response, call = std::move(call)](
                                      absl::StatusOr<vault::CreateResult> result) {
                                    if (result.ok()) {
                                      response->set_lead_id(vault::EncodeLeadId(result->lead_id));
                                      response->set_duplicate(result->duplicate);
                                      response->set_version(result->version);
                                    }
                                    FinishCall(*vault, reactor, call, result.status());
                                  });
  return reactor;
}

grpc::ServerUnaryReactor* LeadVaultService::GetLead(grpc::CallbackServerContext* context,
                                                    const v1::GetLeadRequest* request,
                                                    v1::GetLeadResponse* response) {
  // Runs on the gRPC thread without blocking it: the lead is read, decrypted and
  // staged in the response here, and the call finishes from the committer once
  // the audit entry is durable (a failure clears the response: never a partial lead).
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = std::make_shared<Call>(vault::Rpc::kGetLead);
  auto finish = [vault = vault_, reactor, response, call](absl::Status status) {
    if (!status.ok()) response->Clear();
    FinishCall(*vault, reactor, *call, status);
  };
  if (absl::Status s = BeginCall(context, vault_->principals(), throttle_, *call); !s.ok()) {
    finish(s);
    return reactor;
  }
  if (absl::Status s = admission_->Admit(*call, request->ByteSizeLong()); !s.ok()) {
    admission_->Refuse(reactor, *call, s);
    return reactor;
  }
  absl::StatusOr<std::string> id = RequestLeadId(*call, request->lead_id());
  if (!id.ok()) {
    finish(id.status());
    return reactor;
  }
  absl::StatusOr<std::optional<vault::Purpose>> purpose = PurposeFromProto(request->purpose());
  if (!purpose.ok()) {
    finish(purpose.status());
    return reactor;
  }
  call->actor.purpose = *purpose;
  absl::StatusOr<std::optional<vault::Outreach>> outreach = OutreachFromRequest(*request);
  if (!outreach.ok()) {
    finish(outreach.status());
    return reactor;
  }
  vault_->leads().GetLeadAsync(
      call->actor, *id, *outreach,
      [response, call](const vault::Lead& lead) {
        ToProto(lead.meta, response->mutable_lead()->mutable_metadata());
        ToProto(lead.pii, response->mutable_lead()->mutable_personal());
        for (vault::PiiField f : lead.masked) {
          response->add_masked_fields(std::string(vault::PiiFieldName(f)));
          response->add_masked_personal_fields(ToProto(f));
        }
        for (const vault::WithheldField& w : lead.withheld) ToProto(w, response->add_withheld());
        // What the read hid, so that a client tells a hidden field from an empty one.
        const std::vector<vault::PiiField> hidden = HiddenFields(call->actor, lead);
        for (vault::PiiField f : hidden) response->add_hidden_fields(ToProto(f));
        for (const vault::Submission& s : lead.submissions) {
          v1::Submission* out = response->mutable_lead()->add_submissions();
          ToProto(s, out);
          for (vault::PiiField f : hidden) out->add_hidden_fields(ToProto(f));
        }
      },
      finish);
  return reactor;
}

grpc::ServerUnaryReactor* LeadVaultService::FindLeads(grpc::CallbackServerContext* context,
                                                      const v1::FindLeadsRequest* request,
                                                      v1::FindLeadsResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kFindLeads, DoFind,
               request, response);
}

grpc::ServerUnaryReactor* LeadVaultService::ListQueue(grpc::CallbackServerContext* context,
                                                      const v1::ListQueueRequest* request,
                                                      v1::ListQueueResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kListQueue, DoList,
               request, response);
}

grpc::ServerUnaryReactor* LeadVaultService::UpdateLead(grpc::CallbackServerContext* context,
                                                       const v1::UpdateLeadRequest* request,
                                                       v1::UpdateLeadResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kUpdateLead, DoUpdate,
               request, response);
}

grpc::ServerUnaryReactor* LeadVaultService::DeleteLead(grpc::CallbackServerContext* context,
                                                       const v1::DeleteLeadRequest* request,
                                                       v1::DeleteLeadResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kDeleteLead, DoDelete,
               request, response);
}

grpc::ServerUnaryReactor* LeadVaultService::AmendLead(grpc::CallbackServerContext* context,
                                                      const v1::AmendLeadRequest* request,
                                                      v1::AmendLeadResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kAmendLead, DoAmend,
               request, response);
}

grpc::ServerUnaryReactor* LeadVaultService::ListAmendments(grpc::CallbackServerContext* context,
                                                           const v1::ListAmendmentsRequest* request,
                                                           v1::ListAmendmentsResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kListAmendments,
               DoListAmendments, request, response);
}

}  // namespace leadvault::api
