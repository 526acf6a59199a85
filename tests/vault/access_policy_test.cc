// The access policy's tables and masking rules, and SECURITY.md printing the
// very tables the code uses.
#include "vault/access_policy.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/vault/vault_fixture.h"

#ifndef LEADVAULT_SECURITY_MD
#error "LEADVAULT_SECURITY_MD must be defined by the build"
#endif

namespace leadvault::vault::testing {
namespace {

absl::Time At(int year, int month, int day) {
  return absl::FromCivil(absl::CivilDay(year, month, day), absl::UTCTimeZone());
}

Projection ProjectionFor(const Actor& actor, const LeadMetadata& meta, PiiField field) {
  return ProjectionsFor(actor, meta)[static_cast<size_t>(field) - 1];
}

std::string Masked(PiiField field, absl::string_view value, absl::Time now = At(2026, 12, 1)) {
  return std::string(Mask(field, keys::SecretBytes::CopyFrom(value), now).view());
}

TEST(AccessPolicyTest, NamesRoundTripAndRpcsAreInEnumOrder) {
  const std::vector<std::string> rpcs = {"CreateLead",          "GetLead",
                                         "FindLeads",           "ListQueue",
                                         "UpdateLead",          "OpenEmergencyAccess",
                                         "ListEmergencyAccess", "CloseEmergencyAccess",
                                         "CreatePrincipal",     "ListPrincipals",
                                         "DisablePrincipal",    "RotateToken",
                                         "SetServiceLines",     "GetCheckpoint",
                                         "GetInclusionProof",   "GetConsistencyProof",
                                         "ExportAudit",         "AccountingOfDisclosures",
                                         "RecordConsent",       "CheckConsent",
                                         "GetConsentHistory",   "ExportConsentProof",
                                         "DeleteLead",          "PlaceLegalHold",
                                         "ReleaseLegalHold",    "ListLegalHolds",
                                         "SweepRetention",      "SetRetentionPolicy",
                                         "GetRetentionPolicy",  "RotateMasterKey",
                                         "GetMasterKeyStatus",  "RetireMasterKey",
                                         "CreateBackup",        "AmendLead",
                                         "ListAmendments",      "IssueWebhookSecret",
                                         "RevokeWebhookSecret", "GetFunnelMetrics"};
  ASSERT_EQ(rpcs.size(), kRpcCount);
  for (size_t i = 0; i < kRpcCount; ++i) EXPECT_EQ(RpcName(static_cast<Rpc>(i)), rpcs[i]);
  for (Role r : kAllRoles) EXPECT_EQ(ParseRole(RoleName(r)), r);
  for (Purpose p : kAllPurposes) EXPECT_EQ(ParsePurpose(PurposeName(p)), p);
  EXPECT_FALSE(ParseRole("root").has_value());
  EXPECT_FALSE(ParsePurpose("curiosity").has_value());
}

TEST(AccessPolicyTest, MaskingRules) {
  EXPECT_EQ(Masked(PiiField::kEmail, "jane.doe@mail.example.com"), "j***@***.com");
  EXPECT_EQ(Masked(PiiField::kEmail, "x@localhost"), "x***@***");
  EXPECT_EQ(Masked(PiiField::kPhone, "+16502530042"), "***-***-0042");
  EXPECT_EQ(Masked(PiiField::kPhone, "+1"), "");
  EXPECT_EQ(Masked(PiiField::kFirstName, "Zebulon"), "Z.");
  EXPECT_EQ(Masked(PiiField::kLastName, "Quixworth"), "Q.");
  EXPECT_EQ(Masked(PiiField::kFirstName, "\xc3\x89mile"), "\xc3\x89.");  // "É.", whole code point
  EXPECT_EQ(Masked(PiiField::kEmail, "\xc3\xa9lise@example.fr"), "\xc3\xa9***@***.fr");
  EXPECT_EQ(Masked(PiiField::kPostalCode, "02139-4307"), "021**");
  EXPECT_EQ(Masked(PiiField::kState, "MA"), "MA");
  EXPECT_EQ(Masked(PiiField::kDateOfBirth, "1980-04-12"), "1980");
  // Over 89 is "90+" (HIPAA Safe Harbor), from the birthday on.
  EXPECT_EQ(Masked(PiiField::kDateOfBirth, "1936-12-02", At(2026, 12, 1)), "1936");
  EXPECT_EQ(Masked(PiiField::kDateOfBirth, "1936-12-01", At(2026, 12, 1)), "90+");
  EXPECT_EQ(Masked(PiiField::kDateOfBirth, "1901-01-01"), "90+");
  for (PiiField f : {PiiField::kStreetAddress, PiiField::kCity, PiiField::kConditionInterest,
                     PiiField::kNotes}) {
    EXPECT_EQ(Masked(f, "anything at all"), "") << PiiFieldName(f);
  }
}

TEST(AccessPolicyTest, ScopeAndProjectionFollowTheRoles) {
  LeadMetadata ortho;
  ortho.attribution.service_line = "ortho";
  ortho.created_by = "00000000000000c1";
  LeadMetadata cardio = ortho;
  cardio.attribution.service_line = "cardio";
  cardio.created_by = "00000000000000c2";

  Actor intake = IntakeActor();  // service line ortho
  EXPECT_TRUE(MaySee(intake, ortho));
  EXPECT_FALSE(MaySee(intake, cardio));
  EXPECT_EQ(ProjectionFor(intake, ortho, PiiField::kNotes), Projection::kClear);
  EXPECT_EQ(ProjectionFor(intake, cardio, PiiField::kNotes), Projection::kHidden);

  EXPECT_TRUE(MayListServiceLine(intake, "ortho"));
  EXPECT_FALSE(MayListServiceLine(intake, "cardio"));

  Actor capture = CaptureActor();                      // principal ...c1
  EXPECT_FALSE(MayListServiceLine(capture, "ortho"));  // capture has no queue
  EXPECT_TRUE(MaySee(capture, ortho));
  EXPECT_FALSE(MaySee(capture, cardio));
  EXPECT_EQ(ProjectionFor(capture, ortho, PiiField::kEmail), Projection::kHidden);

  // Several roles: the most open projection of the roles that see the lead.
  Actor both = MakeActor("00000000000000c1", "capture,compliance");
  both.purpose = Purpose::kOperations;
  EXPECT_EQ(ProjectionFor(both, cardio, PiiField::kDateOfBirth), Projection::kMasked);
  EXPECT_EQ(ProjectionFor(both, cardio, PiiField::kEmail), Projection::kHidden);
  // With a purpose stated, only the roles that may state it count.
  Actor desk_and_officer = MakeActor("00000000000000c1", "intake,compliance");
  desk_and_officer.service_lines = {"cardio"};
  desk_and_officer.purpose = Purpose::kOperations;  // both may state it: intake's view
  EXPECT_EQ(ProjectionFor(desk_and_officer, cardio, PiiField::kEmail), Projection::kClear);
  Actor officer_only = MakeActor("00000000000000c3", "compliance");
  officer_only.purpose = Purpose::kTreatment;  // compliance may not: nothing
  EXPECT_EQ(ProjectionFor(officer_only, cardio, PiiField::kDateOfBirth), Projection::kHidden);

  Actor admin = MakeActor("00000000000000ad", "admin");
  EXPECT_FALSE(MaySee(admin, ortho));
  EXPECT_TRUE(absl::IsPermissionDenied(CheckCall(admin, Rpc::kGetLead)));
  EXPECT_TRUE(CheckCall(admin, Rpc::kCreatePrincipal).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(CheckCall(MakeActor("x", ""), Rpc::kGetLead)));
  EXPECT_TRUE(absl::IsPermissionDenied(CheckCall(MakeActor("x", "root"), Rpc::kGetLead)));

  intake.purpose = std::nullopt;
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPurpose(intake, ortho)));
  intake.purpose = Purpose::kEmergency;
  EXPECT_TRUE(absl::IsPermissionDenied(CheckPurpose(intake, ortho)));
  intake.purpose = Purpose::kTreatment;
  EXPECT_TRUE(CheckPurpose(intake, ortho).ok());
}

TEST(AccessPolicyTest, SecurityMdPrintsTheTablesTheCodeUses) {
  std::ifstream in(LEADVAULT_SECURITY_MD);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  ASSERT_FALSE(doc.empty());
  EXPECT_NE(doc.find(RpcTableMarkdown()), std::string::npos)
      << "SECURITY.md must contain exactly:\n"
      << RpcTableMarkdown();
  EXPECT_NE(doc.find(ProjectionTableMarkdown()), std::string::npos)
      << "SECURITY.md must contain exactly:\n"
      << ProjectionTableMarkdown();
}

}  // namespace
}  // namespace leadvault::vault::testing
