#include "vault/lead_store.h"

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rocksdb/options.h"
#include "tests/vault/vault_fixture.h"
#include "vault/internal/records.pb.h"

namespace leadvault::vault::testing {
namespace {

class LeadStoreTest : public VaultFixture {
 protected:
  void SetUp() override { OpenOrDie(); }

  LeadStore& store() { return vault_->leads(); }

  CreateResult CreateOrDie(NewLead lead, const Actor& actor = CaptureActor()) {
    absl::StatusOr<CreateResult> r = store().CreateLead(actor, std::move(lead));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CreateResult{};
  }

  Lead GetOrDie(const std::string& id) {
    absl::StatusOr<Lead> lead = store().GetLead(IntakeActor(), id);
    EXPECT_TRUE(lead.ok()) << lead.status();
    return lead.ok() ? *std::move(lead) : Lead{};
  }

  // The last audit entry.
  audit::AuditEntry LastAudit() {
    auto audit = ReadAudit(*vault_);
    EXPECT_FALSE(audit.empty());
    return audit.empty() ? audit::AuditEntry{} : audit.back().second;
  }

  internal::LeadRecord ReadRecord(const std::string& id) {
    absl::StatusOr<std::string> bytes = vault_->database().Get(Cf::kLeads, id);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    internal::LeadRecord r;
    EXPECT_TRUE(bytes.ok() && r.ParseFromString(*bytes));
    return r;
  }

  void WriteRecord(const std::string& id, const internal::LeadRecord& r) {
    rocksdb::WriteOptions options;
    options.sync = true;
    ASSERT_TRUE(vault_->database()
                    .db()
                    ->Put(options, vault_->database().cf(Cf::kLeads), id, r.SerializeAsString())
                    .ok());
  }

  std::vector<std::string> ListAll(const std::string& line, LeadStatus status) {
    QueueQuery q;
    q.service_line = line;
    q.status = status;
    q.page_size = 500;
    absl::StatusOr<QueuePage> page = store().ListQueue(IntakeActor(), q);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> ids;
    if (page.ok()) {
      for (const auto& m : page->leads) ids.push_back(m.id);
    }
    return ids;
  }
};

std::vector<std::string> AllFieldNames() {
  std::vector<std::string> names;
  for (PiiField f : kAllPiiFields) names.emplace_back(PiiFieldName(f));
  return names;
}

TEST_F(LeadStoreTest, CreateThenGetRoundTripsAllFieldsNormalized) {
  const absl::Time created_at = clock_.Now();
  CreateResult created = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "key-1"));
  EXPECT_EQ(created.lead_id.size(), 16u);
  EXPECT_FALSE(created.duplicate);
  EXPECT_EQ(created.version, 1u);

  clock_.Advance(absl::Minutes(3));
  Lead lead = GetOrDie(created.lead_id);
  EXPECT_EQ(lead.pii.Get(PiiField::kFirstName).view(), "Zebulon");
  EXPECT_EQ(lead.pii.Get(PiiField::kLastName).view(), "Quixworth");
  EXPECT_EQ(lead.pii.Get(PiiField::kEmail).view(), "zeb.quixworth@example.org");
  EXPECT_EQ(lead.pii.Get(PiiField::kPhone).view(), "+16502530042");
  EXPECT_EQ(lead.pii.Get(PiiField::kDateOfBirth).view(), "1980-04-12");
  EXPECT_EQ(lead.pii.Get(PiiField::kStreetAddress).view(), "77 Massachusetts Avenue");
  EXPECT_EQ(lead.pii.Get(PiiField::kCity).view(), "Cambridgeport");
  EXPECT_EQ(lead.pii.Get(PiiField::kState).view(), "MA");
  EXPECT_EQ(lead.pii.Get(PiiField::kPostalCode).view(), "02139-4307");
  EXPECT_EQ(lead.pii.Get(PiiField::kConditionInterest).view(), "knee replacement consult");
  EXPECT_EQ(lead.pii.Get(PiiField::kNotes).view(), "prefers mornings after nine");

  EXPECT_EQ(lead.meta.id, created.lead_id);
  EXPECT_EQ(lead.meta.status, LeadStatus::kNew);
  EXPECT_EQ(lead.meta.version, 1u);
  EXPECT_EQ(lead.meta.created_at, created_at);
  EXPECT_EQ(lead.meta.updated_at, created_at);
  EXPECT_EQ(lead.meta.created_by, CaptureActor().principal_id);
  EXPECT_EQ(lead.meta.attribution.source, SourceChannel::kWebForm);
  EXPECT_EQ(lead.meta.attribution.campaign, "spring-ortho");
  EXPECT_EQ(lead.meta.attribution.service_line, "ortho");
  EXPECT_EQ(lead.meta.attribution.landing_page, "https://clinic.example/ortho");
  EXPECT_TRUE(lead.meta.touches.empty());
  EXPECT_TRUE(lead.meta.contact_attempts.empty());
}

TEST_F(LeadStoreTest, AbsentFieldsStayAbsent) {
  LeadInput in;
  in.email.clear();
  in.notes.clear();
  in.city.clear();
  CreateResult created = CreateOrDie(MakeNewLead(in, "ortho", "k"));
  Lead lead = GetOrDie(created.lead_id);
  EXPECT_FALSE(lead.pii.Has(PiiField::kEmail));
  EXPECT_FALSE(lead.pii.Has(PiiField::kNotes));
  EXPECT_FALSE(lead.pii.Has(PiiField::kCity));
  EXPECT_EQ(lead.pii.Get(PiiField::kPhone).view(), "+16502530042");
  EXPECT_EQ(ReadRecord(created.lead_id).fields_size(), 8);
  audit::AuditEntry e = LastAudit();
  EXPECT_EQ(std::set<std::string>(e.fields.begin(), e.fields.end()).count("email"), 0u);
}

TEST_F(LeadStoreTest, InvalidInputWritesNothing) {
  CreateOrDie(MakeNewLead(EmailOnlyInput(1), "ortho", "seed"));  // Non-empty CFs.
  const auto before = CountAll(*vault_);
  const uint64_t next_seq = vault_->committer().next_sequence();

  struct Case {
    std::string name;
    NewLead lead;
    std::string field;
  };
  std::vector<Case> cases;
  {
    LeadInput in;
    in.email = "not-an-email";
    cases.push_back({"bad email", MakeNewLead(in, "ortho", "a"), "email"});
  }
  cases.push_back({"unknown source",
                   MakeNewLead(LeadInput{}, "ortho", "b", static_cast<SourceChannel>(42)),
                   "source"});
  cases.push_back({"unspecified source",
                   MakeNewLead(LeadInput{}, "ortho", "c", SourceChannel::kUnspecified), "source"});
  cases.push_back({"missing service line", MakeNewLead(LeadInput{}, "", "d"), "service_line"});
  {
    LeadInput in;
    in.email.clear();
    in.phone.clear();
    cases.push_back({"no email and no phone", MakeNewLead(in, "ortho", "e"), "email"});
  }
  {
    LeadInput in;
    in.phone = "555-555";
    cases.push_back({"bad phone", MakeNewLead(in, "ortho", "f"), "phone"});
  }
  cases.push_back({"empty idempotency key", MakeNewLead(LeadInput{}, "ortho", ""), ""});
  for (Case& c : cases) {
    absl::StatusOr<CreateResult> r = store().CreateLead(CaptureActor(), std::move(c.lead));
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.name << r.status();
    EXPECT_NE(r.status().message().find(c.field), absl::string_view::npos)
        << c.name << ": " << r.status();
    EXPECT_EQ(r.status().message().find("Zebulon"), absl::string_view::npos);
    EXPECT_EQ(r.status().message().find("not-an-email"), absl::string_view::npos);
    EXPECT_EQ(CountAll(*vault_), before) << c.name;
  }
  EXPECT_EQ(vault_->committer().next_sequence(), next_seq);
}

TEST_F(LeadStoreTest, IdempotentRetryReturnsTheFirstResultAndWritesNoLead) {
  CreateResult first = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "idem-1"));
  const auto audit_before = CountKeys(*vault_, Cf::kAudit);
  const auto state_before = DumpState(*vault_);
  clock_.Advance(absl::Seconds(5));
  CreateResult retry = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "idem-1"));
  EXPECT_EQ(retry.lead_id, first.lead_id);
  EXPECT_FALSE(retry.duplicate);
  EXPECT_EQ(retry.version, first.version);
  // Only the retry's audit entry was added.
  EXPECT_EQ(CountKeys(*vault_, Cf::kAudit), audit_before + 1);
  EXPECT_TRUE(DumpState(*vault_) == state_before) << "a retry must not change any record";
  Lead lead = GetOrDie(first.lead_id);
  EXPECT_EQ(lead.meta.version, 1u);
  EXPECT_TRUE(lead.meta.touches.empty());
}

TEST_F(LeadStoreTest, SameKeyFromAnotherPrincipalIsANewSubmission) {
  CreateResult first = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "shared-key"));
  const Actor other = MakeActor("00000000000000c2", "capture");

  // Different person: a new lead.
  LeadInput someone_else;
  someone_else.email = "other.person@example.com";
  someone_else.phone = "650-253-0077";
  CreateResult second = CreateOrDie(MakeNewLead(someone_else, "ortho", "shared-key"), other);
  EXPECT_NE(second.lead_id, first.lead_id);
  EXPECT_FALSE(second.duplicate);
  EXPECT_EQ(CountKeys(*vault_, Cf::kLeads), 2u);

  // Same person from a third principal with the same key: merged into the
  // first lead, not a retry, and the third principal gets a receipt of its own.
  const Actor third = MakeActor("00000000000000c3", "capture");
  CreateResult dup = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "shared-key"), third);
  EXPECT_NE(dup.lead_id, first.lead_id);
  EXPECT_FALSE(dup.duplicate);
  EXPECT_EQ(dup.version, 1u);
  EXPECT_EQ(CountKeys(*vault_, Cf::kLeads), 2u);
  EXPECT_EQ(GetOrDie(first.lead_id).meta.touches.size(), 1u);
}

TEST_F(LeadStoreTest, DuplicateByEmailRecordsATouch) {
  CreateResult first = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "k1"));
  clock_.Advance(absl::Hours(2));
  const absl::Time touch_time = clock_.Now();
  LeadInput again;
  again.email = "  ZEB.QUIXWORTH@example.ORG ";
  again.phone = "650-253-0099";  // A new phone: still the same person by email.
  CreateResult dup =
      CreateOrDie(MakeNewLead(again, "ortho", "k2", SourceChannel::kPaidSocial, "fall-retarget"));
  EXPECT_TRUE(dup.duplicate);
  EXPECT_EQ(dup.lead_id, first.lead_id);
  EXPECT_EQ(dup.version, 0u);
  EXPECT_EQ(CountKeys(*vault_, Cf::kLeads), 1u);
  EXPECT_EQ(CountKeys(*vault_, Cf::kDek), 1u);

  // A touch changes neither the version nor updated_at (intake's next update
  // with the version it read still succeeds).
  Lead lead = GetOrDie(first.lead_id);
  EXPECT_EQ(lead.meta.version, 1u);
  EXPECT_EQ(lead.meta.updated_at, lead.meta.created_at);
  ASSERT_EQ(lead.meta.touches.size(), 1u);
  EXPECT_EQ(lead.meta.touches[0].at, touch_time);
  EXPECT_EQ(lead.meta.touches[0].attribution.source, SourceChannel::kPaidSocial);
  EXPECT_EQ(lead.meta.touches[0].attribution.campaign, "fall-retarget");
  // The first touch's attribution and PII are unchanged.
  EXPECT_EQ(lead.meta.attribution.campaign, "spring-ortho");
  EXPECT_EQ(lead.pii.Get(PiiField::kPhone).view(), "+16502530042");
}

TEST_F(LeadStoreTest, DuplicateByPhoneInAnotherFormat) {
  CreateResult first = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "k1"));
  LeadInput again;
  again.email = "different@example.com";
  again.phone = "+1 650.253.0042";
  CreateResult dup = CreateOrDie(MakeNewLead(again, "ortho", "k2"));
  EXPECT_TRUE(dup.duplicate);
  EXPECT_EQ(dup.lead_id, first.lead_id);
  EXPECT_EQ(dup.version, 0u);
  EXPECT_EQ(CountKeys(*vault_, Cf::kLeads), 1u);
  Lead lead = GetOrDie(first.lead_id);
  EXPECT_EQ(lead.meta.touches.size(), 1u);
  EXPECT_EQ(lead.pii.Get(PiiField::kEmail).view(), "zeb.quixworth@example.org");

  // The duplicate's retry returns the duplicate result again.
  CreateResult retry = CreateOrDie(MakeNewLead(again, "ortho", "k2"));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.lead_id, first.lead_id);
  EXPECT_EQ(retry.version, 0u);
  EXPECT_EQ(GetOrDie(first.lead_id).meta.touches.size(), 1u);
}

TEST_F(LeadStoreTest, GetUnknownLeadIsNotFound) {
  absl::StatusOr<Lead> lead = store().GetLead(IntakeActor(), std::string(16, '\x07'));
  EXPECT_EQ(lead.status().code(), absl::StatusCode::kNotFound) << lead.status();
}

TEST_F(LeadStoreTest, GetLeadAuditsFieldNamesAndNoPiiIsStoredInClear) {
  LeadInput in;
  CreateResult created = CreateOrDie(MakeNewLead(in, "ortho", "k1"));
  const size_t audit_before = CountKeys(*vault_, Cf::kAudit);
  Lead lead = GetOrDie(created.lead_id);
  ASSERT_EQ(CountKeys(*vault_, Cf::kAudit), audit_before + 1);
  audit::AuditEntry e = LastAudit();
  EXPECT_EQ(e.action, "GetLead");
  EXPECT_EQ(e.principal_id, IntakeActor().principal_id);
  EXPECT_EQ(e.purpose, "treatment");
  EXPECT_EQ(e.lead_ids, std::vector<std::string>{EncodeLeadId(created.lead_id)});
  EXPECT_EQ(e.fields, AllFieldNames());

  // Also find and list, so every write path has run.
  ASSERT_TRUE(store().FindLeads(IntakeActor(), LookupKind::kEmail, in.email).ok());
  ASSERT_TRUE(store().FindLeads(IntakeActor(), LookupKind::kPhone, in.phone).ok());
  ListAll("ortho", LeadStatus::kNew);

  std::vector<std::string> secrets;
  for (PiiField f : kAllPiiFields) {
    secrets.push_back(LeadInputValue(in, f));
    secrets.emplace_back(lead.pii.Get(f).view());
  }
  secrets.push_back("zeb.quixworth");  // The local part alone.
  secrets.push_back("6502530042");
  for (const auto& [cf, entries] : DumpAll(*vault_)) {
    for (const auto& [key, value] : entries) {
      for (const std::string& s : secrets) {
        if (s.size() < 5) continue;  // "MA" could occur by chance in random bytes.
        EXPECT_EQ(key.find(s), std::string::npos) << "clear PII in a key of " << cf;
        EXPECT_EQ(value.find(s), std::string::npos) << "clear PII in a value of " << cf;
      }
    }
  }
  for (const auto& [seq, entry] : ReadAudit(*vault_)) {
    for (const std::string& t : entry.blind_tokens) {
      for (const std::string& s : secrets) EXPECT_EQ(t.find(s), std::string::npos);
    }
  }
}

TEST_F(LeadStoreTest, GetLeadFailsClosedWhenTheAuditCannotBeWritten) {
  CreateResult created = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "k1"));
  const size_t audit_before = CountKeys(*vault_, Cf::kAudit);
  vault_->committer().SetFailWritesForTesting(true);
  absl::StatusOr<Lead> lead = store().GetLead(IntakeActor(), created.lead_id);
  EXPECT_EQ(lead.status().code(), absl::StatusCode::kUnavailable) << lead.status();
  EXPECT_EQ(CountKeys(*vault_, Cf::kAudit), audit_before);
  vault_->committer().SetFailWritesForTesting(false);
  EXPECT_TRUE(store().GetLead(IntakeActor(), created.lead_id).ok());
}

TEST_F(LeadStoreTest, CreateFailsWithoutWritingWhenStorageFails) {
  const auto before = CountAll(*vault_);
  vault_->committer().SetFailWritesForTesting(true);
  absl::StatusOr<CreateResult> r =
      store().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k1"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_EQ(CountAll(*vault_), before);
  vault_->committer().SetFailWritesForTesting(false);
  // The retry with the same key then creates the lead (no half-written idempotency record).
  CreateResult created = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "k1"));
  EXPECT_FALSE(created.duplicate);
  EXPECT_EQ(CountKeys(*vault_, Cf::kLeads), 1u);
}

TEST_F(LeadStoreTest, FindLeadsByEmailAndPhoneInAnyFormat) {
  CreateResult a = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "k1"));
  CreateOrDie(MakeNewLead(EmailOnlyInput(2), "ortho", "k2"));

  for (absl::string_view email :
       {"zeb.quixworth@example.org", "ZEB.QUIXWORTH@EXAMPLE.ORG", " zeb.quixworth@Example.org "}) {
    absl::StatusOr<std::vector<LeadMetadata>> found =
        store().FindLeads(IntakeActor(), LookupKind::kEmail, email);
    ASSERT_TRUE(found.ok()) << found.status();
    ASSERT_EQ(found->size(), 1u) << email;
    EXPECT_EQ((*found)[0].id, a.lead_id);
    EXPECT_EQ((*found)[0].attribution.service_line, "ortho");
  }
  for (absl::string_view phone : {"+16502530042", "(650) 253-0042", "1-650-253-0042"}) {
    absl::StatusOr<std::vector<LeadMetadata>> found =
        store().FindLeads(IntakeActor(), LookupKind::kPhone, phone);
    ASSERT_TRUE(found.ok()) << found.status();
    ASSERT_EQ(found->size(), 1u) << phone;
    EXPECT_EQ((*found)[0].id, a.lead_id);
  }
  absl::StatusOr<std::vector<LeadMetadata>> none =
      store().FindLeads(IntakeActor(), LookupKind::kEmail, "nobody@example.org");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  audit::AuditEntry e = LastAudit();
  EXPECT_EQ(e.action, "FindLeads");
  EXPECT_EQ(e.blind_tokens.size(), 1u);
  EXPECT_TRUE(e.lead_ids.empty());

  absl::StatusOr<std::vector<LeadMetadata>> bad =
      store().FindLeads(IntakeActor(), LookupKind::kPhone, "12");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(LeadStoreTest, ListQueuePaginatesOldestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(
        CreateOrDie(MakeNewLead(EmailOnlyInput(i), "ortho", absl::StrCat("k", i))).lead_id);
    clock_.Advance(absl::Seconds(1));
  }
  // Not listed: another service line, and another status.
  CreateOrDie(MakeNewLead(EmailOnlyInput(100), "cardio", "c1"));
  std::string moved = CreateOrDie(MakeNewLead(EmailOnlyInput(101), "ortho", "c2")).lead_id;
  LeadUpdate update;
  update.lead_id = moved;
  update.expected_version = 1;
  update.status = LeadStatus::kContacted;
  ASSERT_TRUE(store().UpdateLead(IntakeActor(), update).ok());

  QueueQuery q;
  q.service_line = "ortho";
  q.status = LeadStatus::kNew;
  q.page_size = 3;
  std::vector<size_t> sizes;
  std::vector<std::string> listed;
  for (int guard = 0; guard < 10; ++guard) {
    absl::StatusOr<QueuePage> page = store().ListQueue(IntakeActor(), q);
    ASSERT_TRUE(page.ok()) << page.status();
    sizes.push_back(page->leads.size());
    for (const auto& m : page->leads) {
      listed.push_back(m.id);
      EXPECT_EQ(m.status, LeadStatus::kNew);
      EXPECT_EQ(m.attribution.service_line, "ortho");
    }
    if (page->next_page_token.empty()) break;
    q.page_token = page->next_page_token;
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 1}));
  EXPECT_EQ(listed, ids);
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()).size(), 7u);
}

TEST_F(LeadStoreTest, ListQueueExactMultipleHasNoEmptyTrailingPage) {
  for (int i = 0; i < 6; ++i) {
    CreateOrDie(MakeNewLead(EmailOnlyInput(i), "ortho", absl::StrCat("k", i)));
    clock_.Advance(absl::Seconds(1));
  }
  QueueQuery q;
  q.service_line = "ortho";
  q.page_size = 3;
  absl::StatusOr<QueuePage> p1 = store().ListQueue(IntakeActor(), q);
  ASSERT_TRUE(p1.ok());
  ASSERT_FALSE(p1->next_page_token.empty());
  q.page_token = p1->next_page_token;
  absl::StatusOr<QueuePage> p2 = store().ListQueue(IntakeActor(), q);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->leads.size(), 3u);
  EXPECT_TRUE(p2->next_page_token.empty());
}

TEST_F(LeadStoreTest, ListQueueRejectsBadQueries) {
  QueueQuery q;
  q.service_line = "ortho";
  for (std::string token : {std::string("!!not base64!!"), std::string("AAAA"),
                            absl::WebSafeBase64Escape(std::string(23, 'x'))}) {
    q.page_token = token;
    EXPECT_EQ(store().ListQueue(IntakeActor(), q).status().code(),
              absl::StatusCode::kInvalidArgument)
        << token;
  }
  q.page_token.clear();
  q.page_size = -1;
  EXPECT_EQ(store().ListQueue(IntakeActor(), q).status().code(),
            absl::StatusCode::kInvalidArgument);
  q.page_size = 501;
  EXPECT_EQ(store().ListQueue(IntakeActor(), q).status().code(),
            absl::StatusCode::kInvalidArgument);
  q.page_size = 10;
  q.service_line = "Ortho";
  EXPECT_EQ(store().ListQueue(IntakeActor(), q).status().code(),
            absl::StatusCode::kInvalidArgument);
  q.service_line = "ortho";
  q.status = LeadStatus::kUnspecified;
  EXPECT_EQ(store().ListQueue(IntakeActor(), q).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(LeadStoreTest, UpdateStatusBumpsVersionAndMovesTheQueueEntry) {
  CreateResult created = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "k1"));
  clock_.Advance(absl::Minutes(10));
  LeadUpdate u;
  u.lead_id = created.lead_id;
  u.expected_version = 1;
  u.status = LeadStatus::kContacted;
  absl::StatusOr<LeadMetadata> m = store().UpdateLead(IntakeActor(), u);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->version, 2u);
  EXPECT_EQ(m->status, LeadStatus::kContacted);
  EXPECT_EQ(m->updated_at, clock_.Now());
  EXPECT_EQ(ListAll("ortho", LeadStatus::kContacted), std::vector<std::string>{created.lead_id});
  EXPECT_TRUE(ListAll("ortho", LeadStatus::kNew).empty());
  EXPECT_EQ(CountKeys(*vault_, Cf::kQueue), 1u);
  Lead lead = GetOrDie(created.lead_id);
  EXPECT_EQ(lead.meta.status, LeadStatus::kContacted);
  EXPECT_EQ(lead.meta.version, 2u);

  // The UpdateLead entry names the changed field.
  bool found = false;
  for (const auto& [seq, entry] : ReadAudit(*vault_)) {
    if (entry.action != "UpdateLead") continue;
    found = true;
    EXPECT_EQ(entry.fields, std::vector<std::string>{"status"});
    EXPECT_EQ(entry.lead_ids, std::vector<std::string>{EncodeLeadId(created.lead_id)});
  }
  EXPECT_TRUE(found);
}

TEST_F(LeadStoreTest, UpdateRefusesDisallowedTransitionsAndStaleVersions) {
  CreateResult created = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "k1"));
  const auto before = DumpAll(*vault_);
  LeadUpdate u;
  u.lead_id = created.lead_id;
  u.expected_version = 1;
  u.status = LeadStatus::kShowed;
  EXPECT_EQ(store().UpdateLead(IntakeActor(), u).status().code(),
            absl::StatusCode::kFailedPrecondition);
  u.status = LeadStatus::kContacted;
  u.expected_version = 7;
  EXPECT_EQ(store().UpdateLead(IntakeActor(), u).status().code(), absl::StatusCode::kAborted);
  u.expected_version = 0;
  EXPECT_EQ(store().UpdateLead(IntakeActor(), u).status().code(), absl::StatusCode::kAborted);
  u.lead_id = std::string(16, '\x01');
  u.expected_version = 1;
  EXPECT_EQ(store().UpdateLead(IntakeActor(), u).status().code(), absl::StatusCode::kNotFound);
  u.lead_id = created.lead_id;
  u.status = LeadStatus::kUnspecified;
  EXPECT_EQ(store().UpdateLead(IntakeActor(), u).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(DumpAll(*vault_) == before) << "a refused update must write nothing";

  // Once contacted, a second update with the old version is stale.
  u.status = LeadStatus::kContacted;
  ASSERT_TRUE(store().UpdateLead(IntakeActor(), u).ok());
  EXPECT_EQ(store().UpdateLead(IntakeActor(), u).status().code(), absl::StatusCode::kAborted);
}

TEST_F(LeadStoreTest, ConcurrentUpdatesWithTheSameVersionExactlyOneWins) {
  NewLead consented = MakeNewLead(LeadInput{}, "ortho", "k1");
  consented.consent = FullConsent(clock_.Now());
  CreateResult created = CreateOrDie(std::move(consented));
  constexpr int kThreads = 8;
  std::vector<absl::StatusCode> codes(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      LeadUpdate u;
      u.lead_id = created.lead_id;
      u.expected_version = 1;
      u.add_contact_attempts.push_back(
          {clock_.Now() - absl::Minutes(t), ContactChannel::kPhone, ContactOutcome::kVoicemail});
      codes[t] = store().UpdateLead(IntakeActor(), u).status().code();
    });
  }
  for (auto& th : threads) th.join();
  int ok = 0;
  for (absl::StatusCode c : codes) {
    if (c == absl::StatusCode::kOk) {
      ++ok;
    } else {
      EXPECT_EQ(c, absl::StatusCode::kAborted);
    }
  }
  EXPECT_EQ(ok, 1);
  Lead lead = GetOrDie(created.lead_id);
  EXPECT_EQ(lead.meta.version, 2u);
  EXPECT_EQ(lead.meta.contact_attempts.size(), 1u);
}

TEST_F(LeadStoreTest, ContactAttemptsAreAppended) {
  NewLead consented = MakeNewLead(LeadInput{}, "ortho", "k1");
  consented.consent = FullConsent(clock_.Now());
  CreateResult created = CreateOrDie(std::move(consented));
  const absl::Time now = clock_.Now();
  LeadUpdate u;
  u.lead_id = created.lead_id;
  u.expected_version = 1;
  u.add_contact_attempts = {
      {now - absl::Hours(2), ContactChannel::kPhone, ContactOutcome::kNoAnswer},
      {now - absl::Hours(1), ContactChannel::kSms, ContactOutcome::kReplied}};
  absl::StatusOr<LeadMetadata> m = store().UpdateLead(IntakeActor(), u);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->contact_attempts.size(), 2u);
  u.expected_version = 2;
  u.add_contact_attempts = {{now, ContactChannel::kEmail, ContactOutcome::kConnected}};
  m = store().UpdateLead(IntakeActor(), u);
  ASSERT_TRUE(m.ok()) << m.status();

  Lead lead = GetOrDie(created.lead_id);
  EXPECT_EQ(lead.meta.version, 3u);
  ASSERT_EQ(lead.meta.contact_attempts.size(), 3u);
  EXPECT_EQ(lead.meta.contact_attempts[0].at, now - absl::Hours(2));
  EXPECT_EQ(lead.meta.contact_attempts[0].outcome, ContactOutcome::kNoAnswer);
  EXPECT_EQ(lead.meta.contact_attempts[1].channel, ContactChannel::kSms);
  EXPECT_EQ(lead.meta.contact_attempts[2].channel, ContactChannel::kEmail);
  EXPECT_EQ(lead.meta.contact_attempts[2].at, now);
  EXPECT_EQ(lead.meta.status, LeadStatus::kNew);

  // Invalid attempts are refused.
  u.expected_version = 3;
  u.add_contact_attempts = {
      {now + absl::Hours(1), ContactChannel::kEmail, ContactOutcome::kConnected}};
  EXPECT_EQ(store().UpdateLead(IntakeActor(), u).status().code(),
            absl::StatusCode::kInvalidArgument);
  u.add_contact_attempts = {{now, ContactChannel::kUnspecified, ContactOutcome::kConnected}};
  EXPECT_EQ(store().UpdateLead(IntakeActor(), u).status().code(),
            absl::StatusCode::kInvalidArgument);
  u.add_contact_attempts.assign(21, {now, ContactChannel::kPhone, ContactOutcome::kConnected});
  EXPECT_EQ(store().UpdateLead(IntakeActor(), u).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(LeadStoreTest, TamperedCiphertextIsDataLoss) {
  CreateResult created = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "k1"));
  const internal::LeadRecord original = ReadRecord(created.lead_id);
  ASSERT_EQ(original.fields_size(), 11);
  const size_t audit_before = CountKeys(*vault_, Cf::kAudit);
  for (int f : {0, 2, 10}) {
    // Flip a byte in the nonce, in the body and in the tag.
    const size_t len = original.fields(f).ciphertext().size();
    for (size_t pos : {size_t{5}, len / 2 + 12, len - 1}) {
      internal::LeadRecord r = original;
      std::string* ct = r.mutable_fields(f)->mutable_ciphertext();
      (*ct)[pos] = static_cast<char>((*ct)[pos] ^ 0x01);
      WriteRecord(created.lead_id, r);
      absl::StatusOr<Lead> lead = store().GetLead(IntakeActor(), created.lead_id);
      ASSERT_FALSE(lead.ok()) << "field " << f << " pos " << pos;
      EXPECT_EQ(lead.status().code(), absl::StatusCode::kDataLoss) << lead.status();
      EXPECT_EQ(lead.status().message().find("Zebulon"), absl::string_view::npos);
    }
  }
  // A field number swapped with another is caught too.
  internal::LeadRecord swapped = original;
  swapped.mutable_fields(0)->set_field(2);
  swapped.mutable_fields(1)->set_field(1);
  WriteRecord(created.lead_id, swapped);
  EXPECT_EQ(store().GetLead(IntakeActor(), created.lead_id).status().code(),
            absl::StatusCode::kDataLoss);
  // Nothing was disclosed, so no entry records a successful read.
  auto audit = ReadAudit(*vault_);
  for (size_t i = audit_before; i < audit.size(); ++i) {
    EXPECT_FALSE(audit[i].second.action == "GetLead" &&
                 audit[i].second.outcome == audit::Outcome::kAllowed);
  }

  WriteRecord(created.lead_id, original);
  EXPECT_TRUE(store().GetLead(IntakeActor(), created.lead_id).ok());
}

TEST_F(LeadStoreTest, CiphertextMovedToAnotherLeadIsDataLoss) {
  CreateResult a = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "k1"));
  LeadInput other;
  other.email = "someone.else@example.com";
  other.phone = "650-253-0011";
  CreateResult b = CreateOrDie(MakeNewLead(other, "ortho", "k2"));
  internal::LeadRecord ra = ReadRecord(a.lead_id);
  internal::LeadRecord rb = ReadRecord(b.lead_id);
  ASSERT_EQ(ra.fields(0).field(), 1u);
  ASSERT_EQ(rb.fields(0).field(), 1u);
  *rb.mutable_fields(0)->mutable_ciphertext() = ra.fields(0).ciphertext();
  WriteRecord(b.lead_id, rb);
  absl::StatusOr<Lead> lead = store().GetLead(IntakeActor(), b.lead_id);
  ASSERT_FALSE(lead.ok());
  EXPECT_EQ(lead.status().code(), absl::StatusCode::kDataLoss) << lead.status();
  EXPECT_TRUE(store().GetLead(IntakeActor(), a.lead_id).ok());
}

TEST_F(LeadStoreTest, DataKeyMovedToAnotherLeadIsDataLoss) {
  CreateResult a = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "k1"));
  LeadInput other;
  other.email = "someone.else@example.com";
  other.phone = "650-253-0011";
  CreateResult b = CreateOrDie(MakeNewLead(other, "ortho", "k2"));
  // B's record with A's ciphertexts and A's wrapped data key: the key wrap binds the lead id.
  absl::StatusOr<std::string> dek_a = vault_->database().Get(Cf::kDek, a.lead_id);
  ASSERT_TRUE(dek_a.ok());
  WriteRecord(b.lead_id, ReadRecord(a.lead_id));
  rocksdb::WriteOptions options;
  options.sync = true;
  ASSERT_TRUE(vault_->database()
                  .db()
                  ->Put(options, vault_->database().cf(Cf::kDek), b.lead_id, *dek_a)
                  .ok());
  absl::StatusOr<Lead> lead = store().GetLead(IntakeActor(), b.lead_id);
  ASSERT_FALSE(lead.ok());
  EXPECT_EQ(lead.status().code(), absl::StatusCode::kDataLoss) << lead.status();

  // A flipped bit in a wrapped data key is caught as well.
  std::string flipped = *dek_a;
  flipped[flipped.size() - 3] ^= 0x10;
  ASSERT_TRUE(vault_->database()
                  .db()
                  ->Put(options, vault_->database().cf(Cf::kDek), a.lead_id, flipped)
                  .ok());
  EXPECT_EQ(store().GetLead(IntakeActor(), a.lead_id).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(LeadStoreTest, ConcurrentCreatesOfTheSameEmailMakeOneLead) {
  constexpr int kThreads = 8;
  std::vector<absl::StatusOr<CreateResult>> results(kThreads, absl::UnknownError("unset"));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      LeadInput in;
      in.phone = absl::StrCat("650-253-01", 10 + t);  // Distinct phones, same email.
      in.email = t % 2 == 0 ? "same.person@example.com" : "Same.Person@EXAMPLE.com";
      results[t] =
          store().CreateLead(CaptureActor(), MakeNewLead(in, "ortho", absl::StrCat("key", t)));
    });
  }
  for (auto& th : threads) th.join();
  int created = 0;
  std::set<std::string> ids;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    ids.insert(r->lead_id);
    if (!r->duplicate) ++created;
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(CountKeys(*vault_, Cf::kLeads), 1u);
  Lead lead = GetOrDie(*ids.begin());
  EXPECT_EQ(lead.meta.touches.size(), 1u);  // one per sender: its newest
  EXPECT_EQ(lead.meta.version, 1u);         // touches never bump the version
}

// ---- Holes from the outside security review (issue 8) ----------------------

namespace review {

class ReviewTest : public VaultFixture {
 protected:
  void SetUp() override { OpenOrDie(); }
  LeadStore& store() { return vault_->leads(); }
  CreateResult CreateOrDie(NewLead lead, const Actor& actor) {
    absl::StatusOr<CreateResult> r = store().CreateLead(actor, std::move(lead));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CreateResult{};
  }
  static Actor IntakeOf(std::string line) {
    Actor a = MakeActor("00000000000000a9", "intake");
    a.service_lines = {std::move(line)};
    return a;
  }
  // What an actor can learn from GetLead of an id, as comparable text.
  std::string Observe(const Actor& actor, const std::string& id) {
    absl::StatusOr<Lead> lead = store().GetLead(actor, id);
    if (!lead.ok()) return lead.status().ToString();
    const LeadMetadata& m = lead->meta;
    return absl::StrCat("OK status=", static_cast<int>(m.status), " version=", m.version,
                        " touches=", m.touches.size(), " attempts=", m.contact_attempts.size(),
                        " updated=", m.updated_at == m.created_at ? 1 : 0, " by=", m.created_by,
                        " fields=", lead->pii.Has(PiiField::kEmail) ? 1 : 0);
  }
};

// A capture principal that knows someone's email learns nothing about the
// lead another principal made for them: not its id, version or existence,
// whatever else it does with the id it gets back.
TEST_F(ReviewTest, CaptureNeverLearnsOfALeadItDidNotCreate) {
  const Actor oncology_form = MakeActor("00000000000000b1", "capture");
  Actor prober = MakeActor("00000000000000b2", "capture,intake");  // a call centre
  prober.service_lines = {"ortho"};
  LeadInput person;
  CreateResult theirs = CreateOrDie(MakeNewLead(person, "oncology", "o-1"), oncology_form);
  // Intake works the oncology lead: its version moves on.
  LeadUpdate u;
  u.lead_id = theirs.lead_id;
  u.expected_version = 1;
  u.status = LeadStatus::kContacted;
  ASSERT_TRUE(store().UpdateLead(IntakeOf("oncology"), u).ok());

  // The prober submits the person to oncology, and a stranger likewise.
  CreateResult mine =
      CreateOrDie(MakeNewLead(person, "oncology", "p-1", SourceChannel::kPaidSocial), prober);
  LeadInput stranger;
  stranger.email = "stranger@example.com";
  stranger.phone = "650-253-0111";
  CreateResult fresh =
      CreateOrDie(MakeNewLead(stranger, "oncology", "p-2", SourceChannel::kPaidSocial), prober);
  EXPECT_NE(mine.lead_id, theirs.lead_id);
  EXPECT_EQ(mine.duplicate, fresh.duplicate);
  EXPECT_EQ(mine.version, fresh.version);

  // Everything it can do with the two ids answers alike: every purpose...
  std::vector<std::optional<Purpose>> purposes = {std::nullopt};
  purposes.insert(purposes.end(), kAllPurposes.begin(), kAllPurposes.end());
  for (std::optional<Purpose> purpose : purposes) {
    Actor a = prober;
    a.purpose = purpose;
    EXPECT_EQ(Observe(a, mine.lead_id), Observe(a, fresh.lead_id))
        << "purpose " << (purpose ? PurposeName(*purpose) : "none");
  }
  // ...look-ups (neither oncology lead is in its intake scope)...
  for (const std::string& email : {person.email, stranger.email}) {
    auto found = store().FindLeads(prober, LookupKind::kEmail, email);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_TRUE(found->empty());
  }
  // ...updates and break-glass.
  for (const std::string& id : {mine.lead_id, fresh.lead_id}) {
    LeadUpdate w;
    w.lead_id = id;
    w.expected_version = 1;
    w.status = LeadStatus::kContacted;
    absl::Status updated = store().UpdateLead(prober, w).status();
    EXPECT_TRUE(absl::IsNotFound(updated)) << updated;
    absl::Status opened = vault_->emergency()
                              .OpenGrant(prober, "triage needs the details", {id}, absl::Minutes(5))
                              .status();
    EXPECT_TRUE(absl::IsNotFound(opened)) << opened;
  }
  // The oncology lead itself is as missing as a made-up id, under any purpose.
  for (Purpose purpose : {Purpose::kTreatment, Purpose::kEmergency}) {
    Actor a = prober;
    a.purpose = purpose;
    EXPECT_EQ(Observe(a, theirs.lead_id), Observe(a, std::string(16, '\x42')));
  }

  // A second submission of each: both duplicates of what it was given.
  CreateResult again = CreateOrDie(MakeNewLead(person, "oncology", "p-3"), prober);
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.lead_id, mine.lead_id);
  CreateResult fresh_again = CreateOrDie(MakeNewLead(stranger, "oncology", "p-4"), prober);
  EXPECT_TRUE(fresh_again.duplicate);
  EXPECT_EQ(fresh_again.lead_id, fresh.lead_id);
  EXPECT_EQ(again.version, fresh_again.version);

  // The receipt is its sender's alone.
  EXPECT_TRUE(absl::IsNotFound(store().GetLead(oncology_form, mine.lead_id).status()));
  EXPECT_TRUE(absl::IsNotFound(store().GetLead(IntakeOf("oncology"), mine.lead_id).status()));

  // The oncology lead got the submissions as touches (one per sender), its version untouched;
  // its creator sees only its own submission: not intake's progress, not the touches.
  absl::StatusOr<Lead> merged = store().GetLead(IntakeOf("oncology"), theirs.lead_id);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->meta.version, 2u);
  EXPECT_EQ(merged->meta.touches.size(), 1u);
  EXPECT_EQ(Observe(oncology_form, theirs.lead_id),
            "OK status=0 version=0 touches=0 attempts=0 updated=1 by=00000000000000b1 fields=0");

  // In its own service line the person is a new lead of its own (another
  // service line's lead is another team's), which its intake desk works.
  CreateResult ortho = CreateOrDie(MakeNewLead(person, "ortho", "p-5"), prober);
  EXPECT_FALSE(ortho.duplicate);
  EXPECT_NE(ortho.lead_id, theirs.lead_id);
  EXPECT_NE(ortho.lead_id, mine.lead_id);
  auto found = store().FindLeads(prober, LookupKind::kEmail, person.email);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->front().id, ortho.lead_id);

  // A desk that can see the oncology lead anyway is told of it.
  Actor oncology_desk = MakeActor("00000000000000b3", "capture,intake");
  oncology_desk.service_lines = {"oncology"};
  CreateResult known = CreateOrDie(MakeNewLead(person, "oncology", "q-1"), oncology_desk);
  EXPECT_TRUE(known.duplicate);
  EXPECT_EQ(known.lead_id, theirs.lead_id);
  // ...and that is a disclosure in the accounting, like a look-up: a create is
  // no unaccounted way to ask whether someone is a lead.
  auto accounting = vault_->audit().AccountingOfDisclosures(
      MakeActor("00000000000000e1", "compliance"), theirs.lead_id, absl::InfinitePast(), 0);
  ASSERT_TRUE(accounting.ok()) << accounting.status();
  ASSERT_FALSE(accounting->disclosures.empty());
  const audit::AuditEntry& last = accounting->disclosures.back().entry.entry;
  EXPECT_EQ(last.action, "CreateLead");
  EXPECT_EQ(last.principal_id, oncology_desk.principal_id);
  EXPECT_NE(std::find(last.fields.begin(), last.fields.end(), "match:email"), last.fields.end());
  // The prober's receipts were no disclosure of the oncology lead.
  for (const Disclosure& d : accounting->disclosures) {
    EXPECT_NE(d.entry.entry.principal_id, prober.principal_id);
  }
}

TEST_F(ReviewTest, DuplicateSubmissionsNeitherBumpTheVersionNorGrowWithoutBound) {
  const Actor form = CaptureActor();
  CreateResult first = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "k0"), form);
  for (int i = 1; i <= 25; ++i) {
    clock_.Advance(absl::Minutes(1));
    CreateOrDie(MakeNewLead(LeadInput{}, "ortho", absl::StrCat("k", i), SourceChannel::kPaidSocial,
                            absl::StrCat("retarget-", i)),
                MakeActor(absl::StrCat("00000000000000", 10 + i), "capture"));
  }
  // Intake's update with the version it read before the flood still applies.
  LeadUpdate u;
  u.lead_id = first.lead_id;
  u.expected_version = 1;
  u.status = LeadStatus::kContacted;
  ASSERT_TRUE(store().UpdateLead(IntakeActor(), u).ok());
  absl::StatusOr<Lead> lead = store().GetLead(IntakeActor(), first.lead_id);
  ASSERT_TRUE(lead.ok());
  ASSERT_EQ(lead->meta.touches.size(), kMaxTouches);
  EXPECT_EQ(lead->meta.touches.front().attribution.campaign, "retarget-6");
  EXPECT_EQ(lead->meta.touches.back().attribution.campaign, "retarget-25");
  // One sender repeating itself keeps one touch (its newest): it cannot push
  // the others out of the ring.
  const Actor repeater = MakeActor("0000000000000099", "capture");
  for (int i = 0; i < 30; ++i) {
    clock_.Advance(absl::Minutes(1));
    CreateOrDie(MakeNewLead(LeadInput{}, "ortho", absl::StrCat("r", i), SourceChannel::kEvent,
                            absl::StrCat("repeat-", i)),
                repeater);
  }
  lead = store().GetLead(IntakeActor(), first.lead_id);
  ASSERT_TRUE(lead.ok());
  ASSERT_EQ(lead->meta.touches.size(), kMaxTouches);
  EXPECT_EQ(lead->meta.touches.front().attribution.campaign, "retarget-7");
  EXPECT_EQ(lead->meta.touches.back().attribution.campaign, "repeat-29");
  // Lists carry no touches.
  QueueQuery q;
  q.service_line = "ortho";
  q.status = LeadStatus::kContacted;
  absl::StatusOr<QueuePage> page = store().ListQueue(IntakeActor(), q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->leads.size(), 1u);
  EXPECT_TRUE(page->leads[0].touches.empty());
  auto found = store().FindLeads(IntakeActor(), LookupKind::kEmail, LeadInput{}.email);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_TRUE(found->front().touches.empty());
}

TEST_F(ReviewTest, AQueuePageIsBoundedByBytesAndStillReachesEveryLead) {
  const std::string fat(200, 'x');
  constexpr int kLeads = 420;  // ~3.3 KB of attribution each: ~1.3 MiB in all
  for (int i = 0; i < kLeads; ++i) {
    NewLead lead = MakeNewLead(EmailOnlyInput(i), "ortho", absl::StrCat("fat-", i));
    lead.attribution.campaign = lead.attribution.utm_source = lead.attribution.utm_medium =
        lead.attribution.utm_campaign = lead.attribution.utm_term = lead.attribution.utm_content =
            fat;
    lead.attribution.landing_page = "https://clinic.example/" + std::string(2000, 'p');
    CreateOrDie(std::move(lead), CaptureActor());
  }
  QueueQuery q;
  q.service_line = "ortho";
  q.status = LeadStatus::kNew;
  q.page_size = kMaxQueuePageSize;
  std::set<std::string> seen;
  int pages = 0;
  do {
    absl::StatusOr<QueuePage> page = store().ListQueue(IntakeActor(), q);
    ASSERT_TRUE(page.ok()) << page.status();
    size_t bytes = 0;
    for (const LeadMetadata& m : page->leads) {
      bytes += m.attribution.landing_page.size() + 6 * fat.size();
      seen.insert(m.id);
    }
    EXPECT_LE(bytes, kMaxListReplyBytes + 4096);
    q.page_token = page->next_page_token;
    ++pages;
  } while (!q.page_token.empty());
  EXPECT_EQ(seen.size(), static_cast<size_t>(kLeads));
  EXPECT_GE(pages, 2) << "500 fat leads do not fit one reply";
}

TEST_F(ReviewTest, AnIdempotencyKeyReusedWithADifferentRequestIsRefused) {
  CreateResult first = CreateOrDie(MakeNewLead(LeadInput{}, "ortho", "idem-9"), CaptureActor());
  LeadInput other;
  other.email = "someone.else@example.com";
  other.phone = "650-253-0199";
  const auto before = DumpState(*vault_);
  absl::StatusOr<CreateResult> reused =
      store().CreateLead(CaptureActor(), MakeNewLead(other, "ortho", "idem-9"));
  EXPECT_TRUE(absl::IsFailedPrecondition(reused.status())) << reused.status();
  EXPECT_NE(reused.status().message().find("idempotency_key"), absl::string_view::npos);
  EXPECT_EQ(reused.status().message().find("someone"), absl::string_view::npos);
  EXPECT_TRUE(DumpState(*vault_) == before);
  // Same body in another spelling (same normalized request): still a retry.
  LeadInput same;
  same.email = "  zeb.quixworth@EXAMPLE.org ";  // the domain's case is normalized
  same.phone = "+1 650 253 0042";
  absl::StatusOr<CreateResult> retry =
      store().CreateLead(CaptureActor(), MakeNewLead(same, "ortho", "idem-9"));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->lead_id, first.lead_id);
  // Different attribution is a different request too.
  absl::StatusOr<CreateResult> moved = store().CreateLead(
      CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "idem-9", SourceChannel::kEvent));
  EXPECT_TRUE(absl::IsFailedPrecondition(moved.status())) << moved.status();
}

class EditedMetadataTest : public ReviewTest, public ::testing::WithParamInterface<std::string> {};

// An offline edit of access-relevant metadata fails instead of moving a lead
// into another principal's scope.
TEST_P(EditedMetadataTest, IsDataLoss) {
  CreateResult lead = CreateOrDie(MakeNewLead(LeadInput{}, "oncology", "e-1"), CaptureActor());
  absl::StatusOr<std::string> bytes = vault_->database().Get(Cf::kLeads, lead.lead_id);
  ASSERT_TRUE(bytes.ok());
  internal::LeadRecord r;
  ASSERT_TRUE(r.ParseFromString(*bytes));
  const std::string what = GetParam();
  if (what == "service_line") r.mutable_attribution()->set_service_line("ortho");
  if (what == "created_by") r.set_created_by("00000000000000c9");
  if (what == "status") r.set_status(static_cast<int>(LeadStatus::kQualified));
  if (what == "version") r.set_version(5);
  if (what == "created_at") r.set_created_at_unix_micros(r.created_at_unix_micros() + 1);
  if (what == "mac") r.clear_metadata_mac();
  rocksdb::WriteOptions sync;
  sync.sync = true;
  ASSERT_TRUE(
      vault_->database()
          .db()
          ->Put(sync, vault_->database().cf(Cf::kLeads), lead.lead_id, r.SerializeAsString())
          .ok());
  Actor ortho = IntakeOf("ortho");
  Actor both = IntakeOf("ortho");
  both.service_lines.push_back("oncology");
  absl::Status read = store().GetLead(both, lead.lead_id).status();
  EXPECT_TRUE(absl::IsDataLoss(read)) << read;
  EXPECT_FALSE(store().GetLead(ortho, lead.lead_id).ok());
  LeadUpdate u;
  u.lead_id = lead.lead_id;
  u.expected_version = r.version();
  u.status = LeadStatus::kDisqualified;
  EXPECT_TRUE(absl::IsDataLoss(store().UpdateLead(both, u).status()));
  EXPECT_TRUE(
      absl::IsDataLoss(store().FindLeads(both, LookupKind::kEmail, LeadInput{}.email).status()));
}

INSTANTIATE_TEST_SUITE_P(EveryField, EditedMetadataTest,
                         ::testing::Values("service_line", "created_by", "status", "version",
                                           "created_at", "mac"));

TEST_F(ReviewTest, FindLeadsNeedsAPurposeItsRoleMayStateAndReturnsAtMostSixteen) {
  Actor intake = IntakeActor();
  intake.purpose = std::nullopt;
  EXPECT_TRUE(absl::IsInvalidArgument(
      store().FindLeads(intake, LookupKind::kEmail, LeadInput{}.email).status()));
  intake.purpose = Purpose::kEmergency;
  EXPECT_TRUE(absl::IsPermissionDenied(
      store().FindLeads(intake, LookupKind::kEmail, LeadInput{}.email).status()));
  Actor compliance = MakeActor("00000000000000e1", "compliance");
  compliance.purpose = Purpose::kTreatment;
  EXPECT_TRUE(absl::IsPermissionDenied(
      store().FindLeads(compliance, LookupKind::kEmail, LeadInput{}.email).status()));
  compliance.purpose = Purpose::kPatientRequest;
  EXPECT_TRUE(store().FindLeads(compliance, LookupKind::kEmail, LeadInput{}.email).ok());
}

}  // namespace review
}  // namespace
}  // namespace leadvault::vault::testing
