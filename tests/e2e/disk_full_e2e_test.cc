// A full disk on a real small filesystem (a tmpfs the test mounts, so it needs
// root; skipped otherwise): changes are refused before RocksDB meets ENOSPC,
// health turns NOT_SERVING, and service returns without a restart once space
// is freed; a disk that does fill is recovered from too, and the stop is clean.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/e2e/e2e_fixture.h"

namespace leadvault::e2e {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

class DiskFullE2eTest : public E2eTest {
 protected:
  void SetUp() override {
    fs::create_directories(DataDir());
    if (::mount("tmpfs", DataDir().c_str(), "tmpfs", 0, "size=64m,mode=0700") != 0) {
      GTEST_SKIP() << "mounting a tmpfs needs root";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(DataDir().c_str(), MNT_DETACH);
  }

  uint64_t FreeBytes() {
    struct statvfs st;
    EXPECT_EQ(::statvfs(DataDir().c_str(), &st), 0);
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }

  // Takes all but `leave` bytes of the filesystem with a file of its own.
  void Fill(uint64_t leave) {
    const uint64_t free = FreeBytes();
    ASSERT_GT(free, leave);
    int fd = ::open(Filler().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::posix_fallocate(fd, 0, static_cast<off_t>(free - leave)), 0);
    ::close(fd);
  }
  std::string Filler() const { return DataDir() + "/filler"; }

  HealthCheckResponse::ServingStatus Health() {
    auto stub = Health::NewStub(channel_);
    HealthCheckRequest request;
    HealthCheckResponse response;
    grpc::Status s = stub->Check(Ctx("").get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.status();
  }

  // Polls health (bounded) until it reports `want`.
  bool AwaitHealth(HealthCheckResponse::ServingStatus want) {
    for (int waited = 0; waited < kStartCapMillis; waited += 10) {
      if (Health() == want) return true;
      PollPause();
    }
    return false;
  }

  v1::CreateLeadRequest Lead(int n) {
    std::string key = absl::StrCat("full-", n);
    v1::CreateLeadRequest r = SimpleLead(key, key + "@example.com");
    r.mutable_personal()->set_notes(std::string(1500, 'n'));
    return r;
  }

  bool mounted_ = false;
};

TEST_F(DiskFullE2eTest, ANearlyFullDiskIsRefusedBeforeEnospcAndServesAgainOnceFreed) {
  auto daemon = Start("a", {"--min-free-mb", "8"});
  ASSERT_FALSE(address_.empty());
  const std::string worker = NewWorker(AdminToken("a"));
  ASSERT_FALSE(CreateLead(worker, Lead(0)).empty());
  EXPECT_EQ(Health(), HealthCheckResponse::SERVING);

  Fill(6 << 20);  // below the 8 MiB the daemon keeps
  v1::CreateLeadResponse response;
  grpc::Status refused = leads_->CreateLead(Ctx(worker).get(), Lead(1), &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "storage nearly full"));
  EXPECT_FALSE(absl::StrContains(refused.error_message(), DataDir()));
  EXPECT_EQ(Health(), HealthCheckResponse::NOT_SERVING);

  ASSERT_EQ(::unlink(Filler().c_str()), 0);
  EXPECT_EQ(Health(), HealthCheckResponse::SERVING);
  EXPECT_FALSE(CreateLead(worker, Lead(1)).empty());
  EXPECT_EQ(Stop(*daemon), 0);
}

TEST_F(DiskFullE2eTest, ADiskThatFillsIsRecoveredFromWithoutARestartAndStopsCleanly) {
  // No headroom: RocksDB itself meets ENOSPC.
  auto daemon = Start("a", {"--min-free-mb", "0"});
  ASSERT_FALSE(address_.empty());
  const std::string worker = NewWorker(AdminToken("a"));
  Fill(0);
  std::vector<std::string> acknowledged;
  grpc::Status failed;
  for (int i = 0; i < 50000 && failed.ok(); ++i) {
    v1::CreateLeadResponse response;
    failed = leads_->CreateLead(Ctx(worker).get(), Lead(i), &response);
    if (failed.ok()) acknowledged.push_back(response.lead_id());
  }
  ASSERT_FALSE(failed.ok()) << "the filesystem never filled";
  EXPECT_NE(failed.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_FALSE(absl::StrContains(failed.error_message(), DataDir())) << failed.error_message();
  EXPECT_TRUE(AwaitHealth(HealthCheckResponse::NOT_SERVING));
  EXPECT_EQ(::kill(daemon->pid(), 0), 0) << "the daemon died on a full disk";

  // Space returns: the daemon recovers by itself (within about a second).
  ASSERT_EQ(::unlink(Filler().c_str()), 0);
  ASSERT_TRUE(AwaitHealth(HealthCheckResponse::SERVING)) << daemon->err();
  EXPECT_FALSE(CreateLead(worker, Lead(999999)).empty());
  for (const std::string& id : acknowledged) ASSERT_TRUE(GetLead(worker, id, nullptr).ok()) << id;

  // Full again, and stopped while the error is held: a clean stop, nothing lost.
  Fill(0);
  for (int i = 0; i < 50000; ++i) {
    v1::CreateLeadResponse response;
    std::string key = absl::StrCat("again-", i);
    if (!leads_->CreateLead(Ctx(worker).get(), SimpleLead(key, key + "@example.com"), &response)
             .ok()) {
      break;
    }
    acknowledged.push_back(response.lead_id());
  }
  EXPECT_EQ(Stop(*daemon), 0) << daemon->err();
  ASSERT_EQ(::unlink(Filler().c_str()), 0);
  daemon = Start("b", {"--min-free-mb", "0"});
  ASSERT_FALSE(address_.empty()) << daemon->err();
  for (const std::string& id : acknowledged) ASSERT_TRUE(GetLead(worker, id, nullptr).ok()) << id;
  EXPECT_EQ(Stop(*daemon), 0);
}

}  // namespace
}  // namespace leadvault::e2e
