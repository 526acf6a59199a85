#include "tools/ctl_connection.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/tls.h"
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

}  // namespace

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

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const ConnectionFlags& flags) {
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
  return std::unique_ptr<Connection>(new Connection(std::move(channel), *std::move(token)));
}

void Connection::Prepare(grpc::ClientContext* context) const {
  std::string header = absl::StrCat("Bearer ", token_.view());
  context->AddMetadata("authorization", header);
  keys::WipeString(header);
  context->set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
}

int ReportRpcError(const grpc::Status& status) {
  std::fprintf(stderr, "leadvaultctl: %s: %s\n",
               absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())).c_str(),
               status.error_message().c_str());
  return 1;
}

int ReportError(const absl::Status& status, int exit_code) {
  std::fprintf(stderr, "leadvaultctl: %s: %s\n", absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  return exit_code;
}

}  // namespace leadvault::tools
