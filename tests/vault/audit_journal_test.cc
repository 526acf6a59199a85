// The audit journal: its framing survives a torn append, it refuses what is
// not its own, and the committer keeps it equal to the audit log (catching up
// after a loss), with every purge followed by a checkpoint.
#include "vault/audit_journal.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/vault/vault_fixture.h"

namespace leadvault::vault::testing {
namespace {

struct Contents {
  std::vector<AuditJournal::Entry> entries;
  std::vector<std::string> notes;
  std::vector<char> order;  // 'E' or 'C' per record
};

Contents Read(const std::string& path) {
  Contents c;
  absl::StatusOr<std::unique_ptr<AuditJournal>> j = AuditJournal::Open(path);
  EXPECT_TRUE(j.ok()) << j.status();
  if (!j.ok()) return c;
  EXPECT_TRUE((*j)->Scan(
                      [&](const AuditJournal::Entry& e) {
                        c.entries.push_back(e);
                        c.order.push_back('E');
                        return true;
                      },
                      [&](absl::string_view note) {
                        c.notes.emplace_back(note);
                        c.order.push_back('C');
                        return true;
                      })
                  .ok());
  return c;
}

class AuditJournalTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.path() + "/journal"; }
  ::leadvault::testing::ScratchDir dir_;
};

TEST_F(AuditJournalTest, AppendsReadBackAndATornTailIsCutAtOpen) {
  {
    absl::StatusOr<std::unique_ptr<AuditJournal>> j = AuditJournal::Open(Path());
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_EQ((*j)->last_sequence(), 0u);
    ASSERT_TRUE((*j)->Append("leadvault/00", {{1, "one"}, {2, "two"}}, "note-2", true).ok());
    ASSERT_TRUE((*j)->Append("leadvault/00", {{3, "three"}}, "", true).ok());
    EXPECT_EQ((*j)->Append("leadvault/00", {{5, "five"}}, "", true).code(),
              absl::StatusCode::kInternal);  // a gap
    EXPECT_EQ((*j)->Append("leadvault/ff", {{4, "four"}}, "", true).code(),
              absl::StatusCode::kFailedPrecondition);  // another log's
  }
  struct stat st;
  ASSERT_EQ(::stat(Path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const off_t whole = st.st_size;
  {
    // A torn append: half a record more.
    std::ofstream out(Path(), std::ios::binary | std::ios::app);
    out << std::string(
        "\x40\x00\x00\x00"
        "Epartial",
        12);
  }
  absl::StatusOr<std::unique_ptr<AuditJournal>> j = AuditJournal::Open(Path());
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)->origin(), "leadvault/00");
  EXPECT_EQ((*j)->last_sequence(), 3u);
  ASSERT_EQ(::stat(Path().c_str(), &st), 0);
  EXPECT_EQ(st.st_size, whole);
  Contents c = Read(Path());
  ASSERT_EQ(c.entries.size(), 3u);
  EXPECT_EQ(c.entries[2].canonical, "three");
  EXPECT_EQ(c.notes, (std::vector<std::string>{"note-2"}));
  EXPECT_EQ(c.order, (std::vector<char>{'E', 'E', 'C', 'E'}));

  ASSERT_TRUE((*j)->TruncateAfter(1).ok());
  EXPECT_EQ((*j)->last_sequence(), 1u);
  ASSERT_TRUE((*j)->Append("leadvault/00", {{2, "two again"}}, "", true).ok());
  c = Read(Path());
  ASSERT_EQ(c.entries.size(), 2u);
  EXPECT_EQ(c.entries[1].canonical, "two again");
}

// Damage before the end is not a torn append: nothing is cut, DATA_LOSS.
TEST_F(AuditJournalTest, ADamagedRecordBeforeTheEndIsDataLossAndNothingIsCut) {
  {
    absl::StatusOr<std::unique_ptr<AuditJournal>> j = AuditJournal::Open(Path());
    ASSERT_TRUE(j.ok()) << j.status();
    ASSERT_TRUE((*j)->Append("leadvault/00", {{1, "entry-one"}, {2, "entry-two"}}, "", true).ok());
    ASSERT_TRUE((*j)->Append("leadvault/00", {{3, "entry-three"}}, "", true).ok());
  }
  std::string bytes;
  {
    std::ifstream in(Path(), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const size_t at = bytes.find("entry-two");
  ASSERT_NE(at, std::string::npos);
  bytes[at] ^= 0x01;
  bytes.append("\x40\x00", 2);  // and a torn append after it
  {
    std::ofstream out(Path(), std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  EXPECT_EQ(AuditJournal::Open(Path()).status().code(), absl::StatusCode::kDataLoss);
  struct stat st;
  ASSERT_EQ(::stat(Path().c_str(), &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), bytes.size());
}

// A group's append can be cut back whole; what lies beyond a sequence is
// told apart: one interrupted group, or more (a log that lost its tail).
TEST_F(AuditJournalTest, RewindTruncateAndTheLastGroup) {
  absl::StatusOr<std::unique_ptr<AuditJournal>> j = AuditJournal::Open(Path());
  ASSERT_TRUE(j.ok()) << j.status();
  auto& journal = **j;
  ASSERT_TRUE(journal.Append("leadvault/00", {{1, "one"}, {2, "two"}}, "note-2", true, 1).ok());
  const AuditJournal::Mark mark = journal.mark();
  EXPECT_TRUE(*journal.OnlyLastGroupAfter(0));   // one group: 1..2
  EXPECT_TRUE(*journal.OnlyLastGroupAfter(2));   // nothing beyond
  EXPECT_FALSE(*journal.OnlyLastGroupAfter(1));  // 2 is not a group's first
  ASSERT_TRUE(journal.Append("leadvault/00", {{3, "three"}, {4, "four"}}, "note-4", true, 3).ok());
  EXPECT_TRUE(*journal.OnlyLastGroupAfter(2));
  EXPECT_FALSE(*journal.OnlyLastGroupAfter(0));  // two groups beyond 0
  EXPECT_FALSE(*journal.OnlyLastGroupAfter(3));

  ASSERT_TRUE(journal.Rewind(mark).ok());
  EXPECT_EQ(journal.last_sequence(), 2u);
  Contents c = Read(Path());
  EXPECT_EQ(c.order, (std::vector<char>{'E', 'E', 'C'}));
  // Catch-up entries (no group mark) before a group: only the group counts.
  ASSERT_TRUE(
      journal.Append("leadvault/00", {{3, "three"}, {4, "four"}, {5, "five"}}, "note-5", true, 4)
          .ok());
  EXPECT_TRUE(*journal.OnlyLastGroupAfter(3));
  EXPECT_FALSE(*journal.OnlyLastGroupAfter(2));
  // TruncateAfter cuts from the end back: the checkpoint after 2 stays.
  ASSERT_TRUE(journal.TruncateAfter(2).ok());
  EXPECT_EQ(journal.last_sequence(), 2u);
  c = Read(Path());
  EXPECT_EQ(c.order, (std::vector<char>{'E', 'E', 'C'}));
  EXPECT_EQ(c.notes, (std::vector<std::string>{"note-2"}));
  ASSERT_TRUE(journal.TruncateAfter(0).ok());  // the origin stays
  EXPECT_EQ(journal.last_sequence(), 0u);
  EXPECT_EQ(journal.origin(), "leadvault/00");
  ASSERT_TRUE(journal.Append("leadvault/00", {{1, "one again"}}, "", true, 1).ok());
  c = Read(Path());
  ASSERT_EQ(c.entries.size(), 1u);
  EXPECT_EQ(c.entries[0].canonical, "one again");
}

TEST_F(AuditJournalTest, RefusesSymlinksAndFilesThatAreNotJournals) {
  ASSERT_EQ(::symlink("/etc/passwd", Path().c_str()), 0);
  EXPECT_EQ(AuditJournal::Open(Path()).status().code(), absl::StatusCode::kFailedPrecondition);
  ::unlink(Path().c_str());
  {
    std::ofstream out(Path(), std::ios::binary);
    out << "not a journal at all, just some text";
  }
  EXPECT_EQ(AuditJournal::Open(Path()).status().code(), absl::StatusCode::kDataLoss);
}

class JournalCommitterTest : public VaultFixture {
 protected:
  void SetUp() override {
    audit_journal_file_ = dir_.path() + "/audit-journal";
    OpenOrDie();
  }
};

TEST_F(JournalCommitterTest, TheJournalHoldsTheLogAndEveryPurgeIsCheckpointed) {
  const std::string id =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k-1"))->lead_id;
  ASSERT_TRUE(vault_->leads()
                  .DeleteLead(MakeActor("00000000000000f1", "compliance"), id,
                              "Deletion request from the person")
                  .ok());
  vault_.reset();  // a clean stop signs what is unsigned
  const auto log = [&] {
    OpenOrDie();
    auto entries = ReadAudit(*vault_);
    vault_.reset();
    return entries;
  }();
  Contents c = Read(audit_journal_file_);
  // Opening the vault again added nothing before the read above was taken.
  ASSERT_GE(log.size(), c.entries.size());
  ASSERT_FALSE(c.entries.empty());
  for (size_t i = 0; i < c.entries.size(); ++i) {
    EXPECT_EQ(c.entries[i].sequence, i + 1);
    EXPECT_EQ(c.entries[i].canonical, audit::EncodeCanonical(log[i].second)) << i;
  }
  // The DeleteLead entry is followed by a checkpoint.
  size_t entry = 0;
  for (size_t r = 0; r < c.order.size(); ++r) {
    if (c.order[r] != 'E') continue;
    if (log[entry].second.action == "DeleteLead") {
      ASSERT_LT(r + 1, c.order.size());
      EXPECT_EQ(c.order[r + 1], 'C');
    }
    ++entry;
  }

  // A lost journal is rebuilt from the log by the next commit.
  std::filesystem::remove(audit_journal_file_);
  OpenOrDie();
  ASSERT_TRUE(
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k-2")).ok());
  const uint64_t size = vault_->audit_log().size();
  vault_.reset();
  c = Read(audit_journal_file_);
  ASSERT_GE(c.entries.size(), size);
  for (size_t i = 0; i < c.entries.size(); ++i) EXPECT_EQ(c.entries[i].sequence, i + 1);
}

// The journal is written first: a group it cannot take is never written,
// and a group whose database write fails is cut from it again.
TEST_F(JournalCommitterTest, NothingIsWrittenThatTheJournalLacks) {
  AuditJournal* journal = vault_->committer().journal();
  ASSERT_NE(journal, nullptr);
  const uint64_t empty_size = vault_->audit_log().size();
  const std::string id =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k-1"))->lead_id;
  const uint64_t size = vault_->audit_log().size();
  EXPECT_EQ(journal->last_sequence(), size);
  // The committer marks each group's first entry: the create is one group.
  EXPECT_TRUE(*journal->OnlyLastGroupAfter(empty_size));

  vault_->committer().SetFailJournalForTesting(true);
  auto created =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k-2"));
  EXPECT_EQ(created.status().code(), absl::StatusCode::kResourceExhausted) << created.status();
  // A read's audit entry cannot be made durable in both: the read fails.
  auto read = vault_->leads().GetLead(IntakeActor(), id);
  EXPECT_FALSE(read.ok());
  EXPECT_EQ(vault_->audit_log().size(), size);
  EXPECT_EQ(journal->last_sequence(), size);
  EXPECT_FALSE(vault_->committer().journal_error().ok());
  EXPECT_FALSE(vault_->StorageHealth().ok());
  vault_->committer().SetFailJournalForTesting(false);
  auto again = vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k-2"));
  ASSERT_TRUE(again.ok()) << again.status();

  vault_->committer().SetFailWritesForTesting(true);
  const uint64_t before = vault_->audit_log().size();
  EXPECT_FALSE(
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k-3")).ok());
  EXPECT_EQ(journal->last_sequence(), before);  // cut off again
  vault_->committer().SetFailWritesForTesting(false);
  ASSERT_TRUE(
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k-3")).ok());
  EXPECT_TRUE(vault_->committer().journal_error().ok());
  const uint64_t after = vault_->audit_log().size();
  vault_.reset();
  Contents c = Read(audit_journal_file_);
  ASSERT_GE(c.entries.size(), after);
  for (size_t i = 0; i < c.entries.size(); ++i) EXPECT_EQ(c.entries[i].sequence, i + 1);
  OpenOrDie();
  auto log = ReadAudit(*vault_);
  for (size_t i = 0; i < after; ++i) {
    EXPECT_EQ(c.entries[i].canonical, audit::EncodeCanonical(log[i].second)) << i;
  }
}

// A crash between a group's append and its write leaves one group beyond
// the log: the start cuts it (its callers never got an answer). Two groups
// beyond it are a database that lost what it acknowledged: refused.
TEST_F(JournalCommitterTest, AnInterruptedLastGroupIsCutAtStart) {
  vault_.reset();
  uint64_t next = 0;
  {
    absl::StatusOr<std::unique_ptr<AuditJournal>> j = AuditJournal::Open(audit_journal_file_);
    ASSERT_TRUE(j.ok()) << j.status();
    next = (*j)->last_sequence() + 1;
    ASSERT_TRUE((*j)->Append((*j)->origin(), {{next, "x"}, {next + 1, "y"}}, "", true, next).ok());
  }
  OpenOrDie();
  EXPECT_EQ(vault_->journal_interrupted_group(), 2u);
  ASSERT_TRUE(
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k-1")).ok());
  vault_.reset();
  Contents c = Read(audit_journal_file_);
  ASSERT_GE(c.entries.size(), next);
  EXPECT_NE(c.entries[next - 1].canonical, "x");
  for (size_t i = 0; i < c.entries.size(); ++i) EXPECT_EQ(c.entries[i].sequence, i + 1);

  {
    absl::StatusOr<std::unique_ptr<AuditJournal>> j = AuditJournal::Open(audit_journal_file_);
    ASSERT_TRUE(j.ok()) << j.status();
    next = (*j)->last_sequence() + 1;
    ASSERT_TRUE((*j)->Append((*j)->origin(), {{next, "x"}}, "", true, next).ok());
    ASSERT_TRUE((*j)->Append((*j)->origin(), {{next + 1, "y"}}, "", true, next + 1).ok());
  }
  EXPECT_EQ(OpenVault(TestKek(1)).status().code(), absl::StatusCode::kFailedPrecondition);
}

// What a restore re-applies is covered by a signed checkpoint as soon as it
// is acknowledged, not only at a clean stop.
TEST_F(JournalCommitterTest, EveryRestrictionARestoreReappliesIsCheckpointedAtOnce) {
  const std::string id =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k-1"))->lead_id;
  NewPrincipal p;
  p.display_name = "web form";
  p.roles = {"capture"};
  auto issued = vault_->principals().Create(MakeActor("00000000000000ad", "admin"), std::move(p));
  ASSERT_TRUE(issued.ok()) << issued.status();
  const Actor admin = MakeActor("00000000000000ad", "admin");
  const Actor compliance = MakeActor("00000000000000f1", "compliance");
  ASSERT_TRUE(vault_->principals().RotateToken(admin, issued->principal.id, absl::Hours(24)).ok());
  ASSERT_TRUE(vault_->principals().Disable(admin, issued->principal.id).ok());
  ASSERT_TRUE(vault_->holds().Place(compliance, id, "Litigation hold for the test matter").ok());
  ConsentRevocation revocation;
  revocation.method = RevocationMethod::kIntakeCall;
  ASSERT_TRUE(vault_->consent()
                  .RecordRevocation(IntakeActor(), *LeadId::FromBytes(id), std::move(revocation))
                  .ok());
  Contents c = Read(audit_journal_file_);  // the vault still runs: no clean stop yet
  std::vector<std::string> checkpointed;
  size_t entry = 0;
  for (size_t r = 0; r < c.order.size(); ++r) {
    if (c.order[r] != 'E') continue;
    absl::StatusOr<audit::AuditEntry> e = audit::DecodeCanonical(c.entries[entry++].canonical);
    ASSERT_TRUE(e.ok());
    if (IsReappliedOnRestore(*e)) {
      EXPECT_TRUE(r + 1 < c.order.size() && c.order[r + 1] == 'C') << e->action;
      checkpointed.push_back(e->action);
    }
  }
  EXPECT_EQ(checkpointed, (std::vector<std::string>{"RotateToken", "DisablePrincipal",
                                                    "PlaceLegalHold", "RecordConsent"}));
}

TEST_F(JournalCommitterTest, AJournalAheadOfTheLogIsRefusedUnlessTheTailIsAccepted) {
  vault_.reset();
  {
    absl::StatusOr<std::unique_ptr<AuditJournal>> j = AuditJournal::Open(audit_journal_file_);
    ASSERT_TRUE(j.ok()) << j.status();
    const uint64_t next = (*j)->last_sequence() + 1;
    ASSERT_TRUE(
        (*j)->Append((*j)->origin(), {{next, "x"}, {next + 1, "y"}, {next + 2, "z"}}, "", true)
            .ok());
  }
  absl::StatusOr<std::unique_ptr<Vault>> v = OpenVault(TestKek(1));
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition) << v.status();
  recover_lost_log_tail_ = true;
  OpenOrDie();
}

}  // namespace
}  // namespace leadvault::vault::testing
