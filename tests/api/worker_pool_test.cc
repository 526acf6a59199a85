#include "api/worker_pool.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace leadvault::api {
namespace {

TEST(WorkerPoolTest, RunsEveryTaskAndDrainsOnDestruction) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(4, 1000);
    for (int i = 0; i < 500; ++i) ASSERT_TRUE(pool.Post([&] { ++ran; }).ok());
  }
  EXPECT_EQ(ran.load(), 500);
}

TEST(WorkerPoolTest, RefusesWorkBeyondTheQueueLimit) {
  std::atomic<int> ran{0};
  absl::Notification started;
  absl::Notification release;
  {
    WorkerPool pool(1, 2);
    ASSERT_TRUE(pool.Post([&] {
                      started.Notify();
                      release.WaitForNotification();
                      ++ran;
                    })
                    .ok());
    started.WaitForNotification();  // the only thread is busy; the queue is empty
    EXPECT_TRUE(pool.Post([&] { ++ran; }).ok());
    EXPECT_TRUE(pool.Post([&] { ++ran; }).ok());
    absl::Status refused = pool.Post([&] { ++ran; });
    EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
    release.Notify();
  }
  EXPECT_EQ(ran.load(), 3);  // the refused task never ran
}

TEST(WorkerPoolTest, DropQueuedAnswersTasksThatHaveNotStartedAndLeavesTheRunningOne) {
  std::atomic<int> ran{0};
  std::atomic<int> dropped{0};
  absl::Notification started;
  absl::Notification release;
  {
    WorkerPool pool(1, 100);
    ASSERT_TRUE(pool.Post(
                        [&] {
                          started.Notify();
                          release.WaitForNotification();
                          ++ran;
                        },
                        [&] { ++dropped; })
                    .ok());
    started.WaitForNotification();  // running: not droppable any more
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.Post([&] { ++ran; }, [&] { ++dropped; }).ok());
    ASSERT_TRUE(pool.Post([&] { ++ran; }).ok());  // no drop: kept
    pool.DropQueued();
    EXPECT_EQ(dropped.load(), 3);  // on this thread, before DropQueued returned
    EXPECT_EQ(ran.load(), 0);
    ASSERT_TRUE(pool.Post([&] { ++ran; }, [&] { ++dropped; }).ok());  // still accepting
    release.Notify();
  }
  EXPECT_EQ(ran.load(), 3);
  EXPECT_EQ(dropped.load(), 3);
}

}  // namespace
}  // namespace leadvault::api
