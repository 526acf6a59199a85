// leadvaultd's log: one line per event on stderr (or a file reopened at
// SIGHUP), as readable text or as one JSON object per line.
//
// A log line holds ids (request, principal, grant, audit sequence), method
// names, codes, durations, counts and paths, never a PII value, token, key or
// ciphertext: callers pass only those, and status messages the vault made
// (which name fields and rules, never values).
#ifndef LEADVAULT_API_LOG_H_
#define LEADVAULT_API_LOG_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace leadvault::api {

enum class LogLevel { kDebug, kInfo, kWarning, kError };
enum class LogFormat { kText, kJson };

// What a call's events carry besides the message; empty fields are left out.
struct LogFields {
  absl::string_view request_id;
  absl::string_view principal_id;
  absl::string_view method;
  absl::string_view code;  // the gRPC code's name, e.g. "PERMISSION_DENIED"
  std::optional<absl::Duration> duration;
};

// Sets the format and the destination ("" is stderr; a file is opened for
// appending, mode 0600, and reopened by ReopenLog). Until called: text on stderr.
// FAILED_PRECONDITION naming the file when it cannot be opened.
absl::Status ConfigureLog(LogFormat format, const std::string& file);

// Reopens the log file (after logrotate moved it; SIGHUP); nothing for
// stderr. On failure the old file stays in use and the error is returned.
absl::Status ReopenLog();

// Whether every call is logged (log.calls), not only refusals. Off until set.
void SetLogCalls(bool on);
bool LogCallsEnabled();

// Routes gRPC's own log lines through this log, dropping those below
// warnings (gRPC's info lines are for its developers).
void RouteGrpcLogs();

// Writes one event: `event` is a fixed snake_case name ("start",
// "auth_failed", "emergency_access_opened"), `message` a sentence for people.
// Thread-safe; each event is one write(2), so lines never interleave.
void LogEvent(LogLevel level, absl::string_view event, absl::string_view message,
              const LogFields& fields = {});

// The line LogEvent writes (for tests); no newline.
std::string FormatLogLine(LogFormat format, absl::Time time, LogLevel level,
                          absl::string_view event, absl::string_view message,
                          const LogFields& fields);

}  // namespace leadvault::api

#endif  // LEADVAULT_API_LOG_H_
