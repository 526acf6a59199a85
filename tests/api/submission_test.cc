// A duplicate submission keeps what it brought: its personal fields are stored
// encrypted on the lead it matched, shown to each role as the lead's own
// fields are, with the fields that differ named as conflicts (never silently
// resolved); its new email or phone finds the lead; and a purge takes all of it.
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/api/api_test_util.h"

namespace leadvault::api {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using testing_util::ApiTest;

// The typed lists name what the kept strings name.
void ExpectTypedAgree(const v1::Submission& s) {
  ASSERT_EQ(s.masked_personal_fields_size(), s.masked_fields_size());
  for (int i = 0; i < s.masked_fields_size(); ++i) {
    EXPECT_EQ(v1::PersonalField_Name(s.masked_personal_fields(i)),
              "PERSONAL_FIELD_" + absl::AsciiStrToUpper(s.masked_fields(i)));
  }
  ASSERT_EQ(s.conflicting_fields_size(), s.conflicts_size());
  for (int i = 0; i < s.conflicts_size(); ++i) {
    EXPECT_EQ(v1::PersonalField_Name(s.conflicting_fields(i)),
              "PERSONAL_FIELD_" + absl::AsciiStrToUpper(s.conflicts(i)));
  }
}

class SubmissionTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (HasFatalFailure()) return;
    partner_ = NewPrincipal("partner agency form", {"capture"});
    compliance_ = NewPrincipal("privacy office", {"compliance"});
  }

  // The partner's submission of the same person (same email) with other data.
  // Returns the id the partner was given (a receipt, the same on its repeats).
  std::string Resubmit(const std::string& key, const std::string& phone,
                       bool* duplicate = nullptr) {
    v1::CreateLeadRequest r = ValidCreate(key, "ada@example.com");
    r.mutable_personal()->set_last_name("Byron");
    r.mutable_personal()->set_phone(phone);
    r.mutable_personal()->set_condition_interest("palpitations");
    r.mutable_personal()->clear_notes();
    r.mutable_attribution()->set_source(v1::SOURCE_CHANNEL_PAID_SOCIAL);
    v1::CreateLeadResponse response;
    grpc::Status s = leads_->CreateLead(Ctx(partner_).get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    if (duplicate != nullptr) *duplicate = response.duplicate();
    return response.lead_id();
  }

  v1::GetLeadResponse Read(const std::string& id, const std::string& token) {
    v1::GetLeadRequest r;
    r.set_lead_id(id);
    r.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
    v1::GetLeadResponse response;
    grpc::Status s = leads_->GetLead(Ctx(token).get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return response;
  }

  std::vector<std::string> FindByPhone(const std::string& phone) { return FindIds(false, phone); }

  std::string partner_, compliance_;
};

TEST_F(SubmissionTest, ADuplicateKeepsWhatItBroughtAndShowsTheConflicts) {
  const std::string id = CreateLead("first", "ada@example.com");
  bool duplicate = true;
  const std::string receipt = Resubmit("second", "+1 650 253 0000", &duplicate);
  ASSERT_NE(receipt, id);
  EXPECT_FALSE(duplicate) << "the partner cannot see the lead: a receipt of its own";

  v1::GetLeadResponse read = Read(id, worker_token_);
  EXPECT_EQ(read.lead().personal().last_name(), "Lovelace") << "the lead's values stay";
  EXPECT_EQ(read.lead().metadata().version(), 1u);
  ASSERT_EQ(read.lead().submissions_size(), 1);
  const v1::Submission& s = read.lead().submissions(0);
  EXPECT_EQ(s.personal().last_name(), "Byron");
  EXPECT_EQ(s.personal().phone(), "+16502530000");
  EXPECT_EQ(s.personal().condition_interest(), "palpitations");
  EXPECT_EQ(s.attribution().source(), v1::SOURCE_CHANNEL_PAID_SOCIAL);
  EXPECT_EQ(std::vector<std::string>(s.conflicts().begin(), s.conflicts().end()),
            std::vector<std::string>{"last_name"})
      << "the lead had no phone or condition: new, not conflicting";
  EXPECT_THAT(s.conflicting_fields(), ElementsAre(v1::PERSONAL_FIELD_LAST_NAME));
  EXPECT_THAT(s.hidden_fields(), IsEmpty()) << "intake sees every field";
  EXPECT_TRUE(s.personal().notes().empty()) << "not hidden: the submission brought none";
  ExpectTypedAgree(s);
  auto stored = vault_->audit_log().ReadEntry(vault_->audit_log().size());
  ASSERT_TRUE(stored.ok());
  EXPECT_NE(
      std::find(stored->entry.fields.begin(), stored->entry.fields.end(), "submission:last_name"),
      stored->entry.fields.end());

  // The new phone finds the lead.
  EXPECT_EQ(FindByPhone("+1 650 253 0000"), std::vector<std::string>{id});

  // Compliance sees the submission as it sees the lead: no identifier.
  v1::GetLeadResponse officer = Read(id, compliance_);
  ASSERT_EQ(officer.lead().submissions_size(), 1);
  const v1::PersonalData& seen = officer.lead().submissions(0).personal();
  EXPECT_TRUE(seen.last_name().empty());
  EXPECT_TRUE(seen.phone().empty());
  EXPECT_TRUE(seen.condition_interest().empty());
  EXPECT_EQ(seen.date_of_birth(), "1980") << "masked as the lead's own";
  EXPECT_TRUE(officer.lead().submissions(0).conflicts().empty()) << "conflicts need clear fields";
  // What compliance may not see is listed as hidden, as on the lead itself.
  const v1::Submission& masked = officer.lead().submissions(0);
  EXPECT_THAT(masked.hidden_fields(), ElementsAreArray(officer.hidden_fields()));
  EXPECT_THAT(masked.hidden_fields(),
              ElementsAre(v1::PERSONAL_FIELD_FIRST_NAME, v1::PERSONAL_FIELD_LAST_NAME,
                          v1::PERSONAL_FIELD_EMAIL, v1::PERSONAL_FIELD_PHONE,
                          v1::PERSONAL_FIELD_STREET_ADDRESS, v1::PERSONAL_FIELD_CITY,
                          v1::PERSONAL_FIELD_CONDITION_INTEREST, v1::PERSONAL_FIELD_NOTES));
  EXPECT_THAT(masked.masked_personal_fields(),
              ElementsAre(v1::PERSONAL_FIELD_DATE_OF_BIRTH, v1::PERSONAL_FIELD_POSTAL_CODE));
  ExpectTypedAgree(masked);
  // The partner's receipt shows it nothing of the lead.
  v1::GetLeadResponse own = Read(receipt, partner_);
  EXPECT_TRUE(own.lead().submissions().empty());
  // A read for outreach carries no submission.
  v1::GetLeadRequest outreach;
  outreach.set_lead_id(id);
  outreach.set_purpose(v1::PURPOSE_OF_USE_SCHEDULING_OUTREACH);
  outreach.set_outreach_channel(v1::CONSENT_CHANNEL_EMAIL);
  v1::GetLeadResponse reached;
  ASSERT_TRUE(leads_->GetLead(Ctx(worker_token_).get(), outreach, &reached).ok());
  EXPECT_TRUE(reached.lead().submissions().empty());
  ExpectLeadRowsConsistent();
}

TEST_F(SubmissionTest, ASendersNewerSubmissionReplacesItsOlderOneAndItsIndexRows) {
  const std::string id = CreateLead("first", "ada@example.com");
  const std::string receipt = Resubmit("second", "+1 650 253 0000");
  bool duplicate = false;
  EXPECT_EQ(Resubmit("third", "+1 650 253 0001", &duplicate), receipt);
  EXPECT_TRUE(duplicate) << "its own earlier submission of the person";
  v1::GetLeadResponse read = Read(id, worker_token_);
  ASSERT_EQ(read.lead().submissions_size(), 1);
  EXPECT_EQ(read.lead().submissions(0).personal().phone(), "+16502530001");
  EXPECT_TRUE(FindByPhone("+1 650 253 0000").empty()) << "the replaced submission's phone";
  EXPECT_EQ(FindByPhone("+1 650 253 0001"), std::vector<std::string>{id});
  ExpectLeadRowsConsistent();
}

TEST_F(SubmissionTest, APurgeTakesTheSubmissionsAndTheirIndexRows) {
  const std::string id = CreateLead("first", "ada@example.com");
  Resubmit("second", "+1 650 253 0000");
  v1::DeleteLeadRequest del;
  del.set_lead_id(id);
  del.set_reason("data-subject deletion request #5120");
  v1::DeleteLeadResponse deleted;
  grpc::Status s = leads_->DeleteLead(Ctx(worker_token_).get(), del, &deleted);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_TRUE(FindByPhone("+1 650 253 0000").empty());
  ExpectLeadRowsConsistent();
}

}  // namespace
}  // namespace leadvault::api
