#include "api/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/daemon_config.h"
#include "api/log.h"
#include "api/ops_http.h"
#include "api/server.h"
#include "api/version.h"
#include "keys/master_key.h"
#include "keys/random.h"
#include "keys/status_macros.h"
#include "systemd/sd-daemon.h"
#include "vault/audit_journal.h"
#include "vault/backup.h"
#include "vault/database.h"
#include "vault/high_water_mark.h"
#include "vault/retention_sweep.h"
#include "vault/vault.h"

namespace leadvault::api {
namespace {

// The one-shot repair and recovery flags: never in a config file, where they
// would stay on and quietly accept a later loss too.
struct RepairFlags {
  bool rebuild_disclosure_index = false;
  bool recover_lost_log_tail = false;
  bool restore_without_journal = false;
  bool restore_without_high_water = false;
  bool issue_recovery_admin = false;
};

// One line for the log: counts, rule names and byte totals, never a lead id.
std::string DescribeSweep(const absl::StatusOr<vault::SweepReport>& report) {
  if (!report.ok()) {
    return absl::StrCat(
        "retention sweep failed: ", absl::StatusCodeToString(report.status().code()), ": ",
        report.status().message());
  }
  std::string line = absl::StrCat("retention sweep: ", report->purged, " purged");
  for (const auto& [rule, count] : report->per_rule) absl::StrAppend(&line, ", ", rule, "=", count);
  if (report->renewed > 0) absl::StrAppend(&line, "; ", report->renewed, " renewed meanwhile");
  if (report->held > 0) absl::StrAppend(&line, "; ", report->held, " kept by legal holds");
  if (report->more) absl::StrAppend(&line, "; more due, left for the next sweep");
  if (report->table_bytes_before > 0) {
    absl::StrAppend(&line, "; table bytes ", report->table_bytes_before, " -> ",
                    report->table_bytes_after);
  }
  absl::StrAppend(&line, " (audit entry ", report->audit_sequence, ")");
  return line;
}

void Log(absl::string_view event, const std::string& message, LogLevel level = LogLevel::kInfo) {
  LogEvent(level, event, message);
}

// No core file may hold keys or PII.
absl::Status DisableCoreDumps() {
  struct rlimit none = {0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0 || ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return absl::InternalError("cannot disable core dumps");
  }
  return absl::OkStatus();
}

// A file of ours written whole or not at all, through `path`.tmp and a
// rename. The temporary file is always created new (O_EXCL|O_NOFOLLOW, mode
// 0600), so a file or symlink someone planted there is refused, never written
// through (nor can its owner end up owning what we write); `path` itself is
// refused if it is a symlink, not a regular file, or owned by another user.
// Created before the contents exist, so a refusal comes before a one-time
// secret is issued. Errors name the file by `what` and its path, never contents.
class NewPrivateFile {
 public:
  static absl::StatusOr<std::unique_ptr<NewPrivateFile>> Create(std::string what,
                                                                std::string path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
      if (S_ISLNK(st.st_mode)) {
        return absl::FailedPreconditionError(
            absl::StrCat(what, ": ", path, " is a symbolic link; refusing to replace it"));
      }
      if (!S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) {
        return absl::FailedPreconditionError(absl::StrCat(
            what, ": ", path, " exists and is not a regular file of this user; refusing it"));
      }
    } else if (errno != ENOENT) {
      return absl::FailedPreconditionError(absl::StrCat(what, ": cannot inspect ", path));
    }
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": ", tmp, " already exists (planted, or left by a crash); ",
                       "refusing to write through it: remove it and start again"));
    }
    if (fd < 0) return absl::FailedPreconditionError(absl::StrCat(what, ": cannot create ", tmp));
    return std::unique_ptr<NewPrivateFile>(
        new NewPrivateFile(std::move(what), std::move(path), std::move(tmp), fd));
  }
  NewPrivateFile(const NewPrivateFile&) = delete;
  NewPrivateFile& operator=(const NewPrivateFile&) = delete;
  // An uncommitted file is removed.
  ~NewPrivateFile() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(tmp_.c_str());
    }
  }

  // Writes `contents`, syncs and renames the file into place. Once only.
  absl::Status Commit(absl::string_view contents) {
    bool ok = fd_ >= 0;
    while (ok && !contents.empty()) {
      ssize_t n = ::write(fd_, contents.data(), contents.size());
      if (n < 0 && errno == EINTR) continue;
      ok = n > 0;
      if (ok) contents.remove_prefix(static_cast<size_t>(n));
    }
    ok = ok && ::fsync(fd_) == 0;
    if (fd_ >= 0) ok = ::close(fd_) == 0 && ok;
    fd_ = -1;
    if (!ok || ::rename(tmp_.c_str(), path_.c_str()) != 0) {
      ::unlink(tmp_.c_str());
      return absl::UnavailableError(absl::StrCat(what_, ": cannot write ", path_));
    }
    return absl::OkStatus();
  }

 private:
  NewPrivateFile(std::string what, std::string path, std::string tmp, int fd)
      : what_(std::move(what)), path_(std::move(path)), tmp_(std::move(tmp)), fd_(fd) {}

  const std::string what_;
  const std::string path_;
  const std::string tmp_;
  int fd_;  // -1 once committed
};

// The configured master-key source; the daemon reads it at start and again
// at every rotation (AdminService::RotateMasterKey).
absl::StatusOr<std::shared_ptr<keys::MasterKeyProvider>> OpenKeySource(const DaemonConfig& flags,
                                                                       bool* generated) {
  *generated = false;
  std::unique_ptr<keys::MasterKeyProvider> provider;
  if (!flags.master_key_command.empty()) {
    provider = keys::NewCommandProvider(flags.master_key_command);
  } else if (!flags.passphrase_env.empty()) {
    const char* value = std::getenv(flags.passphrase_env.c_str());
    if (value == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("passphrase: environment variable ", flags.passphrase_env, " is not set"));
    }
    keys::SecretBytes passphrase = keys::SecretBytes::GuardedCopyFrom(value);
    // Leave no copy in the environment (readable in /proc, inherited by children).
    std::fill(const_cast<char*>(value), const_cast<char*>(value) + std::strlen(value), '\0');
    ::unsetenv(flags.passphrase_env.c_str());
    provider =
        keys::NewPassphraseProvider(std::move(passphrase), flags.data_dir + "/passphrase.salt",
                                    keys::Argon2Params::Moderate(), keys::SystemRandom());
  } else {
    std::string path = flags.key_file.empty() ? flags.data_dir + "/master.key" : flags.key_file;
    struct stat st;
    if (flags.key_file.empty() && ::lstat(path.c_str(), &st) != 0 && errno == ENOENT &&
        ::access((flags.data_dir + "/db/CURRENT").c_str(), F_OK) != 0) {
      // The embedded default: a new data dir gets a generated key file.
      LV_RETURN_IF_ERROR(keys::CreateKeyFile(path, keys::SystemRandom()));
      *generated = true;
    }
    provider = keys::NewKeyFileProvider(path);
  }
  return std::shared_ptr<keys::MasterKeyProvider>(std::move(provider));
}

int Fail(const absl::Status& status) {
  Log("start_failed",
      absl::StrCat("cannot start: ", absl::StatusCodeToString(status.code()), ": ",
                   status.message()),
      LogLevel::kError);
  return 1;
}

// A configuration error: named like any refused start, exit code EX_CONFIG.
int ConfigFail(const absl::Status& status) {
  Log("config_error", absl::StrCat("configuration: ", status.message()), LogLevel::kError);
  return kExitConfig;
}

// Holds an exclusive lock on DATA_DIR/leadvaultd.lock for the process's life,
// so a second daemon on the same data dir stops before it touches anything
// (a key file, the database) and says which dir is taken.
absl::Status LockDataDir(const std::string& data_dir) {
  const std::string path = data_dir + "/leadvaultd.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("data dir ", data_dir, ": cannot open ", path, ": ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data dir ", data_dir, ": another leadvaultd holds it (", path, " is locked)"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("data dir ", data_dir, ": cannot lock ", path, ": ", std::strerror(error)));
  }
  return absl::OkStatus();  // the descriptor stays open: the lock lasts until exit
}

// The default text of an option for --help.
std::string DefaultText(const ConfigOption& option) {
  static const DaemonConfig defaults;
  if (auto* field = std::get_if<std::string DaemonConfig::*>(&option.field)) {
    return defaults.**field;
  }
  if (auto* field = std::get_if<int64_t DaemonConfig::*>(&option.field)) {
    return absl::StrCat(defaults.**field);
  }
  return defaults.*std::get<bool DaemonConfig::*>(option.field) ? "true" : "false";
}

}  // namespace

int RunDaemon(int argc, char** argv) {
  CLI::App app{"leadvaultd: the leadvault daemon"};
  app.set_version_flag("--version", VersionLine("leadvaultd"));
  app.footer(
      "Every option but the repair flags may also be set in the --config file (TOML; the key is "
      "shown in brackets); a flag overrides the file. Exit codes: 0 stopped cleanly, 1 a start "
      "or run failed, 64 a bad command line, 78 a configuration error.");
  std::string config_file;
  bool check_config = false;
  app.add_option("--config", config_file,
                 "TOML config file; see packaging/leadvault.toml for every key and its default");
  app.add_flag("--check-config", check_config,
               "check the config file, the flags, the listen addresses and the TLS files, then "
               "exit (0: valid; 78: the error is printed)");
  const std::vector<ConfigOption>& config_options = ConfigOptions();
  std::vector<std::string> flag_texts(config_options.size());
  std::vector<bool> flag_bools(config_options.size());
  std::vector<CLI::Option*> given(config_options.size());
  for (size_t i = 0; i < config_options.size(); ++i) {
    const ConfigOption& option = config_options[i];
    std::string help = absl::StrCat(option.help, " [", option.key, "]");
    if (std::holds_alternative<bool DaemonConfig::*>(option.field)) {
      const std::string negated = absl::StrCat("!--no-", option.flag.substr(2));
      given[i] = app.add_flag_callback(
          absl::StrCat(option.flag, ",", negated),
          [&flag_bools, &given, i] { flag_bools[i] = given[i]->as<bool>(); }, help);
    } else {
      given[i] =
          app.add_option(std::string(option.flag), flag_texts[i], help)
              ->default_str(DefaultText(option))
              ->type_name(std::holds_alternative<int64_t DaemonConfig::*>(option.field) ? "INT"
                                                                                        : "TEXT");
    }
  }
  RepairFlags repair;
  app.add_flag("--rebuild-disclosure-index", repair.rebuild_disclosure_index,
               "repair: if the disclosure index (what an accounting of disclosures lists) does "
               "not match the audit log, rebuild it from the log, recorded as a "
               "RebuildDisclosureIndex audit entry, instead of refusing to start");
  app.add_flag("--recover-lost-log-tail", repair.recover_lost_log_tail,
               "repair: start even though the database's write-ahead log has a damaged tail, or "
               "the audit log is shorter than (or disagrees with) the newest checkpoint this "
               "daemon signed and served; drops what is lost and records a RecoverLostLogTail "
               "audit entry naming both sizes (holders of the old checkpoint will see the fork)");
  app.add_flag("--restore-without-journal", repair.restore_without_journal,
               "after `leadvaultctl backup restore`, start even though the audit journal is "
               "missing: leads purged since the backup come back (recorded as a "
               "RestoreFromBackup audit entry, journal=missing)");
  app.add_flag("--issue-recovery-admin", repair.issue_recovery_admin,
               "issue a recovery admin token (to admin.token_file, or stdout once) when no "
               "enabled admin holds a live token, e.g. when a restore's recovery token was lost; "
               "audited as CreatePrincipal by system, request restore-recovery");
  app.add_flag("--restore-without-high-water", repair.restore_without_high_water,
               "after `leadvaultctl backup restore`, replay the audit journal even though no "
               "high-water mark from before the restore is left (neither DATA_DIR's nor the one "
               "beside the journal), so nothing shows the journal is complete (recorded as "
               "high_water=missing)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }

  // Defaults, then the file, then the flags given.
  DaemonConfig flags;
  if (!config_file.empty()) {
    if (absl::Status s = ApplyConfigFile(config_file, &flags); !s.ok()) return ConfigFail(s);
  }
  for (size_t i = 0; i < config_options.size(); ++i) {
    if (given[i]->count() == 0) continue;
    const bool is_bool = std::holds_alternative<bool DaemonConfig::*>(config_options[i].field);
    absl::Status s = ApplyConfigFlag(
        config_options[i], is_bool ? (flag_bools[i] ? "true" : "false") : flag_texts[i], &flags);
    if (!s.ok()) return ConfigFail(s);
  }
  if (absl::Status s = ValidateConfig(flags); !s.ok()) return ConfigFail(s);
  if (absl::Status s = ConfigureLog(
          flags.log_format == "json" ? LogFormat::kJson : LogFormat::kText, flags.log_file);
      !s.ok()) {
    return ConfigFail(s);
  }
  RouteGrpcLogs();
  // Under systemd stdout is the journal, kept and shipped far beyond this
  // host: a one-time admin token must go to its 0600 file instead.
  if (flags.admin_token_file.empty() && std::getenv("JOURNAL_STREAM") != nullptr) {
    return ConfigFail(absl::InvalidArgumentError(
        "admin.token_file: required when the output goes to the systemd journal (a first or "
        "recovery admin token is never written there)"));
  }
  // The addresses and TLS files are checked before anything is created, so a
  // refused start leaves no data dir or key file behind.
  ServerTlsFiles tls{flags.tls_cert, flags.tls_key, flags.tls_client_ca};
  if (absl::Status s = CheckListenAddress("server.listen", flags.listen, tls.enabled()); !s.ok()) {
    return ConfigFail(s);
  }
  if (tls.enabled()) {
    if (auto checked = NewServerTlsCredentials(tls); !checked.ok()) {
      return ConfigFail(checked.status());
    }
  }
  if (!flags.metrics_listen.empty()) {
    absl::Status s = CheckListenAddress("metrics.listen", flags.metrics_listen, tls.enabled());
    if (!s.ok()) return ConfigFail(s);
  }
  if (check_config) {
    std::printf("leadvaultd: configuration is valid (%s)\n",
                config_file.empty() ? "flags and defaults" : config_file.c_str());
    return 0;
  }
  const absl::Duration sweep_interval = SweepInterval(flags);

  if (absl::Status s = DisableCoreDumps(); !s.ok()) return Fail(s);
  // Abseil's lock-order graph costs a few percent of every call; the tests
  // (which keep it on) are where lock-order bugs are caught.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (!keys::InitCrypto()) return Fail(absl::InternalError("libsodium failed to initialize"));
  ::umask(077);

  // SIGTERM/SIGINT (stop) and SIGHUP (reload) are taken by sigwait below;
  // block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Log("start", absl::StrCat("starting ", VersionLine("leadvaultd"), ", data dir ", flags.data_dir,
                            config_file.empty() ? "" : absl::StrCat(", config ", config_file)));
  if (::mkdir(flags.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat("data dir ", flags.data_dir, ": cannot be created: ", std::strerror(errno))));
  }
  if (absl::Status s = LockDataDir(flags.data_dir); !s.ok()) return Fail(s);
  bool generated = false;
  auto key_source = OpenKeySource(flags, &generated);
  if (!key_source.ok()) return Fail(key_source.status());
  auto keks = (*key_source)->LoadAll();
  if (!keks.ok()) return Fail(keks.status());
  if (!flags.passphrase_env.empty() && flags.master_key_command.empty()) {
    // The passphrases go now; a rotation reads the keys derived from them.
    std::vector<keys::SecretBytes> derived;
    for (const keys::SecretBytes& kek : *keks) {
      derived.push_back(keys::SecretBytes::GuardedCopyFrom(kek.view()));
    }
    *key_source = keys::NewFixedKeysProvider(std::move(derived), (*key_source)->Describe());
  }
  if (generated)
    Log("master_key_generated",
        absl::StrCat("generated a new master key file in ", flags.data_dir));

  if (flags.verify_on_start) {
    absl::StatusOr<vault::ChecksumSummary> verified =
        vault::Database::VerifyChecksums(flags.data_dir + "/db");
    if (verified.ok()) {
      Log("verify_on_start",
          absl::StrCat("--verify-on-start: ", verified->table_files, " table files (",
                       verified->table_bytes, " bytes) match their block checksums"));
    } else if (!absl::IsNotFound(verified.status())) {  // NOT_FOUND: a new data dir
      return Fail(verified.status());
    }
  }

  vault::VaultOptions options;
  options.data_dir = flags.data_dir + "/db";
  // Statuses carry generic text; RocksDB's own account of a storage error goes
  // only to this local log.
  options.database.storage_error_log = [](const std::string& detail) {
    Log("storage_error", absl::StrCat("storage error: ", detail), LogLevel::kError);
  };
  options.committer.audit.checkpoint_every_entries =
      static_cast<uint64_t>(flags.checkpoint_every_entries);
  options.committer.audit.checkpoint_interval = absl::Seconds(flags.checkpoint_interval_seconds);
  options.rebuild_disclosure_index = repair.rebuild_disclosure_index;
  options.funnel_campaigns = FunnelCampaigns(flags);
  options.high_water_file = flags.data_dir + "/audit-high-water";
  options.recover_lost_log_tail = repair.recover_lost_log_tail;
  options.database.min_free_bytes = static_cast<uint64_t>(flags.min_free_mb) << 20;
  options.database.block_cache_bytes = static_cast<size_t>(flags.block_cache_mb) << 20;
  options.database.write_buffer_bytes = static_cast<size_t>(flags.write_buffer_mb) << 20;
  options.audit_journal_file =
      flags.audit_journal.empty() ? flags.data_dir + "/audit-journal" : flags.audit_journal;
  const vault::RestoreLayout layout{flags.data_dir};
  struct stat restore_marker;
  if (::lstat(layout.marker().c_str(), &restore_marker) == 0) {
    options.restore.pending = true;
    struct stat journal;
    if (::lstat(options.audit_journal_file.c_str(), &journal) != 0) {
      if (!repair.restore_without_journal) {
        return Fail(absl::FailedPreconditionError(absl::StrCat(
            "restore: the audit journal ", options.audit_journal_file,
            " is missing, so the purges since the backup cannot be re-applied; put it back (or "
            "name it with --audit-journal), or start with --restore-without-journal to accept "
            "that leads purged since the backup come back (SECURITY.md, \"Backups and "
            "restore\")")));
      }
      options.restore.without_journal = true;
    }
    auto before = vault::HighWaterMark::Open(layout.pre_restore_high_water());
    if (!before.ok()) return Fail(before.status());
    options.restore.pre_restore_high_water = (*before)->note();
    // Not written while a restore is pending: still the mark from before it.
    auto beside_journal =
        vault::HighWaterMark::Open(vault::AuditJournal::HighWaterPath(options.audit_journal_file));
    if (!beside_journal.ok()) return Fail(beside_journal.status());
    options.restore.journal_high_water = (*beside_journal)->note();
    options.restore.without_high_water = repair.restore_without_high_water;
  }
  auto vault = vault::Vault::Open(options, *std::move(keks));
  if (!vault.ok()) return Fail(vault.status());
  if (const auto& restored = (*vault)->restore_result(); restored.has_value()) {
    Log("restored",
        absl::StrCat("restored from a backup: its log held ", restored->restored_size, " entries; ",
                     restored->replayed,
                     " entries since appended again from the "
                     "audit journal, ",
                     restored->reapplied_purges, " leads purged again, ", restored->unverified_tail,
                     " unverified journal entries dropped",
                     options.restore.without_journal ? " (NO JOURNAL: nothing replayed)" : "",
                     "; audit entry ", restored->sequence, ", RestoreFromBackup"));
    ::unlink(layout.pre_restore_high_water().c_str());
    ::unlink(layout.marker().c_str());
    // The database from before the restore is no longer needed (it may hold
    // bytes of leads purged before it, not yet compacted away).
    std::error_code ec;
    std::filesystem::remove_all(layout.previous_db_dir(), ec);
    if (ec) {
      Log("restore_cleanup", absl::StrCat("restore: ", layout.previous_db_dir(),
                                          " could not be removed; remove it by hand"));
    }
  }
  if (uint64_t cut = (*vault)->journal_interrupted_group(); cut != 0) {
    Log("journal_group_cut",
        absl::StrCat("audit journal: ", cut,
                     " entries of a commit group that a crash interrupted before its database "
                     "write were cut from the journal (the group was never written)"));
  }
  if (const auto& recovery = (*vault)->log_recovery(); recovery.has_value()) {
    Log("recover_lost_log_tail",
        absl::StrCat("--recover-lost-log-tail: ",
                     recovery->found.lost ? "accepted a log that lost its tail" : "no loss found",
                     " (high-water mark ", recovery->found.high_water_size, " entries, log ",
                     recovery->found.log_size, " entries); recorded as audit entry ",
                     recovery->sequence, ", RecoverLostLogTail"));
  }
  if (uint64_t seq = (*vault)->disclosure_index_rebuild_sequence(); seq != 0) {
    Log("disclosure_index_rebuilt",
        absl::StrCat("the disclosure index did not match the audit log and was rebuilt from it "
                     "(audit entry ",
                     seq, ", RebuildDisclosureIndex)"));
  } else if (repair.rebuild_disclosure_index) {
    Log("disclosure_index_checked",
        "--rebuild-disclosure-index: the disclosure index matches the audit log; nothing rebuilt");
  }

  // Serve first: the admin token is issued only once it can be delivered.
  ServerOptions server_options;
  server_options.listen = flags.listen;
  server_options.auth_throttle.free_failures = flags.auth_free_failures;
  server_options.tls = tls;
  server_options.tls_live_dir = flags.data_dir + "/tls-live";
  server_options.worker_threads = static_cast<int>(flags.worker_threads);
  server_options.max_queued_calls = static_cast<size_t>(flags.max_queued_calls);
  server_options.max_receive_message_bytes = static_cast<int>(flags.max_message_bytes);
  server_options.max_streams_per_connection = static_cast<int>(flags.max_streams_per_connection);
  server_options.admission.max_calls = static_cast<size_t>(flags.max_lead_calls);
  server_options.admission.max_bytes = static_cast<size_t>(flags.max_lead_call_bytes);
  server_options.exports.total = static_cast<int>(flags.max_exports);
  server_options.exports.per_principal = static_cast<int>(flags.max_exports_per_principal);
  server_options.exports.write_timeout = absl::Seconds(flags.export_write_timeout_seconds);
  server_options.master_key_source = [source = *key_source] { return source->LoadAll(); };
  server_options.call_metrics = !flags.metrics_listen.empty();
  SetLogCalls(flags.log_calls);
  auto server = Server::Start(server_options, vault->get());
  if (!server.ok()) return Fail(server.status());
  std::string address = (*server)->address();
  std::unique_ptr<OpsHttpServer> ops;
  if (!flags.metrics_listen.empty()) {
    Server* serving = server->get();
    OpsHttpHandlers handlers;
    handlers.metrics = [serving] { return serving->Metrics(); };
    handlers.readiness = [serving] { return serving->Readiness(); };
    if (flags.http_capture) {
      handlers.capture = [serving](const HttpCaptureRequest& request) {
        return serving->CaptureHttp(request);
      };
    }
    auto started = OpsHttpServer::Start(flags.metrics_listen, tls, std::move(handlers));
    if (!started.ok()) return Fail(started.status());
    ops = *std::move(started);
    Log("metrics_listening",
        absl::StrCat("metrics, /healthz and /readyz on ",
                     flags.metrics_listen.substr(0, flags.metrics_listen.rfind(':')), ":",
                     ops->port(), tls.enabled() ? " (TLS)" : "",
                     flags.http_capture ? "; HTTP capture: POST /v1/leads" : ""));
  }

  std::string admin_token;
  std::unique_ptr<NewPrivateFile> token_file;
  // A new vault gets its first admin; a restore that left no usable admin
  // (every admin's rotated token ended again) gets a recovery admin.
  const bool first_admin = (*vault)->principals().empty();
  const bool recovery_admin =
      !first_admin && ((*vault)->restore_result().has_value() || repair.issue_recovery_admin) &&
      !(*vault)->principals().HasUsableAdmin();
  if (repair.issue_recovery_admin && !first_admin && !recovery_admin) {
    Log("recovery_admin_not_needed",
        "--issue-recovery-admin: an enabled admin holds a live token; nothing issued");
  }
  if (first_admin || recovery_admin) {
    if (!flags.admin_token_file.empty()) {
      // Refused before the one-time token is issued, so nothing is lost.
      auto file = NewPrivateFile::Create("admin token file", flags.admin_token_file);
      if (!file.ok()) return Fail(file.status());
      token_file = *std::move(file);
    }
    if (recovery_admin) {
      Log("recovery_admin",
          "no admin holds a live token: issuing a recovery admin (CreatePrincipal, request "
          "restore-recovery)");
    }
    auto issued = first_admin ? (*vault)->BootstrapAdmin() : (*vault)->RecoverAdmin();
    if (!issued.ok()) return Fail(issued.status());
    admin_token.reserve(issued->token.view().size() + 1);  // room for the newline: no copy
    admin_token.assign(issued->token.view().data(), issued->token.view().size());
  }

  if (!admin_token.empty()) {
    // The token goes to the file when one was asked for, else to stdout: never both.
    const char* why = first_admin ? "leadvault is new" : "leadvault had no usable admin";
    std::string export_line;
    if (token_file != nullptr) {
      admin_token.push_back('\n');
      absl::Status written = token_file->Commit(admin_token);
      keys::WipeString(admin_token);
      if (!written.ok()) {
        return Fail(absl::Status(written.code(),
                                 absl::StrCat(written.message(),
                                              " (the admin token it held is lost: the admin "
                                              "principal exists; start again on a new data dir)")));
      }
      export_line = absl::StrCat("export LEADVAULT_TOKEN=$(cat ", flags.admin_token_file, ")");
      std::printf(
          "\n%s: the admin token was written to %s (mode 0600), and "
          "is shown nowhere else. Keep it safe.\n",
          why, flags.admin_token_file.c_str());
    } else {
      export_line = absl::StrCat("export LEADVAULT_TOKEN=", admin_token);
      keys::WipeString(admin_token);
      std::printf("\n%s: this is the admin token, shown ONCE. Keep it safe.\n", why);
    }
    if (!first_admin) {
      std::printf("\n  %s\n\n", export_line.c_str());
    } else {
      std::printf(
          "\n  %s\n\n"
          "Try it (in another shell, after the export above). The admin manages\n"
          "principals and never reads leads, so first make a demo front desk, whose\n"
          "token goes to a file (LEADVAULT_TOKEN stays the admin's, for the README tour):\n\n"
          "  export LEADVAULT_SERVER=%s\n"
          "  build/tools/leadvaultctl principal create --name demo "
          "--role capture --role intake --service-line demo --token-out demo.token\n"
          "  build/tools/leadvaultctl --token-file demo.token lead create --service-line demo "
          "--first-name Ada --email ada@example.com --phone '+1 650 253 0000'\n"
          "  build/tools/leadvaultctl --token-file demo.token lead get LEAD_ID "
          "--purpose treatment\n\n",
          export_line.c_str(), address.c_str());
    }
    std::fflush(stdout);
    keys::WipeString(export_line);
  }
  std::printf("leadvaultd: serving on %s (data dir %s)\n", address.c_str(), flags.data_dir.c_str());
  std::fflush(stdout);
  if (!flags.ready_file.empty()) {
    auto ready = NewPrivateFile::Create("ready file", flags.ready_file);
    if (!ready.ok()) return Fail(ready.status());
    if (absl::Status s = (*ready)->Commit(address + "\n"); !s.ok()) return Fail(s);
  }

  // Sweeps pace themselves between batches so that online calls keep the
  // committer and the disk.
  std::unique_ptr<vault::RetentionScheduler> sweeps;
  if (sweep_interval != absl::ZeroDuration()) {
    vault::SweepOptions sweep_options;
    sweep_options.batch_size = vault::kDaemonSweepBatch;
    sweep_options.pause = vault::kDaemonSweepPause;
    sweeps = std::make_unique<vault::RetentionScheduler>(
        &(*vault)->retention(), sweep_interval, sweep_options,
        [](const absl::StatusOr<vault::SweepReport>& report) {
          Log("retention_sweep", DescribeSweep(report),
              report.ok() ? LogLevel::kInfo : LogLevel::kError);
        });
  }

  // systemd (Type=notify): ready now; while a watchdog is set, a ping every
  // half of its interval from this loop (a wedged main thread stops them).
  ::sd_notifyf(0, "READY=1\nSTATUS=serving on %s", address.c_str());
  uint64_t watchdog_usec = 0;
  const bool watchdog = ::sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0;
  int signal_number = 0;
  while (true) {
    if (watchdog) {
      const uint64_t half = watchdog_usec / 2;
      struct timespec timeout = {static_cast<time_t>(half / 1000000),
                                 static_cast<long>((half % 1000000) * 1000)};
      signal_number = ::sigtimedwait(&signals, nullptr, &timeout);
      if (signal_number < 0) {
        ::sd_notify(0, "WATCHDOG=1");
        continue;
      }
    } else if (::sigwait(&signals, &signal_number) != 0) {
      continue;
    }
    if (signal_number != SIGHUP) break;
    // SIGHUP never stops the daemon: it reopens the log file (logrotate) and
    // re-reads the TLS certificate and key (a bad pair is refused, the old stays).
    ::sd_notify(0, "RELOADING=1");
    if (absl::Status s = ReopenLog(); !s.ok()) {
      Log("reload_failed", std::string(s.message()), LogLevel::kError);
    }
    if (tls.enabled()) {
      absl::Status s = (*server)->ReloadTls();
      if (s.ok() && ops != nullptr) s = ops->ReloadTls();
      if (s.ok()) {
        Log("tls_reloaded", "SIGHUP: TLS certificate and key re-read; new connections use them");
      } else {
        Log("tls_reload_refused",
            absl::StrCat("SIGHUP: TLS reload refused, the certificate in use stays: ", s.message()),
            LogLevel::kError);
      }
    }
    Log("reloaded", "SIGHUP: log reopened");
    ::sd_notify(0, "READY=1");
  }
  ::sd_notify(0, "STOPPING=1");
  Log("stopping", absl::StrCat("signal ", signal_number, ": draining calls"));
  if (sweeps != nullptr) sweeps->Stop();  // a running sweep ends after its batch
  (*server)->Shutdown(absl::Seconds(flags.drain_seconds));
  ops.reset();  // it reads the server
  // The server's threads (the export watchdog reads the vault's clock) end
  // before the vault goes.
  server->reset();
  (*vault)->Shutdown();
  vault->reset();
  Log("stopped", "stopped cleanly");
  return 0;
}

}  // namespace leadvault::api
