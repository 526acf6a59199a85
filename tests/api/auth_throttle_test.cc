// The failed-authentication throttle: AuthThrottle on its own (synthetic peers,
// a fake clock), and AuthenticateCall through it on real gRPC calls.
#include "api/auth_throttle.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/auth.h"
#include "grpcpp/generic/async_generic_service.h"
#include "gtest/gtest.h"
#include "tests/api/api_test_util.h"
#include "tests/testing/fakes.h"

namespace leadvault::api {
namespace {

using testing_util::ApiTest;
using testing_util::StartTime;

constexpr char kPeerA[] = "ipv4:10.0.0.1:50000";
constexpr char kPeerB[] = "ipv4:10.0.0.2:50000";

bool Refused(AuthThrottle& throttle, absl::string_view peer) {
  absl::Status s = throttle.Admit(peer);
  if (s.ok()) return false;
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(), "too many failed authentications; retry later");
  return true;
}

TEST(AuthThrottleTest, PeerAddressDropsThePort) {
  EXPECT_EQ(AuthThrottle::PeerAddress("ipv4:127.0.0.1:54321"), "127.0.0.1");
  EXPECT_EQ(AuthThrottle::PeerAddress("ipv6:[::1]:5432"), "::1");
  EXPECT_EQ(AuthThrottle::PeerAddress("ipv6:%5B::1%5D:5432"), "::1");
  EXPECT_EQ(AuthThrottle::PeerAddress("unix:/run/x.sock"), "unix:/run/x.sock");
}

TEST(AuthThrottleTest, FiveFailuresStartABackOffThatDoublesUpToAMinute) {
  testing::FakeClock clock(StartTime());
  AuthThrottle throttle(&clock);
  for (int i = 0; i < 4; ++i) {
    EXPECT_FALSE(Refused(throttle, kPeerA)) << i;
    throttle.RecordFailure(kPeerA);
  }
  EXPECT_FALSE(Refused(throttle, kPeerA)) << "four failures are free";
  throttle.RecordFailure(kPeerA);
  EXPECT_TRUE(Refused(throttle, "ipv4:10.0.0.1:60000")) << "the same address, another port";
  EXPECT_FALSE(Refused(throttle, kPeerB)) << "another peer is unaffected";
  EXPECT_EQ(throttle.refused(), 1u);

  // Each further failure doubles the back-off: 1 s, 2 s, 4 s, ... at most 60 s.
  absl::Duration expected = absl::Seconds(1);
  for (int i = 0; i < 10; ++i) {
    clock.Advance(expected - absl::Milliseconds(1));
    EXPECT_TRUE(Refused(throttle, kPeerA)) << "still backing off, step " << i;
    clock.Advance(absl::Milliseconds(1));
    EXPECT_FALSE(Refused(throttle, kPeerA)) << "back-off over, step " << i;
    throttle.RecordFailure(kPeerA);
    expected = std::min(expected * 2, absl::Seconds(60));
  }
  EXPECT_EQ(expected, absl::Seconds(60));
  EXPECT_EQ(throttle.refused(), 11u);
}

TEST(AuthThrottleTest, SittingOutTheLongestBackOffBuysNoFreshTries) {
  testing::FakeClock clock(StartTime());
  AuthThrottle throttle(&clock);
  for (int i = 0; i < 12; ++i) {  // enough failures for the 60 s cap, each within the window
    throttle.RecordFailure(kPeerA);
    clock.Advance(absl::Seconds(60));
  }
  throttle.RecordFailure(kPeerA);  // blocked for the full 60 s
  clock.Advance(absl::Seconds(61));
  ASSERT_TRUE(throttle.Admit(kPeerA).ok());  // the back-off is over
  throttle.RecordFailure(kPeerA);            // ... and the next failure blocks at once
  EXPECT_TRUE(absl::IsResourceExhausted(throttle.Admit(kPeerA)));
}

TEST(AuthThrottleTest, SuccessResetsAndOldFailuresAreForgotten) {
  testing::FakeClock clock(StartTime());
  AuthThrottle throttle(&clock);
  for (int i = 0; i < 4; ++i) throttle.RecordFailure(kPeerA);
  throttle.RecordSuccess(kPeerA);
  EXPECT_EQ(throttle.tracked_peers(), 0u);
  throttle.RecordFailure(kPeerA);
  EXPECT_FALSE(Refused(throttle, kPeerA)) << "the count started again after the success";

  // Failures more than 60 s apart do not add up.
  for (int i = 0; i < 10; ++i) {
    clock.Advance(absl::Seconds(61));
    throttle.RecordFailure(kPeerB);
    EXPECT_FALSE(Refused(throttle, kPeerB)) << i;
  }
}

TEST(AuthThrottleTest, TrackedPeersAreBoundedOldestForgottenFirst) {
  testing::FakeClock clock(StartTime());
  AuthThrottleOptions options;
  options.max_peers = 3;
  AuthThrottle throttle(&clock, options);
  for (int i = 0; i < 5; ++i) throttle.RecordFailure(kPeerA);
  ASSERT_TRUE(Refused(throttle, kPeerA));
  for (int i = 0; i < 3; ++i) {
    throttle.RecordFailure(absl::StrCat("ipv4:10.0.1.", i, ":1"));
    EXPECT_LE(throttle.tracked_peers(), 3u);
  }
  EXPECT_EQ(throttle.tracked_peers(), 3u);
  EXPECT_FALSE(Refused(throttle, kPeerA)) << "the oldest peer was evicted";

  // The default bound is 10,000.
  AuthThrottle big(&clock);
  for (int i = 0; i < 10050; ++i)
    big.RecordFailure(absl::StrCat("ipv4:10.1.", i / 256, ".", i % 256, ":1"));
  EXPECT_EQ(big.tracked_peers(), 10000u);
}

// A server whose every method only authenticates the call through the
// throttle (AuthenticateCall), answering OK with an empty message.
class AuthOnlyService final : public grpc::CallbackGenericService {
 public:
  AuthOnlyService(const vault::PrincipalStore* principals, AuthThrottle* throttle)
      : principals_(principals), throttle_(throttle) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    class Reactor final : public grpc::ServerGenericBidiReactor {
     public:
      Reactor(grpc::GenericCallbackServerContext* ctx, const vault::PrincipalStore& principals,
              AuthThrottle* throttle) {
        vault::Actor actor;
        std::string claimed;
        absl::Status s = AuthenticateCall(ctx, principals, throttle, actor, &claimed);
        if (s.ok()) {
          StartWriteAndFinish(&empty_, grpc::WriteOptions(), grpc::Status::OK);
        } else {
          Finish(grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message())));
        }
      }
      void OnDone() override { delete this; }

     private:
      grpc::ByteBuffer empty_{nullptr, 0};
    };
    return new Reactor(ctx, *principals_, throttle_);
  }

 private:
  const vault::PrincipalStore* const principals_;
  AuthThrottle* const throttle_;
};

class AuthenticateCallThrottleTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    throttle_ = std::make_unique<AuthThrottle>(&clock_);
    service_ = std::make_unique<AuthOnlyService>(&vault_->principals(), throttle_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterCallbackGenericService(service_.get());
    auth_server_ = builder.BuildAndStart();
    ASSERT_NE(auth_server_, nullptr);
    ASSERT_GT(port, 0);
    stub_ = v1::Admin::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (auth_server_ != nullptr) auth_server_->Shutdown();
    auth_server_.reset();
    ApiTest::TearDown();
  }

  grpc::StatusCode Call(const std::string& token) {
    v1::ListPrincipalsResponse response;
    return stub_->ListPrincipals(Ctx(token).get(), v1::ListPrincipalsRequest(), &response)
        .error_code();
  }

  std::unique_ptr<AuthThrottle> throttle_;
  std::unique_ptr<AuthOnlyService> service_;
  std::unique_ptr<grpc::Server> auth_server_;
  std::unique_ptr<v1::Admin::Stub> stub_;
};

TEST_F(AuthenticateCallThrottleTest,
       RepeatedFailuresAreRefusedEvenWithAValidTokenUntilBackOffEnds) {
  const std::string wrong = "lv_0123456789abcdef_" + std::string(64, '0');
  ASSERT_EQ(Call(admin_token_), grpc::StatusCode::OK);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Call(wrong), grpc::StatusCode::UNAUTHENTICATED) << i;
  EXPECT_EQ(Call(admin_token_), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << "backing off: the token is not even looked at";
  EXPECT_EQ(Call(wrong), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Call(""), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(throttle_->refused(), 3u);

  // Another peer address is unaffected (failures recorded for it directly).
  for (int i = 0; i < 5; ++i) throttle_->RecordFailure(kPeerB);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Call(admin_token_), grpc::StatusCode::OK) << "back-off over";
  EXPECT_EQ(throttle_->tracked_peers(), 1u) << "the success reset 127.0.0.1; 10.0.0.2 remains";
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Call(wrong), grpc::StatusCode::UNAUTHENTICATED) << i;
  EXPECT_EQ(Call(admin_token_), grpc::StatusCode::OK) << "four failures after a reset are free";
  EXPECT_EQ(throttle_->refused(), 3u);
}

}  // namespace
}  // namespace leadvault::api
