#include "tools/ctl_connection.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/tls.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/channel_arguments.h"

namespace leadvault::tools {
namespace {

constexpr size_t kMaxTokenFileSize = 4096;

// The first line of `text`, without surrounding whitespace.
absl::string_view FirstLineTrimmed(absl::string_view text) {
  size_t newline = text.find('\n');
  if (newline != absl::string_view::npos) text = text.substr(0, newline);
  return absl::StripAsciiWhitespace(text);
}

absl::StatusOr<keys::SecretBytes> ReadTokenFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat("token file ", path, " cannot be opened"));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("token file ", path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrFormat("token file %s is accessible by group or others (mode %04o); "
                        "run: chmod 600 %s",
                        path, st.st_mode & 07777, path));
  }
  keys::SecretBytes buffer(kMaxTokenFileSize);
  size_t used = 0;
  while (used < buffer.size()) {
    ssize_t n = ::read(fd, buffer.data() + used, buffer.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return absl::FailedPreconditionError(absl::StrCat("token file ", path, " cannot be read"));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  absl::string_view token = FirstLineTrimmed(buffer.view().substr(0, used));
  if (token.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("token file ", path, " is empty"));
  }
  return keys::SecretBytes::CopyFrom(token);
}

// What a failed call's google.rpc.Status details say a program can act on.
struct ActionableDetails {
  std::string reason;          // ErrorInfo.reason; empty without one
  int64_t retry_seconds = -1;  // RetryInfo.retry_delay rounded up; -1 without one
};

ActionableDetails ParseDetails(const std::string& serialized) {
  ActionableDetails out;
  google::rpc::Status rpc;
  if (serialized.empty() || !rpc.ParseFromString(serialized)) return out;
  for (const google::protobuf::Any& any : rpc.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::RetryInfo retry;
    if (any.Is<google::rpc::ErrorInfo>() && any.UnpackTo(&info)) {
      out.reason = info.reason();
    } else if (any.Is<google::rpc::RetryInfo>() && any.UnpackTo(&retry)) {
      const google::protobuf::Duration& delay = retry.retry_delay();
      out.retry_seconds = std::max<int64_t>(1, delay.seconds() + (delay.nanos() > 0 ? 1 : 0));
    }
  }
  return out;
}

// The fix for a failure whose cause the message shows (gRPC 1.51's texts, as
// the e2e tests see them); empty when there is no specific one.
std::string FixFor(const grpc::Status& status, const Connection& connection) {
  const std::string& message = status.error_message();
  const std::string& server = connection.server();
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    return absl::StrCat("the token from ", connection.token_source(),
                        " was refused: tokens expire (--ttl-days) and stop working when "
                        "rotated or their principal is disabled; put a current one in "
                        "--token-file FILE (mode 0600) or LEADVAULT_TOKEN");
  }
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return "";
  // TLS client, plaintext daemon: "Ssl handshake failed: ... wrong version number".
  if (connection.tls() && absl::StrContains(message, "wrong version number")) {
    return absl::StrCat(server,
                        " does not speak TLS (a plaintext leadvaultd?): drop --ca / "
                        "LEADVAULT_CA, or start leadvaultd with --tls-cert and --tls-key");
  }
  if (connection.tls() && absl::StrContains(absl::AsciiStrToLower(message), "handshake failed")) {
    return absl::StrCat("the TLS handshake with ", server,
                        " failed: is its certificate signed by a CA in --ca / LEADVAULT_CA, "
                        "and issued for that host?");
  }
  for (absl::string_view unreachable :
       {"Connection refused", "Failed to connect to remote host", "DNS resolution failed",
        "No route to host", "Network is unreachable"}) {
    if (absl::StrContains(message, unreachable)) {
      return absl::StrCat("no leadvaultd answering at ", server,
                          " (is it running? --server / LEADVAULT_SERVER)");
    }
  }
  // Plaintext client, TLS daemon: the daemon drops the connection ("Socket
  // closed"; a reset or a broken pipe on a busy machine).
  if (!connection.tls()) {
    for (absl::string_view dropped :
         {"Socket closed", "Connection reset", "Broken pipe", "End of TCP stream"}) {
      if (absl::StrContains(message, dropped)) {
        return absl::StrCat(server,
                            " closed a plaintext connection: if leadvaultd there speaks TLS, "
                            "pass --ca FILE / LEADVAULT_CA (the CA that signed its certificate)");
      }
    }
  }
  return "";
}

}  // namespace

absl::Status CheckServerAddress(absl::string_view server) {
  constexpr absl::string_view kForm = "--server: give HOST:PORT (e.g. 127.0.0.1:7443)";
  if (absl::StrContains(server, "://")) {
    return absl::InvalidArgumentError(absl::StrCat(kForm, ", not a URL"));
  }
  if (absl::StartsWith(server, "/") || absl::StartsWith(server, ".") ||
      absl::StartsWith(server, "~") || absl::StartsWith(server, "unix:")) {
    return absl::InvalidArgumentError(absl::StrCat(kForm, ", not a path"));
  }
  const size_t colon = server.rfind(':');
  absl::string_view host = server.substr(0, colon == absl::string_view::npos ? 0 : colon);
  uint32_t port = 0;
  const bool bracketed = absl::StartsWith(host, "[") && absl::EndsWith(host, "]");
  if (colon == absl::string_view::npos || host.empty() ||
      (!bracketed && absl::StrContains(host, ":")) ||
      !absl::SimpleAtoi(server.substr(colon + 1), &port) || port == 0 || port > 65535 ||
      absl::StrContains(server, "/")) {
    return absl::InvalidArgumentError(absl::StrCat(kForm, " or [IPV6]:PORT"));
  }
  return absl::OkStatus();
}

absl::StatusOr<keys::SecretBytes> LoadToken(const ConnectionFlags& flags) {
  if (!flags.token_file.empty()) return ReadTokenFile(flags.token_file);
  const char* env = std::getenv("LEADVAULT_TOKEN");
  absl::string_view token = env == nullptr ? absl::string_view() : FirstLineTrimmed(env);
  if (token.empty()) {
    return absl::FailedPreconditionError(
        "no token: pass --token-file PATH (mode 0600) or set LEADVAULT_TOKEN");
  }
  return keys::SecretBytes::CopyFrom(token);
}

Connection::Connection(std::shared_ptr<grpc::Channel> channel, keys::SecretBytes token,
                       const ConnectionFlags& flags)
    : channel_(std::move(channel)),
      token_(std::move(token)),
      server_(flags.server),
      tls_(!flags.ca_file.empty()),
      token_source_(flags.token_file.empty() ? std::string("LEADVAULT_TOKEN")
                                             : absl::StrCat("--token-file ", flags.token_file)) {}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const ConnectionFlags& flags) {
  if (absl::Status address = CheckServerAddress(flags.server); !address.ok()) return address;
  auto token = LoadToken(flags);
  if (!token.ok()) return token.status();
  auto credentials = api::NewChannelCredentials(
      flags.server,
      {.ca_file = flags.ca_file, .cert_file = flags.cert_file, .key_file = flags.key_file});
  if (!credentials.ok()) return credentials.status();
  // Replies can be larger than gRPC's default 4 MiB: a consent proof holds up to
  // 1,000 events, each with its audit entry and inclusion proof.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(flags.server, *credentials, args);
  return std::unique_ptr<Connection>(new Connection(std::move(channel), *std::move(token), flags));
}

void Connection::Prepare(grpc::ClientContext* context) const {
  std::string header = absl::StrCat("Bearer ", token_.view());
  context->AddMetadata("authorization", header);
  keys::WipeString(header);
  context->set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
}

int ReportRpcError(const grpc::Status& status, const Connection& connection) {
  const std::string code =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  std::string line = absl::StrCat("leadvaultctl: ", code, ": ", status.error_message());
  const ActionableDetails details = ParseDetails(status.error_details());
  // A reason that only repeats the code (the default one) adds nothing.
  if (!details.reason.empty() && details.reason != code) {
    absl::StrAppend(&line, " [", details.reason, "]");
  }
  if (details.retry_seconds >= 0) {
    absl::StrAppend(&line, "; retry in ", details.retry_seconds, " s");
  }
  std::fprintf(stderr, "%s\n", line.c_str());
  const std::string fix = FixFor(status, connection);
  if (!fix.empty()) std::fprintf(stderr, "leadvaultctl: %s\n", fix.c_str());
  return kExitFailed;
}

int ReportError(const absl::Status& status, int exit_code) {
  std::fprintf(stderr, "leadvaultctl: %s: %s\n", absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  return exit_code;
}

}  // namespace leadvault::tools
