#include "tools/bench_audit_cost.h"

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "api/server.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "tools/bench_load.h"
#include "vault/vault.h"

namespace leadvault::tools {
namespace {

struct Run {
  bool audited = true;
  PhaseReport report;
};

// One vault in a temporary dir behind an in-process server; CreateLead load at it.
absl::StatusOr<PhaseReport> MeasureOnce(bool audited, const LoadOptions& base) {
  std::string dir_template =
      (std::filesystem::temp_directory_path() / "leadvault-audit-cost.XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr) {
    return absl::UnavailableError("cannot create a temporary dir");
  }
  const std::string dir = dir_template;
  absl::StatusOr<PhaseReport> result = [&]() -> absl::StatusOr<PhaseReport> {
    keys::SecretBytes kek(32);
    keys::SystemRandom().Fill(kek.data(), kek.size());
    vault::VaultOptions options;
    options.data_dir = dir + "/db";
    options.committer.omit_audit_for_benchmark = !audited;
    auto vault = vault::Vault::Open(options, std::move(kek));
    if (!vault.ok()) return vault.status();
    vault::Actor system;
    system.principal_id = "system";
    system.system = true;
    vault::NewPrincipal capture;
    capture.display_name = "audit-cost bench";
    capture.roles = {"capture"};
    capture.service_lines = {"bench"};
    auto issued = (*vault)->principals().Create(system, std::move(capture));
    if (!issued.ok()) return issued.status();
    api::ServerOptions server_options;
    server_options.listen = "127.0.0.1:0";
    auto server = api::Server::Start(server_options, vault->get());
    if (!server.ok()) return server.status();
    LoadOptions load = base;
    load.server = (*server)->address();
    load.token = std::string(issued->token.view());
    load.create_only = true;
    PhaseReport report;
    load.create_report = &report;
    std::printf("== CreateLead, audit %s\n", audited ? "ON (as the daemon runs)" : "LEFT OUT");
    int rc = RunLoad(load);
    keys::WipeString(load.token);
    (*server)->Shutdown(absl::Seconds(5));
    (*vault)->Shutdown();
    if (rc != 0) return absl::UnavailableError("the load run failed");
    return report;
  }();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return result;
}

}  // namespace

int RunAuditCostBench(int argc, char** argv) {
  LoadOptions options;
  int rounds = 4;
  CLI::App app{"leadvault-bench audit-cost: CreateLead with and without the audit entry",
               "leadvault-bench audit-cost"};
  app.add_option("--concurrency", options.concurrency, "calls in flight")
      ->check(CLI::Range(2, 100000));
  app.add_option("--duration-seconds", options.duration_seconds, "measured seconds per run")
      ->check(CLI::Range(1, 3600));
  app.add_option("--warmup-seconds", options.warmup_seconds, "unmeasured seconds per run")
      ->check(CLI::Range(0, 600));
  app.add_option("--rounds", rounds, "runs of each variant, interleaved")->check(CLI::Range(1, 20));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!keys::InitCrypto()) return 1;
  std::vector<Run> runs;
  for (int r = 0; r < rounds; ++r) {
    // A B, then B A, ...: neither variant always runs first (the first run of
    // a process is the slower one).
    for (bool audited :
         r % 2 == 0 ? std::vector<bool>{true, false} : std::vector<bool>{false, true}) {
      auto report = MeasureOnce(audited, options);
      if (!report.ok()) {
        std::fprintf(stderr, "leadvault-bench: %s\n",
                     std::string(report.status().message()).c_str());
        return 1;
      }
      runs.push_back({audited, *report});
    }
  }
  double on = 0, off = 0;
  std::printf("\n%-10s %12s %9s %9s %7s\n", "audit", "creates/s", "p50 ms", "p99 ms", "errors");
  for (const Run& run : runs) {
    std::printf("%-10s %12.0f %9.2f %9.2f %7llu\n", run.audited ? "on" : "left out",
                run.report.throughput, run.report.p50_ms, run.report.p99_ms,
                static_cast<unsigned long long>(run.report.errors));
    (run.audited ? on : off) += run.report.throughput / rounds;
  }
  std::printf(
      "mean: audit on %.0f/s, left out %.0f/s: the audit log costs %.1f%% of CreateLead "
      "throughput (target <= 15%%)\n",
      on, off, off > 0 ? 100.0 * (off - on) / off : 0.0);
  return 0;
}

}  // namespace leadvault::tools
