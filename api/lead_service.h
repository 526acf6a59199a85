// leadvault.v1.LeadVault: thin handlers over vault::LeadStore.
#ifndef LEADVAULT_API_LEAD_SERVICE_H_
#define LEADVAULT_API_LEAD_SERVICE_H_

#include "leadvault/v1/leadvault.grpc.pb.h"
#include "vault/vault.h"

namespace leadvault::api {

// Each handler authenticates, converts the request, makes one vault call and
// maps the result. Thread-safe (the vault is).
class LeadVaultService final : public v1::LeadVault::Service {
 public:
  explicit LeadVaultService(vault::Vault* vault) : vault_(vault) {}

  grpc::Status CreateLead(grpc::ServerContext* context, const v1::CreateLeadRequest* request,
                          v1::CreateLeadResponse* response) override;
  grpc::Status GetLead(grpc::ServerContext* context, const v1::GetLeadRequest* request,
                       v1::GetLeadResponse* response) override;
  grpc::Status FindLeads(grpc::ServerContext* context, const v1::FindLeadsRequest* request,
                         v1::FindLeadsResponse* response) override;
  grpc::Status ListQueue(grpc::ServerContext* context, const v1::ListQueueRequest* request,
                         v1::ListQueueResponse* response) override;
  grpc::Status UpdateLead(grpc::ServerContext* context, const v1::UpdateLeadRequest* request,
                          v1::UpdateLeadResponse* response) override;

 private:
  vault::Vault* const vault_;
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_LEAD_SERVICE_H_
