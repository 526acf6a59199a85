#include "tools/bench_consent.h"

#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "tools/bench_stats.h"
#include "tools/bench_vault.h"
#include "vault/vault.h"

namespace leadvault::tools {
namespace {

constexpr int kThreads = 8;
constexpr int kLeads = 4096;
constexpr int kRounds = 5;

struct Bench {
  std::unique_ptr<vault::Vault> vault;
  vault::Actor capture;
  vault::Actor intake;
  std::vector<std::string> lead_ids;
  std::atomic<uint64_t> next{0};
};

Bench* g_bench = nullptr;

vault::ConsentGrant CompleteGrant(absl::Time now) {
  vault::ConsentGrant g;
  g.channels = {vault::ConsentChannel::kEmail, vault::ConsentChannel::kSms,
                vault::ConsentChannel::kVoice, vault::ConsentChannel::kAutodialedVoice};
  g.purposes = {vault::ConsentPurpose::kScheduling, vault::ConsentPurpose::kMarketing};
  vault::ConsentEvidence& v = g.evidence;
  v.captured_at = now;
  v.source_url = "https://clinic.example.com/orthopedics/knee";
  v.seller_name = "Riverside Orthopedics";
  v.disclosure_version = "tcpa-2026-03";
  v.disclosure_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  v.authorizes_automated = true;
  v.not_condition_of_purchase = true;
  v.capture_certificate_id = "https://cert.trustedform.com/0123456789abcdef0123456789abcdef";
  v.user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36";
  v.ip_address = keys::SecretBytes::CopyFrom("203.0.113.77");
  return g;
}

void GetLead(benchmark::State& state, bool outreach) {
  vault::Actor actor = g_bench->intake;
  std::optional<vault::Outreach> o;
  if (outreach) {
    actor.purpose = vault::Purpose::kSchedulingOutreach;
    o = vault::Outreach{vault::ConsentChannel::kSms, vault::ConsentPurpose::kScheduling, ""};
  }
  uint64_t i = static_cast<uint64_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    const std::string& id = g_bench->lead_ids[i++ % g_bench->lead_ids.size()];
    absl::StatusOr<vault::Lead> lead = g_bench->vault->leads().GetLead(actor, id, o);
    if (!lead.ok() || !lead->pii.Has(vault::PiiField::kPhone)) {
      state.SkipWithError("GetLead failed or withheld the phone");
      return;
    }
    benchmark::DoNotOptimize(lead);
  }
  state.SetItemsProcessed(state.iterations());
}

void CreateLead(benchmark::State& state, bool consent) {
  const std::string run = consent ? "c" : "p";
  for (auto _ : state) {
    vault::NewLead lead = BenchLead(kLeads + g_bench->next.fetch_add(1), run);
    if (consent) lead.consent = CompleteGrant(absl::Now());
    auto created = g_bench->vault->leads().CreateLead(g_bench->capture, std::move(lead));
    if (!created.ok()) {
      state.SkipWithError("CreateLead failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// The console's report, and then, round by round, what each variant costs
// against its baseline (the same round's other run: same store, same moment),
// with the median over the rounds.
class PairReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration || run.iterations == 0) continue;
      seconds_per_op_[run.benchmark_name()] =
          run.real_accumulated_time / static_cast<double>(run.iterations);
    }
  }

  void Summarize(const std::string& variant, const std::string& baseline) const {
    std::vector<double> ratios;
    std::string rounds;
    for (int round = 1; round <= kRounds; ++round) {
      const std::string r = absl::StrCat("/round:", round);
      const std::string suffix = absl::StrCat(r, "/real_time/threads:", kThreads);
      auto a = seconds_per_op_.find(variant + suffix);
      auto b = seconds_per_op_.find(baseline + suffix);
      if (a == seconds_per_op_.end() || b == seconds_per_op_.end() || b->second <= 0) continue;
      ratios.push_back(a->second / b->second);
      absl::StrAppend(&rounds, rounds.empty() ? "" : " ", absl::StrFormat("%.3f", ratios.back()));
    }
    if (ratios.empty()) return;
    std::printf("%s vs %s: time per op x%.3f (median of %zu rounds: %s)\n", variant.c_str(),
                baseline.c_str(), Median(ratios), ratios.size(), rounds.c_str());
  }

 private:
  std::map<std::string, double> seconds_per_op_;
};

}  // namespace

int RunConsentBench(int argc, char** argv) {
  // Only this command's benchmarks unless a filter says otherwise (the crypto
  // and audit micro-benchmarks are registered in the same binary).
  std::vector<char*> args(argv, argv + argc);
  std::string filter = "--benchmark_filter=^(GetLead|CreateLead)/";
  bool filtered = false;
  for (int i = 1; i < argc; ++i) {
    filtered = filtered || absl::StartsWith(argv[i], "--benchmark_filter");
  }
  if (!filtered) args.insert(args.begin() + 1, filter.data());
  argc = static_cast<int>(args.size());
  argv = args.data();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  if (!keys::InitCrypto()) return 1;
  const std::string dir = BenchScratchDir("consent");
  if (dir.empty()) {
    std::fprintf(stderr, "leadvault-bench: cannot create a scratch dir\n");
    return 1;
  }
  int rc = 0;
  {
    Bench bench;
    auto opened = OpenBenchVault(dir);
    if (!opened.ok()) {
      std::fprintf(stderr, "leadvault-bench: %s\n", std::string(opened.status().message()).c_str());
      rc = 1;
    } else {
      bench.vault = *std::move(opened);
      bench.capture.principal_id = "00000000000000c1";
      bench.capture.roles = {vault::Role::kCapture};
      bench.intake.principal_id = "00000000000000a1";
      bench.intake.roles = {vault::Role::kIntake};
      bench.intake.service_lines = {"orthopedics"};
      bench.intake.purpose = vault::Purpose::kTreatment;
      for (int n = 0; n < kLeads && rc == 0; ++n) {
        vault::NewLead lead = BenchLead(n, "r");
        lead.consent = CompleteGrant(absl::Now());
        auto created = bench.vault->leads().CreateLead(bench.capture, std::move(lead));
        if (!created.ok()) {
          std::fprintf(stderr, "leadvault-bench: fill: %s\n",
                       std::string(created.status().message()).c_str());
          rc = 1;
        } else {
          bench.lead_ids.push_back(created->lead_id);
        }
      }
      g_bench = &bench;
      if (rc == 0) {
        // Each pair in turn, kRounds times: the store grows and compacts as
        // the run goes on, and alternating gives both variants the same
        // store (compare them round by round).
        for (int round = 1; round <= kRounds; ++round) {
          const std::string r = absl::StrCat("/round:", round);
          benchmark::RegisterBenchmark(("GetLead/treatment" + r).c_str(),
                                       [](benchmark::State& s) { GetLead(s, false); })
              ->Threads(kThreads)
              ->UseRealTime();
          benchmark::RegisterBenchmark(("GetLead/outreach_sms" + r).c_str(),
                                       [](benchmark::State& s) { GetLead(s, true); })
              ->Threads(kThreads)
              ->UseRealTime();
        }
        for (int round = 1; round <= kRounds; ++round) {
          const std::string r = absl::StrCat("/round:", round);
          benchmark::RegisterBenchmark(("CreateLead/plain" + r).c_str(),
                                       [](benchmark::State& s) { CreateLead(s, false); })
              ->Threads(kThreads)
              ->UseRealTime();
          benchmark::RegisterBenchmark(("CreateLead/consent" + r).c_str(),
                                       [](benchmark::State& s) { CreateLead(s, true); })
              ->Threads(kThreads)
              ->UseRealTime();
        }
        PairReporter reporter;
        benchmark::RunSpecifiedBenchmarks(&reporter);
        std::fflush(stdout);
        reporter.Summarize("GetLead/outreach_sms", "GetLead/treatment");
        reporter.Summarize("CreateLead/consent", "CreateLead/plain");
      }
      g_bench = nullptr;
      bench.vault->Shutdown();
    }
  }
  benchmark::Shutdown();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return rc;
}

}  // namespace leadvault::tools
