// Emergency access: a grant opens full reads of the leads it names, for a
// stated reason, for a bounded time; every such read is flagged in the audit.
#include "vault/emergency_access.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/vault/vault_fixture.h"

namespace leadvault::vault::testing {
namespace {

constexpr char kReason[] = "patient collapsed in clinic; need next-of-kin contact";

class EmergencyAccessTest : public VaultFixture {
 protected:
  void SetUp() override {
    OpenOrDie();
    auto created = vault_->leads().CreateLead(
        CaptureActor(), MakeNewLead(LeadInput{}, "cardio", "k1"));  // not intake's "ortho"
    ASSERT_TRUE(created.ok()) << created.status();
    lead_ = created->lead_id;
  }

  Actor Emergency(Actor a) {
    a.purpose = "emergency";
    return a;
  }

  std::string lead_;
};

TEST_F(EmergencyAccessTest, AGrantOpensAFullReadFlaggedInTheAudit) {
  Actor intake = IntakeActor();  // scoped to "ortho": the lead is out of its scope
  EXPECT_TRUE(absl::IsNotFound(vault_->leads().GetLead(intake, lead_).status()));
  EXPECT_TRUE(absl::IsNotFound(vault_->leads().GetLead(Emergency(intake), lead_).status()))
      << "without a grant, emergency reveals nothing about an out-of-scope lead";

  auto grant = vault_->emergency().OpenGrant(intake, kReason, {lead_}, absl::Minutes(30));
  ASSERT_TRUE(grant.ok()) << grant.status();
  EXPECT_EQ(vault_->emergency().opened_count(), 1u);
  auto audit = ReadAudit(*vault_);
  EXPECT_EQ(audit.back().second.action, "OpenEmergencyAccess");
  EXPECT_EQ(audit.back().second.break_glass_reason, kReason);

  // Without purpose "emergency" the grant is not used: still out of scope.
  EXPECT_TRUE(absl::IsNotFound(vault_->leads().GetLead(intake, lead_).status()));
  auto read = vault_->leads().GetLead(Emergency(intake), lead_);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->pii.Get(PiiField::kNotes).view(), "prefers mornings after nine");
  EXPECT_TRUE(read->masked.empty());
  audit = ReadAudit(*vault_);
  const audit::AuditEntry& entry = audit.back().second;
  EXPECT_EQ(entry.action, "GetLead");
  EXPECT_EQ(entry.purpose, "emergency");
  EXPECT_EQ(entry.break_glass_reason, kReason);
  EXPECT_NE(std::find(entry.fields.begin(), entry.fields.end(), "grant=" + grant->id),
            entry.fields.end());

  // Another principal's grant does nothing for this one.
  Actor other = MakeActor("00000000000000a2", "intake");
  other.service_lines = {"ortho"};
  EXPECT_TRUE(absl::IsNotFound(vault_->leads().GetLead(Emergency(other), lead_).status()));
}

TEST_F(EmergencyAccessTest, AGrantEndsWhenItExpiresOrIsClosed) {
  Actor intake = IntakeActor();
  auto grant = vault_->emergency().OpenGrant(intake, kReason, {lead_}, absl::Minutes(10));
  ASSERT_TRUE(grant.ok());
  clock_.Advance(absl::Minutes(10) - absl::Seconds(1));
  EXPECT_TRUE(vault_->leads().GetLead(Emergency(intake), lead_).ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(absl::IsNotFound(vault_->leads().GetLead(Emergency(intake), lead_).status()));

  Actor officer = MakeActor("00000000000000e1", "compliance");
  auto second = vault_->emergency().OpenGrant(intake, kReason, {lead_}, absl::Minutes(10));
  ASSERT_TRUE(second.ok());
  auto open = vault_->emergency().List(officer, /*open_only=*/true);
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ(open->front().id, second->id);
  auto closed = vault_->emergency().Close(officer, second->id);
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->closed_by, officer.principal_id);
  EXPECT_TRUE(absl::IsNotFound(vault_->leads().GetLead(Emergency(intake), lead_).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(vault_->emergency().Close(officer, second->id).status()));
  EXPECT_TRUE(absl::IsNotFound(vault_->emergency().Close(officer, "0000000000000000").status()));
  auto all = vault_->emergency().List(officer, /*open_only=*/false);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);

  // Grants survive a restart.
  Reopen();
  all = vault_->emergency().List(officer, false);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
}

TEST_F(EmergencyAccessTest, InScopeEmergencyWithoutAGrantIsDeniedAndComplianceGetsItInFull) {
  Actor desk = IntakeActor();
  desk.service_lines = {"cardio"};  // the lead is in scope
  EXPECT_TRUE(absl::IsPermissionDenied(vault_->leads().GetLead(Emergency(desk), lead_).status()));
  Actor officer = MakeActor("00000000000000e1", "compliance");
  officer.purpose = "operations";
  auto masked = vault_->leads().GetLead(officer, lead_);
  ASSERT_TRUE(masked.ok()) << masked.status();
  EXPECT_FALSE(masked->masked.empty());
  ASSERT_TRUE(vault_->emergency().OpenGrant(officer, kReason, {lead_}, absl::Minutes(5)).ok());
  auto full = vault_->leads().GetLead(Emergency(officer), lead_);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_TRUE(full->masked.empty());
  EXPECT_EQ(full->pii.Get(PiiField::kLastName).view(), "Quixworth");
}

TEST_F(EmergencyAccessTest, AGrantNeedsAReasonLeadsAndABoundedDuration) {
  Actor intake = IntakeActor();
  auto& store = vault_->emergency();
  EXPECT_TRUE(
      absl::IsInvalidArgument(store.OpenGrant(intake, "", {lead_}, absl::Minutes(5)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      store.OpenGrant(intake, "because", {lead_}, absl::Minutes(5)).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(store.OpenGrant(intake, kReason, {}, absl::Minutes(5)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      store.OpenGrant(intake, kReason, {lead_}, absl::Minutes(61)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      store.OpenGrant(intake, kReason, {lead_}, absl::ZeroDuration()).status()));
  std::vector<std::string> many(21);
  for (size_t i = 0; i < many.size(); ++i) many[i] = std::string(16, static_cast<char>('a' + i));
  EXPECT_TRUE(
      absl::IsInvalidArgument(store.OpenGrant(intake, kReason, many, absl::Minutes(5)).status()));
  EXPECT_EQ(store.opened_count(), 0u);
}

}  // namespace
}  // namespace leadvault::vault::testing
