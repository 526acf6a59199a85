// leadvault.v1.Analytics: de-identified funnel metrics for the `analyst` role.
#ifndef LEADVAULT_API_ANALYTICS_SERVICE_H_
#define LEADVAULT_API_ANALYTICS_SERVICE_H_

#include "api/admission.h"
#include "api/auth_throttle.h"
#include "api/worker_pool.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "vault/vault.h"

namespace leadvault::api {

// A callback handler on `pool`, like every unary call: authenticates,
// requires the `analyst` role (PERMISSION_DENIED otherwise), answers from the
// funnel aggregates (vault/funnel_report.h) after its audit entry is durable.
// Everything passed must outlive the service.
class AnalyticsService final : public v1::Analytics::CallbackService {
 public:
  AnalyticsService(vault::Vault* vault, AuthThrottle* throttle, Admission* admission,
                   WorkerPool* pool)
      : vault_(vault), throttle_(throttle), admission_(admission), pool_(pool) {}

  grpc::ServerUnaryReactor* GetFunnelMetrics(grpc::CallbackServerContext* context,
                                             const v1::GetFunnelMetricsRequest* request,
                                             v1::GetFunnelMetricsResponse* response) override;

 private:
  vault::Vault* const vault_;
  AuthThrottle* const throttle_;
  Admission* const admission_;
  WorkerPool* const pool_;
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_ANALYTICS_SERVICE_H_
