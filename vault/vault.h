// Vault: opens a data dir and wires the storage, keys, committer and stores.
#ifndef LEADVAULT_VAULT_VAULT_H_
#define LEADVAULT_VAULT_VAULT_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "vault/audit_access.h"
#include "vault/backup.h"
#include "vault/backup_restore.h"
#include "vault/clock.h"
#include "vault/committer.h"
#include "vault/consent_ledger.h"
#include "vault/consent_store.h"
#include "vault/database.h"
#include "vault/emergency_access.h"
#include "vault/funnel.h"
#include "vault/funnel_report.h"
#include "vault/key_hierarchy.h"
#include "vault/key_rewrap.h"
#include "vault/lead_store.h"
#include "vault/legal_hold.h"
#include "vault/principal_store.h"
#include "vault/retention_policy_store.h"
#include "vault/retention_recompute.h"
#include "vault/retention_sweep.h"

namespace leadvault::vault {

struct VaultOptions {
  std::string data_dir;
  DatabaseOptions database;
  const Clock* clock = nullptr;    // nullptr: the system clock
  keys::Random* random = nullptr;  // nullptr: the system CSPRNG
  CommitterOptions committer;
  // Operator repair (leadvaultd --rebuild-disclosure-index): if the start-up
  // check finds the disclosure index does not match the log, rebuild it from
  // the log, committed with a "RebuildDisclosureIndex" audit entry, instead
  // of refusing to open.
  bool rebuild_disclosure_index = false;
  // The audit high-water mark (vault/high_water_mark.h); empty: a file in
  // data_dir. The daemon keeps it beside the database directory, so a
  // restored or damaged database cannot take it along.
  std::string high_water_file;
  // Operator recovery (leadvaultd --recover-lost-log-tail): open a database
  // whose WAL tail is damaged by dropping the tail, and a log shorter than or
  // inconsistent with the high-water mark, instead of refusing with
  // DATA_LOSS. Always recorded: Open commits a "RecoverLostLogTail" audit
  // entry (with a new checkpoint) naming both sizes and whether a loss was found.
  bool recover_lost_log_tail = false;
  // The audit journal (vault/audit_journal.h), outside the database; empty:
  // none. A journal holding entries beyond the log is refused at Open
  // (FAILED_PRECONDITION) unless `restore` says a backup was restored, or
  // the lost tail is accepted (it is then cut back to the log).
  std::string audit_journal_file;
  // Set after `leadvaultctl backup restore`: Open replays the journal before
  // anything else runs (ReplayJournal), checking it also against the
  // high-water marks from before the restore: `pre_restore_high_water` (the
  // data dir's) and `journal_high_water` (the one beside the journal). With
  // neither the replay is refused unless `without_high_water` (the
  // operator's choice: nothing then shows the journal is complete). With
  // `without_journal` (the operator's choice when the journal is lost)
  // nothing is replayed. Either choice is recorded in the
  // "RestoreFromBackup" entry. The result is in restore_result().
  struct Restore {
    bool pending = false;
    std::optional<std::string> pre_restore_high_water;
    std::optional<std::string> journal_high_water;
    bool without_high_water = false;
    bool without_journal = false;
  };
  Restore restore;
  // Re-stamping leads after a retention policy change, and the backfill of
  // leads without an expiry row (vault/retention_recompute.h).
  RetentionRecomputeOptions retention_recompute;
  // Moving data keys to the current master-key version (vault/key_rewrap.h).
  KeyRewrapOptions key_rewrap;
  // The campaign labels funnel reports name (vault/funnel_report.h); every
  // other campaign is reported as "(other)". ValidateCampaignLabels.
  std::vector<std::string> funnel_campaigns;
  // Benchmark only (leadvault-bench funnel's cost comparison; no daemon flag
  // sets it): lead changes stage no funnel aggregates.
  bool omit_funnel_for_benchmark = false;
};

// What `leadvaultctl keys status` shows (Vault::MasterKeyStatus).
struct MasterKeyStatus {
  uint32_t current = 0;
  std::vector<uint32_t> in_use;            // versions, ascending
  std::map<uint32_t, uint64_t> data_keys;  // by the version they are wrapped under
  KeyRewrap::Progress rewrap;
};

// The open vault. Members are constructed in dependency order and destroyed in
// reverse: the committer drains before the database closes.
class Vault {
 public:
  // Opens (or initializes) the vault in options.data_dir with master key `kek`.
  // On an existing data dir the key is checked first, without opening the
  // database for writing: a wrong key fails with FAILED_PRECONDITION and leaves
  // the data untouched. The disclosure index is then cross-checked against the
  // whole audit log (vault/disclosure_index.h): a mismatch is DATA_LOSS naming
  // the first bad sequence, unless options.rebuild_disclosure_index. A log
  // shorter than or inconsistent with the newest checkpoint the vault ever
  // served (the high-water mark), or a damaged WAL, is DATA_LOSS naming both
  // sizes, unless options.recover_lost_log_tail.
  // `keks` are the master keys of the key source (vault/key_hierarchy.h):
  // one, or several during a rotation.
  static absl::StatusOr<std::unique_ptr<Vault>> Open(const VaultOptions& options,
                                                     std::vector<keys::SecretBytes> keks);
  static absl::StatusOr<std::unique_ptr<Vault>> Open(const VaultOptions& options,
                                                     keys::SecretBytes kek);
  ~Vault();

  LeadStore& leads() { return *leads_; }
  ConsentStore& consent() { return *consent_; }
  RetentionSweeper& retention() { return *retention_; }
  LegalHolds& holds() { return *holds_; }
  RetentionPolicyStore& retention_policy() { return *retention_policy_; }
  RetentionRecompute& retention_recompute() { return *retention_recompute_; }
  const ConsentLedger& consent_ledger() const { return *ledger_; }
  PrincipalStore& principals() { return *principals_; }
  Committer& committer() { return *committer_; }
  AuditLog& audit_log() { return committer_->audit_log(); }
  AuditAccess& audit() { return *audit_; }
  EmergencyAccessStore& emergency() { return *emergency_; }
  FunnelReports& funnel() { return *funnel_reports_; }
  // As of the merge log's last fold or catch-up (FunnelTable); FunnelReports
  // catches up first.
  const FunnelTable& funnel_table() const { return *funnel_; }
  Database& database() { return *database_; }
  const Clock& clock() const { return *clock_; }

  // Master-key rotation (admin). RotateMasterKey adds the one new key in
  // `source` (the key source read again) as the current version and starts
  // the re-wrap of every data key (KeyHierarchy::Rotate, KeyRewrap);
  // RetireMasterKey retires a version nothing is wrapped under
  // (KeyHierarchy::Retire). Each is audited by the call it makes.
  absl::StatusOr<KeyHierarchy::Rotation> RotateMasterKey(const Actor& actor,
                                                         std::vector<keys::SecretBytes> source);
  absl::Status RetireMasterKey(const Actor& actor, uint32_t version);

  // A consistent backup of the database into `backup_dir` (CheckBackupDir
  // against the data dir holding the database) while the vault serves; one
  // audit entry "CreateBackup" by `actor` ("backup_id=N", "bytes=", "files=",
  // "audit_size=") on success.
  absl::StatusOr<BackupSummary> CreateBackup(const Actor& actor, const std::string& backup_dir);
  // The versions, the data keys under each and the re-wrap's progress; one
  // audit entry "GetMasterKeyStatus" by `actor` with the counts
  // ("current=V", "in_use=1,2", "keys.V=N", "rewrap.done=0|1"). With
  // `progress_only` the data keys are not counted (a scan of every one):
  // "progress_only=1" instead of "keys.V=N".
  absl::StatusOr<MasterKeyStatus> GetMasterKeyStatus(const Actor& actor,
                                                     bool progress_only = false);
  KeyRewrap& key_rewrap() { return *key_rewrap_; }
  const KeyHierarchy& key_hierarchy() const { return *keys_; }
  // What the start's restore replay did (VaultOptions::restore), if any.
  const std::optional<JournalReplay>& restore_result() const { return restore_result_; }
  // Entries of a group that a crash interrupted between its journal append
  // and its database write, cut from the journal at this start (0: none).
  uint64_t journal_interrupted_group() const { return journal_interrupted_group_; }

  // When no enabled admin holds a live token (after a restore that ended a
  // rotated admin token, say; the daemon asks after a restore, or when its
  // operator does with --issue-recovery-admin): creates a "recovery admin"
  // principal and returns its token, as BootstrapAdmin() does for a new
  // vault; audited as "CreatePrincipal" by system, request
  // "restore-recovery". FAILED_PRECONDITION otherwise.
  absl::StatusOr<IssuedToken> RecoverAdmin();

  // If no principal exists, creates the first admin principal and returns its
  // token (to be shown once); otherwise ALREADY_EXISTS.
  absl::StatusOr<IssuedToken> BootstrapAdmin();

  // Records a call that failed before or inside its vault operation (which then
  // wrote nothing): one audit entry for `action` by `actor` with the outcome
  // and code of `status` (which must not be OK) and the lead ids (text form)
  // the request named; `subject` as in AuditEntry. `done` runs on the
  // committer thread once the entry is durable, or with UNAVAILABLE if it
  // could not be written.
  void RecordFailureAsync(const Actor& actor, std::string action, std::vector<std::string> lead_ids,
                          const absl::Status& status, std::string subject,
                          std::function<void(absl::Status)> done);
  absl::Status RecordFailure(const Actor& actor, std::string action,
                             std::vector<std::string> lead_ids, const absl::Status& status,
                             std::string subject);
  // Records calls refused (overload, drain) without an entry of their own, as
  // one entry by principal "system", action "RefusedCalls", outcome failed,
  // code RESOURCE_EXHAUSTED, whose fields are `tally` ("calls=N" and
  // "PRINCIPAL:ACTION=n": ids and counts only). `done` as in RecordFailureAsync.
  void RecordRefusalTallyAsync(std::vector<std::string> tally,
                               std::function<void(absl::Status)> done);

  // The sequence of the RebuildDisclosureIndex entry Open() committed; 0 if
  // the index needed no rebuild.
  uint64_t disclosure_index_rebuild_sequence() const { return disclosure_index_rebuild_sequence_; }

  // What Open() found and recorded under options.recover_lost_log_tail.
  struct LogRecovery {
    LostTail found;
    uint64_t sequence = 0;  // the RecoverLostLogTail entry
  };
  const std::optional<LogRecovery>& log_recovery() const { return log_recovery_; }

  // OK while the database accepts writes. Otherwise the reason, without a
  // path or RocksDB text: RESOURCE_EXHAUSTED while free space on the data
  // dir's filesystem is below the headroom the vault keeps, UNAVAILABLE while
  // the database holds a background error (it recovers by itself once the
  // cause is gone). Cheap and non-blocking: health checks call it.
  absl::Status StorageHealth() const;

  // Stops the retention re-stamping (after its batch in hand), drains the
  // committer and flushes the database; further writes fail.
  void Shutdown();

 private:
  Vault() = default;
  absl::Status CheckDisclosureIndexAtOpen(bool rebuild);
  absl::Status RecordLogRecovery();
  SystemClock system_clock_;
  const Clock* clock_ = nullptr;
  keys::Random* random_ = nullptr;
  std::unique_ptr<Database> database_;
  FunnelCampaigns funnel_campaigns_;
  std::unique_ptr<FunnelTable> funnel_;  // before the committer, which feeds it
  std::unique_ptr<Committer> committer_;
  std::unique_ptr<KeyHierarchy> keys_;
  std::unique_ptr<EmergencyAccessStore> emergency_;
  std::unique_ptr<ConsentLedger> ledger_;
  std::unique_ptr<RetentionPolicyStore> retention_policy_;
  std::unique_ptr<LeadStore> leads_;
  std::unique_ptr<ConsentStore> consent_;
  std::unique_ptr<RetentionSweeper> retention_;
  std::unique_ptr<LegalHolds> holds_;
  std::unique_ptr<PrincipalStore> principals_;
  std::unique_ptr<AuditAccess> audit_;
  std::unique_ptr<RetentionRecompute> retention_recompute_;
  std::unique_ptr<KeyRewrap> key_rewrap_;
  std::unique_ptr<FunnelReports> funnel_reports_;
  uint64_t disclosure_index_rebuild_sequence_ = 0;
  std::optional<JournalReplay> restore_result_;
  uint64_t journal_interrupted_group_ = 0;
  std::string data_dir_;   // VaultOptions::data_dir
  absl::Mutex backup_mu_;  // serializes CreateBackup
  std::optional<LogRecovery> log_recovery_;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_VAULT_H_
