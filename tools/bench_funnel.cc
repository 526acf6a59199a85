#include "tools/bench_funnel.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "tools/bench_stats.h"
#include "tools/bench_vault.h"
#include "vault/funnel.h"
#include "vault/funnel_report.h"
#include "vault/internal/records.pb.h"
#include "vault/vault.h"

namespace leadvault::tools {
namespace {

struct Options {
  uint64_t leads = 1'000'000;
  int repetitions = 30;
  int writers = 16;
  int seconds = 5;
  int rounds = 2;
  int cells = 1;     // cost: distinct cells the created leads fall in
  std::string only;  // cost: "on" or "off" runs that variant alone (for a profiler); "": both
  bool query = true;
  bool cost = true;
};

// The master key of the benchmark's vaults (one per process).
const keys::SecretBytes& BenchKek() {
  static const keys::SecretBytes* kek = [] {
    auto* k = new keys::SecretBytes(32);
    keys::SystemRandom().Fill(k->data(), k->size());
    return k;
  }();
  return *kek;
}

// The approved campaign labels: 20 of the 30 campaigns the made-up leads
// name ("campaign-0" .. "campaign-19").
std::vector<std::string> ApprovedCampaigns() {
  std::vector<std::string> labels;
  for (int i = 0; i < 20; ++i) labels.push_back(absl::StrCat("campaign-", i));
  return labels;
}

absl::StatusOr<std::unique_ptr<vault::Vault>> OpenVault(const std::string& dir, bool funnel) {
  keys::SecretBytes kek = keys::SecretBytes::CopyFrom(BenchKek().view());
  vault::VaultOptions options;
  options.data_dir = dir + "/db";
  options.funnel_campaigns = ApprovedCampaigns();
  options.omit_funnel_for_benchmark = !funnel;
  return vault::Vault::Open(options, std::move(kek));
}

// ---- query ------------------------------------------------------------------

// One made-up lead record of the year starting `year`, as its clear metadata
// would stand after intake worked it.
vault::internal::LeadRecord MadeUpLead(std::mt19937_64& rng, absl::Time year) {
  static const char* const kLines[] = {"orthopedics",   "cardiology", "oncology",   "dermatology",
                                       "bariatrics",    "fertility",  "urology",    "neurology",
                                       "ophthalmology", "dental",     "behavioral", "primary-care"};
  vault::internal::LeadRecord r;
  const absl::Time created =
      year + absl::Seconds(static_cast<int64_t>(rng() % (52ull * 7 * 24 * 3600)));
  r.set_created_at_unix_micros(absl::ToUnixMicros(created));
  r.mutable_attribution()->set_source(static_cast<int32_t>(1 + rng() % 7));
  r.mutable_attribution()->set_service_line(kLines[rng() % 12]);
  r.mutable_attribution()->set_campaign(absl::StrCat("campaign-", rng() % 30));
  // Where leads end up: new 25%, contacted 25%, qualified 15%, scheduled
  // 15%, showed 10%, closed lost 6%, disqualified 4%.
  const int pick = static_cast<int>(rng() % 100);
  using S = vault::LeadStatus;
  S status = pick < 25   ? S::kNew
             : pick < 50 ? S::kContacted
             : pick < 65 ? S::kQualified
             : pick < 80 ? S::kScheduled
             : pick < 90 ? S::kShowed
             : pick < 96 ? S::kClosedLost
                         : S::kDisqualified;
  r.set_status(static_cast<int32_t>(status));
  uint32_t reached = 1u << static_cast<int>(S::kNew);
  for (S s : {S::kContacted, S::kQualified, S::kScheduled, S::kShowed}) {
    if (static_cast<int>(s) <= static_cast<int>(status) && status != S::kClosedLost &&
        status != S::kDisqualified) {
      reached |= 1u << static_cast<int>(s);
    }
  }
  reached |= 1u << static_cast<int>(status);
  r.set_reached_statuses(reached);
  if (status != S::kNew || rng() % 10 < 3) {
    // Speed to lead: minutes for most, hours or days for the rest.
    const int64_t seconds = rng() % 4 == 0 ? static_cast<int64_t>(rng() % (7 * 24 * 3600))
                                           : static_cast<int64_t>(rng() % 3600);
    r.add_contact_attempts()->set_at_unix_micros(absl::ToUnixMicros(created) + seconds * 1'000'000);
  }
  r.set_touches_made(rng() % 10 == 0 ? 1 : 0);
  r.set_consent_channels(static_cast<uint32_t>(rng() % 32) & ~1u);
  return r;
}

int RunQuery(const Options& o) {
  const std::string dir = BenchScratchDir("funnel-query");
  if (dir.empty()) return 1;
  const absl::Time year = vault::FunnelWeekStart(vault::FunnelWeekOf(absl::Now()) - 52);
  std::printf("== query: aggregates of %llu made-up leads over 52 weeks\n",
              static_cast<unsigned long long>(o.leads));
  std::map<std::string, vault::FunnelCounters> sums;
  std::mt19937_64 rng(20261204);
  const vault::FunnelCampaigns campaigns(ApprovedCampaigns());
  for (uint64_t n = 0; n < o.leads; ++n) {
    const vault::FunnelContribution c = vault::ContributionOf(MadeUpLead(rng, year), &campaigns);
    vault::FunnelCounters& sum = sums[vault::FunnelKey(vault::kFunnelAggregate, c.cell)];
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += c.counters[i];
  }
  int rc = 0;
  {
    auto opened = OpenVault(dir, true);
    if (!opened.ok()) {
      std::fprintf(stderr, "leadvault-bench: %s\n", std::string(opened.status().message()).c_str());
      return 1;
    }
    vault::Database& db = (*opened)->database();
    rocksdb::WriteBatch batch;
    for (const auto& [key, counters] : sums) {
      if (!batch.Put(db.cf(vault::Cf::kFunnel), key, vault::EncodeFunnelCounters(counters)).ok()) {
        return 1;
      }
    }
    if (absl::Status written = db.Write(&batch, "bench"); !written.ok()) {
      std::fprintf(stderr, "leadvault-bench: %s\n", std::string(written.message()).c_str());
      return 1;
    }
    (*opened)->Shutdown();
  }
  // Reopened: the table is loaded from the column family, as at a start.
  const absl::Time open_start = absl::Now();
  auto opened = OpenVault(dir, true);
  if (!opened.ok()) {
    std::fprintf(stderr, "leadvault-bench: %s\n", std::string(opened.status().message()).c_str());
    return 1;
  }
  vault::Vault& v = **opened;
  const double open_ms = absl::ToDoubleMilliseconds(absl::Now() - open_start);
  std::printf("%zu cells in the table (opened and loaded in %.0f ms)\n", v.funnel_table().cells(),
              open_ms);
  vault::Actor analyst;
  analyst.principal_id = "00000000000000e7";
  analyst.roles = {vault::Role::kAnalyst};
  vault::FunnelQuery query;
  query.from = year;
  query.to = year + absl::Hours(24 * 7 * 52);
  query.group_by = {vault::FunnelDimension::kWeek, vault::FunnelDimension::kSource,
                    vault::FunnelDimension::kServiceLine};
  std::vector<double> call_ms, compute_ms;
  size_t rows = 0;
  uint64_t suppressed = 0;
  for (int i = 0; i < o.repetitions; ++i) {
    absl::Time start = absl::Now();
    auto report = v.funnel().GetFunnelMetrics(analyst, query);
    call_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    if (!report.ok()) {
      std::fprintf(stderr, "leadvault-bench: %s\n", std::string(report.status().message()).c_str());
      rc = 1;
      break;
    }
    rows = report->rows.size();
    suppressed = report->suppressed_cells;
    start = absl::Now();
    auto computed = vault::ComputeFunnelReport(v.funnel_table(), query);
    compute_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  if (rc == 0) {
    std::sort(call_ms.begin(), call_ms.end());
    std::sort(compute_ms.begin(), compute_ms.end());
    auto pct = [](const std::vector<double>& v, double p) {
      return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
    };
    std::printf(
        "full year by week, source and service line: %zu rows, %llu cells suppressed\n"
        "  GetFunnelMetrics (with its synced audit entry): p50 %.2f ms, p90 %.2f ms, max %.2f ms "
        "(target <= 50 ms)\n"
        "  ComputeFunnelReport alone:                      p50 %.2f ms, p90 %.2f ms, max %.2f ms\n",
        rows, static_cast<unsigned long long>(suppressed), pct(call_ms, 0.5), pct(call_ms, 0.9),
        call_ms.back(), pct(compute_ms, 0.5), pct(compute_ms, 0.9), compute_ms.back());
  }
  v.Shutdown();
  opened->reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return rc;
}

// ---- cost -------------------------------------------------------------------

struct CostRun {
  bool funnel = true;
  double creates_per_second = 0;
  double updates_per_second = 0;
  // The process's CPU time (every thread: callers, committer, RocksDB's
  // flushes and compactions) during the phase, per call.
  double create_cpu_us = 0;
  double update_cpu_us = 0;
};

double ProcessCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

absl::StatusOr<CostRun> MeasureCost(bool funnel, const Options& o, int run) {
  const std::string dir = BenchScratchDir("funnel-cost");
  if (dir.empty()) return absl::UnavailableError("no scratch dir");
  absl::StatusOr<CostRun> result = [&]() -> absl::StatusOr<CostRun> {
    auto opened = OpenVault(dir, funnel);
    if (!opened.ok()) return opened.status();
    vault::Vault& v = **opened;
    const vault::Actor capture = BenchCapture();
    const vault::Actor intake = BenchIntake();
    std::atomic<bool> stop{false}, failed{false};
    std::vector<std::vector<std::string>> ids(static_cast<size_t>(o.writers));
    std::atomic<uint64_t> next{0}, creates{0}, updates{0};
    const std::string tag = absl::StrCat("cost-", run, funnel ? "-on" : "-off");
    // Runs the phase; returns the CPU seconds it took.
    auto timed = [&](auto body) {
      stop = false;
      const double cpu = ProcessCpuSeconds();
      std::vector<std::thread> threads;
      for (int w = 0; w < o.writers; ++w) threads.emplace_back(body, w);
      absl::SleepFor(absl::Seconds(o.seconds));
      stop = true;
      for (auto& t : threads) t.join();
      return ProcessCpuSeconds() - cpu;
    };
    const double create_cpu = timed([&](int w) {
      while (!stop && !failed) {
        const uint64_t n = next++;
        vault::NewLead lead = BenchLead(n, tag);
        if (o.cells > 1) {
          // Cell n % cells: one of 7 sources times one of 20 approved campaigns.
          const uint64_t cell = n % static_cast<uint64_t>(o.cells);
          lead.attribution.source = static_cast<vault::SourceChannel>(1 + cell % 7);
          lead.attribution.campaign = absl::StrCat("campaign-", cell / 7);
        }
        auto created = v.leads().CreateLead(capture, std::move(lead));
        if (!created.ok()) {
          failed = true;
          return;
        }
        ids[static_cast<size_t>(w)].push_back(created->lead_id);
        ++creates;
      }
    });
    const double update_cpu = timed([&](int w) {
      // Each writer works its own leads: new -> contacted (with an attempt),
      // then contacted <-> closed lost, round and round.
      std::vector<uint64_t> versions(ids[static_cast<size_t>(w)].size(), 1);
      for (size_t i = 0; !stop && !failed && !versions.empty(); i = (i + 1) % versions.size()) {
        vault::LeadUpdate u;
        u.lead_id = ids[static_cast<size_t>(w)][i];
        u.expected_version = versions[i];
        u.status =
            versions[i] % 2 == 1 ? vault::LeadStatus::kContacted : vault::LeadStatus::kClosedLost;
        if (versions[i] == 1) {
          vault::ContactAttempt a;
          a.at = absl::Now();
          a.channel = vault::ContactChannel::kMail;
          a.outcome = vault::ContactOutcome::kConnected;
          u.add_contact_attempts.push_back(a);
        }
        auto updated = v.leads().UpdateLead(intake, u);
        if (!updated.ok()) {
          std::fprintf(stderr, "leadvault-bench: update: %s\n",
                       std::string(updated.status().message()).c_str());
          failed = true;
          return;
        }
        versions[i] = updated->version;
        ++updates;
      }
    });
    v.Shutdown();
    if (failed) return absl::UnavailableError("a call failed");
    CostRun r;
    r.funnel = funnel;
    r.creates_per_second = static_cast<double>(creates) / o.seconds;
    r.updates_per_second = static_cast<double>(updates) / o.seconds;
    r.create_cpu_us = creates > 0 ? 1e6 * create_cpu / static_cast<double>(creates) : 0;
    r.update_cpu_us = updates > 0 ? 1e6 * update_cpu / static_cast<double>(updates) : 0;
    return r;
  }();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return result;
}

int RunCost(const Options& o) {
  std::printf(
      "== cost: CreateLead then UpdateLead, %d writers, %d s each, leads in %d cells, aggregates "
      "on/off\n",
      o.writers, o.seconds, o.cells);
  std::vector<CostRun> runs;
  for (int r = 0; r < o.rounds; ++r) {
    std::vector<bool> variants =
        r % 2 == 0 ? std::vector<bool>{true, false} : std::vector<bool>{false, true};
    if (!o.only.empty()) variants = {o.only == "on"};
    for (bool funnel : variants) {
      auto run = MeasureCost(funnel, o, r);
      if (!run.ok()) {
        std::fprintf(stderr, "leadvault-bench: %s\n", std::string(run.status().message()).c_str());
        return 1;
      }
      std::printf(
          "  aggregates %-3s creates %8.0f/s (%5.1f us CPU each)  updates %8.0f/s (%5.1f us CPU "
          "each)\n",
          funnel ? "on" : "off", run->creates_per_second, run->create_cpu_us,
          run->updates_per_second, run->update_cpu_us);
      runs.push_back(*run);
    }
  }
  if (!o.only.empty()) return 0;
  double c_on = 0, c_off = 0, u_on = 0, u_off = 0;
  for (const CostRun& r : runs) {
    (r.funnel ? c_on : c_off) += r.creates_per_second / o.rounds;
    (r.funnel ? u_on : u_off) += r.updates_per_second / o.rounds;
  }
  auto cost = [](double on, double off) { return off > 0 ? 100.0 * (off - on) / off : 0.0; };
  std::printf(
      "mean: CreateLead %.0f/s with, %.0f/s without: %.1f%%; UpdateLead %.0f/s with, %.0f/s "
      "without: %.1f%% (target <= 5%% each)\n",
      c_on, c_off, cost(c_on, c_off), u_on, u_off, cost(u_on, u_off));
  // Each round's two runs are neighbours in time, so their ratio shrugs off
  // a slow spell of the host that the means carry (a shared VM's throughput
  // drifts by a quarter over minutes); the median of the rounds' costs.
  // And the CPU a call takes (what bounds throughput when the callers keep
  // every core busy; on a shared VM it drifts with the host too).
  std::vector<double> c_round, u_round, c_cpu, u_cpu;
  for (size_t i = 0; i + 1 < runs.size(); i += 2) {
    const CostRun& on = runs[i].funnel ? runs[i] : runs[i + 1];
    const CostRun& off = runs[i].funnel ? runs[i + 1] : runs[i];
    c_round.push_back(cost(on.creates_per_second, off.creates_per_second));
    u_round.push_back(cost(on.updates_per_second, off.updates_per_second));
    auto more = [](double with, double without) {
      return without > 0 ? 100.0 * (with / without - 1) : 0.0;
    };
    c_cpu.push_back(more(on.create_cpu_us, off.create_cpu_us));
    u_cpu.push_back(more(on.update_cpu_us, off.update_cpu_us));
  }
  std::printf("median of the %zu rounds' paired costs: CreateLead %.1f%%, UpdateLead %.1f%%\n",
              c_round.size(), Median(c_round), Median(u_round));
  std::printf(
      "median of the rounds' CPU per call, with against without: CreateLead %+.1f%%, "
      "UpdateLead %+.1f%%\n",
      Median(c_cpu), Median(u_cpu));
  return 0;
}

}  // namespace

int RunFunnelBench(int argc, char** argv) {
  Options o;
  bool no_query = false, no_cost = false;
  CLI::App app{"leadvault-bench funnel: funnel reports and the cost of their aggregates",
               "leadvault-bench funnel"};
  app.add_option("--leads", o.leads, "made-up leads whose aggregates the query reads")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
  app.add_option("--repetitions", o.repetitions, "timed reports")->check(CLI::Range(1, 10000));
  app.add_option("--writers", o.writers, "threads calling CreateLead / UpdateLead")
      ->check(CLI::Range(1, 1024));
  app.add_option("--seconds", o.seconds, "measured seconds per phase")->check(CLI::Range(1, 3600));
  app.add_option("--rounds", o.rounds, "runs of each variant, interleaved")
      ->check(CLI::Range(1, 20));
  app.add_option("--cells", o.cells,
                 "cost: cells (source x approved campaign) the created leads are spread over, "
                 "round robin; 1: all in one, as leads of one form")
      ->check(CLI::Range(1, 140));
  app.add_option("--only", o.only,
                 "cost: run only this variant (on: with the aggregates, off: without), e.g. "
                 "under a profiler; no comparison is printed")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_flag("--no-query", no_query, "skip the query part");
  app.add_flag("--no-cost", no_cost, "skip the cost part");
  app.footer("Exit codes: 0 success; 1 the run failed; 2 usage.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!keys::InitCrypto()) return 1;
  if (!no_query && RunQuery(o) != 0) return 1;
  if (!no_cost && RunCost(o) != 0) return 1;
  return 0;
}

}  // namespace leadvault::tools
