// The one conversion from absl::Status to grpc::Status.
#ifndef LEADVAULT_API_STATUS_H_
#define LEADVAULT_API_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace leadvault::api {

// Maps the code 1:1 (the numbering is the same) and keeps the message, which by
// the project's rules names a field and a rule, never a value. Messages of
// INTERNAL, UNKNOWN and DATA_LOSS errors are replaced by a generic text, since
// they may come from a dependency.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace leadvault::api

#endif  // LEADVAULT_API_STATUS_H_
