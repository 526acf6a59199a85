// DecideRead as a table: caller x lead x purpose x grant -> outcome and what
// each field shows. The store only executes this decision.
#include "vault/read_decision.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace leadvault::vault {
namespace {

constexpr char kLead[] = "0123456789abcdef";  // a binary id (16 bytes)
constexpr char kOwner[] = "00000000000000c1";
constexpr char kCaller[] = "00000000000000a1";

LeadMetadata OrthoLead(std::string created_by = kOwner) {
  LeadMetadata m;
  m.id = kLead;
  m.created_at = absl::FromUnixSeconds(1'790'000'000);
  m.updated_at = m.created_at + absl::Hours(1);
  m.attribution.service_line = "orthopedics";
  m.status = LeadStatus::kContacted;
  m.version = 3;
  m.created_by = std::move(created_by);
  return m;
}

Actor Caller(absl::string_view roles, std::vector<std::string> lines,
             std::optional<Purpose> purpose) {
  Actor a;
  a.principal_id = kCaller;
  std::vector<std::string> names = absl::StrSplit(roles, ',', absl::SkipEmpty());
  a.roles = ParseRoles(names);
  a.service_lines = std::move(lines);
  a.purpose = purpose;
  return a;
}

EmergencyGrant GrantFor(std::string principal, std::string lead) {
  EmergencyGrant g;
  g.id = "0000000000000000feedfacefeedface";
  g.principal_id = std::move(principal);
  g.reason = "patient arrived unconscious";
  g.lead_ids = {std::move(lead)};
  return g;
}

// Each field's projection in field order: C clear, M masked, H hidden.
std::string Shape(const ReadDecision& d) {
  std::string out;
  for (Projection p : d.fields) out += "HMC"[static_cast<int>(p)];
  return out;
}

struct Row {
  const char* name;
  const char* roles;
  std::vector<std::string> lines;
  std::optional<Purpose> purpose;
  bool created_by_caller = false;
  bool receipt = false;
  enum { kNoGrant, kGrant, kOthersGrant, kOtherLeadGrant } grant = kNoGrant;
  absl::StatusCode code = absl::StatusCode::kOk;
  const char* shape = "";  // when OK
  bool submission_view = false;
  bool flagged = false;
};

constexpr char kAll[] = "CCCCCCCCCCC";
constexpr char kNone[] = "HHHHHHHHHHH";
// first..notes: dob masked, state clear, postal masked.
constexpr char kCompliance[] = "HHHHMHHCMHH";

TEST(ReadDecisionTest, Table) {
  using P = Purpose;
  using C = absl::StatusCode;
  const std::vector<std::string> ortho = {"orthopedics"};
  const std::vector<std::string> cardio = {"cardiology"};
  const std::vector<Row> rows = {
      // intake: its service lines only, with a purpose it may state
      {"intake in scope", "intake", ortho, P::kTreatment, false, false, Row::kNoGrant, C::kOk,
       kAll},
      {"intake scheduling without a channel", "intake", ortho, P::kSchedulingOutreach, false, false,
       Row::kNoGrant, C::kInvalidArgument},
      {"intake no purpose", "intake", ortho, std::nullopt, false, false, Row::kNoGrant,
       C::kInvalidArgument},
      {"intake out of scope", "intake", cardio, P::kTreatment, false, false, Row::kNoGrant,
       C::kNotFound},
      {"intake out of scope, grant", "intake", cardio, P::kEmergency, false, false, Row::kGrant,
       C::kNotFound},
      {"intake emergency, no grant", "intake", ortho, P::kEmergency, false, false, Row::kNoGrant,
       C::kPermissionDenied},
      {"intake emergency, grant", "intake", ortho, P::kEmergency, false, false, Row::kGrant, C::kOk,
       kAll, false, true},
      {"intake emergency, another's grant", "intake", ortho, P::kEmergency, false, false,
       Row::kOthersGrant, C::kPermissionDenied},
      {"intake emergency, grant of another lead", "intake", ortho, P::kEmergency, false, false,
       Row::kOtherLeadGrant, C::kPermissionDenied},
      // compliance: every lead, Safe Harbor view, operations or patient request
      {"compliance operations",
       "compliance",
       {},
       P::kOperations,
       false,
       false,
       Row::kNoGrant,
       C::kOk,
       kCompliance},
      {"compliance treatment",
       "compliance",
       {},
       P::kTreatment,
       false,
       false,
       Row::kNoGrant,
       C::kPermissionDenied},
      {"compliance emergency, grant",
       "compliance",
       {},
       P::kEmergency,
       false,
       false,
       Row::kGrant,
       C::kOk,
       kAll,
       false,
       true},
      // both roles: the purpose picks the roles that contribute
      {"intake+compliance operations", "intake,compliance", ortho, P::kOperations, false, false,
       Row::kNoGrant, C::kOk, kAll},
      {"intake+compliance, other line", "intake,compliance", cardio, P::kOperations, false, false,
       Row::kNoGrant, C::kOk, kCompliance},
      {"intake+compliance, other line, treatment", "intake,compliance", cardio, P::kTreatment,
       false, false, Row::kNoGrant, C::kPermissionDenied},
      // capture: its own submission, metadata only, no purpose needed
      {"capture own", "capture", {}, std::nullopt, true, false, Row::kNoGrant, C::kOk, kNone, true},
      {"capture own, any purpose",
       "capture",
       {},
       P::kTreatment,
       true,
       false,
       Row::kNoGrant,
       C::kOk,
       kNone,
       true},
      {"capture own receipt",
       "capture",
       {},
       std::nullopt,
       true,
       true,
       Row::kNoGrant,
       C::kOk,
       kNone,
       true},
      {"capture another's", "capture", {}, std::nullopt, false, false, Row::kNoGrant, C::kNotFound},
      {"capture emergency",
       "capture",
       {},
       P::kEmergency,
       true,
       false,
       Row::kGrant,
       C::kPermissionDenied},
      {"capture+intake own, in scope", "capture,intake", ortho, P::kTreatment, true, false,
       Row::kNoGrant, C::kOk, kAll},
      // no role that reads leads
      {"admin", "admin", {}, P::kOperations, false, false, Row::kNoGrant, C::kNotFound},
      {"analyst", "analyst", {}, P::kOperations, false, false, Row::kNoGrant, C::kNotFound},
      {"no role", "", ortho, P::kTreatment, false, false, Row::kNoGrant, C::kNotFound},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    Actor actor = Caller(row.roles, row.lines, row.purpose);
    LeadMetadata meta = OrthoLead(row.created_by_caller ? kCaller : kOwner);
    std::optional<EmergencyGrant> grant;
    switch (row.grant) {
      case Row::kNoGrant:
        break;
      case Row::kGrant:
        grant = GrantFor(kCaller, kLead);
        break;
      case Row::kOthersGrant:
        grant = GrantFor(kOwner, kLead);
        break;
      case Row::kOtherLeadGrant:
        grant = GrantFor(kCaller, "fedcba9876543210");
        break;
    }
    absl::StatusOr<ReadDecision> d = DecideRead(actor, meta, row.receipt, grant);
    ASSERT_EQ(d.status().code(), row.code) << d.status();
    if (!d.ok()) continue;
    EXPECT_EQ(Shape(*d), row.shape);
    EXPECT_EQ(d->DisclosesAnyField(), std::string(row.shape) != kNone);
    EXPECT_EQ(d->grant.has_value(), row.flagged);
    if (row.submission_view) {
      EXPECT_EQ(d->meta.status, LeadStatus::kUnspecified);
      EXPECT_EQ(d->meta.version, 0u);
    } else {
      EXPECT_EQ(d->meta.status, LeadStatus::kContacted);
      EXPECT_EQ(d->meta.version, 3u);
    }
  }
}

TEST(ReadDecisionTest, ErrorsNameTheRuleNotTheLead) {
  Actor intake = Caller("intake", {"cardiology"}, Purpose::kTreatment);
  absl::Status s = DecideRead(intake, OrthoLead(), false, std::nullopt).status();
  EXPECT_EQ(s.message(), "lead not found");
  intake.service_lines = {"orthopedics"};
  intake.purpose = Purpose::kEmergency;
  s = DecideRead(intake, OrthoLead(), false, std::nullopt).status();
  EXPECT_TRUE(absl::IsPermissionDenied(s));
  EXPECT_EQ(s.message().find("orthopedics"), absl::string_view::npos);
}

// Reads for outreach: the channel's contact field only with consent, the other
// contact field never; both only if the role would see them at all.
TEST(ReadDecisionTest, OutreachTable) {
  struct OutreachRow {
    const char* name;
    const char* roles;
    Purpose purpose;
    ConsentChannel channel;
    std::optional<ConsentReason> consent;  // nullopt: the store gave no decision
    const char* shape;                     // first..notes, W: withheld
    const char* email_reason;
    const char* phone_reason;
  };
  const std::vector<OutreachRow> rows = {
      {"sms, active", "intake", Purpose::kSchedulingOutreach, ConsentChannel::kSms,
       ConsentReason::kActive, "CCWCCCCCCCC", "not_outreach_channel", ""},
      {"sms, revoked", "intake", Purpose::kSchedulingOutreach, ConsentChannel::kSms,
       ConsentReason::kRevoked, "CCWWCCCCCCC", "not_outreach_channel", "revoked"},
      {"voice, suppressed", "intake", Purpose::kSchedulingOutreach, ConsentChannel::kVoice,
       ConsentReason::kSuppressed, "CCWWCCCCCCC", "not_outreach_channel", "suppressed"},
      {"autodialed, incomplete", "intake", Purpose::kSchedulingOutreach,
       ConsentChannel::kAutodialedVoice, ConsentReason::kIncomplete, "CCWWCCCCCCC",
       "not_outreach_channel", "incomplete"},
      {"email, active", "intake", Purpose::kSchedulingOutreach, ConsentChannel::kEmail,
       ConsentReason::kActive, "CCCWCCCCCCC", "", "not_outreach_channel"},
      {"email, no consent", "intake", Purpose::kSchedulingOutreach, ConsentChannel::kEmail,
       ConsentReason::kNoConsent, "CCWWCCCCCCC", "no_consent", "not_outreach_channel"},
      {"no decision fails closed", "intake", Purpose::kSchedulingOutreach, ConsentChannel::kSms,
       std::nullopt, "CCWWCCCCCCC", "not_outreach_channel", "no_consent"},
      {"treatment read naming a channel", "intake", Purpose::kTreatment, ConsentChannel::kSms,
       ConsentReason::kRevoked, "CCWWCCCCCCC", "not_outreach_channel", "revoked"},
      // Compliance never sees contact fields: nothing to withhold.
      {"compliance", "compliance", Purpose::kOperations, ConsentChannel::kSms,
       ConsentReason::kRevoked, "HHHHMHHCMHH", "", ""},
  };
  for (const OutreachRow& row : rows) {
    SCOPED_TRACE(row.name);
    Actor actor = Caller(row.roles, {"orthopedics"}, row.purpose);
    Outreach outreach;
    outreach.channel = row.channel;
    std::optional<ConsentDecision> consent;
    if (row.consent.has_value()) {
      consent.emplace();
      consent->reason = *row.consent;
      consent->allowed = *row.consent == ConsentReason::kActive;
      consent->at = absl::FromUnixSeconds(1'790'000'500);
    }
    absl::StatusOr<ReadDecision> d =
        DecideRead(actor, OrthoLead(), false, std::nullopt, outreach, consent);
    ASSERT_TRUE(d.ok()) << d.status();
    std::string shape = Shape(*d);
    for (const WithheldField& w : d->withheld) shape[static_cast<size_t>(w.field) - 1] = 'W';
    EXPECT_EQ(shape, row.shape);
    auto reason = [&](PiiField f) -> std::string {
      for (const WithheldField& w : d->withheld) {
        if (w.field == f) return w.reason;
      }
      return "";
    };
    EXPECT_EQ(reason(PiiField::kEmail), row.email_reason);
    EXPECT_EQ(reason(PiiField::kPhone), row.phone_reason);
    for (const WithheldField& w : d->withheld) {
      EXPECT_EQ(d->fields[static_cast<size_t>(w.field) - 1], Projection::kHidden);  // not decrypted
      if (w.reason == "revoked" || w.reason == "suppressed") {
        EXPECT_EQ(w.since, absl::FromUnixSeconds(1'790'000'500));
      }
    }
  }
}

}  // namespace
}  // namespace leadvault::vault
