#include "tools/bench_keys.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "tools/bench_vault.h"
#include "vault/actor.h"
#include "vault/vault.h"

namespace leadvault::tools {
namespace {

std::vector<keys::SecretBytes> Copies(const std::vector<keys::SecretBytes>& keys) {
  std::vector<keys::SecretBytes> out;
  for (const keys::SecretBytes& k : keys) out.push_back(keys::SecretBytes::CopyFrom(k.view()));
  return out;
}

absl::StatusOr<std::unique_ptr<vault::Vault>> Open(const std::string& dir,
                                                   const std::vector<keys::SecretBytes>& keks,
                                                   size_t batch, absl::Duration pause) {
  vault::VaultOptions options;
  options.data_dir = dir + "/db";
  options.key_rewrap.batch_size = batch;
  options.key_rewrap.pause = pause;
  return vault::Vault::Open(options, Copies(keks));
}

// Rotates to the newest of `keks` and waits for the re-wrap; its seconds, or
// a negative number on a failure.
double RotateAndWait(vault::Vault& vault, const std::vector<keys::SecretBytes>& keks) {
  vault::Actor admin;
  admin.principal_id = "00000000000000ad";
  admin.roles = {vault::Role::kAdmin};
  const absl::Time start = absl::Now();
  auto rotated = vault.RotateMasterKey(admin, Copies(keks));
  if (!rotated.ok()) {
    std::fprintf(stderr, "leadvault-bench: rotate: %s\n",
                 std::string(rotated.status().message()).c_str());
    return -1;
  }
  absl::Status waited = vault.key_rewrap().WaitIdle();
  if (!waited.ok()) {
    std::fprintf(stderr, "leadvault-bench: re-wrap: %s\n", std::string(waited.message()).c_str());
    return -1;
  }
  return absl::ToDoubleSeconds(absl::Now() - start);
}

int Run(const std::string& dir, uint64_t leads, int readers, int seconds, size_t batch,
        size_t loaded_batch, int pause_ms) {
  std::vector<keys::SecretBytes> keks;
  auto add_key = [&keks] {
    keys::SecretBytes k(32);
    keys::SystemRandom().Fill(k.data(), k.size());
    keks.push_back(std::move(k));
  };
  add_key();
  auto opened = Open(dir, keks, batch, absl::ZeroDuration());
  if (!opened.ok()) return 1;
  std::unique_ptr<vault::Vault> vault = *std::move(opened);
  const vault::Actor capture = BenchCapture();
  const vault::Actor intake = BenchIntake();

  std::vector<std::string> ids;
  absl::Time start = absl::Now();
  if (!FillBenchLeads(*vault, capture, 0, leads, &ids)) return 1;
  std::printf("filled %llu leads in %.1f s\n", (unsigned long long)leads,
              absl::ToDoubleSeconds(absl::Now() - start));

  // 1. No online load, no pacing.
  add_key();
  const double unloaded_s = RotateAndWait(*vault, keks);
  if (unloaded_s < 0) return 1;
  std::printf(
      "re-wrap, no online load (batches of %zu, no pause): %llu keys in %.2f s: %.0f "
      "keys/s\n",
      batch, (unsigned long long)vault->key_rewrap().progress().rewrapped, unloaded_s,
      vault->key_rewrap().progress().rewrapped / unloaded_s);

  // 2. Idle latency, on the vault as the daemon runs it.
  vault->Shutdown();
  vault.reset();
  opened = Open(dir, keks, loaded_batch, absl::Milliseconds(pause_ms));
  if (!opened.ok()) return 1;
  vault = *std::move(opened);
  {
    BenchReaders warm(*vault, intake, ids, readers);  // caches, and compactions after the open
    absl::SleepFor(absl::Seconds(seconds));
    warm.Stop();
  }
  BenchReaders idle(*vault, intake, ids, readers);
  absl::SleepFor(absl::Seconds(seconds));
  const BenchLatency quiet = idle.Stop();
  if (idle.failed()) return 1;

  // 3. The same readers during a paced re-wrap.
  add_key();
  BenchReaders busy(*vault, intake, ids, readers);
  const double loaded_s = RotateAndWait(*vault, keks);
  const BenchLatency during = busy.Stop();
  if (loaded_s < 0 || busy.failed()) return 1;
  const uint64_t moved = vault->key_rewrap().progress().rewrapped;
  std::printf(
      "re-wrap under load (%d readers, batches of %zu, %d ms apart): %llu keys in %.2f s "
      "(%.0f keys/s)\n",
      readers, loaded_batch, pause_ms, (unsigned long long)moved, loaded_s, moved / loaded_s);
  std::printf("GetLead idle:           p50 %.0f us, p99 %.0f us (%llu calls)\n", quiet.p50_us,
              quiet.p99_us, (unsigned long long)quiet.calls);
  std::printf("GetLead during re-wrap: p50 %.0f us, p99 %.0f us (%llu calls)\n", during.p50_us,
              during.p99_us, (unsigned long long)during.calls);
  std::printf("p99 during / idle: x%.2f\n", during.p99_us / quiet.p99_us);
  vault->Shutdown();
  return 0;
}

}  // namespace

int RunRewrapBench(int argc, char** argv) {
  uint64_t leads = 1'000'000;
  int readers = 4;
  int seconds = 5;
  size_t batch = 4096;
  size_t loaded_batch = vault::KeyRewrapOptions().batch_size;
  int pause_ms = static_cast<int>(absl::ToInt64Milliseconds(vault::KeyRewrapOptions().pause));
  CLI::App app{"leadvault-bench rewrap: re-wrap throughput and GetLead latency during one",
               "leadvault-bench rewrap"};
  app.add_option("--leads", leads, "leads (data keys) in the vault")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--readers", readers, "GetLead threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--seconds", seconds, "idle measurement")
      ->check(CLI::Range(1, 600))
      ->capture_default_str();
  app.add_option("--batch", batch, "the unloaded re-wrap's batch size")
      ->check(CLI::Range(size_t{1}, vault::kMaxRewrapBatch))
      ->capture_default_str();
  app.add_option("--loaded-batch", loaded_batch, "the loaded re-wrap's batch size")
      ->check(CLI::Range(size_t{1}, vault::kMaxRewrapBatch))
      ->capture_default_str();
  app.add_option("--pause-ms", pause_ms, "the loaded re-wrap's pause between batches")
      ->check(CLI::Range(0, 60000))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!keys::InitCrypto()) return 1;
  const std::string dir = BenchScratchDir("rewrap");
  if (dir.empty()) {
    std::fprintf(stderr, "leadvault-bench: cannot create a scratch dir\n");
    return 1;
  }
  const int rc = Run(dir, leads, readers, seconds, batch, loaded_batch, pause_ms);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return rc;
}

}  // namespace leadvault::tools
