// A kill -9 in the middle of a retention sweep: after the restart every lead
// is whole or gone (no orphan or missing row in any family), each purge that
// landed has its audit entry and each entry its purge, the log has no gap, and
// the next sweep finishes the job.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/vault/vault_fixture.h"
#include "vault/lead_rows_check.h"
#include "vault/retention_sweep.h"

namespace leadvault::vault::testing {
namespace {

constexpr int kLeads = 10000;
constexpr uint64_t kKillAfter = 3000;  // purges reported before the kill

class RetentionCrashTest : public VaultFixture {};

TEST_F(RetentionCrashTest, AKillDuringASweepLeavesEveryLeadWholeOrGoneAndTheNextSweepFinishes) {
  OpenOrDie();
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&] {
      for (int n = next++; n < kLeads && !failed; n = next++) {
        LeadInput in;
        in.email = absl::StrCat("crash.", n, "@example.org");
        in.phone = absl::StrCat("+1617", 5000000 + n);
        if (!vault_->leads()
                 .CreateLead(CaptureActor(), MakeNewLead(in, "ortho", absl::StrCat("c-", n)))
                 .ok()) {
          failed = true;
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_FALSE(failed);
  vault_.reset();
  clock_.Advance(absl::Hours(24 * 366));

  // The sweep runs in a child process, which reports each batch's progress
  // down one pipe and waits for a go-ahead on another before the next. Once
  // it has purged kKillAfter leads it gets one last go-ahead and is killed at
  // once: in the middle of that batch, or just after it, never at the end.
  int progress[2];
  int go[2];
  ASSERT_EQ(::pipe(progress), 0);
  ASSERT_EQ(::pipe(go), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(progress[0]);
    ::close(go[1]);
    absl::StatusOr<std::unique_ptr<Vault>> v = OpenVault(TestKek(1));
    if (!v.ok()) ::_exit(2);
    SweepOptions options;
    options.batch_size = 64;
    (void)(*v)->retention().Sweep(
        MakeActor("00000000000000e1", "retention"), options, [&](const SweepReport& r) {
          const uint64_t purged = r.purged;
          char ack = 0;
          if (::write(progress[1], &purged, sizeof(purged)) < 0 || ::read(go[0], &ack, 1) != 1) {
            ::_exit(3);
          }
        });
    ::_exit(0);
  }
  ::close(progress[1]);
  ::close(go[0]);
  uint64_t reported = 0;
  while (true) {
    uint64_t purged = 0;
    ASSERT_EQ(::read(progress[0], &purged, sizeof(purged)), static_cast<ssize_t>(sizeof(purged)))
        << "the sweep ended before " << kKillAfter << " purges";
    reported = purged;
    ASSERT_EQ(::write(go[1], "g", 1), 1);
    if (reported >= kKillAfter) break;
  }
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ::close(progress[0]);
  ::close(go[1]);
  ASSERT_TRUE(WIFSIGNALED(status));

  // Whole or gone: nothing missing, no orphan.
  OpenOrDie();
  absl::StatusOr<LeadRowsReport> check = CheckLeadRows(vault_->database());
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->result.ok()) << check->result;
  EXPECT_EQ(check->missing, 0u);
  EXPECT_EQ(check->orphans, 0u);
  const uint64_t left = CountKeys(*vault_, Cf::kLeads);
  EXPECT_LE(left, kLeads - reported);
  EXPECT_GE(left, kLeads - reported - 64);  // at most the one batch let go

  // Each purge that landed has its entry and each entry its purge; no gap.
  std::set<std::string> purged_ids;
  uint64_t expected = 1;
  for (const auto& [seq, entry] : ReadAudit(*vault_)) {
    EXPECT_EQ(seq, expected++);
    if (entry.action == "RetentionPurge") {
      ASSERT_EQ(entry.lead_ids.size(), 1u);
      purged_ids.insert(entry.lead_ids[0]);
    }
  }
  EXPECT_EQ(purged_ids.size(), kLeads - left);
  for (const auto& [id, record] : ReadCf(*vault_, Cf::kLeads)) {
    EXPECT_EQ(purged_ids.count(EncodeLeadId(id)), 0u);
  }

  // The next sweep purges the rest.
  absl::StatusOr<SweepReport> rest =
      vault_->retention().Sweep(MakeActor("00000000000000e1", "retention"), SweepOptions{});
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(rest->purged, left);
  EXPECT_EQ(CountKeys(*vault_, Cf::kLeads), 0u);
  check = CheckLeadRows(vault_->database());
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->result.ok()) << check->result;
}

}  // namespace
}  // namespace leadvault::vault::testing
