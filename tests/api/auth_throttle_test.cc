// The failed-authentication throttle: AuthThrottle on its own (synthetic peers
// and claimed principals, a fake clock), and AuthenticateCall through it on
// real gRPC calls.
#include "api/auth_throttle.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/auth.h"
#include "api/status.h"
#include "grpcpp/generic/async_generic_service.h"
#include "gtest/gtest.h"
#include "tests/api/api_test_util.h"
#include "tests/testing/fakes.h"
#include "tests/testing/rpc_error_check.h"

namespace leadvault::api {
namespace {

using testing_util::ApiTest;
using testing_util::StartTime;

constexpr char kPeerA[] = "ipv4:10.0.0.1:50000";
constexpr char kPeerB[] = "ipv4:10.0.0.2:50000";

constexpr char kAlice[] = "00000000000000a1";  // claimed principal ids
constexpr char kBob[] = "00000000000000b0";

bool Refused(AuthThrottle& throttle, absl::string_view peer, absl::string_view claimed = "") {
  absl::Status s = throttle.Admit(peer, claimed);
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
    throttle.RecordFailure(kPeerA, "");
  }
  EXPECT_FALSE(Refused(throttle, kPeerA)) << "four failures are free";
  throttle.RecordFailure(kPeerA, "");
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
    throttle.RecordFailure(kPeerA, "");
    expected = std::min(expected * 2, absl::Seconds(60));
  }
  EXPECT_EQ(expected, absl::Seconds(60));
  EXPECT_EQ(throttle.refused(), 11u);
}

TEST(AuthThrottleTest, SittingOutTheLongestBackOffBuysNoFreshTries) {
  testing::FakeClock clock(StartTime());
  AuthThrottle throttle(&clock);
  for (int i = 0; i < 12; ++i) {  // enough failures for the 60 s cap, each within the window
    throttle.RecordFailure(kPeerA, "");
    clock.Advance(absl::Seconds(60));
  }
  throttle.RecordFailure(kPeerA, "");  // blocked for the full 60 s
  clock.Advance(absl::Seconds(61));
  ASSERT_TRUE(throttle.Admit(kPeerA, "").ok());  // the back-off is over
  throttle.RecordFailure(kPeerA, "");            // ... and the next failure blocks at once
  EXPECT_TRUE(absl::IsResourceExhausted(throttle.Admit(kPeerA, "")));
}

TEST(AuthThrottleTest, OldFailuresAreForgotten) {
  testing::FakeClock clock(StartTime());
  AuthThrottle throttle(&clock);
  // Failures more than 60 s apart do not add up.
  for (int i = 0; i < 10; ++i) {
    clock.Advance(absl::Seconds(61));
    throttle.RecordFailure(kPeerB, kAlice);
    EXPECT_FALSE(Refused(throttle, kPeerB, kAlice)) << i;
  }
}

TEST(AuthThrottleTest, PeerAddressKeysIPv6ByItsSlash64) {
  EXPECT_EQ(AuthThrottle::AddressKey("ipv4:10.0.0.1:5000"), "10.0.0.1");
  EXPECT_EQ(AuthThrottle::AddressKey("ipv6:[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:5000"),
            "2001:db8:1:2::/64");
  EXPECT_EQ(AuthThrottle::AddressKey("ipv6:%5B2001:db8:1:2::9%5D:5000"), "2001:db8:1:2::/64");
  EXPECT_EQ(AuthThrottle::AddressKey("ipv6:[::1]:5000"), "::/64");
  EXPECT_EQ(AuthThrottle::AddressKey("ipv6:[::ffff:192.0.2.7]:5000"), "192.0.2.7")
      << "an IPv4 client of a dual-stack socket is keyed by its IPv4 address";
  EXPECT_EQ(AuthThrottle::AddressKey("unix:/run/x.sock"), "unix:/run/x.sock");

  testing::FakeClock clock(StartTime());
  AuthThrottle throttle(&clock);
  for (int i = 0; i < 5; ++i) {  // five hosts of one /64
    throttle.RecordFailure(absl::StrCat("ipv6:[2001:db8:1:2::", i + 1, "]:4000"), "");
  }
  EXPECT_TRUE(Refused(throttle, "ipv6:[2001:db8:1:2:ffff::1]:4000")) << "same /64";
  EXPECT_FALSE(Refused(throttle, "ipv6:[2001:db8:1:3::1]:4000")) << "the next /64";
  for (int i = 0; i < 5; ++i) {  // five IPv4-mapped clients are five addresses
    throttle.RecordFailure(absl::StrCat("ipv6:[::ffff:192.0.2.", i + 1, "]:4000"), "");
  }
  EXPECT_FALSE(Refused(throttle, "ipv6:[::ffff:192.0.2.1]:4000"));
  EXPECT_FALSE(Refused(throttle, "ipv4:192.0.2.9:4000"));
}

TEST(AuthThrottleTest, ASuccessForgivesNothing) {
  // AuthThrottle has no success hook at all: a valid token (say an insider's,
  // of principal A) cannot reset the count of guesses against B from its
  // address. The end-to-end form of this is in AuthenticateCallThrottleTest.
  testing::FakeClock clock(StartTime());
  AuthThrottle throttle(&clock);
  for (int i = 0; i < 4; ++i) throttle.RecordFailure(kPeerA, kBob);
  EXPECT_FALSE(Refused(throttle, kPeerA, kAlice));  // A's call is admitted (and succeeds)
  throttle.RecordFailure(kPeerA, kBob);
  EXPECT_TRUE(Refused(throttle, kPeerA, kAlice));
  EXPECT_TRUE(Refused(throttle, kPeerA, kBob));
}

TEST(AuthThrottleTest, FailuresAgainstOnePrincipalFromManyAddressesBackOff) {
  testing::FakeClock clock(StartTime());
  AuthThrottle throttle(&clock);
  auto peer = [](int i) { return absl::StrCat("ipv4:10.2.0.", i, ":1"); };
  for (int i = 0; i < 5; ++i) {  // one failure each, from five addresses, all claiming Bob
    ASSERT_FALSE(Refused(throttle, peer(i), kBob)) << i;
    throttle.RecordFailure(peer(i), kBob);
  }
  // Bob backs off: an address that has failed is refused when it claims Bob...
  EXPECT_TRUE(Refused(throttle, peer(0), kBob));
  EXPECT_TRUE(Refused(throttle, peer(4), kBob));
  // ... but not for another principal (its own count is 1), ...
  EXPECT_FALSE(Refused(throttle, peer(0), kAlice));
  // ... and a clean address may still claim Bob, so strangers cannot lock him out.
  EXPECT_FALSE(Refused(throttle, peer(9), kBob));
  EXPECT_EQ(throttle.refused(), 2u);

  // A clean address that then fails is refused at once, and Bob's back-off grows.
  throttle.RecordFailure(peer(9), kBob);
  EXPECT_TRUE(Refused(throttle, peer(9), kBob));
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(Refused(throttle, peer(0), kBob)) << "the sixth failure doubled the back-off";
  clock.Advance(absl::Seconds(1));
  EXPECT_FALSE(Refused(throttle, peer(0), kBob)) << "back-off over";
}

TEST(AuthThrottleTest, TrackedKeysAreBoundedOldestForgottenFirst) {
  testing::FakeClock clock(StartTime());
  AuthThrottleOptions options;
  options.max_keys = 3;
  AuthThrottle throttle(&clock, options);
  for (int i = 0; i < 5; ++i) throttle.RecordFailure(kPeerA, "");
  ASSERT_TRUE(Refused(throttle, kPeerA));
  for (int i = 0; i < 3; ++i) {
    throttle.RecordFailure(absl::StrCat("ipv4:10.0.1.", i, ":1"), "");
    EXPECT_LE(throttle.tracked_keys(), 3u);
  }
  EXPECT_EQ(throttle.tracked_keys(), 3u);
  EXPECT_FALSE(Refused(throttle, kPeerA)) << "the oldest peer was evicted";

  // The default bound is 10,000.
  AuthThrottle big(&clock);
  for (int i = 0; i < 10050; ++i)
    big.RecordFailure(absl::StrCat("ipv4:10.1.", i / 256, ".", i % 256, ":1"), "");
  EXPECT_EQ(big.tracked_keys(), 10000u);

  // A claimed principal is a key too, under the same bound: a flood of claims
  // cannot grow memory either.
  AuthThrottle claims(&clock, options);
  for (int i = 0; i < 10; ++i) {
    claims.RecordFailure(kPeerA, absl::StrCat("00000000000000", i, "0"));
    EXPECT_LE(claims.tracked_keys(), 3u);
  }
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
          Finish(ToGrpcStatus(s));
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
    stub_ = v1::Admin::NewStub(testing::CheckedChannel(absl::StrCat("127.0.0.1:", port),
                                                       grpc::InsecureChannelCredentials()));
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
  {
    // The refusal tells a program why, and when to try again: the back-off's end.
    v1::ListPrincipalsResponse response;
    grpc::Status refused =
        stub_->ListPrincipals(Ctx("").get(), v1::ListPrincipalsRequest(), &response);
    ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    testing::ErrorDetails details = testing::DecodeErrorDetails(refused);
    EXPECT_EQ(details.info.reason(), "AUTH_THROTTLED");
    ASSERT_TRUE(details.has_retry);
    EXPECT_EQ(details.retry.retry_delay().seconds(), 1) << "the first back-off is 1 s";
    EXPECT_EQ(details.retry.retry_delay().nanos(), 0);
  }
  EXPECT_EQ(throttle_->refused(), 3u);

  // Another peer address is unaffected (failures recorded for it directly).
  for (int i = 0; i < 5; ++i) throttle_->RecordFailure(kPeerB, "");
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Call(admin_token_), grpc::StatusCode::OK) << "back-off over";
  EXPECT_EQ(throttle_->tracked_keys(), 3u)
      << "127.0.0.1, the claimed 0123456789abcdef and 10.0.0.2: the success forgave nothing";

  // So a valid token (an insider's, say) buys no fresh guesses at another
  // principal: the next failure from this address backs off again at once.
  EXPECT_EQ(Call(wrong), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Call(admin_token_), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(throttle_->refused(), 4u);
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(Call(admin_token_), grpc::StatusCode::OK) << "the doubled back-off is over";
}

}  // namespace
}  // namespace leadvault::api
