// The load generator of leadvault-bench: drives a running leadvaultd over gRPC.
#ifndef LEADVAULT_TOOLS_BENCH_LOAD_H_
#define LEADVAULT_TOOLS_BENCH_LOAD_H_

#include <cstdint>
#include <string>

#include "tools/bench_stats.h"

namespace leadvault::tools {

struct LoadOptions {
  std::string server;     // HOST:PORT
  std::string token;      // the bearer token (a secret: never printed)
  std::string ca_file;    // non-empty: TLS, trusting these PEM CAs
  std::string cert_file;  // with key_file: a PEM client certificate (mutual TLS)
  std::string key_file;   // its PEM private key, mode 0600
  int concurrency = 64;   // calls in flight at all times, split over the driver threads
  // Connections the calls are spread over (0: one per driver thread). The
  // server allows 256 calls in flight per connection: 2,000 concurrent
  // streams need at least 8.
  int connections = 0;
  // >0: a call answered RESOURCE_EXHAUSTED makes its slot wait about this
  // long before its next call, as a client retrying with backoff does.
  int backoff_ms = 0;
  int duration_seconds = 10;  // measured time per timed phase
  int warmup_seconds = 2;     // unmeasured time before each timed phase
  uint64_t create_count = 0;  // >0: the create phase makes exactly this many leads, untimed
  uint64_t fill = 0;          // >0: only create this many leads (the RSS measurement)
  int daemon_pid = 0;         // >0: report this process's RSS
  // Only the timed CreateLead phase (the audit-cost comparison); its report
  // also goes to *create_report when set.
  bool create_only = false;
  PhaseReport* create_report = nullptr;
};

// Runs the phases (health check, CreateLead, GetLead; or the fill) and prints
// one report row per phase to stdout. Returns the process exit code: 0 when
// every phase ran (errors are reported, not fatal), 1 when the server cannot
// be reached, a TLS file is refused, or the create phase produced no lead to read.
int RunLoad(const LoadOptions& options);

struct ProbeOptions {
  std::string server;                        // HOST:PORT
  std::string ca_file, cert_file, key_file;  // as in LoadOptions
  int warmup_seconds = 0;                    // probe unmeasured for this long first
  int duration_seconds = 10;                 // then measure for this long
};

// A health probe as a load balancer runs one, in a process of its own (a probe
// inside the load generator would measure the generator's own queues): one
// unauthenticated Check at a time, at most one per millisecond, on its own
// connection; NOT_SERVING counts as an error. Prints one report row.
int RunProbe(const ProbeOptions& options);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_BENCH_LOAD_H_
