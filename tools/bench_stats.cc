#include "tools/bench_stats.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "audit/export_format.h"

namespace leadvault::tools {
namespace {

double PercentileMs(const std::vector<uint32_t>& sorted_us, double q) {
  if (sorted_us.empty()) return 0;
  size_t rank = static_cast<size_t>(q * static_cast<double>(sorted_us.size() - 1) + 0.5);
  return sorted_us[std::min(rank, sorted_us.size() - 1)] / 1000.0;
}

}  // namespace

void PhaseSample::Merge(PhaseSample&& other) {
  latencies_us.insert(latencies_us.end(), other.latencies_us.begin(), other.latencies_us.end());
  for (int c = 0; c < kGrpcCodeCount; ++c) calls_by_code[c] += other.calls_by_code[c];
  other.latencies_us = {};
}

PhaseReport Summarize(std::string name, PhaseSample& sample, double seconds) {
  PhaseReport r;
  r.name = std::move(name);
  r.calls_by_code = sample.calls_by_code;
  for (int c = 0; c < kGrpcCodeCount; ++c) {
    r.calls += sample.calls_by_code[c];
    if (c != 0) r.errors += sample.calls_by_code[c];
  }
  r.seconds = seconds;
  r.throughput = seconds > 0 ? static_cast<double>(r.calls) / seconds : 0;
  std::vector<uint32_t>& lat = sample.latencies_us;
  std::sort(lat.begin(), lat.end());
  r.p50_ms = PercentileMs(lat, 0.50);
  r.p95_ms = PercentileMs(lat, 0.95);
  r.p99_ms = PercentileMs(lat, 0.99);
  r.max_ms = lat.empty() ? 0 : lat.back() / 1000.0;
  return r;
}

void PrintReportHeader() {
  std::printf("%-8s %10s %8s %7s %11s %6s %8s %8s %8s %8s\n", "phase", "calls", "errors", "secs",
              "calls/s", "ratio", "p50 ms", "p95 ms", "p99 ms", "max ms");
}

void PrintReportRow(const PhaseReport& r, double baseline) {
  std::string ratio = baseline > 0 ? absl::StrFormat("%.2f", r.throughput / baseline) : "-";
  std::printf("%-8s %10llu %8llu %7.2f %11.0f %6s %8.2f %8.2f %8.2f %8.2f\n", r.name.c_str(),
              static_cast<unsigned long long>(r.calls), static_cast<unsigned long long>(r.errors),
              r.seconds, r.throughput, ratio.c_str(), r.p50_ms, r.p95_ms, r.p99_ms, r.max_ms);
  if (r.errors > 0) {
    std::string line = "         errors:";
    for (int c = 1; c < kGrpcCodeCount; ++c) {
      if (r.calls_by_code[c] > 0) {
        absl::StrAppend(&line, " ", GrpcCodeName(c), "=", r.calls_by_code[c]);
      }
    }
    std::printf("%s\n", line.c_str());
  }
  std::fflush(stdout);
}

const char* GrpcCodeName(int code) {
  // StatusCodeName's names are string literals (NUL-terminated).
  const absl::string_view name = audit::StatusCodeName(code);
  return name.empty() ? "?" : name.data();
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

int64_t ReadRssKib(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "VmRSS:")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, "kB");
    int64_t kib = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &kib)) return kib;
  }
  return -1;
}

std::string FormatRss(int64_t kib) {
  if (kib < 0) return "unknown";
  return absl::StrFormat("%.1f MiB", static_cast<double>(kib) / 1024.0);
}

}  // namespace leadvault::tools
