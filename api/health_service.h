// grpc.health.v1.Health, answered inline from in-memory state.
#ifndef LEADVAULT_API_HEALTH_SERVICE_H_
#define LEADVAULT_API_HEALTH_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace leadvault::api {

// The standard health service (grpc_health_probe, Kubernetes gRPC probes).
// Check answers on the gRPC thread that received it, from `readiness` alone:
// it never waits for a worker, the committer or lead traffic. SERVING while
// `readiness` is OK, else NOT_SERVING; for "" and each name in `services`,
// NOT_FOUND for any other name (as the protocol asks). Watch is not
// implemented (UNIMPLEMENTED): probes poll Check. Thread-safe.
class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  // `readiness` must be cheap, non-blocking and thread-safe (it runs on every Check).
  HealthService(std::vector<std::string> services, std::function<absl::Status()> readiness)
      : services_(std::move(services)), readiness_(std::move(readiness)) {}

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;

 private:
  // Constant after construction.
  const std::vector<std::string> services_;
  const std::function<absl::Status()> readiness_;
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_HEALTH_SERVICE_H_
