// leadvaultctl's connection to leadvaultd: channel credentials and the bearer token.
#ifndef LEADVAULT_TOOLS_CTL_CONNECTION_H_
#define LEADVAULT_TOOLS_CTL_CONNECTION_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
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

// OK if `server` has the form HOST:PORT or [IPV6]:PORT (what --server and
// LEADVAULT_SERVER take); INVALID_ARGUMENT naming the form expected otherwise,
// and saying so when it is a URL or a path.
absl::Status CheckServerAddress(absl::string_view server);

// An authenticated channel to the daemon. Thread-compatible.
class Connection {
 public:
  // Checks the address, loads the token and the TLS files and creates the
  // channel (lazily connected: an unreachable server or a failed handshake
  // shows up as UNAVAILABLE on the first call). INVALID_ARGUMENT for a
  // malformed --server, FAILED_PRECONDITION for a refused file.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const ConnectionFlags& flags);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // Prepares `context` for one call: `authorization: Bearer <token>` and a
  // kCallDeadline deadline.
  void Prepare(grpc::ClientContext* context) const;

  // What ReportRpcError names in its hints; never the token itself.
  const std::string& server() const { return server_; }
  bool tls() const { return tls_; }
  // "--token-file PATH" or "LEADVAULT_TOKEN".
  const std::string& token_source() const { return token_source_; }

 private:
  Connection(std::shared_ptr<grpc::Channel> channel, keys::SecretBytes token,
             const ConnectionFlags& flags);

  const std::shared_ptr<grpc::Channel> channel_;
  const keys::SecretBytes token_;
  const std::string server_;
  const bool tls_;
  const std::string token_source_;
};

// leadvaultctl's exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the call or the check failed
inline constexpr int kExitUsage = 2;   // usage, or no token

// The exit codes as every command's --help states them.
inline constexpr char kExitCodesHelp[] =
    "Exit codes: 0 ok; 1 the call failed (the gRPC code, its message and the fix when known go "
    "to stderr); 2 usage (a bad flag or --server, no token, a refused token or TLS file).";

// Prints `leadvaultctl: <CODE>: <message>` to stderr, followed by the
// ErrorInfo reason in brackets and "retry in N s" when the status details
// carry them, and on a second line the fix when the failure is a known one
// (no daemon at the address, TLS on one side only, a refused token). Returns
// exit code 1. Prints no token and nothing the server did not send but the
// address and the token's source.
int ReportRpcError(const grpc::Status& status, const Connection& connection);

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
