// A deleted lead over the wire: every RPC that names a lead answers its id
// exactly as an id never issued (code and message), look-ups by its email and
// phone find nothing, and the accounting of disclosures still lists its past
// reads. Each answer is one audit entry, the same for both ids.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/api/api_test_util.h"

namespace leadvault::api {
namespace testing_util {
namespace {

class DeletionTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    consent_ = v1::Consent::NewStub(channel_);
    emergency_ = v1::EmergencyAccess::NewStub(channel_);
    retention_ = v1::Retention::NewStub(channel_);
    compliance_ = v1::Compliance::NewStub(channel_);
    officer_ = NewPrincipal("officer", {"compliance"});
  }

  // Every RPC naming lead `id`, as the worker (intake) or the officer; each
  // answer as "CODE message".
  std::vector<std::string> Answers(const std::string& id) {
    std::vector<std::string> out;
    auto add = [&out](const char* rpc, const grpc::Status& s) {
      out.push_back(absl::StrCat(rpc, ": ", s.error_code(), " ", s.error_message()));
    };
    {
      v1::GetLeadRequest q;
      q.set_lead_id(id);
      q.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
      v1::GetLeadResponse r;
      add("GetLead", leads_->GetLead(Ctx(worker_token_).get(), q, &r));
    }
    {
      v1::UpdateLeadRequest q;
      q.set_lead_id(id);
      q.set_expected_version(1);
      q.set_status(v1::LEAD_STATUS_CONTACTED);
      v1::UpdateLeadResponse r;
      add("UpdateLead", leads_->UpdateLead(Ctx(worker_token_).get(), q, &r));
    }
    for (const std::string* token : {&worker_token_, &officer_}) {
      v1::DeleteLeadRequest q;
      q.set_lead_id(id);
      q.set_reason("Data subject request DSR-1, again");
      v1::DeleteLeadResponse r;
      add("DeleteLead", leads_->DeleteLead(Ctx(*token).get(), q, &r));
    }
    {
      v1::OpenEmergencyAccessRequest q;
      q.set_reason("unconscious patient, checking allergies");
      q.add_lead_ids(id);
      q.set_duration_seconds(60);
      v1::OpenEmergencyAccessResponse r;
      add("OpenEmergencyAccess", emergency_->OpenEmergencyAccess(Ctx(worker_token_).get(), q, &r));
    }
    {
      v1::RecordConsentRequest q;
      q.set_lead_id(id);
      v1::ConsentGrant* g = q.mutable_grant();
      g->add_channels(v1::CONSENT_CHANNEL_EMAIL);
      g->add_purposes(v1::CONSENT_PURPOSE_SCHEDULING);
      g->mutable_evidence()->set_captured_at_unix_micros(absl::ToUnixMicros(clock_.Now()));
      v1::RecordConsentResponse r;
      add("RecordConsent", consent_->RecordConsent(Ctx(worker_token_).get(), q, &r));
    }
    {
      v1::CheckConsentRequest q;
      q.set_lead_id(id);
      q.set_channel(v1::CONSENT_CHANNEL_EMAIL);
      q.set_purpose(v1::CONSENT_PURPOSE_SCHEDULING);
      v1::CheckConsentResponse r;
      add("CheckConsent", consent_->CheckConsent(Ctx(worker_token_).get(), q, &r));
    }
    {
      v1::GetConsentHistoryRequest q;
      q.set_lead_id(id);
      v1::GetConsentHistoryResponse r;
      add("GetConsentHistory", consent_->GetConsentHistory(Ctx(officer_).get(), q, &r));
    }
    {
      v1::ExportConsentProofRequest q;
      q.set_lead_id(id);
      v1::ExportConsentProofResponse r;
      add("ExportConsentProof", consent_->ExportConsentProof(Ctx(officer_).get(), q, &r));
    }
    {
      v1::PlaceLegalHoldRequest q;
      q.set_lead_id(id);
      q.set_reason("Litigation hold, matter 12");
      v1::PlaceLegalHoldResponse r;
      add("PlaceLegalHold", retention_->PlaceLegalHold(Ctx(officer_).get(), q, &r));
    }
    {
      v1::ListLegalHoldsRequest q;
      q.set_lead_id(id);
      v1::ListLegalHoldsResponse r;
      grpc::Status s = retention_->ListLegalHolds(Ctx(officer_).get(), q, &r);
      add("ListLegalHolds", s);
      out.push_back(absl::StrCat("holds listed: ", r.holds_size()));
    }
    return out;
  }

  std::unique_ptr<v1::Consent::Stub> consent_;
  std::unique_ptr<v1::EmergencyAccess::Stub> emergency_;
  std::unique_ptr<v1::Retention::Stub> retention_;
  std::unique_ptr<v1::Compliance::Stub> compliance_;
  std::string officer_;
};

TEST_F(DeletionTest, ADeletedLeadAnswersEveryRpcAsAnIdNeverIssued) {
  v1::CreateLeadRequest create = ValidCreate("deleted-1", "deleted.person@example.org");
  create.mutable_personal()->set_phone("+1 650 253 0111");
  v1::CreateLeadResponse created;
  ASSERT_TRUE(leads_->CreateLead(Ctx(worker_token_).get(), create, &created).ok());
  const std::string id = created.lead_id();
  {  // a read before the deletion, for the accounting
    v1::GetLeadRequest q;
    q.set_lead_id(id);
    q.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
    v1::GetLeadResponse r;
    ASSERT_TRUE(leads_->GetLead(Ctx(worker_token_).get(), q, &r).ok());
  }
  v1::DeleteLeadRequest del;
  del.set_lead_id(id);
  del.set_reason("Data subject request DSR-1, verified");
  v1::DeleteLeadResponse deleted;
  grpc::Status s = leads_->DeleteLead(Ctx(worker_token_).get(), del, &deleted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(deleted.receipt().lead_id(), id);
  EXPECT_GT(deleted.receipt().sequence(), 0u);
  EXPECT_FALSE(deleted.receipt().checkpoint().note().empty());

  const std::string never = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
  const std::vector<std::string> for_deleted = Answers(id);
  const std::vector<std::string> for_never = Answers(never);
  EXPECT_EQ(for_deleted, for_never);
  for (const std::string& answer : for_deleted) {
    // A listing filtered on the id is empty for both (no hold can name a
    // lead that is gone: purges refuse a held lead).
    if (answer.rfind("holds listed", 0) == 0 || answer.rfind("ListLegalHolds", 0) == 0) continue;
    EXPECT_NE(answer.find(": 5 "), std::string::npos) << answer;  // NOT_FOUND
  }

  // Its email and phone are values never seen.
  for (int i = 0; i < 2; ++i) {
    v1::FindLeadsRequest q;
    if (i == 0) q.set_email("deleted.person@example.org");
    if (i == 1) q.set_phone("+1 650 253 0111");
    q.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
    v1::FindLeadsResponse r;
    ASSERT_TRUE(leads_->FindLeads(Ctx(worker_token_).get(), q, &r).ok());
    EXPECT_EQ(r.leads_size(), 0) << i;
  }

  // The audit log outlives the lead: its read is still accounted for.
  v1::AccountingOfDisclosuresRequest q;
  q.set_lead_id(id);
  v1::AccountingOfDisclosuresResponse r;
  ASSERT_TRUE(compliance_->AccountingOfDisclosures(Ctx(officer_).get(), q, &r).ok());
  ASSERT_EQ(r.disclosures_size(), 1);
  EXPECT_EQ(r.disclosures(0).action(), "GetLead");
}

}  // namespace
}  // namespace testing_util
}  // namespace leadvault::api
