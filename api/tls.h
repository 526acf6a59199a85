// TLS for the gRPC port and its clients: PEM files read once, checked, and
// turned into gRPC credentials.
//
// Both the server and the clients use TLS 1.2 at least and 1.3 at most: that is
// the fixed range of gRPC 1.51's SSL credentials, whatever the host's OpenSSL
// config says (its TSI layer sets it on every OpenSSL context; that release's
// C++ API has no knob to change it, and tests/e2e/tls_e2e_test.cc checks that
// TLS 1.0 and 1.1 are refused).
#ifndef LEADVAULT_API_TLS_H_
#define LEADVAULT_API_TLS_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"

namespace leadvault::api {

// Server side. All three empty: no TLS.
struct ServerTlsFiles {
  std::string cert_file;       // PEM certificate chain, leaf first
  std::string key_file;        // PEM private key of the leaf; no group/other permission bits
  std::string client_ca_file;  // optional: PEM CAs; set, every client must present a
                               // certificate they signed (mutual TLS)
  // Any file given: TLS is asked for (and then cert_file and key_file are required).
  bool enabled() const {
    return !cert_file.empty() || !key_file.empty() || !client_ca_file.empty();
  }
};

// Reads and checks the files (a readable regular file, a parseable PEM, a key
// that matches the certificate, a key file no group or other may read) and
// returns the server credentials. FAILED_PRECONDITION naming the file and the
// rule it breaks; never a byte of its contents.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> NewServerTlsCredentials(
    const ServerTlsFiles& files);

// Reads and checks a server's certificate chain and key as
// NewServerTlsCredentials does (the key must match, its file 0600): the PEM
// texts, for a server other than gRPC's (the metrics listener).
absl::Status ReadServerKeyPair(const ServerTlsFiles& files, std::string* cert_pem,
                               std::string* key_pem);

// Server TLS that SIGHUP can replace. The checked files are copied into a
// new generation directory under `live_dir` (the daemon's, mode 0700) behind
// the symlink `live_dir/current`, swapped atomically; gRPC's file watcher
// reads the pair from there (every second) for new handshakes. Connections
// already open keep the certificate they began with. Thread-safe.
class ReloadableServerTls {
 public:
  // The files' checks as NewServerTlsCredentials; FAILED_PRECONDITION naming
  // `live_dir` when it cannot be made or written.
  static absl::StatusOr<std::unique_ptr<ReloadableServerTls>> Create(const ServerTlsFiles& files,
                                                                     std::string live_dir);
  std::shared_ptr<grpc::ServerCredentials> credentials() const { return credentials_; }

  // Reads and checks the same paths again; on success new handshakes use the
  // new pair (and client CA) within about a second. On failure the error names
  // the file and the rule, and the pair in use stays.
  absl::Status Reload();

 private:
  ReloadableServerTls(ServerTlsFiles files, std::string live_dir)
      : files_(std::move(files)), live_dir_(std::move(live_dir)) {}
  absl::Status Install();

  const ServerTlsFiles files_;
  const std::string live_dir_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider_;
  absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

// Client side. Empty ca_file: plaintext (loopback only); cert_file and key_file
// (both or neither) present a client certificate.
struct ClientTlsFiles {
  std::string ca_file;    // PEM CAs that sign the server's certificate
  std::string cert_file;  // PEM client certificate chain
  std::string key_file;   // PEM client private key; no group/other permission bits
};

// Channel credentials to reach `server` (HOST:PORT) with `files`: TLS with the
// same checks as the server side when ca_file is given; plaintext only to a
// numeric loopback address (a bearer token must never cross a network in
// clear): FAILED_PRECONDITION otherwise, or naming a bad file (never its contents).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> NewChannelCredentials(
    const std::string& server, const ClientTlsFiles& files);

// The fingerprint a principal is bound to: SHA-256 of the DER of the first
// certificate in `pem`, as 64 lower-case hex. INVALID_ARGUMENT if `pem` holds
// no parseable certificate. Thread-safe.
absl::StatusOr<std::string> CertificateSha256Hex(absl::string_view pem);

}  // namespace leadvault::api

#endif  // LEADVAULT_API_TLS_H_
