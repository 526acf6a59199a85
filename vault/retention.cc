#include "vault/retention.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "keys/status_macros.h"
#include "vault/validation.h"

namespace leadvault::vault {
namespace {

constexpr absl::string_view kDefaultRuleName = "default";

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

absl::Status Invalid(const std::string& field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

absl::Status ValidateRule(const RetentionRule& rule, const std::string& field, bool is_default) {
  if (rule.name.empty() || rule.name.size() > kMaxRetentionRuleNameLength ||
      !std::all_of(rule.name.begin(), rule.name.end(), IsNameChar)) {
    return Invalid(field + ".name", "1 to 64 of a-z, 0-9, '_' and '-'");
  }
  if (is_default != (rule.name == kDefaultRuleName)) {
    return Invalid(field + ".name", is_default ? "the default rule is named \"default\""
                                               : "\"default\" is the default rule's name");
  }
  if (is_default &&
      (rule.service_line.has_value() || rule.source.has_value() || rule.status.has_value())) {
    return Invalid(field, "the default rule has no conditions");
  }
  if (rule.service_line.has_value()) {
    LV_RETURN_IF_ERROR(ValidateServiceLine(field + ".service_line", *rule.service_line));
  }
  if (rule.source.has_value() &&
      (*rule.source <= SourceChannel::kUnspecified || *rule.source > SourceChannel::kOther)) {
    return Invalid(field + ".source", "unknown source channel");
  }
  if (rule.status.has_value() &&
      (*rule.status <= LeadStatus::kUnspecified || *rule.status > LeadStatus::kDisqualified)) {
    return Invalid(field + ".status", "unknown lead status");
  }
  if (rule.period < kMinRetentionPeriod || rule.period > kMaxRetentionPeriod ||
      rule.period % absl::Hours(24) != absl::ZeroDuration()) {
    return Invalid(field + ".period", "whole days, from 1 day to 3660 days");
  }
  if (RetentionAnchorName(rule.from) == "unknown") {
    return Invalid(field + ".from", "created or last_activity");
  }
  return absl::OkStatus();
}

bool Matches(const RetentionRule& rule, const RetentionFacts& facts) {
  return (!rule.service_line.has_value() || *rule.service_line == facts.service_line) &&
         (!rule.source.has_value() || *rule.source == facts.source) &&
         (!rule.status.has_value() || *rule.status == facts.status);
}

}  // namespace

absl::string_view RetentionAnchorName(RetentionAnchor anchor) {
  switch (anchor) {
    case RetentionAnchor::kCreated:
      return "created";
    case RetentionAnchor::kLastActivity:
      return "last_activity";
  }
  return "unknown";
}

RetentionPolicy DefaultRetentionPolicy() {
  RetentionPolicy policy;
  policy.default_rule.name = std::string(kDefaultRuleName);
  policy.default_rule.period = absl::Hours(24 * 365);
  policy.default_rule.from = RetentionAnchor::kLastActivity;
  return policy;
}

absl::Status ValidateRetentionPolicy(const RetentionPolicy& policy) {
  if (policy.rules.size() > kMaxRetentionRules) {
    return Invalid("retention.rules", absl::StrCat("at most ", kMaxRetentionRules, " rules"));
  }
  for (size_t i = 0; i < policy.rules.size(); ++i) {
    const std::string field = absl::StrCat("retention.rules[", i, "]");
    LV_RETURN_IF_ERROR(ValidateRule(policy.rules[i], field, /*is_default=*/false));
    for (size_t j = 0; j < i; ++j) {
      if (policy.rules[j].name == policy.rules[i].name) {
        return Invalid(field + ".name", "each rule's name at most once");
      }
    }
  }
  return ValidateRule(policy.default_rule, "retention.default", /*is_default=*/true);
}

RetentionFacts RetentionFactsOf(const LeadMetadata& meta) {
  RetentionFacts facts;
  facts.service_line = meta.attribution.service_line;
  facts.source = meta.attribution.source;
  facts.status = meta.status;
  facts.created_at = meta.created_at;
  facts.last_activity = std::max(meta.created_at, meta.updated_at);
  for (const ContactAttempt& a : meta.contact_attempts) {
    facts.last_activity = std::max(facts.last_activity, a.at);
  }
  for (const Touch& t : meta.touches) facts.last_activity = std::max(facts.last_activity, t.at);
  return facts;
}

RetentionDecision DecideRetention(const RetentionPolicy& policy, const RetentionFacts& facts) {
  size_t i = 0;
  while (i < policy.rules.size() && !Matches(policy.rules[i], facts)) ++i;
  const RetentionRule& rule = i < policy.rules.size() ? policy.rules[i] : policy.default_rule;
  const absl::Time anchor =
      rule.from == RetentionAnchor::kCreated ? facts.created_at : facts.last_activity;
  return {i, rule.name, anchor + rule.period};
}

}  // namespace leadvault::vault
