#include "api/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/version.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "keys/status_macros.h"

namespace leadvault::api {

// Splits "host:port" or "[v6]:port".
bool SplitHostPort(absl::string_view address, std::string* host, int* port) {
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return false;
  absl::string_view h = address.substr(0, colon);
  if (absl::StartsWith(h, "[") && absl::EndsWith(h, "]")) h = h.substr(1, h.size() - 2);
  if (h.empty() || !absl::SimpleAtoi(address.substr(colon + 1), port) || *port < 0 ||
      *port > 65535) {
    return false;
  }
  *host = std::string(h);
  return true;
}

// Why `host`:`port` could not be bound, for the start-up error: tries a bind
// as gRPC does (SO_REUSEADDR, no SO_REUSEPORT) on each address the host names.
std::string BindFailure(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &addresses) != 0) {
    return "the host does not resolve";
  }
  std::string reason = "gRPC refused it";
  for (addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int failed = ::bind(fd, a->ai_addr, a->ai_addrlen) != 0 ? errno : 0;
    ::close(fd);
    if (failed == EADDRINUSE) {
      reason = "address in use (another process listens on it)";
      break;
    }
    if (failed != 0) reason = std::strerror(failed);
  }
  ::freeaddrinfo(addresses);
  return reason;
}

bool IsLoopbackHost(absl::string_view host) {
  if (host == "localhost") return true;
  // Only numeric addresses: a DNS name such as "127.0.0.1.example" can resolve anywhere.
  std::string h(host);
  in_addr v4;
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  return ::inet_pton(AF_INET6, h.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

namespace {

// The services this server serves, by full name (health and metrics name them).
std::vector<std::string> ServedServices() {
  return {v1::LeadVault::service_full_name(),
          v1::Admin::service_full_name(),
          v1::Compliance::service_full_name(),
          v1::EmergencyAccess::service_full_name(),
          v1::Consent::service_full_name(),
          v1::Retention::service_full_name(),
          grpc::health::v1::Health::service_full_name()};
}

}  // namespace

Server::Server(vault::Vault* vault, const ServerOptions& options)
    : vault_(vault),
      auth_throttle_(&vault->clock(), options.auth_throttle),
      admission_(Admission::Create(vault, options.admission)),
      pool_(options.worker_threads, options.max_queued_calls),
      exports_(&vault->clock(), options.exports),
      lead_service_(vault, &auth_throttle_, admission_.get(), &pool_),
      admin_service_(vault, &auth_throttle_, admission_.get(), &pool_, options.master_key_source),
      compliance_service_(vault, &auth_throttle_, admission_.get(), &pool_, &exports_),
      emergency_service_(vault, &auth_throttle_, admission_.get(), &pool_),
      consent_service_(vault, &auth_throttle_, admission_.get(), &pool_),
      retention_service_(vault, &auth_throttle_, admission_.get(), &pool_),
      analytics_service_(vault, &auth_throttle_, admission_.get(), &pool_),
      http_capture_(vault, &auth_throttle_, admission_),
      health_service_(
          {v1::LeadVault::service_full_name(), v1::Admin::service_full_name(),
           v1::Compliance::service_full_name(), v1::EmergencyAccess::service_full_name(),
           v1::Consent::service_full_name(), v1::Retention::service_full_name()},
          [vault, admission = admission_.get()] {
            if (admission->draining()) return ShuttingDownError();
            return vault->StorageHealth();
          }) {
  if (options.call_metrics) call_metrics_ = std::make_unique<CallMetrics>(ServedServices());
}

absl::Status Server::ReloadTls() {
  if (reloadable_tls_ == nullptr) {
    return absl::FailedPreconditionError("TLS reload: the gRPC port has no reloadable TLS");
  }
  return reloadable_tls_->Reload();
}

absl::Status Server::Readiness() const {
  if (admission_->draining()) return absl::UnavailableError("draining for a stop");
  LV_RETURN_IF_ERROR(vault_->StorageHealth());
  if (vault_->audit_log().VerifierKey().empty()) {
    return absl::UnavailableError("the audit log has no checkpoint signer");
  }
  return absl::OkStatus();
}

std::string Server::Metrics() const {
  MetricsText out;
  out.Family("leadvault_build_info", "gauge", "The running build: version and commit.");
  out.Sample("leadvault_build_info", {{"version", Version()}, {"commit", Commit()}}, 1);
  out.Family("leadvault_ready", "gauge", "1 while ready to serve (as /readyz), else 0.");
  out.Sample("leadvault_ready", {}, Readiness().ok() ? 1 : 0);
  if (call_metrics_ != nullptr) call_metrics_->Render(out);
  out.Family("leadvault_auth_failures_total", "counter",
             "Failed authentications (bad, expired or revoked tokens; wrong certificates).");
  out.Sample("leadvault_auth_failures_total", {}, static_cast<double>(auth_throttle_.failures()));
  out.Family("leadvault_auth_throttled_total", "counter",
             "Calls refused because their address or principal kept failing to authenticate.");
  out.Sample("leadvault_auth_throttled_total", {}, static_cast<double>(auth_throttle_.refused()));
  out.Family("leadvault_auth_throttle_tracked", "gauge",
             "Addresses and principals with recent failed authentications.");
  out.Sample("leadvault_auth_throttle_tracked", {},
             static_cast<double>(auth_throttle_.tracked_keys()));
  RenderVaultMetrics(*vault_, out);
  return out.text();
}

absl::Status CheckListenAddress(absl::string_view what, const std::string& listen, bool tls) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(listen, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": must be HOST:PORT"));
  }
  if (!tls && !IsLoopbackHost(host)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": refusing the non-loopback address ", host,
                     " without TLS (configure a TLS certificate and key, or listen on 127.0.0.1)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                                      vault::Vault* vault) {
  LV_RETURN_IF_ERROR(CheckListenAddress("listen", options.listen, options.tls.enabled()));
  std::string host;
  int port = 0;
  SplitHostPort(options.listen, &host, &port);  // checked just above
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  std::unique_ptr<ReloadableServerTls> reloadable;
  if (options.tls.enabled() && !options.tls_live_dir.empty()) {
    auto created = ReloadableServerTls::Create(options.tls, options.tls_live_dir);
    if (!created.ok()) return created.status();
    reloadable = *std::move(created);
    credentials = reloadable->credentials();
  } else if (options.tls.enabled()) {
    auto tls_credentials = NewServerTlsCredentials(options.tls);
    if (!tls_credentials.ok()) return tls_credentials.status();
    credentials = *std::move(tls_credentials);
  }
  // Our own health service (HealthService) answers instead of gRPC's.
  grpc::EnableDefaultHealthCheckService(false);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  if (options.worker_threads < 1 || options.worker_threads > 4096) {
    return absl::InvalidArgumentError("worker_threads: must be 1..4096");
  }
  // Exports take a worker per message they produce: their caps stay below the
  // pool, so streams alone never occupy every worker (a pool of one worker,
  // which only tests use, cannot keep that bound).
  if (options.exports.per_principal < 1 || options.exports.total < options.exports.per_principal ||
      (options.exports.total >= options.worker_threads && options.worker_threads > 1)) {
    return absl::InvalidArgumentError("exports: need 1 <= per_principal <= total < worker_threads");
  }
  if (options.exports.write_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("exports.write_timeout: must not be negative");
  }
  if (options.admission.max_calls < 1 || options.admission.max_refusal_entries < 1) {
    return absl::InvalidArgumentError(
        "admission: max_calls and max_refusal_entries must be at least 1");
  }
  auto server = std::unique_ptr<Server>(new Server(vault, options));
  server->reloadable_tls_ = std::move(reloadable);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // Calls in flight per connection: bounds what one client can queue.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_streams_per_connection);
  // gRPC sets SO_REUSEPORT by default, which would let a second process bind
  // the same port and receive a share of the calls (and their tokens).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Bounds the synchronous services' threads (reflection); the leadvault
  // services run on gRPC's callback threads and the worker pool.
  grpc::ResourceQuota quota("leadvaultd");
  quota.SetMaxThreads(options.max_sync_threads);
  builder.SetResourceQuota(quota);
  builder.RegisterService(&server->lead_service_);
  builder.RegisterService(&server->admin_service_);
  builder.RegisterService(&server->compliance_service_);
  builder.RegisterService(&server->emergency_service_);
  builder.RegisterService(&server->consent_service_);
  builder.RegisterService(&server->retention_service_);
  builder.RegisterService(&server->analytics_service_);
  builder.RegisterService(&server->health_service_);
  if (server->call_metrics_ != nullptr) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(server->call_metrics_->NewInterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("listen: cannot bind ", options.listen, ": ", BindFailure(host, port)));
  }
  server->host_ = host;
  return server;
}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

std::string Server::address() const {
  if (absl::StrContains(host_, ':')) return absl::StrCat("[", host_, "]:", port_);
  return absl::StrCat(host_, ":", port_);
}

void Server::BeginDrain() {
  admission_->BeginDrain();
  // Calls admitted before the line above and posted after this one refuse
  // themselves when a worker takes them (Dispatch).
  pool_.DropQueued();
  exports_.Drain();
  retention_service_.StopSweeps();
}

void Server::Shutdown(absl::Duration grace) {
  if (server_ == nullptr) return;
  BeginDrain();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  server_.reset();
}

}  // namespace leadvault::api
