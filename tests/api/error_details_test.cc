// google.rpc.Status details on errors (api/status.h): what a program reads to
// tell one failure from another. Every error the suite's checked channels see
// is checked for well-formed details (tests/testing/rpc_error_check.h); these
// tests pin the reason, field and retry delay of representative paths, and that
// no detail carries a request's value.
#include <string>

#include "absl/strings/match.h"
#include "api/status.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "keys/error_reason.h"
#include "tests/api/api_test_util.h"
#include "tests/testing/rpc_error_check.h"

namespace leadvault::api {
namespace {

using testing::DecodeErrorDetails;
using testing::ErrorDetails;
using testing_util::ApiTest;

// Every text a client could read from `details`, for the canary checks.
std::string AllText(const ErrorDetails& details) {
  std::string text = details.status.message() + "|" + details.info.reason();
  for (const auto& [key, value] : details.info.metadata()) text += "|" + key + "=" + value;
  for (const auto& v : details.bad_request.field_violations()) {
    text += "|" + v.field() + "|" + v.description() + "|" + v.reason();
  }
  for (const auto& v : details.precondition.violations()) {
    text += "|" + v.type() + "|" + v.subject() + "|" + v.description();
  }
  return text;
}

class ErrorDetailsTest : public ApiTest {};

TEST_F(ErrorDetailsTest, InvalidArgumentNamesTheFieldAndRuleNeverTheValue) {
  const uint64_t checked_before = testing::CheckedErrorCount();
  v1::CreateLeadRequest request = ValidCreate("bad-email", "ok@example.com");
  request.mutable_personal()->set_email("zqxcanary@@mail");
  v1::CreateLeadResponse response;
  grpc::Status s = leads_->CreateLead(Ctx(worker_token_).get(), request, &response);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ErrorDetails details = DecodeErrorDetails(s);
  ASSERT_TRUE(details.has_info);
  EXPECT_EQ(details.info.reason(), "INVALID_FIELD");
  EXPECT_EQ(details.info.domain(), "leadvault.dev");
  EXPECT_EQ(details.info.metadata().at("field"), "email");
  ASSERT_TRUE(details.has_bad_request);
  ASSERT_EQ(details.bad_request.field_violations_size(), 1);
  EXPECT_EQ(details.bad_request.field_violations(0).field(), "email");
  EXPECT_EQ(details.bad_request.field_violations(0).description(), "must be a valid address");
  EXPECT_FALSE(absl::StrContains(AllText(details), "zqxcanary"));
  EXPECT_FALSE(details.has_retry);
  EXPECT_GT(testing::CheckedErrorCount(), checked_before)
      << "the channel's interceptor checked the error";
}

TEST_F(ErrorDetailsTest, PermissionDeniedSaysWhetherTheRoleOrThePurposeWasRefused) {
  const std::string capture = NewPrincipal("capture desk", {"capture"});
  v1::FindLeadsRequest find;
  find.set_email("someone@example.com");
  find.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
  v1::FindLeadsResponse found;
  grpc::Status s = leads_->FindLeads(Ctx(capture).get(), find, &found);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ErrorDetails details = DecodeErrorDetails(s);
  EXPECT_EQ(details.info.reason(), "ROLE_NOT_ALLOWED");
  EXPECT_EQ(details.info.metadata().at("field"), "role");
  EXPECT_FALSE(details.has_bad_request);
  EXPECT_FALSE(absl::StrContains(AllText(details), "someone"));

  const std::string id = CreateLead("denied-purpose", "purpose@example.com");
  v1::GetLeadRequest get;
  get.set_lead_id(id);
  get.set_purpose(v1::PURPOSE_OF_USE_EMERGENCY);
  v1::GetLeadResponse got;
  s = leads_->GetLead(Ctx(worker_token_).get(), get, &got);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_EQ(DecodeErrorDetails(s).info.reason(), "EMERGENCY_GRANT_REQUIRED");
}

TEST_F(ErrorDetailsTest, FailedPreconditionAndConflictNameTheStateThatBlocked) {
  const std::string id = CreateLead("precondition", "pre@example.com");
  v1::UpdateLeadRequest update;
  update.set_lead_id(id);
  update.set_expected_version(1);
  update.set_status(v1::LEAD_STATUS_SHOWED);
  v1::UpdateLeadResponse updated;
  grpc::Status s = leads_->UpdateLead(Ctx(worker_token_).get(), update, &updated);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ErrorDetails details = DecodeErrorDetails(s);
  EXPECT_EQ(details.info.reason(), "STATUS_TRANSITION_NOT_ALLOWED");
  ASSERT_TRUE(details.has_precondition);
  ASSERT_EQ(details.precondition.violations_size(), 1);
  EXPECT_EQ(details.precondition.violations(0).type(), "STATUS_TRANSITION_NOT_ALLOWED");
  EXPECT_EQ(details.precondition.violations(0).subject(), "status");
  EXPECT_EQ(details.precondition.violations(0).description(),
            "transition from new to showed is not allowed");

  update.set_expected_version(9);
  update.set_status(v1::LEAD_STATUS_CONTACTED);
  s = leads_->UpdateLead(Ctx(worker_token_).get(), update, &updated);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  details = DecodeErrorDetails(s);
  EXPECT_EQ(details.info.reason(), "VERSION_CONFLICT");
  EXPECT_EQ(details.info.metadata().at("field"), "expected_version");
}

TEST_F(ErrorDetailsTest, UnauthenticatedAndNotFoundCarryTheirReason) {
  v1::GetLeadRequest get;
  get.set_lead_id(std::string(32, 'a'));
  get.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
  v1::GetLeadResponse got;
  grpc::Status s =
      leads_->GetLead(Ctx("lv_0123456789abcdef_" + std::string(64, '0')).get(), get, &got);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(DecodeErrorDetails(s).info.reason(), "UNAUTHENTICATED");
  s = leads_->GetLead(Ctx(worker_token_).get(), get, &got);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(DecodeErrorDetails(s).info.reason(), "NOT_FOUND");
}

// The conversion itself: a tagged reason and retry delay reach the client; a
// dependency's words behind INTERNAL or DATA_LOSS never do.
TEST(ToRpcStatusTest, TaggedReasonAndRetryDelayAndOpaqueInternalErrors) {
  absl::Status throttled = WithRetryDelay(
      WithReason(absl::ResourceExhaustedError("too many failed authentications; retry later"),
                 "AUTH_THROTTLED"),
      absl::Microseconds(1500500));
  google::rpc::Status rpc = ToRpcStatus(throttled);
  EXPECT_EQ(rpc.code(), static_cast<int>(absl::StatusCode::kResourceExhausted));
  bool retry_seen = false;
  for (const auto& any : rpc.details()) {
    google::rpc::RetryInfo retry;
    if (any.UnpackTo(&retry)) {
      retry_seen = true;
      EXPECT_EQ(retry.retry_delay().seconds(), 1);
      EXPECT_EQ(retry.retry_delay().nanos(), 501000000) << "rounded up to the millisecond";
    }
    google::rpc::ErrorInfo info;
    if (any.Is<google::rpc::ErrorInfo>() && any.UnpackTo(&info)) {
      EXPECT_EQ(info.reason(), "AUTH_THROTTLED");
      EXPECT_TRUE(info.metadata().empty()) << "the message names no field";
    }
  }
  EXPECT_TRUE(retry_seen);

  absl::Status internal =
      WithReason(absl::InternalError("rocksdb: /var/lib/leadvault/zqxpath corrupt"), "SECRET");
  rpc = ToRpcStatus(internal);
  EXPECT_EQ(rpc.message(), "internal error");
  ASSERT_EQ(rpc.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "INTERNAL") << "a tag on an opaque error is not sent either";
  EXPECT_TRUE(info.metadata().empty());
  rpc = ToRpcStatus(absl::DataLossError("leads: zqxkey failed its MAC"));
  EXPECT_EQ(rpc.message(), "stored data failed an integrity check");
  EXPECT_FALSE(absl::StrContains(rpc.SerializeAsString(), "zqxkey"));
  EXPECT_FALSE(ToGrpcStatus(absl::DataLossError("zqxkey")).error_details().find("zqxkey") !=
               std::string::npos);
}

}  // namespace
}  // namespace leadvault::api
