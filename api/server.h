// The gRPC server: the leadvault services, health checking, reflection.
#ifndef LEADVAULT_API_SERVER_H_
#define LEADVAULT_API_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/admin_service.h"
#include "api/admission.h"
#include "api/analytics_service.h"
#include "api/auth_throttle.h"
#include "api/compliance_service.h"
#include "api/consent_service.h"
#include "api/emergency_service.h"
#include "api/export_limiter.h"
#include "api/health_service.h"
#include "api/http_capture.h"
#include "api/lead_service.h"
#include "api/metrics.h"
#include "api/retention_service.h"
#include "api/tls.h"
#include "grpcpp/server.h"
#include "vault/vault.h"

namespace leadvault::api {

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  // port 0 picks a free port
  int max_receive_message_bytes = 256 * 1024;
  // Threads that run vault calls; at least the number of concurrent callers
  // expected, so they can all share one group commit.
  int worker_threads = 128;
  // Calls that may wait for a worker before new ones get RESOURCE_EXHAUSTED.
  size_t max_queued_calls = 4096;
  // Bounds on lead calls in flight; beyond them RESOURCE_EXHAUSTED at once.
  AdmissionOptions admission;
  // Calls one connection may have in flight (HTTP/2 concurrent streams).
  int max_streams_per_connection = 256;
  // Threads for gRPC's synchronous services (only reflection: every leadvault
  // service is on the callback API); beyond them gRPC refuses a call with
  // RESOURCE_EXHAUSTED.
  int max_sync_threads = 16;
  // Concurrent ExportAudit streams (per principal, in all; both below
  // worker_threads) and the write timeout that cancels a stream whose client
  // stopped reading (api/export_limiter.h).
  ExportLimits exports;
  // Failed authentications, per address and per claimed principal, before slowing down.
  AuthThrottleOptions auth_throttle;
  // TLS on the port (see api/tls.h): the files are read once, at Start. Without
  // them the port is plaintext and must be loopback.
  ServerTlsFiles tls;
  // Set (with tls): the certificate can be replaced while serving (ReloadTls),
  // through copies in this directory (see ReloadableServerTls).
  std::string tls_live_dir;
  // The daemon's master-key source, read again by RotateMasterKey (none:
  // rotation is refused with FAILED_PRECONDITION).
  MasterKeySource master_key_source;
  // Count every call by method and code, with its latency (Metrics()).
  bool call_metrics = true;
};

// A running server. Thread-safe.
class Server {
 public:
  // Starts serving `vault` (which must outlive the server). Refuses with
  // FAILED_PRECONDITION a non-loopback address when TLS is not configured, and
  // TLS files that are missing, unreadable, invalid or (the key) readable by
  // group or others; and with UNAVAILABLE an address it cannot bind, saying
  // why ("address in use" when another socket listens there: the port is never
  // shared, SO_REUSEPORT is off).
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                                       vault::Vault* vault);
  ~Server();

  // The bound port (the real one when options.listen asked for port 0).
  int port() const { return port_; }
  std::string address() const;

  // Begins the drain (Shutdown does it first): health answers NOT_SERVING,
  // new calls get UNAVAILABLE "server is shutting down", and so do calls
  // queued on the worker pool that have not started; running calls go on;
  // audit exports are cancelled at once (a client that stopped reading must
  // not hold the stop for the whole grace), and a manual retention sweep
  // ends after its current batch.
  // The server still accepts connections. Irreversible.
  void BeginDrain();

  // Drains (BeginDrain), stops accepting calls, lets running calls finish
  // until `grace` has passed (then cancels them), and returns when the server
  // is stopped.
  void Shutdown(absl::Duration grace);

  // The failed-authentication throttle of every call of this server (on the
  // vault's clock): a peer that keeps failing is refused for a while.
  AuthThrottle& auth_throttle() { return auth_throttle_; }
  // The audit export streams' caps and write deadlines.
  ExportLimiter& exports() { return exports_; }

  // Admission control of this server's calls.
  const Admission& admission() const { return *admission_; }

  // Reads the TLS certificate, key and client CA again (SIGHUP): new
  // connections get them within about a second; open ones keep theirs. On
  // failure the error names the file and rule, and the old pair stays.
  // FAILED_PRECONDITION when the server was not started with tls_live_dir.
  absl::Status ReloadTls();

  // Serves one request of the HTTP capture endpoint (api/http_capture.h)
  // with this server's throttle and admission: overload and drain apply to
  // it as to a gRPC CreateLead. Blocks until it may be answered.
  HttpCaptureReply CaptureHttp(const HttpCaptureRequest& request) const {
    return http_capture_.Handle(request);
  }

  // The Prometheus exposition of this server and its vault (api/metrics.h).
  std::string Metrics() const;
  // OK while ready to serve: not draining, the database accepting writes, and
  // the audit log able to sign checkpoints; else why not (no secret in it).
  absl::Status Readiness() const;

 private:
  Server(vault::Vault* vault, const ServerOptions& options);
  vault::Vault* const vault_;
  std::unique_ptr<CallMetrics> call_metrics_;            // null with options.call_metrics off
  std::unique_ptr<ReloadableServerTls> reloadable_tls_;  // outlives server_
  AuthThrottle auth_throttle_;  // outlives the services and server_ (declared before them)
  // Outlives the services and server_ (declared before them); shared with the
  // audit callbacks of refused calls.
  const std::shared_ptr<Admission> admission_;
  WorkerPool pool_;        // outlives the services and server_ (declared before them)
  ExportLimiter exports_;  // outlives the services and server_ (declared before them)
  LeadVaultService lead_service_;
  AdminService admin_service_;
  ComplianceService compliance_service_;
  EmergencyAccessService emergency_service_;
  ConsentService consent_service_;
  RetentionService retention_service_;
  AnalyticsService analytics_service_;
  HttpCapture http_capture_;
  HealthService health_service_;
  std::unique_ptr<grpc::Server> server_;
  std::string host_;
  int port_ = 0;
};

// Checks a listen address of option `what` before anything binds it:
// INVALID_ARGUMENT unless HOST:PORT; FAILED_PRECONDITION for a non-loopback
// host without TLS (a bearer token must never cross a network in clear).
absl::Status CheckListenAddress(absl::string_view what, const std::string& listen, bool tls);

// Splits "host:port" or "[v6]:port" (port 0..65535); false if malformed.
bool SplitHostPort(absl::string_view address, std::string* host, int* port);

// Why `host`:`port` could not be bound, for a start-up error ("address in
// use", ...): tries a bind of its own.
std::string BindFailure(const std::string& host, int port);

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(absl::string_view host);

}  // namespace leadvault::api

#endif  // LEADVAULT_API_SERVER_H_
