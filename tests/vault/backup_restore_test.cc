// Backups and restore: a backup taken while the vault serves restores to a
// consistent state, and the audit journal's purges after it are re-applied,
// so a purged lead never comes back; the journal is tamper-evident, and a
// restore without it is the operator's recorded choice.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "audit/merkle.h"
#include "gtest/gtest.h"
#include "tests/vault/vault_fixture.h"
#include "vault/audit_journal.h"
#include "vault/backup.h"
#include "vault/lead_rows_check.h"

namespace leadvault::vault::testing {
namespace {

Actor Compliance() { return MakeActor("00000000000000f1", "compliance"); }
Actor Admin() { return MakeActor("00000000000000ad", "admin"); }

LeadInput Person(int n) {
  LeadInput in;
  in.email = absl::StrCat("restore.", n, "@example.org");
  in.phone = absl::StrCat("+1617555", 2000 + n);
  in.notes = absl::StrCat("restore-marker-notes-", n);
  return in;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class BackupRestoreTest : public VaultFixture {
 protected:
  void SetUp() override {
    high_water_file_ = Layout().high_water();
    audit_journal_file_ = dir_.path() + "/audit-journal";
    OpenOrDie();
  }

  RestoreLayout Layout() const { return RestoreLayout{dir_.path()}; }
  std::string JournalHighWater() const { return AuditJournal::HighWaterPath(audit_journal_file_); }

  // Cuts the (closed) journal back to before its first DeleteLead entry.
  void CutJournalBeforeTheDelete() {
    absl::StatusOr<std::unique_ptr<AuditJournal>> j = AuditJournal::Open(audit_journal_file_);
    ASSERT_TRUE(j.ok()) << j.status();
    uint64_t delete_sequence = 0;
    ASSERT_TRUE((*j)->Scan(
                        [&](const AuditJournal::Entry& e) {
                          absl::StatusOr<audit::AuditEntry> entry =
                              audit::DecodeCanonical(e.canonical);
                          if (entry.ok() && entry->action == "DeleteLead") {
                            delete_sequence = e.sequence;
                            return false;
                          }
                          return true;
                        },
                        [](absl::string_view) { return true; })
                    .ok());
    ASSERT_NE(delete_sequence, 0u);
    ASSERT_TRUE((*j)->TruncateAfter(delete_sequence - 1).ok());
  }

  std::string Create(int n) {
    absl::StatusOr<CreateResult> r = vault_->leads().CreateLead(
        CaptureActor(), MakeNewLead(Person(n), "ortho", absl::StrCat("k-", n)));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->lead_id : "";
  }

  void Delete(const std::string& id) {
    absl::StatusOr<DeletionReceipt> r =
        vault_->leads().DeleteLead(Compliance(), id, "Deletion request from the person (CCPA)");
    ASSERT_TRUE(r.ok()) << r.status();
  }

  BackupSummary Backup() {
    absl::StatusOr<BackupSummary> b = vault_->CreateBackup(Admin(), backups_.path());
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? *b : BackupSummary{};
  }

  // Stops the vault, restores backup `id` as `leadvaultctl backup restore`
  // does, and starts it as the daemon would after one.
  absl::Status RestoreAndOpen(uint32_t id, bool without_journal = false,
                              bool without_high_water = false) {
    vault_.reset();
    absl::StatusOr<BackupSummary> restored = RestoreBackup(backups_.path(), id, Layout());
    if (!restored.ok()) return restored.status();
    return StartRestored(without_journal, without_high_water);
  }

  // The start after a restore, as the daemon makes it.
  absl::Status StartRestored(bool without_journal = false, bool without_high_water = false) {
    vault_.reset();
    restore_.pending = true;
    restore_.without_journal = without_journal;
    restore_.without_high_water = without_high_water;
    struct stat st;
    if (::stat(Layout().pre_restore_high_water().c_str(), &st) == 0) {
      restore_.pre_restore_high_water = ReadAll(Layout().pre_restore_high_water());
    }
    if (::stat(JournalHighWater().c_str(), &st) == 0) {
      restore_.journal_high_water = ReadAll(JournalHighWater());
    }
    absl::StatusOr<std::unique_ptr<Vault>> v = OpenVault(TestKek(1));
    restore_ = VaultOptions::Restore();
    if (!v.ok()) return v.status();
    vault_ = *std::move(v);
    // As the daemon does once the replay succeeded.
    std::filesystem::remove_all(Layout().previous_db_dir());
    return absl::OkStatus();
  }

  bool Readable(const std::string& id) {
    absl::StatusOr<Lead> lead = vault_->leads().GetLead(IntakeActor(), id);
    EXPECT_TRUE(lead.ok() || absl::IsNotFound(lead.status())) << lead.status();
    return lead.ok();
  }

  // The bytes a lead leaves on disk: its record (field ciphertexts) and its
  // wrapped data key.
  std::vector<std::string> Traces(const std::string& id) {
    std::vector<std::string> out;
    for (Cf cf : {Cf::kLeads, Cf::kDek}) {
      absl::StatusOr<std::string> row = vault_->database().Get(cf, id);
      EXPECT_TRUE(row.ok()) << row.status();
      if (row.ok()) out.push_back(*row);
    }
    return out;
  }

  ::leadvault::testing::ScratchDir backups_;
};

TEST_F(BackupRestoreTest, PurgesAfterTheBackupStayPurgedAndTheLogStaysConsistent) {
  std::map<int, std::string> a;
  for (int n = 0; n < 6; ++n) a[n] = Create(n);
  absl::StatusOr<LegalHold> hold =
      vault_->holds().Place(Compliance(), a[4], "Litigation hold for the test matter");
  ASSERT_TRUE(hold.ok()) << hold.status();
  const BackupSummary backup = Backup();
  ASSERT_GT(backup.id, 0u);
  EXPECT_GT(backup.audit_size, 0u);

  // After the backup: new leads, purges of old and new ones, a released hold.
  std::map<int, std::string> b;
  for (int n = 10; n < 13; ++n) b[n] = Create(n);
  std::vector<std::string> purged_traces;
  for (int n : {0, 1}) {
    for (const std::string& t : Traces(a[n])) purged_traces.push_back(t);
  }
  Delete(a[0]);
  Delete(a[1]);
  Delete(b[10]);
  ASSERT_TRUE(vault_->holds()
                  .Release(Compliance(), a[4], hold->hold_id, "Matter settled, hold lifted")
                  .ok());
  for (const std::string& t : Traces(a[4])) purged_traces.push_back(t);
  Delete(a[4]);
  const std::optional<SignedCheckpoint> before = vault_->audit_log().LatestCheckpoint();
  ASSERT_TRUE(before.has_value());

  ASSERT_TRUE(RestoreAndOpen(backup.id).ok());
  ASSERT_TRUE(vault_->restore_result().has_value());
  const JournalReplay& replay = *vault_->restore_result();
  EXPECT_EQ(replay.restored_size, backup.audit_size);
  EXPECT_GT(replay.replayed, 0u);
  EXPECT_EQ(replay.reapplied_purges, 3u);  // a0, a1, a4 (b10 is not in the backup)
  EXPECT_EQ(replay.released_holds, 1u);
  EXPECT_EQ(replay.unverified_tail, 0u);

  for (int n : {0, 1, 4}) EXPECT_FALSE(Readable(a[n])) << n;
  for (int n : {2, 3, 5}) EXPECT_TRUE(Readable(a[n])) << n;
  for (int n : {0, 1, 4}) {
    absl::StatusOr<std::vector<LeadMetadata>> found =
        vault_->leads().FindLeads(FinderActor(), LookupKind::kEmail, Person(n).email);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_TRUE(found->empty()) << n;
  }
  // Leads created after the backup are not in it (SECURITY.md says so).
  for (const auto& [n, id] : b) EXPECT_FALSE(Readable(id)) << n;

  // The log is the log that was served, and more: consistent with the last
  // checkpoint before the restore, every entry appended again.
  const std::optional<SignedCheckpoint> after = vault_->audit_log().LatestCheckpoint();
  ASSERT_TRUE(after.has_value());
  ASSERT_GT(after->checkpoint.size, before->checkpoint.size);
  absl::StatusOr<std::vector<audit::Hash>> proof =
      vault_->audit_log().ConsistencyProof(before->checkpoint.size, after->checkpoint.size);
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_TRUE(audit::VerifyConsistency(before->checkpoint.size, after->checkpoint.size,
                                       before->checkpoint.root, after->checkpoint.root, *proof)
                  .ok());
  std::vector<std::string> actions;
  for (const auto& [seq, e] : ReadAudit(*vault_)) {  // the vault's own, not the reads above
    if (seq > before->checkpoint.size && e.principal_id == "system") actions.push_back(e.action);
  }
  ASSERT_FALSE(actions.empty());
  EXPECT_EQ(actions.back(), "RestoreFromBackup");
  std::sort(actions.begin(), actions.end());
  EXPECT_EQ(actions, (std::vector<std::string>{"ReapplyPurge", "ReapplyPurge", "ReapplyPurge",
                                               "ReleaseHoldsOnRestore", "RestoreFromBackup"}));

  // No orphan row, and once compacted no file of the data dir holds their bytes.
  absl::StatusOr<LeadRowsReport> check = CheckLeadRows(vault_->database());
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->result.ok()) << check->result;
  std::vector<Cf> all;
  for (size_t i = 0; i < kCfCount; ++i) all.push_back(static_cast<Cf>(i));
  ASSERT_TRUE(vault_->database().CompactAway(all).ok());
  const std::string disk = AllFileBytes(dir_.path());
  for (size_t i = 0; i < purged_traces.size(); ++i) {
    EXPECT_FALSE(absl::StrContains(disk, purged_traces[i])) << i;
  }

  // The journal goes on from the restored log: a later restore of the same
  // backup replays this one's entries too.
  Delete(a[2]);
  ASSERT_TRUE(RestoreAndOpen(backup.id).ok());
  EXPECT_EQ(vault_->restore_result()->reapplied_purges, 4u);
  for (int n : {0, 1, 2, 4}) EXPECT_FALSE(Readable(a[n])) << n;
  EXPECT_TRUE(Readable(a[3]));
}

TEST_F(BackupRestoreTest, ATamperedJournalIsDataLossAndNothingIsServed) {
  const std::string id = Create(1);
  const BackupSummary backup = Backup();
  Delete(id);
  vault_.reset();
  // Flip one byte in the middle of the journal.
  std::string journal = ReadAll(audit_journal_file_);
  ASSERT_GT(journal.size(), 100u);
  journal[journal.size() / 2] ^= 0x01;
  {
    std::ofstream out(audit_journal_file_, std::ios::binary | std::ios::trunc);
    out << journal;
  }
  absl::Status s = RestoreAndOpen(backup.id);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "audit journal")) << s;
  // The database from before the restore is still there to go back to, and
  // a second restore keeps it (not the half-restored one).
  struct stat st;
  ASSERT_EQ(::stat((Layout().previous_db_dir() + "/CURRENT").c_str(), &st), 0);
  const std::string manifest = ReadAll(Layout().previous_db_dir() + "/CURRENT");
  ASSERT_TRUE(RestoreBackup(backups_.path(), backup.id, Layout()).ok());
  EXPECT_EQ(ReadAll(Layout().previous_db_dir() + "/CURRENT"), manifest);
  std::filesystem::remove_all(Layout().db_dir());
  ASSERT_EQ(::rename(Layout().previous_db_dir().c_str(), Layout().db_dir().c_str()), 0);
  ::unlink(Layout().marker().c_str());
  ::rename(Layout().pre_restore_high_water().c_str(), Layout().high_water().c_str());
  std::filesystem::remove(audit_journal_file_);  // the damaged one; rebuilt from the log
  OpenOrDie();
  EXPECT_FALSE(Readable(id));  // the database from before: the purge is in it
}

// A journal rewritten with valid framing, its DeleteLead entry replaced by a
// harmless-looking one: the checkpoints' roots catch it.
TEST_F(BackupRestoreTest, ARewrittenJournalEntryFailsTheSignedRoots) {
  const std::string id = Create(1);
  const BackupSummary backup = Backup();
  Delete(id);
  vault_.reset();
  std::vector<std::pair<std::vector<AuditJournal::Entry>, std::string>> groups(1);
  std::string origin;
  {
    absl::StatusOr<std::unique_ptr<AuditJournal>> j = AuditJournal::Open(audit_journal_file_);
    ASSERT_TRUE(j.ok()) << j.status();
    origin = (*j)->origin();
    ASSERT_TRUE((*j)->Scan(
                        [&](const AuditJournal::Entry& e) {
                          AuditJournal::Entry copy = e;
                          absl::StatusOr<audit::AuditEntry> decoded =
                              audit::DecodeCanonical(e.canonical);
                          EXPECT_TRUE(decoded.ok());
                          if (decoded.ok() && decoded->action == "DeleteLead") {
                            decoded->action = "GetLead";
                            copy.canonical = audit::EncodeCanonical(*decoded);
                          }
                          groups.back().first.push_back(copy);
                          return true;
                        },
                        [&](absl::string_view note) {
                          groups.back().second = std::string(note);
                          groups.emplace_back();
                          return true;
                        })
                    .ok());
  }
  std::filesystem::remove(audit_journal_file_);
  {
    absl::StatusOr<std::unique_ptr<AuditJournal>> j = AuditJournal::Open(audit_journal_file_);
    ASSERT_TRUE(j.ok()) << j.status();
    for (const auto& [entries, note] : groups) {
      ASSERT_TRUE((*j)->Append(origin, entries, note, /*sync=*/false).ok());
    }
  }
  absl::Status s = RestoreAndOpen(backup.id);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  // Caught by the first signed tree it reaches: here the high-water mark's.
  EXPECT_TRUE(absl::StrContains(s.message(), "root") ||
              absl::StrContains(s.message(), "last checkpoint served"))
      << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "nothing was replayed")) << s;
}

TEST_F(BackupRestoreTest, AJournalThatDoesNotReachTheLastServedCheckpointIsDataLoss) {
  const std::string id = Create(1);
  const BackupSummary backup = Backup();
  Delete(id);
  vault_.reset();
  // The journal as it was before the delete: the high-water mark is ahead.
  std::filesystem::remove(audit_journal_file_);
  ASSERT_TRUE(RestoreAndOpen(backup.id).code() == absl::StatusCode::kDataLoss);
}

// The data dir is lost with its high-water mark: the mark beside the
// journal still shows a journal that lost its purge is incomplete.
TEST_F(BackupRestoreTest, TheMarkBesideTheJournalCatchesACutJournalWhenTheDataDirIsLost) {
  const std::string id = Create(1);
  const BackupSummary backup = Backup();
  Delete(id);
  vault_.reset();
  ASSERT_EQ(::unlink(Layout().high_water().c_str()), 0);
  CutJournalBeforeTheDelete();
  EXPECT_EQ(RestoreAndOpen(backup.id).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(vault_, nullptr);
}

// With no mark at all nothing shows the journal is complete: refused until
// the operator accepts it, which is recorded.
TEST_F(BackupRestoreTest, WithNoHighWaterMarkTheReplayIsRefusedUnlessAccepted) {
  const std::string id = Create(1);
  const BackupSummary backup = Backup();
  Delete(id);
  vault_.reset();
  ASSERT_EQ(::unlink(Layout().high_water().c_str()), 0);
  ASSERT_EQ(::unlink(JournalHighWater().c_str()), 0);
  EXPECT_EQ(RestoreAndOpen(backup.id).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(StartRestored(/*without_journal=*/false, /*without_high_water=*/true).ok());
  const auto [seq, entry] = ReadAudit(*vault_).back();
  EXPECT_EQ(entry.action, "RestoreFromBackup");
  EXPECT_EQ(entry.fields.back(), "high_water=missing");
  EXPECT_FALSE(Readable(id));  // the journal was whole: the purge is re-applied
  // The mark beside the journal is written again once it is attached.
  struct stat st;
  EXPECT_EQ(::stat(JournalHighWater().c_str(), &st), 0);
}

// What took access away after the backup is taken away again (fail
// closed); what was granted after it is not granted again.
TEST_F(BackupRestoreTest, RestrictionsAfterTheBackupAreMadeAgain) {
  auto create = [&](const char* name, std::vector<std::string> roles,
                    std::vector<std::string> lines) {
    NewPrincipal p;
    p.display_name = name;
    p.roles = std::move(roles);
    p.service_lines = std::move(lines);
    absl::StatusOr<IssuedToken> issued = vault_->principals().Create(Admin(), std::move(p));
    EXPECT_TRUE(issued.ok()) << issued.status();
    return issued.ok() ? *std::move(issued) : IssuedToken{};
  };
  IssuedToken narrowed = create("front desk", {"intake"}, {"cardio", "ortho"});
  IssuedToken rotated = create("web form", {"capture"}, {});
  IssuedToken disabled = create("old agency", {"capture"}, {});
  IssuedToken untouched = create("call center", {"capture"}, {});
  const std::string held = Create(1);
  const std::string released = Create(2);
  Actor officer = MakeActor("00000000000000e1", "compliance");
  officer.purpose = Purpose::kOperations;
  absl::StatusOr<EmergencyGrant> grant = vault_->emergency().OpenGrant(
      officer, "Patient unresponsive in the ER, need the contact now", {held}, absl::Hours(1));
  ASSERT_TRUE(grant.ok()) << grant.status();
  const BackupSummary backup = Backup();

  ASSERT_TRUE(vault_->principals()
                  .SetServiceLines(Admin(), narrowed.principal.id, {"ortho", "spine"})
                  .ok());
  ASSERT_TRUE(
      vault_->principals().RotateToken(Admin(), rotated.principal.id, absl::Hours(24)).ok());
  ASSERT_TRUE(vault_->principals().Disable(Admin(), disabled.principal.id).ok());
  absl::StatusOr<LegalHold> hold =
      vault_->holds().Place(Compliance(), held, "Litigation hold for the test matter");
  ASSERT_TRUE(hold.ok()) << hold.status();
  absl::StatusOr<LegalHold> gone =
      vault_->holds().Place(Compliance(), released, "Litigation hold placed and lifted");
  ASSERT_TRUE(gone.ok()) << gone.status();
  ASSERT_TRUE(vault_->holds()
                  .Release(Compliance(), released, gone->hold_id, "Matter settled, hold lifted")
                  .ok());
  ASSERT_TRUE(vault_->emergency().Close(officer, grant->id).ok());
  // Denied calls change nothing and are not re-applied.
  ASSERT_TRUE(vault_
                  ->RecordFailure(IntakeActor(), "DisablePrincipal", {},
                                  absl::PermissionDeniedError("role"), untouched.principal.id)
                  .ok());

  ASSERT_TRUE(RestoreAndOpen(backup.id).ok());
  PrincipalStore& principals = vault_->principals();
  absl::StatusOr<Principal> p = principals.Authenticate(narrowed.token.view());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->service_lines, (std::vector<std::string>{"ortho"}));  // never "spine"
  EXPECT_FALSE(principals.Authenticate(rotated.token.view()).ok());  // the old token ended
  EXPECT_FALSE(principals.Authenticate(disabled.token.view()).ok());
  EXPECT_TRUE(principals.Authenticate(untouched.token.view()).ok());
  absl::StatusOr<HoldPage> holds = vault_->holds().List(Compliance(), "", 0, "");
  ASSERT_TRUE(holds.ok()) << holds.status();
  ASSERT_EQ(holds->holds.size(), 1u);
  EXPECT_EQ(holds->holds[0].lead_id, held);
  EXPECT_EQ(holds->holds[0].hold_id, hold->hold_id);  // a later release still matches
  EXPECT_EQ(holds->holds[0].reason, hold->reason);
  EXPECT_FALSE(vault_->emergency().ActiveGrant(officer.principal_id, held).has_value());
  ASSERT_TRUE(vault_->restore_result().has_value());
  EXPECT_EQ(vault_->restore_result()->reapplied_restrictions, 5u);
  std::vector<std::string> reapplied;
  for (const auto& [seq, entry] : ReadAudit(*vault_)) {
    if (entry.principal_id == "system" && seq > vault_->restore_result()->restored_size) {
      reapplied.push_back(entry.action);
    }
    if (entry.action == "RestoreFromBackup") {
      EXPECT_NE(std::find(entry.fields.begin(), entry.fields.end(), "reapplied_restrictions=5"),
                entry.fields.end());
    }
  }
  EXPECT_EQ(absl::StrJoin(reapplied, ","),
            "ReapplyDisablePrincipal,ReapplyRotateToken,ReapplySetServiceLines,"
            "CloseEmergencyAccess,ReapplyLegalHold,RestoreFromBackup");
  // A sweep cannot purge the held lead now, and the hold releases as placed.
  EXPECT_TRUE(vault_->holds()
                  .Release(Compliance(), held, hold->hold_id, "Matter settled, hold lifted")
                  .ok());
  // A restart replays nothing again.
  const uint64_t size = vault_->audit_log().size();
  Reopen();
  for (const auto& [seq, entry] : ReadAudit(*vault_)) {
    if (seq > size) {
      EXPECT_FALSE(absl::StartsWith(entry.action, "Reapply")) << entry.action;
    }
  }
}

// A webhook secret issued or revoked after the backup: the restored database
// holds the salts from before, so every webhook secret of that principal ends
// (an admin issues a new one); another principal's is untouched.
TEST_F(BackupRestoreTest, WebhookSecretsChangedAfterTheBackupEnd) {
  auto create = [&](const char* name) {
    NewPrincipal p;
    p.display_name = name;
    p.roles = {"capture"};
    absl::StatusOr<IssuedToken> issued = vault_->principals().Create(Admin(), std::move(p));
    EXPECT_TRUE(issued.ok()) << issued.status();
    return issued.ok() ? issued->principal.id : std::string();
  };
  auto issue = [&](const std::string& id, absl::Duration grace) {
    auto issued = vault_->principals().IssueWebhookSecret(Admin(), id, absl::Hours(24), grace);
    EXPECT_TRUE(issued.ok()) << issued.status();
    return issued.ok() ? std::string(issued->secret.view()) : std::string();
  };
  auto works = [&](const std::string& id, const std::string& secret) {
    const std::string payload = "1700000000.{}";
    return vault_->principals()
        .AuthenticateWebhook(id, payload, leadvault::testing::HmacSha256(secret, payload))
        .ok();
  };
  const std::string rotated = create("rotated form");
  const std::string revoked = create("revoked form");
  const std::string kept = create("kept form");
  const std::string old_rotated = issue(rotated, absl::ZeroDuration());
  const std::string old_revoked = issue(revoked, absl::ZeroDuration());
  const std::string old_kept = issue(kept, absl::ZeroDuration());
  const BackupSummary backup = Backup();
  const std::string new_rotated = issue(rotated, absl::Hours(1));
  ASSERT_TRUE(vault_->principals().RevokeWebhookSecret(Admin(), revoked).ok());

  ASSERT_TRUE(RestoreAndOpen(backup.id).ok());
  EXPECT_FALSE(works(rotated, old_rotated));  // replaced after the backup
  EXPECT_FALSE(works(rotated, new_rotated));  // not in the backup
  EXPECT_FALSE(works(revoked, old_revoked));  // revoked after the backup
  EXPECT_TRUE(works(kept, old_kept));
  ASSERT_TRUE(vault_->restore_result().has_value());
  EXPECT_EQ(vault_->restore_result()->reapplied_restrictions, 2u);
  std::vector<std::string> reapplied;
  for (const auto& [seq, entry] : ReadAudit(*vault_)) {
    if (entry.principal_id == "system" && seq > vault_->restore_result()->restored_size) {
      reapplied.push_back(entry.action);
    }
  }
  EXPECT_EQ(absl::StrJoin(reapplied, ","),
            "ReapplyWebhookSecretEnd,ReapplyWebhookSecretEnd,RestoreFromBackup");
}

// An opt-out after the backup is revoked again, and the contacts go back on
// the suppression list, also for a lead that was then deleted.
TEST_F(BackupRestoreTest, ConsentRevocationsAfterTheBackupAreMadeAgain) {
  using C = ConsentChannel;
  using P = ConsentPurpose;
  auto consented = [&](int n) {
    NewLead lead = MakeNewLead(Person(n), "ortho", absl::StrCat("c-", n));
    lead.consent = FullConsent(clock_.Now());
    absl::StatusOr<CreateResult> r = vault_->leads().CreateLead(CaptureActor(), std::move(lead));
    EXPECT_TRUE(r.ok()) << r.status();
    return *LeadId::FromBytes(r.ok() ? r->lead_id : std::string(16, '\0'));
  };
  auto revoke = [&](const LeadId& id, std::vector<C> channels, std::vector<P> purposes) {
    ConsentRevocation r;
    r.channels = std::move(channels);
    r.purposes = std::move(purposes);
    r.method = RevocationMethod::kIntakeCall;
    ASSERT_TRUE(vault_->consent().RecordRevocation(IntakeActor(), id, std::move(r)).ok());
  };
  auto reason = [&](const LeadId& id, C channel, P purpose) {
    absl::StatusOr<ConsentDecision> d =
        vault_->consent().CheckConsent(IntakeActor(), id, channel, purpose, "");
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? d->reason : ConsentReason::kActive;
  };
  const LeadId kept = consented(1);
  const LeadId deleted = consented(2);
  const BackupSummary backup = Backup();
  revoke(kept, {C::kSms}, {P::kMarketing});
  revoke(deleted, {}, {});
  Delete(deleted.bytes());

  ASSERT_TRUE(RestoreAndOpen(backup.id).ok());
  EXPECT_EQ(reason(kept, C::kSms, P::kMarketing), ConsentReason::kRevoked);
  EXPECT_EQ(reason(kept, C::kSms, P::kScheduling), ConsentReason::kActive);  // not revoked
  EXPECT_EQ(reason(kept, C::kEmail, P::kMarketing), ConsentReason::kActive);
  EXPECT_FALSE(Readable(deleted.bytes()));
  EXPECT_EQ(vault_->restore_result()->reapplied_restrictions, 2u);
  // The deleted person's phone and email are suppressed again: a new lead
  // with them, consenting no later than the opt-out, may not be contacted.
  const LeadId again = consented(2);
  EXPECT_EQ(reason(again, C::kSms, P::kScheduling), ConsentReason::kSuppressed);
  EXPECT_EQ(reason(again, C::kEmail, P::kMarketing), ConsentReason::kSuppressed);
  // A restart re-applies nothing twice.
  const uint64_t size = vault_->audit_log().size();
  Reopen();
  for (const auto& [seq, entry] : ReadAudit(*vault_)) {
    if (seq <= size) continue;
    for (const std::string& field : entry.fields) {
      EXPECT_FALSE(absl::StartsWith(field, "reapplied_sequence=")) << entry.action;
    }
  }
}

// A database set aside by a finished restore (its removal failed) is a
// leftover: the next restore sets the live database aside, not keeps it.
TEST_F(BackupRestoreTest, ALeftoverDatabaseAsideNeverCostsTheLiveOne) {
  const std::string id = Create(1);
  const BackupSummary backup = Backup();
  Delete(id);
  vault_.reset();
  ASSERT_TRUE(std::filesystem::create_directory(Layout().previous_db_dir()));
  { std::ofstream(Layout().previous_db_dir() + "/stale") << "from a finished restore"; }
  const std::string live = ReadAll(Layout().db_dir() + "/CURRENT");
  ASSERT_TRUE(RestoreBackup(backups_.path(), backup.id, Layout()).ok());
  struct stat st;
  EXPECT_NE(::stat((Layout().previous_db_dir() + "/stale").c_str(), &st), 0);
  EXPECT_EQ(ReadAll(Layout().previous_db_dir() + "/CURRENT"), live);
}

TEST_F(BackupRestoreTest, WithoutTheJournalTheRestoreSaysSoAndPurgedLeadsComeBack) {
  const std::string id = Create(1);
  const BackupSummary backup = Backup();
  Delete(id);
  vault_.reset();
  std::filesystem::remove(audit_journal_file_);
  ASSERT_TRUE(RestoreAndOpen(backup.id, /*without_journal=*/true).ok());
  const auto [seq, entry] = ReadAudit(*vault_).back();
  EXPECT_EQ(entry.action, "RestoreFromBackup");
  EXPECT_EQ(entry.fields.back(), "journal=missing");
  EXPECT_TRUE(Readable(id));  // what a restore without the journal means
}

// Repair flags commit entries of their own, which would take the sequence
// numbers the replay appends: refused at that start, nothing written.
TEST_F(BackupRestoreTest, RepairFlagsAreRefusedAtTheStartThatReplays) {
  const std::string id = Create(1);
  const BackupSummary backup = Backup();
  Delete(id);
  rebuild_disclosure_index_ = true;
  EXPECT_EQ(RestoreAndOpen(backup.id).code(), absl::StatusCode::kFailedPrecondition);
  rebuild_disclosure_index_ = false;
  ASSERT_TRUE(RestoreAndOpen(backup.id).ok());
  EXPECT_FALSE(Readable(id));
}

TEST_F(BackupRestoreTest, BackupDirsMustBePrivateAbsoluteAndOutsideTheData) {
  EXPECT_EQ(vault_->CreateBackup(Admin(), "relative/dir").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(vault_->CreateBackup(Admin(), dir_.path() + "/inside").status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(::mkdir((dir_.path() + "/inside").c_str(), 0700), 0);
  EXPECT_EQ(vault_->CreateBackup(Admin(), dir_.path() + "/inside").status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(::chmod(backups_.path().c_str(), 0750), 0);
  EXPECT_EQ(vault_->CreateBackup(Admin(), backups_.path()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(::chmod(backups_.path().c_str(), 0700), 0);
  EXPECT_TRUE(vault_->CreateBackup(Admin(), backups_.path()).ok());
  absl::StatusOr<std::vector<BackupSummary>> list = ListBackups(backups_.path());
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE(VerifyBackup(backups_.path(), (*list)[0].id).ok());
  EXPECT_EQ(VerifyBackup(backups_.path(), (*list)[0].id + 1).code(), absl::StatusCode::kNotFound);
  // (A restore refuses while another process has the database open: RocksDB's
  // lock is an fcntl lock, which this process would get again; the end-to-end
  // test tries it with the daemon running.)
}

}  // namespace
}  // namespace leadvault::vault::testing
