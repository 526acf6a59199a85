// leadvaultd's configuration: every option, its default, its TOML key, its
// flag and its rule, in one table. A TOML file (--config) sets options; flags
// override the file; ValidateConfig checks what single options cannot.
//
// Errors name the source (file and line, or flag), the key and the rule, never
// a value: a config may name key commands and files, not hold secrets, but the
// rule keeps error text free of anything an operator typed.
#ifndef LEADVAULT_API_DAEMON_CONFIG_H_
#define LEADVAULT_API_DAEMON_CONFIG_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace leadvault::api {

// sysexits.h's EX_CONFIG: leadvaultd's exit code for a configuration error
// (unknown key, bad value, unreadable file), as systemd and operators expect.
inline constexpr int kExitConfig = 78;
// sysexits.h's EX_USAGE: an unknown flag or a malformed command line.
inline constexpr int kExitUsage = 64;

struct DaemonConfig {
  std::string data_dir = "./leadvault-data";

  // [server]
  std::string listen = "127.0.0.1:7443";
  std::string ready_file;
  int64_t drain_seconds = 10;
  int64_t worker_threads = 128;
  int64_t max_queued_calls = 4096;
  int64_t max_message_bytes = 256 * 1024;
  int64_t max_streams_per_connection = 256;
  int64_t max_lead_calls = 256;
  int64_t max_lead_call_bytes = 8 << 20;

  // [tls]
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;

  // [keys]
  std::string key_file;
  std::string passphrase_env;
  std::string master_key_command;

  // [admin]
  std::string admin_token_file;

  // [audit]
  std::string audit_journal;
  int64_t checkpoint_every_entries = 1000;
  int64_t checkpoint_interval_seconds = 10;

  // [auth]
  int64_t auth_free_failures = 5;

  // [compliance]
  int64_t max_exports = 8;
  int64_t max_exports_per_principal = 2;
  int64_t export_write_timeout_seconds = 30;

  // [storage]
  int64_t min_free_mb = 256;
  bool verify_on_start = false;
  int64_t block_cache_mb = 128;
  int64_t write_buffer_mb = 8;

  // [retention]
  std::string retention_sweep_interval = "1h";

  // [funnel]
  std::string funnel_campaigns;  // comma-separated approved labels

  // [metrics]
  std::string metrics_listen = "127.0.0.1:7444";

  // [http_capture]
  bool http_capture = false;

  // [log]
  std::string log_format = "text";
  std::string log_file;
  bool log_calls = false;

  bool operator==(const DaemonConfig&) const = default;
};

// One option: where it lives in the file, its flag, and its rule.
struct ConfigOption {
  using Field =
      std::variant<std::string DaemonConfig::*, int64_t DaemonConfig::*, bool DaemonConfig::*>;
  absl::string_view key;   // TOML: "data_dir", or "section.name"
  absl::string_view flag;  // "--listen"
  absl::string_view help;
  Field field;
  int64_t min = 0;  // integers: the inclusive range
  int64_t max = 0;
};

// Every option, in the order of the example config.
const std::vector<ConfigOption>& ConfigOptions();

// Applies the TOML document `text` (from `source`, a path for messages) over
// `config`. INVALID_ARGUMENT for a syntax error (with its line), an unknown
// key, a value of the wrong type or outside its range, naming the key and the
// rule; `config` is unchanged then.
absl::Status ApplyConfigToml(absl::string_view text, absl::string_view source,
                             DaemonConfig* config);

// Reads the file at `path` (at most 1 MiB) and applies it: as above, and
// INVALID_ARGUMENT naming the path and the reason when it cannot be read.
absl::Status ApplyConfigFile(const std::string& path, DaemonConfig* config);

// Sets `option` from a flag's text, with the file's rules.
absl::Status ApplyConfigFlag(const ConfigOption& option, absl::string_view text,
                             DaemonConfig* config);

// What single options cannot check: durations, enumerations, pairs of options
// (a TLS certificate needs its key), and at most one master-key source.
absl::Status ValidateConfig(const DaemonConfig& config);

// funnel.campaigns as its labels (split at commas, trimmed).
std::vector<std::string> FunnelCampaigns(const DaemonConfig& config);

// The retention sweep interval of a valid config (zero: no scheduled sweeps).
absl::Duration SweepInterval(const DaemonConfig& config);

}  // namespace leadvault::api

#endif  // LEADVAULT_API_DAEMON_CONFIG_H_
