// leadvault.v1.Compliance: the audit log's checkpoints, proofs, export and the
// accounting of disclosures, for the `compliance` role only.
#ifndef LEADVAULT_API_COMPLIANCE_SERVICE_H_
#define LEADVAULT_API_COMPLIANCE_SERVICE_H_

#include "api/admission.h"
#include "api/auth_throttle.h"
#include "api/export_limiter.h"
#include "api/worker_pool.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "vault/vault.h"

namespace leadvault::api {

// Callback handlers. Each call authenticates, requires the `compliance` role
// (PERMISSION_DENIED otherwise) and makes one vault call on `pool` (each
// commits its own audit entry with a fresh checkpoint, so it blocks).
// ExportAudit streams under `limiter`'s caps and write timeout (see
// api/export_stream.h). Everything passed must outlive the service.
class ComplianceService final : public v1::Compliance::CallbackService {
 public:
  ComplianceService(vault::Vault* vault, AuthThrottle* throttle, Admission* admission,
                    WorkerPool* pool, ExportLimiter* limiter)
      : vault_(vault), throttle_(throttle), admission_(admission), pool_(pool), limiter_(limiter) {}

  grpc::ServerUnaryReactor* GetCheckpoint(grpc::CallbackServerContext* context,
                                          const v1::GetCheckpointRequest* request,
                                          v1::GetCheckpointResponse* response) override;
  grpc::ServerUnaryReactor* GetInclusionProof(grpc::CallbackServerContext* context,
                                              const v1::GetInclusionProofRequest* request,
                                              v1::GetInclusionProofResponse* response) override;
  grpc::ServerUnaryReactor* GetConsistencyProof(grpc::CallbackServerContext* context,
                                                const v1::GetConsistencyProofRequest* request,
                                                v1::GetConsistencyProofResponse* response) override;
  grpc::ServerWriteReactor<v1::ExportAuditResponse>* ExportAudit(
      grpc::CallbackServerContext* context, const v1::ExportAuditRequest* request) override;
  grpc::ServerUnaryReactor* AccountingOfDisclosures(
      grpc::CallbackServerContext* context, const v1::AccountingOfDisclosuresRequest* request,
      v1::AccountingOfDisclosuresResponse* response) override;

 private:
  vault::Vault* const vault_;
  AuthThrottle* const throttle_;
  Admission* const admission_;
  WorkerPool* const pool_;
  ExportLimiter* const limiter_;
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_COMPLIANCE_SERVICE_H_
