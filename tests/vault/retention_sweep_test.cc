// Retention sweeps: the expiry index drives them, each purge has its own
// audit entry naming the rule, a purged lead is gone as if never seen, a dry
// run writes nothing but its entry, and the purged bytes leave the disk.
#include "vault/retention_sweep.h"

#include <atomic>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/vault/vault_fixture.h"
#include "vault/lead_rows_check.h"

namespace leadvault::vault::testing {
namespace {

constexpr absl::Duration kDay = absl::Hours(24);

Actor RetentionActor() { return MakeActor("00000000000000e1", "retention"); }

LeadInput Person(int n) {
  LeadInput in;
  in.email = absl::StrCat("person.", n, "@example.org");
  in.phone = absl::StrCat("+1617555", 1000 + n);
  in.notes = absl::StrCat("marker-notes-", n);
  return in;
}

class RetentionSweepTest : public VaultFixture {
 protected:
  void SetUp() override { OpenOrDie(); }

  std::string Create(int n) {
    absl::StatusOr<CreateResult> r = vault_->leads().CreateLead(
        CaptureActor(), MakeNewLead(Person(n), "ortho", absl::StrCat("k-", n)));
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(r.ok() && r->duplicate);
    return r.ok() ? r->lead_id : "";
  }

  SweepReport Sweep(SweepOptions options = {}) {
    absl::StatusOr<SweepReport> r = vault_->retention().Sweep(RetentionActor(), options);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SweepReport{};
  }

  bool Found(const std::string& id) { return vault_->leads().GetLead(IntakeActor(), id).ok(); }

  std::vector<audit::AuditEntry> EntriesFor(const std::string& action) {
    std::vector<audit::AuditEntry> out;
    for (auto& [seq, e] : ReadAudit(*vault_)) {
      if (e.action == action) out.push_back(e);
    }
    return out;
  }
};

TEST_F(RetentionSweepTest, ExpiredLeadsArePurgedEachWithItsOwnEntryAndTheRestStay) {
  // The built-in policy: 365 days from the last activity.
  std::vector<std::string> ids;
  for (int n = 0; n < 5; ++n) ids.push_back(Create(n));
  clock_.Advance(200 * kDay);
  LeadUpdate u;  // activity on lead 2: kept another year from now
  u.lead_id = ids[2];
  u.expected_version = 1;
  u.status = LeadStatus::kContacted;
  ASSERT_TRUE(vault_->leads().UpdateLead(IntakeActor(), u).ok());
  const std::string young = Create(5);

  // Not yet due: nothing purged, and the sweep says so in its entry.
  clock_.Advance(164 * kDay);
  SweepReport early = Sweep();
  EXPECT_EQ(early.purged, 0u);
  EXPECT_EQ(CountKeys(*vault_, Cf::kLeads), 6u);

  clock_.Advance(2 * kDay);
  SweepOptions small;
  small.batch_size = 3;  // more than one batch
  SweepReport report = Sweep(small);
  EXPECT_EQ(report.purged, 4u);
  EXPECT_EQ(report.renewed, 0u);
  EXPECT_FALSE(report.more);
  EXPECT_EQ(report.per_rule, (std::map<std::string, uint64_t>{{"default", 4}}));
  std::set<std::string> listed;
  for (const auto& [id, rule] : report.listed) listed.insert(id);
  EXPECT_EQ(listed, (std::set<std::string>{EncodeLeadId(ids[0]), EncodeLeadId(ids[1]),
                                           EncodeLeadId(ids[3]), EncodeLeadId(ids[4])}));

  for (int n : {0, 1, 3, 4}) EXPECT_FALSE(Found(ids[n])) << n;
  EXPECT_TRUE(Found(ids[2]));
  EXPECT_TRUE(Found(young));

  // One entry per purge, naming the lead and the rule; then the sweep's own.
  std::set<std::string> audited;
  for (const audit::AuditEntry& e : EntriesFor("RetentionPurge")) {
    ASSERT_EQ(e.lead_ids.size(), 1u);
    audited.insert(e.lead_ids[0]);
    EXPECT_EQ(e.fields, std::vector<std::string>{"retention_rule=default"});
    EXPECT_EQ(e.principal_id, "00000000000000e1");
    EXPECT_EQ(e.role, "retention");
  }
  EXPECT_EQ(audited, listed);
  std::vector<audit::AuditEntry> sweeps = EntriesFor("RetentionSweep");
  ASSERT_EQ(sweeps.size(), 2u);
  EXPECT_EQ(sweeps[1].fields,
            (std::vector<std::string>{"purged=4", "renewed=0", "held=0", "deletions_compacted=0",
                                      "more=0", "rule.default=4"}));
  EXPECT_TRUE(sweeps[1].lead_ids.empty());

  // Every row of the purged leads is gone but the consent skeleton; the check
  // finds nothing missing and no orphan.
  absl::StatusOr<LeadRowsReport> check = CheckLeadRows(vault_->database());
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->result.ok()) << check->result;
  EXPECT_EQ(check->leads, 2u);
  EXPECT_EQ(CountKeys(*vault_, Cf::kExpiry), 2u);
  EXPECT_EQ(CountKeys(*vault_, Cf::kDek), 2u);

  // A second sweep finds nothing more.
  EXPECT_EQ(Sweep().purged, 0u);
}

// Leads of two service lines may share an email or phone (duplicates merge
// within one line): a batch that stages one must not wait for its own claim
// on the other's tokens.
TEST_F(RetentionSweepTest, LeadsSharingAnEmailAcrossServiceLinesArePurgedInOneSweep) {
  // One batch would hold all four; with smaller ones the leads sharing claims
  // meet the batch in flight (one commits while the next is staged).
  for (size_t batch : {size_t{256}, size_t{1}, size_t{2}, size_t{3}}) {
    SCOPED_TRACE(batch);
    for (const char* line : {"ortho", "cardio", "neuro"}) {
      absl::StatusOr<CreateResult> r = vault_->leads().CreateLead(
          CaptureActor(), MakeNewLead(Person(static_cast<int>(9 + batch)), line,
                                      absl::StrCat("shared-", line, batch)));
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_FALSE(r->duplicate);
    }
    Create(static_cast<int>(100 + batch));
    clock_.Advance(366 * kDay);
    SweepOptions options;
    options.batch_size = batch;
    SweepReport report = Sweep(options);
    EXPECT_EQ(report.purged, 4u);
    EXPECT_FALSE(report.more);
    EXPECT_EQ(CountKeys(*vault_, Cf::kLeads), 0u);
  }
}

TEST_F(RetentionSweepTest, ALeadNamedByTensOfThousandsOfLaterRowsIsPurgedInAuditedPages) {
  // As if its sender had re-submitted the person 20,005 times under new
  // idempotency keys: more rows name the lead than one purge batch holds.
  const std::string id = Create(1);
  const std::string control = Create(2);
  rocksdb::WriteBatch refs;
  const size_t named = 2 * kMaxLeadRefs + 5;
  for (size_t i = 0; i < named; ++i) {
    ASSERT_TRUE(vault_->leads()
                    .rows()
                    .AddReferencing(id, Cf::kMeta, absl::StrCat("test-named/", i), "x", refs)
                    .ok());
  }
  ASSERT_TRUE(vault_->database().Write(&refs, "test refs").ok());
  clock_.Advance(366 * kDay);

  // A dry run counts it and writes nothing but its entry.
  const auto before = DumpState(*vault_);
  SweepOptions dry;
  dry.dry_run = true;
  EXPECT_EQ(Sweep(dry).purged, 2u);
  EXPECT_EQ(DumpState(*vault_), before);
  EXPECT_TRUE(EntriesFor("PurgeLeadReferences").empty());

  SweepReport report = Sweep();
  EXPECT_EQ(report.purged, 2u);
  EXPECT_FALSE(Found(id));
  EXPECT_FALSE(Found(control));
  for (const auto& [key, value] : ReadCf(*vault_, Cf::kMeta)) {
    ASSERT_FALSE(absl::StartsWith(key, "test-named/")) << key;
  }
  // Two pages of 10,000, each with an entry of the vault's own naming the
  // lead, then the purge with the last five.
  std::vector<audit::AuditEntry> pages = EntriesFor("PurgeLeadReferences");
  ASSERT_EQ(pages.size(), 2u);
  for (const audit::AuditEntry& e : pages) {
    EXPECT_EQ(e.lead_ids, std::vector<std::string>{EncodeLeadId(id)});
    EXPECT_EQ(e.fields, std::vector<std::string>{absl::StrCat("rows=", kMaxLeadRefs)});
    EXPECT_EQ(e.principal_id, "system");
    EXPECT_EQ(e.role, "system");
  }
  EXPECT_EQ(EntriesFor("RetentionPurge").size(), 2u);
  absl::StatusOr<LeadRowsReport> check = CheckLeadRows(vault_->database());
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->result.ok()) << check->result;
}

TEST_F(RetentionSweepTest, APurgedLeadsEmailAndPhoneAreNeverSeenValuesAgain) {
  const std::string id = Create(7);
  clock_.Advance(366 * kDay);
  ASSERT_EQ(Sweep().purged, 1u);

  absl::StatusOr<std::vector<LeadMetadata>> by_email =
      vault_->leads().FindLeads(FinderActor(), LookupKind::kEmail, Person(7).email);
  ASSERT_TRUE(by_email.ok()) << by_email.status();
  EXPECT_TRUE(by_email->empty());
  absl::StatusOr<std::vector<LeadMetadata>> by_phone =
      vault_->leads().FindLeads(FinderActor(), LookupKind::kPhone, Person(7).phone);
  ASSERT_TRUE(by_phone.ok()) << by_phone.status();
  EXPECT_TRUE(by_phone->empty());
  for (Rpc rpc : {Rpc::kGetLead, Rpc::kUpdateLead}) {
    EXPECT_TRUE(absl::IsNotFound(vault_->leads().CheckInScope(IntakeActor(), id, rpc))) << int(rpc);
  }
  LeadUpdate u;
  u.lead_id = id;
  u.expected_version = 1;
  u.status = LeadStatus::kContacted;
  EXPECT_TRUE(absl::IsNotFound(vault_->leads().UpdateLead(IntakeActor(), u).status()));

  // The same person, from the same sender and idempotency key: a new lead,
  // as for someone never seen.
  absl::StatusOr<CreateResult> again =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(Person(7), "ortho", "k-7"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->duplicate);
  EXPECT_NE(again->lead_id, id);
  EXPECT_TRUE(Found(again->lead_id));
}

// The audit log outlives the lead: a compliance officer's accounting of
// disclosures for a purged lead still lists its past reads, with proofs, and
// the purge itself is not a disclosure.
TEST_F(RetentionSweepTest, APurgedLeadsAccountingOfDisclosuresStillListsItsPastReads) {
  const std::string id = Create(8);
  Actor reader = IntakeActor();
  reader.purpose = Purpose::kTreatment;
  ASSERT_TRUE(vault_->leads().GetLead(reader, id).ok());
  clock_.Advance(366 * kDay);
  ASSERT_EQ(Sweep().purged, 1u);
  ASSERT_FALSE(Found(id));

  auto accounting = vault_->audit().AccountingOfDisclosures(
      MakeActor("00000000000000f1", "compliance"), id, absl::InfinitePast(), 0);
  ASSERT_TRUE(accounting.ok()) << accounting.status();
  ASSERT_EQ(accounting->disclosures.size(), 1u);
  EXPECT_EQ(accounting->disclosures[0].entry.entry.action, "GetLead");
  EXPECT_EQ(accounting->disclosures[0].entry.entry.purpose, "treatment");
}

TEST_F(RetentionSweepTest, ADryRunListsWhatWouldGoAndWritesNothingButItsEntry) {
  std::vector<std::string> ids;
  for (int n = 0; n < 3; ++n) ids.push_back(Create(n));
  clock_.Advance(366 * kDay);
  const auto before = DumpState(*vault_);
  const size_t entries = ReadAudit(*vault_).size();

  SweepOptions dry;
  dry.dry_run = true;
  dry.batch_size = 2;
  SweepReport report = Sweep(dry);
  EXPECT_TRUE(report.dry_run);
  EXPECT_EQ(report.purged, 3u);
  EXPECT_EQ(report.per_rule, (std::map<std::string, uint64_t>{{"default", 3}}));
  EXPECT_EQ(report.listed.size(), 3u);
  EXPECT_EQ(DumpState(*vault_), before);
  ASSERT_EQ(ReadAudit(*vault_).size(), entries + 1);
  const audit::AuditEntry last = ReadAudit(*vault_).back().second;
  EXPECT_EQ(last.action, "RetentionSweepDryRun");
  EXPECT_EQ(last.fields,
            (std::vector<std::string>{"purged=3", "renewed=0", "held=0", "deletions_compacted=0",
                                      "more=0", "rule.default=3"}));
  for (const std::string& id : ids) EXPECT_TRUE(Found(id));
}

TEST_F(RetentionSweepTest, MaxLeadsBoundsASweepAndTheNextOneGoesOn) {
  for (int n = 0; n < 5; ++n) Create(n);
  clock_.Advance(366 * kDay);
  SweepOptions bounded;
  bounded.max_leads = 2;
  SweepReport first = Sweep(bounded);
  EXPECT_EQ(first.purged, 2u);
  EXPECT_TRUE(first.more);
  EXPECT_EQ(Sweep(bounded).purged, 2u);
  SweepReport last = Sweep(bounded);
  EXPECT_EQ(last.purged, 1u);
  EXPECT_FALSE(last.more);
  EXPECT_EQ(CountKeys(*vault_, Cf::kLeads), 0u);

  for (SweepOptions bad : {SweepOptions{.batch_size = 0}, SweepOptions{.batch_size = 5000},
                           SweepOptions{.max_leads = 0}, SweepOptions{.pause = absl::Hours(1)}}) {
    EXPECT_TRUE(absl::IsInvalidArgument(vault_->retention().Sweep(RetentionActor(), bad).status()));
  }
}

TEST_F(RetentionSweepTest, TheSchedulerSweepsAsTheVaultAndAStoppedSweepEndsBetweenBatches) {
  for (int n = 0; n < 3; ++n) Create(n);
  clock_.Advance(366 * kDay);

  // A sweep told to stop ends before its next batch, with its entry.
  std::atomic<bool> stop{true};
  SweepOptions stopped;
  stopped.stop = &stop;
  SweepReport cut = Sweep(stopped);
  EXPECT_EQ(cut.purged, 0u);
  EXPECT_TRUE(cut.more);
  EXPECT_EQ(CountKeys(*vault_, Cf::kLeads), 3u);

  absl::Mutex mu;
  std::vector<absl::StatusOr<SweepReport>> reports;
  {
    RetentionScheduler scheduler(&vault_->retention(), absl::Hours(1), SweepOptions{},
                                 [&](const absl::StatusOr<SweepReport>& r) {
                                   absl::MutexLock lock(&mu);
                                   reports.push_back(r);
                                 });
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::vector<absl::StatusOr<SweepReport>>* r) { return !r->empty(); }, &reports));
  }  // stopped before the hour is up
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_TRUE(reports[0].ok()) << reports[0].status();
  EXPECT_EQ(reports[0]->purged, 3u);
  for (const audit::AuditEntry& e : EntriesFor("RetentionPurge")) {
    EXPECT_EQ(e.principal_id, "system");
    EXPECT_EQ(e.role, "system");
  }
  EXPECT_EQ(EntriesFor("RetentionPurge").size(), 3u);
}

class PhysicalRemovalTest : public RetentionSweepTest {
 protected:
  // Every MANIFEST write rolls it over, so file bounds of purged rows do not
  // linger in it (Database::CompactAway).
  void SetUp() override {
    max_manifest_bytes_ = 1;
    OpenOrDie();
  }

  // The byte strings a lead leaves on disk: its field ciphertexts, its
  // wrapped data key and its blind tokens, read from the database.
  std::vector<std::string> Traces(const std::string& id) {
    std::vector<std::string> traces;
    absl::StatusOr<std::string> row = vault_->database().Get(Cf::kLeads, id);
    EXPECT_TRUE(row.ok()) << row.status();
    absl::StatusOr<internal::LeadRecord> record =
        vault_->leads().rows().Parse(id, row.ok() ? *row : "");
    EXPECT_TRUE(record.ok()) << record.status();
    if (!record.ok()) return traces;
    for (const internal::EncryptedField& f : record->fields()) traces.push_back(f.ciphertext());
    traces.push_back(record->email_token());
    traces.push_back(record->phone_token());
    absl::StatusOr<std::string> wrapped = vault_->database().Get(Cf::kDek, id);
    EXPECT_TRUE(wrapped.ok()) << wrapped.status();
    if (wrapped.ok()) traces.push_back(*wrapped);
    for (const std::string& t : traces) EXPECT_GE(t.size(), 16u);
    return traces;
  }
};

TEST_F(PhysicalRemovalTest, PurgedCiphertextsKeysAndTokensLeaveEveryFileAndAControlsStay) {
  std::vector<std::string> doomed;
  for (int n = 0; n < 20; ++n) doomed.push_back(Create(n));
  std::vector<std::vector<std::string>> doomed_traces;
  for (const std::string& id : doomed) doomed_traces.push_back(Traces(id));
  ASSERT_TRUE(vault_->database().Flush().ok());  // into table files
  clock_.Advance(200 * kDay);
  const std::string control = Create(100);
  const std::vector<std::string> control_traces = Traces(control);
  ASSERT_TRUE(vault_->database().Flush().ok());
  {
    const std::string disk = AllFileBytes(DataDir());
    for (const auto& traces : doomed_traces) {
      for (const std::string& t : traces) ASSERT_TRUE(absl::StrContains(disk, t));
    }
  }

  clock_.Advance(170 * kDay);
  SweepReport report = Sweep();
  ASSERT_EQ(report.purged, 20u);
  EXPECT_GT(report.table_bytes_before, report.table_bytes_after);

  const std::string disk = AllFileBytes(DataDir());
  for (size_t i = 0; i < doomed.size(); ++i) {
    for (size_t t = 0; t < doomed_traces[i].size(); ++t) {
      EXPECT_FALSE(absl::StrContains(disk, doomed_traces[i][t])) << "lead " << i << " trace " << t;
    }
  }
  for (const std::string& t : control_traces) EXPECT_TRUE(absl::StrContains(disk, t));
  EXPECT_TRUE(Found(control));
}

// A deletion request purges at once; its bytes leave the disk at the next
// sweep's compaction, even a sweep that finds no lead due.
TEST_F(PhysicalRemovalTest, ADeletedLeadsBytesLeaveEveryFileAtTheNextSweep) {
  std::vector<std::string> doomed;
  for (int n = 0; n < 5; ++n) doomed.push_back(Create(n));
  const std::string control = Create(100);
  std::vector<std::vector<std::string>> doomed_traces;
  for (const std::string& id : doomed) doomed_traces.push_back(Traces(id));
  const std::vector<std::string> control_traces = Traces(control);
  ASSERT_TRUE(vault_->database().Flush().ok());

  for (const std::string& id : doomed) {
    ASSERT_TRUE(vault_->leads()
                    .DeleteLead(MakeActor("00000000000000f1", "compliance"), id,
                                "Data subject request, verified by phone")
                    .ok());
  }
  ASSERT_TRUE(vault_->database().Flush().ok());
  {
    // Deleted, but not yet off the disk: the older table files still hold them.
    const std::string disk = AllFileBytes(DataDir());
    for (const auto& traces : doomed_traces) {
      for (const std::string& t : traces) ASSERT_TRUE(absl::StrContains(disk, t));
    }
  }

  SweepReport report = Sweep();
  EXPECT_EQ(report.purged, 0u);
  EXPECT_EQ(report.deletions_compacted, 5u);
  EXPECT_GT(report.table_bytes_before, report.table_bytes_after);
  const std::string disk = AllFileBytes(DataDir());
  for (size_t i = 0; i < doomed.size(); ++i) {
    for (size_t t = 0; t < doomed_traces[i].size(); ++t) {
      EXPECT_FALSE(absl::StrContains(disk, doomed_traces[i][t])) << "lead " << i << " trace " << t;
    }
  }
  for (const std::string& t : control_traces) EXPECT_TRUE(absl::StrContains(disk, t));

  // Accounted for once: the next sweep has nothing to compact.
  SweepReport next = Sweep();
  EXPECT_EQ(next.deletions_compacted, 0u);
  EXPECT_EQ(next.table_bytes_before, 0u);
}

}  // namespace
}  // namespace leadvault::vault::testing
