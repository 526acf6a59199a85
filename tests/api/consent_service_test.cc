// The Consent service and consent-enforced reads over a real channel: a lead
// captured with consent, checked, read for outreach, revoked by an SMS reply,
// refused contact; its history paged and its proof verified offline; the
// roles; one audit entry per call; and no evidence value that is PII (the IP
// address, an SMS reply) in any audit entry, error or response.
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "api/convert.h"
#include "audit/audit_entry.h"
#include "audit/checkpoint.h"
#include "audit/consent_proof.h"
#include "gmock/gmock.h"
#include "tests/api/api_test_util.h"

namespace leadvault::api {
namespace testing_util {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kPhone[] = "+16502530000";
constexpr char kEmail[] = "consent@example.com";
constexpr char kSha256[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

// The string an enum value stands for: its name without `prefix`, lower-cased
// ("CONSENT_REASON_NO_CONSENT" is "no_consent").
std::string Named(const std::string& enum_name, absl::string_view prefix) {
  EXPECT_TRUE(absl::StartsWith(enum_name, prefix)) << enum_name;
  return absl::AsciiStrToLower(absl::string_view(enum_name).substr(prefix.size()));
}

// The typed fields name what the strings kept beside them name.
void ExpectTypedAgree(const v1::CheckConsentResponse& r) {
  EXPECT_NE(r.reason_code(), v1::CONSENT_REASON_UNSPECIFIED);
  EXPECT_EQ(Named(v1::ConsentReason_Name(r.reason_code()), "CONSENT_REASON_"), r.reason());
  EXPECT_EQ(r.allowed(), r.reason_code() == v1::CONSENT_REASON_ACTIVE);
  ASSERT_EQ(r.missing_elements_size(), r.missing_size());
  for (int i = 0; i < r.missing_size(); ++i) {
    EXPECT_EQ(Named(v1::TcpaElement_Name(r.missing_elements(i)), "TCPA_ELEMENT_"), r.missing(i));
  }
}
void ExpectTypedAgree(const v1::WithheldField& w) {
  EXPECT_NE(w.personal_field(), v1::PERSONAL_FIELD_UNSPECIFIED);
  EXPECT_EQ(Named(v1::PersonalField_Name(w.personal_field()), "PERSONAL_FIELD_"), w.field());
  EXPECT_NE(w.reason_code(), v1::WITHHELD_REASON_UNSPECIFIED);
  EXPECT_EQ(Named(v1::WithheldReason_Name(w.reason_code()), "WITHHELD_REASON_"), w.reason());
  ASSERT_EQ(w.missing_elements_size(), w.missing_size());
  for (int i = 0; i < w.missing_size(); ++i) {
    EXPECT_EQ(Named(v1::TcpaElement_Name(w.missing_elements(i)), "TCPA_ELEMENT_"), w.missing(i));
  }
}
void ExpectTypedAgree(const v1::GetLeadResponse& r) {
  for (const v1::WithheldField& w : r.withheld()) {
    ExpectTypedAgree(w);
    // A withheld field is hidden: absent, and listed as such.
    EXPECT_NE(std::find(r.hidden_fields().begin(), r.hidden_fields().end(), w.personal_field()),
              r.hidden_fields().end())
        << w.field();
  }
}
void ExpectTypedAgree(const v1::ConsentEvent& e) {
  EXPECT_NE(e.action_code(), v1::CONSENT_ACTION_UNSPECIFIED);
  EXPECT_EQ(Named(v1::ConsentAction_Name(e.action_code()), "CONSENT_ACTION_"), e.action());
  ASSERT_EQ(e.missing_elements_size(), e.missing_size());
  for (int i = 0; i < e.missing_size(); ++i) {
    EXPECT_EQ(Named(v1::TcpaElement_Name(e.missing_elements(i)), "TCPA_ELEMENT_"), e.missing(i));
  }
}

// Every audit entry in the vault, in sequence order, with its canonical bytes.
std::vector<std::pair<audit::AuditEntry, std::string>> ReadAudit(vault::Vault& vault) {
  std::vector<std::pair<audit::AuditEntry, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(vault.database().db()->NewIterator(
      rocksdb::ReadOptions(), vault.database().cf(vault::Cf::kAudit)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto e = audit::DecodeCanonical(it->value().ToString());
    EXPECT_TRUE(e.ok());
    if (e.ok()) out.emplace_back(*std::move(e), it->value().ToString());
  }
  return out;
}

class ConsentServiceTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (HasFatalFailure()) return;
    consent_ = v1::Consent::NewStub(channel_);
    compliance_ = v1::Compliance::NewStub(channel_);
    capture_ = NewPrincipal("form", {"capture"});
    intake_ = NewPrincipal("desk", {"intake"});
    officer_ = NewPrincipal("privacy officer", {"compliance"});
    analyst_ = NewPrincipal("analyst", {"analyst"});
    outsider_ = NewPrincipalWithLines("oncology desk", {"intake"}, {"oncology"});
  }

  // A complete grant (every TCPA element) for sms, voice and autodialed voice,
  // for scheduling and marketing, captured a minute ago.
  v1::ConsentGrant CompleteGrant() {
    v1::ConsentGrant g;
    g.add_channels(v1::CONSENT_CHANNEL_SMS);
    g.add_channels(v1::CONSENT_CHANNEL_VOICE);
    g.add_channels(v1::CONSENT_CHANNEL_AUTODIALED_VOICE);
    g.add_purposes(v1::CONSENT_PURPOSE_SCHEDULING);
    g.add_purposes(v1::CONSENT_PURPOSE_MARKETING);
    v1::ConsentEvidence* e = g.mutable_evidence();
    e->set_captured_at_unix_micros(absl::ToUnixMicros(clock_.Now() - absl::Minutes(1)));
    e->set_source_url("https://example.org/heart/consult");
    e->set_seller_name("Example Heart Center");
    e->set_disclosure_version("2026-01");
    e->set_disclosure_sha256(kSha256);
    e->set_authorizes_automated(true);
    e->set_not_condition_of_purchase(true);
    e->set_capture_certificate_id("cert-0123456789abcdef");
    e->set_user_agent("Mozilla/5.0 (X11; Linux x86_64)");
    e->set_ip_address("198.51.100.23");
    return g;
  }

  // Creates a lead as the capture principal, with `grant` captured with it.
  std::string CreateConsentedLead(const std::string& key, const v1::ConsentGrant& grant) {
    v1::CreateLeadRequest create = ValidCreate(key, kEmail);
    create.mutable_personal()->set_phone("(650) 253-0000");
    *create.mutable_consent() = grant;
    v1::CreateLeadResponse created;
    grpc::Status s = leads_->CreateLead(Ctx(capture_).get(), create, &created);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return created.lead_id();
  }

  grpc::Status Check(const std::string& token, const std::string& lead_id,
                     v1::ConsentChannel channel, v1::ConsentPurpose purpose,
                     v1::CheckConsentResponse* response) {
    v1::CheckConsentRequest request;
    request.set_lead_id(lead_id);
    request.set_channel(channel);
    request.set_purpose(purpose);
    return consent_->CheckConsent(Ctx(token).get(), request, response);
  }

  grpc::Status ReadForOutreach(const std::string& lead_id, v1::ConsentChannel channel,
                               v1::GetLeadResponse* response) {
    v1::GetLeadRequest request;
    request.set_lead_id(lead_id);
    request.set_purpose(v1::PURPOSE_OF_USE_SCHEDULING_OUTREACH);
    request.set_outreach_channel(channel);
    return leads_->GetLead(Ctx(intake_).get(), request, response);
  }

  v1::RecordConsentRequest SmsStop(const std::string& lead_id, const std::string& reply) {
    v1::RecordConsentRequest request;
    request.set_lead_id(lead_id);
    v1::ConsentRevocation* r = request.mutable_revocation();
    r->add_channels(v1::CONSENT_CHANNEL_SMS);
    r->set_method(v1::REVOCATION_METHOD_SMS_REPLY);
    r->set_reply_text(reply);
    return request;
  }

  grpc::Status Attempt(const std::string& lead_id, v1::ContactChannel channel, bool automated,
                       v1::UpdateLeadResponse* response) {
    v1::GetLeadRequest get;
    get.set_lead_id(lead_id);
    get.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
    v1::GetLeadResponse got;
    grpc::Status s = leads_->GetLead(Ctx(intake_).get(), get, &got);
    if (!s.ok()) return s;
    v1::UpdateLeadRequest update;
    update.set_lead_id(lead_id);
    update.set_expected_version(got.lead().metadata().version());
    v1::ContactAttempt* a = update.add_add_contact_attempts();
    a->set_at_unix_micros(absl::ToUnixMicros(clock_.Now()));
    a->set_channel(channel);
    a->set_outcome(v1::CONTACT_OUTCOME_VOICEMAIL);
    a->set_purpose(v1::CONSENT_PURPOSE_SCHEDULING);
    a->set_automated(automated);
    return leads_->UpdateLead(Ctx(intake_).get(), update, response);
  }

  // Every event of the lead's history, paging `page_size` at a time; the
  // number of pages in `pages`.
  std::vector<v1::ConsentEvent> History(const std::string& token, const std::string& lead_id,
                                        int page_size, int* pages) {
    std::vector<v1::ConsentEvent> events;
    v1::GetConsentHistoryRequest request;
    request.set_lead_id(lead_id);
    request.set_page_size(page_size);
    *pages = 0;
    for (;;) {
      v1::GetConsentHistoryResponse response;
      grpc::Status s = consent_->GetConsentHistory(Ctx(token).get(), request, &response);
      EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
      if (!s.ok() || ++*pages > 100) break;
      EXPECT_LE(response.events_size(), page_size);
      events.insert(events.end(), response.events().begin(), response.events().end());
      if (response.next_after_number() == 0) break;
      EXPECT_EQ(response.next_after_number(), events.back().number());
      request.set_after_number(response.next_after_number());
    }
    return events;
  }

  std::unique_ptr<v1::Consent::Stub> consent_;
  std::unique_ptr<v1::Compliance::Stub> compliance_;
  std::string capture_, intake_, officer_, analyst_, outsider_;
};

TEST_F(ConsentServiceTest, CapturedConsentAllowsOutreachUntilAnSmsStopRevokesIt) {
  const std::string lead_id = CreateConsentedLead("c-1", CompleteGrant());
  ASSERT_EQ(lead_id.size(), 32u);

  v1::CheckConsentResponse check;
  grpc::Status s =
      Check(intake_, lead_id, v1::CONSENT_CHANNEL_SMS, v1::CONSENT_PURPOSE_SCHEDULING, &check);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_TRUE(check.allowed());
  EXPECT_EQ(check.reason(), "active");
  EXPECT_EQ(check.reason_code(), v1::CONSENT_REASON_ACTIVE);
  ExpectTypedAgree(check);
  EXPECT_GT(check.event_number(), 0u);
  // Not granted for email, nor for treatment follow-up.
  ASSERT_TRUE(
      Check(intake_, lead_id, v1::CONSENT_CHANNEL_EMAIL, v1::CONSENT_PURPOSE_SCHEDULING, &check)
          .ok());
  EXPECT_FALSE(check.allowed());
  EXPECT_EQ(check.reason(), "no_consent");
  EXPECT_EQ(check.reason_code(), v1::CONSENT_REASON_NO_CONSENT);
  ExpectTypedAgree(check);
  EXPECT_EQ(check.event_number(), 0u);
  ASSERT_TRUE(Check(intake_, lead_id, v1::CONSENT_CHANNEL_SMS,
                    v1::CONSENT_PURPOSE_TREATMENT_FOLLOW_UP, &check)
                  .ok());
  EXPECT_FALSE(check.allowed());

  // A read for sms outreach returns the phone; the email is not its channel.
  v1::GetLeadResponse got;
  s = ReadForOutreach(lead_id, v1::CONSENT_CHANNEL_SMS, &got);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(got.lead().personal().phone(), kPhone);
  EXPECT_TRUE(got.lead().personal().email().empty());
  ASSERT_EQ(got.withheld_size(), 1);
  EXPECT_EQ(got.withheld(0).field(), "email");
  EXPECT_EQ(got.withheld(0).reason(), "not_outreach_channel");
  EXPECT_EQ(got.withheld(0).personal_field(), v1::PERSONAL_FIELD_EMAIL);
  EXPECT_EQ(got.withheld(0).reason_code(), v1::WITHHELD_REASON_NOT_OUTREACH_CHANNEL);
  ExpectTypedAgree(got);
  // Outreach by email: nothing consented.
  s = ReadForOutreach(lead_id, v1::CONSENT_CHANNEL_EMAIL, &got);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_TRUE(got.lead().personal().email().empty());
  EXPECT_TRUE(got.lead().personal().phone().empty());
  std::map<std::string, std::string> reasons;
  for (const v1::WithheldField& w : got.withheld()) reasons[w.field()] = w.reason();
  EXPECT_EQ(reasons["email"], "no_consent");
  EXPECT_EQ(reasons["phone"], "not_outreach_channel");
  ExpectTypedAgree(got);

  // The person replies STOP to a text.
  clock_.Advance(absl::Minutes(30));
  const absl::Time revoked_at = clock_.Now();
  v1::RecordConsentResponse recorded;
  s = consent_->RecordConsent(Ctx(intake_).get(), SmsStop(lead_id, "  Stop \n"), &recorded);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  {
    // One event: sms, for every purpose (the ledger names no third party, so
    // sharing is left out).
    const v1::ConsentEvent& e = recorded.event();
    EXPECT_EQ(e.action(), "revoke");
    EXPECT_EQ(e.action_code(), v1::CONSENT_ACTION_REVOKE);
    ExpectTypedAgree(e);
    ASSERT_EQ(e.channels_size(), 1);
    EXPECT_EQ(e.channels(0), v1::CONSENT_CHANNEL_SMS);
    ASSERT_EQ(e.purposes_size(), 3);
    EXPECT_EQ(e.purposes(0), v1::CONSENT_PURPOSE_SCHEDULING);
    EXPECT_EQ(e.purposes(1), v1::CONSENT_PURPOSE_TREATMENT_FOLLOW_UP);
    EXPECT_EQ(e.purposes(2), v1::CONSENT_PURPOSE_MARKETING);
    EXPECT_EQ(e.third_parties_size(), 0);
    EXPECT_EQ(e.method(), v1::REVOCATION_METHOD_SMS_REPLY);
    EXPECT_EQ(e.method_detail(), "keyword:STOP");
    EXPECT_EQ(e.at_unix_micros(), absl::ToUnixMicros(revoked_at));
    EXPECT_GT(e.audit_sequence(), 0u);
  }

  // The very next read withholds the phone, with the reason and its time.
  got.Clear();
  s = ReadForOutreach(lead_id, v1::CONSENT_CHANNEL_SMS, &got);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_TRUE(got.lead().personal().phone().empty());
  EXPECT_TRUE(got.lead().personal().email().empty());
  reasons.clear();
  for (const v1::WithheldField& w : got.withheld()) {
    reasons[w.field()] = w.reason();
    if (w.field() == "phone") {
      EXPECT_EQ(w.since_unix_micros(), absl::ToUnixMicros(revoked_at));
    }
  }
  EXPECT_EQ(reasons["phone"], "revoked");
  EXPECT_EQ(reasons["email"], "not_outreach_channel");
  ExpectTypedAgree(got);
  ASSERT_TRUE(
      Check(intake_, lead_id, v1::CONSENT_CHANNEL_SMS, v1::CONSENT_PURPOSE_SCHEDULING, &check)
          .ok());
  EXPECT_FALSE(check.allowed());
  EXPECT_EQ(check.reason(), "revoked");
  EXPECT_EQ(check.reason_code(), v1::CONSENT_REASON_REVOKED);
  ExpectTypedAgree(check);
  EXPECT_EQ(check.since_unix_micros(), absl::ToUnixMicros(revoked_at));
  // Voice was not revoked.
  s = ReadForOutreach(lead_id, v1::CONSENT_CHANNEL_VOICE, &got);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(got.lead().personal().phone(), kPhone);

  // A text is refused as a contact attempt; a manual call is fine, and so is an
  // autodialed one (the grant is complete).
  v1::UpdateLeadResponse updated;
  s = Attempt(lead_id, v1::CONTACT_CHANNEL_SMS, false, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("revoked"));
  s = Attempt(lead_id, v1::CONTACT_CHANNEL_PHONE, false, &updated);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  ASSERT_EQ(updated.metadata().contact_attempts_size(), 1);
  EXPECT_EQ(updated.metadata().contact_attempts(0).purpose(), v1::CONSENT_PURPOSE_SCHEDULING);
  EXPECT_FALSE(updated.metadata().contact_attempts(0).automated());
  s = Attempt(lead_id, v1::CONTACT_CHANNEL_PHONE, true, &updated);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  ASSERT_EQ(updated.metadata().contact_attempts_size(), 2);
  EXPECT_TRUE(updated.metadata().contact_attempts(1).automated());
  // Email was never granted.
  s = Attempt(lead_id, v1::CONTACT_CHANNEL_EMAIL, false, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
}

TEST_F(ConsentServiceTest, AnIncompleteGrantNeverAllowsTextsAndNamesWhatIsMissing) {
  v1::ConsentGrant grant = CompleteGrant();
  grant.mutable_evidence()->clear_seller_name();
  grant.mutable_evidence()->set_capture_certificate_id("   ");
  const std::string lead_id = CreateConsentedLead("c-incomplete", grant);
  v1::CheckConsentResponse check;
  ASSERT_TRUE(
      Check(intake_, lead_id, v1::CONSENT_CHANNEL_SMS, v1::CONSENT_PURPOSE_SCHEDULING, &check)
          .ok());
  EXPECT_FALSE(check.allowed());
  EXPECT_EQ(check.reason(), "incomplete");
  EXPECT_THAT(check.missing(), ElementsAre("seller_name", "capture_certificate_id"));
  EXPECT_EQ(check.reason_code(), v1::CONSENT_REASON_INCOMPLETE);
  EXPECT_THAT(check.missing_elements(),
              ElementsAre(v1::TCPA_ELEMENT_SELLER_NAME, v1::TCPA_ELEMENT_CAPTURE_CERTIFICATE_ID));
  ExpectTypedAgree(check);
  ASSERT_TRUE(
      Check(intake_, lead_id, v1::CONSENT_CHANNEL_VOICE, v1::CONSENT_PURPOSE_SCHEDULING, &check)
          .ok());
  EXPECT_TRUE(check.allowed());  // a manual call needs no written consent
  v1::GetLeadResponse got;
  ASSERT_TRUE(ReadForOutreach(lead_id, v1::CONSENT_CHANNEL_AUTODIALED_VOICE, &got).ok());
  EXPECT_TRUE(got.lead().personal().phone().empty());
  bool named = false;
  for (const v1::WithheldField& w : got.withheld()) {
    if (w.field() != "phone") continue;
    named = true;
    EXPECT_EQ(w.reason(), "incomplete");
    EXPECT_THAT(w.missing(), ElementsAre("seller_name", "capture_certificate_id"));
    EXPECT_EQ(w.reason_code(), v1::WITHHELD_REASON_INCOMPLETE);
  }
  EXPECT_TRUE(named);
  ExpectTypedAgree(got);

  int pages = 0;
  std::vector<v1::ConsentEvent> events = History(intake_, lead_id, 200, &pages);
  ASSERT_EQ(events.size(), 1u);  // one act of consent: 3 channels x 2 purposes
  EXPECT_EQ(events[0].channels_size(), 3);
  EXPECT_EQ(events[0].purposes_size(), 2);
  for (const v1::ConsentEvent& e : events) {
    EXPECT_EQ(e.action(), "grant");
    EXPECT_EQ(e.action_code(), v1::CONSENT_ACTION_GRANT);
    EXPECT_FALSE(e.complete());
    EXPECT_THAT(e.missing(), ElementsAre("seller_name", "capture_certificate_id"));
    EXPECT_THAT(e.missing_elements(),
                ElementsAre(v1::TCPA_ELEMENT_SELLER_NAME, v1::TCPA_ELEMENT_CAPTURE_CERTIFICATE_ID));
    ExpectTypedAgree(e);
    EXPECT_TRUE(e.evidence().ip_address().empty());
    EXPECT_TRUE(e.ip_captured());
    EXPECT_EQ(e.ip_commitment().size(), 64u);
    EXPECT_EQ(e.evidence().disclosure_sha256(), kSha256);
    EXPECT_EQ(e.evidence().source_url(), "https://example.org/heart/consult");
  }
}

TEST_F(ConsentServiceTest, HistoryPagesAndTheProofVerifiesOffline) {
  const std::string lead_id = CreateConsentedLead("c-proof", CompleteGrant());
  // A later grant by intake (email, scheduling) and a revocation.
  clock_.Advance(absl::Minutes(10));
  v1::RecordConsentRequest grant;
  grant.set_lead_id(lead_id);
  *grant.mutable_grant() = CompleteGrant();
  grant.mutable_grant()->clear_channels();
  grant.mutable_grant()->add_channels(v1::CONSENT_CHANNEL_EMAIL);
  grant.mutable_grant()->clear_purposes();
  grant.mutable_grant()->add_purposes(v1::CONSENT_PURPOSE_SCHEDULING);
  v1::RecordConsentResponse recorded;
  grpc::Status s = consent_->RecordConsent(Ctx(intake_).get(), grant, &recorded);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  ASSERT_TRUE(recorded.has_event());
  EXPECT_EQ(recorded.event().number(), 2u);
  EXPECT_TRUE(recorded.event().complete());
  clock_.Advance(absl::Minutes(10));
  s = consent_->RecordConsent(Ctx(intake_).get(), SmsStop(lead_id, "please stop texting"),
                              &recorded);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(recorded.event().method_detail(), "free_text");

  int pages = 0;
  std::vector<v1::ConsentEvent> all = History(officer_, lead_id, 200, &pages);
  EXPECT_EQ(pages, 1);
  ASSERT_EQ(all.size(), 3u);  // the form's grant, intake's grant, the revocation
  std::vector<v1::ConsentEvent> paged = History(intake_, lead_id, 2, &pages);
  EXPECT_EQ(pages, 2);
  ASSERT_EQ(paged.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].number(), i + 1);
    EXPECT_EQ(paged[i].SerializeAsString(), all[i].SerializeAsString()) << i;
    EXPECT_EQ(all[i].recorded_by().empty(), false);
  }
  EXPECT_EQ(all[0].action(), "grant");
  EXPECT_EQ(all.back().action(), "revoke");
  v1::GetConsentHistoryRequest too_big;
  too_big.set_lead_id(lead_id);
  too_big.set_page_size(201);
  v1::GetConsentHistoryResponse history;
  EXPECT_EQ(consent_->GetConsentHistory(Ctx(intake_).get(), too_big, &history).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // The proof: every event, each bound to the signed log.
  v1::ExportConsentProofRequest request;
  request.set_lead_id(lead_id);
  v1::ExportConsentProofResponse exported;
  s = consent_->ExportConsentProof(Ctx(officer_).get(), request, &exported);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  v1::GetCheckpointResponse checkpoint;
  ASSERT_TRUE(compliance_->GetCheckpoint(Ctx(officer_).get(), {}, &checkpoint).ok());
  auto verifier = audit::NoteVerifier::Parse(checkpoint.verifier_key());
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  auto proof = audit::ParseConsentProof(exported.document());
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_EQ(proof->lead_id, lead_id);
  auto report = audit::VerifyConsentProof(*proof, *verifier);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->events, all.size());
  EXPECT_EQ(report->grants + report->revocations, all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(proof->items[i].audit_sequence, all[i].audit_sequence()) << i;
  }
  // One changed byte in one event and it no longer verifies.
  audit::ConsentProof tampered = *proof;
  tampered.items[0].event.seller_name = "Another Seller";
  EXPECT_FALSE(audit::VerifyConsentProof(tampered, *verifier).ok());
  // The document holds no IP address.
  EXPECT_FALSE(absl::StrContains(exported.document(), "198.51.100.23"));
}

TEST_F(ConsentServiceTest, RolesAndScope) {
  const std::string lead_id = CreateConsentedLead("c-roles", CompleteGrant());
  const std::string missing_id(32, 'b');
  v1::RecordConsentRequest record = SmsStop(lead_id, "STOP");
  v1::CheckConsentRequest check;
  check.set_lead_id(lead_id);
  check.set_channel(v1::CONSENT_CHANNEL_VOICE);
  check.set_purpose(v1::CONSENT_PURPOSE_SCHEDULING);
  v1::GetConsentHistoryRequest history;
  history.set_lead_id(lead_id);
  v1::ExportConsentProofRequest proof;
  proof.set_lead_id(lead_id);
  // Every consent RPC as `token`; their codes in the order record, check, history, proof.
  auto codes = [&](const std::string& token) {
    v1::RecordConsentResponse r1;
    v1::CheckConsentResponse r2;
    v1::GetConsentHistoryResponse r3;
    v1::ExportConsentProofResponse r4;
    std::vector<grpc::StatusCode> out = {
        consent_->CheckConsent(Ctx(token).get(), check, &r2).error_code(),
        consent_->GetConsentHistory(Ctx(token).get(), history, &r3).error_code(),
        consent_->ExportConsentProof(Ctx(token).get(), proof, &r4).error_code(),
        consent_->RecordConsent(Ctx(token).get(), record, &r1).error_code()};
    // A refused call returns nothing.
    const size_t sizes[] = {r2.ByteSizeLong(), r3.ByteSizeLong(), r4.ByteSizeLong(),
                            r1.ByteSizeLong()};
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i] != grpc::StatusCode::OK) {
        EXPECT_EQ(sizes[i], 0u) << i;
      }
    }
    return out;
  };
  using grpc::StatusCode;
  const StatusCode kOk = StatusCode::OK, kDenied = StatusCode::PERMISSION_DENIED;
  // Order: check, history, proof, record (record last: it revokes).
  EXPECT_THAT(codes(capture_), ElementsAre(kDenied, kDenied, kDenied, kDenied));
  EXPECT_THAT(codes(analyst_), ElementsAre(kDenied, kDenied, kDenied, kDenied));
  EXPECT_THAT(codes(admin_token_), ElementsAre(kDenied, kDenied, kDenied, kDenied));
  EXPECT_THAT(codes(officer_), ElementsAre(kOk, kOk, kOk, kDenied));
  EXPECT_THAT(codes(outsider_), ElementsAre(StatusCode::NOT_FOUND, StatusCode::NOT_FOUND, kDenied,
                                            StatusCode::NOT_FOUND));
  EXPECT_THAT(codes(intake_), ElementsAre(kOk, kOk, kDenied, kOk));

  // Out of scope is indistinguishable from missing.
  v1::CheckConsentResponse r;
  grpc::Status out_of_scope = consent_->CheckConsent(Ctx(outsider_).get(), check, &r);
  check.set_lead_id(missing_id);
  grpc::Status missing = consent_->CheckConsent(Ctx(intake_).get(), check, &r);
  EXPECT_EQ(missing.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(out_of_scope.error_message(), missing.error_message());
  // The outsider's failed record wrote nothing: intake's record was the only revocation.
  int pages = 0;
  std::vector<v1::ConsentEvent> events = History(officer_, lead_id, 200, &pages);
  size_t revocation_calls = 0;
  uint64_t last_sequence = 0;
  for (const v1::ConsentEvent& e : events) {
    if (e.action() != "revoke") continue;
    if (e.audit_sequence() != last_sequence) ++revocation_calls;
    last_sequence = e.audit_sequence();
  }
  EXPECT_EQ(revocation_calls, 1u);
}

TEST_F(ConsentServiceTest, MalformedRequestsNameTheFieldAndWriteNothing) {
  const std::string lead_id = CreateConsentedLead("c-bad", CompleteGrant());
  const size_t leads = LeadCount();
  auto record = [&](const v1::RecordConsentRequest& request) {
    v1::RecordConsentResponse response;
    grpc::Status s = consent_->RecordConsent(Ctx(intake_).get(), request, &response);
    EXPECT_EQ(response.ByteSizeLong(), 0u);
    return s;
  };
  auto expect_invalid = [](const grpc::Status& s, const std::string& field) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_TRUE(absl::StartsWith(s.error_message(), field + ":")) << s.error_message();
  };
  v1::RecordConsentRequest request;
  request.set_lead_id(lead_id);
  expect_invalid(record(request), "event");
  *request.mutable_grant() = CompleteGrant();
  request.mutable_grant()->add_channels(v1::CONSENT_CHANNEL_UNSPECIFIED);
  expect_invalid(record(request), "consent.channels");
  request.mutable_grant()->set_channels(3, static_cast<v1::ConsentChannel>(42));
  expect_invalid(record(request), "consent.channels");
  *request.mutable_grant() = CompleteGrant();
  request.mutable_grant()->add_purposes(v1::CONSENT_PURPOSE_UNSPECIFIED);
  expect_invalid(record(request), "consent.purposes");
  *request.mutable_grant() = CompleteGrant();
  request.mutable_grant()->mutable_evidence()->set_ip_address("not an address");
  expect_invalid(record(request), "consent.evidence.ip_address");
  request.mutable_revocation()->add_channels(v1::CONSENT_CHANNEL_UNSPECIFIED);
  expect_invalid(record(request), "revocation.channels");
  request.mutable_revocation()->clear_channels();
  request.mutable_revocation()->add_purposes(static_cast<v1::ConsentPurpose>(9));
  expect_invalid(record(request), "revocation.purposes");
  request.mutable_revocation()->clear_purposes();
  request.mutable_revocation()->set_method(static_cast<v1::RevocationMethod>(77));
  expect_invalid(record(request), "revocation.method");
  request.set_lead_id("not-a-lead");
  expect_invalid(record(request), "lead_id");

  v1::CheckConsentResponse check;
  expect_invalid(Check(intake_, lead_id, v1::CONSENT_CHANNEL_UNSPECIFIED,
                       v1::CONSENT_PURPOSE_SCHEDULING, &check),
                 "channel");
  expect_invalid(
      Check(intake_, lead_id, v1::CONSENT_CHANNEL_SMS, v1::CONSENT_PURPOSE_UNSPECIFIED, &check),
      "purpose");

  // A read for outreach names a known channel; scheduling outreach needs one.
  v1::GetLeadResponse got;
  expect_invalid(ReadForOutreach(lead_id, static_cast<v1::ConsentChannel>(12), &got),
                 "outreach_channel");
  expect_invalid(ReadForOutreach(lead_id, v1::CONSENT_CHANNEL_UNSPECIFIED, &got),
                 "outreach.channel");
  v1::GetLeadRequest get;
  get.set_lead_id(lead_id);
  get.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
  get.set_outreach_purpose(v1::CONSENT_PURPOSE_MARKETING);
  expect_invalid(leads_->GetLead(Ctx(intake_).get(), get, &got), "outreach_channel");
  get.clear_outreach_purpose();
  get.set_outreach_channel(v1::CONSENT_CHANNEL_SMS);
  get.set_outreach_purpose(static_cast<v1::ConsentPurpose>(33));
  expect_invalid(leads_->GetLead(Ctx(intake_).get(), get, &got), "outreach_purpose");
  EXPECT_EQ(got.ByteSizeLong(), 0u);

  // A contact attempt's purpose is known.
  v1::UpdateLeadRequest update;
  update.set_lead_id(lead_id);
  update.set_expected_version(1);
  v1::ContactAttempt* a = update.add_add_contact_attempts();
  a->set_at_unix_micros(absl::ToUnixMicros(clock_.Now()));
  a->set_channel(v1::CONTACT_CHANNEL_PHONE);
  a->set_outcome(v1::CONTACT_OUTCOME_CONNECTED);
  a->set_purpose(static_cast<v1::ConsentPurpose>(8));
  v1::UpdateLeadResponse updated;
  expect_invalid(leads_->UpdateLead(Ctx(intake_).get(), update, &updated),
                 "add_contact_attempts.purpose");

  // A create with a malformed grant is refused whole: no lead.
  v1::CreateLeadRequest create = ValidCreate("c-bad-2", "other@example.com");
  *create.mutable_consent() = CompleteGrant();
  create.mutable_consent()->add_channels(v1::CONSENT_CHANNEL_UNSPECIFIED);
  v1::CreateLeadResponse created;
  expect_invalid(leads_->CreateLead(Ctx(capture_).get(), create, &created), "consent.channels");
  *create.mutable_consent() = CompleteGrant();
  create.mutable_consent()->mutable_evidence()->set_captured_at_unix_micros(0);
  expect_invalid(leads_->CreateLead(Ctx(capture_).get(), create, &created),
                 "consent.evidence.captured_at");
  EXPECT_EQ(LeadCount(), leads);

  // None of it reached the ledger.
  int pages = 0;
  EXPECT_EQ(History(intake_, lead_id, 200, &pages).size(), 1u);
}

TEST_F(ConsentServiceTest, EveryConsentCallLeavesExactlyOneEntry) {
  const std::string lead_id = CreateConsentedLead("c-audit", CompleteGrant());
  const size_t before = ReadAudit(*vault_).size();
  std::map<std::string, std::pair<std::string, grpc::StatusCode>> expected;
  auto tagged = [&](const std::string& token, const std::string& id) {
    auto ctx = Ctx(token);
    ctx->AddMetadata("x-request-id", id);
    return ctx;
  };
  auto expect = [&](const std::string& id, const std::string& action, const grpc::Status& s,
                    grpc::StatusCode code) {
    EXPECT_EQ(s.error_code(), code) << id << ": " << s.error_message();
    expected[id] = {action, code};
  };
  v1::CheckConsentRequest check;
  check.set_lead_id(lead_id);
  check.set_channel(v1::CONSENT_CHANNEL_SMS);
  check.set_purpose(v1::CONSENT_PURPOSE_SCHEDULING);
  v1::CheckConsentResponse checked;
  expect("k-ok", "CheckConsent",
         consent_->CheckConsent(tagged(intake_, "k-ok").get(), check, &checked),
         grpc::StatusCode::OK);
  expect("k-denied", "CheckConsent",
         consent_->CheckConsent(tagged(capture_, "k-denied").get(), check, &checked),
         grpc::StatusCode::PERMISSION_DENIED);
  expect("k-scope", "CheckConsent",
         consent_->CheckConsent(tagged(outsider_, "k-scope").get(), check, &checked),
         grpc::StatusCode::NOT_FOUND);
  check.set_channel(v1::CONSENT_CHANNEL_UNSPECIFIED);
  expect("k-invalid", "CheckConsent",
         consent_->CheckConsent(tagged(intake_, "k-invalid").get(), check, &checked),
         grpc::StatusCode::INVALID_ARGUMENT);
  expect("k-anon", "CheckConsent",
         consent_->CheckConsent(tagged("", "k-anon").get(), check, &checked),
         grpc::StatusCode::UNAUTHENTICATED);
  v1::RecordConsentResponse recorded;
  expect("r-ok", "RecordConsent",
         consent_->RecordConsent(tagged(intake_, "r-ok").get(), SmsStop(lead_id, "END"), &recorded),
         grpc::StatusCode::OK);
  expect("r-denied", "RecordConsent",
         consent_->RecordConsent(tagged(officer_, "r-denied").get(), SmsStop(lead_id, "END"),
                                 &recorded),
         grpc::StatusCode::PERMISSION_DENIED);
  v1::RecordConsentRequest empty;
  empty.set_lead_id(lead_id);
  expect("r-invalid", "RecordConsent",
         consent_->RecordConsent(tagged(intake_, "r-invalid").get(), empty, &recorded),
         grpc::StatusCode::INVALID_ARGUMENT);
  v1::GetConsentHistoryRequest history;
  history.set_lead_id(lead_id);
  v1::GetConsentHistoryResponse page;
  expect("h-ok", "GetConsentHistory",
         consent_->GetConsentHistory(tagged(officer_, "h-ok").get(), history, &page),
         grpc::StatusCode::OK);
  history.set_lead_id(std::string(32, 'c'));
  expect("h-missing", "GetConsentHistory",
         consent_->GetConsentHistory(tagged(officer_, "h-missing").get(), history, &page),
         grpc::StatusCode::NOT_FOUND);
  v1::ExportConsentProofRequest proof;
  proof.set_lead_id(lead_id);
  v1::ExportConsentProofResponse exported;
  expect("p-ok", "ExportConsentProof",
         consent_->ExportConsentProof(tagged(officer_, "p-ok").get(), proof, &exported),
         grpc::StatusCode::OK);
  expect("p-denied", "ExportConsentProof",
         consent_->ExportConsentProof(tagged(intake_, "p-denied").get(), proof, &exported),
         grpc::StatusCode::PERMISSION_DENIED);
  v1::GetLeadResponse got;
  v1::GetLeadRequest get;
  get.set_lead_id(lead_id);
  get.set_purpose(v1::PURPOSE_OF_USE_SCHEDULING_OUTREACH);
  get.set_outreach_channel(v1::CONSENT_CHANNEL_SMS);
  expect("g-withheld", "GetLead", leads_->GetLead(tagged(intake_, "g-withheld").get(), get, &got),
         grpc::StatusCode::OK);
  EXPECT_TRUE(got.lead().personal().phone().empty());
  get.clear_outreach_channel();
  expect("g-nochannel", "GetLead", leads_->GetLead(tagged(intake_, "g-nochannel").get(), get, &got),
         grpc::StatusCode::INVALID_ARGUMENT);

  auto entries = ReadAudit(*vault_);
  ASSERT_EQ(entries.size(), before + expected.size());
  std::map<std::string, int> seen;
  for (size_t i = before; i < entries.size(); ++i) {
    const audit::AuditEntry& e = entries[i].first;
    ++seen[e.request_id];
    auto it = expected.find(e.request_id);
    ASSERT_NE(it, expected.end()) << "unexpected entry for request " << e.request_id;
    EXPECT_EQ(e.action, it->second.first) << e.request_id;
    EXPECT_EQ(e.code, static_cast<int>(it->second.second)) << e.request_id;
    // A call refused before its handler ran (unauthenticated, denied) names no lead.
    if (e.code != static_cast<int>(grpc::StatusCode::UNAUTHENTICATED) &&
        e.code != static_cast<int>(grpc::StatusCode::PERMISSION_DENIED)) {
      EXPECT_EQ(
          e.lead_ids,
          std::vector<std::string>{e.request_id == "h-missing" ? std::string(32, 'c') : lead_id})
          << e.request_id;
    }
  }
  for (const auto& [id, e] : expected) EXPECT_EQ(seen[id], 1) << id;
}

// The canary: a unique marker in every evidence field, the IP address and the
// reply text. No marker is in any audit entry or error message; the IP and
// the reply are in no response either (the clear evidence is returned by
// history and the proof, by design).
TEST_F(ConsentServiceTest, CanaryEvidenceNeverReachesTheAuditLogOrErrors) {
  const std::string ip = "203.0.113.77";
  const std::string reply = "Zqxcanaryreply please stop texting me";
  const std::vector<std::string> clear_markers = {
      "zqxcanarysrc", "zqxcanarypath", "Zqxcanaryseller", "zqxcanaryver",
      "ca11ab1e",     "zqxcanarycert", "Zqxcanaryagent",  "zqxcanarypartner"};
  const std::vector<std::string> pii_markers = {ip, "Zqxcanaryreply", "zqxcanaryreply",
                                                "please stop texting"};
  v1::ConsentGrant grant = CompleteGrant();
  grant.add_purposes(v1::CONSENT_PURPOSE_THIRD_PARTY_SHARING);
  grant.set_third_party("Zqxcanarypartner Labs");
  v1::ConsentEvidence* e = grant.mutable_evidence();
  e->set_source_url("https://zqxcanarysrc.example.org/zqxcanarypath?zqxcanaryquery=1");
  e->set_seller_name("Zqxcanaryseller Clinic");
  e->set_disclosure_version("zqxcanaryver-7");
  e->set_disclosure_sha256(
      std::string("ca11ab1eca11ab1eca11ab1eca11ab1eca11ab1eca11ab1eca11ab1eca11ab1e"));
  e->set_capture_certificate_id("zqxcanarycert-42");
  e->set_user_agent("Zqxcanaryagent/1.0");
  e->set_ip_address(ip);
  const std::string lead_id = CreateConsentedLead("c-canary", grant);
  ASSERT_EQ(lead_id.size(), 32u);

  std::vector<std::string> responses, errors;
  v1::RecordConsentRequest regrant;
  regrant.set_lead_id(lead_id);
  *regrant.mutable_grant() = grant;
  v1::RecordConsentResponse recorded;
  grpc::Status s = consent_->RecordConsent(Ctx(intake_).get(), regrant, &recorded);
  ASSERT_TRUE(s.ok()) << s.error_message();
  responses.push_back(recorded.SerializeAsString());
  s = consent_->RecordConsent(Ctx(intake_).get(), SmsStop(lead_id, reply), &recorded);
  ASSERT_TRUE(s.ok()) << s.error_message();
  responses.push_back(recorded.SerializeAsString());
  // Refused requests carrying markers.
  v1::RecordConsentRequest bad = regrant;
  bad.mutable_grant()->mutable_evidence()->set_ip_address("zqxcanarybadip " + ip);
  errors.push_back(consent_->RecordConsent(Ctx(intake_).get(), bad, &recorded).error_message());
  bad = regrant;
  bad.mutable_grant()->mutable_evidence()->set_source_url("ftp://zqxcanarysrc/zqxcanarypath");
  errors.push_back(consent_->RecordConsent(Ctx(intake_).get(), bad, &recorded).error_message());
  bad = regrant;
  bad.mutable_grant()->mutable_evidence()->set_disclosure_sha256("ca11ab1e-zqxcanaryver");
  errors.push_back(consent_->RecordConsent(Ctx(intake_).get(), bad, &recorded).error_message());
  bad = regrant;
  bad.mutable_grant()->mutable_evidence()->set_user_agent("Zqxcanaryagent\x01");
  errors.push_back(consent_->RecordConsent(Ctx(intake_).get(), bad, &recorded).error_message());
  bad = SmsStop(lead_id, reply);
  bad.mutable_revocation()->add_channels(v1::CONSENT_CHANNEL_UNSPECIFIED);
  errors.push_back(consent_->RecordConsent(Ctx(intake_).get(), bad, &recorded).error_message());
  errors.push_back(consent_->RecordConsent(Ctx(capture_).get(), SmsStop(lead_id, reply), &recorded)
                       .error_message());
  v1::CreateLeadRequest create = ValidCreate("c-canary-bad", "canary2@example.com");
  *create.mutable_consent() = grant;
  create.mutable_consent()->mutable_evidence()->set_ip_address("zqxcanarybadip");
  v1::CreateLeadResponse created;
  errors.push_back(leads_->CreateLead(Ctx(capture_).get(), create, &created).error_message());
  for (const std::string& m : errors) EXPECT_FALSE(m.empty());

  int pages = 0;
  for (const v1::ConsentEvent& ev : History(intake_, lead_id, 200, &pages)) {
    responses.push_back(ev.SerializeAsString());
  }
  v1::ExportConsentProofRequest proof;
  proof.set_lead_id(lead_id);
  v1::ExportConsentProofResponse exported;
  ASSERT_TRUE(consent_->ExportConsentProof(Ctx(officer_).get(), proof, &exported).ok());
  responses.push_back(exported.document());
  // The clear evidence is there (so the scan below can fail)...
  EXPECT_TRUE(absl::StrContains(exported.document(), "Zqxcanaryseller"));
  v1::GetLeadResponse got;
  ASSERT_TRUE(ReadForOutreach(lead_id, v1::CONSENT_CHANNEL_SMS, &got).ok());
  responses.push_back(got.SerializeAsString());

  // ...but in no audit entry, and no error; the IP and reply in no response.
  std::vector<std::string> all_markers = clear_markers;
  all_markers.insert(all_markers.end(), pii_markers.begin(), pii_markers.end());
  all_markers.push_back("zqxcanary");
  for (const auto& [entry, canonical] : ReadAudit(*vault_)) {
    for (const std::string& m : all_markers) {
      EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(canonical), absl::AsciiStrToLower(m)))
          << m << " in the audit entry of " << entry.action;
    }
  }
  for (const std::string& error : errors) {
    for (const std::string& m : all_markers) {
      EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(error), absl::AsciiStrToLower(m)))
          << m << " in the error \"" << error << "\"";
    }
  }
  for (const std::string& response : responses) {
    for (const std::string& m : pii_markers) {
      EXPECT_FALSE(absl::StrContains(response, m)) << m << " in a response";
    }
  }
}

// Every consent reason, TCPA element and action the server can send comes
// with its enum naming the same value, through the conversions every reply uses.
TEST(ConsentEnumsTest, EveryValueTheServerSendsHasItsEnum) {
  const vault::ConsentReason kReasons[] = {
      vault::ConsentReason::kActive,     vault::ConsentReason::kNoConsent,
      vault::ConsentReason::kRevoked,    vault::ConsentReason::kIncomplete,
      vault::ConsentReason::kSuppressed, vault::ConsentReason::kContactChanged};
  const std::vector<vault::TcpaElement> all_missing(vault::kAllTcpaElements.begin(),
                                                    vault::kAllTcpaElements.end());
  for (vault::ConsentReason reason : kReasons) {
    vault::ConsentDecision decision;
    decision.allowed = reason == vault::ConsentReason::kActive;
    decision.reason = reason;
    decision.missing = all_missing;
    v1::CheckConsentResponse out;
    ToProto(decision, &out);
    SCOPED_TRACE(out.reason());
    ExpectTypedAgree(out);
    EXPECT_EQ(out.missing_elements_size(), 7);
  }
  // What a read for outreach withholds a contact field for: a consent
  // decision that does not allow the channel, or another channel's field.
  std::vector<std::string> withheld = {"not_outreach_channel"};
  for (vault::ConsentReason reason : kReasons) {
    if (reason != vault::ConsentReason::kActive) {
      withheld.emplace_back(vault::ConsentReasonName(reason));
    }
  }
  for (const std::string& reason : withheld) {
    for (vault::PiiField field : {vault::PiiField::kEmail, vault::PiiField::kPhone}) {
      vault::WithheldField w;
      w.field = field;
      w.reason = reason;
      w.missing = all_missing;
      v1::WithheldField out;
      ToProto(w, &out);
      SCOPED_TRACE(reason);
      ExpectTypedAgree(out);
    }
  }
  EXPECT_EQ(WithheldReasonFromName("active"), v1::WITHHELD_REASON_UNSPECIFIED);
  EXPECT_EQ(WithheldReasonFromName(""), v1::WITHHELD_REASON_UNSPECIFIED);
  for (vault::ConsentAction action :
       {vault::ConsentAction::kGrant, vault::ConsentAction::kRevoke}) {
    vault::ConsentEvent event;
    event.action = action;
    if (action == vault::ConsentAction::kGrant) event.missing = all_missing;
    v1::ConsentEvent out;
    ToProto(event, &out);
    SCOPED_TRACE(out.action());
    ExpectTypedAgree(out);
  }
}

}  // namespace
}  // namespace testing_util
}  // namespace leadvault::api
