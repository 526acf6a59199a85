// `leadvaultctl check` and the daemon's start-up check of the disclosure
// index with the real binaries, on a clean and on a tampered data dir.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "rocksdb/db.h"
#include "tests/e2e/e2e_fixture.h"
#include "vault/database.h"

#ifndef LEADVAULTCTL_PATH
#error "LEADVAULTCTL_PATH must be defined by the build"
#endif

namespace leadvault::e2e {
namespace {

class CheckE2eTest : public E2eTest {
 protected:
  int Check(const std::string& run, std::string* out, std::string* err) {
    return RunProgram(LEADVAULTCTL_PATH, {"check", "--data-dir", DataDir()}, Path(run), out, err);
  }

  // Every key of the audit_lead column family (the daemon stopped).
  std::vector<std::string> IndexRows() {
    std::vector<std::string> rows;
    auto db = vault::Database::OpenReadOnly(DataDir() + "/db");
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return rows;
    std::unique_ptr<rocksdb::Iterator> it(
        (*db)->db()->NewIterator(rocksdb::ReadOptions(), (*db)->cf(vault::Cf::kAuditLead)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) rows.push_back(it->key().ToString());
    return rows;
  }

  // Deletes one index row as an intruder with the data dir would.
  void DeleteRow(const std::string& key) {
    auto db = vault::Database::Open(DataDir() + "/db", vault::DatabaseOptions());
    ASSERT_TRUE(db.ok()) << db.status();
    rocksdb::WriteOptions options;
    options.sync = true;
    ASSERT_TRUE((*db)->db()->Delete(options, (*db)->cf(vault::Cf::kAuditLead), key).ok());
  }
};

TEST_F(CheckE2eTest, CheckPassesOnACleanDataDirAndNamesTheEntryOfADeletedRow) {
  std::string lead;
  {
    auto daemon = Start("run");
    ASSERT_FALSE(address_.empty());
    std::string worker = NewWorker(AdminToken("run"));
    lead = CreateLead(worker, SimpleLead("k1", "grace@example.com"));
    ASSERT_TRUE(GetLead(worker, lead, nullptr).ok());
    ASSERT_TRUE(GetLead(worker, lead, nullptr).ok());
    // Read-only beside a running daemon: allowed, and sees what was committed.
    std::string out, err;
    EXPECT_EQ(Check("live", &out, &err), 0) << out << err;
    EXPECT_TRUE(absl::StrContains(out, "disclosures: 2")) << out;
    ASSERT_EQ(Stop(*daemon), 0);
  }
  std::string out, err;
  ASSERT_EQ(Check("clean", &out, &err), 0) << out << err;
  EXPECT_TRUE(absl::StrContains(out, "disclosures: 2\n")) << out;
  EXPECT_TRUE(absl::StrContains(out, "index rows: 2 (the log calls for 2)")) << out;
  EXPECT_TRUE(absl::StrContains(out, "disclosure index: ok")) << out;
  EXPECT_TRUE(absl::StrContains(out, "leads: 1, receipts: 0")) << out;
  EXPECT_TRUE(absl::StrContains(out, "lead rows: ok")) << out;

  // The first read's row, deleted offline: the accounting would have listed one read.
  std::vector<std::string> rows = IndexRows();
  ASSERT_EQ(rows.size(), 2u);
  uint64_t first_read = 0;  // the row's sequence: its last 8 bytes, big-endian
  for (unsigned char c : rows[0].substr(16)) first_read = (first_read << 8) | c;
  DeleteRow(rows[0]);
  ASSERT_EQ(Check("tampered", &out, &err), 1) << out << err;
  EXPECT_TRUE(absl::StrContains(out, "disclosure index: MISMATCH (1 rows missing")) << out;
  EXPECT_TRUE(absl::StrContains(err, "DATA_LOSS")) << err;
  EXPECT_TRUE(absl::StrContains(err, absl::StrCat("entry ", first_read, " has no index row")))
      << err;
  EXPECT_FALSE(absl::StrContains(out + err, lead)) << "no lead id in the report";

  // The daemon refuses to start on it, the same way ...
  std::unique_ptr<Daemon> refused;
  EXPECT_EQ(RunToExit("refused",
                      {"--data-dir", DataDir(), "--listen", "127.0.0.1:0", "--ready-file",
                       Path("refused.ready")},
                      &refused),
            1);
  EXPECT_TRUE(absl::StrContains(refused->err(), "DATA_LOSS")) << refused->err();
  EXPECT_TRUE(
      absl::StrContains(refused->err(), absl::StrCat("entry ", first_read, " has no index row")))
      << refused->err();
  EXPECT_FALSE(Exists(Path("refused.ready")));

  // ... until an operator asks for the audited rebuild.
  {
    auto daemon = Start("repair", {"--rebuild-disclosure-index"});
    ASSERT_FALSE(address_.empty());
    EXPECT_TRUE(absl::StrContains(daemon->err(), "RebuildDisclosureIndex")) << daemon->err();
    ASSERT_EQ(Stop(*daemon), 0);
  }
  ASSERT_EQ(Check("repaired", &out, &err), 0) << out << err;
  EXPECT_TRUE(absl::StrContains(out, "index rows: 2 (the log calls for 2)")) << out;
}

TEST_F(CheckE2eTest, CheckRefusesADirWithoutADatabase) {
  std::string out, err;
  EXPECT_EQ(Check("empty", &out, &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "NOT_FOUND")) << err;
}

}  // namespace
}  // namespace leadvault::e2e
