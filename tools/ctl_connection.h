// leadvaultctl's connection to leadvaultd: channel credentials and the bearer token.
#ifndef LEADVAULT_TOOLS_CTL_CONNECTION_H_
#define LEADVAULT_TOOLS_CTL_CONNECTION_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "keys/secret_bytes.h"

namespace leadvault::tools {

// How to reach the daemon. The credentials are built in one place, Connection::Open.
struct ConnectionFlags {
  std::string server = "127.0.0.1:7443";
  std::string token_file;  // empty: the LEADVAULT_TOKEN environment variable
  std::string ca_file;     // --ca: TLS, trusting these PEM CAs; empty: plaintext
  std::string cert_file;   // --cert: PEM client certificate (mutual TLS), with --key
  std::string key_file;    // --key: its PEM private key, mode 0600
};

inline constexpr absl::Duration kCallDeadline = absl::Seconds(10);

// Reads the bearer token: the first line of `flags.token_file` (which must be a
// regular file with no group or other permission bits), else LEADVAULT_TOKEN.
// The token never comes from argv. FAILED_PRECONDITION, naming the rule, when
// there is no token or the file is refused; the token is never in a message.
absl::StatusOr<keys::SecretBytes> LoadToken(const ConnectionFlags& flags);

// An authenticated channel to the daemon. Thread-compatible.
class Connection {
 public:
  // Loads the token and the TLS files and creates the channel (lazily
  // connected: an unreachable server or a failed handshake shows up as
  // UNAVAILABLE on the first call). FAILED_PRECONDITION for a refused file.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const ConnectionFlags& flags);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // Prepares `context` for one call: `authorization: Bearer <token>` and a
  // kCallDeadline deadline.
  void Prepare(grpc::ClientContext* context) const;

 private:
  Connection(std::shared_ptr<grpc::Channel> channel, keys::SecretBytes token)
      : channel_(std::move(channel)), token_(std::move(token)) {}

  const std::shared_ptr<grpc::Channel> channel_;
  const keys::SecretBytes token_;
};

// leadvaultctl's exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the call or the check failed
inline constexpr int kExitUsage = 2;   // usage, or no token

// Prints `leadvaultctl: <CODE>: <message>` to stderr and returns exit code 1.
int ReportRpcError(const grpc::Status& status);

// Prints `leadvaultctl: <CODE>: <message>` to stderr and returns `exit_code`.
int ReportError(const absl::Status& status, int exit_code = 1);

// Opens the connection (exit code 2 if the token is missing or refused) and
// returns what `command(connection)` returns.
template <typename Command>
int WithConnection(const ConnectionFlags& flags, Command command) {
  absl::StatusOr<std::unique_ptr<Connection>> connection = Connection::Open(flags);
  if (!connection.ok()) return ReportError(connection.status(), /*exit_code=*/2);
  return command(**connection);
}

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_CONNECTION_H_
