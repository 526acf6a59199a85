// leadvault-bench: load generator and micro-benchmarks of leadvault.
//
//   leadvault-bench load --server HOST:PORT [--token-file F] [--concurrency 64]
//       [--connections 2] [--backoff-ms 0] [--duration-seconds 10]
//       [--warmup-seconds 2]
//       [--create-count N]
//       [--fill N] [--daemon-pid PID] [--ca CA.pem [--cert C.pem --key K.pem]]
//   leadvault-bench probe --server HOST:PORT [--warmup-seconds 0] [--duration-seconds 10]
//       [--ca CA.pem [--cert C.pem --key K.pem]]
//   leadvault-bench crypto [Google Benchmark flags]
//   leadvault-bench audit [Google Benchmark flags]
//   leadvault-bench audit-cost [--concurrency 64] [--duration-seconds 10] [--rounds 4]
//   leadvault-bench disclosure-check [--entries 1000000] [--runs 3]
//   leadvault-bench consent [Google Benchmark flags]
//   leadvault-bench retention [--leads 1000000] [--loaded-leads 100000] [--keep 20000]
//       [--readers 4] [--seconds 5]
//   leadvault-bench rewrap [--leads 1000000] [--readers 4] [--seconds 5] [--batch 4096]
//       [--pause-ms 2]
//   leadvault-bench backup [--leads 1000000] [--rounds 2] [--dir /var/tmp]
//
// The subcommands are CLI11's; each takes --help, and `leadvault-bench
// --version` prints the version. `load` and `probe` take their flags here
// (into LoadOptions and ProbeOptions); the in-process benchmarks parse theirs
// themselves (tools/bench_*.cc) from every argument after their name, --help
// included; the Google Benchmark ones (crypto, audit, consent) pass their
// arguments, the --benchmark_* flags, through to Google Benchmark.
//
// The token comes from --token-file or the LEADVAULT_TOKEN environment
// variable, never from an argument (arguments are visible in ps).
// Exit codes: 0 success (and --help, --version); 1 the run failed; 2 usage.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "api/version.h"
#include "keys/secret_bytes.h"
#include "tools/bench_audit.h"
#include "tools/bench_audit_cost.h"
#include "tools/bench_backup.h"
#include "tools/bench_consent.h"
#include "tools/bench_crypto.h"
#include "tools/bench_disclosure.h"
#include "tools/bench_funnel.h"
#include "tools/bench_keys.h"
#include "tools/bench_load.h"
#include "tools/bench_retention.h"

namespace leadvault::tools {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;

constexpr char kExitCodesHelp[] = "Exit codes: 0 success; 1 the run failed; 2 usage.";

// A benchmark that reads the arguments after its name itself.
struct ForwardedBench {
  const char* name;
  const char* description;
  int (*run)(int argc, char** argv);
  bool google_benchmark;  // its arguments are Google Benchmark flags
};

constexpr ForwardedBench kForwardedBenches[] = {
    {"crypto", "crypto micro-benchmarks: AEAD, key wrapping, blind indexes (Google Benchmark)",
     RunCryptoBench, true},
    {"audit",
     "verify a 1,000,000-entry audit export offline; render JSON Lines entries (Google "
     "Benchmark)",
     RunAuditBench, true},
    {"consent",
     "GetLead with and without consent enforcement, CreateLead with and without a grant, "
     "in-process (Google Benchmark)",
     RunConsentBench, true},
    {"audit-cost",
     "what the audit log costs CreateLead: two in-process vaults, with and without audit "
     "entries, in interleaved runs",
     RunAuditCostBench, false},
    {"disclosure-check", "time the disclosure index cross-check that runs at every vault start",
     RunDisclosureCheckBench, false},
    {"retention", "retention sweep rate, and GetLead latency during a sweep, in-process",
     RunRetentionBench, false},
    {"rewrap", "master-key re-wrap rate, and GetLead latency during one, in-process",
     RunRewrapBench, false},
    {"backup", "a full and an incremental backup against cp -r of the same database",
     RunBackupBench, false},
    {"funnel",
     "GetFunnelMetrics over a year of 1,000,000 leads' aggregates, and what the aggregates "
     "cost CreateLead and UpdateLead, in-process",
     RunFunnelBench, false},
};

constexpr char kGoogleBenchmarkFooter[] =
    "Every argument goes to Google Benchmark: --benchmark_filter=RE, --benchmark_min_time=T, "
    "--benchmark_repetitions=N, --benchmark_report_aggregates_only=true, "
    "--benchmark_format=json, --benchmark_list_tests=true (the names), ...; any other is a "
    "usage error.";

// The token from `path`, or from LEADVAULT_TOKEN when `path` is empty; trimmed.
bool ReadToken(const std::string& path, std::string* token) {
  if (path.empty()) {
    const char* env = std::getenv("LEADVAULT_TOKEN");
    if (env == nullptr) return false;
    *token = env;
  } else {
    std::ifstream in(path);
    if (!in) return false;
    token->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::string trimmed(absl::StripAsciiWhitespace(*token));
  keys::WipeString(*token);
  *token = std::move(trimmed);
  return !token->empty();
}

// --ca, --cert and --key of `command`, into the three files.
void AddTlsOptions(CLI::App* command, std::string* ca_file, std::string* cert_file,
                   std::string* key_file) {
  command->add_option("--ca", *ca_file, "connect with TLS, trusting the PEM CA(s) in this file");
  command->add_option("--cert", *cert_file, "mutual TLS: PEM client certificate (with --key)");
  command->add_option("--key", *key_file, "PEM private key of --cert (mode 0600)");
}

CLI::App* AddLoadCommand(CLI::App& app, LoadOptions* options, std::string* token_file) {
  CLI::App* load = app.add_subcommand(
      "load",
      "drive a running leadvaultd over gRPC: health checks, then CreateLead, then GetLead (or "
      "only a fill), with throughput and latency percentiles");
  load->add_option("--server", options->server, "HOST:PORT of leadvaultd")->required();
  load->add_option("--token-file", *token_file,
                   "file holding the token (default: $LEADVAULT_TOKEN)");
  AddTlsOptions(load, &options->ca_file, &options->cert_file, &options->key_file);
  load->add_option("--concurrency", options->concurrency, "calls in flight")
      ->check(CLI::Range(2, 100000))
      ->capture_default_str();
  load->add_option("--connections", options->connections,
                   "spread the calls over N connections (default: 2; the server allows 256 "
                   "calls in flight per connection)")
      ->check(CLI::Range(1, 1000));
  load->add_option("--backoff-ms", options->backoff_ms,
                   "after a RESOURCE_EXHAUSTED answer, wait about this long (jittered) before "
                   "that slot's next call (default 0: at once)")
      ->check(CLI::Range(0, 60000));
  load->add_option("--duration-seconds", options->duration_seconds, "measured seconds per phase")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  load->add_option("--warmup-seconds", options->warmup_seconds, "unmeasured seconds per phase")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  load->add_option("--create-count", options->create_count,
                   "create exactly N leads (untimed) instead of a timed create phase");
  load->add_option("--fill", options->fill, "only create N leads, as fast as possible");
  load->add_option("--daemon-pid", options->daemon_pid, "report this process's RSS");
  load->footer(absl::StrCat(
      "The token is read from --token-file or LEADVAULT_TOKEN, never from an argument.\n",
      kExitCodesHelp));
  return load;
}

CLI::App* AddProbeCommand(CLI::App& app, ProbeOptions* options) {
  CLI::App* probe = app.add_subcommand(
      "probe",
      "health-check latency as a load balancer's probe sees it: one unauthenticated Check at a "
      "time, on a connection of its own");
  probe->add_option("--server", options->server, "HOST:PORT of leadvaultd")->required();
  AddTlsOptions(probe, &options->ca_file, &options->cert_file, &options->key_file);
  probe->add_option("--warmup-seconds", options->warmup_seconds, "unmeasured seconds first")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  probe->add_option("--duration-seconds", options->duration_seconds, "measured seconds")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  probe->footer(kExitCodesHelp);
  return probe;
}

// A subcommand whose arguments all go, in order, to `bench.run`. A Google
// Benchmark one answers --help itself; any other hands --help on as well, to
// the bench's own parser, which lists its flags.
CLI::App* AddForwardedCommand(CLI::App& app, const ForwardedBench& bench) {
  CLI::App* command = app.add_subcommand(bench.name, bench.description);
  // Unknown options and everything from the first positional on are kept,
  // in order, for remaining().
  command->prefix_command();
  if (bench.google_benchmark) {
    command->footer(absl::StrCat(kGoogleBenchmarkFooter, "\n", kExitCodesHelp));
  } else {
    command->set_help_flag();
  }
  return command;
}

// Runs `bench` with argv[0] "leadvault-bench NAME" and `args` after it.
int RunForwarded(const ForwardedBench& bench, const std::vector<std::string>& args) {
  std::vector<std::string> owned = {absl::StrCat("leadvault-bench ", bench.name)};
  owned.insert(owned.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : owned) argv.push_back(arg.data());
  argv.push_back(nullptr);
  return bench.run(static_cast<int>(owned.size()), argv.data());
}

int Main(int argc, char** argv) {
  CLI::App app{"leadvault-bench: load generator and micro-benchmarks of leadvault",
               "leadvault-bench"};
  app.set_version_flag("--version", api::VersionLine("leadvault-bench"));
  app.require_subcommand(1);
  app.footer(
      absl::StrCat("`leadvault-bench COMMAND --help` lists a command's flags.\n", kExitCodesHelp));

  LoadOptions load_options;
  std::string token_file;
  CLI::App* load = AddLoadCommand(app, &load_options, &token_file);
  ProbeOptions probe_options;
  CLI::App* probe = AddProbeCommand(app, &probe_options);
  std::vector<CLI::App*> forwarded;
  for (const ForwardedBench& bench : kForwardedBenches) {
    forwarded.push_back(AddForwardedCommand(app, bench));
  }

  if (argc < 2) {
    std::cerr << app.help();
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are ParseErrors with exit code 0; the rest are usage errors.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  if (load->parsed()) {
    if (!ReadToken(token_file, &load_options.token)) {
      std::fprintf(stderr, "leadvault-bench: no token: give --token-file or set LEADVAULT_TOKEN\n");
      return kExitUsage;
    }
    const int rc = RunLoad(load_options);
    keys::WipeString(load_options.token);
    return rc;
  }
  if (probe->parsed()) return RunProbe(probe_options);
  for (size_t i = 0; i < forwarded.size(); ++i) {
    if (forwarded[i]->parsed()) {
      return RunForwarded(kForwardedBenches[i], forwarded[i]->remaining());
    }
  }
  return kExitUsage;  // unreachable: require_subcommand(1)
}

}  // namespace
}  // namespace leadvault::tools

int main(int argc, char** argv) { return leadvault::tools::Main(argc, argv); }
