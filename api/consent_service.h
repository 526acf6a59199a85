// leadvault.v1.Consent: thin handlers over vault::ConsentStore (a lead's
// consent ledger: record, check, history, proof).
#ifndef LEADVAULT_API_CONSENT_SERVICE_H_
#define LEADVAULT_API_CONSENT_SERVICE_H_

#include "api/admission.h"
#include "api/auth_throttle.h"
#include "api/worker_pool.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "vault/vault.h"

namespace leadvault::api {

// Each handler authenticates, converts the request, makes one vault call on
// `pool` and maps the result, like the LeadVault handlers; the calls are lead
// calls for admission. Thread-safe (the vault is). Everything passed must
// outlive the service.
class ConsentService final : public v1::Consent::CallbackService {
 public:
  ConsentService(vault::Vault* vault, AuthThrottle* throttle, Admission* admission,
                 WorkerPool* pool)
      : vault_(vault), throttle_(throttle), admission_(admission), pool_(pool) {}

  grpc::ServerUnaryReactor* RecordConsent(grpc::CallbackServerContext* context,
                                          const v1::RecordConsentRequest* request,
                                          v1::RecordConsentResponse* response) override;
  grpc::ServerUnaryReactor* CheckConsent(grpc::CallbackServerContext* context,
                                         const v1::CheckConsentRequest* request,
                                         v1::CheckConsentResponse* response) override;
  grpc::ServerUnaryReactor* GetConsentHistory(grpc::CallbackServerContext* context,
                                              const v1::GetConsentHistoryRequest* request,
                                              v1::GetConsentHistoryResponse* response) override;
  grpc::ServerUnaryReactor* ExportConsentProof(grpc::CallbackServerContext* context,
                                               const v1::ExportConsentProofRequest* request,
                                               v1::ExportConsentProofResponse* response) override;

 private:
  vault::Vault* const vault_;
  AuthThrottle* const throttle_;
  Admission* const admission_;
  WorkerPool* const pool_;
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_CONSENT_SERVICE_H_
