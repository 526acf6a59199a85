// The one conversion from absl::Status to grpc::Status, with google.rpc.Status
// details a program can act on.
#ifndef LEADVAULT_API_STATUS_H_
#define LEADVAULT_API_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/status.h"

namespace leadvault::api {

// The domain of every ErrorInfo leadvault sends.
inline constexpr char kErrorDomain[] = "leadvault.dev";

// The google.rpc.Status for a non-OK `status`:
//  - ErrorInfo always: the reason a lower layer tagged (keys/error_reason.h) or
//    the code's default (INVALID_FIELD, PERMISSION_DENIED, ...), domain
//    "leadvault.dev", and metadata "field" when the message names one;
//  - BadRequest.FieldViolation (field, rule) for INVALID_ARGUMENT;
//  - PreconditionFailure.Violation (reason, field, rule) for FAILED_PRECONDITION;
//  - RetryInfo when the error was tagged with a retry delay.
// A message of the form "FIELD: RULE" (the project's rule for errors) names the
// field; INTERNAL, UNKNOWN and DATA_LOSS keep only a generic message.
google::rpc::Status ToRpcStatus(const absl::Status& status);

// Maps the code 1:1 (the numbering is the same), keeps the message, which by
// the project's rules names a field and a rule, never a value, and carries
// ToRpcStatus in the status details (the grpc-status-details-bin trailer).
// Messages of INTERNAL, UNKNOWN and DATA_LOSS errors are replaced by a generic
// text, since they may come from a dependency.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace leadvault::api

#endif  // LEADVAULT_API_STATUS_H_
