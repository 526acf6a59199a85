#include "tools/bench_backup.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "keys/secret_bytes.h"
#include "tools/bench_vault.h"
#include "vault/actor.h"
#include "vault/backup.h"
#include "vault/vault.h"

namespace leadvault::tools {
namespace {

uint64_t TreeBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

// `cp -r` then `sync`, as a backup syncs its files; seconds, or < 0.
double CopyWithCp(const std::string& from, const std::string& to) {
  const absl::Time start = absl::Now();
  const std::string command = "cp -r '" + from + "' '" + to + "' && sync";
  if (std::system(command.c_str()) != 0) return -1;
  return absl::ToDoubleSeconds(absl::Now() - start);
}

int Run(const std::string& dir, uint64_t leads, int rounds) {
  auto opened = OpenBenchVault(dir);
  if (!opened.ok()) return 1;
  std::unique_ptr<vault::Vault> vault = *std::move(opened);
  vault::Actor capture;
  capture.principal_id = "00000000000000c1";
  capture.roles = {vault::Role::kCapture};
  std::vector<std::string> ids;
  absl::Time start = absl::Now();
  if (!FillBenchLeads(*vault, capture, 0, leads, &ids)) return 1;
  // Compacted whole, so no background compaction deletes a file under cp.
  std::vector<vault::Cf> all;
  for (size_t i = 0; i < vault::kCfCount; ++i) all.push_back(static_cast<vault::Cf>(i));
  if (!vault->database().CompactAway(all).ok()) return 1;
  std::printf("filled %llu leads in %.1f s; the database holds %.1f MiB\n",
              (unsigned long long)leads, absl::ToDoubleSeconds(absl::Now() - start),
              TreeBytes(dir + "/db") / 1048576.0);
  for (int round = 1; round <= rounds; ++round) {
    const std::string copy = dir + "/cp-" + std::to_string(round);
    const std::string backups = dir + "/backups-" + std::to_string(round);
    ::mkdir(backups.c_str(), 0700);
    const double cp_s = CopyWithCp(dir + "/db", copy);
    if (cp_s < 0) return 1;
    start = absl::Now();
    auto first = vault::CreateBackup(vault->database(), backups, vault->audit_log().size());
    const double first_s = absl::ToDoubleSeconds(absl::Now() - start);
    start = absl::Now();
    auto second = vault::CreateBackup(vault->database(), backups, vault->audit_log().size());
    const double second_s = absl::ToDoubleSeconds(absl::Now() - start);
    if (!first.ok() || !second.ok()) {
      std::fprintf(stderr, "leadvault-bench: backup failed\n");
      return 1;
    }
    std::printf(
        "round %d: cp -r %.2f s (%.1f MiB) | backup %.2f s (%.1f MiB, %u files) = x%.2f of cp | "
        "incremental backup %.2f s\n",
        round, cp_s, TreeBytes(copy) / 1048576.0, first_s, first->bytes / 1048576.0, first->files,
        first_s / cp_s, second_s);
    std::error_code ignored;
    std::filesystem::remove_all(copy, ignored);
    std::filesystem::remove_all(backups, ignored);
  }
  vault->Shutdown();
  return 0;
}

}  // namespace

int RunBackupBench(int argc, char** argv) {
  uint64_t leads = 1'000'000;
  int rounds = 2;
  std::string parent = "/var/tmp";
  CLI::App app{"leadvault-bench backup: a backup's time against cp -r of the same database",
               "leadvault-bench backup"};
  app.add_option("--leads", leads, "leads in the vault")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--rounds", rounds, "cp / backup rounds")
      ->check(CLI::Range(1, 20))
      ->capture_default_str();
  app.add_option("--dir", parent, "where the throwaway vault is made (a disk, not tmpfs)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!keys::InitCrypto()) return 1;
  std::string tmpl = parent + "/leadvault-bench-backup-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::fprintf(stderr, "leadvault-bench: cannot create a scratch dir in %s\n", parent.c_str());
    return 1;
  }
  const int rc = Run(tmpl, leads, rounds);
  std::error_code ignored;
  std::filesystem::remove_all(tmpl, ignored);
  return rc;
}

}  // namespace leadvault::tools
