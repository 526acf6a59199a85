// Every error a test's call receives is checked for its google.rpc.Status
// details (api/status.h): the channels tests make with CheckedChannel carry a
// client interceptor that fails the running test when an INVALID_ARGUMENT,
// PERMISSION_DENIED, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, UNAUTHENTICATED,
// NOT_FOUND or ABORTED from the daemon lacks them, so every error path the suite
// reaches is checked, not a sample.
#ifndef LEADVAULT_TESTS_TESTING_RPC_ERROR_CHECK_H_
#define LEADVAULT_TESTS_TESTING_RPC_ERROR_CHECK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace leadvault::testing {

// A channel to `target` whose every call's error is checked (CheckErrorDetails).
std::shared_ptr<grpc::Channel> CheckedChannel(
    const std::string& target,
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials(),
    const grpc::ChannelArguments& args = grpc::ChannelArguments());

// Success when `status` is OK, is an error gRPC itself raised (a message-size
// limit, a deadline, a lost connection), or carries well-formed details: a
// google.rpc.Status with the same code and message; an ErrorInfo of domain
// "leadvault.dev" with an UPPER_SNAKE_CASE reason; a BadRequest naming the field
// for INVALID_ARGUMENT; a PreconditionFailure for FAILED_PRECONDITION.
::testing::AssertionResult CheckErrorDetails(const grpc::Status& status);

// The decoded details of `status` (empty messages when absent).
struct ErrorDetails {
  google::rpc::Status status;
  google::rpc::ErrorInfo info;
  google::rpc::BadRequest bad_request;
  google::rpc::PreconditionFailure precondition;
  google::rpc::RetryInfo retry;
  bool has_info = false;
  bool has_bad_request = false;
  bool has_precondition = false;
  bool has_retry = false;
};
ErrorDetails DecodeErrorDetails(const grpc::Status& status);

// How many errors with details the checked channels have seen in this process.
uint64_t CheckedErrorCount();

}  // namespace leadvault::testing

#endif  // LEADVAULT_TESTS_TESTING_RPC_ERROR_CHECK_H_
