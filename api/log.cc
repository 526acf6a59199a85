#include "api/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpc/support/log.h"

namespace leadvault::api {
namespace {

struct LogState {
  absl::Mutex mu;
  LogFormat format ABSL_GUARDED_BY(mu) = LogFormat::kText;
  std::string file ABSL_GUARDED_BY(mu);  // "" for stderr
  int fd ABSL_GUARDED_BY(mu) = STDERR_FILENO;
};

LogState& State() {
  static auto* state = new LogState();  // never destroyed: threads log until exit
  return *state;
}

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// A JSON string's contents. Bytes outside printable ASCII are escaped as
// \u00XX, so every line is valid JSON (and ASCII) whatever a message holds.
void AppendJsonString(std::string* out, absl::string_view text) {
  out->push_back('"');
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      absl::StrAppend(out, "\\u00", absl::string_view(&kHex[c >> 4], 1),
                      absl::string_view(&kHex[c & 0xf], 1));
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

void AppendJsonField(std::string* out, absl::string_view name, absl::string_view value) {
  absl::StrAppend(out, ",\"", name, "\":");
  AppendJsonString(out, value);
}

int OpenLogFile(const std::string& file) {
  return ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
}

void WriteAll(int fd, absl::string_view line) {
  while (!line.empty()) {
    ssize_t n = ::write(fd, line.data(), line.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere left to say it
    line.remove_prefix(static_cast<size_t>(n));
  }
}

void GrpcLog(gpr_log_func_args* args) {
  if (args->severity == GPR_LOG_SEVERITY_DEBUG || args->severity == GPR_LOG_SEVERITY_INFO) return;
  LogEvent(args->severity == GPR_LOG_SEVERITY_ERROR ? LogLevel::kError : LogLevel::kWarning, "grpc",
           args->message != nullptr ? args->message : "");
}

std::atomic<bool> log_calls{false};

}  // namespace

void SetLogCalls(bool on) { log_calls.store(on, std::memory_order_relaxed); }

bool LogCallsEnabled() { return log_calls.load(std::memory_order_relaxed); }

absl::Status ConfigureLog(LogFormat format, const std::string& file) {
  int fd = STDERR_FILENO;
  if (!file.empty()) {
    fd = OpenLogFile(file);
    if (fd < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("log.file ", file, ": cannot be opened: ", std::strerror(errno)));
    }
  }
  LogState& state = State();
  absl::MutexLock lock(&state.mu);
  if (state.fd != STDERR_FILENO) ::close(state.fd);
  state.format = format;
  state.file = file;
  state.fd = fd;
  return absl::OkStatus();
}

absl::Status ReopenLog() {
  LogState& state = State();
  absl::MutexLock lock(&state.mu);
  if (state.file.empty()) return absl::OkStatus();
  int fd = OpenLogFile(state.file);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("log.file ", state.file, ": cannot be reopened: ", std::strerror(errno)));
  }
  ::close(state.fd);
  state.fd = fd;
  return absl::OkStatus();
}

void RouteGrpcLogs() {
  gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);  // below it gRPC does not even call us
  gpr_set_log_function(&GrpcLog);
}

std::string FormatLogLine(LogFormat format, absl::Time time, LogLevel level,
                          absl::string_view event, absl::string_view message,
                          const LogFields& fields) {
  std::string line;
  if (format == LogFormat::kText) {
    // The established text form ("leadvaultd: ..."), then the fields.
    absl::StrAppend(&line, "leadvaultd: ", message);
    std::string extra;
    auto add = [&extra](absl::string_view name, absl::string_view value) {
      if (!value.empty()) absl::StrAppend(&extra, extra.empty() ? "" : " ", name, "=", value);
    };
    add("request", fields.request_id);
    add("principal", fields.principal_id);
    add("method", fields.method);
    add("code", fields.code);
    if (fields.duration.has_value()) {
      add("ms", absl::StrCat(absl::ToDoubleMilliseconds(*fields.duration)));
    }
    if (!extra.empty()) absl::StrAppend(&line, " [", extra, "]");
    for (char& c : line) {
      if (c == '\n' || c == '\r') c = ' ';  // one event, one line
    }
    return line;
  }
  line = "{\"time\":";
  AppendJsonString(&line, absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone()));
  AppendJsonField(&line, "level", LevelName(level));
  AppendJsonField(&line, "event", event);
  AppendJsonField(&line, "msg", message);
  if (!fields.request_id.empty()) AppendJsonField(&line, "request_id", fields.request_id);
  if (!fields.principal_id.empty()) AppendJsonField(&line, "principal_id", fields.principal_id);
  if (!fields.method.empty()) AppendJsonField(&line, "method", fields.method);
  if (!fields.code.empty()) AppendJsonField(&line, "code", fields.code);
  if (fields.duration.has_value()) {
    absl::StrAppend(&line, ",\"duration_ms\":", absl::ToDoubleMilliseconds(*fields.duration));
  }
  line.push_back('}');
  return line;
}

void LogEvent(LogLevel level, absl::string_view event, absl::string_view message,
              const LogFields& fields) {
  LogState& state = State();
  absl::MutexLock lock(&state.mu);
  std::string line = FormatLogLine(state.format, absl::Now(), level, event, message, fields);
  line.push_back('\n');
  WriteAll(state.fd, line);
}

}  // namespace leadvault::api
