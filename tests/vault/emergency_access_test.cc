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
    a.purpose = Purpose::kEmergency;
    return a;
  }

  std::string lead_;
};

TEST_F(EmergencyAccessTest, AGrantOpensAFullReadFlaggedInTheAudit) {
  Actor officer = MakeActor("00000000000000e1", "compliance");
  officer.purpose = Purpose::kOperations;
  EXPECT_FALSE(vault_->leads().GetLead(officer, lead_)->masked.empty()) << "Safe Harbor view";
  EXPECT_TRUE(absl::IsPermissionDenied(vault_->leads().GetLead(Emergency(officer), lead_).status()))
      << "without a grant, emergency is refused";

  auto grant = vault_->emergency().OpenGrant(officer, kReason, {lead_}, absl::Minutes(30));
  ASSERT_TRUE(grant.ok()) << grant.status();
  EXPECT_EQ(grant->id.size(), 32u);
  EXPECT_EQ(vault_->emergency().opened_count(), 1u);
  auto audit = ReadAudit(*vault_);
  EXPECT_EQ(audit.back().second.action, "OpenEmergencyAccess");
  EXPECT_EQ(audit.back().second.break_glass_reason, kReason);

  // Without purpose "emergency" the grant is not used.
  EXPECT_FALSE(vault_->leads().GetLead(officer, lead_)->masked.empty());
  auto read = vault_->leads().GetLead(Emergency(officer), lead_);
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
  Actor other = MakeActor("00000000000000e2", "compliance");
  EXPECT_TRUE(absl::IsPermissionDenied(vault_->leads().GetLead(Emergency(other), lead_).status()));
}

// Review finding: break-glass let any intake principal read any lead in full.
TEST_F(EmergencyAccessTest, AGrantNeverWidensScope) {
  Actor intake = IntakeActor();  // scoped to "ortho": the lead is cardio
  const auto before = DumpState(*vault_);
  absl::Status out_of_scope =
      vault_->emergency().OpenGrant(intake, kReason, {lead_}, absl::Minutes(30)).status();
  absl::Status missing =
      vault_->emergency()
          .OpenGrant(intake, kReason, {std::string(16, '\x42')}, absl::Minutes(30))
          .status();
  EXPECT_TRUE(absl::IsNotFound(out_of_scope)) << out_of_scope;
  EXPECT_EQ(out_of_scope, missing) << "an out-of-scope lead answers as a missing one";
  EXPECT_TRUE(DumpState(*vault_) == before);
  EXPECT_EQ(vault_->emergency().opened_count(), 0u);
  // Mixed with an in-scope lead, the whole grant is refused.
  auto ortho = vault_->leads().CreateLead(CaptureActor(),
                                          MakeNewLead(EmailOnlyInput(7), "ortho", "k-ortho"));
  ASSERT_TRUE(ortho.ok());
  EXPECT_TRUE(
      absl::IsNotFound(vault_->emergency()
                           .OpenGrant(intake, kReason, {ortho->lead_id, lead_}, absl::Minutes(30))
                           .status()));
  // Its own service line: allowed, and still nothing outside it.
  auto own = vault_->emergency().OpenGrant(intake, kReason, {ortho->lead_id}, absl::Minutes(30));
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_TRUE(vault_->leads().GetLead(Emergency(intake), ortho->lead_id).ok());
  EXPECT_TRUE(absl::IsNotFound(vault_->leads().GetLead(Emergency(intake), lead_).status()));
  // Capture + intake: neither a receipt id nor a lead it created for another
  // service line (in its capture scope, which sees no field) can be opened.
  Actor both = MakeActor("00000000000000c7", "capture,intake");
  both.service_lines = {"ortho"};
  auto receipt = vault_->leads().CreateLead(both, MakeNewLead(LeadInput{}, "cardio", "k-probe"));
  ASSERT_TRUE(receipt.ok());
  EXPECT_TRUE(absl::IsNotFound(
      vault_->emergency().OpenGrant(both, kReason, {receipt->lead_id}, absl::Minutes(5)).status()));
  auto created = vault_->leads().CreateLead(both, MakeNewLead(EmailOnlyInput(8), "cardio", "k-c"));
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(absl::IsNotFound(
      vault_->emergency().OpenGrant(both, kReason, {created->lead_id}, absl::Minutes(5)).status()));
}

TEST_F(EmergencyAccessTest, OpenGrantsAndOpeningsAreBounded) {
  auto& store = vault_->emergency();
  Actor officer = MakeActor("00000000000000e1", "compliance");
  for (size_t i = 0; i < kMaxOpenGrantsPerPrincipal; ++i) {
    ASSERT_TRUE(store.OpenGrant(officer, kReason, {lead_}, absl::Minutes(10)).ok());
  }
  const auto before = DumpState(*vault_);
  absl::Status fourth = store.OpenGrant(officer, kReason, {lead_}, absl::Minutes(10)).status();
  EXPECT_TRUE(absl::IsResourceExhausted(fourth)) << fourth;
  EXPECT_EQ(store.refused_count(), 1u);
  EXPECT_TRUE(DumpState(*vault_) == before);
  // Expired grants free their place, but the hour's openings still count.
  clock_.Advance(absl::Minutes(10));
  ASSERT_TRUE(store.OpenGrant(officer, kReason, {lead_}, absl::Minutes(1)).ok());
  ASSERT_TRUE(store.OpenGrant(officer, kReason, {lead_}, absl::Minutes(1)).ok());
  clock_.Advance(absl::Minutes(1));
  EXPECT_TRUE(absl::IsResourceExhausted(
      store.OpenGrant(officer, kReason, {lead_}, absl::Minutes(1)).status()))
      << kMaxGrantOpeningsPerPrincipalPerHour << " per principal per hour";
  // The bound survives a restart (it is rebuilt from the stored grants).
  Reopen();
  EXPECT_TRUE(absl::IsResourceExhausted(
      vault_->emergency().OpenGrant(officer, kReason, {lead_}, absl::Minutes(1)).status()));
  clock_.Advance(absl::Hours(1));
  EXPECT_TRUE(vault_->emergency().OpenGrant(officer, kReason, {lead_}, absl::Minutes(1)).ok());

  // Intake desks together: kMaxGrantOpeningsPerHour per hour...
  clock_.Advance(absl::Hours(1));
  for (size_t i = 0; i < kMaxGrantOpeningsPerHour; ++i) {
    Actor desk = MakeActor(absl::StrCat("00000000000001", absl::Dec(i, absl::kZeroPad2)), "intake");
    desk.service_lines = {"cardio"};
    ASSERT_TRUE(vault_->emergency().OpenGrant(desk, kReason, {lead_}, absl::Seconds(30)).ok()) << i;
  }
  Actor another_desk = MakeActor("00000000000002ff", "intake");
  another_desk.service_lines = {"cardio"};
  EXPECT_TRUE(absl::IsResourceExhausted(
      vault_->emergency().OpenGrant(another_desk, kReason, {lead_}, absl::Seconds(30)).status()));
  // ...which never locks out a compliance officer, the second person.
  EXPECT_TRUE(vault_->emergency()
                  .OpenGrant(MakeActor("00000000000003ee", "compliance"), kReason, {lead_},
                             absl::Seconds(30))
                  .ok());
}

TEST_F(EmergencyAccessTest, GrantsArePagedNewestFirst) {
  Actor officer = MakeActor("00000000000000e1", "compliance");
  std::vector<std::string> ids;  // oldest first
  for (int i = 0; i < 7; ++i) {
    Actor a = MakeActor(absl::StrCat("000000000000010", i), "compliance");
    auto g = vault_->emergency().OpenGrant(a, kReason, {lead_}, absl::Minutes(30));
    ASSERT_TRUE(g.ok()) << g.status();
    ids.push_back(g->id);
    clock_.Advance(absl::Minutes(5));
  }
  for (bool open_only : {false, true}) {
    std::vector<std::string> listed;
    std::string token;
    int pages = 0;
    do {
      auto page = vault_->emergency().List(officer, open_only, 3, token);
      ASSERT_TRUE(page.ok()) << page.status();
      EXPECT_LE(page->grants.size(), 3u);
      for (const EmergencyGrant& g : page->grants) listed.push_back(g.id);
      token = page->next_page_token;
      ++pages;
    } while (!token.empty());
    // Open now (30 minutes each, 5 apart): the newest six; all of them otherwise.
    std::vector<std::string> expected(ids.rbegin(), ids.rend());
    if (open_only) expected.resize(5);  // opened 10..30 minutes ago
    EXPECT_EQ(listed, expected) << "open_only=" << open_only;
    EXPECT_EQ(pages, open_only ? 2 : 3);
  }
  EXPECT_TRUE(absl::IsInvalidArgument(vault_->emergency().List(officer, false, 0, "zz").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      vault_->emergency().List(officer, false, kMaxGrantPageSize + 1, "").status()));
}

// A close is in force before it is durable; if it cannot be written, the
// grant keeps working (the log shows no close).
TEST_F(EmergencyAccessTest, AFailedCloseLeavesTheGrantOpen) {
  Actor officer = MakeActor("00000000000000e1", "compliance");
  // A grant is in use only once its opening is durable.
  bool active_during_open = true;
  vault_->committer().SetBeforeWriteHookForTesting([&] {
    active_during_open = vault_->emergency().ActiveGrant(officer.principal_id, lead_).has_value();
  });
  auto grant = vault_->emergency().OpenGrant(officer, kReason, {lead_}, absl::Minutes(30));
  vault_->committer().SetBeforeWriteHookForTesting(nullptr);
  ASSERT_TRUE(grant.ok());
  EXPECT_FALSE(active_during_open);
  EXPECT_TRUE(vault_->emergency().ActiveGrant(officer.principal_id, lead_).has_value());
  vault_->committer().SetFailWritesForTesting(true);
  EXPECT_FALSE(vault_->emergency().Close(officer, grant->id).ok());
  vault_->committer().SetFailWritesForTesting(false);
  EXPECT_TRUE(vault_->emergency().ActiveGrant(officer.principal_id, lead_).has_value());
  // While the close commits, the grant is already out of use.
  bool active_during_close = true;
  vault_->committer().SetBeforeWriteHookForTesting([&] {
    active_during_close = vault_->emergency().ActiveGrant(officer.principal_id, lead_).has_value();
  });
  ASSERT_TRUE(vault_->emergency().Close(officer, grant->id).ok());
  vault_->committer().SetBeforeWriteHookForTesting(nullptr);
  EXPECT_FALSE(active_during_close);
  EXPECT_FALSE(vault_->emergency().ActiveGrant(officer.principal_id, lead_).has_value());
  EXPECT_TRUE(absl::IsFailedPrecondition(vault_->emergency().Close(officer, grant->id).status()));
  EXPECT_TRUE(absl::IsNotFound(
      vault_->emergency().Close(officer, "0000000000000000ffffffffffffffff").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(vault_->emergency().Close(officer, "../x").status()));
}

TEST_F(EmergencyAccessTest, AGrantEndsWhenItExpiresOrIsClosed) {
  Actor intake = IntakeActor();
  intake.service_lines = {"cardio"};
  auto grant = vault_->emergency().OpenGrant(intake, kReason, {lead_}, absl::Minutes(10));
  ASSERT_TRUE(grant.ok());
  clock_.Advance(absl::Minutes(10) - absl::Seconds(1));
  EXPECT_TRUE(vault_->leads().GetLead(Emergency(intake), lead_).ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(absl::IsPermissionDenied(vault_->leads().GetLead(Emergency(intake), lead_).status()));

  Actor officer = MakeActor("00000000000000e1", "compliance");
  auto second = vault_->emergency().OpenGrant(intake, kReason, {lead_}, absl::Minutes(10));
  ASSERT_TRUE(second.ok());
  auto open = vault_->emergency().List(officer, /*open_only=*/true, 0, "");
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->grants.size(), 1u);
  EXPECT_EQ(open->grants.front().id, second->id);
  auto closed = vault_->emergency().Close(officer, second->id);
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->closed_by, officer.principal_id);
  EXPECT_TRUE(absl::IsPermissionDenied(vault_->leads().GetLead(Emergency(intake), lead_).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(vault_->emergency().Close(officer, second->id).status()));
  EXPECT_TRUE(absl::IsNotFound(vault_->emergency().Close(officer, "0000000000000000").status()));
  auto all = vault_->emergency().List(officer, /*open_only=*/false, 0, "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->grants.size(), 2u);

  // Grants survive a restart; a closed one stays closed.
  Reopen();
  all = vault_->emergency().List(officer, false, 0, "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->grants.size(), 2u);
  EXPECT_FALSE(vault_->emergency().ActiveGrant(intake.principal_id, lead_).has_value());
}

TEST_F(EmergencyAccessTest, InScopeEmergencyWithoutAGrantIsDeniedAndComplianceGetsItInFull) {
  Actor desk = IntakeActor();
  desk.service_lines = {"cardio"};  // the lead is in scope
  EXPECT_TRUE(absl::IsPermissionDenied(vault_->leads().GetLead(Emergency(desk), lead_).status()));
  Actor officer = MakeActor("00000000000000e1", "compliance");
  officer.purpose = Purpose::kOperations;
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
