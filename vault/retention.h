// Retention: which rule a lead falls under and when it expires. Pure code: no
// storage, no clock (callers pass the lead's facts), no I/O.
//
// A policy is an ordered list of rules and a default rule. A rule matches a
// lead by service line, source and status (each optional: absent matches any);
// the first rule that matches decides, else the default. A rule keeps a lead
// for a period counted from its creation or from its last activity (the
// latest of creation, update, contact attempt and re-submission).
//
// Errors are INVALID_ARGUMENT "retention.rules[i].<field>: <rule>" (or
// "retention.default.<field>", "retention.rules: ..."); no message holds a
// value from the request.
#ifndef LEADVAULT_VAULT_RETENTION_H_
#define LEADVAULT_VAULT_RETENTION_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vault/lead.h"

namespace leadvault::vault {

inline constexpr size_t kMaxRetentionRules = 100;
inline constexpr size_t kMaxRetentionRuleNameLength = 64;
// Periods are whole days between these bounds.
inline constexpr absl::Duration kMinRetentionPeriod = absl::Hours(24);
inline constexpr absl::Duration kMaxRetentionPeriod = absl::Hours(24 * 366 * 10);

// The numbers are stored: never renumber.
enum class RetentionAnchor {
  kCreated = 1,       // counted from the lead's creation
  kLastActivity = 2,  // from its last activity
};
// "created", "last_activity"; "unknown" outside the enum.
absl::string_view RetentionAnchorName(RetentionAnchor anchor);

struct RetentionRule {
  // The operator's label, named in purge audit entries: 1..64 of [a-z0-9_-],
  // unique within a policy ("default" is the default rule's).
  std::string name;
  std::optional<std::string> service_line;  // absent: any
  std::optional<SourceChannel> source;      // absent: any
  std::optional<LeadStatus> status;         // absent: any
  absl::Duration period = absl::ZeroDuration();
  RetentionAnchor from = RetentionAnchor::kCreated;
};

struct RetentionPolicy {
  std::vector<RetentionRule> rules;  // in order; the first match decides
  RetentionRule default_rule;        // no conditions; named "default"
};

// The built-in policy until an administrator sets one: no rules, and a
// default that keeps a lead 365 days from its last activity.
RetentionPolicy DefaultRetentionPolicy();

// Validates `policy`: at most kMaxRetentionRules rules; names well formed and
// unique; a service line as vault/validation.h accepts it; source and status
// known values (not unspecified); periods whole days within the bounds; an
// anchor known; the default rule without conditions and named "default". On
// error `policy` is unchanged.
absl::Status ValidateRetentionPolicy(const RetentionPolicy& policy);

// What retention looks at in a lead.
struct RetentionFacts {
  std::string service_line;
  SourceChannel source = SourceChannel::kUnspecified;
  LeadStatus status = LeadStatus::kUnspecified;
  absl::Time created_at;
  absl::Time last_activity;
};
// From a lead's metadata: last activity is the latest of created_at,
// updated_at, its contact attempts and its touches (re-submissions).
RetentionFacts RetentionFactsOf(const LeadMetadata& meta);

struct RetentionDecision {
  // The rule that decides: its index in policy.rules, or policy.rules.size()
  // for the default rule.
  size_t rule = 0;
  std::string rule_name;
  absl::Time expires_at;  // anchor + period
};
// REQUIRES: ValidateRetentionPolicy(policy) is OK.
RetentionDecision DecideRetention(const RetentionPolicy& policy, const RetentionFacts& facts);

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_RETENTION_H_
