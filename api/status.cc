#include "api/status.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "google/rpc/error_details.pb.h"
#include "keys/error_reason.h"

namespace leadvault::api {
namespace {

// The message a client sees: dependencies' words never reach it.
std::string PublicMessage(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return "internal error";
    case absl::StatusCode::kDataLoss:
      return "stored data failed an integrity check";
    default:
      return std::string(status.message());
  }
}

// The reason of an error no layer tagged.
absl::string_view DefaultReason(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
      return "INVALID_FIELD";
    case absl::StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case absl::StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case absl::StatusCode::kResourceExhausted:
      return "LIMIT_REACHED";
    case absl::StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    case absl::StatusCode::kNotFound:
      return "NOT_FOUND";
    case absl::StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case absl::StatusCode::kAborted:
      return "ABORTED";
    case absl::StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kCancelled:
      return "CANCELLED";
    case absl::StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case absl::StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case absl::StatusCode::kDataLoss:
      return "DATA_LOSS";
    default:
      return "INTERNAL";
  }
}

// A field path as the project's messages name them: "pii.email",
// "contact_attempts.outcome", "page_token".
bool IsFieldPath(absl::string_view text) {
  if (text.empty() || !absl::ascii_islower(static_cast<unsigned char>(text.front()))) return false;
  for (char c : text) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

struct FieldRule {
  std::string field;  // empty when the message names none
  std::string rule;
};

FieldRule SplitMessage(absl::string_view message) {
  size_t colon = message.find(": ");
  if (colon != absl::string_view::npos && IsFieldPath(message.substr(0, colon))) {
    return {std::string(message.substr(0, colon)), std::string(message.substr(colon + 2))};
  }
  return {std::string(), std::string(message)};
}

}  // namespace

google::rpc::Status ToRpcStatus(const absl::Status& status) {
  google::rpc::Status rpc;
  if (status.ok()) return rpc;
  rpc.set_code(static_cast<int>(status.code()));
  rpc.set_message(PublicMessage(status));
  const bool opaque = status.code() == absl::StatusCode::kInternal ||
                      status.code() == absl::StatusCode::kUnknown ||
                      status.code() == absl::StatusCode::kDataLoss;
  const FieldRule split = opaque ? FieldRule{} : SplitMessage(status.message());
  std::optional<std::string> tagged = opaque ? std::nullopt : ErrorReason(status);
  const std::string reason =
      tagged.has_value() ? *tagged : std::string(DefaultReason(status.code()));

  google::rpc::ErrorInfo info;
  info.set_reason(reason);
  info.set_domain(kErrorDomain);
  if (!split.field.empty()) (*info.mutable_metadata())["field"] = split.field;
  rpc.add_details()->PackFrom(info);

  if (status.code() == absl::StatusCode::kInvalidArgument) {
    google::rpc::BadRequest bad;
    google::rpc::BadRequest::FieldViolation* violation = bad.add_field_violations();
    violation->set_field(split.field);
    violation->set_description(split.rule);
    violation->set_reason(reason);
    rpc.add_details()->PackFrom(bad);
  } else if (status.code() == absl::StatusCode::kFailedPrecondition) {
    google::rpc::PreconditionFailure failure;
    google::rpc::PreconditionFailure::Violation* violation = failure.add_violations();
    violation->set_type(reason);
    violation->set_subject(split.field);
    violation->set_description(split.rule);
    rpc.add_details()->PackFrom(failure);
  }
  if (std::optional<absl::Duration> delay = RetryDelay(status); delay.has_value() && !opaque) {
    google::rpc::RetryInfo retry;
    const int64_t ms = absl::ToInt64Milliseconds(*delay);
    retry.mutable_retry_delay()->set_seconds(ms / 1000);
    retry.mutable_retry_delay()->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
    rpc.add_details()->PackFrom(retry);
  }
  return rpc;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status rpc = ToRpcStatus(status);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), rpc.message(),
                      rpc.SerializeAsString());
}

}  // namespace leadvault::api
