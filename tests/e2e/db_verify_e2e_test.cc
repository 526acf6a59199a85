// Corruption end to end with the real binaries: `leadvaultctl db verify` on a
// clean and on a corrupted data dir, `leadvaultd --verify-on-start` refusing a
// corrupted one, and a corrupted read answered DATA_LOSS with generic text.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "rocksdb/db.h"
#include "rocksdb/table_properties.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/testing/rpc_error_check.h"
#include "vault/database.h"

#ifndef LEADVAULTCTL_PATH
#error "LEADVAULTCTL_PATH must be defined by the build"
#endif

namespace leadvault::e2e {
namespace {

class DbVerifyE2eTest : public E2eTest {
 protected:
  int DbVerify(const std::string& run, std::string* out, std::string* err) {
    return RunProgram(LEADVAULTCTL_PATH, {"db", "verify", "--data-dir", DataDir()}, Path(run), out,
                      err);
  }

  // Flips a bit in the middle of the data blocks of the table file that holds
  // the leads (the daemon stopped); returns the file's base name.
  std::string CorruptLeadsTable() {
    std::string path;
    uint64_t data_size = 0;
    {
      auto db = vault::Database::OpenReadOnly(DataDir() + "/db");
      EXPECT_TRUE(db.ok()) << db.status();
      if (!db.ok()) return "";
      rocksdb::TablePropertiesCollection tables;
      EXPECT_TRUE(
          (*db)->db()->GetPropertiesOfAllTables((*db)->cf(vault::Cf::kLeads), &tables).ok());
      EXPECT_EQ(tables.size(), 1u);
      if (tables.empty()) return "";
      path = tables.begin()->first;
      data_size = tables.begin()->second->data_size;
    }
    int fd = ::open(path.c_str(), O_RDWR);
    EXPECT_GE(fd, 0);
    char byte = 0;
    const off_t offset = static_cast<off_t>(data_size / 2);
    EXPECT_EQ(::pread(fd, &byte, 1, offset), 1);
    byte ^= 0x10;
    EXPECT_EQ(::pwrite(fd, &byte, 1, offset), 1);
    ::close(fd);
    return path.substr(path.rfind('/') + 1);
  }
};

TEST_F(DbVerifyE2eTest, VerifyPassesACleanDataDirAndNamesTheCorruptedFile) {
  std::string lead;
  std::string worker;
  {
    auto daemon = Start("run");
    ASSERT_FALSE(address_.empty());
    worker = NewWorker(AdminToken("run"));
    lead = CreateLead(worker, SimpleLead("k1", "grace@example.com"));
    ASSERT_TRUE(GetLead(worker, lead, nullptr).ok());
    // Read-only beside a running daemon: allowed.
    std::string out, err;
    EXPECT_EQ(DbVerify("live", &out, &err), 0) << out << err;
    EXPECT_TRUE(absl::StrContains(out, "db verify: ok")) << out;
    ASSERT_EQ(Stop(*daemon), 0);  // flushes every memtable into table files
  }
  std::string out, err;
  ASSERT_EQ(DbVerify("clean", &out, &err), 0) << out << err;
  EXPECT_TRUE(absl::StrContains(out, "db verify: ok")) << out;
  EXPECT_FALSE(absl::StrContains(out, " 0 table files")) << out;

  const std::string table = CorruptLeadsTable();
  ASSERT_FALSE(table.empty());
  ASSERT_EQ(DbVerify("corrupt", &out, &err), 1) << out << err;
  EXPECT_TRUE(absl::StrContains(err, "DATA_LOSS")) << err;
  EXPECT_TRUE(absl::StrContains(err, table)) << err;
  EXPECT_TRUE(absl::StrContains(err, "checksum mismatch")) << err;
  EXPECT_FALSE(absl::StrContains(err, DataDir())) << "base name only: " << err;

  // --verify-on-start refuses it before opening for writing.
  std::unique_ptr<Daemon> refused;
  EXPECT_EQ(RunToExit("verify-on-start",
                      {"--data-dir", DataDir(), "--listen", "127.0.0.1:0", "--verify-on-start"},
                      &refused),
            1);
  EXPECT_TRUE(absl::StrContains(refused->err(), "cannot start: DATA_LOSS")) << refused->err();
  EXPECT_TRUE(absl::StrContains(refused->err(), table)) << refused->err();
  EXPECT_TRUE(absl::StrContains(refused->err(), "checksum mismatch")) << refused->err();

  // Without it the block is first read either by a call, answered DATA_LOSS
  // with generic text, or by a background compaction right after the open,
  // which stops RocksDB's writes so the start fails with DATA_LOSS. Either way
  // RocksDB's detail is only in the local log.
  const std::string ready = Path("no-verify.ready");
  auto daemon =
      std::make_unique<Daemon>(std::vector<std::string>{"--data-dir", DataDir(), "--listen",
                                                        "127.0.0.1:0", "--ready-file", ready},
                               Path("no-verify"));
  for (int waited = 0; !Exists(ready) && !daemon->Reap() && waited < kStartCapMillis;
       waited += 10) {
    PollPause();
  }
  if (daemon->Reap()) {
    EXPECT_EQ(daemon->WaitExit(), 1);
    EXPECT_TRUE(absl::StrContains(
        daemon->err(), "cannot start: DATA_LOSS: stored data failed its integrity check"))
        << daemon->err();
  } else {
    address_ = daemon->WaitReady(ready);
    ASSERT_FALSE(address_.empty());
    channel_ = testing::CheckedChannel(address_, grpc::InsecureChannelCredentials());
    leads_ = v1::LeadVault::NewStub(channel_);
    grpc::Status read = GetLead(worker, lead, nullptr);
    EXPECT_EQ(read.error_code(), grpc::StatusCode::DATA_LOSS) << read.error_message();
    EXPECT_EQ(read.error_message(), "stored data failed an integrity check");
    EXPECT_EQ(Stop(*daemon), 0) << daemon->err();
  }
  bool logged = false;
  for (absl::string_view line : absl::StrSplit(daemon->err(), '\n')) {
    if (!absl::StrContains(line, "storage error: ")) continue;
    logged =
        logged || (absl::StrContains(line, "checksum mismatch") && absl::StrContains(line, table));
    EXPECT_FALSE(absl::StrContains(line, "/")) << "base names only: " << line;
  }
  EXPECT_TRUE(logged) << daemon->err();
}

TEST_F(DbVerifyE2eTest, VerifyOnStartServesACleanDataDirAndANewOne) {
  {
    auto daemon = Start("new", {"--verify-on-start"});  // nothing to verify yet
    ASSERT_FALSE(address_.empty());
    std::string worker = NewWorker(AdminToken("new"));
    CreateLead(worker, SimpleLead("k1", "grace@example.com"));
    ASSERT_EQ(Stop(*daemon), 0);
  }
  auto daemon = Start("again", {"--verify-on-start"});
  ASSERT_FALSE(address_.empty());
  EXPECT_TRUE(absl::StrContains(daemon->err(), "--verify-on-start: ")) << daemon->err();
  EXPECT_TRUE(absl::StrContains(daemon->err(), "match their block checksums")) << daemon->err();
  EXPECT_EQ(Stop(*daemon), 0);
}

}  // namespace
}  // namespace leadvault::e2e
