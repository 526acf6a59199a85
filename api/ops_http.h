// The operations HTTP listener: /metrics (Prometheus text), /healthz (live)
// and /readyz (ready), apart from the gRPC port, and, when enabled, the HTTP
// capture endpoint POST /v1/leads (api/http_capture.h). Loopback, or TLS with
// the gRPC port's certificate and key. Bounded: a fixed pool of workers with
// a bounded queue (a full queue stops accepting, so the kernel's backlog
// pushes back), one request per connection, read and write timeouts, and a
// request body of at most 1 KiB (kMaxCaptureBodyBytes with capture on).
#ifndef LEADVAULT_API_OPS_HTTP_H_
#define LEADVAULT_API_OPS_HTTP_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "api/http_capture.h"
#include "api/tls.h"

namespace httplib {
class Server;
}
typedef struct ssl_st SSL;

namespace leadvault::api {

struct OpsHttpHandlers {
  std::function<std::string()> metrics;     // the exposition text
  std::function<absl::Status()> readiness;  // OK: ready; else why not (no secret in it)
  // POST /v1/leads; none: the route does not exist (404).
  std::function<HttpCaptureReply(const HttpCaptureRequest&)> capture;
};

class OpsHttpServer {
 public:
  // Listens on `listen` (HOST:PORT; port 0 picks one): plaintext on loopback
  // only, TLS with `tls` (cert and key; a client CA is not asked of scrapers).
  // FAILED_PRECONDITION for a non-loopback address without TLS, UNAVAILABLE
  // naming the address when it cannot be bound (e.g. in use).
  static absl::StatusOr<std::unique_ptr<OpsHttpServer>> Start(const std::string& listen,
                                                              const ServerTlsFiles& tls,
                                                              OpsHttpHandlers handlers);
  ~OpsHttpServer();  // stops serving and joins its thread

  int port() const { return port_; }

  // Reads the TLS pair again (SIGHUP): new connections get it; on failure
  // the pair in use stays. OK and nothing done without TLS.
  absl::Status ReloadTls();

 private:
  // The certificate chain and key handshakes use, swapped whole by ReloadTls.
  struct Identity;
  static int SelectCertificate(SSL* ssl, void* self);
  OpsHttpServer() = default;
  ServerTlsFiles tls_;
  absl::Mutex identity_mu_;
  std::shared_ptr<const Identity> identity_ ABSL_GUARDED_BY(identity_mu_);
  std::unique_ptr<httplib::Server> server_;
  OpsHttpHandlers handlers_;
  std::thread thread_;
  std::atomic<bool> done_{false};  // listen_after_bind returned
  int port_ = 0;
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_OPS_HTTP_H_
