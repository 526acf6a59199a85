#include "vault/funnel.h"

#include <algorithm>
#include <deque>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "keys/hash.h"
#include "keys/status_macros.h"
#include "rocksdb/db.h"
#include "vault/database.h"
#include "vault/internal/keys.h"
#include "vault/internal/records.pb.h"

namespace leadvault::vault {
namespace {

constexpr int64_t kSecondsPerWeek = 7 * 24 * 3600;
// The Unix epoch was a Thursday: Monday 1969-12-29 00:00 UTC starts week 0.
constexpr int64_t kWeekZeroUnixSeconds = -3 * 24 * 3600;
// Rows rebuilt or checked per batch / named per report.
constexpr size_t kRebuildBatchRows = 10'000;
constexpr size_t kMaxNamedFunnelProblems = 20;

void AppendBigEndian64(uint64_t v, std::string& out) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

uint64_t ReadBigEndian64(absl::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(s[i]);
  return v;
}

// A cell as a lead record gives it: views into the record (or into the
// approved labels), so that staging a change copies no text.
struct CellView {
  int64_t week = 0;
  SourceChannel source = SourceChannel::kUnspecified;
  LeadStatus status = LeadStatus::kNew;
  absl::string_view service_line;
  absl::string_view campaign;
  friend bool operator==(const CellView&, const CellView&) = default;
};

// FunnelKey's bytes, appended to `key`.
void AppendFunnelKey(char kind, const CellView& cell, std::string& key) {
  key.reserve(key.size() + 13 + cell.service_line.size() + cell.campaign.size());
  key.push_back(kind);
  AppendBigEndian64(static_cast<uint64_t>(cell.week) ^ (uint64_t{1} << 63), key);
  key.push_back(static_cast<char>(cell.source));
  key.push_back(static_cast<char>(cell.status));
  const absl::string_view line = cell.service_line.substr(0, 255);
  key.push_back(static_cast<char>(line.size()));
  key.append(line.data(), line.size());
  key.append(cell.campaign.data(), cell.campaign.size());  // the rest of the key
}

// EncodeFunnelCounters's bytes, appended to `out`.
void AppendFunnelCounters(const FunnelCounters& counters, std::string& out) {
  auto varint = [&out](uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<char>(v));
  };
  for (size_t i = 0; i < counters.size(); ++i) {
    if (counters[i] == 0) continue;
    varint(i);
    const auto v = static_cast<uint64_t>(counters[i]);
    varint((v << 1) ^ static_cast<uint64_t>(counters[i] >> 63));  // zigzag
  }
}

// Stage bits: the statuses a record says the lead has held.
uint32_t ReachedStatuses(const internal::LeadRecord& record) {
  // Records from before the field hold only their current status.
  const int32_t status = record.status();
  return record.reached_statuses() | (status >= 0 && status < 32 ? 1u << status : 0u);
}

bool Reached(uint32_t bits, LeadStatus status) {
  return (bits & 1u << static_cast<int>(status)) != 0;
}

FunnelCounters Negated(const FunnelCounters& c) {
  FunnelCounters out;
  for (size_t i = 0; i < c.size(); ++i) out[i] = -c[i];
  return out;
}

bool IsZero(const FunnelCounters& c) {
  return std::all_of(c.begin(), c.end(), [](int64_t v) { return v == 0; });
}

// Wraps around (as unsigned) rather than overflowing: a tampered row may
// hold any value, and the merge operator adds whatever it reads.
void AddInto(const FunnelCounters& from, FunnelCounters& into) {
  for (size_t i = 0; i < from.size(); ++i) {
    into[i] = static_cast<int64_t>(static_cast<uint64_t>(into[i]) + static_cast<uint64_t>(from[i]));
  }
}

class AddCountersOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    absl::StatusOr<FunnelCounters> sum =
        existing != nullptr
            ? DecodeFunnelCounters(absl::string_view(existing->data(), existing->size()))
            : FunnelCounters{};
    absl::StatusOr<FunnelCounters> add =
        DecodeFunnelCounters(absl::string_view(value.data(), value.size()));
    if (!sum.ok() || !add.ok()) return false;  // RocksDB reports Corruption
    AddInto(*add, *sum);
    *new_value = EncodeFunnelCounters(*sum);
    return true;
  }
  // Many operands: each decoded once, the sum encoded once.
  bool PartialMergeMulti(const rocksdb::Slice&, const std::deque<rocksdb::Slice>& operands,
                         std::string* new_value, rocksdb::Logger*) const override {
    FunnelCounters sum{};
    for (const rocksdb::Slice& operand : operands) {
      absl::StatusOr<FunnelCounters> add =
          DecodeFunnelCounters(absl::string_view(operand.data(), operand.size()));
      if (!add.ok()) return false;
      AddInto(*add, sum);
    }
    *new_value = EncodeFunnelCounters(sum);
    return true;
  }
  const char* Name() const override { return "leadvault.FunnelAddCounters"; }
};

}  // namespace

size_t SpeedBucketOf(int64_t seconds) {
  return static_cast<size_t>(
      std::lower_bound(kSpeedBucketUpperSeconds.begin(), kSpeedBucketUpperSeconds.end(), seconds) -
      kSpeedBucketUpperSeconds.begin());
}

int64_t FunnelWeekOf(absl::Time t) {
  const int64_t seconds = absl::ToUnixSeconds(t) - kWeekZeroUnixSeconds;
  return seconds >= 0 ? seconds / kSecondsPerWeek
                      : -((-seconds + kSecondsPerWeek - 1) / kSecondsPerWeek);
}

absl::Time FunnelWeekStart(int64_t week) {
  return absl::FromUnixSeconds(kWeekZeroUnixSeconds + week * kSecondsPerWeek);
}

std::string FunnelKey(char kind, const FunnelCell& cell) {
  std::string key;
  AppendFunnelKey(kind, {cell.week, cell.source, cell.status, cell.service_line, cell.campaign},
                  key);
  return key;
}

absl::StatusOr<FunnelCell> ParseFunnelKey(absl::string_view key, char* kind) {
  if (key.size() < 12 || (key[0] != kFunnelAggregate && key[0] != kFunnelPurged)) {
    return absl::DataLossError("funnel: malformed row key");
  }
  *kind = key[0];
  FunnelCell cell;
  cell.week = static_cast<int64_t>(ReadBigEndian64(key.substr(1, 8)) ^ (uint64_t{1} << 63));
  cell.source = static_cast<SourceChannel>(static_cast<uint8_t>(key[9]));
  cell.status = static_cast<LeadStatus>(static_cast<uint8_t>(key[10]));
  const size_t line = static_cast<uint8_t>(key[11]);
  if (key.size() < 12 + line) return absl::DataLossError("funnel: malformed row key");
  cell.service_line = std::string(key.substr(12, line));
  cell.campaign = std::string(key.substr(12 + line));
  return cell;
}

std::string EncodeFunnelCounters(const FunnelCounters& counters) {
  std::string out;
  AppendFunnelCounters(counters, out);
  return out;
}

absl::StatusOr<FunnelCounters> DecodeFunnelCounters(absl::string_view value) {
  FunnelCounters out{};
  size_t at = 0;
  auto varint = [&](uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at == value.size()) return false;
      const auto b = static_cast<uint8_t>(value[at++]);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  };
  int64_t last = -1;
  while (at < value.size()) {
    uint64_t index, zigzag;
    if (!varint(&index) || !varint(&zigzag) || index >= out.size() ||
        static_cast<int64_t>(index) <= last) {
      return absl::DataLossError("funnel: malformed counters");
    }
    last = static_cast<int64_t>(index);
    out[index] = static_cast<int64_t>(zigzag >> 1) ^ -static_cast<int64_t>(zigzag & 1);
  }
  return out;
}

std::string CampaignDigest(absl::string_view campaign) {
  const keys::Sha256Digest d =
      keys::Sha256({"leadvault funnel campaign", absl::string_view("\0", 1), campaign});
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

FunnelCampaigns::FunnelCampaigns(const std::vector<std::string>& labels) : sorted_(labels) {
  std::sort(sorted_.begin(), sorted_.end());
  sorted_.erase(std::unique(sorted_.begin(), sorted_.end()), sorted_.end());
  for (const std::string& label : sorted_) by_digest_[CampaignDigest(label)] = label;
}

std::string FunnelCampaigns::LabelOfDigest(absl::string_view digest) const {
  auto it = by_digest_.find(digest);
  return it == by_digest_.end() ? std::string() : it->second;
}

absl::string_view FunnelCampaigns::LabelOf(absl::string_view campaign) const {
  auto it = std::lower_bound(sorted_.begin(), sorted_.end(), campaign,
                             [](const std::string& a, absl::string_view b) { return a < b; });
  return it != sorted_.end() && *it == campaign ? absl::string_view(*it) : absl::string_view();
}

std::string FunnelCampaigns::Encode() const { return absl::StrJoin(sorted_, "\n"); }

FunnelCampaigns FunnelCampaigns::Decode(absl::string_view encoded) {
  std::vector<std::string> labels = absl::StrSplit(encoded, '\n', absl::SkipEmpty());
  return FunnelCampaigns(labels);
}

namespace {

// The cell of `record`: its campaign as captured, or labelled by `campaigns`
// when given.
CellView CellOf(const internal::LeadRecord& record, const FunnelCampaigns* campaigns) {
  CellView cell;
  cell.week = FunnelWeekOf(absl::FromUnixMicros(record.created_at_unix_micros()));
  cell.source = static_cast<SourceChannel>(record.attribution().source());
  cell.status = static_cast<LeadStatus>(record.status());
  cell.service_line = record.attribution().service_line();
  cell.campaign = campaigns != nullptr ? campaigns->LabelOf(record.attribution().campaign())
                                       : absl::string_view(record.attribution().campaign());
  return cell;
}

FunnelCounters CountersOf(const internal::LeadRecord& record) {
  FunnelCounters n{};
  n[kFunnelLeads] = 1;
  n[kFunnelDuplicates] = record.touches_made();
  const uint32_t bits = ReachedStatuses(record);
  const bool showed = Reached(bits, LeadStatus::kShowed);
  const bool scheduled = showed || Reached(bits, LeadStatus::kScheduled);
  const bool qualified = scheduled || Reached(bits, LeadStatus::kQualified);
  const bool attempted = record.contact_attempts_size() > 0;
  const bool contacted = qualified || attempted || Reached(bits, LeadStatus::kContacted);
  n[kFunnelContacted] = contacted;
  n[kFunnelQualified] = qualified;
  n[kFunnelScheduled] = scheduled;
  n[kFunnelShowed] = showed;
  n[kFunnelClosedLost] = Reached(bits, LeadStatus::kClosedLost);
  n[kFunnelDisqualified] = Reached(bits, LeadStatus::kDisqualified);
  if (attempted) {
    n[kFunnelFirstContacted] = 1;
    int64_t first = record.contact_attempts(0).at_unix_micros();
    for (const auto& a : record.contact_attempts()) first = std::min(first, a.at_unix_micros());
    const int64_t seconds = (first - record.created_at_unix_micros()) / 1'000'000;
    n[kFunnelSpeedBucket0 + SpeedBucketOf(seconds)] = 1;
  }
  for (size_t i = 0; i < kAllConsentChannels.size(); ++i) {
    n[kFunnelConsent0 + i] =
        (record.consent_channels() >> static_cast<int>(kAllConsentChannels[i]) & 1u) != 0;
  }
  return n;
}

}  // namespace

FunnelContribution ContributionOf(const internal::LeadRecord& record,
                                  const FunnelCampaigns* campaigns) {
  const CellView cell = CellOf(record, campaigns);
  FunnelContribution c;
  c.cell.week = cell.week;
  c.cell.source = cell.source;
  c.cell.status = cell.status;
  c.cell.service_line = std::string(cell.service_line);
  c.cell.campaign = std::string(cell.campaign);
  c.counters = CountersOf(record);
  return c;
}

std::shared_ptr<rocksdb::MergeOperator> FunnelMergeOperator() {
  static const auto* op =
      new std::shared_ptr<rocksdb::MergeOperator>(std::make_shared<AddCountersOperator>());
  return *op;
}

MergeLogOptions FunnelMergeLog() {
  MergeLogOptions log;
  log.cf = Cf::kFunnel;
  log.op = FunnelMergeOperator();
  log.prefix = std::string(1, kFunnelLog);
  return log;
}

absl::Status ForEachFunnelValue(
    Database& db, const rocksdb::ReadOptions& given, char kind,
    const std::function<absl::Status(absl::string_view key, const FunnelCounters&)>& visit) {
  // Rows and records of one snapshot: a fold between the two reads would
  // otherwise hide its operands from both.
  rocksdb::ReadOptions read = given;
  std::unique_ptr<const rocksdb::Snapshot, std::function<void(const rocksdb::Snapshot*)>> own(
      nullptr, [&db](const rocksdb::Snapshot* s) { db.db()->ReleaseSnapshot(s); });
  if (read.snapshot == nullptr) {
    own.reset(db.db()->GetSnapshot());
    read.snapshot = own.get();
  }
  {
    std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(read, db.cf(Cf::kFunnel)));
    const std::string prefix(1, kind);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      LV_ASSIGN_OR_RETURN(FunnelCounters counters, DecodeFunnelCounters(absl::string_view(
                                                       it->value().data(), it->value().size())));
      LV_RETURN_IF_ERROR(visit(absl::string_view(it->key().data(), it->key().size()), counters));
    }
    LV_RETURN_IF_ERROR(db.Check(it->status(), "read funnel"));
  }
  return ForEachLoggedOperand(
      db, read, FunnelMergeLog(), [&](absl::string_view key, absl::string_view operand) {
        if (key.empty() || key[0] != kind) return absl::OkStatus();
        LV_ASSIGN_OR_RETURN(FunnelCounters counters, DecodeFunnelCounters(operand));
        return visit(key, counters);
      });
}

absl::Status StageFunnelChange(Database& db, const FunnelCampaigns& campaigns,
                               const internal::LeadRecord* before,
                               const internal::LeadRecord* after, rocksdb::WriteBatch& batch) {
  if (before == nullptr && after == nullptr) return absl::OkStatus();
  rocksdb::ColumnFamilyHandle* cf = db.cf(Cf::kFunnel);
  // On every lead change: the key and operand are built in this thread's
  // buffers (the batch copies them), so staging allocates nothing.
  thread_local std::string key, operand;
  auto merge = [&](char kind, const CellView& cell, const FunnelCounters& delta) {
    key.clear();
    AppendFunnelKey(kind, cell, key);
    operand.clear();
    AppendFunnelCounters(delta, operand);
    return db.Check(batch.Merge(cf, key, operand), "stage funnel");
  };
  if (after == nullptr) {
    CellView gone = CellOf(*before, nullptr);
    const std::string digest = CampaignDigest(gone.campaign);
    gone.campaign = digest;
    return merge(kFunnelPurged, gone, CountersOf(*before));
  }
  const CellView now = CellOf(*after, &campaigns);
  if (before == nullptr) return merge(kFunnelAggregate, now, CountersOf(*after));
  CellView was = CellOf(*before, nullptr);
  // A lead's campaign rarely changes: its label is looked up once.
  was.campaign = was.campaign == after->attribution().campaign()
                     ? now.campaign
                     : campaigns.LabelOf(before->attribution().campaign());
  const FunnelCounters was_counters = CountersOf(*before);
  if (was == now) {
    FunnelCounters delta = CountersOf(*after);
    AddInto(Negated(was_counters), delta);
    if (IsZero(delta)) return absl::OkStatus();
    return merge(kFunnelAggregate, now, delta);
  }
  LV_RETURN_IF_ERROR(merge(kFunnelAggregate, was, Negated(was_counters)));
  return merge(kFunnelAggregate, now, CountersOf(*after));
}

// One week's cells: (source, status, service line id, campaign id) packed.
struct FunnelTable::Week {
  mutable absl::Mutex mu;
  absl::flat_hash_map<uint64_t, Counts> cells ABSL_GUARDED_BY(mu);
};

namespace {

constexpr uint32_t kMaxNameId = (1u << 24) - 1;

// Adds `delta` to cell `packed` of a week (whose lock the caller holds).
void AddTo(absl::flat_hash_map<uint64_t, FunnelTable::Counts>& cells, uint64_t packed,
           const FunnelCounters& delta) {
  auto [it, added] = cells.try_emplace(packed, FunnelTable::Counts{});
  bool zero = true;
  for (size_t i = 0; i < delta.size(); ++i) {
    // Wrapping (a tampered row may hold any value; CheckFunnel finds it).
    it->second[i] = static_cast<int32_t>(static_cast<uint32_t>(it->second[i]) +
                                         static_cast<uint32_t>(delta[i]));
    zero = zero && it->second[i] == 0;
  }
  if (zero) cells.erase(it);  // its leads all moved on
}

uint64_t Pack(SourceChannel source, LeadStatus status, uint32_t line, uint32_t campaign) {
  return static_cast<uint64_t>(static_cast<uint8_t>(source)) << 56 |
         static_cast<uint64_t>(static_cast<uint8_t>(status)) << 48 |
         static_cast<uint64_t>(line) << 24 | campaign;
}

}  // namespace

FunnelTable::FunnelTable() = default;
FunnelTable::~FunnelTable() = default;

uint32_t FunnelTable::Intern(absl::string_view text) {
  absl::MutexLock lock(&names_mu_);
  return InternLocked(text);
}

uint32_t FunnelTable::InternLocked(absl::string_view text) {
  if (auto it = ids_.find(text); it != ids_.end()) return it->second;
  if (names_.size() > kMaxNameId) return kMaxNameId;  // no id left: pooled under the last one
  const auto id = static_cast<uint32_t>(names_.size());
  names_.emplace_back(text);
  ids_.emplace(std::string(text), id);
  return id;
}

std::string FunnelTable::Name(uint32_t id) const {
  absl::MutexLock lock(&names_mu_);
  return id < names_.size() ? names_[id] : std::string();
}

FunnelTable::Week& FunnelTable::WeekOf(int64_t week) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Week>& w = weeks_[week];
  if (w == nullptr) w = std::make_unique<Week>();
  return *w;
}

void FunnelTable::Add(const FunnelCell& cell, const FunnelCounters& delta) {
  AddPacked(cell.week,
            Pack(cell.source, cell.status, Intern(cell.service_line), Intern(cell.campaign)),
            delta);
}

void FunnelTable::AddPacked(int64_t number, uint64_t packed, const FunnelCounters& delta) {
  Week& week = WeekOf(number);
  absl::MutexLock lock(&week.mu);
  AddTo(week.cells, packed, delta);
}

absl::Status FunnelTable::Load(Database& db) {
  return ForEachFunnelValue(db, rocksdb::ReadOptions(), kFunnelAggregate,
                            [this](absl::string_view key, const FunnelCounters& counters) {
                              char kind;
                              LV_ASSIGN_OR_RETURN(FunnelCell cell, ParseFunnelKey(key, &kind));
                              if (!IsZero(counters)) Add(cell, counters);
                              return absl::OkStatus();
                            });
}

void FunnelTable::Apply(absl::string_view key, absl::string_view operand) {
  ApplyAll({{key, operand}});
}

void FunnelTable::ApplyAll(
    const std::vector<std::pair<absl::string_view, absl::string_view>>& operands) {
  // On the committer thread for every fold: parsed in place, no copy.
  struct Parsed {
    int64_t week;
    uint64_t packed;
    FunnelCounters delta;
  };
  std::vector<Parsed> parsed;
  parsed.reserve(operands.size());
  {
    absl::MutexLock lock(&names_mu_);
    for (const auto& [key, operand] : operands) {
      if (key.size() < 12 || key[0] != kFunnelAggregate) continue;  // purged rows: for the check
      const size_t line = static_cast<uint8_t>(key[11]);
      absl::StatusOr<FunnelCounters> delta = DecodeFunnelCounters(operand);
      if (key.size() < 12 + line || !delta.ok()) continue;  // staged by StageFunnelChange
      parsed.push_back(
          {static_cast<int64_t>(ReadBigEndian64(key.substr(1, 8)) ^ (uint64_t{1} << 63)),
           Pack(static_cast<SourceChannel>(static_cast<uint8_t>(key[9])),
                static_cast<LeadStatus>(static_cast<uint8_t>(key[10])),
                InternLocked(key.substr(12, line)), InternLocked(key.substr(12 + line))),
           *delta});
    }
  }
  // A group's leads mostly share a week or two: one lock per run of a week.
  std::stable_sort(parsed.begin(), parsed.end(),
                   [](const Parsed& a, const Parsed& b) { return a.week < b.week; });
  for (size_t i = 0; i < parsed.size();) {
    Week& week = WeekOf(parsed[i].week);
    absl::MutexLock lock(&week.mu);
    const int64_t number = parsed[i].week;
    for (; i < parsed.size() && parsed[i].week == number; ++i) {
      AddTo(week.cells, parsed[i].packed, parsed[i].delta);
    }
  }
}

void FunnelTable::ForEach(int64_t from_week, int64_t to_week,
                          const std::function<void(const Cell&, const Counts&)>& visit) const {
  std::vector<std::pair<int64_t, const Week*>> weeks;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = weeks_.lower_bound(from_week); it != weeks_.end() && it->first < to_week; ++it) {
      weeks.emplace_back(it->first, it->second.get());
    }
  }
  for (const auto& [number, week] : weeks) {
    absl::ReaderMutexLock lock(&week->mu);
    for (const auto& [packed, counts] : week->cells) {
      Cell cell;
      cell.week = number;
      cell.source = static_cast<SourceChannel>(packed >> 56 & 0xff);
      cell.status = static_cast<LeadStatus>(packed >> 48 & 0xff);
      cell.service_line = static_cast<uint32_t>(packed >> 24 & kMaxNameId);
      cell.campaign = static_cast<uint32_t>(packed & kMaxNameId);
      visit(cell, counts);
    }
  }
}

size_t FunnelTable::cells() const {
  size_t n = 0;
  absl::MutexLock lock(&mu_);
  for (const auto& [number, week] : weeks_) {
    absl::ReaderMutexLock week_lock(&week->mu);
    n += week->cells.size();
  }
  return n;
}

namespace {

// The aggregate the leads of one snapshot imply (plus its purged rows when
// `with_purged`), by aggregate key.
absl::StatusOr<std::map<std::string, FunnelCounters>> Recount(Database& db,
                                                              const rocksdb::Snapshot* snapshot,
                                                              const FunnelCampaigns& campaigns,
                                                              uint64_t* leads) {
  std::map<std::string, FunnelCounters> sums;
  rocksdb::ReadOptions read;
  read.snapshot = snapshot;
  read.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(read, db.cf(Cf::kLeads)));
  internal::LeadRecord record;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("funnel recount: a lead record does not parse");
    }
    const FunnelContribution c = ContributionOf(record, &campaigns);
    AddInto(c.counters, sums[FunnelKey(kFunnelAggregate, c.cell)]);
    ++*leads;
  }
  LV_RETURN_IF_ERROR(db.Check(it->status(), "recount funnel"));
  LV_RETURN_IF_ERROR(ForEachFunnelValue(
      db, read, kFunnelPurged, [&](absl::string_view key, const FunnelCounters& counters) {
        char kind;
        LV_ASSIGN_OR_RETURN(FunnelCell cell, ParseFunnelKey(key, &kind));
        cell.campaign = campaigns.LabelOfDigest(cell.campaign);
        AddInto(counters, sums[FunnelKey(kFunnelAggregate, cell)]);
        return absl::OkStatus();
      }));
  return sums;
}

std::string DescribeCell(const FunnelCell& cell) {
  return absl::StrCat("week of ",
                      absl::FormatTime("%Y-%m-%d", FunnelWeekStart(cell.week), absl::UTCTimeZone()),
                      ", source ", static_cast<int>(cell.source), ", status ",
                      LeadStatusName(cell.status), ", service line ", cell.service_line);
}

}  // namespace

absl::StatusOr<FunnelCheckReport> CheckFunnel(Database& db) {
  FunnelCheckReport report;
  const rocksdb::Snapshot* snapshot = db.db()->GetSnapshot();
  struct Release {
    Database& db;
    const rocksdb::Snapshot* s;
    ~Release() { db.db()->ReleaseSnapshot(s); }
  } release{db, snapshot};
  rocksdb::ReadOptions at;
  at.snapshot = snapshot;
  std::string labels;
  rocksdb::Status got = db.db()->Get(at, db.cf(Cf::kMeta), internal::kMetaFunnelCampaigns, &labels);
  if (!got.ok() && !got.IsNotFound()) LV_RETURN_IF_ERROR(db.Check(got, "check funnel"));
  LV_ASSIGN_OR_RETURN(auto expected,
                      Recount(db, snapshot, FunnelCampaigns::Decode(labels), &report.leads));
  rocksdb::ReadOptions read;
  read.snapshot = snapshot;
  read.fill_cache = false;
  std::map<std::string, FunnelCounters> stored;
  LV_RETURN_IF_ERROR(ForEachFunnelValue(db, read, kFunnelAggregate,
                                        [&](absl::string_view key, const FunnelCounters& counters) {
                                          AddInto(counters, stored[std::string(key)]);
                                          return absl::OkStatus();
                                        }));
  auto problem = [&](const FunnelCell& cell, const FunnelCounters& want,
                     const FunnelCounters& got) {
    ++report.mismatched;
    if (report.problems.size() >= kMaxNamedFunnelProblems) return;
    for (size_t i = 0; i < want.size(); ++i) {
      if (want[i] == got[i]) continue;
      report.problems.push_back(absl::StrCat(DescribeCell(cell), ": counter ", i, " is ", got[i],
                                             ", the recount gives ", want[i]));
      return;
    }
  };
  for (const auto& [key, got] : stored) {
    ++report.cells;
    char kind;
    LV_ASSIGN_OR_RETURN(FunnelCell cell, ParseFunnelKey(key, &kind));
    auto want = expected.find(key);
    const FunnelCounters zero{};
    const FunnelCounters& w = want == expected.end() ? zero : want->second;
    if (w != got) problem(cell, w, got);
    if (want != expected.end()) expected.erase(want);
  }
  for (const auto& [key, want] : expected) {
    if (IsZero(want)) continue;
    char kind;
    LV_ASSIGN_OR_RETURN(FunnelCell cell, ParseFunnelKey(key, &kind));
    problem(cell, want, FunnelCounters{});
  }
  report.result = report.mismatched == 0
                      ? absl::OkStatus()
                      : absl::DataLossError(absl::StrCat(
                            "funnel aggregates differ from a recount of the leads in ",
                            report.mismatched, " cells; first: ", report.problems.front()));
  return report;
}

namespace {

// The aggregate rows replaced by a recount of the leads and the purged rows
// under `campaigns`, then the marker and the labels (last: a crash before
// them rebuilds again at the next open).
absl::Status RebuildFunnel(Database& db, const FunnelCampaigns& campaigns) {
  uint64_t leads = 0;
  LV_ASSIGN_OR_RETURN(auto sums, Recount(db, nullptr, campaigns, &leads));
  rocksdb::WriteBatch batch;
  // Aggregate rows left from before are replaced, not added to. (Point
  // deletes: a data dir without any, the usual case, gets no tombstone.)
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db.db()->NewIterator(rocksdb::ReadOptions(), db.cf(Cf::kFunnel)));
    const std::string prefix(1, kFunnelAggregate);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (sums.contains(it->key().ToString())) continue;  // overwritten below
      LV_RETURN_IF_ERROR(db.Check(batch.Delete(db.cf(Cf::kFunnel), it->key()), "rebuild funnel"));
      if (batch.Count() >= kRebuildBatchRows) {
        LV_RETURN_IF_ERROR(db.Write(&batch, "rebuild funnel"));
        batch.Clear();
      }
    }
    LV_RETURN_IF_ERROR(db.Check(it->status(), "rebuild funnel"));
  }
  for (const auto& [key, counters] : sums) {
    LV_RETURN_IF_ERROR(db.Check(batch.Put(db.cf(Cf::kFunnel), key, EncodeFunnelCounters(counters)),
                                "rebuild funnel"));
    if (batch.Count() >= kRebuildBatchRows) {
      LV_RETURN_IF_ERROR(db.Write(&batch, "rebuild funnel"));
      batch.Clear();
    }
  }
  LV_RETURN_IF_ERROR(
      db.Check(batch.Put(db.cf(Cf::kMeta), internal::kMetaFunnelCampaigns, campaigns.Encode()),
               "rebuild funnel"));
  LV_RETURN_IF_ERROR(
      db.Check(batch.Put(db.cf(Cf::kMeta), internal::kMetaFunnelBuilt, "1"), "rebuild funnel"));
  return db.Write(&batch, "rebuild funnel");
}

}  // namespace

absl::Status OpenFunnel(Database& db, const FunnelCampaigns& campaigns, FunnelTable& table) {
  // Before the rebuild writes rows directly: records left unfolded would be
  // added again on top of them.
  LV_RETURN_IF_ERROR(FoldMergeLog(db, FunnelMergeLog()));
  auto built = db.Get(Cf::kMeta, internal::kMetaFunnelBuilt);
  if (!built.ok() && !absl::IsNotFound(built.status())) return built.status();
  auto labels = db.Get(Cf::kMeta, internal::kMetaFunnelCampaigns);
  if (!labels.ok() && !absl::IsNotFound(labels.status())) return labels.status();
  const std::string stored = labels.ok() ? *labels : std::string();
  if (!built.ok() || stored != campaigns.Encode()) {
    // A data dir from before the aggregates (the leads it purged before
    // cannot be counted any more), or other approved campaigns.
    LV_RETURN_IF_ERROR(RebuildFunnel(db, campaigns));
  }
  return table.Load(db);
}

}  // namespace leadvault::vault
