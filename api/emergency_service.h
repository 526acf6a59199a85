// leadvault.v1.EmergencyAccess: break-glass grants (intake and compliance open
// them; compliance lists and closes them).
#ifndef LEADVAULT_API_EMERGENCY_SERVICE_H_
#define LEADVAULT_API_EMERGENCY_SERVICE_H_

#include "api/admission.h"
#include "api/auth_throttle.h"
#include "api/worker_pool.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "vault/vault.h"

namespace leadvault::api {

// Thin handlers on `pool`, like the Admin service. Opening a grant also logs
// a warning line (grant id, principal, number of leads, expiry: no reason, no
// data). `vault`, `admission` and `pool` must outlive the service.
class EmergencyAccessService final : public v1::EmergencyAccess::CallbackService {
 public:
  EmergencyAccessService(vault::Vault* vault, AuthThrottle* throttle, Admission* admission,
                         WorkerPool* pool)
      : vault_(vault), throttle_(throttle), admission_(admission), pool_(pool) {}

  grpc::ServerUnaryReactor* OpenEmergencyAccess(grpc::CallbackServerContext* context,
                                                const v1::OpenEmergencyAccessRequest* request,
                                                v1::OpenEmergencyAccessResponse* response) override;
  grpc::ServerUnaryReactor* ListEmergencyAccess(grpc::CallbackServerContext* context,
                                                const v1::ListEmergencyAccessRequest* request,
                                                v1::ListEmergencyAccessResponse* response) override;
  grpc::ServerUnaryReactor* CloseEmergencyAccess(
      grpc::CallbackServerContext* context, const v1::CloseEmergencyAccessRequest* request,
      v1::CloseEmergencyAccessResponse* response) override;

 private:
  vault::Vault* const vault_;
  AuthThrottle* const throttle_;
  Admission* const admission_;
  WorkerPool* const pool_;
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_EMERGENCY_SERVICE_H_
