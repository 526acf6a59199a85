#include "api/daemon_config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "toml++/toml.h"
#include "vault/funnel_report.h"

namespace leadvault::api {
namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;

using C = DaemonConfig;

std::vector<ConfigOption> MakeOptions() {
  return {
      {"data_dir", "--data-dir", "data directory (created if absent)", &C::data_dir},

      {"server.listen", "--listen", "HOST:PORT of the gRPC port (loopback only without TLS)",
       &C::listen},
      {"server.ready_file", "--ready-file", "write HOST:PORT here once serving", &C::ready_file},
      {"server.drain_seconds", "--drain-seconds",
       "at a stop, seconds running calls may take to finish", &C::drain_seconds, 0, 3600},
      {"server.worker_threads", "--worker-threads",
       "threads that run calls; at least the concurrent callers expected, so their writes share "
       "one group commit",
       &C::worker_threads, 2, 4096},
      {"server.max_queued_calls", "--max-queued-calls",
       "calls that may wait for a worker before new ones get RESOURCE_EXHAUSTED",
       &C::max_queued_calls, 1, 1000000},
      {"server.max_message_bytes", "--max-message-bytes", "largest request message accepted",
       &C::max_message_bytes, 4096, 64 << 20},
      {"server.max_streams_per_connection", "--max-streams-per-connection",
       "calls one connection may have in flight", &C::max_streams_per_connection, 1, 65536},
      {"server.max_lead_calls", "--max-lead-calls",
       "lead and consent calls admitted at once; beyond it RESOURCE_EXHAUSTED at once",
       &C::max_lead_calls, 1, 1000000},
      {"server.max_lead_call_bytes", "--max-lead-call-bytes",
       "request bytes of the lead and consent calls admitted at once", &C::max_lead_call_bytes,
       4096, int64_t{1} << 34},

      {"tls.cert", "--tls-cert",
       "serve TLS (1.2 or 1.3) with this PEM certificate chain, leaf first; needs tls.key; "
       "required off loopback; re-read at SIGHUP",
       &C::tls_cert},
      {"tls.key", "--tls-key",
       "PEM private key of tls.cert, unencrypted, mode 0600 (refused if group or others may read "
       "it); re-read at SIGHUP",
       &C::tls_key},
      {"tls.client_ca", "--tls-client-ca",
       "mutual TLS: every client must present a certificate signed by a CA in this PEM file",
       &C::tls_client_ca},

      {"keys.key_file", "--key-file",
       "master key file (default DATA_DIR/master.key): 32 raw bytes, or up to 8 lines of 64 hex "
       "characters (several keys during a rotation)",
       &C::key_file},
      {"keys.passphrase_env", "--passphrase-env",
       "derive the master key with Argon2id from this environment variable (one passphrase per "
       "line: several during a rotation)",
       &C::passphrase_env},
      {"keys.master_key_command", "--master-key-command",
       "command whose stdout is the master key (as keys.key_file)", &C::master_key_command},

      {"admin.token_file", "--admin-token-file",
       "write a first or recovery admin token to this 0600 file (through PATH.tmp, which must "
       "not exist) instead of printing it",
       &C::admin_token_file},

      {"audit.journal", "--audit-journal",
       "the audit journal, a copy of the audit log outside the database that a restore replays; "
       "keep it on another disk (default DATA_DIR/audit-journal)",
       &C::audit_journal},
      {"audit.checkpoint_every_entries", "--checkpoint-every-entries",
       "sign an audit checkpoint once this many entries are unsigned", &C::checkpoint_every_entries,
       1, 10000000},
      {"audit.checkpoint_interval_seconds", "--checkpoint-interval-seconds",
       "... or once this many seconds passed with entries unsigned",
       &C::checkpoint_interval_seconds, 1, 86400},

      {"auth.free_failures", "--auth-free-failures",
       "failed authentications from one address, or against one principal (each within 60 s of "
       "the last), before its calls are refused for a back-off (1 s doubling to 60 s)",
       &C::auth_free_failures, 1, 1000000},

      {"compliance.max_exports", "--max-exports", "audit export streams open at once, in all",
       &C::max_exports, 1, 64},
      {"compliance.max_exports_per_principal", "--max-exports-per-principal",
       "audit export streams one principal may have open", &C::max_exports_per_principal, 1, 64},
      {"compliance.export_write_timeout_seconds", "--export-write-timeout-seconds",
       "an export whose client has not taken a message for this long is cancelled",
       &C::export_write_timeout_seconds, 1, 3600},

      {"storage.min_free_mb", "--min-free-mb",
       "free space (MiB) kept on the data dir's filesystem: changes are refused below it, "
       "audit-only entries below half of it; 0 disables the check",
       &C::min_free_mb, 0, int64_t{1} << 30},
      {"storage.verify_on_start", "--verify-on-start",
       "check every table file's block checksums before opening the database for writing",
       &C::verify_on_start},
      {"storage.block_cache_mb", "--block-cache-mb",
       "RocksDB block cache (MiB); memtables are charged to it too", &C::block_cache_mb, 8,
       1 << 20},
      {"storage.write_buffer_mb", "--write-buffer-mb",
       "memtable size per column family (MiB); all together at most twice this",
       &C::write_buffer_mb, 1, 4096},

      {"retention.sweep_interval", "--retention-sweep-interval",
       "sweep leads whose retention ended at start and then this often (1m to 7d, e.g. 30m, 1h, "
       "24h); 0 turns scheduled sweeps off",
       &C::retention_sweep_interval},

      {"funnel.campaigns", "--funnel-campaigns",
       "the campaign labels funnel reports may name, comma-separated (letters, digits, space, "
       "_ - .); every other campaign is reported as (other)",
       &C::funnel_campaigns},

      {"metrics.listen", "--metrics-listen",
       "HOST:PORT of the HTTP listener for /metrics, /healthz and /readyz (loopback only "
       "without TLS; with TLS it uses tls.cert and tls.key); empty turns it off",
       &C::metrics_listen},
      {"http_capture.enabled", "--http-capture",
       "serve POST /v1/leads (JSON CreateLead for web forms and webhooks: a capture token or a "
       "signed request) on the metrics.listen listener",
       &C::http_capture},

      {"log.format", "--log-format",
       "text (one readable line per event) or json (one object per "
       "line)",
       &C::log_format},
      {"log.file", "--log-file",
       "append the log to this file (reopened at SIGHUP) instead of "
       "stderr",
       &C::log_file},
      {"log.calls", "--log-calls",
       "log every call (method, code, duration, principal and request ids), not only refusals",
       &C::log_calls},
  };
}

absl::Status KeyError(absl::string_view source, int64_t line, absl::string_view key,
                      absl::string_view rule) {
  std::string where(source);
  if (line > 0) absl::StrAppend(&where, ":", line);
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", key, ": ", rule));
}

std::string IntRule(const ConfigOption& option) {
  return absl::StrCat("must be an integer from ", option.min, " to ", option.max);
}

const ConfigOption* FindOption(absl::string_view key) {
  for (const ConfigOption& option : ConfigOptions()) {
    if (option.key == key) return &option;
  }
  return nullptr;
}

// Sets one option from a TOML node, or says which rule the node breaks.
absl::Status SetFromNode(const ConfigOption& option, const toml::node& node,
                         absl::string_view source, DaemonConfig* config) {
  const int64_t line = node.source().begin.line;
  if (auto* field = std::get_if<std::string DaemonConfig::*>(&option.field)) {
    std::optional<std::string> value = node.value_exact<std::string>();
    if (!value.has_value()) return KeyError(source, line, option.key, "must be a string");
    config->** field = *std::move(value);
  } else if (auto* field = std::get_if<int64_t DaemonConfig::*>(&option.field)) {
    std::optional<int64_t> value = node.value_exact<int64_t>();
    if (!value.has_value() || *value < option.min || *value > option.max) {
      return KeyError(source, line, option.key, IntRule(option));
    }
    config->** field = *value;
  } else {
    std::optional<bool> value = node.value_exact<bool>();
    if (!value.has_value()) return KeyError(source, line, option.key, "must be true or false");
    config->*std::get<bool DaemonConfig::*>(option.field) = *value;
  }
  return absl::OkStatus();
}

absl::Status ApplyTable(const toml::table& table, absl::string_view prefix,
                        absl::string_view source, DaemonConfig* config) {
  for (const auto& [name, node] : table) {
    std::string key =
        prefix.empty()
            ? std::string(name.str().data(), name.str().size())
            : absl::StrCat(prefix, ".", absl::string_view(name.str().data(), name.str().size()));
    if (node.is_table() && prefix.empty()) {
      if (FindOption(key) != nullptr) {
        return KeyError(source, node.source().begin.line, key, "is a value, not a table");
      }
      absl::Status s = ApplyTable(*node.as_table(), key, source, config);
      if (!s.ok()) return s;
      continue;
    }
    const ConfigOption* option = FindOption(key);
    if (option == nullptr) {
      return KeyError(source, node.source().begin.line, key,
                      "unknown key (leadvaultd --help lists every option; the example config "
                      "names each with its default)");
    }
    absl::Status s = SetFromNode(*option, node, source, config);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<ConfigOption>& ConfigOptions() {
  static const auto* options = new std::vector<ConfigOption>(MakeOptions());
  return *options;
}

absl::Status ApplyConfigToml(absl::string_view text, absl::string_view source,
                             DaemonConfig* config) {
  toml::table table;
  try {
    table = toml::parse(std::string_view(text.data(), text.size()),
                        std::string_view(source.data(), source.size()));
  } catch (const toml::parse_error& e) {
    // toml++'s description names the rule broken (it may quote a few
    // characters of the file: a config holds no secrets).
    return absl::InvalidArgumentError(absl::StrCat(
        source, ":", e.source().begin.line, ":", e.source().begin.column,
        ": not valid TOML: ", absl::string_view(e.description().data(), e.description().size())));
  }
  DaemonConfig updated = *config;
  absl::Status s = ApplyTable(table, "", source, &updated);
  if (!s.ok()) return s;
  *config = std::move(updated);
  return absl::OkStatus();
}

absl::Status ApplyConfigFile(const std::string& path, DaemonConfig* config) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("config ", path, ": cannot be read: ", std::strerror(errno)));
  }
  std::string text;
  text.resize(kMaxConfigBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat("config ", path, ": cannot be read"));
  }
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxConfigBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("config ", path, ": larger than ", kMaxConfigBytes, " bytes"));
  }
  return ApplyConfigToml(text, path, config);
}

absl::Status ApplyConfigFlag(const ConfigOption& option, absl::string_view text,
                             DaemonConfig* config) {
  if (auto* field = std::get_if<std::string DaemonConfig::*>(&option.field)) {
    config->** field = std::string(text);
  } else if (auto* field = std::get_if<int64_t DaemonConfig::*>(&option.field)) {
    int64_t value = 0;
    if (!absl::SimpleAtoi(text, &value) || value < option.min || value > option.max) {
      return absl::InvalidArgumentError(absl::StrCat(option.flag, ": ", IntRule(option)));
    }
    config->** field = value;
  } else {
    if (text != "true" && text != "false") {
      return absl::InvalidArgumentError(absl::StrCat(option.flag, ": must be true or false"));
    }
    config->*std::get<bool DaemonConfig::*>(option.field) = text == "true";
  }
  return absl::OkStatus();
}

std::vector<std::string> FunnelCampaigns(const DaemonConfig& config) {
  std::vector<std::string> labels;
  for (absl::string_view label : absl::StrSplit(config.funnel_campaigns, ',', absl::SkipEmpty())) {
    labels.emplace_back(absl::StripAsciiWhitespace(label));
  }
  return labels;
}

absl::Status ValidateConfig(const DaemonConfig& config) {
  if (config.data_dir.empty()) return absl::InvalidArgumentError("data_dir: must not be empty");
  if (config.listen.empty()) return absl::InvalidArgumentError("server.listen: must be HOST:PORT");
  absl::Duration sweep;
  if (!absl::ParseDuration(config.retention_sweep_interval, &sweep) ||
      (sweep != absl::ZeroDuration() &&
       (sweep < absl::Minutes(1) || sweep > absl::Hours(24 * 7)))) {
    return absl::InvalidArgumentError(
        "retention.sweep_interval (--retention-sweep-interval): a duration from 1m to 7d (e.g. "
        "1h), "
        "or 0");
  }
  if (absl::Status labels = vault::ValidateCampaignLabels(FunnelCampaigns(config)); !labels.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("funnel.campaigns (--funnel-campaigns): ", labels.message()));
  }
  if (config.log_format != "text" && config.log_format != "json") {
    return absl::InvalidArgumentError("log.format: must be text or json");
  }
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return absl::InvalidArgumentError("tls.cert and tls.key: both or neither");
  }
  if (!config.tls_client_ca.empty() && config.tls_cert.empty()) {
    return absl::InvalidArgumentError(
        "tls.client_ca: needs both tls.cert and tls.key (a client CA alone is not TLS)");
  }
  if (config.http_capture && config.metrics_listen.empty()) {
    return absl::InvalidArgumentError(
        "http_capture.enabled: needs metrics.listen (the HTTP listener it is served on)");
  }
  // Mutual TLS is a rule for every client; the HTTP listener asks for no
  // certificate, so capture over it would bypass the rule.
  if (config.http_capture && !config.tls_client_ca.empty()) {
    return absl::InvalidArgumentError(
        "http_capture.enabled: cannot be on with tls.client_ca (the HTTP listener asks for no "
        "client certificate)");
  }
  int key_sources = !config.key_file.empty() + !config.passphrase_env.empty() +
                    !config.master_key_command.empty();
  if (key_sources > 1) {
    return absl::InvalidArgumentError(
        "keys: at most one of key_file, passphrase_env and master_key_command");
  }
  if (config.max_exports_per_principal > config.max_exports) {
    return absl::InvalidArgumentError(
        "compliance.max_exports_per_principal: must not exceed compliance.max_exports");
  }
  if (config.max_exports >= config.worker_threads) {
    return absl::InvalidArgumentError(
        "compliance.max_exports: must be below server.worker_threads (exports must never take "
        "every worker)");
  }
  return absl::OkStatus();
}

absl::Duration SweepInterval(const DaemonConfig& config) {
  absl::Duration sweep = absl::ZeroDuration();
  absl::ParseDuration(config.retention_sweep_interval, &sweep);
  return sweep;
}

}  // namespace leadvault::api
