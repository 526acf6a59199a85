#include "vault/funnel_report.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "keys/status_macros.h"
#include "vault/validation.h"

namespace leadvault::vault {
namespace {

// The group a cell falls in: one slot per dimension (unused ones stay empty).
struct GroupKey {
  int64_t week = 0;
  int source = 0;
  std::string campaign;
  std::string service_line;
  int status = 0;
  friend bool operator<(const GroupKey& a, const GroupKey& b) {
    return std::tie(a.week, a.source, a.campaign, a.service_line, a.status) <
           std::tie(b.week, b.source, b.campaign, b.service_line, b.status);
  }
};

// The counts that are a part of a row's leads: their complement is a count of
// leads too. (Duplicates count submissions, not leads.)
bool IsPartOfLeads(size_t c) { return c != kCountLeads && c != kCountDuplicates; }

bool Small(int64_t v) { return v > 0 && v < kMinFunnelCell; }

using Raw = std::array<int64_t, kFunnelCountCount>;

// The report's counts from a cell's counters.
void AddCell(const FunnelCounters& n, Raw& raw, std::array<int64_t, kSpeedBuckets>& speed) {
  raw[kCountLeads] += n[kFunnelLeads];
  raw[kCountDuplicates] += n[kFunnelDuplicates];
  raw[kCountContacted] += n[kFunnelContacted];
  raw[kCountQualified] += n[kFunnelQualified];
  raw[kCountScheduled] += n[kFunnelScheduled];
  raw[kCountShowed] += n[kFunnelShowed];
  raw[kCountClosedLost] += n[kFunnelClosedLost];
  raw[kCountDisqualified] += n[kFunnelDisqualified];
  raw[kCountFirstContacted] += n[kFunnelFirstContacted];
  for (size_t b = 0; b < kSpeedBuckets; ++b) {
    const int64_t v = n[kFunnelSpeedBucket0 + b];
    speed[b] += v;
    const int64_t upper = b < kSpeedBucketUpperSeconds.size() ? kSpeedBucketUpperSeconds[b] : -1;
    if (upper != -1 && upper <= 300) raw[kCountWithin5Minutes] += v;
    if (upper != -1 && upper <= 3600) raw[kCountWithin1Hour] += v;
    if (upper != -1 && upper <= 86400) raw[kCountWithin1Day] += v;
  }
  static_assert(kCountConsentAutodialedVoice - kCountConsentEmail + 1 ==
                kAllConsentChannels.size());
  for (size_t i = 0; i < kAllConsentChannels.size(); ++i) {
    raw[kCountConsentEmail + i] += n[kFunnelConsent0 + i];
  }
}

// The nearest-rank percentile `p` (0..100] of the histogram, as its bucket's
// upper edge (-1 past the last).
int64_t Percentile(const std::array<int64_t, kSpeedBuckets>& speed, int64_t population, int p) {
  const int64_t rank = (population * p + 99) / 100;  // ceil(p% of n), at least 1
  int64_t seen = 0;
  for (size_t b = 0; b < kSpeedBuckets; ++b) {
    seen += speed[b];
    if (seen >= std::max<int64_t>(rank, 1)) {
      return b < kSpeedBucketUpperSeconds.size() ? kSpeedBucketUpperSeconds[b] : -1;
    }
  }
  return -1;
}

struct Working {
  GroupKey key;
  Raw raw{};
  std::array<int64_t, kSpeedBuckets> speed{};
  std::array<bool, kFunnelCountCount> hidden{};
};

void PrimarySuppression(Working& w) {
  const int64_t leads = w.raw[kCountLeads];
  if (Small(leads)) {
    w.hidden.fill(true);
    return;
  }
  for (size_t c = 0; c < kFunnelCountCount; ++c) {
    if (Small(w.raw[c]) || (IsPartOfLeads(c) && Small(leads - w.raw[c]))) w.hidden[c] = true;
  }
}

// The columns suppression protects: the counts, then for each count that is
// a part of the leads its complement (leads minus it), which the analyst can
// compute wherever both are shown. A complement is withheld when either part
// is; it is withheld by withholding the part.
constexpr size_t kProtectedColumns = 2 * kFunnelCountCount - 2;

size_t PartOf(size_t column) {
  return column < kFunnelCountCount ? column : column - kFunnelCountCount + 2;
}
bool IsComplement(size_t column) { return column >= kFunnelCountCount; }

int64_t ValueOf(const Working& w, size_t column) {
  const size_t c = PartOf(column);
  return IsComplement(column) ? w.raw[kCountLeads] - w.raw[c] : w.raw[c];
}

bool HiddenOf(const Working& w, size_t column) {
  const size_t c = PartOf(column);
  return w.hidden[c] || (IsComplement(column) && w.hidden[kCountLeads]);
}

// A row's key with dimension `along` blanked: the rows of one line share it.
GroupKey LineOf(GroupKey k, FunnelDimension along) {
  switch (along) {
    case FunnelDimension::kWeek:
      k.week = 0;
      break;
    case FunnelDimension::kSource:
      k.source = 0;
      break;
    case FunnelDimension::kCampaign:
      k.campaign.clear();
      break;
    case FunnelDimension::kServiceLine:
      k.service_line.clear();
      break;
    case FunnelDimension::kStatus:
      k.status = 0;
      break;
  }
  return k;
}

// The lines of a table: per dimension, its lines (row indexes) and each
// row's line.
struct Lines {
  std::vector<std::vector<std::vector<size_t>>> members;  // [dimension][line] -> rows
  std::vector<std::vector<size_t>> line_of;               // [dimension][row] -> line
};

Lines LinesOf(const std::vector<Working>& rows, const std::vector<FunnelDimension>& dims) {
  Lines lines;
  for (FunnelDimension along : dims) {
    std::map<GroupKey, size_t> index;
    std::vector<std::vector<size_t>> members;
    std::vector<size_t> line_of(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      auto [it, added] = index.try_emplace(LineOf(rows[i].key, along), members.size());
      if (added) members.emplace_back();
      members[it->second].push_back(i);
      line_of[i] = it->second;
    }
    lines.members.push_back(std::move(members));
    lines.line_of.push_back(std::move(line_of));
  }
  return lines;
}

// Whether withholding row `i`'s cell of `column` would be undone by another
// of its lines: one where every other cell is zero, so its total (another
// call's row) is the cell.
bool AloneInALine(const std::vector<Working>& rows, const Lines& lines, size_t skip_dimension,
                  size_t i, size_t column) {
  for (size_t d = 0; d < lines.members.size(); ++d) {
    if (d == skip_dimension) continue;
    bool other = false;
    for (size_t j : lines.members[d][lines.line_of[d][i]]) {
      if (j != i && ValueOf(rows[j], column) != 0) other = true;
    }
    if (!other) return true;
  }
  return false;
}

// Complementary suppression along every dimension (see the header); returns
// whether anything changed.
bool ProtectLines(std::vector<Working>& rows, const Lines& lines) {
  static_assert(kCountDuplicates == 1 && kCountLeads == 0, "PartOf: the complements skip both");
  bool changed = false;
  for (size_t d = 0; d < lines.members.size(); ++d) {
    for (const std::vector<size_t>& members : lines.members[d]) {
      for (size_t c = 0; c < kProtectedColumns; ++c) {
        while (true) {
          size_t hidden = 0;
          int64_t hidden_sum = 0;
          bool any = false;
          for (size_t i : members) {
            if (!HiddenOf(rows[i], c)) continue;
            any = true;
            if (ValueOf(rows[i], c) != 0) {
              ++hidden;
              hidden_sum += ValueOf(rows[i], c);
            }
          }
          if (!any || (hidden >= 2 && hidden_sum >= kMinFunnelCell)) break;
          // The smallest shown non-zero cell of the line joins them, one that
          // no other line gives away if there is one.
          std::optional<size_t> pick;
          bool pick_alone = true;
          for (size_t i : members) {
            if (HiddenOf(rows[i], c) || ValueOf(rows[i], c) == 0) continue;
            const bool alone = AloneInALine(rows, lines, d, i, c);
            if (!pick.has_value() || (pick_alone && !alone) ||
                (pick_alone == alone && ValueOf(rows[i], c) < ValueOf(rows[*pick], c))) {
              pick = i;
              pick_alone = alone;
            }
          }
          // None: the rest is zeros, so the line's total is the withheld sum,
          // which the coarser grouping withholds by the same primary rule.
          if (!pick.has_value()) break;
          rows[*pick].hidden[PartOf(c)] = true;
          changed = true;
        }
      }
    }
  }
  return changed;
}

FunnelRow ToRow(const Working& w, const std::vector<FunnelDimension>& dims) {
  FunnelRow row;
  for (FunnelDimension d : dims) {
    switch (d) {
      case FunnelDimension::kWeek:
        row.week = FunnelWeekStart(w.key.week);
        break;
      case FunnelDimension::kSource:
        row.source = static_cast<SourceChannel>(w.key.source);
        break;
      case FunnelDimension::kCampaign:
        row.campaign = w.key.campaign;
        break;
      case FunnelDimension::kServiceLine:
        row.service_line = w.key.service_line;
        break;
      case FunnelDimension::kStatus:
        row.status = static_cast<LeadStatus>(w.key.status);
        break;
    }
  }
  for (size_t c = 0; c < kFunnelCountCount; ++c) {
    row.counts[c].suppressed = w.hidden[c];
    row.counts[c].value = w.hidden[c] ? 0 : w.raw[c];
  }
  const int64_t contacted = w.raw[kCountFirstContacted];
  if (!w.hidden[kCountFirstContacted] && contacted >= kMinFunnelCell) {
    row.speed_to_lead_median_seconds = Percentile(w.speed, contacted, 50);
    row.speed_to_lead_p90_seconds = Percentile(w.speed, contacted, 90);
  }
  auto rate = [&](size_t num, size_t den) -> std::optional<double> {
    if (w.hidden[num] || w.hidden[den] || w.raw[den] == 0) return std::nullopt;
    return static_cast<double>(w.raw[num]) / static_cast<double>(w.raw[den]);
  };
  row.lead_to_appointment_rate = rate(kCountScheduled, kCountLeads);
  row.show_rate = rate(kCountShowed, kCountScheduled);
  return row;
}

std::string DimensionList(const std::vector<FunnelDimension>& dims) {
  std::vector<absl::string_view> names;
  for (FunnelDimension d : dims) names.push_back(FunnelDimensionName(d));
  return names.empty() ? "none" : absl::StrJoin(names, ",");
}

}  // namespace

absl::string_view FunnelDimensionName(FunnelDimension d) {
  switch (d) {
    case FunnelDimension::kWeek:
      return "week";
    case FunnelDimension::kSource:
      return "source";
    case FunnelDimension::kCampaign:
      return "campaign";
    case FunnelDimension::kServiceLine:
      return "service_line";
    case FunnelDimension::kStatus:
      return "status";
  }
  return "unknown";
}

absl::string_view FunnelCountName(FunnelCount c) {
  static constexpr const char* kNames[] = {
      "leads",           "duplicates",       "contacted",     "qualified",
      "scheduled",       "showed",           "closed_lost",   "disqualified",
      "first_contacted", "within_5_minutes", "within_1_hour", "within_1_day",
      "consent_email",   "consent_sms",      "consent_voice", "consent_autodialed_voice"};
  static_assert(std::size(kNames) == kFunnelCountCount);
  return c < kFunnelCountCount ? kNames[c] : "unknown";
}

absl::Status ValidateCampaignLabels(const std::vector<std::string>& labels) {
  if (labels.size() > kMaxFunnelCampaigns) {
    return absl::InvalidArgumentError(
        absl::StrCat("funnel campaigns: at most ", kMaxFunnelCampaigns, " labels"));
  }
  absl::flat_hash_set<std::string> seen;
  for (const std::string& label : labels) {
    if (label.empty() || label.size() > kMaxAttributionLength) {
      return absl::InvalidArgumentError(absl::StrCat("funnel campaigns: each label must be 1 to ",
                                                     kMaxAttributionLength, " characters"));
    }
    for (char c : label) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '.' || c == ' ';
      if (!ok) {
        return absl::InvalidArgumentError(
            "funnel campaigns: a label may hold letters, digits, space, '_', '-' and '.' only");
      }
    }
    if (!seen.insert(label).second) {
      return absl::InvalidArgumentError("funnel campaigns: a label is listed twice");
    }
  }
  return absl::OkStatus();
}

namespace {

// The weeks [first, second) `query` covers; INVALID_ARGUMENT naming the rule
// for a query no report answers.
absl::StatusOr<std::pair<int64_t, int64_t>> QueryWeeks(const FunnelQuery& query) {
  if (query.to <= query.from) {
    return absl::InvalidArgumentError("to: must be after from");
  }
  const int64_t from_week = FunnelWeekOf(query.from);
  int64_t to_week = FunnelWeekOf(query.to);
  if (FunnelWeekStart(to_week) < query.to) ++to_week;
  if (to_week - from_week > kMaxFunnelWeeks) {
    return absl::InvalidArgumentError(
        absl::StrCat("to: a report covers at most ", kMaxFunnelWeeks, " weeks"));
  }
  bool used[6] = {};
  for (FunnelDimension d : query.group_by) {
    const int i = static_cast<int>(d);
    if (i < 1 || i > 5) return absl::InvalidArgumentError("group_by: unknown dimension");
    if (used[i]) return absl::InvalidArgumentError("group_by: a dimension is named twice");
    used[i] = true;
  }
  return std::pair{from_week, to_week};
}

}  // namespace

absl::StatusOr<FunnelReport> ComputeFunnelReport(const FunnelTable& table,
                                                 const FunnelQuery& query) {
  LV_ASSIGN_OR_RETURN(const auto weeks, QueryWeeks(query));
  const auto [from_week, to_week] = weeks;
  bool used[6] = {};
  for (FunnelDimension d : query.group_by) used[static_cast<int>(d)] = true;
  auto has = [&](FunnelDimension d) { return used[static_cast<int>(d)]; };

  // Sum each group's cell counters first (a hash look-up and a vector add
  // per cell), then turn each group's sums into report counts.
  struct Sum {
    int64_t week = 0;
    uint32_t source = 0, status = 0, line = 0, campaign = 0;
    FunnelCounters counters{};
  };
  absl::flat_hash_map<std::pair<int64_t, uint64_t>, size_t> index;
  std::vector<Sum> sums;
  bool too_many = false;
  table.ForEach(from_week, to_week,
                [&](const FunnelTable::Cell& cell, const FunnelTable::Counts& n) {
                  if (too_many) return;
                  Sum key;
                  if (has(FunnelDimension::kWeek)) key.week = cell.week;
                  if (has(FunnelDimension::kSource))
                    key.source = static_cast<uint32_t>(cell.source);
                  if (has(FunnelDimension::kStatus))
                    key.status = static_cast<uint32_t>(cell.status);
                  if (has(FunnelDimension::kServiceLine)) key.line = cell.service_line;
                  if (has(FunnelDimension::kCampaign)) key.campaign = cell.campaign;
                  const uint64_t packed = uint64_t{key.source} << 56 | uint64_t{key.status} << 48 |
                                          uint64_t{key.line} << 24 | key.campaign;
                  auto [it, added] = index.try_emplace({key.week, packed}, sums.size());
                  if (added) {
                    if (sums.size() == kMaxFunnelRows) {
                      too_many = true;
                      return;
                    }
                    sums.push_back(key);
                  }
                  FunnelCounters& into = sums[it->second].counters;
                  for (size_t i = 0; i < into.size(); ++i) into[i] += n[i];
                });
  std::map<GroupKey, Working> groups;
  Working total;
  for (const Sum& sum : sums) {
    const FunnelCounters& n = sum.counters;
    if (n[kFunnelLeads] == 0 && n[kFunnelDuplicates] == 0) continue;  // cells its leads left
    GroupKey key;
    key.week = sum.week;
    key.source = static_cast<int>(sum.source);
    key.status = static_cast<int>(sum.status);
    if (has(FunnelDimension::kCampaign)) {
      // Labelled when kept: an approved label, or "" for any other.
      const std::string label = table.Name(sum.campaign);
      key.campaign = label.empty() ? kOtherCampaign : label;
    }
    if (has(FunnelDimension::kServiceLine)) key.service_line = table.Name(sum.line);
    Working& w = groups[key];
    w.key = key;
    AddCell(n, w.raw, w.speed);
    AddCell(n, total.raw, total.speed);
  }
  if (too_many) {
    return absl::ResourceExhaustedError(
        absl::StrCat("group_by: the report would have more than ", kMaxFunnelRows,
                     " rows; group by fewer dimensions or cover fewer weeks"));
  }
  std::vector<Working> rows;
  rows.reserve(groups.size());
  if (!query.group_by.empty()) {  // else the one group is the total
    for (auto& [key, w] : groups) rows.push_back(std::move(w));
  }
  for (Working& w : rows) PrimarySuppression(w);
  PrimarySuppression(total);
  const Lines lines = LinesOf(rows, query.group_by);
  while (ProtectLines(rows, lines)) {
  }

  FunnelReport report;
  report.from = FunnelWeekStart(from_week);
  report.to = FunnelWeekStart(to_week);
  for (const Working& w : rows) {
    report.rows.push_back(ToRow(w, query.group_by));
    report.suppressed_cells += std::count(w.hidden.begin(), w.hidden.end(), true);
  }
  report.total = ToRow(total, {});
  report.suppressed_cells += std::count(total.hidden.begin(), total.hidden.end(), true);
  return report;
}

absl::StatusOr<FunnelReport> FunnelReports::GetFunnelMetrics(const Actor& actor,
                                                             const FunnelQuery& query,
                                                             bool* committed) {
  // The table follows the merge log's folds: a catch-up hands it the
  // unfolded records, so everything answered before this call is counted.
  LV_RETURN_IF_ERROR(QueryWeeks(query).status());
  LV_RETURN_IF_ERROR(committer_->CatchUpMergeLog());
  LV_ASSIGN_OR_RETURN(FunnelReport report, ComputeFunnelReport(*table_, query));
  audit::AuditEntry entry = EntryFor(actor, "GetFunnelMetrics");
  entry.fields.push_back(
      absl::StrCat("from=", absl::FormatTime("%Y-%m-%d", report.from, absl::UTCTimeZone())));
  entry.fields.push_back(
      absl::StrCat("to=", absl::FormatTime("%Y-%m-%d", report.to, absl::UTCTimeZone())));
  entry.fields.push_back(absl::StrCat("group_by=", DimensionList(query.group_by)));
  entry.fields.push_back(absl::StrCat("rows=", report.rows.size()));
  entry.fields.push_back(absl::StrCat("suppressed=", report.suppressed_cells));
  LV_RETURN_IF_ERROR(committer_->Commit(rocksdb::WriteBatch(), std::move(entry)).status());
  if (committed != nullptr) *committed = true;
  return report;
}

}  // namespace leadvault::vault
