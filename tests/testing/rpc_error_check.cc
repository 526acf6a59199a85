#include "tests/testing/rpc_error_check.h"

#include <atomic>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "grpcpp/support/client_interceptor.h"

namespace leadvault::testing {
namespace {

std::atomic<uint64_t> checked_errors{0};

bool IsCheckedCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ABORTED:
      return true;
    default:
      return false;
  }
}

// gRPC's own message-size limits answer RESOURCE_EXHAUSTED before the daemon's
// code sees the call; they carry no details.
bool RaisedByGrpc(const grpc::Status& status) {
  return absl::StrContains(status.error_message(), "message larger than max");
}

bool IsReason(const std::string& reason) {
  if (reason.empty() || reason.front() < 'A' || reason.front() > 'Z') return false;
  for (char c : reason) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

class CheckInterceptor : public grpc::experimental::Interceptor {
 public:
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_STATUS)) {
      const grpc::Status* status = methods->GetRecvStatus();
      if (status != nullptr) {
        ::testing::AssertionResult checked = CheckErrorDetails(*status);
        if (!checked) ADD_FAILURE() << checked.message();
      }
    }
    methods->Proceed();
  }
};

class CheckFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new CheckInterceptor();
  }
};

}  // namespace

ErrorDetails DecodeErrorDetails(const grpc::Status& status) {
  ErrorDetails out;
  if (status.error_details().empty() || !out.status.ParseFromString(status.error_details())) {
    return out;
  }
  for (const google::protobuf::Any& any : out.status.details()) {
    if (any.Is<google::rpc::ErrorInfo>()) out.has_info = any.UnpackTo(&out.info);
    if (any.Is<google::rpc::BadRequest>()) out.has_bad_request = any.UnpackTo(&out.bad_request);
    if (any.Is<google::rpc::PreconditionFailure>()) {
      out.has_precondition = any.UnpackTo(&out.precondition);
    }
    if (any.Is<google::rpc::RetryInfo>()) out.has_retry = any.UnpackTo(&out.retry);
  }
  return out;
}

::testing::AssertionResult CheckErrorDetails(const grpc::Status& status) {
  if (status.ok() || !IsCheckedCode(status.error_code()) || RaisedByGrpc(status)) {
    return ::testing::AssertionSuccess();
  }
  auto fail = [&status]() {
    return ::testing::AssertionFailure()
           << "error " << status.error_code() << " \"" << status.error_message() << "\": ";
  };
  if (status.error_details().empty()) return fail() << "no google.rpc.Status details";
  ErrorDetails details = DecodeErrorDetails(status);
  if (details.status.code() != static_cast<int>(status.error_code()) ||
      details.status.message() != status.error_message()) {
    return fail() << "details disagree with the status (code " << details.status.code()
                  << ", message \"" << details.status.message() << "\")";
  }
  if (!details.has_info) return fail() << "no ErrorInfo";
  if (details.info.domain() != "leadvault.dev") return fail() << "ErrorInfo.domain is not ours";
  if (!IsReason(details.info.reason())) {
    return fail() << "ErrorInfo.reason \"" << details.info.reason() << "\" is not UPPER_SNAKE";
  }
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    if (!details.has_bad_request || details.bad_request.field_violations_size() != 1) {
      return fail() << "no BadRequest with one field violation";
    }
    const auto& violation = details.bad_request.field_violations(0);
    if (violation.field().empty() || violation.description().empty()) {
      return fail() << "the field violation names no field or no rule";
    }
  }
  if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
      (!details.has_precondition || details.precondition.violations_size() != 1)) {
    return fail() << "no PreconditionFailure";
  }
  checked_errors.fetch_add(1, std::memory_order_relaxed);
  return ::testing::AssertionSuccess();
}

std::shared_ptr<grpc::Channel> CheckedChannel(const std::string& target,
                                              std::shared_ptr<grpc::ChannelCredentials> credentials,
                                              const grpc::ChannelArguments& args) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<CheckFactory>());
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, std::move(credentials),
                                                                 args, std::move(factories));
}

uint64_t CheckedErrorCount() { return checked_errors.load(std::memory_order_relaxed); }

}  // namespace leadvault::testing
