// leadvault.v1.LeadVault: thin handlers over vault::LeadStore.
#ifndef LEADVAULT_API_LEAD_SERVICE_H_
#define LEADVAULT_API_LEAD_SERVICE_H_

#include "api/admission.h"
#include "api/auth_throttle.h"
#include "api/worker_pool.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "vault/vault.h"

namespace leadvault::api {

// Each handler authenticates, converts the request, makes one vault call and
// maps the result; the work runs on `pool` (vault calls block until durable).
// Thread-safe (the vault is). `vault`, `admission` and `pool` must outlive the service.
class LeadVaultService final : public v1::LeadVault::CallbackService {
 public:
  LeadVaultService(vault::Vault* vault, AuthThrottle* throttle, Admission* admission,
                   WorkerPool* pool)
      : vault_(vault), throttle_(throttle), admission_(admission), pool_(pool) {}

  grpc::ServerUnaryReactor* CreateLead(grpc::CallbackServerContext* context,
                                       const v1::CreateLeadRequest* request,
                                       v1::CreateLeadResponse* response) override;
  grpc::ServerUnaryReactor* GetLead(grpc::CallbackServerContext* context,
                                    const v1::GetLeadRequest* request,
                                    v1::GetLeadResponse* response) override;
  grpc::ServerUnaryReactor* FindLeads(grpc::CallbackServerContext* context,
                                      const v1::FindLeadsRequest* request,
                                      v1::FindLeadsResponse* response) override;
  grpc::ServerUnaryReactor* ListQueue(grpc::CallbackServerContext* context,
                                      const v1::ListQueueRequest* request,
                                      v1::ListQueueResponse* response) override;
  grpc::ServerUnaryReactor* UpdateLead(grpc::CallbackServerContext* context,
                                       const v1::UpdateLeadRequest* request,
                                       v1::UpdateLeadResponse* response) override;
  grpc::ServerUnaryReactor* DeleteLead(grpc::CallbackServerContext* context,
                                       const v1::DeleteLeadRequest* request,
                                       v1::DeleteLeadResponse* response) override;
  grpc::ServerUnaryReactor* AmendLead(grpc::CallbackServerContext* context,
                                      const v1::AmendLeadRequest* request,
                                      v1::AmendLeadResponse* response) override;
  grpc::ServerUnaryReactor* ListAmendments(grpc::CallbackServerContext* context,
                                           const v1::ListAmendmentsRequest* request,
                                           v1::ListAmendmentsResponse* response) override;

 private:
  vault::Vault* const vault_;
  AuthThrottle* const throttle_;
  Admission* const admission_;
  WorkerPool* const pool_;
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_LEAD_SERVICE_H_
