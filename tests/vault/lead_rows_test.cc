// LeadRows: every row a lead owns is found from its record and its
// back-references, and a purge deletes exactly those (no decryption).
#include "vault/lead_rows.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/vault/vault_fixture.h"
#include "vault/consent_ledger.h"
#include "vault/internal/keys.h"
#include "vault/lead_rows_check.h"

namespace leadvault::vault::testing {
namespace {

// Column families whose rows outlive a lead: the audit log and its indexes,
// the consent events (the skeleton) and the suppression list.
bool Outlives(const std::string& cf) {
  return cf == "audit" || cf == "merkle" || cf == "audit_lead" || cf == "suppress";
}

class LeadRowsTest : public VaultFixture {
 protected:
  void SetUp() override { OpenOrDie(); }

  LeadStore& leads() { return vault_->leads(); }

  CreateResult Submit(const Actor& actor, const LeadInput& in, const std::string& key,
                      bool consent = false) {
    NewLead lead = MakeNewLead(in, "ortho", key);
    if (consent) lead.consent = FullConsent(clock_.Now());
    absl::StatusOr<CreateResult> r = leads().CreateLead(actor, std::move(lead));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CreateResult{};
  }

  internal::LeadRecord Record(const std::string& id) {
    absl::StatusOr<std::string> row = vault_->database().Get(Cf::kLeads, id);
    EXPECT_TRUE(row.ok()) << row.status();
    absl::StatusOr<internal::LeadRecord> r = leads().rows().Parse(id, row.ok() ? *row : "");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : internal::LeadRecord{};
  }

  // Every (cf, key) whose key or value holds one of `needles`, outside the
  // families that outlive a lead; consent events (lead id || n, n > 0) too.
  std::set<std::pair<std::string, std::string>> RowsNaming(
      const std::vector<std::string>& needles) {
    std::set<std::pair<std::string, std::string>> out;
    for (const auto& [cf, rows] : DumpAll(*vault_)) {
      if (Outlives(cf)) continue;
      for (const auto& [key, value] : rows) {
        for (const std::string& n : needles) {
          if (absl::StrContains(key, n) || absl::StrContains(value, n)) {
            out.insert({cf, key});
            break;
          }
        }
      }
    }
    return out;
  }
};

TEST_F(LeadRowsTest, EveryRowALeadOwnsIsFoundAndAPurgeDeletesExactlyThose) {
  LeadInput other;
  other.email = "control.person@example.net";
  other.phone = "+16175550199";
  const CreateResult control = Submit(CaptureActor(), other, "control", /*consent=*/true);

  // Lead A with consent; the same sender again (told A's id), another sender
  // (a receipt), and intake moves it along the queue.
  const Actor c2 = MakeActor("00000000000000c2", "capture");
  const CreateResult a = Submit(CaptureActor(), LeadInput{}, "a-1", /*consent=*/true);
  const CreateResult again = Submit(CaptureActor(), LeadInput{}, "a-2");
  ASSERT_TRUE(again.duplicate);
  ASSERT_EQ(again.lead_id, a.lead_id);
  const CreateResult receipt = Submit(c2, LeadInput{}, "a-3", /*consent=*/true);
  ASSERT_FALSE(receipt.duplicate);
  ASSERT_NE(receipt.lead_id, a.lead_id);
  const CreateResult receipt_again = Submit(c2, LeadInput{}, "a-4");
  ASSERT_EQ(receipt_again.lead_id, receipt.lead_id);
  LeadUpdate u;
  u.lead_id = a.lead_id;
  u.expected_version = 1;
  u.status = LeadStatus::kContacted;
  ASSERT_TRUE(leads().UpdateLead(IntakeActor(), u).ok());

  const internal::LeadRecord record = Record(a.lead_id);
  ASSERT_FALSE(record.email_token().empty());
  ASSERT_FALSE(record.phone_token().empty());
  ASSERT_FALSE(record.idempotency_key().empty());
  const std::vector<std::string> needles = {a.lead_id, receipt.lead_id, record.email_token(),
                                            record.phone_token()};

  // What names A is what its record and back-references list.
  std::set<std::pair<std::string, std::string>> listed;
  for (const LeadRows::RowKey& row : LeadRows::KeysOf(a.lead_id, record)) {
    listed.insert({CfName(row.cf), row.key});
  }
  const std::string ref_prefix = LeadRows::RefPrefix(a.lead_id);
  size_t refs = 0;
  for (const auto& [key, value] : ReadCf(*vault_, Cf::kMeta)) {
    if (!absl::StartsWith(key, ref_prefix)) continue;
    ++refs;
    listed.insert({"meta", key});
    listed.insert(
        {CfName(static_cast<Cf>(key[ref_prefix.size()])), key.substr(ref_prefix.size() + 1)});
  }
  // Three later submissions' idempotency rows, the receipt and its two
  // own-submission rows.
  EXPECT_EQ(refs, 6u);
  std::set<std::pair<std::string, std::string>> naming = RowsNaming(needles);
  for (const auto& row : naming) {
    if (row.first == "consent" && row.second.size() == 20 &&
        row.second != ConsentLedger::StateKey(a.lead_id)) {
      continue;  // an event: the consent skeleton outlives the lead
    }
    EXPECT_TRUE(listed.count(row)) << row.first << " row not listed by the record";
  }
  for (const auto& row : listed) {
    EXPECT_TRUE(naming.count(row) || row.first == "meta") << row.first << " listed row not found";
  }
  const std::set<std::pair<std::string, std::string>> control_rows =
      RowsNaming({control.lead_id, Record(control.lead_id).email_token()});

  rocksdb::WriteBatch batch;
  ASSERT_TRUE(leads().rows().AddPurge(a.lead_id, record, batch).value_or(false));
  ASSERT_TRUE(vault_->database().Write(&batch, "test purge").ok());

  // Nothing names A but its consent events; the control lead is untouched.
  for (const auto& [cf, key] : RowsNaming(needles)) {
    EXPECT_EQ(cf, "consent");
    EXPECT_TRUE(absl::StartsWith(key, a.lead_id) || absl::StartsWith(key, receipt.lead_id));
    EXPECT_NE(key, ConsentLedger::StateKey(a.lead_id));
  }
  for (const auto& [key, value] : ReadCf(*vault_, Cf::kMeta)) {
    EXPECT_FALSE(absl::StartsWith(key, ref_prefix));
  }
  EXPECT_EQ(RowsNaming({control.lead_id, Record(control.lead_id).email_token()}), control_rows);

  // Every way back to A answers as for a lead that never was.
  EXPECT_TRUE(absl::IsNotFound(leads().GetLead(IntakeActor(), a.lead_id).status()));
  EXPECT_TRUE(absl::IsNotFound(leads().GetLead(c2, receipt.lead_id).status()));
  auto found = leads().FindLeads(IntakeActor(), LookupKind::kEmail, LeadInput{}.email);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_TRUE(found->empty());
  const CreateResult retry = Submit(CaptureActor(), LeadInput{}, "a-1");
  EXPECT_FALSE(retry.duplicate);
  EXPECT_NE(retry.lead_id, a.lead_id);
  const CreateResult c2_again = Submit(c2, LeadInput{}, "a-5");
  EXPECT_NE(c2_again.lead_id, receipt.lead_id);
}

TEST_F(LeadRowsTest, TheCheckPassesOnWholeLeadsAndNamesMissingAndOrphanedRows) {
  const Actor c2 = MakeActor("00000000000000c2", "capture");
  LeadInput other;
  other.email = "control.person@example.net";
  other.phone = "+16175550199";
  const CreateResult control = Submit(CaptureActor(), other, "control", /*consent=*/true);
  const CreateResult a = Submit(CaptureActor(), LeadInput{}, "a-1", /*consent=*/true);
  Submit(CaptureActor(), LeadInput{}, "a-2");
  const CreateResult receipt = Submit(c2, LeadInput{}, "a-3");
  absl::StatusOr<LeadRowsReport> report = CheckLeadRows(vault_->database());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->result.ok()) << report->result;
  EXPECT_EQ(report->leads, 2u);
  EXPECT_EQ(report->receipts, 1u);
  EXPECT_EQ(report->missing + report->orphans, 0u);
  EXPECT_GT(report->rows, 10u);

  Database& db = vault_->database();
  const internal::LeadRecord record = Record(a.lead_id);
  // A lead without its wrapped key: missing.
  absl::StatusOr<std::string> dek = db.Get(Cf::kDek, a.lead_id);
  ASSERT_TRUE(dek.ok());
  ASSERT_TRUE(db.db()->Delete(rocksdb::WriteOptions(), db.cf(Cf::kDek), a.lead_id).ok());
  report = CheckLeadRows(db);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(absl::IsDataLoss(report->result));
  EXPECT_EQ(report->missing, 1u);
  EXPECT_EQ(report->orphans, 0u);
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_EQ(report->problems[0], absl::StrCat("lead ", absl::BytesToHexString(a.lead_id),
                                              ": a dek row it owns is missing"));
  ASSERT_TRUE(db.db()->Put(rocksdb::WriteOptions(), db.cf(Cf::kDek), a.lead_id, *dek).ok());

  // A record gone without its rows (a purge half done): every row naming it is
  // an orphan, and the problems name ids, never a token.
  absl::StatusOr<std::string> row = db.Get(Cf::kLeads, a.lead_id);
  ASSERT_TRUE(row.ok());
  ASSERT_TRUE(db.db()->Delete(rocksdb::WriteOptions(), db.cf(Cf::kLeads), a.lead_id).ok());
  report = CheckLeadRows(db);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(absl::IsDataLoss(report->result));
  EXPECT_EQ(report->missing, 0u);
  // dek, 2 blind-index rows, the creator's 2 own-submission rows, queue,
  // expiry, consent state, the receipt, the 2 idempotency rows naming the lead, and
  // its 5 back-references (the receipt's own-submission and idempotency rows
  // name the receipt, which still exists: they are not counted themselves).
  EXPECT_EQ(report->orphans, 16u);
  for (const std::string& p : report->problems) {
    EXPECT_FALSE(absl::StrContains(p, absl::BytesToHexString(record.email_token()))) << p;
    EXPECT_FALSE(absl::StrContains(p, absl::BytesToHexString(record.phone_token()))) << p;
  }
  ASSERT_TRUE(db.db()->Put(rocksdb::WriteOptions(), db.cf(Cf::kLeads), a.lead_id, *row).ok());

  // A purge leaves whole leads: the check passes, and counts the consent
  // skeleton that stays.
  rocksdb::WriteBatch batch;
  ASSERT_TRUE(leads().rows().AddPurge(a.lead_id, record, batch).value_or(false));
  ASSERT_TRUE(db.Write(&batch, "test purge").ok());
  report = CheckLeadRows(db);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->result.ok()) << report->result;
  EXPECT_EQ(report->leads, 1u);
  EXPECT_EQ(report->receipts, 0u);
  EXPECT_EQ(report->consent_skeletons, 1u);
  (void)control;
  (void)receipt;
}

TEST_F(LeadRowsTest, TheExpiryRowFollowsTheLeadsLastActivity) {
  // The built-in policy: 365 days from the last activity.
  const absl::Time created = clock_.Now();
  const CreateResult a = Submit(CaptureActor(), LeadInput{}, "e-1");
  auto expiry_rows = [this] {
    std::vector<std::string> keys;
    for (const auto& [key, value] : ReadCf(*vault_, Cf::kExpiry)) keys.push_back(key);
    return keys;
  };
  internal::LeadRecord record = Record(a.lead_id);
  EXPECT_EQ(record.retention_rule(), "default");
  EXPECT_EQ(record.expires_at_unix_micros(), absl::ToUnixMicros(created + absl::Hours(24 * 365)));
  EXPECT_EQ(expiry_rows(), std::vector<std::string>{
                               internal::ExpiryKey(record.expires_at_unix_micros(), a.lead_id)});
  // An update ten days on moves it.
  clock_.Advance(absl::Hours(24 * 10));
  LeadUpdate u;
  u.lead_id = a.lead_id;
  u.expected_version = 1;
  u.status = LeadStatus::kContacted;
  ASSERT_TRUE(leads().UpdateLead(IntakeActor(), u).ok());
  record = Record(a.lead_id);
  EXPECT_EQ(record.expires_at_unix_micros(), absl::ToUnixMicros(created + absl::Hours(24 * 375)));
  EXPECT_EQ(expiry_rows(), std::vector<std::string>{
                               internal::ExpiryKey(record.expires_at_unix_micros(), a.lead_id)});
  // So does a re-submission of the person (activity), by another sender.
  clock_.Advance(absl::Hours(24 * 10));
  Submit(MakeActor("00000000000000c2", "capture"), LeadInput{}, "e-2");
  record = Record(a.lead_id);
  EXPECT_EQ(record.expires_at_unix_micros(), absl::ToUnixMicros(created + absl::Hours(24 * 385)));
  EXPECT_EQ(expiry_rows(), std::vector<std::string>{
                               internal::ExpiryKey(record.expires_at_unix_micros(), a.lead_id)});
  absl::StatusOr<LeadRowsReport> report = CheckLeadRows(vault_->database());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->result.ok()) << report->result;
  // A purge removes it.
  rocksdb::WriteBatch batch;
  ASSERT_TRUE(leads().rows().AddPurge(a.lead_id, record, batch).value_or(false));
  ASSERT_TRUE(vault_->database().Write(&batch, "test purge").ok());
  EXPECT_TRUE(expiry_rows().empty());
}

TEST_F(LeadRowsTest, ALeadNamedByMoreRowsThanOneBatchHoldsIsPurgedInConsistentPages) {
  const CreateResult a = Submit(CaptureActor(), LeadInput{}, "t-1");
  const internal::LeadRecord record = Record(a.lead_id);
  rocksdb::WriteBatch refs;
  const size_t named = kMaxLeadRefs + 7;
  for (size_t i = 0; i < named; ++i) {
    ASSERT_TRUE(leads()
                    .rows()
                    .AddReferencing(a.lead_id, Cf::kMeta, absl::StrCat("test-named/", i), "x", refs)
                    .ok());
  }
  ASSERT_TRUE(vault_->database().Write(&refs, "test refs").ok());
  const size_t meta_rows = CountKeys(*vault_, Cf::kMeta);

  // The first page: kMaxLeadRefs rows with their back-references, the lead
  // itself untouched; what is left is a whole lead (the check passes).
  rocksdb::WriteBatch page;
  absl::StatusOr<bool> whole = leads().rows().AddPurge(a.lead_id, record, page);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_FALSE(*whole);
  EXPECT_EQ(page.Count(), 2 * kMaxLeadRefs);
  ASSERT_TRUE(vault_->database().Write(&page, "test page").ok());
  EXPECT_EQ(CountKeys(*vault_, Cf::kMeta), meta_rows - 2 * kMaxLeadRefs);
  EXPECT_TRUE(leads().GetLead(IntakeActor(), a.lead_id).ok());
  absl::StatusOr<LeadRowsReport> report = CheckLeadRows(vault_->database());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->result.ok()) << report->result;

  // The last: the lead and the rest.
  rocksdb::WriteBatch last;
  whole = leads().rows().AddPurge(a.lead_id, record, last);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE(*whole);
  ASSERT_TRUE(vault_->database().Write(&last, "test purge").ok());
  EXPECT_EQ(CountKeys(*vault_, Cf::kLeads), 0u);
  for (const auto& [key, value] : ReadCf(*vault_, Cf::kMeta)) {
    EXPECT_FALSE(absl::StartsWith(key, "test-named/")) << key;
    EXPECT_FALSE(absl::StartsWith(key, LeadRows::RefPrefix(a.lead_id)));
  }
}

}  // namespace
}  // namespace leadvault::vault::testing
