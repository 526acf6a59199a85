// ExportLimiter: caps per principal and in all, stalled writes cancelled
// once, a drain that cancels everything. Time comes from a fake clock; the
// watchdog thread may sweep at any moment, so the tests count cancels rather
// than what one sweep returned.
#include "api/export_limiter.h"

#include <atomic>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/fakes.h"

namespace leadvault::api {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(30);

class ExportLimiterTest : public ::testing::Test {
 protected:
  ExportLimiterTest() : limiter_(&clock_, ExportLimits{2, 3, kTimeout}) {}

  // A slot for `principal`; its cancels are counted in `cancels_[index]`.
  uint64_t Admit(const std::string& principal, int index) {
    auto slot = limiter_.Acquire(principal, [this, index] { ++cancels_[index]; });
    EXPECT_TRUE(slot.ok()) << slot.status();
    return slot.ok() ? *slot : 0;
  }

  testing::FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  std::atomic<int> cancels_[8] = {};
  ExportLimiter limiter_;
};

TEST_F(ExportLimiterTest, CapsPerPrincipalAndInAllUntilASlotIsReleased) {
  uint64_t a1 = Admit("a", 0);
  Admit("a", 1);
  auto third = limiter_.Acquire("a", [] {});
  ASSERT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(third.status().message().find("per principal"), std::string::npos);
  Admit("b", 2);  // the total's last slot
  auto fourth = limiter_.Acquire("c", [] {});
  ASSERT_EQ(fourth.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(fourth.status().message().find("at most 3 exports at once"), std::string::npos);
  EXPECT_EQ(limiter_.counts().open, 3u);

  limiter_.Release(a1);
  EXPECT_EQ(limiter_.counts().open, 2u);
  Admit("c", 3);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(cancels_[i], 0) << i;
}

TEST_F(ExportLimiterTest, AWriteOutstandingPastTheTimeoutIsCancelledOnceAndFreesItsSlot) {
  uint64_t stalled = Admit("a", 0);
  uint64_t reading = Admit("a", 1);
  uint64_t idle = Admit("b", 2);  // producing its next message: no write outstanding
  limiter_.WriteStarted(stalled);
  limiter_.WriteStarted(reading);
  EXPECT_EQ(limiter_.counts().writing, 2u);
  clock_.Advance(kTimeout);  // not yet past it
  limiter_.CancelStalled();
  EXPECT_EQ(cancels_[0], 0);
  limiter_.WriteDone(reading);
  clock_.Advance(absl::Seconds(1));
  limiter_.CancelStalled();
  limiter_.CancelStalled();
  EXPECT_EQ(cancels_[0], 1);
  EXPECT_EQ(cancels_[1], 0);
  EXPECT_EQ(cancels_[2], 0);
  // The cancelled stream's slot is free before its reactor is done.
  EXPECT_EQ(limiter_.counts().open, 2u);
  Admit("a", 3);
  limiter_.Release(stalled);  // its OnDone, later: frees nothing twice
  EXPECT_EQ(limiter_.counts().open, 3u);
  limiter_.Release(reading);
  limiter_.Release(idle);
  EXPECT_EQ(limiter_.counts().open, 1u);
}

TEST_F(ExportLimiterTest, ATimeoutOfZeroCancelsAnyWriteStillOutstandingWhenTimeMoves) {
  ExportLimiter limiter(&clock_, ExportLimits{2, 3, absl::ZeroDuration()});
  std::atomic<int> cancels = 0;
  auto slot = limiter.Acquire("a", [&] { ++cancels; });
  ASSERT_TRUE(slot.ok());
  limiter.WriteStarted(*slot);
  limiter.CancelStalled();
  EXPECT_EQ(cancels, 0);  // no time has passed
  clock_.Advance(absl::Milliseconds(1));
  limiter.CancelStalled();
  EXPECT_EQ(cancels, 1);
  limiter.Release(*slot);
}

TEST_F(ExportLimiterTest, DrainCancelsEveryOpenStreamAndRefusesNewOnes) {
  uint64_t a = Admit("a", 0);
  uint64_t b = Admit("b", 1);
  limiter_.WriteStarted(a);
  limiter_.Drain();
  EXPECT_EQ(cancels_[0], 1);
  EXPECT_EQ(cancels_[1], 1);
  EXPECT_EQ(limiter_.counts().open, 0u);
  auto refused = limiter_.Acquire("c", [] {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  clock_.Advance(kTimeout * 2);
  limiter_.CancelStalled();
  EXPECT_EQ(cancels_[0], 1);  // never twice
  limiter_.Release(a);
  limiter_.Release(b);
}

}  // namespace
}  // namespace leadvault::api
