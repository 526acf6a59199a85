#include "vault/vault.h"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "keys/error_reason.h"
#include "keys/master_key.h"
#include "keys/status_macros.h"
#include "vault/disclosure_index.h"
#include "vault/internal/keys.h"

namespace leadvault::vault {
namespace {

// Refuses a data dir written by a newer build (its format may store what this
// build would misread or overwrite), before anything opens it for writing.
// `version`: the stored schema_version row, if any.
absl::Status CheckOnDiskFormat(const std::string& dir, const std::string* version) {
  if (version == nullptr) return absl::OkStatus();
  int format = 0;
  if (!absl::SimpleAtoi(*version, &format) || format < 1) {
    return absl::DataLossError("data dir: the on-disk format version is unreadable");
  }
  if (format > kOnDiskFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data dir ", dir, ": written by a newer leadvault (on-disk format ", format,
        "; this build reads format ", kOnDiskFormatVersion,
        " and older): run that version, or restore a backup this version took; nothing was "
        "changed"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Vault>> Vault::Open(const VaultOptions& options,
                                                   keys::SecretBytes kek) {
  std::vector<keys::SecretBytes> keks;
  keks.push_back(std::move(kek));
  return Open(options, std::move(keks));
}

absl::StatusOr<std::unique_ptr<Vault>> Vault::Open(const VaultOptions& options,
                                                   std::vector<keys::SecretBytes> keks) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("data_dir: required");
  LV_RETURN_IF_ERROR(ValidateCampaignLabels(options.funnel_campaigns));
  if (::mkdir(options.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError("data_dir: cannot be created");
  }
  // Check the format and the keys before anything opens the database for
  // writing, in one read-only open (a new data dir has no database: NOT_FOUND).
  auto rows = Database::ReadMetaReadOnly(options.data_dir,
                                         {internal::kMetaSchemaVersion, internal::kMetaKekPrefix},
                                         /*max_rows=*/100000);
  if (!rows.ok() && !absl::IsNotFound(rows.status())) return rows.status();
  std::vector<std::pair<std::string, std::string>> kek_rows;
  const std::string* version = nullptr;
  if (rows.ok()) {
    for (const auto& row : *rows) {
      if (row.first == internal::kMetaSchemaVersion) {
        version = &row.second;
      } else if (absl::StartsWith(row.first, internal::kMetaKekPrefix)) {
        kek_rows.push_back(row);
      }
    }
  }
  LV_RETURN_IF_ERROR(CheckOnDiskFormat(options.data_dir, version));
  LV_RETURN_IF_ERROR(KeyHierarchy::CheckKeys(kek_rows, keks));

  auto vault = std::unique_ptr<Vault>(new Vault());
  vault->clock_ = options.clock != nullptr ? options.clock : &vault->system_clock_;
  vault->random_ = options.random != nullptr ? options.random : &keys::SystemRandom();
  vault->data_dir_ = options.data_dir;
  DatabaseOptions database_options = options.database;
  database_options.tolerate_damaged_wal_tail = options.recover_lost_log_tail;
  LV_ASSIGN_OR_RETURN(vault->database_, Database::Open(options.data_dir, database_options));
  vault->funnel_campaigns_ = FunnelCampaigns(options.funnel_campaigns);
  vault->funnel_ = std::make_unique<FunnelTable>();
  LV_RETURN_IF_ERROR(OpenFunnel(*vault->database_, vault->funnel_campaigns_, *vault->funnel_));
  CommitterOptions committer_options = options.committer;
  // A group's funnel operands in one record of the merge log, not one
  // memtable entry each (its fold thresholds may come from
  // options.committer: tests fold often).
  MergeLogOptions funnel_log = FunnelMergeLog();
  if (options.committer.merge_log.has_value()) {
    funnel_log.fold_every_groups = options.committer.merge_log->fold_every_groups;
    funnel_log.fold_max_operands = options.committer.merge_log->fold_max_operands;
    funnel_log.fold_max_bytes = options.committer.merge_log->fold_max_bytes;
  }
  committer_options.merge_log = std::move(funnel_log);
  committer_options.on_merges_written =
      [funnel = vault->funnel_.get()](const std::vector<MergeOperand>& merges) {
        std::vector<std::pair<absl::string_view, absl::string_view>> operands;
        operands.reserve(merges.size());
        for (const MergeOperand& m : merges) {
          if (m.cf == Cf::kFunnel) operands.emplace_back(m.key, m.value);
        }
        funnel->ApplyAll(operands);
      };
  committer_options.audit.high_water_file =
      options.high_water_file.empty() ? options.data_dir + "/HIGH_WATER" : options.high_water_file;
  committer_options.audit.accept_lost_tail = options.recover_lost_log_tail;
  committer_options.journal_file = options.audit_journal_file;
  committer_options.hold_journal = options.restore.pending;
  if (options.restore.pending &&
      (options.recover_lost_log_tail || options.rebuild_disclosure_index)) {
    // Their entries would take the sequence numbers the replay appends.
    return absl::FailedPreconditionError(
        "restore: --recover-lost-log-tail and --rebuild-disclosure-index cannot be used at the "
        "start that replays the audit journal; start without them first");
  }
  LV_ASSIGN_OR_RETURN(vault->committer_,
                      Committer::Start(vault->database_.get(), vault->clock_, committer_options));
  if (vault->committer_->journal_detached() && !options.restore.pending) {
    AuditJournal* journal = vault->committer_->journal();
    const uint64_t log_size = vault->committer_->audit_log().size();
    LV_ASSIGN_OR_RETURN(bool interrupted, journal->OnlyLastGroupAfter(log_size));
    // The mark beside the journal is recorded after the database write: one
    // beyond the log means the database lost a group it acknowledged.
    if (interrupted && vault->committer_->journal_high_water_size() <= log_size) {
      // A crash came between the last group's append and its write: the
      // group was never written and its callers never got an answer.
      vault->journal_interrupted_group_ = journal->last_sequence() - log_size;
      LV_RETURN_IF_ERROR(journal->TruncateAfter(log_size));
      vault->committer_->AttachJournal();
    }
  }
  if (vault->committer_->journal_detached() && !options.restore.pending) {
    if (!options.recover_lost_log_tail) {
      return absl::FailedPreconditionError(absl::StrCat(
          "audit journal: holds entries beyond the log (",
          vault->committer_->journal()->last_sequence(), " > ",
          vault->committer_->audit_log().size(),
          "): the database lost its tail, or a backup was restored other than by `leadvaultctl "
          "backup restore`; nothing was changed"));
    }
    // What is cut is kept aside: it may record purges the lost tail held.
    AuditJournal* journal = vault->committer_->journal();
    std::error_code ec;
    std::filesystem::copy_file(
        journal->path(),
        absl::StrCat(journal->path(), ".lost-tail-", vault->committer_->audit_log().size()),
        std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return absl::UnavailableError("audit journal: cannot be kept aside before its cut");
    LV_RETURN_IF_ERROR(journal->TruncateAfter(vault->committer_->audit_log().size()));
    vault->committer_->AttachJournal();
  }
  LV_ASSIGN_OR_RETURN(vault->keys_,
                      KeyHierarchy::Load(vault->database_.get(), vault->committer_.get(),
                                         std::move(keks), vault->random_));
  LV_RETURN_IF_ERROR(vault->committer_->audit_log().SetSigner(vault->keys_->TakeAuditSigningKey(),
                                                              vault->keys_->log_origin()));
  if (options.recover_lost_log_tail) LV_RETURN_IF_ERROR(vault->RecordLogRecovery());
  LV_RETURN_IF_ERROR(vault->CheckDisclosureIndexAtOpen(options.rebuild_disclosure_index));
  LV_ASSIGN_OR_RETURN(vault->emergency_,
                      EmergencyAccessStore::Open(vault->database_.get(), vault->committer_.get(),
                                                 vault->clock_, vault->random_));
  vault->ledger_ = std::make_unique<ConsentLedger>(vault->database_.get(), vault->keys_.get());
  LV_ASSIGN_OR_RETURN(
      vault->retention_policy_,
      RetentionPolicyStore::Open(vault->database_.get(), vault->committer_.get(), vault->clock_));
  vault->leads_ = std::make_unique<LeadStore>(
      vault->database_.get(), vault->committer_.get(), vault->keys_.get(), vault->clock_,
      vault->random_, vault->emergency_.get(), vault->ledger_.get(), vault->retention_policy_.get(),
      options.omit_funnel_for_benchmark ? nullptr : &vault->funnel_campaigns_);
  vault->holds_ = std::make_unique<LegalHolds>(vault->database_.get(), vault->committer_.get(),
                                               vault->leads_.get(), vault->clock_, vault->random_);
  LV_ASSIGN_OR_RETURN(vault->principals_,
                      PrincipalStore::Open(vault->database_.get(), vault->committer_.get(),
                                           vault->keys_.get(), vault->clock_, vault->random_));
  vault->consent_ = std::make_unique<ConsentStore>(
      vault->committer_.get(), &vault->committer_->audit_log(), vault->clock_, vault->random_,
      vault->leads_.get(), vault->ledger_.get());
  if (options.restore.pending) {
    if (options.restore.without_journal) {
      vault->committer_->AttachJournal();  // a new, empty one: it is caught up from the log
      LV_ASSIGN_OR_RETURN(uint64_t sequence, RecordRestoreWithoutJournal(*vault->committer_));
      vault->restore_result_ = JournalReplay{};
      vault->restore_result_->restored_size = sequence - 1;
      vault->restore_result_->sequence = sequence;
    } else {
      std::vector<std::string> high_water;
      for (const auto& note :
           {options.restore.pre_restore_high_water, options.restore.journal_high_water}) {
        if (note.has_value()) high_water.push_back(*note);
      }
      LV_ASSIGN_OR_RETURN(
          vault->restore_result_,
          ReplayJournal(*vault->database_, *vault->committer_,
                        ReplayStores{vault->leads_.get(),
                                     {vault->principals_.get(), vault->emergency_.get(),
                                      vault->holds_.get(), vault->consent_.get()}},
                        high_water, options.restore.without_high_water));
    }
  }
  vault->retention_ = std::make_unique<RetentionSweeper>(
      vault->database_.get(), vault->committer_.get(), vault->leads_.get(), vault->clock_,
      vault->retention_policy_.get());
  vault->emergency_->SetLeadScope(vault->leads_.get());
  vault->audit_ =
      std::make_unique<AuditAccess>(vault->committer_.get(), &vault->committer_->audit_log());
  LV_ASSIGN_OR_RETURN(vault->retention_recompute_,
                      RetentionRecompute::Start(vault->database_.get(), vault->committer_.get(),
                                                vault->leads_.get(), vault->retention_policy_.get(),
                                                options.retention_recompute));
  LV_ASSIGN_OR_RETURN(
      vault->key_rewrap_,
      KeyRewrap::Start(vault->database_.get(), vault->committer_.get(), vault->keys_.get(),
                       vault->leads_.get(), options.key_rewrap));
  vault->funnel_reports_ =
      std::make_unique<FunnelReports>(vault->funnel_.get(), vault->committer_.get());
  vault->retention_policy_->SetListener(
      [recompute = vault->retention_recompute_.get()](uint64_t version) {
        recompute->PolicyChanged(version);
      });
  return vault;
}

absl::Status Vault::CheckDisclosureIndexAtOpen(bool rebuild) {
  // Nothing else commits while the vault opens, so the log the check and the
  // rebuild read is the log the rebuild's entry is appended to.
  LV_ASSIGN_OR_RETURN(DisclosureIndexReport report, CheckDisclosureIndex(*database_, *random_));
  if (!report.result.ok()) {
    if (!rebuild) return report.result;
    rocksdb::WriteBatch batch;
    LV_RETURN_IF_ERROR(StageDisclosureIndexRebuild(*database_, audit_log().size(), batch));
    audit::AuditEntry entry;
    entry.principal_id = "system";
    entry.role = "system";
    entry.action = "RebuildDisclosureIndex";
    entry.fields = {absl::StrCat("entries=", report.entries),
                    absl::StrCat("missing_rows=", report.missing_rows),
                    absl::StrCat("bogus_rows=", report.bogus_rows)};
    LV_ASSIGN_OR_RETURN(disclosure_index_rebuild_sequence_,
                        committer_->CommitWithCheckpoint(std::move(batch), std::move(entry)));
    LV_ASSIGN_OR_RETURN(report, CheckDisclosureIndex(*database_, *random_));
    LV_RETURN_IF_ERROR(report.result);
  }
  return RecordDisclosureIndexCheck(*database_, report);
}

absl::Status Vault::RecordLogRecovery() {
  std::optional<LostTail> found = audit_log().lost_tail();
  if (!found.has_value()) return absl::InternalError("audit: no recovery state");
  audit::AuditEntry entry;
  entry.principal_id = "system";
  entry.role = "system";
  entry.action = "RecoverLostLogTail";
  entry.fields = {absl::StrCat("high_water_size=", found->high_water_size),
                  absl::StrCat("log_size=", found->log_size),
                  found->lost ? "loss=found" : "loss=none"};
  // The new checkpoint replaces the high-water mark: from here on the log is
  // what it is, and this entry says so to whoever kept an older checkpoint.
  LV_ASSIGN_OR_RETURN(uint64_t sequence,
                      committer_->CommitWithCheckpoint(rocksdb::WriteBatch(), std::move(entry)));
  log_recovery_ = LogRecovery{*found, sequence};
  return absl::OkStatus();
}

Vault::~Vault() { Shutdown(); }

absl::StatusOr<KeyHierarchy::Rotation> Vault::RotateMasterKey(
    const Actor& actor, std::vector<keys::SecretBytes> source) {
  LV_ASSIGN_OR_RETURN(KeyHierarchy::Rotation rotation, keys_->Rotate(actor, std::move(source)));
  key_rewrap_->Rotated(rotation.version);
  return rotation;
}

absl::StatusOr<BackupSummary> Vault::CreateBackup(const Actor& actor,
                                                  const std::string& backup_dir) {
  std::string data_dir = data_dir_;
  if (const size_t slash = data_dir.rfind('/'); slash != std::string::npos && slash > 0) {
    data_dir.resize(slash);  // the daemon's data dir holds the database's
  }
  LV_RETURN_IF_ERROR(CheckBackupDir(backup_dir, data_dir));
  absl::MutexLock one_at_a_time(&backup_mu_);  // one writable BackupEngine per directory
  LV_ASSIGN_OR_RETURN(BackupSummary backup,
                      vault::CreateBackup(*database_, backup_dir, audit_log().size()));
  audit::AuditEntry entry = EntryFor(actor, "CreateBackup");
  entry.fields = {absl::StrCat("backup_id=", backup.id), absl::StrCat("bytes=", backup.bytes),
                  absl::StrCat("files=", backup.files),
                  absl::StrCat("audit_size=", backup.audit_size)};
  LV_RETURN_IF_ERROR(committer_->Commit(rocksdb::WriteBatch(), std::move(entry)).status());
  return backup;
}

absl::Status Vault::RetireMasterKey(const Actor& actor, uint32_t version) {
  return keys_->Retire(actor, version, [this](uint32_t v) -> absl::StatusOr<uint64_t> {
    LV_ASSIGN_OR_RETURN(auto counts, leads_->CountDataKeysByVersion());
    auto it = counts.find(v);
    return it == counts.end() ? 0 : it->second;
  });
}

absl::StatusOr<MasterKeyStatus> Vault::GetMasterKeyStatus(const Actor& actor, bool progress_only) {
  MasterKeyStatus status;
  // The progress first: a pass done before the count is done for the count.
  status.rewrap = key_rewrap_->progress();
  status.current = keys_->kek_version();
  status.in_use = keys_->kek_versions();
  if (!progress_only) {
    LV_ASSIGN_OR_RETURN(status.data_keys, leads_->CountDataKeysByVersion());
  }
  audit::AuditEntry entry = EntryFor(actor, "GetMasterKeyStatus");
  entry.fields = {absl::StrCat("current=", status.current),
                  absl::StrCat("in_use=", absl::StrJoin(status.in_use, ","))};
  if (progress_only) entry.fields.push_back("progress_only=1");
  for (const auto& [version, count] : status.data_keys) {
    entry.fields.push_back(absl::StrCat("keys.", version, "=", count));
  }
  entry.fields.push_back(absl::StrCat("rewrap.done=", status.rewrap.done ? 1 : 0));
  LV_RETURN_IF_ERROR(committer_->Commit(rocksdb::WriteBatch(), std::move(entry)).status());
  return status;
}

absl::Status Vault::StorageHealth() const {
  if (database_->HasBackgroundError()) {
    return absl::UnavailableError("storage holds an error; the vault recovers once it clears");
  }
  if (absl::Status journal = committer_->journal_error(); !journal.ok()) return journal;
  std::optional<uint64_t> free = database_->FreeBytes();
  if (free.has_value() && *free < database_->min_free_bytes()) {
    return WithReason(absl::ResourceExhaustedError("storage nearly full"), "STORAGE_FULL");
  }
  return absl::OkStatus();
}

void Vault::Shutdown() {
  // The re-stamping commits through the committer: it stops first.
  if (retention_policy_ != nullptr) retention_policy_->SetListener(nullptr);
  if (retention_recompute_ != nullptr) retention_recompute_->Stop();
  if (key_rewrap_ != nullptr) key_rewrap_->Stop();
  if (committer_ != nullptr) committer_->Stop();
  if (database_ != nullptr) IgnoreError(database_->Flush());
}

namespace {

audit::AuditEntry FailureEntry(const Actor& actor, std::string action,
                               std::vector<std::string> lead_ids, const absl::Status& status,
                               std::string subject) {
  audit::AuditEntry entry = EntryFor(actor, std::move(action));
  entry.subject = std::move(subject);
  entry.outcome = audit::OutcomeForCode(status.code());
  entry.code = static_cast<int>(status.code());
  entry.lead_ids = std::move(lead_ids);
  return entry;
}

}  // namespace

void Vault::RecordFailureAsync(const Actor& actor, std::string action,
                               std::vector<std::string> lead_ids, const absl::Status& status,
                               std::string subject, std::function<void(absl::Status)> done) {
  committer_->CommitAsync(
      rocksdb::WriteBatch(),
      FailureEntry(actor, std::move(action), std::move(lead_ids), status, std::move(subject)),
      [done = std::move(done)](absl::StatusOr<uint64_t> seq) { done(seq.status()); });
}

void Vault::RecordRefusalTallyAsync(std::vector<std::string> tally,
                                    std::function<void(absl::Status)> done) {
  audit::AuditEntry entry;
  entry.principal_id = "system";
  entry.role = "system";
  entry.action = "RefusedCalls";
  entry.outcome = audit::Outcome::kFailed;
  entry.code = static_cast<int>(absl::StatusCode::kResourceExhausted);
  entry.fields = std::move(tally);
  committer_->CommitAsync(
      rocksdb::WriteBatch(), std::move(entry),
      [done = std::move(done)](absl::StatusOr<uint64_t> seq) { done(seq.status()); });
}

absl::Status Vault::RecordFailure(const Actor& actor, std::string action,
                                  std::vector<std::string> lead_ids, const absl::Status& status,
                                  std::string subject) {
  return committer_
      ->Commit(rocksdb::WriteBatch(), FailureEntry(actor, std::move(action), std::move(lead_ids),
                                                   status, std::move(subject)))
      .status();
}

namespace {

// An admin principal the vault itself creates (`request_id` names why).
NewPrincipal SystemAdmin(Actor& system, const char* request_id, const char* name) {
  system.request_id = request_id;
  NewPrincipal admin;
  admin.display_name = name;
  admin.roles = {"admin"};
  return admin;
}

}  // namespace

absl::StatusOr<IssuedToken> Vault::BootstrapAdmin() {
  Actor system = SystemActor();
  NewPrincipal admin = SystemAdmin(system, "bootstrap", "bootstrap admin");
  return principals_->CreateFirst(system, std::move(admin));
}

absl::StatusOr<IssuedToken> Vault::RecoverAdmin() {
  if (principals_->HasUsableAdmin()) {
    return absl::FailedPreconditionError("recovery admin: an enabled admin holds a live token");
  }
  Actor system = SystemActor();
  NewPrincipal admin = SystemAdmin(system, "restore-recovery", "recovery admin");
  return principals_->Create(system, std::move(admin));
}

}  // namespace leadvault::vault
