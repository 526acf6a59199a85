// Funnel aggregates and reports (vault/funnel.h, vault/funnel_report.h):
// hand-computed KPIs from a known fixture, small-cell and complementary
// suppression attacked over every grouping, aggregates equal to a recount
// through updates, submissions, purges and reopen, and the rebuild of a data
// dir from before them.
#include "vault/funnel.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "tests/vault/vault_fixture.h"
#include "vault/funnel_report.h"
#include "vault/internal/records.pb.h"

namespace leadvault::vault {
namespace {

using testing::CaptureActor;
using ::testing::ElementsAre;
using testing::EmailOnlyInput;
using testing::MakeActor;
using testing::MakeNewLead;

constexpr FunnelDimension kAllDimensions[] = {
    FunnelDimension::kWeek, FunnelDimension::kSource, FunnelDimension::kCampaign,
    FunnelDimension::kServiceLine, FunnelDimension::kStatus};

Actor Analyst() { return MakeActor("00000000000000e1", "analyst"); }
Actor Intake(std::vector<std::string> lines) {
  Actor a = MakeActor("00000000000000a1", "intake");
  a.service_lines = std::move(lines);
  a.purpose = Purpose::kOperations;
  return a;
}
Actor Compliance() { return MakeActor("00000000000000f1", "compliance"); }

class FunnelTest : public testing::VaultFixture {
 protected:
  void SetUp() override {
    // Monday 2024-01-01 00:00 UTC, plus a day: inside week FunnelWeekOf(it).
    clock_.Set(absl::FromUnixSeconds(1704067200) + absl::Hours(24));
    OpenOrDie();
  }

  // A new lead; its id (binary).
  std::string Create(int n, SourceChannel source, const std::string& line,
                     const std::string& campaign, bool consent = false) {
    NewLead lead = MakeNewLead(EmailOnlyInput(n), line, absl::StrCat("idem-", n), source, campaign);
    if (consent) lead.consent = testing::FullConsent(clock_.Now());
    absl::StatusOr<CreateResult> r = vault_->leads().CreateLead(CaptureActor(), std::move(lead));
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(r->duplicate);
    if (!r.ok()) return "";
    versions_[r->lead_id] = r->version;
    return r->lead_id;
  }

  // A later submission of lead n's person (same email): a duplicate.
  void Resubmit(int n, const std::string& line) {
    NewLead lead = MakeNewLead(EmailOnlyInput(n), line, absl::StrCat("again-", n, "-", ++resent_));
    absl::StatusOr<CreateResult> r = vault_->leads().CreateLead(CaptureActor(), std::move(lead));
    ASSERT_TRUE(r.ok()) << r.status();
  }

  void Update(const std::string& id, const std::string& line, LeadStatus status,
              std::optional<absl::Time> attempt_at = std::nullopt) {
    LeadUpdate u;
    u.lead_id = id;
    u.expected_version = versions_[id];
    u.status = status;
    if (attempt_at.has_value()) {
      ContactAttempt a;
      a.at = *attempt_at;
      a.channel = ContactChannel::kMail;  // needs no consent
      a.outcome = ContactOutcome::kConnected;
      u.add_contact_attempts.push_back(a);
    }
    absl::StatusOr<LeadMetadata> updated = vault_->leads().UpdateLead(Intake({line}), u);
    ASSERT_TRUE(updated.ok()) << updated.status();
    versions_[id] = updated->version;
  }

  FunnelReport Report(std::vector<FunnelDimension> by, absl::Time from, absl::Time to) {
    FunnelQuery q;
    q.from = from;
    q.to = to;
    q.group_by = std::move(by);
    absl::StatusOr<FunnelReport> r = vault_->funnel().GetFunnelMetrics(Analyst(), q);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : FunnelReport{};
  }

  FunnelReport YearReport(std::vector<FunnelDimension> by) {
    return Report(std::move(by), absl::FromUnixSeconds(1704067200),
                  absl::FromUnixSeconds(1704067200) + absl::Hours(24 * 7 * 52));
  }

  void ExpectRecountMatches() {
    absl::StatusOr<FunnelCheckReport> check = CheckFunnel(vault_->database());
    ASSERT_TRUE(check.ok()) << check.status();
    EXPECT_TRUE(check->result.ok()) << check->result;
  }

  // The 44-lead cohort of the hand-computed test, created at the clock's time
  // on web_form / ortho / "spring": 11 first contacted after 120 s, 11 after
  // 20 min, 11 after 2 h, 11 never; the contacted go to contacted, two thirds
  // of them on to scheduled, one third to showed. Returns their ids.
  std::vector<std::string> MakeCohort(int first) {
    const absl::Time created = clock_.Now();
    std::vector<std::string> ids;
    for (int i = 0; i < 44; ++i) {
      ids.push_back(Create(first + i, SourceChannel::kWebForm, "ortho", "spring"));
    }
    clock_.Advance(absl::Hours(3));
    const absl::Duration delays[] = {absl::Seconds(120), absl::Minutes(20), absl::Hours(2)};
    for (int i = 0; i < 33; ++i) {
      Update(ids[i], "ortho", LeadStatus::kContacted, created + delays[i / 11]);
    }
    for (int i = 0; i < 22; ++i) Update(ids[i], "ortho", LeadStatus::kQualified);
    for (int i = 0; i < 22; ++i) Update(ids[i], "ortho", LeadStatus::kScheduled);
    for (int i = 0; i < 11; ++i) Update(ids[i], "ortho", LeadStatus::kShowed);
    return ids;
  }

  int resent_ = 0;
  std::map<std::string, uint64_t> versions_;  // lead id -> its version
};

int64_t V(const FunnelRow& row, FunnelCount c) {
  EXPECT_FALSE(row.counts[c].suppressed) << FunnelCountName(c);
  return row.counts[c].value;
}

TEST_F(FunnelTest, WeeksStartOnMondayUtc) {
  const absl::Time monday = absl::FromUnixSeconds(1704067200);  // 2024-01-01, a Monday
  EXPECT_EQ(FunnelWeekStart(FunnelWeekOf(monday)), monday);
  EXPECT_EQ(FunnelWeekOf(monday + absl::Hours(24 * 7) - absl::Seconds(1)), FunnelWeekOf(monday));
  EXPECT_EQ(FunnelWeekOf(monday - absl::Seconds(1)), FunnelWeekOf(monday) - 1);
  EXPECT_EQ(FunnelWeekStart(0), absl::FromUnixSeconds(-3 * 24 * 3600));  // Monday 1969-12-29
  EXPECT_EQ(FunnelWeekOf(absl::FromUnixSeconds(-3 * 24 * 3600 - 1)), -1);
  EXPECT_EQ(SpeedBucketOf(-5), 0u);
  EXPECT_EQ(SpeedBucketOf(60), 0u);
  EXPECT_EQ(SpeedBucketOf(61), 1u);
  EXPECT_EQ(SpeedBucketOf(2592000), kSpeedBuckets - 2);
  EXPECT_EQ(SpeedBucketOf(2592001), kSpeedBuckets - 1);
}

TEST_F(FunnelTest, KnownCohortGivesHandComputedKpis) {
  const std::vector<std::string> ids = MakeCohort(0);
  for (int i = 0; i < 12; ++i) Resubmit(i, "ortho");  // 12 duplicate submissions
  const FunnelReport r = YearReport({});
  EXPECT_TRUE(r.rows.empty());
  const FunnelRow& t = r.total;
  EXPECT_EQ(V(t, kCountLeads), 44);
  EXPECT_EQ(V(t, kCountDuplicates), 12);
  EXPECT_EQ(V(t, kCountContacted), 33);
  EXPECT_EQ(V(t, kCountQualified), 22);  // scheduled and showed went through qualified
  EXPECT_EQ(V(t, kCountScheduled), 22);
  EXPECT_EQ(V(t, kCountShowed), 11);
  EXPECT_EQ(V(t, kCountClosedLost), 0);
  EXPECT_EQ(V(t, kCountDisqualified), 0);
  EXPECT_EQ(V(t, kCountFirstContacted), 33);
  EXPECT_EQ(V(t, kCountWithin5Minutes), 11);
  EXPECT_EQ(V(t, kCountWithin1Hour), 22);
  EXPECT_EQ(V(t, kCountWithin1Day), 33);
  // Nearest rank over 33: the median is the 17th (in the 20-minute bucket,
  // upper edge 1800 s), the 90th percentile the 30th (2 h: edge 7200 s).
  EXPECT_EQ(t.speed_to_lead_median_seconds, 1800);
  EXPECT_EQ(t.speed_to_lead_p90_seconds, 7200);
  EXPECT_EQ(t.lead_to_appointment_rate, 0.5);
  EXPECT_EQ(t.show_rate, 0.5);
  EXPECT_EQ(r.suppressed_cells, 0u);

  // By status: where the 44 stand now, 11 each.
  const FunnelReport by_status = YearReport({FunnelDimension::kStatus});
  ASSERT_EQ(by_status.rows.size(), 4u);
  std::vector<std::pair<LeadStatus, int64_t>> got;
  for (const FunnelRow& row : by_status.rows) got.emplace_back(*row.status, V(row, kCountLeads));
  EXPECT_THAT(
      got, ElementsAre(std::pair{LeadStatus::kNew, 11}, std::pair{LeadStatus::kContacted, 11},
                       std::pair{LeadStatus::kScheduled, 11}, std::pair{LeadStatus::kShowed, 11}));
  // The showed row reached every stage.
  EXPECT_EQ(V(by_status.rows[3], kCountScheduled), 11);
  EXPECT_EQ(V(by_status.rows[3], kCountContacted), 11);
  // The week is the lead's creation week, as a Monday.
  const FunnelReport by_week = YearReport({FunnelDimension::kWeek});
  ASSERT_EQ(by_week.rows.size(), 1u);
  EXPECT_EQ(by_week.rows[0].week, absl::FromUnixSeconds(1704067200));
  ExpectRecountMatches();
}

TEST_F(FunnelTest, StagesAreCumulativeAndEverReached) {
  // 11 leads go new -> closed_lost -> contacted (re-engaged) -> qualified ->
  // disqualified: every stage they passed stays counted.
  std::vector<std::string> ids;
  for (int i = 0; i < 11; ++i) ids.push_back(Create(i, SourceChannel::kReferral, "ortho", "x"));
  for (const std::string& id : ids) {
    Update(id, "ortho", LeadStatus::kClosedLost);
    Update(id, "ortho", LeadStatus::kContacted);
    Update(id, "ortho", LeadStatus::kQualified);
    Update(id, "ortho", LeadStatus::kDisqualified);
  }
  const FunnelRow t = YearReport({}).total;
  EXPECT_EQ(V(t, kCountLeads), 11);
  EXPECT_EQ(V(t, kCountContacted), 11);
  EXPECT_EQ(V(t, kCountQualified), 11);
  EXPECT_EQ(V(t, kCountScheduled), 0);
  EXPECT_EQ(V(t, kCountClosedLost), 11);
  EXPECT_EQ(V(t, kCountDisqualified), 11);
  EXPECT_EQ(V(t, kCountFirstContacted), 0);  // no contact attempt recorded
  EXPECT_FALSE(t.speed_to_lead_median_seconds.has_value());
  ExpectRecountMatches();
}

// The in-memory table follows the merge log's folds (every 1,024 groups),
// so a report has it catch up first: it counts every change answered before
// it, and when the catch-up's group fails it fails rather than answer from
// the table as it stood.
TEST_F(FunnelTest, AReportCountsEveryChangeAnsweredBeforeItOrFails) {
  std::vector<std::string> ids;
  for (int i = 0; i < 11; ++i) ids.push_back(Create(i, SourceChannel::kReferral, "ortho", "x"));
  EXPECT_EQ(V(YearReport({}).total, kCountLeads), 11);
  for (const std::string& id : ids) Update(id, "ortho", LeadStatus::kContacted);
  EXPECT_EQ(V(YearReport({}).total, kCountContacted), 11);
  Create(11, SourceChannel::kReferral, "ortho", "x");
  vault_->committer().SetFailWritesForTesting(true);
  FunnelQuery q;
  q.from = absl::FromUnixSeconds(1704067200);
  q.to = q.from + absl::Hours(24 * 7 * 52);
  EXPECT_EQ(vault_->funnel().GetFunnelMetrics(Analyst(), q).status().code(),
            absl::StatusCode::kUnavailable);
  vault_->committer().SetFailWritesForTesting(false);
  EXPECT_EQ(V(YearReport({}).total, kCountLeads), 12);
  ExpectRecountMatches();
}

TEST_F(FunnelTest, SmallCellsAndTheirComplementsAreSuppressed) {
  MakeCohort(0);  // web_form: 44
  // paid_search: 5 leads; referral: 30 leads, another week.
  for (int i = 0; i < 5; ++i) Create(100 + i, SourceChannel::kPaidSearch, "ortho", "spring");
  clock_.Advance(absl::Hours(24 * 7));
  for (int i = 0; i < 30; ++i) Create(200 + i, SourceChannel::kReferral, "ortho", "spring");

  const FunnelReport by_source = YearReport({FunnelDimension::kSource});
  ASSERT_EQ(by_source.rows.size(), 3u);
  std::map<SourceChannel, const FunnelRow*> rows;
  for (const FunnelRow& row : by_source.rows) rows[*row.source] = &row;
  // paid_search is small: the whole row is withheld.
  for (const FunnelValue& v : rows[SourceChannel::kPaidSearch]->counts) {
    EXPECT_TRUE(v.suppressed);
    EXPECT_EQ(v.value, 0);
  }
  // The total (79) minus web_form (44) would give it away: referral, the
  // smallest other, is withheld too, so only paid_search + referral = 35 is known.
  EXPECT_TRUE(rows[SourceChannel::kReferral]->counts[kCountLeads].suppressed);
  EXPECT_EQ(V(*rows[SourceChannel::kWebForm], kCountLeads), 44);
  EXPECT_EQ(V(by_source.total, kCountLeads), 79);
  // paid_search's contacted (0) is withheld with its row; the total's 33
  // minus referral's 0 would show it is 0, so web_form's 33 is withheld too:
  // only "web_form + paid_search = 33" is known.
  EXPECT_TRUE(rows[SourceChannel::kWebForm]->counts[kCountContacted].suppressed);
  EXPECT_EQ(V(*rows[SourceChannel::kReferral], kCountContacted), 0);
  EXPECT_EQ(V(by_source.total, kCountContacted), 33);
  // Rates and percentiles of a withheld row are unset.
  EXPECT_FALSE(rows[SourceChannel::kPaidSearch]->lead_to_appointment_rate.has_value());
  EXPECT_FALSE(rows[SourceChannel::kPaidSearch]->speed_to_lead_median_seconds.has_value());
  EXPECT_GT(by_source.suppressed_cells, 0u);

  // By week the 5 are inside week 1's 49 leads (33 contacted, 16 not): shown.
  const FunnelReport by_week = YearReport({FunnelDimension::kWeek});
  ASSERT_EQ(by_week.rows.size(), 2u);
  EXPECT_EQ(V(by_week.rows[0], kCountLeads), 49);
  EXPECT_EQ(V(by_week.rows[0], kCountContacted), 33);
  EXPECT_EQ(V(by_week.rows[1], kCountLeads), 30);
  // Week 2's 30 leads: none contacted (0 is shown).
  EXPECT_EQ(V(by_week.rows[1], kCountContacted), 0);
}

TEST_F(FunnelTest, ACountWhoseRestIsSmallIsWithheld) {
  // 15 leads, 12 contacted: the 3 never contacted would be 15 - 12.
  std::vector<std::string> ids;
  for (int i = 0; i < 15; ++i) ids.push_back(Create(i, SourceChannel::kEvent, "ortho", "x"));
  for (int i = 0; i < 12; ++i) Update(ids[i], "ortho", LeadStatus::kContacted);
  const FunnelRow t = YearReport({}).total;
  EXPECT_EQ(V(t, kCountLeads), 15);
  EXPECT_TRUE(t.counts[kCountContacted].suppressed);
  EXPECT_EQ(t.counts[kCountContacted].value, 0);
  EXPECT_EQ(V(t, kCountScheduled), 0);  // 0 of 15: rest 15, shown
}

// What an analyst can compute: for every grouping, every dimension of it and
// every column, a line of rows that differ only in that dimension sums to
// the row of the coarser grouping without it (another call of the same
// period). Taking the shown cells from the coarser row must never give a
// withheld cell exactly, nor a sum of withheld cells from 1 to 10; no shown
// count is from 1 to 10, nor is a shown count's rest within a shown row.
TEST_F(FunnelTest, NoGroupingRecoversASuppressedCell) {
  // Leads spread over 3 weeks, 4 sources, 3 service lines, 3 campaigns (two
  // approved) and several statuses, with many small cells.
  funnel_campaigns_ = {"spring", "fall"};
  Reopen();
  const std::string lines[] = {"ortho", "cardio", "derm"};
  const std::string campaigns[] = {"spring", "fall", "unlisted-campaign"};
  const SourceChannel sources[] = {SourceChannel::kWebForm, SourceChannel::kPaidSearch,
                                   SourceChannel::kPaidSocial, SourceChannel::kReferral};
  int n = 0;
  for (int week = 0; week < 3; ++week) {
    const absl::Time created = clock_.Now();
    std::vector<std::pair<std::string, std::string>> made;
    for (int i = 0; i < 70 + 17 * week; ++i, ++n) {
      const std::string& line = lines[(i * 7 + week) % 3];
      const std::string id = Create(n, sources[(i * 5 + i / 3) % 4], line,
                                    campaigns[(i / 2 + week) % 3], /*consent=*/i % 3 != 2);
      made.emplace_back(id, line);
    }
    clock_.Advance(absl::Hours(2));
    for (size_t i = 0; i < made.size(); ++i) {
      if (i % 3 == 0) continue;
      Update(made[i].first, made[i].second, LeadStatus::kContacted,
             created + absl::Minutes(static_cast<int64_t>(i % 90)));
      if (i % 4 == 1) Update(made[i].first, made[i].second, LeadStatus::kQualified);
      if (i % 8 == 1) Update(made[i].first, made[i].second, LeadStatus::kScheduled);
      if (i % 16 == 1) Update(made[i].first, made[i].second, LeadStatus::kShowed);
      if (i % 5 == 2 && i % 16 != 1) {
        Update(made[i].first, made[i].second, LeadStatus::kClosedLost);
      }
    }
    clock_.Advance(absl::Hours(24 * 7));
  }
  ExpectRecountMatches();

  size_t lines_checked = 0, withheld_seen = 0;
  for (int mask = 0; mask < 32; ++mask) {
    std::vector<FunnelDimension> by;
    for (int d = 0; d < 5; ++d) {
      if (mask & 1 << d) by.push_back(kAllDimensions[d]);
    }
    const FunnelReport fine = YearReport(by);
    for (const FunnelRow& row : fine.rows) {
      for (size_t c = 0; c < kFunnelCountCount; ++c) {
        const FunnelValue& v = row.counts[c];
        if (v.suppressed) {
          ++withheld_seen;
          continue;
        }
        EXPECT_FALSE(v.value > 0 && v.value < kMinFunnelCell) << FunnelCountName(FunnelCount(c));
        const FunnelValue& leads = row.counts[kCountLeads];
        if (c != kCountLeads && c != kCountDuplicates && !leads.suppressed) {
          const int64_t rest = leads.value - v.value;
          EXPECT_FALSE(rest > 0 && rest < kMinFunnelCell) << FunnelCountName(FunnelCount(c));
        }
      }
    }
    for (size_t drop = 0; drop < by.size(); ++drop) {
      std::vector<FunnelDimension> coarse_by = by;
      coarse_by.erase(coarse_by.begin() + static_cast<std::ptrdiff_t>(drop));
      const FunnelReport coarse = YearReport(coarse_by);
      // The coarse row a fine row sums into: equal on every remaining dimension.
      auto same = [&](const FunnelRow& f, const FunnelRow& g) {
        return f.week == g.week && f.source == g.source && f.campaign == g.campaign &&
               f.service_line == g.service_line && f.status == g.status;
      };
      auto project = [&](FunnelRow f) {
        switch (by[drop]) {
          case FunnelDimension::kWeek:
            f.week.reset();
            break;
          case FunnelDimension::kSource:
            f.source.reset();
            break;
          case FunnelDimension::kCampaign:
            f.campaign.reset();
            break;
          case FunnelDimension::kServiceLine:
            f.service_line.reset();
            break;
          case FunnelDimension::kStatus:
            f.status.reset();
            break;
        }
        return f;
      };
      std::vector<const FunnelRow*> totals;
      if (coarse_by.empty()) {
        totals.push_back(&coarse.total);
      } else {
        for (const FunnelRow& g : coarse.rows) totals.push_back(&g);
      }
      for (const FunnelRow* total : totals) {
        std::vector<const FunnelRow*> line;
        for (const FunnelRow& f : fine.rows) {
          if (same(project(f), *total)) line.push_back(&f);
        }
        ++lines_checked;
        // The complements too (leads minus a part), shown where both are.
        for (size_t c = kCountContacted; c < kFunnelCountCount; ++c) {
          const FunnelValue& tl = total->counts[kCountLeads];
          const FunnelValue& tc = total->counts[c];
          if (tl.suppressed || tc.suppressed) continue;
          int64_t shown = 0;
          size_t withheld = 0;
          for (const FunnelRow* f : line) {
            if (f->counts[kCountLeads].suppressed || f->counts[c].suppressed) {
              ++withheld;
            } else {
              shown += f->counts[kCountLeads].value - f->counts[c].value;
            }
          }
          const int64_t recovered = tl.value - tc.value - shown;
          if (withheld == 0) continue;
          EXPECT_FALSE(withheld == 1 && recovered > 0)
              << "grouping mask " << mask << " recovers one complement of "
              << FunnelCountName(FunnelCount(c));
          EXPECT_FALSE(recovered > 0 && recovered < kMinFunnelCell)
              << "grouping mask " << mask << " recovers a small complement sum of "
              << FunnelCountName(FunnelCount(c));
        }
        for (size_t c = 0; c < kFunnelCountCount; ++c) {
          if (total->counts[c].suppressed) continue;
          int64_t shown = 0;
          size_t withheld = 0;
          for (const FunnelRow* f : line) {
            if (f->counts[c].suppressed) {
              ++withheld;
            } else {
              shown += f->counts[c].value;
            }
          }
          const int64_t recovered = total->counts[c].value - shown;
          if (withheld == 0) {
            EXPECT_EQ(recovered, 0);  // the line does sum to its total
            continue;
          }
          EXPECT_FALSE(withheld == 1 && recovered > 0)
              << "grouping mask " << mask << " recovers one cell of "
              << FunnelCountName(FunnelCount(c));
          EXPECT_FALSE(recovered > 0 && recovered < kMinFunnelCell)
              << "grouping mask " << mask << " recovers a small sum of "
              << FunnelCountName(FunnelCount(c));
        }
      }
    }
  }
  EXPECT_GT(lines_checked, 100u);
  EXPECT_GT(withheld_seen, 100u);  // the fixture does exercise suppression
}

TEST_F(FunnelTest, ConsentSharePerChannelFollowsGrantsAndRevocations) {
  std::vector<std::string> consented;
  for (int i = 0; i < 33; ++i) {
    NewLead lead = MakeNewLead(EmailOnlyInput(i), "ortho", absl::StrCat("idem-", i));
    if (i < 22) lead.consent = testing::FullConsent(clock_.Now());
    absl::StatusOr<CreateResult> r = vault_->leads().CreateLead(CaptureActor(), std::move(lead));
    ASSERT_TRUE(r.ok()) << r.status();
    if (i < 22) consented.push_back(r->lead_id);
  }
  FunnelRow t = YearReport({}).total;
  EXPECT_EQ(V(t, kCountLeads), 33);
  EXPECT_EQ(V(t, kCountConsentEmail), 22);
  EXPECT_EQ(V(t, kCountConsentSms), 22);
  EXPECT_EQ(V(t, kCountConsentVoice), 22);
  EXPECT_EQ(V(t, kCountConsentAutodialedVoice), 22);
  // Half of them stop texts: SMS consent ends on those leads.
  for (int i = 0; i < 11; ++i) {
    ConsentRevocation r;
    r.channels = {ConsentChannel::kSms};
    r.method = RevocationMethod::kIntakeCall;
    ASSERT_TRUE(
        vault_->consent()
            .RecordRevocation(Intake({"ortho"}), *LeadId::FromBytes(consented[i]), std::move(r))
            .ok());
  }
  t = YearReport({}).total;
  EXPECT_EQ(V(t, kCountConsentSms), 11);
  EXPECT_EQ(V(t, kCountConsentEmail), 22);
  ExpectRecountMatches();
  Reopen();
  EXPECT_EQ(V(YearReport({}).total, kCountConsentSms), 11);
}

TEST_F(FunnelTest, CampaignsAreApprovedLabelsOnlyAndNewLabelsRelabelEveryLead) {
  funnel_campaigns_ = {"spring"};
  Reopen();
  std::vector<std::string> fall;
  for (int i = 0; i < 11; ++i) Create(i, SourceChannel::kWebForm, "ortho", "spring");
  std::vector<std::string> jane;
  for (int i = 0; i < 11; ++i) {
    jane.push_back(Create(100 + i, SourceChannel::kWebForm, "ortho", "Jane Roe 555-0100"));
  }
  for (int i = 0; i < 12; ++i) {
    fall.push_back(Create(200 + i, SourceChannel::kWebForm, "ortho", "fall"));
  }
  auto campaigns = [&] {
    std::vector<std::pair<std::string, int64_t>> got;
    for (const FunnelRow& row : YearReport({FunnelDimension::kCampaign}).rows) {
      got.emplace_back(*row.campaign, V(row, kCountLeads));
    }
    return got;
  };
  EXPECT_THAT(campaigns(), ElementsAre(std::pair{std::string(kOtherCampaign), int64_t{23}},
                                       std::pair{std::string("spring"), int64_t{11}}));
  // One lead of "fall" and one of the unapproved text are purged. The
  // funnel rows keep no unapproved text at all, purged rows included.
  ASSERT_TRUE(vault_->leads().DeleteLead(Compliance(), fall[0], "Deletion request (CCPA)").ok());
  ASSERT_TRUE(vault_->leads().DeleteLead(Compliance(), jane[0], "Deletion request (CCPA)").ok());
  for (const auto& [key, value] : testing::ReadCf(*vault_, Cf::kFunnel)) {
    EXPECT_EQ(key.find("Jane Roe"), std::string::npos);
  }
  // Then "fall" is approved: the next start re-labels every lead, the
  // purged one included, and the check agrees.
  funnel_campaigns_ = {"spring", "fall"};
  Reopen();
  EXPECT_THAT(campaigns(), ElementsAre(std::pair{std::string(kOtherCampaign), int64_t{11}},
                                       std::pair{std::string("fall"), int64_t{12}},
                                       std::pair{std::string("spring"), int64_t{11}}));
  ExpectRecountMatches();
}

TEST_F(FunnelTest, PurgedLeadsStayCountedAndTheRecountAgrees) {
  const std::vector<std::string> ids = MakeCohort(0);
  const FunnelReport before = YearReport({FunnelDimension::kStatus});
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(vault_->leads()
                    .DeleteLead(Compliance(), ids[static_cast<size_t>(i)],
                                "Deletion request from the person (CCPA)")
                    .ok());
  }
  const FunnelReport after = YearReport({FunnelDimension::kStatus});
  ASSERT_EQ(before.rows.size(), after.rows.size());
  for (size_t i = 0; i < before.rows.size(); ++i) {
    for (size_t c = 0; c < kFunnelCountCount; ++c) {
      EXPECT_EQ(before.rows[i].counts[c].value, after.rows[i].counts[c].value);
    }
  }
  ExpectRecountMatches();  // 24 leads recounted + the purged rows
  // Reopened, the table is loaded from the column family: the same report.
  Reopen();
  const FunnelReport reopened = YearReport({FunnelDimension::kStatus});
  ASSERT_EQ(reopened.rows.size(), after.rows.size());
  for (size_t i = 0; i < after.rows.size(); ++i) {
    for (size_t c = 0; c < kFunnelCountCount; ++c) {
      EXPECT_EQ(reopened.rows[i].counts[c].value, after.rows[i].counts[c].value);
    }
  }
}

TEST_F(FunnelTest, CheckFindsAnAggregateThatDisagreesWithTheLeads) {
  MakeCohort(0);
  ExpectRecountMatches();
  // An aggregate row bumped behind the vault's back.
  FunnelCell cell;
  cell.week = FunnelWeekOf(clock_.Now() - absl::Hours(3));
  cell.source = SourceChannel::kWebForm;
  cell.status = LeadStatus::kNew;
  cell.service_line = "ortho";
  cell.campaign = "spring";
  FunnelCounters plus_one{};
  plus_one[kFunnelLeads] = 1;
  rocksdb::WriteBatch batch;
  ASSERT_TRUE(batch
                  .Merge(vault_->database().cf(Cf::kFunnel), FunnelKey(kFunnelAggregate, cell),
                         EncodeFunnelCounters(plus_one))
                  .ok());
  ASSERT_TRUE(vault_->database().Write(&batch, "test").ok());
  absl::StatusOr<FunnelCheckReport> check = CheckFunnel(vault_->database());
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->result.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(check->mismatched, 1u);
  ASSERT_EQ(check->problems.size(), 1u);
  EXPECT_THAT(check->problems[0], ::testing::HasSubstr("status new, service line ortho"));
}

TEST_F(FunnelTest, ADataDirFromBeforeTheAggregatesIsRebuiltAtOpen) {
  MakeCohort(0);
  const FunnelReport before = YearReport({FunnelDimension::kStatus});
  // Remove the aggregates and their marker, as a data dir from before them.
  {
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.DeleteRange(vault_->database().cf(Cf::kFunnel), "\x00", "\xff").ok());
    ASSERT_TRUE(batch.Delete(vault_->database().cf(Cf::kMeta), internal::kMetaFunnelBuilt).ok());
    ASSERT_TRUE(vault_->database().Write(&batch, "test").ok());
  }
  Reopen();
  const FunnelReport rebuilt = YearReport({FunnelDimension::kStatus});
  ASSERT_EQ(rebuilt.rows.size(), before.rows.size());
  for (size_t i = 0; i < before.rows.size(); ++i) {
    for (size_t c = 0; c < kFunnelCountCount; ++c) {
      EXPECT_EQ(rebuilt.rows[i].counts[c].value, before.rows[i].counts[c].value);
    }
  }
  ExpectRecountMatches();
}

TEST_F(FunnelTest, EveryCallIsAuditedWithoutAnIdentifier) {
  MakeCohort(0);
  const size_t entries = testing::ReadAudit(*vault_).size();
  YearReport({FunnelDimension::kWeek, FunnelDimension::kSource});
  auto log = testing::ReadAudit(*vault_);
  ASSERT_EQ(log.size(), entries + 1);
  const audit::AuditEntry& e = log.back().second;
  EXPECT_EQ(e.action, "GetFunnelMetrics");
  EXPECT_EQ(e.principal_id, "00000000000000e1");
  EXPECT_TRUE(e.lead_ids.empty());
  EXPECT_THAT(e.fields, ElementsAre("from=2024-01-01", "to=2024-12-30", "group_by=week,source",
                                    "rows=1", "suppressed=0"));
}

TEST_F(FunnelTest, BadQueriesAreRefusedNamingTheRule) {
  // A refused query writes nothing, and nor does a report: the logged
  // change stays unfolded (the report's catch-up is in memory).
  Create(1, SourceChannel::kReferral, "ortho", "x");
  auto logged = [&] {
    int n = 0;
    std::unique_ptr<rocksdb::Iterator> it(vault_->database().db()->NewIterator(
        rocksdb::ReadOptions(), vault_->database().cf(Cf::kFunnel)));
    const std::string prefix(1, kFunnelLog);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++n;
    return n;
  };
  ASSERT_EQ(logged(), 1);
  FunnelQuery q;
  q.from = clock_.Now();
  q.to = q.from;
  EXPECT_EQ(vault_->funnel().GetFunnelMetrics(Analyst(), q).status().message(),
            "to: must be after from");
  q.to = q.from + absl::Hours(24 * 7 * 158);
  EXPECT_EQ(vault_->funnel().GetFunnelMetrics(Analyst(), q).status().code(),
            absl::StatusCode::kInvalidArgument);
  q.to = q.from + absl::Hours(24);
  q.group_by = {FunnelDimension::kWeek, FunnelDimension::kWeek};
  EXPECT_EQ(vault_->funnel().GetFunnelMetrics(Analyst(), q).status().message(),
            "group_by: a dimension is named twice");
  EXPECT_EQ(logged(), 1);
  // Refused before the catch-up is queued: a group that fails is not
  // reached (it would answer UNAVAILABLE).
  vault_->committer().SetFailWritesForTesting(true);
  EXPECT_EQ(vault_->funnel().GetFunnelMetrics(Analyst(), q).status().message(),
            "group_by: a dimension is named twice");
  vault_->committer().SetFailWritesForTesting(false);
  q.group_by = {FunnelDimension::kWeek};
  ASSERT_TRUE(vault_->funnel().GetFunnelMetrics(Analyst(), q).ok());
  EXPECT_EQ(logged(), 1);
  EXPECT_FALSE(ValidateCampaignLabels({"ok", "ok"}).ok());
  EXPECT_FALSE(ValidateCampaignLabels({"(other)"}).ok());
  EXPECT_FALSE(ValidateCampaignLabels({""}).ok());
  EXPECT_TRUE(ValidateCampaignLabels({"Spring Ortho 2026", "fall_cardio-v2.1"}).ok());
}

TEST(FunnelTableTest, AReportOfMoreThanItsRowBoundIsRefusedNamingTheFix) {
  FunnelTable table;
  FunnelCounters one{};
  one[kFunnelLeads] = 1;
  const int64_t week = FunnelWeekOf(absl::FromUnixSeconds(1704067200));
  for (size_t i = 0; i <= kMaxFunnelRows; ++i) {  // one cell per service line
    FunnelCell cell{week, SourceChannel::kWebForm, LeadStatus::kNew, absl::StrCat("line-", i), ""};
    table.Apply(FunnelKey(kFunnelAggregate, cell), EncodeFunnelCounters(one));
  }
  EXPECT_EQ(table.cells(), kMaxFunnelRows + 1);
  FunnelQuery q;
  q.from = FunnelWeekStart(week);
  q.to = q.from + absl::Hours(24);
  q.group_by = {FunnelDimension::kServiceLine};
  absl::StatusOr<FunnelReport> r = ComputeFunnelReport(table, q);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("group by fewer dimensions"));
  // Grouped by source, the same cells are one row of 5001 leads.
  q.group_by = {FunnelDimension::kSource};
  r = ComputeFunnelReport(table, q);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(r->rows[0].counts[kCountLeads].value, static_cast<int64_t>(kMaxFunnelRows + 1));
  // A purged row's operand does not reach the table; a cell whose leads all
  // left is dropped.
  FunnelCell first{week, SourceChannel::kWebForm, LeadStatus::kNew, "line-0", ""};
  FunnelCounters minus{};
  minus[kFunnelLeads] = -1;
  table.Apply(FunnelKey(kFunnelPurged, first), EncodeFunnelCounters(one));
  table.Apply(FunnelKey(kFunnelAggregate, first), EncodeFunnelCounters(minus));
  EXPECT_EQ(table.cells(), kMaxFunnelRows);
}

// StageFunnelChange labels the old and the new cell each by its own
// campaign (a lead's campaign rarely changes, and the label is looked up
// once when it does not).
TEST_F(FunnelTest, AChangeStagesTheOldCellUnderItsOwnCampaignLabel) {
  const FunnelCampaigns labels({"spring"});
  internal::LeadRecord before;
  before.set_created_at_unix_micros(absl::ToUnixMicros(clock_.Now()));
  before.mutable_attribution()->set_source(static_cast<int32_t>(SourceChannel::kWebForm));
  before.mutable_attribution()->set_service_line("ortho");
  before.mutable_attribution()->set_campaign("spring");
  before.set_status(static_cast<int32_t>(LeadStatus::kNew));
  internal::LeadRecord after = before;
  after.set_status(static_cast<int32_t>(LeadStatus::kContacted));
  // The staged Merges as (key, counters), in order.
  auto staged = [&](const internal::LeadRecord& was, const internal::LeadRecord& now) {
    rocksdb::WriteBatch batch;
    EXPECT_TRUE(StageFunnelChange(vault_->database(), labels, &was, &now, batch).ok());
    struct Collect : rocksdb::WriteBatch::Handler {
      std::vector<std::pair<std::string, FunnelCounters>> merges;
      rocksdb::Status MergeCF(uint32_t, const rocksdb::Slice& key,
                              const rocksdb::Slice& value) override {
        absl::StatusOr<FunnelCounters> c =
            DecodeFunnelCounters(absl::string_view(value.data(), value.size()));
        EXPECT_TRUE(c.ok());
        merges.emplace_back(key.ToString(), c.ok() ? *c : FunnelCounters{});
        return rocksdb::Status::OK();
      }
    } collect;
    EXPECT_TRUE(batch.Iterate(&collect).ok());
    return collect.merges;
  };
  auto cell = [&](LeadStatus status, const std::string& campaign) {
    return FunnelKey(
        kFunnelAggregate,
        FunnelCell{FunnelWeekOf(clock_.Now()), SourceChannel::kWebForm, status, "ortho", campaign});
  };
  auto merges = staged(before, after);
  ASSERT_EQ(merges.size(), 2u);
  EXPECT_EQ(merges[0].first, cell(LeadStatus::kNew, "spring"));
  EXPECT_EQ(merges[0].second[kFunnelLeads], -1);
  EXPECT_EQ(merges[1].first, cell(LeadStatus::kContacted, "spring"));
  EXPECT_EQ(merges[1].second[kFunnelLeads], 1);
  // From an approved campaign to one that is not, and back.
  after.mutable_attribution()->set_campaign("not-approved");
  merges = staged(before, after);
  ASSERT_EQ(merges.size(), 2u);
  EXPECT_EQ(merges[0].first, cell(LeadStatus::kNew, "spring"));
  EXPECT_EQ(merges[1].first, cell(LeadStatus::kContacted, ""));
  merges = staged(after, before);
  ASSERT_EQ(merges.size(), 2u);
  EXPECT_EQ(merges[0].first, cell(LeadStatus::kContacted, ""));
  EXPECT_EQ(merges[1].first, cell(LeadStatus::kNew, "spring"));
}

TEST(FunnelCountersTest, EncodingRoundTripsAndRefusesMalformedValues) {
  FunnelCounters c{};
  for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<int64_t>(i) - 3;
  absl::StatusOr<FunnelCounters> back = DecodeFunnelCounters(EncodeFunnelCounters(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, c);
  // Only the non-zero counters are written: one lead's change is a few bytes.
  FunnelCounters one{};
  one[kFunnelLeads] = 1;
  one[kFunnelConsent0 + 3] = -1;
  EXPECT_EQ(EncodeFunnelCounters(one), std::string("\x00\x02\x1d\x01", 4));
  EXPECT_EQ(EncodeFunnelCounters(FunnelCounters{}), "");
  absl::StatusOr<FunnelCounters> empty = DecodeFunnelCounters("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, FunnelCounters{});
  // A cut varint, a position past the last counter, a repeated position.
  for (const std::string& bad :
       {std::string("\x00", 1), std::string("\x00\x80", 2), std::string("\x7f\x02", 2),
        std::string("\x01\x02\x01\x02", 4), std::string("\x02\x02\x01\x02", 4)}) {
    EXPECT_EQ(DecodeFunnelCounters(bad).status().code(), absl::StatusCode::kDataLoss);
  }
  FunnelCell cell{12345, SourceChannel::kEvent, LeadStatus::kShowed, "ortho", "spring, 2026"};
  char kind = 0;
  absl::StatusOr<FunnelCell> parsed = ParseFunnelKey(FunnelKey(kFunnelPurged, cell), &kind);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, cell);
  EXPECT_EQ(kind, kFunnelPurged);
  cell.week = -7;  // weeks before 1970 sort before the others
  EXPECT_LT(
      FunnelKey(kFunnelAggregate, cell),
      FunnelKey(kFunnelAggregate, FunnelCell{0, SourceChannel::kEvent, LeadStatus::kNew, "", ""}));
  EXPECT_FALSE(ParseFunnelKey("Lshort", &kind).ok());
}

}  // namespace
}  // namespace leadvault::vault
