#include "api/lead_service.h"

#include "api/auth.h"
#include "api/convert.h"
#include "api/dispatch.h"
#include "api/status.h"
#include "keys/status_macros.h"

namespace leadvault::api {
namespace {

// Authenticates the call and refuses one whose deadline has already passed
// (or that the client cancelled) before any vault work is done.
absl::StatusOr<vault::Actor> BeginCall(grpc::ServerContextBase* context, vault::Vault& vault) {
  LV_ASSIGN_OR_RETURN(vault::Actor actor, AuthenticateCall(context, vault.principals()));
  if (context->IsCancelled()) return absl::DeadlineExceededError("deadline exceeded or cancelled");
  return actor;
}

absl::Status DoFind(vault::Vault& vault, grpc::ServerContextBase* context,
                    const v1::FindLeadsRequest& request, v1::FindLeadsResponse& response) {
  LV_ASSIGN_OR_RETURN(vault::Actor actor, BeginCall(context, vault));
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
  LV_ASSIGN_OR_RETURN(auto leads, vault.leads().FindLeads(actor, kind, *value));
  for (const auto& meta : leads) ToProto(meta, response.add_leads());
  return absl::OkStatus();
}

absl::Status DoList(vault::Vault& vault, grpc::ServerContextBase* context,
                    const v1::ListQueueRequest& request, v1::ListQueueResponse& response) {
  LV_ASSIGN_OR_RETURN(vault::Actor actor, BeginCall(context, vault));
  vault::QueueQuery query;
  query.service_line = request.service_line();
  query.status = static_cast<vault::LeadStatus>(request.status());
  query.page_size = request.page_size() == 0 ? 50 : request.page_size();
  query.page_token = request.page_token();
  LV_ASSIGN_OR_RETURN(vault::QueuePage page, vault.leads().ListQueue(actor, query));
  for (const auto& meta : page.leads) ToProto(meta, response.add_leads());
  response.set_next_page_token(page.next_page_token);
  return absl::OkStatus();
}

absl::Status DoUpdate(vault::Vault& vault, grpc::ServerContextBase* context,
                      const v1::UpdateLeadRequest& request, v1::UpdateLeadResponse& response) {
  LV_ASSIGN_OR_RETURN(vault::Actor actor, BeginCall(context, vault));
  vault::LeadUpdate update;
  LV_ASSIGN_OR_RETURN(update.lead_id, ParseLeadId(request.lead_id()));
  update.expected_version = request.expected_version();
  update.status = static_cast<vault::LeadStatus>(request.status());
  if (request.add_contact_attempts_size() > static_cast<int>(vault::kMaxContactAttemptsPerUpdate)) {
    return absl::InvalidArgumentError("add_contact_attempts: at most 20 per update");
  }
  for (const auto& a : request.add_contact_attempts()) {
    update.add_contact_attempts.push_back(FromProto(a));
  }
  LV_ASSIGN_OR_RETURN(vault::LeadMetadata meta, vault.leads().UpdateLead(actor, update));
  ToProto(meta, response.mutable_metadata());
  return absl::OkStatus();
}

// Runs a read handler; a failed read returns no partial data.
template <typename Request, typename Response>
std::function<absl::Status()> ReadHandler(absl::Status (*handler)(vault::Vault&,
                                                                  grpc::ServerContextBase*,
                                                                  const Request&, Response&),
                                          vault::Vault* vault, grpc::ServerContextBase* context,
                                          const Request* request, Response* response) {
  return [=] {
    absl::Status status = handler(*vault, context, *request, *response);
    if (!status.ok()) response->Clear();
    return status;
  };
}

}  // namespace

grpc::ServerUnaryReactor* LeadVaultService::CreateLead(grpc::CallbackServerContext* context,
                                                       const v1::CreateLeadRequest* request,
                                                       v1::CreateLeadResponse* response) {
  // Runs on the gRPC thread; the call finishes from the committer once durable.
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<vault::Actor> actor = BeginCall(context, *vault_);
  if (!actor.ok()) {
    reactor->Finish(ToGrpcStatus(actor.status()));
    return reactor;
  }
  vault::NewLead lead;
  lead.pii = FromProto(request->personal());
  lead.attribution = FromProto(request->attribution());
  lead.idempotency_key = request->idempotency_key();
  vault_->leads().CreateLeadAsync(*actor, std::move(lead),
                                  [reactor, response](absl::StatusOr<vault::CreateResult> result) {
                                    if (result.ok()) {
                                      response->set_lead_id(vault::EncodeLeadId(result->lead_id));
                                      response->set_duplicate(result->duplicate);
                                      response->set_version(result->version);
                                    }
                                    reactor->Finish(ToGrpcStatus(result.status()));
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
  auto finish = [reactor, response](absl::Status status) {
    if (!status.ok()) response->Clear();
    reactor->Finish(ToGrpcStatus(status));
  };
  absl::StatusOr<vault::Actor> actor = BeginCall(context, *vault_);
  if (!actor.ok()) {
    finish(actor.status());
    return reactor;
  }
  absl::StatusOr<std::string> id = ParseLeadId(request->lead_id());
  if (!id.ok()) {
    finish(id.status());
    return reactor;
  }
  vault_->leads().GetLeadAsync(
      *actor, *id,
      [response](const vault::Lead& lead) {
        ToProto(lead.meta, response->mutable_lead()->mutable_metadata());
        ToProto(lead.pii, response->mutable_lead()->mutable_personal());
      },
      finish);
  return reactor;
}

grpc::ServerUnaryReactor* LeadVaultService::FindLeads(grpc::CallbackServerContext* context,
                                                      const v1::FindLeadsRequest* request,
                                                      v1::FindLeadsResponse* response) {
  return Dispatch(pool_, context, ReadHandler(DoFind, vault_, context, request, response));
}

grpc::ServerUnaryReactor* LeadVaultService::ListQueue(grpc::CallbackServerContext* context,
                                                      const v1::ListQueueRequest* request,
                                                      v1::ListQueueResponse* response) {
  return Dispatch(pool_, context, ReadHandler(DoList, vault_, context, request, response));
}

grpc::ServerUnaryReactor* LeadVaultService::UpdateLead(grpc::CallbackServerContext* context,
                                                       const v1::UpdateLeadRequest* request,
                                                       v1::UpdateLeadResponse* response) {
  return Dispatch(pool_, context,
                  [=, this] { return DoUpdate(*vault_, context, *request, *response); });
}

}  // namespace leadvault::api
