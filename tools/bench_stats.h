// Latency and error bookkeeping for leadvault-bench phases.
#ifndef LEADVAULT_TOOLS_BENCH_STATS_H_
#define LEADVAULT_TOOLS_BENCH_STATS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "grpcpp/support/status.h"

namespace leadvault::tools {

inline constexpr int kGrpcCodeCount = 17;  // OK .. UNAUTHENTICATED

// What one driver thread observed in a phase. Thread-compatible: each thread
// owns one; they are merged after the threads are joined.
struct PhaseSample {
  // Per-call latency in microseconds, every completed call in the measured window.
  std::vector<uint32_t> latencies_us;
  std::array<uint64_t, kGrpcCodeCount> calls_by_code{};

  void Merge(PhaseSample&& other);
};

// A phase's summary, as printed.
struct PhaseReport {
  std::string name;
  uint64_t calls = 0;
  uint64_t errors = 0;
  std::array<uint64_t, kGrpcCodeCount> calls_by_code{};
  double seconds = 0;
  double throughput = 0;  // calls per second
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
};

// Sorts `sample`'s latencies (in place) and summarizes them over `seconds`.
PhaseReport Summarize(std::string name, PhaseSample& sample, double seconds);

// The table header and one row per phase; `baseline` is the health-check
// throughput the ratio column divides by (0: no ratio).
void PrintReportHeader();
void PrintReportRow(const PhaseReport& report, double baseline);

// "UNAVAILABLE" for grpc::StatusCode::UNAVAILABLE, ...
const char* GrpcCodeName(int code);

// The median of `values` (the mean of the middle two when their number is
// even; 0 for none).
double Median(std::vector<double> values);

// VmRSS of process `pid` in KiB, or -1 when it cannot be read.
int64_t ReadRssKib(int pid);
// "123.4 MiB", or "unknown".
std::string FormatRss(int64_t kib);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_BENCH_STATS_H_
