// leadvault.v1.Admin: principal management, for the `admin` role only.
#ifndef LEADVAULT_API_ADMIN_SERVICE_H_
#define LEADVAULT_API_ADMIN_SERVICE_H_

#include "leadvault/v1/leadvault.grpc.pb.h"
#include "vault/vault.h"

namespace leadvault::api {

// Every call authenticates and requires the `admin` role (PERMISSION_DENIED otherwise).
class AdminService final : public v1::Admin::Service {
 public:
  explicit AdminService(vault::Vault* vault) : vault_(vault) {}

  grpc::Status CreatePrincipal(grpc::ServerContext* context,
                               const v1::CreatePrincipalRequest* request,
                               v1::CreatePrincipalResponse* response) override;
  grpc::Status ListPrincipals(grpc::ServerContext* context,
                              const v1::ListPrincipalsRequest* request,
                              v1::ListPrincipalsResponse* response) override;
  grpc::Status DisablePrincipal(grpc::ServerContext* context,
                                const v1::DisablePrincipalRequest* request,
                                v1::DisablePrincipalResponse* response) override;
  grpc::Status RotateToken(grpc::ServerContext* context, const v1::RotateTokenRequest* request,
                           v1::RotateTokenResponse* response) override;

 private:
  vault::Vault* const vault_;
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_ADMIN_SERVICE_H_
