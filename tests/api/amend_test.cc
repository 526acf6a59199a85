// AmendLead and ListAmendments (HIPAA 164.526): a correction replaces the
// lead's values, keeps the previous ones in an encrypted history shown to
// each role as it sees the field, moves the blind indexes, makes consent
// given for an old contact stop covering the new one, and is refused with
// nothing written for every bad request, role, scope and purpose.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/api/api_test_util.h"
#include "tests/testing/rpc_error_check.h"

namespace leadvault::api {
namespace {

using testing_util::ApiTest;

constexpr char kReason[] = "patient called: the email and surname were misspelt";

class AmendTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (HasFatalFailure()) return;
    consent_ = v1::Consent::NewStub(channel_);
    compliance_ = NewPrincipal("privacy office", {"compliance"});
    other_desk_ = NewPrincipalWithLines("ortho desk", {"intake"}, {"orthopedics"});
    capture_ = NewPrincipal("web form", {"capture"});
  }

  v1::LeadMetadata Get(const std::string& id, const std::string& token,
                       v1::GetLeadResponse* out = nullptr) {
    v1::GetLeadRequest r;
    r.set_lead_id(id);
    r.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
    v1::GetLeadResponse response;
    grpc::Status s = leads_->GetLead(Ctx(token).get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    if (out != nullptr) *out = response;
    return response.lead().metadata();
  }

  v1::AmendLeadRequest Amend(const std::string& id, uint64_t version) {
    v1::AmendLeadRequest r;
    r.set_lead_id(id);
    r.set_expected_version(version);
    r.set_purpose(v1::PURPOSE_OF_USE_PATIENT_REQUEST);
    r.set_reason(kReason);
    return r;
  }

  grpc::Status Call(const v1::AmendLeadRequest& r, const std::string& token,
                    v1::AmendLeadResponse* response) {
    return leads_->AmendLead(Ctx(token).get(), r, response);
  }

  std::vector<std::string> Find(const std::string& email) { return FindIds(true, email); }

  v1::ListAmendmentsResponse History(const std::string& id, const std::string& token,
                                     v1::PurposeOfUse purpose = v1::PURPOSE_OF_USE_OPERATIONS) {
    v1::ListAmendmentsRequest r;
    r.set_lead_id(id);
    r.set_purpose(purpose);
    v1::ListAmendmentsResponse response;
    grpc::Status s = leads_->ListAmendments(Ctx(token).get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return response;
  }

  audit::AuditEntry LastEntry() {
    auto stored = vault_->audit_log().ReadEntry(vault_->audit_log().size());
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? stored->entry : audit::AuditEntry();
  }

  std::unique_ptr<v1::Consent::Stub> consent_;
  std::string compliance_, other_desk_, capture_;
};

TEST_F(AmendTest, AmendReplacesValuesKeepsTheHistoryAndMovesTheIndex) {
  const std::string id = CreateLead("amend-1", "ada.lovelase@example.com");
  v1::AmendLeadRequest r = Amend(id, 1);
  r.mutable_personal()->set_email("Ada.Lovelace@EXAMPLE.com");
  r.mutable_personal()->set_last_name("Lovelace-King");
  r.mutable_personal()->set_first_name("Ada");  // equal to the current value: no change
  r.add_clear(v1::PERSONAL_FIELD_NOTES);
  v1::AmendLeadResponse amended;
  grpc::Status s = Call(r, worker_token_, &amended);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(amended.metadata().version(), 2u);
  EXPECT_EQ(amended.amendment_number(), 1u);
  ASSERT_EQ(amended.amended_size(), 3);
  EXPECT_EQ(amended.amended(0), v1::PERSONAL_FIELD_LAST_NAME);
  EXPECT_EQ(amended.amended(1), v1::PERSONAL_FIELD_EMAIL);
  EXPECT_EQ(amended.amended(2), v1::PERSONAL_FIELD_NOTES);

  // The audit entry names the fields, never a value or the reason.
  audit::AuditEntry entry = LastEntry();
  EXPECT_EQ(entry.action, "AmendLead");
  EXPECT_EQ(entry.purpose, "patient_request");
  EXPECT_EQ(entry.fields,
            (std::vector<std::string>{"amended:last_name", "amended:email", "cleared:notes"}));
  const std::string canonical = audit::EncodeCanonical(entry);
  for (const char* value : {"Lovelace-King", "lovelase", "example.com", "misspelt", "mornings"}) {
    EXPECT_FALSE(absl::StrContains(canonical, value)) << value;
  }

  v1::GetLeadResponse read;
  Get(id, worker_token_, &read);
  EXPECT_EQ(read.lead().personal().email(), "Ada.Lovelace@example.com");
  EXPECT_EQ(read.lead().personal().last_name(), "Lovelace-King");
  EXPECT_TRUE(read.lead().personal().notes().empty());
  EXPECT_EQ(read.lead().personal().first_name(), "Ada");

  // The blind index follows: the new address finds the lead, the old one nothing;
  // a new submission of the new address is a duplicate of it.
  EXPECT_EQ(Find("ada.lovelace@example.com"), std::vector<std::string>{id});
  EXPECT_TRUE(Find("ada.lovelase@example.com").empty());
  v1::CreateLeadResponse again;
  ASSERT_TRUE(leads_
                  ->CreateLead(Ctx(worker_token_).get(),
                               ValidCreate("amend-1-again", "ada.lovelace@example.com"), &again)
                  .ok());
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.lead_id(), id);
  v1::CreateLeadResponse old_address;
  ASSERT_TRUE(leads_
                  ->CreateLead(Ctx(worker_token_).get(),
                               ValidCreate("amend-1-old", "ada.lovelase@example.com"), &old_address)
                  .ok());
  EXPECT_FALSE(old_address.duplicate()) << "the corrected-away address is no longer the lead's";
  EXPECT_NE(old_address.lead_id(), id);

  // Intake reads the history in clear; compliance as it sees the fields.
  v1::ListAmendmentsResponse history = History(id, worker_token_);
  ASSERT_EQ(history.amendments_size(), 1);
  const v1::Amendment& a = history.amendments(0);
  EXPECT_EQ(a.number(), 1u);
  EXPECT_EQ(a.version(), 2u);
  EXPECT_EQ(a.reason(), kReason);
  EXPECT_EQ(a.purpose(), v1::PURPOSE_OF_USE_PATIENT_REQUEST);
  ASSERT_EQ(a.changes_size(), 3);
  EXPECT_EQ(a.changes(0).previous(), "Lovelace");
  EXPECT_EQ(a.changes(1).previous(), "ada.lovelase@example.com");
  EXPECT_EQ(a.changes(2).previous(), "prefers mornings");
  EXPECT_TRUE(a.changes(2).cleared());
  EXPECT_FALSE(a.changes(1).masked());
  EXPECT_EQ(LastEntry().action, "ListAmendments");
  EXPECT_EQ(LastEntry().fields, (std::vector<std::string>{"previous:last_name", "previous:email",
                                                          "previous:notes", "reason"}));

  v1::ListAmendmentsResponse seen = History(id, compliance_);
  ASSERT_EQ(seen.amendments_size(), 1);
  for (const v1::AmendedField& c : seen.amendments(0).changes()) {
    EXPECT_TRUE(c.hidden() || c.masked()) << v1::PersonalField_Name(c.field());
    EXPECT_FALSE(absl::StrContains(c.previous(), "lovelase")) << "compliance reads no identifier";
    EXPECT_FALSE(absl::StrContains(c.previous(), "Lovelace"));
  }

  // Every row the lead owns is where its record says, none left behind.
  ExpectLeadRowsConsistent();
}

TEST_F(AmendTest, HistoryPagesNewestFirstAndIsBounded) {
  const std::string id = CreateLead("amend-pages", "pages@example.com");
  for (uint64_t v = 1; v <= 5; ++v) {
    v1::AmendLeadRequest r = Amend(id, v);
    r.mutable_personal()->set_city("City " + std::to_string(v));
    v1::AmendLeadResponse amended;
    ASSERT_TRUE(Call(r, worker_token_, &amended).ok());
  }
  v1::ListAmendmentsRequest page;
  page.set_lead_id(id);
  page.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
  page.set_page_size(2);
  std::vector<uint32_t> numbers;
  for (int i = 0; i < 5; ++i) {
    v1::ListAmendmentsResponse response;
    ASSERT_TRUE(leads_->ListAmendments(Ctx(worker_token_).get(), page, &response).ok());
    for (const auto& a : response.amendments()) numbers.push_back(a.number());
    if (response.next_page_token().empty()) break;
    page.set_page_token(response.next_page_token());
  }
  EXPECT_EQ(numbers, (std::vector<uint32_t>{5, 4, 3, 2, 1}));
  page.set_page_token("AAAAYw");  // amendment 99: not of this lead
  v1::ListAmendmentsResponse response;
  EXPECT_EQ(leads_->ListAmendments(Ctx(worker_token_).get(), page, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  page.clear_page_token();
  page.set_page_size(51);
  EXPECT_EQ(leads_->ListAmendments(Ctx(worker_token_).get(), page, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AmendTest, RefusalsWriteNothing) {
  const std::string id = CreateLead("amend-refused", "refused@example.com");
  const std::string other = CreateLead("amend-other", "other@example.com");
  const uint64_t entries_before = vault_->audit_log().size();
  struct Case {
    std::string name;
    std::string token;
    v1::AmendLeadRequest request;
    grpc::StatusCode code;
    std::string reason;
  };
  auto with = [&](auto mutate) {
    v1::AmendLeadRequest r = Amend(id, 1);
    r.mutable_personal()->set_last_name("Byron");
    mutate(r);
    return r;
  };
  std::vector<Case> cases = {
      {"stale version", worker_token_, with([](auto& r) { r.set_expected_version(7); }),
       grpc::StatusCode::ABORTED, "VERSION_CONFLICT"},
      {"no purpose", worker_token_, with([](auto& r) { r.clear_purpose(); }),
       grpc::StatusCode::INVALID_ARGUMENT, "INVALID_FIELD"},
      {"treatment", worker_token_,
       with([](auto& r) { r.set_purpose(v1::PURPOSE_OF_USE_TREATMENT); }),
       grpc::StatusCode::PERMISSION_DENIED, "PURPOSE_NOT_ALLOWED"},
      {"short reason", worker_token_, with([](auto& r) { r.set_reason("typo"); }),
       grpc::StatusCode::INVALID_ARGUMENT, "INVALID_FIELD"},
      {"bad email", worker_token_,
       with([](auto& r) { r.mutable_personal()->set_email("zqxamend@@mail"); }),
       grpc::StatusCode::INVALID_ARGUMENT, "INVALID_FIELD"},
      {"set and cleared", worker_token_,
       with([](auto& r) { r.add_clear(v1::PERSONAL_FIELD_LAST_NAME); }),
       grpc::StatusCode::INVALID_ARGUMENT, "INVALID_FIELD"},
      {"unknown field", worker_token_,
       with([](auto& r) { r.add_clear(static_cast<v1::PersonalField>(42)); }),
       grpc::StatusCode::INVALID_ARGUMENT, "INVALID_FIELD"},
      {"no contact left", worker_token_, with([](auto& r) {
         r.clear_personal();
         r.add_clear(v1::PERSONAL_FIELD_EMAIL);
       }),
       grpc::StatusCode::INVALID_ARGUMENT, "INVALID_FIELD"},
      {"nothing to change", worker_token_,
       with([](auto& r) { r.mutable_personal()->set_last_name("Lovelace"); }),
       grpc::StatusCode::INVALID_ARGUMENT, "INVALID_FIELD"},
      {"another lead's email", worker_token_,
       with([](auto& r) { r.mutable_personal()->set_email("other@example.com"); }),
       grpc::StatusCode::FAILED_PRECONDITION, "CONTACT_IN_USE"},
      {"capture role", capture_, with([](auto&) {}), grpc::StatusCode::PERMISSION_DENIED,
       "ROLE_NOT_ALLOWED"},
      {"compliance role", compliance_, with([](auto&) {}), grpc::StatusCode::PERMISSION_DENIED,
       "ROLE_NOT_ALLOWED"},
      {"out of scope", other_desk_, with([](auto&) {}), grpc::StatusCode::NOT_FOUND, "NOT_FOUND"},
  };
  for (const Case& c : cases) {
    v1::AmendLeadResponse response;
    grpc::Status s = Call(c.request, c.token, &response);
    EXPECT_EQ(s.error_code(), c.code) << c.name << ": " << s.error_message();
    EXPECT_EQ(testing::DecodeErrorDetails(s).info.reason(), c.reason) << c.name;
    EXPECT_FALSE(absl::StrContains(s.error_message(), "zqxamend")) << c.name;
    EXPECT_FALSE(absl::StrContains(s.error_message(), "other@")) << c.name;
  }
  EXPECT_EQ(vault_->audit_log().size(), entries_before + cases.size())
      << "one failure entry per refused call";
  EXPECT_EQ(Get(id, worker_token_).version(), 1u);
  EXPECT_EQ(Get(other, worker_token_).version(), 1u);
  EXPECT_TRUE(History(id, worker_token_).amendments().empty());
}

TEST_F(AmendTest, ConsentForAnOldContactDoesNotCoverTheNewOne) {
  v1::CreateLeadRequest create = ValidCreate("amend-consent", "consent@example.com");
  v1::ConsentGrant* g = create.mutable_consent();
  g->add_channels(v1::CONSENT_CHANNEL_EMAIL);
  g->add_purposes(v1::CONSENT_PURPOSE_SCHEDULING);
  g->mutable_evidence()->set_captured_at_unix_micros(
      absl::ToUnixMicros(clock_.Now() - absl::Minutes(1)));
  g->mutable_evidence()->set_source_url("https://example.org/heart/consult");
  v1::CreateLeadResponse created;
  grpc::Status s = leads_->CreateLead(Ctx(capture_).get(), create, &created);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  const std::string id = created.lead_id();
  auto outreach = [&]() {
    v1::GetLeadRequest r;
    r.set_lead_id(id);
    r.set_purpose(v1::PURPOSE_OF_USE_SCHEDULING_OUTREACH);
    r.set_outreach_channel(v1::CONSENT_CHANNEL_EMAIL);
    v1::GetLeadResponse response;
    grpc::Status read = leads_->GetLead(Ctx(worker_token_).get(), r, &response);
    EXPECT_TRUE(read.ok()) << read.error_code() << " " << read.error_message();
    return response;
  };
  EXPECT_EQ(outreach().lead().personal().email(), "consent@example.com");

  clock_.Advance(absl::Minutes(5));
  v1::AmendLeadRequest r = Amend(id, 1);
  r.mutable_personal()->set_email("new.address@example.com");
  v1::AmendLeadResponse amended;
  ASSERT_TRUE(Call(r, worker_token_, &amended).ok());
  v1::GetLeadResponse after = outreach();
  EXPECT_TRUE(after.lead().personal().email().empty());
  ASSERT_EQ(after.withheld_size(), 2);
  bool email_withheld = false;
  for (const auto& w : after.withheld()) {
    if (w.field() != "email") continue;
    email_withheld = true;
    EXPECT_EQ(w.reason(), "contact_changed");
    EXPECT_EQ(w.reason_code(), v1::WITHHELD_REASON_CONTACT_CHANGED);
    EXPECT_EQ(w.personal_field(), v1::PERSONAL_FIELD_EMAIL);
    EXPECT_EQ(w.since_unix_micros(), absl::ToUnixMicros(clock_.Now()));
  }
  EXPECT_TRUE(email_withheld);

  // A grant captured after the change covers the new address.
  clock_.Advance(absl::Minutes(5));
  v1::RecordConsentRequest grant;
  grant.set_lead_id(id);
  *grant.mutable_grant() = *g;
  grant.mutable_grant()->mutable_evidence()->set_captured_at_unix_micros(
      absl::ToUnixMicros(clock_.Now() - absl::Minutes(1)));
  v1::RecordConsentResponse recorded;
  s = consent_->RecordConsent(Ctx(worker_token_).get(), grant, &recorded);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(outreach().lead().personal().email(), "new.address@example.com");
}

TEST_F(AmendTest, APurgedLeadTakesItsHistoryAndItsNewIndexRows) {
  const std::string id = CreateLead("amend-purge", "purge.me@example.com");
  v1::AmendLeadRequest r = Amend(id, 1);
  r.mutable_personal()->set_email("purged.new@example.com");
  v1::AmendLeadResponse amended;
  ASSERT_TRUE(Call(r, worker_token_, &amended).ok());
  v1::DeleteLeadRequest del;
  del.set_lead_id(id);
  del.set_reason("data-subject deletion request #4411");
  v1::DeleteLeadResponse deleted;
  grpc::Status s = leads_->DeleteLead(Ctx(worker_token_).get(), del, &deleted);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_TRUE(Find("purged.new@example.com").empty());
  v1::ListAmendmentsRequest list;
  list.set_lead_id(id);
  list.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
  v1::ListAmendmentsResponse history;
  EXPECT_EQ(leads_->ListAmendments(Ctx(worker_token_).get(), list, &history).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ExpectLeadRowsConsistent();
}

}  // namespace
}  // namespace leadvault::api
