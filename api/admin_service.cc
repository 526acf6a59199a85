#include "api/admin_service.h"

#include "api/auth.h"
#include "api/call.h"
#include "api/convert.h"
#include "api/status.h"
#include "keys/status_macros.h"

namespace leadvault::api {
namespace {

// Names the principal a request acts on in the call's audit entry, when it is
// well formed (16 lower-case hex characters).
void NameSubject(Call& call, const std::string& principal_id) {
  bool hex = principal_id.size() == 16;
  for (char c : principal_id) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (hex) call.subject = principal_id;
}

absl::StatusOr<absl::Duration> Ttl(int64_t seconds) {
  if (seconds < 0) return absl::InvalidArgumentError("token_ttl_seconds: must not be negative");
  if (seconds == 0) return vault::kDefaultTokenTtl;
  return absl::Seconds(seconds);
}

absl::Status DoCreate(vault::Vault& vault, Call& call, const v1::CreatePrincipalRequest& request,
                      v1::CreatePrincipalResponse& response) {
  const vault::Actor& actor = call.actor;
  vault::NewPrincipal p;
  p.display_name = request.display_name();
  p.roles.assign(request.roles().begin(), request.roles().end());
  p.service_lines.assign(request.service_lines().begin(), request.service_lines().end());
  LV_ASSIGN_OR_RETURN(p.token_ttl, Ttl(request.token_ttl_seconds()));
  p.client_cert_sha256 = request.client_cert_sha256();
  LV_ASSIGN_OR_RETURN(vault::IssuedToken issued, vault.principals().Create(actor, std::move(p)));
  ToProto(issued.principal, response.mutable_principal());
  response.set_token(std::string(issued.token.view()));
  return absl::OkStatus();
}

absl::Status DoList(vault::Vault& vault, Call& call, const v1::ListPrincipalsRequest&,
                    v1::ListPrincipalsResponse& response) {
  const vault::Actor& actor = call.actor;
  LV_ASSIGN_OR_RETURN(auto principals, vault.principals().List(actor));
  for (const auto& p : principals) ToProto(p, response.add_principals());
  return absl::OkStatus();
}

absl::Status DoDisable(vault::Vault& vault, Call& call, const v1::DisablePrincipalRequest& request,
                       v1::DisablePrincipalResponse& response) {
  const vault::Actor& actor = call.actor;
  NameSubject(call, request.principal_id());
  LV_ASSIGN_OR_RETURN(vault::Principal p,
                      vault.principals().Disable(actor, request.principal_id()));
  ToProto(p, response.mutable_principal());
  return absl::OkStatus();
}

absl::Status DoRotate(vault::Vault& vault, Call& call, const v1::RotateTokenRequest& request,
                      v1::RotateTokenResponse& response) {
  const vault::Actor& actor = call.actor;
  NameSubject(call, request.principal_id());
  LV_ASSIGN_OR_RETURN(absl::Duration ttl, Ttl(request.token_ttl_seconds()));
  if (request.grace_seconds() < 0) {
    return absl::InvalidArgumentError("grace_seconds: must not be negative");
  }
  LV_ASSIGN_OR_RETURN(vault::IssuedToken issued,
                      vault.principals().RotateToken(actor, request.principal_id(), ttl,
                                                     absl::Seconds(request.grace_seconds())));
  ToProto(issued.principal, response.mutable_principal());
  response.set_token(std::string(issued.token.view()));
  return absl::OkStatus();
}

absl::Status DoSetServiceLines(vault::Vault& vault, Call& call,
                               const v1::SetServiceLinesRequest& request,
                               v1::SetServiceLinesResponse& response) {
  NameSubject(call, request.principal_id());
  LV_ASSIGN_OR_RETURN(
      vault::Principal p,
      vault.principals().SetServiceLines(call.actor, request.principal_id(),
                                         std::vector<std::string>(request.service_lines().begin(),
                                                                  request.service_lines().end())));
  ToProto(p, response.mutable_principal());
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* AdminService::CreatePrincipal(grpc::CallbackServerContext* context,
                                                        const v1::CreatePrincipalRequest* request,
                                                        v1::CreatePrincipalResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kCreatePrincipal,
               DoCreate, request, response);
}

grpc::ServerUnaryReactor* AdminService::ListPrincipals(grpc::CallbackServerContext* context,
                                                       const v1::ListPrincipalsRequest* request,
                                                       v1::ListPrincipalsResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kListPrincipals, DoList,
               request, response);
}

grpc::ServerUnaryReactor* AdminService::DisablePrincipal(grpc::CallbackServerContext* context,
                                                         const v1::DisablePrincipalRequest* request,
                                                         v1::DisablePrincipalResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kDisablePrincipal,
               DoDisable, request, response);
}

grpc::ServerUnaryReactor* AdminService::RotateToken(grpc::CallbackServerContext* context,
                                                    const v1::RotateTokenRequest* request,
                                                    v1::RotateTokenResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kRotateToken, DoRotate,
               request, response);
}

grpc::ServerUnaryReactor* AdminService::SetServiceLines(grpc::CallbackServerContext* context,
                                                        const v1::SetServiceLinesRequest* request,
                                                        v1::SetServiceLinesResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kSetServiceLines,
               DoSetServiceLines, request, response);
}

}  // namespace leadvault::api
