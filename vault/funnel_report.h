// Funnel reports: lead-generation KPIs for the analyst role, answered from
// the funnel aggregates (vault/funnel.h) with small cells suppressed.
//
// Suppression (SECURITY.md, "Funnel metrics"), per response:
//  1. Primary: a row counting fewer than kMinFunnelCell leads is suppressed
//     whole; any other count from 1 to kMinFunnelCell - 1 is suppressed, and
//     so is a count of leads whose complement in its row (leads minus it) is.
//  2. Complementary: the rows of one grouping sum, along each dimension, to
//     the rows of a coarser grouping of the same period that another call
//     answers (and to the total row). In every such line and every column,
//     the suppressed cells are then none, or at least two non-zero ones that
//     together count at least kMinFunnelCell: the smallest shown non-zero
//     cells are suppressed until that holds, repeated over every dimension
//     until nothing changes.
// Limits: it guards against the subtraction of one grouping from another of
// the same period, not against a linear program over many groupings and
// periods (which can narrow a suppressed cell to an interval); no noise is
// added.
#ifndef LEADVAULT_VAULT_FUNNEL_REPORT_H_
#define LEADVAULT_VAULT_FUNNEL_REPORT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vault/actor.h"
#include "vault/committer.h"
#include "vault/funnel.h"
#include "vault/lead.h"

namespace leadvault::vault {

// A count below this (and above zero) is never shown.
inline constexpr int64_t kMinFunnelCell = 11;
// A report covers at most this many weeks and answers at most this many rows.
inline constexpr int64_t kMaxFunnelWeeks = 157;  // three years
inline constexpr size_t kMaxFunnelRows = 5000;
// Campaign labels an operator may approve, and their length.
inline constexpr size_t kMaxFunnelCampaigns = 200;
// The row label of every campaign that is not an approved label (and of none).
inline constexpr char kOtherCampaign[] = "(other)";

enum class FunnelDimension { kWeek = 1, kSource = 2, kCampaign = 3, kServiceLine = 4, kStatus = 5 };
absl::string_view FunnelDimensionName(FunnelDimension d);  // "week", "source", ...

struct FunnelQuery {
  // [from, to): widened to whole weeks (from down to its Monday 00:00 UTC,
  // to up to the next one).
  absl::Time from;
  absl::Time to;
  std::vector<FunnelDimension> group_by;  // each at most once, in output order
};

// The counts of a row, in this order.
enum FunnelCount : size_t {
  kCountLeads = 0,
  kCountDuplicates,
  kCountContacted,
  kCountQualified,
  kCountScheduled,
  kCountShowed,
  kCountClosedLost,
  kCountDisqualified,
  kCountFirstContacted,  // had a contact attempt: the speed-to-lead population
  kCountWithin5Minutes,  // first attempt within 5 minutes of creation
  kCountWithin1Hour,
  kCountWithin1Day,
  // Leads whose own consent ledger holds active consent on the channel.
  kCountConsentEmail,
  kCountConsentSms,
  kCountConsentVoice,
  kCountConsentAutodialedVoice,
  kFunnelCountCount,
};
absl::string_view FunnelCountName(FunnelCount c);  // "leads", "duplicates", ...

struct FunnelValue {
  int64_t value = 0;  // 0 when suppressed
  bool suppressed = false;
};

struct FunnelRow {
  // The group, for the dimensions grouped by (the others are unset).
  std::optional<absl::Time> week;  // its Monday
  std::optional<SourceChannel> source;
  std::optional<std::string> campaign;  // an approved label, or kOtherCampaign
  std::optional<std::string> service_line;
  std::optional<LeadStatus> status;
  std::array<FunnelValue, kFunnelCountCount> counts;
  // Speed to lead over the leads with a contact attempt, at the histogram's
  // resolution: the upper edge of the bucket holding the nearest-rank
  // percentile (kSpeedBucketUpperSeconds; -1: beyond the last edge, over 30
  // days). Unset unless that population is shown and counts at least
  // kMinFunnelCell.
  std::optional<int64_t> speed_to_lead_median_seconds;
  std::optional<int64_t> speed_to_lead_p90_seconds;
  // scheduled / leads and showed / scheduled, when both are shown and the
  // divisor is not zero.
  std::optional<double> lead_to_appointment_rate;
  std::optional<double> show_rate;
};

struct FunnelReport {
  absl::Time from;  // the weeks covered: [from, to)
  absl::Time to;
  std::vector<FunnelRow> rows;  // in group order
  FunnelRow total;              // every lead of the period
  uint64_t suppressed_cells = 0;
};

// Answers a query from `table` (no audit: FunnelReports does that).
// INVALID_ARGUMENT for a bad period or grouping; RESOURCE_EXHAUSTED for more
// than kMaxFunnelRows rows.
absl::StatusOr<FunnelReport> ComputeFunnelReport(const FunnelTable& table,
                                                 const FunnelQuery& query);

// The GetFunnelMetrics operation: the report and one audit entry naming the
// period and the grouping (no lead id: a report names none), durable before
// it returns. Thread-safe.
class FunnelReports {
 public:
  FunnelReports(const FunnelTable* table, Committer* committer)
      : table_(table), committer_(committer) {}

  absl::StatusOr<FunnelReport> GetFunnelMetrics(const Actor& actor, const FunnelQuery& query,
                                                bool* committed = nullptr);

 private:
  const FunnelTable* const table_;
  Committer* const committer_;
};

// INVALID_ARGUMENT naming the rule unless every label is 1..kMaxAttributionLength
// characters of letters, digits, space, '_', '-' and '.' (labels, not text;
// never "(other)"), without duplicates, at most kMaxFunnelCampaigns of them.
absl::Status ValidateCampaignLabels(const std::vector<std::string>& labels);

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_FUNNEL_REPORT_H_
