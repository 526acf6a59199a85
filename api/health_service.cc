#include "api/health_service.h"

#include <algorithm>

#include "absl/status/status.h"
#include "api/status.h"

namespace leadvault::api {

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context,
                                               const grpc::health::v1::HealthCheckRequest* request,
                                               grpc::health::v1::HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const std::string& service = request->service();
  if (!service.empty() &&
      std::find(services_.begin(), services_.end(), service) == services_.end()) {
    reactor->Finish(ToGrpcStatus(absl::NotFoundError("service: unknown")));
    return reactor;
  }
  response->set_status(readiness_().ok() ? grpc::health::v1::HealthCheckResponse::SERVING
                                         : grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace leadvault::api
