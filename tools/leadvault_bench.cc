// leadvault-bench: load generator and crypto micro-benchmarks of leadvault.
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
// The token comes from --token-file or the LEADVAULT_TOKEN environment
// variable, never from an argument (arguments are visible in ps).
// Exit codes: 0 success; 1 the run failed; 2 usage.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "api/version.h"
#include "keys/secret_bytes.h"
#include "tools/bench_audit.h"
#include "tools/bench_audit_cost.h"
#include "tools/bench_backup.h"
#include "tools/bench_consent.h"
#include "tools/bench_crypto.h"
#include "tools/bench_disclosure.h"
#include "tools/bench_keys.h"
#include "tools/bench_load.h"
#include "tools/bench_retention.h"

namespace leadvault::tools {
namespace {

constexpr int kExitUsage = 2;

void PrintUsage() {
  std::fprintf(stderr,
               "usage: leadvault-bench load --server HOST:PORT [--token-file F] "
               "[--concurrency N] [--connections N] [--backoff-ms MS] "
               "[--duration-seconds S] [--warmup-seconds S] "
               "[--create-count N] [--fill N] [--daemon-pid PID] "
               "[--ca CA.pem [--cert C.pem --key K.pem]]\n"
               "       leadvault-bench probe --server HOST:PORT [--warmup-seconds S] "
               "[--duration-seconds S] [--ca CA.pem [--cert C.pem --key K.pem]]\n"
               "       leadvault-bench crypto [--benchmark_filter=RE] [--benchmark_min_time=T] "
               "...\n"
               "       leadvault-bench audit-cost [--concurrency N] [--duration-seconds S] "
               "[--rounds N]\n"
               "       leadvault-bench audit [--benchmark_filter=RE] [--benchmark_min_time=T] "
               "...\n"
               "       leadvault-bench disclosure-check [--entries N] [--runs N]\n"
               "       leadvault-bench consent [--benchmark_filter=RE] "
               "[--benchmark_repetitions=N] ...\n"
               "       leadvault-bench retention [--leads N] [--loaded-leads N] [--keep N] "
               "[--readers N] [--seconds S]\n"
               "       leadvault-bench rewrap [--leads N] [--readers N] [--seconds S] "
               "[--batch N] [--pause-ms MS]\n"
               "       leadvault-bench backup [--leads N] [--rounds N] [--dir DIR]\n");
}

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

int RunLoadCommand(int argc, char** argv) {
  LoadOptions options;
  std::string token_file;
  CLI::App app{"leadvault-bench load: drive a running leadvaultd", "leadvault-bench load"};
  app.add_option("--server", options.server, "HOST:PORT of leadvaultd")->required();
  app.add_option("--token-file", token_file, "file holding the token (default: $LEADVAULT_TOKEN)");
  app.add_option("--ca", options.ca_file, "connect with TLS, trusting the PEM CA(s) in this file");
  app.add_option("--cert", options.cert_file, "mutual TLS: PEM client certificate (with --key)");
  app.add_option("--key", options.key_file, "PEM private key of --cert (mode 0600)");
  app.add_option("--concurrency", options.concurrency, "calls in flight")
      ->check(CLI::Range(2, 100000));
  app.add_option("--connections", options.connections,
                 "spread the calls over N connections (default: 2; the server allows 256 calls "
                 "in flight per connection)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--backoff-ms", options.backoff_ms,
                 "after a RESOURCE_EXHAUSTED answer, wait about this long (jittered) before "
                 "that slot's next call (default 0: at once)")
      ->check(CLI::Range(0, 60000));
  app.add_option("--duration-seconds", options.duration_seconds, "measured seconds per phase")
      ->check(CLI::Range(1, 86400));
  app.add_option("--warmup-seconds", options.warmup_seconds, "unmeasured seconds per phase")
      ->check(CLI::Range(0, 3600));
  app.add_option("--create-count", options.create_count,
                 "create exactly N leads (untimed) instead of a timed create phase");
  app.add_option("--fill", options.fill, "only create N leads, as fast as possible");
  app.add_option("--daemon-pid", options.daemon_pid, "report this process's RSS");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!ReadToken(token_file, &options.token)) {
    std::fprintf(stderr, "leadvault-bench: no token: give --token-file or set LEADVAULT_TOKEN\n");
    return kExitUsage;
  }
  int rc = RunLoad(options);
  keys::WipeString(options.token);
  return rc;
}

int RunProbeCommand(int argc, char** argv) {
  ProbeOptions options;
  CLI::App app{"leadvault-bench probe: health-check latency, one Check at a time",
               "leadvault-bench probe"};
  app.add_option("--server", options.server, "HOST:PORT of leadvaultd")->required();
  app.add_option("--ca", options.ca_file, "connect with TLS, trusting the PEM CA(s) in this file");
  app.add_option("--cert", options.cert_file, "mutual TLS: PEM client certificate (with --key)");
  app.add_option("--key", options.key_file, "PEM private key of --cert (mode 0600)");
  app.add_option("--warmup-seconds", options.warmup_seconds, "unmeasured seconds first")
      ->check(CLI::Range(0, 3600));
  app.add_option("--duration-seconds", options.duration_seconds, "measured seconds")
      ->check(CLI::Range(1, 86400));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return RunProbe(options);
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    PrintUsage();
    return kExitUsage;
  }
  std::string command = argv[1];
  if (command == "--version") {
    std::printf("%s\n", api::VersionLine("leadvault-bench").c_str());
    return 0;
  }
  // The subcommand's argv: the program name, then what follows the subcommand.
  std::vector<char*> rest;
  rest.push_back(argv[0]);
  for (int i = 2; i < argc; ++i) rest.push_back(argv[i]);
  rest.push_back(nullptr);
  int rest_argc = static_cast<int>(rest.size()) - 1;
  if (command == "load") return RunLoadCommand(rest_argc, rest.data());
  if (command == "probe") return RunProbeCommand(rest_argc, rest.data());
  if (command == "crypto") return RunCryptoBench(rest_argc, rest.data());
  if (command == "audit") return RunAuditBench(rest_argc, rest.data());
  if (command == "audit-cost") return RunAuditCostBench(rest_argc, rest.data());
  if (command == "consent") return RunConsentBench(rest_argc, rest.data());
  if (command == "disclosure-check") return RunDisclosureCheckBench(rest_argc, rest.data());
  if (command == "retention") return RunRetentionBench(rest_argc, rest.data());
  if (command == "rewrap") return RunRewrapBench(rest_argc, rest.data());
  if (command == "backup") return RunBackupBench(rest_argc, rest.data());
  PrintUsage();
  return kExitUsage;
}

}  // namespace
}  // namespace leadvault::tools

int main(int argc, char** argv) { return leadvault::tools::Main(argc, argv); }
