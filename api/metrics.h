// Metrics in the Prometheus text exposition format: the one writer of that
// format (MetricsText), and the per-call series every RPC feeds (CallMetrics,
// through a gRPC server interceptor).
//
// Label values are fixed names only: services and methods from the server's
// own descriptors (a method a client made up is "unknown"), gRPC code names,
// version strings. Never a lead id, principal id, token or PII value.
#ifndef LEADVAULT_API_METRICS_H_
#define LEADVAULT_API_METRICS_H_

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"
#include "vault/histogram.h"
#include "vault/vault.h"

namespace leadvault::api {

using MetricLabels = std::vector<std::pair<absl::string_view, absl::string_view>>;

// Builds one exposition: each family's HELP and TYPE once, then its samples.
class MetricsText {
 public:
  // Starts a family; `type` is "counter", "gauge" or "histogram".
  void Family(absl::string_view name, absl::string_view type, absl::string_view help);
  void Sample(absl::string_view name, const MetricLabels& labels, double value);
  // A histogram's _bucket (with le), _sum and _count samples.
  void Histogram(absl::string_view name, const MetricLabels& labels,
                 const vault::Histogram::Snapshot& snapshot);
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// Calls by service, method and code, and their latency. Thread-safe and
// lock-free on the call path: every method's series exist from the start.
class CallMetrics {
 public:
  // `services`: the full names of the services served; their methods come
  // from the generated descriptors.
  explicit CallMetrics(const std::vector<std::string>& services);
  CallMetrics(const CallMetrics&) = delete;
  CallMetrics& operator=(const CallMetrics&) = delete;

  // The series of `path`, gRPC's "/package.Service/Method" ("unknown" for a
  // method not served).
  size_t MethodIndex(absl::string_view path) const;
  void Record(size_t method, grpc::StatusCode code, absl::Duration duration);
  void Render(MetricsText& out) const;

  // An interceptor factory for grpc::ServerBuilder that records every call
  // when its status is sent. `this` must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewInterceptorFactory();

 private:
  static constexpr int kCodes = 17;  // OK .. UNAUTHENTICATED
  struct Method {
    std::string service;
    std::string name;
    std::atomic<uint64_t> calls[kCodes] = {};
    std::unique_ptr<vault::Histogram> latency[kCodes];
  };
  // Constant after construction: the last is "unknown".
  std::vector<std::unique_ptr<Method>> methods_;
  absl::flat_hash_map<std::string, size_t> by_path_;
};

// The vault's series: the committer (group sizes, write latency, queue),
// the audit log (tree size, checkpoint age, unsigned entries), emergency
// grants, and RocksDB (sizes, pending compaction, block cache).
void RenderVaultMetrics(vault::Vault& vault, MetricsText& out);

}  // namespace leadvault::api

#endif  // LEADVAULT_API_METRICS_H_
