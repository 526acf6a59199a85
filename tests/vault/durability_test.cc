// Storage faults the vault must survive without serving a lie: a log that lost
// its tail or was replaced (the audit high-water mark), a checkpoint that could
// not be recorded, and a disk that is nearly full.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "audit/checkpoint.h"
#include "gtest/gtest.h"
#include "tests/testing/fault_fs.h"
#include "tests/vault/vault_fixture.h"
#include "vault/funnel_report.h"

namespace leadvault::vault::testing {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Actor Officer() { return MakeActor("00000000000000e1", "compliance"); }

class DurabilityTest : public VaultFixture {
 protected:
  void SetUp() override {
    // Beside the database, as the daemon keeps it: a restored database
    // directory cannot bring an old mark along.
    high_water_file_ = Mark();
    OpenOrDie();
  }

  std::string Mark() const { return dir_.path() + "/mark"; }

  void CommitEntries(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(vault_->committer()
                      .Commit(rocksdb::WriteBatch(), EntryFor(CaptureActor(), "Probe"))
                      .ok());
    }
  }

  // The vault closed, a copy of its database directory at `to`.
  void CopyDatabase(const std::string& to) {
    vault_.reset();
    fs::remove_all(to);
    fs::copy(DataDir(), to, fs::copy_options::recursive);
  }
  void RestoreDatabase(const std::string& from) {
    vault_.reset();
    fs::remove_all(DataDir());
    fs::copy(from, DataDir(), fs::copy_options::recursive);
  }

  SignedCheckpoint Served() {
    auto checkpoint = vault_->audit().GetCheckpoint(Officer());
    EXPECT_TRUE(checkpoint.ok()) << checkpoint.status();
    return checkpoint.ok() ? *checkpoint : SignedCheckpoint{};
  }
};

TEST_F(DurabilityTest, EveryServedCheckpointIsInTheMarkFirst) {
  CommitEntries(3);
  SignedCheckpoint served = Served();
  EXPECT_EQ(ReadFile(Mark()), served.note);
  CommitEntries(2);
  served = Served();
  EXPECT_EQ(ReadFile(Mark()), served.note);
  // A clean stop signs the rest, and the mark follows.
  CommitEntries(2);
  vault_.reset();
  OpenOrDie();
  EXPECT_EQ(ReadFile(Mark()), vault_->audit_log().LatestCheckpoint()->note);
}

TEST_F(DurabilityTest, ALogShorterThanTheServedCheckpointIsRefusedNamingBothSizes) {
  CommitEntries(3);
  const std::string snapshot = dir_.path() + "/snapshot";
  CopyDatabase(snapshot);
  OpenOrDie();
  const uint64_t restored_size = vault_->audit_log().size();
  CommitEntries(5);
  const SignedCheckpoint served = Served();
  vault_.reset();
  const std::string mark = ReadFile(Mark());

  // A bad restore (or a disk that lost the WAL's tail): the log is older than
  // what was served. Before the mark, this opened and signed a fork.
  RestoreDatabase(snapshot);
  auto refused = OpenVault(TestKek(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsDataLoss(refused.status())) << refused.status();
  const std::string message(refused.status().message());
  EXPECT_NE(message.find(absl::StrCat("holds ", restored_size, " entries")), std::string::npos)
      << message;
  EXPECT_NE(message.find("high-water mark"), std::string::npos) << message;
  EXPECT_NE(message.find("--recover-lost-log-tail"), std::string::npos) << message;
  // Nothing was appended or signed by the refused start.
  EXPECT_EQ(ReadFile(Mark()), mark);
  {
    auto check = Database::OpenReadOnly(DataDir());
    ASSERT_TRUE(check.ok());
    std::unique_ptr<rocksdb::Iterator> it(
        (*check)->db()->NewIterator(rocksdb::ReadOptions(), (*check)->cf(Cf::kAudit)));
    it->SeekToLast();
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(internal::DecodeSequenceKey(it->key().ToString()), restored_size);
  }
  EXPECT_NE(message.find(absl::StrCat("checkpoint of ", served.checkpoint.size, " entries")),
            std::string::npos)
      << message;

  // The operator accepts the loss: recorded in the log, and a new mark.
  recover_lost_log_tail_ = true;
  OpenOrDie();
  ASSERT_TRUE(vault_->log_recovery().has_value());
  EXPECT_TRUE(vault_->log_recovery()->found.lost);
  EXPECT_EQ(vault_->log_recovery()->found.high_water_size, served.checkpoint.size);
  EXPECT_EQ(vault_->log_recovery()->found.log_size, restored_size);
  auto entries = ReadAudit(*vault_);
  ASSERT_EQ(entries.back().first, vault_->log_recovery()->sequence);
  EXPECT_EQ(entries.back().second.action, "RecoverLostLogTail");
  EXPECT_EQ(entries.back().second.fields,
            (std::vector<std::string>{absl::StrCat("high_water_size=", served.checkpoint.size),
                                      absl::StrCat("log_size=", restored_size), "loss=found"}));
  ASSERT_TRUE(vault_->audit_log().LatestCheckpoint().has_value());
  EXPECT_EQ(vault_->audit_log().LatestCheckpoint()->checkpoint.size, restored_size + 1);
  EXPECT_EQ(ReadFile(Mark()), vault_->audit_log().LatestCheckpoint()->note);
  // From here on a plain start agrees with the mark.
  recover_lost_log_tail_ = false;
  Reopen();
}

TEST_F(DurabilityTest, ALogReplacedByAnotherOfTheSameLengthIsRefused) {
  CommitEntries(2);
  const std::string snapshot = dir_.path() + "/snapshot";
  CopyDatabase(snapshot);
  OpenOrDie();
  CommitEntries(3);
  const SignedCheckpoint served = Served();
  vault_.reset();
  const std::string mark = ReadFile(Mark());

  // Another history grown from the snapshot, longer than the served one,
  // kept under another mark.
  RestoreDatabase(snapshot);
  high_water_file_ = dir_.path() + "/other-mark";
  OpenOrDie();
  CommitEntries(9);
  ASSERT_GT(vault_->audit_log().size(), served.checkpoint.size);
  vault_.reset();

  high_water_file_ = Mark();
  auto refused = OpenVault(TestKek(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsDataLoss(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find(
                absl::StrCat("first ", served.checkpoint.size, " entries do not match")),
            absl::string_view::npos)
      << refused.status();
  EXPECT_EQ(ReadFile(Mark()), mark);
}

TEST_F(DurabilityTest, AMarkNotSignedByThisVaultIsRefused) {
  CommitEntries(2);
  Served();
  vault_.reset();
  std::string note = ReadFile(Mark());
  // Another size under the same (now broken) signature.
  size_t line = note.find('\n');
  note.replace(line + 1, note.find('\n', line + 1) - line - 1, "1");
  std::ofstream(Mark(), std::ios::binary | std::ios::trunc) << note;
  auto refused = OpenVault(TestKek(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsDataLoss(refused.status())) << refused.status();
}

TEST_F(DurabilityTest, ACheckpointIsServedOnlyOnceTheMarkHoldsIt) {
  CommitEntries(2);
  const SignedCheckpoint before = Served();
  // The mark cannot be replaced (its temporary name is taken by a directory).
  ASSERT_EQ(::mkdir((Mark() + ".tmp").c_str(), 0700), 0);
  CommitEntries(1);  // entries still commit
  auto refused = vault_->audit().GetCheckpoint(Officer());
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  EXPECT_EQ(refused.status().message().find(dir_.path()), absl::string_view::npos);
  EXPECT_EQ(vault_->audit_log().LatestCheckpoint()->note, before.note);
  EXPECT_EQ(ReadFile(Mark()), before.note);
  // Once the mark can be written again, checkpoints are served again.
  ASSERT_EQ(::rmdir((Mark() + ".tmp").c_str()), 0);
  const SignedCheckpoint after = Served();
  EXPECT_GT(after.checkpoint.size, before.checkpoint.size);
  EXPECT_EQ(ReadFile(Mark()), after.note);
}

TEST_F(DurabilityTest, ANearlyFullDiskRefusesChangesThenReadsAndRecoversWithSpace) {
  std::atomic<uint64_t> free{1u << 30};
  free_space_ = [&free]() -> std::optional<uint64_t> { return free.load(); };
  min_free_bytes_ = 1000;
  Reopen();
  auto created =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(EmailOnlyInput(1), "ortho", "k1"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(vault_->StorageHealth().ok());

  // Below the headroom: no change is written, but reads (audit entries only) still are.
  free = 999;
  const auto state = DumpState(*vault_);
  const uint64_t size = vault_->audit_log().size();
  auto refused =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(EmailOnlyInput(2), "ortho", "k2"));
  EXPECT_TRUE(absl::IsResourceExhausted(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("storage nearly full"), absl::string_view::npos);
  EXPECT_EQ(DumpState(*vault_), state);
  EXPECT_EQ(vault_->audit_log().size(), size);
  EXPECT_TRUE(absl::IsResourceExhausted(vault_->StorageHealth()));
  auto read = vault_->leads().GetLead(IntakeActor(), created->lead_id);
  EXPECT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(vault_->audit_log().size(), size + 1);
  // A funnel report is a read too (its catch-up of the logged lead change
  // writes nothing).
  FunnelQuery weeks;
  weeks.from = clock_.Now() - absl::Hours(24 * 7);
  weeks.to = clock_.Now() + absl::Hours(24 * 7);
  const Actor analyst = MakeActor("00000000000000e2", "analyst");
  auto report = vault_->funnel().GetFunnelMetrics(analyst, weeks);
  EXPECT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(vault_->audit_log().size(), size + 2);

  // Below half of it nothing is written at all, reads included (fail closed).
  free = 499;
  auto unread = vault_->leads().GetLead(IntakeActor(), created->lead_id);
  EXPECT_TRUE(absl::IsResourceExhausted(unread.status())) << unread.status();
  EXPECT_TRUE(
      absl::IsResourceExhausted(vault_->funnel().GetFunnelMetrics(analyst, weeks).status()));
  EXPECT_EQ(vault_->audit_log().size(), size + 2);

  // Space is back: everything works without a restart.
  free = 1000;
  EXPECT_TRUE(vault_->StorageHealth().ok());
  auto again =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(EmailOnlyInput(2), "ortho", "k2"));
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST_F(DurabilityTest, AWriteErrorTurnsHealthAwayAndTheVaultRecoversWithoutARestart) {
  ::leadvault::testing::FaultEnv faults;  // outlives the vault: closed at the end
  env_ = faults.env();
  Reopen();
  auto first =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(EmailOnlyInput(1), "ortho", "k1"));
  ASSERT_TRUE(first.ok()) << first.status();

  // The disk fills behind the headroom check's back (another process took
  // the space): RocksDB fails the write and holds a background error.
  faults.fs().SetNoSpace(true);
  const uint64_t size = vault_->audit_log().size();
  auto failed =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(EmailOnlyInput(2), "ortho", "k2"));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().message().find(dir_.path()), absl::string_view::npos)
      << failed.status();
  EXPECT_TRUE(vault_->database().HasBackgroundError());
  EXPECT_TRUE(absl::IsUnavailable(vault_->StorageHealth())) << vault_->StorageHealth();
  EXPECT_EQ(vault_->audit_log().size(), size);

  auto still_failing =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(EmailOnlyInput(2), "ortho", "k2"));
  EXPECT_FALSE(still_failing.ok());
  // Space returns: the next commit finds the error cleared first, no restart.
  faults.fs().SetNoSpace(false);
  auto second =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(EmailOnlyInput(2), "ortho", "k2"));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(vault_->database().HasBackgroundError());
  EXPECT_TRUE(vault_->StorageHealth().ok());

  // A stop while the error is held is clean, and loses nothing acknowledged.
  faults.fs().SetNoSpace(true);
  EXPECT_FALSE(vault_->leads()
                   .CreateLead(CaptureActor(), MakeNewLead(EmailOnlyInput(3), "ortho", "k3"))
                   .ok());
  EXPECT_TRUE(vault_->database().HasBackgroundError());
  vault_.reset();
  faults.fs().SetNoSpace(false);
  OpenOrDie();
  EXPECT_TRUE(vault_->leads().GetLead(IntakeActor(), first->lead_id).ok());
  EXPECT_TRUE(vault_->leads().GetLead(IntakeActor(), second->lead_id).ok());
  vault_.reset();
}

// A failed fsync may have lost the dirty pages it was to write (the kernel
// drops them), so RocksDB treats it as fatal: the vault refuses writes and
// reports it in health until restarted, and the restart replays the WAL into a
// consistent log. A retry with the same idempotency key then finds one lead.
TEST_F(DurabilityTest, AFailedFsyncStopsWritesUntilARestartWhichLosesNothingAcknowledged) {
  ::leadvault::testing::FaultEnv faults;
  env_ = faults.env();
  Reopen();
  auto first =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(EmailOnlyInput(1), "ortho", "k1"));
  ASSERT_TRUE(first.ok()) << first.status();
  faults.fs().SetFailSync(true);
  const uint64_t size = vault_->audit_log().size();
  auto failed =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(EmailOnlyInput(2), "ortho", "k2"));
  EXPECT_TRUE(absl::IsUnavailable(failed.status())) << failed.status();
  EXPECT_EQ(vault_->audit_log().size(), size);
  EXPECT_TRUE(absl::IsUnavailable(vault_->StorageHealth())) << vault_->StorageHealth();
  faults.fs().SetFailSync(false);
  EXPECT_FALSE(vault_->leads()
                   .CreateLead(CaptureActor(), MakeNewLead(EmailOnlyInput(3), "ortho", "k3"))
                   .ok());
  EXPECT_FALSE(vault_->StorageHealth().ok());

  vault_.reset();  // a clean stop, with the error held
  OpenOrDie();
  EXPECT_TRUE(vault_->StorageHealth().ok());
  EXPECT_TRUE(vault_->leads().GetLead(IntakeActor(), first->lead_id).ok());
  // The sequence has no gap and no repeat, whatever the failed group left.
  auto entries = ReadAudit(*vault_);
  for (size_t i = 0; i < entries.size(); ++i) EXPECT_EQ(entries[i].first, i + 1);
  auto retried =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(EmailOnlyInput(2), "ortho", "k2"));
  ASSERT_TRUE(retried.ok()) << retried.status();
  auto again =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(EmailOnlyInput(2), "ortho", "k2"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->lead_id, retried->lead_id);
  vault_.reset();
}

}  // namespace
}  // namespace leadvault::vault::testing
