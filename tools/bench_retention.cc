#include "tools/bench_retention.h"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "tools/bench_vault.h"
#include "vault/clock.h"
#include "vault/vault.h"

namespace leadvault::tools {
namespace {

constexpr absl::Duration kDay = absl::Hours(24);

// Real time shifted by what the bench adds.
class ShiftedClock final : public vault::Clock {
 public:
  absl::Time Now() const override {
    return absl::Now() + absl::Microseconds(shift_micros_.load(std::memory_order_acquire));
  }
  void Advance(absl::Duration d) {
    shift_micros_.fetch_add(absl::ToInt64Microseconds(d), std::memory_order_acq_rel);
  }

 private:
  std::atomic<int64_t> shift_micros_{0};
};

int Run(vault::Vault& vault, ShiftedClock& clock, uint64_t leads, uint64_t loaded_leads,
        uint64_t keep, int readers, int seconds, size_t batch, int pause_ms) {
  const vault::Actor capture = BenchCapture();
  const vault::Actor intake = BenchIntake();
  vault::Actor retention;
  retention.principal_id = "00000000000000e1";
  retention.roles = {vault::Role::kRetention};

  std::vector<std::string> first, second, kept;
  absl::Time start = absl::Now();
  if (!FillBenchLeads(vault, capture, 0, leads, &first)) return 1;
  clock.Advance(kDay);
  if (!FillBenchLeads(vault, capture, leads, loaded_leads, &second)) return 1;
  clock.Advance(200 * kDay);
  if (!FillBenchLeads(vault, capture, leads + loaded_leads, keep, &kept)) return 1;
  std::printf("filled %llu + %llu + %llu leads in %.1f s\n", (unsigned long long)leads,
              (unsigned long long)loaded_leads, (unsigned long long)keep,
              absl::ToDoubleSeconds(absl::Now() - start));

  // 1. No online load: the first set is due (the clock just past its expiry),
  // written long ago (nothing of its writing left to flush or compact).
  std::printf("flushes and compactions of the fill done after %.1f s\n", AwaitBenchQuiet(vault));
  clock.Advance(165 * kDay - 12 * absl::Hours(1));
  vault::SweepOptions options;
  options.compact = false;
  start = absl::Now();
  auto swept = vault.retention().Sweep(retention, options);
  const double sweep_s = absl::ToDoubleSeconds(absl::Now() - start);
  if (!swept.ok() || swept->purged != leads) {
    std::fprintf(stderr, "leadvault-bench: sweep 1: %s (purged %llu)\n",
                 swept.ok() ? "short" : std::string(swept.status().message()).c_str(),
                 swept.ok() ? (unsigned long long)swept->purged : 0ULL);
    return 1;
  }
  std::printf("sweep, no online load: %llu leads purged in %.2f s: %.0f leads/s\n",
              (unsigned long long)swept->purged, sweep_s, swept->purged / sweep_s);
  start = absl::Now();
  auto bytes = vault.database().CompactAway({vault::Cf::kLeads, vault::Cf::kDek, vault::Cf::kBidx,
                                             vault::Cf::kExpiry, vault::Cf::kQueue,
                                             vault::Cf::kConsent, vault::Cf::kMeta});
  if (!bytes.ok()) return 1;
  std::printf("compaction: %.2f s, table bytes %llu -> %llu\n",
              absl::ToDoubleSeconds(absl::Now() - start), (unsigned long long)bytes->before,
              (unsigned long long)bytes->after);

  // 2. Idle latency.
  BenchReaders idle(vault, intake, kept, readers);
  absl::SleepFor(absl::Seconds(seconds));
  const BenchLatency quiet = idle.Stop();
  if (idle.failed()) return 1;

  // 3. The same readers while the second set is swept, paced as the daemon's.
  clock.Advance(kDay);
  BenchReaders busy(vault, intake, kept, readers);
  vault::SweepOptions paced;
  paced.batch_size = batch;
  paced.pause = absl::Milliseconds(pause_ms);
  start = absl::Now();
  auto swept2 = vault.retention().Sweep(retention, paced);
  const double sweep2_s = absl::ToDoubleSeconds(absl::Now() - start);
  const BenchLatency during = busy.Stop();
  if (busy.failed() || !swept2.ok() || swept2->purged != loaded_leads) {
    std::fprintf(stderr, "leadvault-bench: sweep 2 failed\n");
    return 1;
  }
  std::printf(
      "sweep under load (%d readers, batches of %zu, %d ms apart): %llu purged in %.2f s "
      "(%.0f leads/s, with its compaction)\n",
      readers, batch, pause_ms, (unsigned long long)swept2->purged, sweep2_s,
      swept2->purged / sweep2_s);
  std::printf("GetLead idle:         p50 %.0f us, p99 %.0f us (%llu calls)\n", quiet.p50_us,
              quiet.p99_us, (unsigned long long)quiet.calls);
  std::printf("GetLead during sweep: p50 %.0f us, p99 %.0f us (%llu calls)\n", during.p50_us,
              during.p99_us, (unsigned long long)during.calls);
  std::printf("p99 during / idle: x%.2f\n", during.p99_us / quiet.p99_us);
  return 0;
}

}  // namespace

int RunRetentionBench(int argc, char** argv) {
  uint64_t leads = 1'000'000;
  uint64_t loaded_leads = 100'000;
  uint64_t keep = 20'000;
  int readers = 4;
  int seconds = 5;
  size_t batch = vault::kDaemonSweepBatch;
  int pause_ms = static_cast<int>(absl::ToInt64Milliseconds(vault::kDaemonSweepPause));
  CLI::App app{"leadvault-bench retention: sweep throughput and GetLead latency during a sweep",
               "leadvault-bench retention"};
  app.add_option("--leads", leads, "leads the unloaded sweep purges")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--loaded-leads", loaded_leads, "leads the sweep under load purges")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--keep", keep, "leads that stay, which the readers read")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--readers", readers, "GetLead threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--seconds", seconds, "idle measurement")
      ->check(CLI::Range(1, 600))
      ->capture_default_str();
  app.add_option("--batch", batch, "the loaded sweep's batch size")
      ->check(CLI::Range(size_t{1}, vault::kMaxSweepBatch))
      ->capture_default_str();
  app.add_option("--pause-ms", pause_ms, "the loaded sweep's pause between batches")
      ->check(CLI::Range(0, 60000))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!keys::InitCrypto()) return 1;
  const std::string dir = BenchScratchDir("retention");
  if (dir.empty()) {
    std::fprintf(stderr, "leadvault-bench: cannot create a scratch dir\n");
    return 1;
  }
  int rc = 0;
  {
    ShiftedClock clock;
    auto opened = OpenBenchVault(dir, &clock);
    if (!opened.ok()) {
      std::fprintf(stderr, "leadvault-bench: %s\n", std::string(opened.status().message()).c_str());
      rc = 1;
    } else {
      rc = Run(**opened, clock, leads, loaded_leads, keep, readers, seconds, batch, pause_ms);
      (*opened)->Shutdown();
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return rc;
}

}  // namespace leadvault::tools
