#include "api/ops_http.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/server.h"
#include "httplib.h"
#include "keys/status_macros.h"

namespace leadvault::api {
namespace {

constexpr size_t kMaxRequestBodyBytes = 1024;
constexpr int kThreads = 4;

}  // namespace

absl::StatusOr<std::unique_ptr<OpsHttpServer>> OpsHttpServer::Start(const std::string& listen,
                                                                    const ServerTlsFiles& tls,
                                                                    OpsHttpHandlers handlers) {
  LV_RETURN_IF_ERROR(CheckListenAddress("metrics.listen", listen, tls.enabled()));
  const size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError("metrics.listen: must be HOST:PORT");
  }
  auto ops = std::unique_ptr<OpsHttpServer>(new OpsHttpServer());
  ops->handlers_ = std::move(handlers);
  if (tls.enabled()) {
    // The files were checked (NewServerTlsCredentials) before this runs.
    auto server = std::make_unique<httplib::SSLServer>(tls.cert_file.c_str(), tls.key_file.c_str());
    if (!server->is_valid()) {
      return absl::FailedPreconditionError(
          absl::StrCat("metrics.listen: cannot use the TLS certificate ", tls.cert_file,
                       " and key ", tls.key_file));
    }
    SSL_CTX_set_min_proto_version(server->ssl_context(), TLS1_2_VERSION);
    ops->server_ = std::move(server);
  } else {
    ops->server_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& server = *ops->server_;
  server.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  server.set_payload_max_length(kMaxRequestBodyBytes);
  server.set_read_timeout(5, 0);
  server.set_write_timeout(5, 0);
  // One request per connection: an idle keep-alive connection would hold a
  // worker, and the daemon's stop, until its timeout (scrapes are seconds apart).
  server.set_keep_alive_max_count(1);
  OpsHttpServer* self = ops.get();
  server.Get("/metrics", [self](const httplib::Request&, httplib::Response& response) {
    response.set_content(self->handlers_.metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", "text/plain");
  });
  server.Get("/readyz", [self](const httplib::Request&, httplib::Response& response) {
    absl::Status ready = self->handlers_.readiness();
    response.status = ready.ok() ? 200 : 503;
    response.set_content(
        ready.ok() ? std::string("ready\n") : absl::StrCat("not ready: ", ready.message(), "\n"),
        "text/plain");
  });
  if (port == 0) {
    port = server.bind_to_any_port(host);
    if (port < 0) port = 0;
  } else if (!server.bind_to_port(host, port)) {
    port = 0;
  }
  if (port == 0) {
    return absl::UnavailableError(
        absl::StrCat("metrics.listen: cannot bind ", listen, " (address in use, or not local)"));
  }
  ops->port_ = port;
  ops->thread_ = std::thread([self] {
    self->server_->listen_after_bind();
    self->done_.store(true);
  });
  return ops;
}

OpsHttpServer::~OpsHttpServer() {
  if (!thread_.joinable()) return;
  // stop() only acts on a running server: wait until the thread has begun
  // listening (or given up), so a stop right after Start cannot be missed.
  while (!server_->is_running() && !done_.load()) std::this_thread::yield();
  server_->stop();
  thread_.join();
}

}  // namespace leadvault::api
