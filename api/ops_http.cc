#include "api/ops_http.h"

#include <deque>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/server.h"
#include "httplib.h"
#include "keys/secret_bytes.h"
#include "keys/status_macros.h"
#include "openssl/err.h"
#include "openssl/pem.h"
#include "openssl/ssl.h"

namespace leadvault::api {
namespace {

constexpr size_t kMaxRequestBodyBytes = 1024;
constexpr int kThreads = 4;
// With capture on: a form's submission waits for its group commit (ms) on a
// worker, so more of them; lead calls beyond admission's bound are refused
// (429) rather than queued.
constexpr int kCaptureThreads = 16;
constexpr size_t kMaxQueuedConnections = 64;

// httplib's task queue, bounded: enqueue() (on the accepting thread) waits
// while `max_queued` connections wait for a worker, so a flood backs up into
// the kernel's listen backlog instead of this process's memory.
class BoundedThreadPool : public httplib::TaskQueue {
 public:
  BoundedThreadPool(int threads, size_t max_queued) : max_queued_(max_queued) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~BoundedThreadPool() override = default;

  void enqueue(std::function<void()> fn) override {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](BoundedThreadPool* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
          return self->jobs_.size() < self->max_queued_ || self->shutdown_;
        },
        this));
    jobs_.push_back(std::move(fn));
  }

  void shutdown() override {
    {
      absl::MutexLock lock(&mu_);
      shutdown_ = true;
    }
    for (std::thread& t : threads_) t.join();
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> fn;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](BoundedThreadPool* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
              return !self->jobs_.empty() || self->shutdown_;
            },
            this));
        if (jobs_.empty()) return;  // shut down, nothing left
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      fn();
    }
  }

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// The peer as gRPC names it, for the audit entry and the throttle.
std::string PeerName(const httplib::Request& request) {
  const bool v6 = request.remote_addr.find(':') != std::string::npos;
  return v6 ? absl::StrCat("ipv6:[", request.remote_addr, "]:", request.remote_port)
            : absl::StrCat("ipv4:", request.remote_addr, ":", request.remote_port);
}

}  // namespace

struct OpsHttpServer::Identity {
  ~Identity() {
    X509_free(leaf);
    if (chain != nullptr) sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
  }
  X509* leaf = nullptr;
  STACK_OF(X509) * chain = nullptr;  // the certificates after the leaf
  EVP_PKEY* key = nullptr;
};

absl::Status OpsHttpServer::ReloadTls() {
  if (!tls_.enabled()) return absl::OkStatus();
  std::string cert_pem, key_pem;
  absl::Status read = ReadServerKeyPair(tls_, &cert_pem, &key_pem);
  auto identity = std::make_shared<Identity>();
  if (read.ok()) {
    BIO* certs = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
    BIO* key = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
    identity->chain = sk_X509_new_null();
    if (certs != nullptr) identity->leaf = PEM_read_bio_X509(certs, nullptr, nullptr, nullptr);
    while (certs != nullptr && identity->chain != nullptr) {
      X509* next = PEM_read_bio_X509(certs, nullptr, nullptr, nullptr);
      if (next == nullptr) break;
      sk_X509_push(identity->chain, next);
    }
    if (key != nullptr) identity->key = PEM_read_bio_PrivateKey(key, nullptr, nullptr, nullptr);
    BIO_free(certs);
    BIO_free(key);
    ERR_clear_error();
  }
  keys::WipeString(key_pem);
  if (!read.ok()) return read;
  if (identity->leaf == nullptr || identity->key == nullptr) {
    return absl::FailedPreconditionError("metrics.listen: the TLS pair cannot be loaded");
  }
  absl::MutexLock lock(&identity_mu_);
  identity_ = std::move(identity);
  return absl::OkStatus();
}

// OpenSSL's certificate callback, at each handshake: the identity in force.
int OpsHttpServer::SelectCertificate(SSL* ssl, void* self) {
  auto* ops = static_cast<OpsHttpServer*>(self);
  std::shared_ptr<const Identity> identity;
  {
    absl::MutexLock lock(&ops->identity_mu_);
    identity = ops->identity_;
  }
  if (identity == nullptr || SSL_use_certificate(ssl, identity->leaf) != 1 ||
      SSL_use_PrivateKey(ssl, identity->key) != 1 || SSL_set1_chain(ssl, identity->chain) != 1) {
    ERR_clear_error();
    return 0;  // the handshake fails
  }
  return 1;
}

absl::StatusOr<std::unique_ptr<OpsHttpServer>> OpsHttpServer::Start(const std::string& listen,
                                                                    const ServerTlsFiles& tls,
                                                                    OpsHttpHandlers handlers) {
  LV_RETURN_IF_ERROR(CheckListenAddress("metrics.listen", listen, tls.enabled()));
  std::string host;
  int port = 0;
  SplitHostPort(listen, &host, &port);  // checked just above
  auto ops = std::unique_ptr<OpsHttpServer>(new OpsHttpServer());
  ops->handlers_ = std::move(handlers);
  ops->tls_ = tls;
  if (tls.enabled()) {
    LV_RETURN_IF_ERROR(ops->ReloadTls());
    OpsHttpServer* self = ops.get();
    // Each handshake takes the identity in force (SelectCertificate), so a
    // reload needs no change to a context other threads are using.
    auto server = std::make_unique<httplib::SSLServer>([self](SSL_CTX& ctx) {
      SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
      SSL_CTX_set_cert_cb(&ctx, &OpsHttpServer::SelectCertificate, self);
      return true;
    });
    if (!server->is_valid()) {
      return absl::FailedPreconditionError("metrics.listen: the TLS context cannot be made");
    }
    ops->server_ = std::move(server);
  } else {
    ops->server_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& server = *ops->server_;
  const bool capture = static_cast<bool>(ops->handlers_.capture);
  server.new_task_queue = [capture] {
    return new BoundedThreadPool(capture ? kCaptureThreads : kThreads, kMaxQueuedConnections);
  };
  server.set_payload_max_length(capture ? kMaxCaptureBodyBytes : kMaxRequestBodyBytes);
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
  if (capture) {
    server.Post("/v1/leads", [self](const httplib::Request& request, httplib::Response& response) {
      const std::string peer = PeerName(request);
      const std::string content_type = request.get_header_value("Content-Type");
      std::string authorization = request.get_header_value("Authorization");
      const std::string request_id = request.get_header_value("X-Request-Id");
      const std::string principal = request.get_header_value("X-Leadvault-Principal");
      const std::string timestamp = request.get_header_value("X-Leadvault-Timestamp");
      const std::string signature = request.get_header_value("X-Leadvault-Signature");
      HttpCaptureRequest in;
      in.peer = peer;
      in.content_type = content_type;
      in.authorization = authorization;
      in.request_id = request_id;
      in.principal = principal;
      in.timestamp = timestamp;
      in.signature = signature;
      in.body = request.body;
      HttpCaptureReply reply = self->handlers_.capture(in);
      // The body holds personal data and the header a token: zeroed before
      // httplib frees them (the request is this handler's to the end).
      keys::WipeString(authorization);
      auto& mutable_request = const_cast<httplib::Request&>(request);
      for (auto& [name, value] : mutable_request.headers) {
        if (absl::EqualsIgnoreCase(name, "Authorization")) keys::WipeString(value);
      }
      keys::WipeString(mutable_request.body);
      response.status = reply.status;
      response.set_header("X-Request-Id", reply.request_id);
      response.set_header("Cache-Control", "no-store");
      if (reply.retry_after_seconds > 0) {
        response.set_header("Retry-After", std::to_string(reply.retry_after_seconds));
      }
      if (reply.status == 401)
        response.set_header("WWW-Authenticate", "Bearer realm=\"leadvault\"");
      response.set_content(reply.body, "application/json");
    });
  }
  const int bound =
      port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : 0);
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("metrics.listen: cannot bind ", listen, ": ", BindFailure(host, port)));
  }
  ops->port_ = bound;
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
