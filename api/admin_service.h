// leadvault.v1.Admin: principal and master-key management, for the `admin`
// role only.
#ifndef LEADVAULT_API_ADMIN_SERVICE_H_
#define LEADVAULT_API_ADMIN_SERVICE_H_

#include <functional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "api/admission.h"
#include "api/auth_throttle.h"
#include "api/worker_pool.h"
#include "keys/secret_bytes.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "vault/vault.h"

namespace leadvault::api {

// Reads the daemon's master-key source again (keys::MasterKeyProvider::LoadAll).
using MasterKeySource = std::function<absl::StatusOr<std::vector<keys::SecretBytes>>()>;

// Every call authenticates and requires the `admin` role (PERMISSION_DENIED otherwise).
// The work runs on `pool`. `vault`, `admission` and `pool` must outlive the service.
// RotateMasterKey reads `key_source` (FAILED_PRECONDITION if there is none).
class AdminService final : public v1::Admin::CallbackService {
 public:
  AdminService(vault::Vault* vault, AuthThrottle* throttle, Admission* admission, WorkerPool* pool,
               MasterKeySource key_source)
      : vault_(vault),
        throttle_(throttle),
        admission_(admission),
        pool_(pool),
        key_source_(std::move(key_source)) {}

  grpc::ServerUnaryReactor* CreatePrincipal(grpc::CallbackServerContext* context,
                                            const v1::CreatePrincipalRequest* request,
                                            v1::CreatePrincipalResponse* response) override;
  grpc::ServerUnaryReactor* ListPrincipals(grpc::CallbackServerContext* context,
                                           const v1::ListPrincipalsRequest* request,
                                           v1::ListPrincipalsResponse* response) override;
  grpc::ServerUnaryReactor* DisablePrincipal(grpc::CallbackServerContext* context,
                                             const v1::DisablePrincipalRequest* request,
                                             v1::DisablePrincipalResponse* response) override;
  grpc::ServerUnaryReactor* RotateToken(grpc::CallbackServerContext* context,
                                        const v1::RotateTokenRequest* request,
                                        v1::RotateTokenResponse* response) override;
  grpc::ServerUnaryReactor* SetServiceLines(grpc::CallbackServerContext* context,
                                            const v1::SetServiceLinesRequest* request,
                                            v1::SetServiceLinesResponse* response) override;
  grpc::ServerUnaryReactor* RotateMasterKey(grpc::CallbackServerContext* context,
                                            const v1::RotateMasterKeyRequest* request,
                                            v1::RotateMasterKeyResponse* response) override;
  grpc::ServerUnaryReactor* GetMasterKeyStatus(grpc::CallbackServerContext* context,
                                               const v1::GetMasterKeyStatusRequest* request,
                                               v1::GetMasterKeyStatusResponse* response) override;
  grpc::ServerUnaryReactor* RetireMasterKey(grpc::CallbackServerContext* context,
                                            const v1::RetireMasterKeyRequest* request,
                                            v1::RetireMasterKeyResponse* response) override;
  grpc::ServerUnaryReactor* CreateBackup(grpc::CallbackServerContext* context,
                                         const v1::CreateBackupRequest* request,
                                         v1::CreateBackupResponse* response) override;
  grpc::ServerUnaryReactor* IssueWebhookSecret(grpc::CallbackServerContext* context,
                                               const v1::IssueWebhookSecretRequest* request,
                                               v1::IssueWebhookSecretResponse* response) override;
  grpc::ServerUnaryReactor* RevokeWebhookSecret(grpc::CallbackServerContext* context,
                                                const v1::RevokeWebhookSecretRequest* request,
                                                v1::RevokeWebhookSecretResponse* response) override;

 private:
  vault::Vault* const vault_;
  AuthThrottle* const throttle_;
  Admission* const admission_;
  WorkerPool* const pool_;
  const MasterKeySource key_source_;
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_ADMIN_SERVICE_H_
