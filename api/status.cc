#include "api/status.h"

#include <string>

namespace leadvault::api {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  auto code = static_cast<grpc::StatusCode>(status.code());
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return grpc::Status(code, "internal error");
    case absl::StatusCode::kDataLoss:
      return grpc::Status(code, "stored data failed an integrity check");
    default:
      return grpc::Status(code, std::string(status.message()));
  }
}

}  // namespace leadvault::api
