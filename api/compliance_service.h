// leadvault.v1.Compliance: the audit log's checkpoints, proofs, export and the
// accounting of disclosures, for the `compliance` role only.
#ifndef LEADVAULT_API_COMPLIANCE_SERVICE_H_
#define LEADVAULT_API_COMPLIANCE_SERVICE_H_

#include "api/auth_throttle.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "vault/vault.h"

namespace leadvault::api {

// Synchronous handlers (gRPC's own thread pool): these calls are rare and
// ExportAudit streams. Each authenticates, requires the `compliance` role
// (PERMISSION_DENIED otherwise), makes one vault call and maps the result.
// `vault` must outlive the service.
class ComplianceService final : public v1::Compliance::Service {
 public:
  ComplianceService(vault::Vault* vault, AuthThrottle* throttle)
      : vault_(vault), throttle_(throttle) {}

  grpc::Status GetCheckpoint(grpc::ServerContext* context, const v1::GetCheckpointRequest* request,
                             v1::GetCheckpointResponse* response) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* context,
                                 const v1::GetInclusionProofRequest* request,
                                 v1::GetInclusionProofResponse* response) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* context,
                                   const v1::GetConsistencyProofRequest* request,
                                   v1::GetConsistencyProofResponse* response) override;
  grpc::Status ExportAudit(grpc::ServerContext* context, const v1::ExportAuditRequest* request,
                           grpc::ServerWriter<v1::ExportAuditResponse>* writer) override;
  grpc::Status AccountingOfDisclosures(grpc::ServerContext* context,
                                       const v1::AccountingOfDisclosuresRequest* request,
                                       v1::AccountingOfDisclosuresResponse* response) override;

 private:
  vault::Vault* const vault_;
  AuthThrottle* const throttle_;
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_COMPLIANCE_SERVICE_H_
