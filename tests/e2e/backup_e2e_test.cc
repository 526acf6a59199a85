// Backups end to end: a backup taken while leads are being written restores
// to a consistent database (`leadvaultctl check`), a restore is refused while
// the daemon runs, and the restart after it purges again what was purged
// since the backup; without the audit journal the daemon refuses to start
// unless told to accept that.
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/testing/rpc_error_check.h"

#ifndef LEADVAULTCTL_PATH
#error "LEADVAULTCTL_PATH must be defined by the build"
#endif

namespace leadvault::e2e {
namespace {

class BackupE2eTest : public E2eTest {
 protected:
  int Ctl(const std::string& who, std::vector<std::string> args, std::string* out,
          std::string* err) {
    if (!who.empty()) {
      args.insert(args.begin(), {"--server", address_, "--token-file", Path(who + ".token")});
    }
    return RunProgram(LEADVAULTCTL_PATH, args, Path(absl::StrCat("ctl", ++runs_)), out, err);
  }
  std::string Backups() const { return Path("backups"); }
  int runs_ = 0;
};

TEST_F(BackupE2eTest, ABackupUnderLoadRestoresConsistentlyAndPurgesStayPurged) {
  ASSERT_EQ(::mkdir(Backups().c_str(), 0700), 0);
  auto daemon = Start("first");
  ASSERT_FALSE(address_.empty());
  const std::string admin = AdminToken("first");
  WriteFileWithMode(Path("admin.token"), admin + "\n", 0600);
  const std::string worker = NewWorker(admin);
  WriteFileWithMode(Path("worker.token"), worker + "\n", 0600);
  WriteFileWithMode(Path("delete.reason"), "Deletion request from the person (CCPA)\n", 0600);
  std::vector<std::string> old;
  for (int n = 0; n < 20; ++n) {
    old.push_back(CreateLead(
        worker, SimpleLead(absl::StrCat("old-", n), absl::StrCat("old", n, "@example.com"))));
  }

  // Writes go on while the backup is taken.
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread load([&] {
    auto channel = testing::CheckedChannel(address_, grpc::InsecureChannelCredentials());
    auto stub = v1::LeadVault::NewStub(channel);
    for (int n = 0; !stop.load(); ++n) {
      v1::CreateLeadResponse response;
      grpc::Status s = stub->CreateLead(
          Ctx(worker).get(),
          SimpleLead(absl::StrCat("load-", n), absl::StrCat("load", n, "@example.com")), &response);
      if (s.ok()) ++written;
    }
  });
  std::string out, err;
  for (int waited = 0; written.load() < 10 && waited < kStartCapMillis; waited += 10) PollPause();
  const int rc = Ctl("admin", {"backup", "create", Backups()}, &out, &err);
  const int during = written.load();
  stop = true;
  load.join();
  ASSERT_EQ(rc, 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "backup 1 created")) << out;
  EXPECT_GT(written.load(), 10) << "the load ran while the backup was taken (" << during << ")";

  // After the backup: two old leads are deleted.
  for (int n : {0, 1}) {
    ASSERT_EQ(Ctl("worker", {"lead", "delete", old[n], "--reason-file", Path("delete.reason")},
                  &out, &err),
              0)
        << err;
  }
  // A restore while the daemon runs is refused, and changes nothing.
  EXPECT_EQ(Ctl("", {"backup", "restore", Backups(), "--data-dir", DataDir()}, &out, &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "stop the daemon first")) << err;
  ASSERT_EQ(Stop(*daemon), 0);

  ASSERT_EQ(Ctl("", {"backup", "list", Backups()}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "AUDIT_SIZE")) << out;
  ASSERT_EQ(Ctl("", {"backup", "verify", Backups()}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "backup 1: every file matches")) << out;
  ASSERT_EQ(Ctl("", {"backup", "restore", Backups(), "--data-dir", DataDir()}, &out, &err), 0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, "backup 1")) << out;
  // The old database waits aside until the replay has succeeded.
  struct stat st;
  EXPECT_EQ(::stat((DataDir() + "/db.before-restore/CURRENT").c_str(), &st), 0);
  // What the backup holds is consistent: no orphan row in any family.
  ASSERT_EQ(Ctl("", {"check", "--data-dir", DataDir()}, &out, &err), 0) << out << err;
  // It holds no master key: with another key the restored data does not open.
  const std::string key = ReadFile(DataDir() + "/master.key");
  ::unlink((DataDir() + "/master.key").c_str());
  WriteFileWithMode(DataDir() + "/master.key", std::string(32, 'k'), 0600);
  std::unique_ptr<Daemon> wrong_key;
  EXPECT_NE(
      RunToExit("wrong-key", {"--data-dir", DataDir(), "--listen", "127.0.0.1:0"}, &wrong_key), 0);
  EXPECT_TRUE(absl::StrContains(wrong_key->err(), "master key does not match this data dir"))
      << wrong_key->err();
  ::unlink((DataDir() + "/master.key").c_str());
  WriteFileWithMode(DataDir() + "/master.key", key, 0600);
  for (const auto& [path, bytes] : Snapshot(Backups())) {
    EXPECT_FALSE(absl::StrContains(bytes, key)) << path;
  }

  daemon = Start("second");
  ASSERT_FALSE(address_.empty());
  EXPECT_TRUE(absl::StrContains(daemon->err(), "2 leads purged again")) << daemon->err();
  EXPECT_NE(::stat((DataDir() + "/db.before-restore").c_str(), &st), 0);
  for (int n : {0, 1}) {
    grpc::Status s = GetLead(worker, old[n], nullptr);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << n;
  }
  for (int n = 2; n < 20; ++n) {
    grpc::Status s = GetLead(worker, old[n], nullptr);
    EXPECT_TRUE(s.ok()) << n << ": " << s.error_message();
  }
  ASSERT_EQ(Stop(*daemon), 0);
  ASSERT_EQ(Ctl("", {"check", "--data-dir", DataDir()}, &out, &err), 0) << out << err;

  // Restored again, with the journal gone: refused unless accepted.
  ASSERT_EQ(Ctl("", {"backup", "restore", Backups(), "--data-dir", DataDir()}, &out, &err), 0)
      << err;
  ASSERT_EQ(::rename((DataDir() + "/audit-journal").c_str(), Path("journal.aside").c_str()), 0);
  std::unique_ptr<Daemon> refused;
  EXPECT_NE(RunToExit("refused", {"--data-dir", DataDir(), "--listen", "127.0.0.1:0"}, &refused),
            0);
  EXPECT_TRUE(absl::StrContains(refused->err(), "audit journal")) << refused->err();
  EXPECT_TRUE(absl::StrContains(refused->err(), "--restore-without-journal")) << refused->err();
  ASSERT_EQ(::rename(Path("journal.aside").c_str(), (DataDir() + "/audit-journal").c_str()), 0);
  daemon = Start("third");
  ASSERT_FALSE(address_.empty());
  EXPECT_EQ(GetLead(worker, old[0], nullptr).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_EQ(Stop(*daemon), 0);
}

// The only admin rotated its token after the backup: the restore ends that
// admin's tokens again (the new one is not in the backup), so the start
// issues a recovery admin token, to the 0600 token file only.
TEST_F(BackupE2eTest, ARestoreThatEndsEveryAdminTokenIssuesARecoveryAdmin) {
  ASSERT_EQ(::mkdir(Backups().c_str(), 0700), 0);
  auto daemon = Start("first");
  ASSERT_FALSE(address_.empty());
  const std::string admin = AdminToken("first");
  WriteFileWithMode(Path("admin.token"), admin + "\n", 0600);
  std::string out, err;
  ASSERT_EQ(Ctl("admin", {"backup", "create", Backups()}, &out, &err), 0) << err;
  v1::RotateTokenRequest rotate;
  rotate.set_principal_id(admin.substr(3, 16));
  v1::RotateTokenResponse rotated;
  grpc::Status s = admin_->RotateToken(Ctx(admin).get(), rotate, &rotated);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(Stop(*daemon), 0);
  ASSERT_EQ(Ctl("", {"backup", "restore", Backups(), "--data-dir", DataDir()}, &out, &err), 0)
      << err;

  daemon = Start("second");
  ASSERT_FALSE(address_.empty());
  EXPECT_TRUE(absl::StrContains(daemon->err(), "issuing a recovery admin")) << daemon->err();
  const std::string recovery = AdminToken("second");
  ASSERT_FALSE(recovery.empty());
  EXPECT_FALSE(absl::StrContains(daemon->err(), recovery.substr(20)));
  v1::ListPrincipalsResponse listed;
  for (const std::string& token : {admin, rotated.token()}) {
    s = admin_->ListPrincipals(Ctx(token).get(), v1::ListPrincipalsRequest(), &listed);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  s = admin_->ListPrincipals(Ctx(recovery).get(), v1::ListPrincipalsRequest(), &listed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(Stop(*daemon), 0);
  // Once there is a usable admin again, a restart issues nothing.
  daemon = Start("third");
  ASSERT_FALSE(address_.empty());
  struct stat st;
  EXPECT_NE(::stat(Path("third.token").c_str(), &st), 0);
  ASSERT_EQ(Stop(*daemon), 0);
}

}  // namespace
}  // namespace leadvault::e2e
