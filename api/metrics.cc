#include "api/metrics.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"

namespace leadvault::api {
namespace {

void AppendEscapedLabel(std::string* out, absl::string_view value) {
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

std::string FormatValue(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrCat(value);
}

// gRPC's codes are absl's, number for number ("PERMISSION_DENIED", ...).
std::string CodeName(int code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(CallMetrics* metrics, size_t method)
      : metrics_(metrics), method_(method), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_->Record(method_, methods->GetSendStatus().error_code(), absl::Now() - start_);
    }
    methods->Proceed();
  }

 private:
  CallMetrics* const metrics_;
  const size_t method_;
  const absl::Time start_;
};

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(CallMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(
        metrics_, metrics_->MethodIndex(info->method() != nullptr ? info->method() : ""));
  }

 private:
  CallMetrics* const metrics_;
};

}  // namespace

void MetricsText::Family(absl::string_view name, absl::string_view type, absl::string_view help) {
  absl::StrAppend(&text_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

void MetricsText::Sample(absl::string_view name, const MetricLabels& labels, double value) {
  text_.append(name.data(), name.size());
  if (!labels.empty()) {
    text_.push_back('{');
    bool first = true;
    for (const auto& [label, label_value] : labels) {
      if (!first) text_.push_back(',');
      first = false;
      absl::StrAppend(&text_, label, "=\"");
      AppendEscapedLabel(&text_, label_value);
      text_.push_back('"');
    }
    text_.push_back('}');
  }
  absl::StrAppend(&text_, " ", FormatValue(value), "\n");
}

void MetricsText::Histogram(absl::string_view name, const MetricLabels& labels,
                            const vault::Histogram::Snapshot& snapshot) {
  const std::string bucket = absl::StrCat(name, "_bucket");
  for (size_t i = 0; i <= snapshot.upper_bounds.size(); ++i) {
    const std::string le =
        i < snapshot.upper_bounds.size() ? FormatValue(snapshot.upper_bounds[i]) : "+Inf";
    MetricLabels with_le = labels;
    with_le.emplace_back("le", le);
    Sample(bucket, with_le, static_cast<double>(snapshot.cumulative[i]));
  }
  Sample(absl::StrCat(name, "_sum"), labels, snapshot.sum);
  Sample(absl::StrCat(name, "_count"), labels, static_cast<double>(snapshot.cumulative.back()));
}

CallMetrics::CallMetrics(const std::vector<std::string>& services) {
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& service : services) {
    const google::protobuf::ServiceDescriptor* descriptor = pool->FindServiceByName(service);
    if (descriptor == nullptr) continue;
    for (int i = 0; i < descriptor->method_count(); ++i) {
      auto method = std::make_unique<Method>();
      method->service = service;
      method->name = descriptor->method(i)->name();
      by_path_[absl::StrCat("/", service, "/", method->name)] = methods_.size();
      methods_.push_back(std::move(method));
    }
  }
  auto unknown = std::make_unique<Method>();
  unknown->service = "unknown";
  unknown->name = "unknown";
  methods_.push_back(std::move(unknown));
  for (auto& method : methods_) {
    for (auto& latency : method->latency) {
      latency = std::make_unique<vault::Histogram>(vault::Histogram::LatencySeconds());
    }
  }
}

size_t CallMetrics::MethodIndex(absl::string_view path) const {
  auto it = by_path_.find(path);
  return it != by_path_.end() ? it->second : methods_.size() - 1;
}

void CallMetrics::Record(size_t method, grpc::StatusCode code, absl::Duration duration) {
  int index = static_cast<int>(code);
  if (index < 0 || index >= kCodes) index = static_cast<int>(grpc::StatusCode::UNKNOWN);
  Method& series = *methods_[method < methods_.size() ? method : methods_.size() - 1];
  series.calls[index].fetch_add(1, std::memory_order_relaxed);
  series.latency[index]->Observe(absl::ToDoubleSeconds(duration));
}

void CallMetrics::Render(MetricsText& out) const {
  out.Family("leadvault_rpc_calls_total", "counter",
             "Finished calls by service, method and gRPC code.");
  for (const auto& method : methods_) {
    for (int code = 0; code < kCodes; ++code) {
      const uint64_t calls = method->calls[code].load(std::memory_order_relaxed);
      if (calls == 0) continue;
      out.Sample("leadvault_rpc_calls_total",
                 {{"service", method->service}, {"method", method->name}, {"code", CodeName(code)}},
                 static_cast<double>(calls));
    }
  }
  out.Family("leadvault_rpc_duration_seconds", "histogram",
             "Call latency, from the call's start to its status, by service, method and code.");
  for (const auto& method : methods_) {
    for (int code = 0; code < kCodes; ++code) {
      if (method->calls[code].load(std::memory_order_relaxed) == 0) continue;
      out.Histogram(
          "leadvault_rpc_duration_seconds",
          {{"service", method->service}, {"method", method->name}, {"code", CodeName(code)}},
          method->latency[code]->Read());
    }
  }
}

void RenderVaultMetrics(vault::Vault& vault, MetricsText& out) {
  vault::Committer& committer = vault.committer();
  out.Family("leadvault_commit_group_entries", "histogram",
             "Audit entries per commit group written (one synced write each).");
  out.Histogram("leadvault_commit_group_entries", {}, committer.group_entries().Read());
  out.Family("leadvault_commit_write_seconds", "histogram",
             "Seconds each commit group's synced database write took (mostly its fsync).");
  out.Histogram("leadvault_commit_write_seconds", {}, committer.write_seconds().Read());
  out.Family("leadvault_committer_queue_depth", "gauge", "Commits waiting for the committer.");
  out.Sample("leadvault_committer_queue_depth", {}, static_cast<double>(committer.queue_depth()));

  vault::AuditLog& log = vault.audit_log();
  const uint64_t size = log.size();
  const std::optional<vault::SignedCheckpoint> latest = log.LatestCheckpoint();
  out.Family("leadvault_audit_tree_size", "gauge", "Entries in the audit log (its Merkle tree).");
  out.Sample("leadvault_audit_tree_size", {}, static_cast<double>(size));
  out.Family("leadvault_audit_unsigned_entries", "gauge",
             "Audit entries not yet covered by a signed checkpoint.");
  out.Sample("leadvault_audit_unsigned_entries", {},
             static_cast<double>(size - std::min(size, latest ? latest->checkpoint.size : 0)));
  out.Family("leadvault_audit_checkpoint_age_seconds", "gauge",
             "Seconds since this daemon last served a signed checkpoint (since its start before "
             "the first).");
  out.Sample("leadvault_audit_checkpoint_age_seconds", {},
             absl::ToDoubleSeconds(absl::Now() - committer.last_checkpoint_time()));

  out.Family("leadvault_emergency_grants_open", "gauge", "Break-glass grants open now.");
  out.Sample("leadvault_emergency_grants_open", {},
             static_cast<double>(vault.emergency().open_count()));
  out.Family("leadvault_emergency_grants_opened_total", "counter",
             "Break-glass grants opened since the start.");
  out.Sample("leadvault_emergency_grants_opened_total", {},
             static_cast<double>(vault.emergency().opened_count()));

  const vault::Database::StorageStats storage = vault.database().Stats();
  out.Family("leadvault_rocksdb_live_table_bytes", "gauge", "Bytes of live table files.");
  out.Sample("leadvault_rocksdb_live_table_bytes", {},
             static_cast<double>(storage.live_table_bytes));
  out.Family("leadvault_rocksdb_pending_compaction_bytes", "gauge",
             "Bytes RocksDB estimates compaction still has to rewrite.");
  out.Sample("leadvault_rocksdb_pending_compaction_bytes", {},
             static_cast<double>(storage.pending_compaction_bytes));
  out.Family("leadvault_rocksdb_memtable_bytes", "gauge", "Bytes in memtables.");
  out.Sample("leadvault_rocksdb_memtable_bytes", {}, static_cast<double>(storage.memtable_bytes));
  out.Family("leadvault_rocksdb_block_cache_hits_total", "counter", "Block cache hits.");
  out.Sample("leadvault_rocksdb_block_cache_hits_total", {},
             static_cast<double>(storage.block_cache_hits));
  out.Family("leadvault_rocksdb_block_cache_misses_total", "counter", "Block cache misses.");
  out.Sample("leadvault_rocksdb_block_cache_misses_total", {},
             static_cast<double>(storage.block_cache_misses));
  const uint64_t lookups = storage.block_cache_hits + storage.block_cache_misses;
  out.Family("leadvault_rocksdb_block_cache_hit_ratio", "gauge",
             "Block cache hits over look-ups since the start (0 before any).");
  out.Sample("leadvault_rocksdb_block_cache_hit_ratio", {},
             lookups == 0
                 ? 0.0
                 : static_cast<double>(storage.block_cache_hits) / static_cast<double>(lookups));
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
CallMetrics::NewInterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(this);
}

}  // namespace leadvault::api
