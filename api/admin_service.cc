#include "api/admin_service.h"

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
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

absl::Status DoList(vault::Vault& vault, Call& call, const v1::ListPrincipalsRequest& request,
                    v1::ListPrincipalsResponse& response) {
  LV_ASSIGN_OR_RETURN(
      vault::PrincipalStore::Page page,
      vault.principals().ListPage(call.actor, request.page_size(), request.page_token()));
  for (const auto& p : page.principals) ToProto(p, response.add_principals());
  response.set_next_page_token(page.next_page_token);
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

absl::Status DoIssueWebhookSecret(vault::Vault& vault, Call& call,
                                  const v1::IssueWebhookSecretRequest& request,
                                  v1::IssueWebhookSecretResponse& response) {
  NameSubject(call, request.principal_id());
  if (request.ttl_seconds() < 0 ||
      request.ttl_seconds() > absl::ToInt64Seconds(vault::kMaxTokenTtl)) {
    return absl::InvalidArgumentError("ttl_seconds: must be 0 (90 days) to 366 days");
  }
  if (request.grace_seconds() < 0) {
    return absl::InvalidArgumentError("grace_seconds: must not be negative");
  }
  const absl::Duration ttl =
      request.ttl_seconds() == 0 ? vault::kDefaultTokenTtl : absl::Seconds(request.ttl_seconds());
  LV_ASSIGN_OR_RETURN(
      vault::IssuedWebhookSecret issued,
      vault.principals().IssueWebhookSecret(call.actor, request.principal_id(), ttl,
                                            absl::Seconds(request.grace_seconds())));
  ToProto(issued.principal, response.mutable_principal());
  response.set_secret(std::string(issued.secret.view()));
  return absl::OkStatus();
}

absl::Status DoRevokeWebhookSecret(vault::Vault& vault, Call& call,
                                   const v1::RevokeWebhookSecretRequest& request,
                                   v1::RevokeWebhookSecretResponse& response) {
  NameSubject(call, request.principal_id());
  LV_ASSIGN_OR_RETURN(vault::Principal p,
                      vault.principals().RevokeWebhookSecret(call.actor, request.principal_id()));
  ToProto(p, response.mutable_principal());
  return absl::OkStatus();
}

absl::Status DoGetMasterKeyStatus(vault::Vault& vault, Call& call,
                                  const v1::GetMasterKeyStatusRequest& request,
                                  v1::GetMasterKeyStatusResponse& response) {
  LV_ASSIGN_OR_RETURN(vault::MasterKeyStatus status,
                      vault.GetMasterKeyStatus(call.actor, request.progress_only()));
  response.set_current_version(status.current);
  std::map<uint32_t, v1::MasterKeyVersion> versions;
  for (uint32_t v : status.in_use) {
    versions[v].set_in_use(true);
  }
  uint64_t total = 0;
  for (const auto& [v, count] : status.data_keys) {
    versions[v].set_data_keys(count);
    total += count;
  }
  for (auto& [v, out] : versions) {
    out.set_version(v);
    out.set_current(v == status.current);
    *response.add_versions() = out;
  }
  response.set_data_keys(total);
  v1::RewrapProgress* rewrap = response.mutable_rewrap();
  rewrap->set_kek_version(status.rewrap.kek_version);
  rewrap->set_done(status.rewrap.done);
  rewrap->set_rewrapped(status.rewrap.rewrapped);
  rewrap->set_unreadable(status.rewrap.unreadable);
  if (!status.rewrap.last_error.ok()) {
    rewrap->set_last_error(absl::StrCat(absl::StatusCodeToString(status.rewrap.last_error.code()),
                                        ": ", status.rewrap.last_error.message()));
  }
  return absl::OkStatus();
}

absl::Status DoRetireMasterKey(vault::Vault& vault, Call& call,
                               const v1::RetireMasterKeyRequest& request,
                               v1::RetireMasterKeyResponse&) {
  if (request.kek_version() == 0) {
    return absl::InvalidArgumentError("kek_version: required (a version from keys status)");
  }
  return vault.RetireMasterKey(call.actor, request.kek_version());
}

absl::Status DoCreateBackup(vault::Vault& vault, Call& call, const v1::CreateBackupRequest& request,
                            v1::CreateBackupResponse& response) {
  if (request.backup_dir().size() > 4096) {
    return absl::InvalidArgumentError("backup_dir: at most 4096 bytes");
  }
  LV_ASSIGN_OR_RETURN(vault::BackupSummary backup,
                      vault.CreateBackup(call.actor, request.backup_dir()));
  response.set_backup_id(backup.id);
  response.set_bytes(backup.bytes);
  response.set_files(backup.files);
  response.set_audit_size(backup.audit_size);
  response.set_created_unix_seconds(backup.created_unix_seconds);
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* AdminService::CreateBackup(grpc::CallbackServerContext* context,
                                                     const v1::CreateBackupRequest* request,
                                                     v1::CreateBackupResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kCreateBackup,
               DoCreateBackup, request, response);
}

grpc::ServerUnaryReactor* AdminService::RotateMasterKey(grpc::CallbackServerContext* context,
                                                        const v1::RotateMasterKeyRequest* request,
                                                        v1::RotateMasterKeyResponse* response) {
  return Dispatch(
      *vault_, throttle_, admission_, pool_, context, vault::Rpc::kRotateMasterKey,
      request->ByteSizeLong(), [this, response](Call& call) -> absl::Status {
        if (!key_source_) {
          return absl::FailedPreconditionError("master key: this server has no key source to read");
        }
        LV_ASSIGN_OR_RETURN(std::vector<keys::SecretBytes> source, key_source_());
        LV_ASSIGN_OR_RETURN(vault::KeyHierarchy::Rotation rotation,
                            vault_->RotateMasterKey(call.actor, std::move(source)));
        response->set_kek_version(rotation.version);
        response->set_previous_version(rotation.previous);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AdminService::GetMasterKeyStatus(
    grpc::CallbackServerContext* context, const v1::GetMasterKeyStatusRequest* request,
    v1::GetMasterKeyStatusResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kGetMasterKeyStatus,
               DoGetMasterKeyStatus, request, response);
}

grpc::ServerUnaryReactor* AdminService::RetireMasterKey(grpc::CallbackServerContext* context,
                                                        const v1::RetireMasterKeyRequest* request,
                                                        v1::RetireMasterKeyResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kRetireMasterKey,
               DoRetireMasterKey, request, response);
}

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

grpc::ServerUnaryReactor* AdminService::IssueWebhookSecret(
    grpc::CallbackServerContext* context, const v1::IssueWebhookSecretRequest* request,
    v1::IssueWebhookSecretResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kIssueWebhookSecret,
               DoIssueWebhookSecret, request, response);
}

grpc::ServerUnaryReactor* AdminService::RevokeWebhookSecret(
    grpc::CallbackServerContext* context, const v1::RevokeWebhookSecretRequest* request,
    v1::RevokeWebhookSecretResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kRevokeWebhookSecret,
               DoRevokeWebhookSecret, request, response);
}

}  // namespace leadvault::api
