// Funnel aggregates: de-identified lead-generation counts kept beside the
// leads, for the analyst role (GetFunnelMetrics; vault/funnel_report.h
// answers from them).
//
// Every lead contributes one vector of counts (FunnelCounters) to one cell,
// from its clear metadata only (never a personal field):
//   cell     = the Monday-based week it was created, its source channel, its
//              service line, its campaign label, its current status;
//   counters = 1 lead; its duplicate submissions; the funnel stages it has
//              reached (cumulative: a later stage implies the earlier ones);
//              whether it had a contact attempt and how long after creation
//              the first one came (a histogram bucket); the consent channels
//              its own ledger holds active consent on.
// The `funnel` column family holds, per cell, the sum of its leads'
// contributions, maintained by Merge operands that LeadRows adds to the very
// batch that changes a lead (create: +new; update: -old in the old cell,
// +new in the new one; a purge leaves it), so the counts and the leads are
// durable together. A purge also adds the lead's last contribution to the
// cell's "purged" row, so a recount of the leads that remain plus the purged
// rows must equal the aggregates (CheckFunnel, `leadvaultctl check`).
//
// A cell key holds no identifier: no lead or principal id, no date finer
// than a week, no free text except the campaign (a report names only
// campaigns the operator approved, FunnelCampaigns) and the service line
// (a validated [a-z0-9_-] label).
#ifndef LEADVAULT_VAULT_FUNNEL_H_
#define LEADVAULT_VAULT_FUNNEL_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rocksdb/merge_operator.h"
#include "rocksdb/write_batch.h"
#include "vault/lead.h"
#include "vault/merge_log.h"

namespace leadvault::vault {

class Database;
namespace internal {
class LeadRecord;
}

// Counter positions in a cell's vector. Stages are cumulative (reached this
// stage or a later one); kClosedLost and kDisqualified are leads that were
// ever closed lost or disqualified.
enum FunnelCounter : size_t {
  kFunnelLeads = 0,
  kFunnelDuplicates,  // later submissions that matched the cell's leads
  kFunnelContacted,   // reached contacted (or had a contact attempt, or a later stage)
  kFunnelQualified,   // reached qualified, scheduled or showed
  kFunnelScheduled,   // reached scheduled or showed
  kFunnelShowed,
  kFunnelClosedLost,
  kFunnelDisqualified,
  kFunnelFirstContacted,  // had at least one contact attempt
  kFunnelSpeedBucket0,    // first of kSpeedBuckets: speed to lead histogram
};

// Speed to lead (first contact attempt minus creation) histogram: bucket i
// holds times in (upper[i-1], upper[i]] seconds; the last is unbounded.
inline constexpr std::array<int64_t, 16> kSpeedBucketUpperSeconds = {
    60,    120,   300,   600,    900,    1800,   3600,    7200,
    14400, 28800, 86400, 172800, 259200, 604800, 1209600, 2592000};
inline constexpr size_t kSpeedBuckets = kSpeedBucketUpperSeconds.size() + 1;
// Then one counter per consent channel (email, sms, voice, autodialed voice):
// leads whose own ledger holds active consent on it (ActiveConsentChannels).
inline constexpr size_t kFunnelConsent0 = kFunnelSpeedBucket0 + kSpeedBuckets;
inline constexpr size_t kFunnelCounterCount = kFunnelConsent0 + kAllConsentChannels.size();

using FunnelCounters = std::array<int64_t, kFunnelCounterCount>;

// The speed bucket of `seconds` (a negative time, an attempt dated before the
// lead, counts as 0).
size_t SpeedBucketOf(int64_t seconds);

// Weeks start on Monday 00:00 UTC; week 0 is the one starting 1969-12-29.
int64_t FunnelWeekOf(absl::Time t);
absl::Time FunnelWeekStart(int64_t week);

struct FunnelCell {
  int64_t week = 0;
  SourceChannel source = SourceChannel::kUnspecified;
  LeadStatus status = LeadStatus::kNew;
  std::string service_line;
  // Aggregate rows: an approved label, or "" for every other campaign (so no
  // text a form sent is kept in them, and their number stays bounded);
  // purged rows: CampaignDigest of the campaign as captured (its text goes
  // with the lead; a rebuild under other labels re-labels them by digest).
  std::string campaign;
  friend bool operator==(const FunnelCell&, const FunnelCell&) = default;
};

// SHA-256 of `campaign` under a domain prefix (32 bytes).
std::string CampaignDigest(absl::string_view campaign);

// The campaign labels an operator approved (VaultOptions::funnel_campaigns).
class FunnelCampaigns {
 public:
  FunnelCampaigns() = default;
  explicit FunnelCampaigns(const std::vector<std::string>& labels);
  // `campaign` if it is an approved label, else "" (a view into this object).
  absl::string_view LabelOf(absl::string_view campaign) const;
  // The label whose CampaignDigest is `digest`, else "".
  std::string LabelOfDigest(absl::string_view digest) const;
  // The labels, sorted, one per line: what `meta` keeps (kMetaFunnelCampaigns)
  // so that a start with other labels re-labels the aggregates, and the
  // offline check labels as the daemon did.
  std::string Encode() const;
  static FunnelCampaigns Decode(absl::string_view encoded);

 private:
  std::vector<std::string> sorted_;
  absl::flat_hash_map<std::string, std::string> by_digest_;  // CampaignDigest -> label
};

// The `funnel` row keys: "L" (the aggregate) or "P" (purged leads' last
// contributions) || the cell.
std::string FunnelKey(char kind, const FunnelCell& cell);
// DATA_LOSS for a malformed key.
absl::StatusOr<FunnelCell> ParseFunnelKey(absl::string_view key, char* kind);
inline constexpr char kFunnelAggregate = 'L';
inline constexpr char kFunnelPurged = 'P';

// A row's value (and a Merge operand): the non-zero counters only, each as
// its position and its value (zigzag), both LEB128 varints, positions
// ascending: a change of one lead is a few bytes. An empty value is all
// zeros; a position past the last counter, a repeated or descending one, or
// a cut varint is DATA_LOSS.
std::string EncodeFunnelCounters(const FunnelCounters& counters);
absl::StatusOr<FunnelCounters> DecodeFunnelCounters(absl::string_view value);

// What one lead record contributes, and where.
struct FunnelContribution {
  FunnelCell cell;
  FunnelCounters counters{};
};
// The cell's campaign as captured, or labelled by `campaigns` when given.
FunnelContribution ContributionOf(const internal::LeadRecord& record,
                                  const FunnelCampaigns* campaigns = nullptr);

// The merge operator of the `funnel` column family: adds counter vectors.
std::shared_ptr<rocksdb::MergeOperator> FunnelMergeOperator();

// The Committer writes a group's funnel operands as one record of the
// column family's merge log (vault/merge_log.h), keys "D" || number, and
// folds them into the rows' operands every thousand groups or so. A row's
// value is then its own plus its operands in the unfolded records.
inline constexpr char kFunnelLog = 'D';
MergeLogOptions FunnelMergeLog();

// Calls `visit` with every `kind` row's counters, then with every unfolded
// logged operand of a `kind` key (as `read` sees them: its snapshot, or one
// taken here): a key's value is the sum of what it is visited with. DATA_LOSS for a malformed key,
// value or record.
absl::Status ForEachFunnelValue(
    Database& db, const rocksdb::ReadOptions& read, char kind,
    const std::function<absl::Status(absl::string_view key, const FunnelCounters&)>& visit);

// Adds to `batch` the Merge operands that turn a lead's contribution from
// `before` (null: a new lead) into `after` (null: purged, which adds
// `before`'s to the purged row, campaign as captured, and leaves the
// aggregate). Nothing when the contribution does not change.
absl::Status StageFunnelChange(Database& db, const FunnelCampaigns& campaigns,
                               const internal::LeadRecord* before,
                               const internal::LeadRecord* after, rocksdb::WriteBatch& batch);

// The aggregate rows in memory, for reports: loaded from the `funnel` column
// family at open, then fed the Merge operands the Committer writes to it as
// entries (ApplyAll, on the committer thread, once durable): each fold's of
// the merge log, one per cell, those a group writes directly, and a
// catch-up's (the unfolded records' it had not seen). So the table lags the
// leads by the records since the last fold or catch-up; a reader has the
// Committer catch it up first (CatchUpMergeLog), as FunnelReports does.
// Thread-safe.
class FunnelTable {
 public:
  // Counts in memory (a cell's sum stays far below 2^31).
  using Counts = std::array<int32_t, kFunnelCounterCount>;
  // A cell as the table keeps it: service line and campaign as ids (Name()).
  struct Cell {
    int64_t week = 0;
    SourceChannel source = SourceChannel::kUnspecified;
    LeadStatus status = LeadStatus::kNew;
    uint32_t service_line = 0;
    uint32_t campaign = 0;
  };

  FunnelTable();
  ~FunnelTable();

  // Reads every aggregate row of `db`.
  absl::Status Load(Database& db);
  // A Merge operand written to the `funnel` column family.
  void Apply(absl::string_view key, absl::string_view operand);
  // Operands written together (a fold's: key, operand), as Apply on each,
  // with each lock taken once (a week's once per run of that week).
  void ApplyAll(const std::vector<std::pair<absl::string_view, absl::string_view>>& operands);

  // Calls `visit` with every non-zero cell whose week is in [from_week,
  // to_week), one week at a time under that week's reader lock (so ApplyAll,
  // on the committer thread, waits at most for one week's cells).
  void ForEach(int64_t from_week, int64_t to_week,
               const std::function<void(const Cell&, const Counts&)>& visit) const;
  // The text of a service line or campaign id.
  std::string Name(uint32_t id) const;
  size_t cells() const;

 private:
  struct Week;
  uint32_t Intern(absl::string_view text);
  uint32_t InternLocked(absl::string_view text) ABSL_EXCLUSIVE_LOCKS_REQUIRED(names_mu_);
  Week& WeekOf(int64_t week);
  void Add(const FunnelCell& cell, const FunnelCounters& delta);
  void AddPacked(int64_t week, uint64_t packed, const FunnelCounters& delta);

  mutable absl::Mutex mu_;
  std::map<int64_t, std::unique_ptr<Week>> weeks_ ABSL_GUARDED_BY(mu_);  // never erased
  mutable absl::Mutex names_mu_;
  std::vector<std::string> names_ ABSL_GUARDED_BY(names_mu_);
  absl::flat_hash_map<std::string, uint32_t> ids_ ABSL_GUARDED_BY(names_mu_);
};

// What CheckFunnel found.
struct FunnelCheckReport {
  uint64_t leads = 0;                 // lead records recounted
  uint64_t cells = 0;                 // aggregate rows compared
  uint64_t mismatched = 0;            // cells whose aggregate differs from the recount
  std::vector<std::string> problems;  // the first few, naming cell and counter (no id)
  absl::Status result;                // OK, or DATA_LOSS naming the first problem
};

// Recounts every lead record of one snapshot of `db` (no key needed: only
// clear metadata is read) plus the purged rows, labelled with the campaigns
// the snapshot's `meta` records, and compares the sum with the aggregate
// rows, cell by cell.
absl::StatusOr<FunnelCheckReport> CheckFunnel(Database& db);

// Opens the aggregates of `db` for `campaigns`: when the data dir has none
// yet (one written before them) or they were labelled with other campaigns,
// rebuilds them from the leads and the purged rows, in batches written
// directly, and records the labels last. Then loads them into `table`.
// Folds the merge log a previous run left first. Call before the Committer
// starts.
absl::Status OpenFunnel(Database& db, const FunnelCampaigns& campaigns, FunnelTable& table);

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_FUNNEL_H_
