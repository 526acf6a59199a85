// Retention rules: which rule decides and when a lead expires (table-driven,
// times given, no clock), and what a policy may hold.
#include "vault/retention.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace leadvault::vault {
namespace {

const absl::Time kCreated = absl::FromUnixSeconds(1'780'000'000);
constexpr absl::Duration kDay = absl::Hours(24);

RetentionRule Rule(std::string name, std::optional<std::string> service_line,
                   std::optional<SourceChannel> source, std::optional<LeadStatus> status, int days,
                   RetentionAnchor from) {
  return {std::move(name), std::move(service_line), source, status, days * kDay, from};
}

RetentionPolicy Policy() {
  RetentionPolicy p = DefaultRetentionPolicy();
  p.rules = {
      Rule("ortho-lost", "ortho", std::nullopt, LeadStatus::kClosedLost, 90,
           RetentionAnchor::kLastActivity),
      Rule("paid-social", std::nullopt, SourceChannel::kPaidSocial, std::nullopt, 180,
           RetentionAnchor::kCreated),
      Rule("showed", std::nullopt, std::nullopt, LeadStatus::kShowed, 730,
           RetentionAnchor::kCreated),
  };
  return p;
}

TEST(RetentionTest, TheFirstMatchingRuleDecidesFromItsAnchor) {
  const RetentionPolicy policy = Policy();
  ASSERT_TRUE(ValidateRetentionPolicy(policy).ok()) << ValidateRetentionPolicy(policy);
  struct Case {
    std::string service_line;
    SourceChannel source;
    LeadStatus status;
    absl::Duration active_after;  // last activity - creation
    size_t rule;
    std::string name;
    absl::Time expires_at;
  };
  const std::vector<Case> cases = {
      // ortho, closed lost: 90 days from last activity, whatever the source.
      {"ortho", SourceChannel::kWebForm, LeadStatus::kClosedLost, 10 * kDay, 0, "ortho-lost",
       kCreated + 100 * kDay},
      {"ortho", SourceChannel::kPaidSocial, LeadStatus::kClosedLost, 0 * kDay, 0, "ortho-lost",
       kCreated + 90 * kDay},
      // Another service line, closed lost, from paid social: the second rule.
      {"cardio", SourceChannel::kPaidSocial, LeadStatus::kClosedLost, 40 * kDay, 1, "paid-social",
       kCreated + 180 * kDay},
      // ortho but not closed lost, paid social: the second rule, from creation.
      {"ortho", SourceChannel::kPaidSocial, LeadStatus::kNew, 400 * kDay, 1, "paid-social",
       kCreated + 180 * kDay},
      {"cardio", SourceChannel::kReferral, LeadStatus::kShowed, 5 * kDay, 2, "showed",
       kCreated + 730 * kDay},
      // Nothing matches: the default, 365 days from last activity.
      {"cardio", SourceChannel::kWebForm, LeadStatus::kNew, 0 * kDay, 3, "default",
       kCreated + 365 * kDay},
      {"ortho", SourceChannel::kEvent, LeadStatus::kContacted, 30 * kDay, 3, "default",
       kCreated + 395 * kDay},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.service_line, "/", static_cast<int>(c.source), "/",
                              LeadStatusName(c.status)));
    RetentionFacts facts{c.service_line, c.source, c.status, kCreated, kCreated + c.active_after};
    const RetentionDecision d = DecideRetention(policy, facts);
    EXPECT_EQ(d.rule, c.rule);
    EXPECT_EQ(d.rule_name, c.name);
    EXPECT_EQ(d.expires_at, c.expires_at);
  }
  // The built-in policy: every lead under the default.
  const RetentionDecision d = DecideRetention(
      DefaultRetentionPolicy(),
      {"ortho", SourceChannel::kWebForm, LeadStatus::kShowed, kCreated, kCreated + kDay});
  EXPECT_EQ(d.rule, 0u);
  EXPECT_EQ(d.rule_name, "default");
  EXPECT_EQ(d.expires_at, kCreated + 366 * kDay);
}

TEST(RetentionTest, LastActivityIsTheLatestOfUpdateContactAndResubmission) {
  LeadMetadata meta;
  meta.created_at = kCreated;
  meta.updated_at = kCreated + 3 * kDay;
  meta.attribution.service_line = "ortho";
  meta.attribution.source = SourceChannel::kReferral;
  meta.status = LeadStatus::kContacted;
  RetentionFacts facts = RetentionFactsOf(meta);
  EXPECT_EQ(facts.service_line, "ortho");
  EXPECT_EQ(facts.source, SourceChannel::kReferral);
  EXPECT_EQ(facts.status, LeadStatus::kContacted);
  EXPECT_EQ(facts.created_at, kCreated);
  EXPECT_EQ(facts.last_activity, kCreated + 3 * kDay);
  ContactAttempt attempt;
  attempt.at = kCreated + 5 * kDay;
  meta.contact_attempts.push_back(attempt);
  EXPECT_EQ(RetentionFactsOf(meta).last_activity, kCreated + 5 * kDay);
  meta.touches.push_back({kCreated + 9 * kDay, {}});
  meta.touches.push_back({kCreated + 7 * kDay, {}});
  EXPECT_EQ(RetentionFactsOf(meta).last_activity, kCreated + 9 * kDay);
}

TEST(RetentionTest, APolicyIsValidatedNamingTheFieldNeverTheValue) {
  struct Case {
    std::function<void(RetentionPolicy&)> change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](RetentionPolicy& p) { p.rules[0].name = ""; }, "retention.rules[0].name"},
      {[](RetentionPolicy& p) { p.rules[1].name = "Paid Social"; }, "retention.rules[1].name"},
      {[](RetentionPolicy& p) { p.rules[1].name = std::string(65, 'a'); },
       "retention.rules[1].name"},
      {[](RetentionPolicy& p) { p.rules[2].name = "ortho-lost"; }, "retention.rules[2].name"},
      {[](RetentionPolicy& p) { p.rules[2].name = "default"; }, "retention.rules[2].name"},
      {[](RetentionPolicy& p) { p.rules[0].service_line = "Ortho Zq9canary"; },
       "retention.rules[0].service_line"},
      {[](RetentionPolicy& p) { p.rules[1].source = SourceChannel::kUnspecified; },
       "retention.rules[1].source"},
      {[](RetentionPolicy& p) { p.rules[1].source = static_cast<SourceChannel>(99); },
       "retention.rules[1].source"},
      {[](RetentionPolicy& p) { p.rules[2].status = static_cast<LeadStatus>(0); },
       "retention.rules[2].status"},
      {[](RetentionPolicy& p) { p.rules[0].period = absl::ZeroDuration(); },
       "retention.rules[0].period"},
      {[](RetentionPolicy& p) { p.rules[0].period = kDay + absl::Hours(1); },
       "retention.rules[0].period"},
      {[](RetentionPolicy& p) { p.rules[0].period = 3661 * kDay; }, "retention.rules[0].period"},
      {[](RetentionPolicy& p) { p.rules[0].period = -kDay; }, "retention.rules[0].period"},
      {[](RetentionPolicy& p) { p.rules[0].from = static_cast<RetentionAnchor>(3); },
       "retention.rules[0].from"},
      {[](RetentionPolicy& p) { p.default_rule.name = "fallback"; }, "retention.default.name"},
      {[](RetentionPolicy& p) { p.default_rule.status = LeadStatus::kNew; }, "retention.default"},
      {[](RetentionPolicy& p) { p.default_rule.period = absl::ZeroDuration(); },
       "retention.default.period"},
      {[](RetentionPolicy& p) {
         while (p.rules.size() <= kMaxRetentionRules) {
           p.rules.push_back(Rule(absl::StrCat("r", p.rules.size()), std::nullopt, std::nullopt,
                                  std::nullopt, 30, RetentionAnchor::kCreated));
         }
       },
       "retention.rules"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    RetentionPolicy p = Policy();
    c.change(p);
    const absl::Status s = ValidateRetentionPolicy(p);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_TRUE(absl::StartsWith(s.message(), c.field + ":") ||
                absl::StartsWith(s.message(), c.field + "."))
        << s.message();
    EXPECT_FALSE(absl::StrContains(s.message(), "Zq9canary")) << s.message();
    EXPECT_FALSE(absl::StrContains(s.message(), "Paid Social")) << s.message();
  }
  // The bounds themselves are allowed: 1 day, 3660 days, 100 rules.
  RetentionPolicy p = Policy();
  p.rules[0].period = kDay;
  p.rules[1].period = 3660 * kDay;
  while (p.rules.size() < kMaxRetentionRules) {
    p.rules.push_back(Rule(absl::StrCat("r", p.rules.size()), std::nullopt, std::nullopt,
                           std::nullopt, 30, RetentionAnchor::kCreated));
  }
  EXPECT_TRUE(ValidateRetentionPolicy(p).ok()) << ValidateRetentionPolicy(p);
}

}  // namespace
}  // namespace leadvault::vault
