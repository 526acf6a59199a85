#include "tools/ctl_backup.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tools/ctl_print.h"
#include "vault/backup.h"

namespace leadvault::tools {
namespace {

namespace v1 = ::leadvault::v1;

std::string When(int64_t unix_seconds) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

int RunCreate(const Connection& connection, const BackupCommands& c) {
  v1::CreateBackupRequest request;
  request.set_backup_dir(c.backup_dir);
  v1::CreateBackupResponse response;
  grpc::ClientContext context;
  connection.Prepare(&context);
  grpc::Status status =
      v1::Admin::NewStub(connection.channel())->CreateBackup(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, connection);
  if (c.json) {
    return PrintJson(response) ? kExitOk : ReportError(absl::InternalError("cannot print as JSON"));
  }
  std::printf("backup %u created: %u files, %llu bytes, audit log at %llu entries\n",
              response.backup_id(), response.files(),
              static_cast<unsigned long long>(response.bytes()),
              static_cast<unsigned long long>(response.audit_size()));
  return kExitOk;
}

int RunList(const BackupCommands& c) {
  absl::StatusOr<std::vector<vault::BackupSummary>> backups = vault::ListBackups(c.backup_dir);
  if (!backups.ok()) return ReportError(backups.status());
  if (c.json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const vault::BackupSummary& b : *backups) {
      list.push_back({{"id", b.id},
                      {"created", When(b.created_unix_seconds)},
                      {"created_unix_seconds", b.created_unix_seconds},
                      {"files", b.files},
                      {"bytes", b.bytes},
                      {"audit_size", b.audit_size}});
    }
    PrintJsonDocument({{"backups", std::move(list)}});
    return kExitOk;
  }
  std::printf("%-6s %-20s %8s %14s %12s\n", "ID", "CREATED", "FILES", "BYTES", "AUDIT_SIZE");
  for (const vault::BackupSummary& b : *backups) {
    std::printf("%-6u %-20s %8u %14llu %12llu\n", b.id, When(b.created_unix_seconds).c_str(),
                b.files, static_cast<unsigned long long>(b.bytes),
                static_cast<unsigned long long>(b.audit_size));
  }
  return kExitOk;
}

int RunVerify(const BackupCommands& c) {
  std::vector<uint32_t> ids;
  if (c.id != 0) {
    ids.push_back(c.id);
  } else {
    absl::StatusOr<std::vector<vault::BackupSummary>> backups = vault::ListBackups(c.backup_dir);
    if (!backups.ok()) return ReportError(backups.status());
    for (const vault::BackupSummary& b : *backups) ids.push_back(b.id);
    if (ids.empty()) return ReportError(absl::NotFoundError("backup dir: holds no backup"));
  }
  nlohmann::ordered_json verified = nlohmann::ordered_json::array();
  for (uint32_t id : ids) {
    absl::Status s = vault::VerifyBackup(c.backup_dir, id);
    if (!s.ok()) {
      if (c.json) {
        PrintJsonDocument({{"ok", false},
                           {"verified", std::move(verified)},
                           {"failed", id},
                           {"error", std::string(s.message())}});
      }
      return ReportError(s);
    }
    if (c.json) {
      verified.push_back(id);
    } else {
      std::printf("backup %u: every file matches its size and checksum\n", id);
    }
  }
  if (c.json) PrintJsonDocument({{"ok", true}, {"verified", std::move(verified)}});
  return kExitOk;
}

int RunRestore(const BackupCommands& c) {
  absl::StatusOr<vault::BackupSummary> restored =
      vault::RestoreBackup(c.backup_dir, c.id, vault::RestoreLayout{c.data_dir});
  if (!restored.ok()) return ReportError(restored.status());
  if (c.json) {
    PrintJsonDocument({{"restored", restored->id},
                       {"created", When(restored->created_unix_seconds)},
                       {"audit_size", restored->audit_size},
                       {"data_dir", c.data_dir}});
    return kExitOk;
  }
  std::printf(
      "backup %u (%s, audit log at %llu entries) restored into %s/db; at its next start the "
      "daemon re-appends the audit journal's entries since, takes away again what was taken "
      "away since (disabled principals, ended tokens, legal holds...) and purges again every "
      "lead purged since, before it serves (it needs the master keys the backup's data keys "
      "are wrapped under); the old database waits in db.before-restore until then\n",
      restored->id, When(restored->created_unix_seconds).c_str(),
      static_cast<unsigned long long>(restored->audit_size), c.data_dir.c_str());
  return kExitOk;
}

}  // namespace

std::unique_ptr<BackupCommands> AddBackupCommands(CLI::App& app) {
  auto c = std::make_unique<BackupCommands>();
  CLI::App* backup = app.add_subcommand("backup", "backups of the database");
  backup->require_subcommand(1);
  c->create = backup->add_subcommand(
      "create",
      "take a backup while the daemon serves (admin), into DIR on the daemon's host: an "
      "absolute path to a directory of the daemon's user, mode 0700, outside the data dir");
  c->create->add_option("DIR", c->backup_dir, "the backup directory")->required();
  c->create->add_flag("--json", c->json,
                      "print {\"backup_id\", \"bytes\", \"files\", \"audit_size\", "
                      "\"created_unix_seconds\"} (proto field names)");
  c->list = backup->add_subcommand("list", "list the backups in DIR (offline)");
  c->list->add_option("DIR", c->backup_dir, "the backup directory")->required();
  c->list->add_flag("--json", c->json,
                    "print {\"backups\": [{\"id\", \"created\", \"created_unix_seconds\", "
                    "\"files\", \"bytes\", \"audit_size\"}]}");
  c->verify = backup->add_subcommand(
      "verify", "re-read every file of a backup (or of all) and check its checksum (offline)");
  c->verify->add_option("DIR", c->backup_dir, "the backup directory")->required();
  c->verify->add_option("--id", c->id, "one backup (default: all)");
  c->verify->add_flag("--json", c->json,
                      "print {\"ok\": true, \"verified\": [ids]}; on a mismatch {\"ok\": false, "
                      "\"verified\", \"failed\": id, \"error\"} (exit 1)");
  c->restore = backup->add_subcommand(
      "restore",
      "restore a backup into a stopped daemon's data dir; its next start replays the audit "
      "journal");
  c->restore->add_option("DIR", c->backup_dir, "the backup directory")->required();
  c->restore->add_option("--data-dir", c->data_dir, "the daemon's data dir")->required();
  c->restore->add_option("--id", c->id, "the backup (default: the newest)");
  c->restore->add_flag("--json", c->json,
                       "print {\"restored\": id, \"created\", \"audit_size\", \"data_dir\"}");
  return c;
}

std::optional<int> RunBackupCommand(const BackupCommands& c, const ConnectionFlags& flags) {
  if (c.create->parsed()) {
    return WithConnection(flags,
                          [&](const Connection& connection) { return RunCreate(connection, c); });
  }
  if (c.list->parsed()) return RunList(c);
  if (c.verify->parsed()) return RunVerify(c);
  if (c.restore->parsed()) return RunRestore(c);
  return std::nullopt;
}

}  // namespace leadvault::tools
