// Replaying the audit journal onto a restored backup, so a purged lead never
// comes back.
#ifndef LEADVAULT_VAULT_BACKUP_RESTORE_H_
#define LEADVAULT_VAULT_BACKUP_RESTORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vault/committer.h"
#include "vault/database.h"
#include "vault/lead_store.h"
#include "vault/restore_restrictions.h"

namespace leadvault::vault {

// What a replay did; the "RestoreFromBackup" entry carries the same counts.
struct JournalReplay {
  uint64_t restored_size = 0;           // entries the restored log held
  uint64_t replayed = 0;                // journal entries appended again (verified)
  uint64_t reapplied_purges = 0;        // leads of the backup purged again
  uint64_t released_holds = 0;          // leads whose holds the journal had released
  uint64_t reapplied_restrictions = 0;  // principals, grants and holds changed again
  uint64_t unverified_tail = 0;         // journal entries after its last checkpoint, dropped
  uint64_t sequence = 0;                // the RestoreFromBackup entry
};

// Run once at the start after `leadvaultctl backup restore`, before anything
// else commits (the vault's background passes have not started):
//   1. verify: the restored log's Merkle tree, extended with the journal's
//      entries after it, must give the root each later checkpoint in the
//      journal signs (verified with the log's own key); each of
//      `high_water_notes` (the high-water marks from before the restore:
//      the data dir's, the journal's) must be one of those trees too.
//      Anything else is DATA_LOSS, nothing written. With no note at all
//      nothing shows the journal is complete: FAILED_PRECONDITION unless
//      `without_high_water` (then "high_water=missing" is recorded);
//   2. append the verified entries again, verbatim, in groups (a crash
//      resumes: the restore base is kept in `meta`);
//   3. re-apply the restrictions made after the backup (disabled
//      principals, ended tokens, narrowed service lines, legal holds,
//      closed emergency grants, consent revocations:
//      vault/restore_restrictions.h), then purge
//      again every lead of the backup that a verified "DeleteLead" or
//      "RetentionPurge" after it purged (one "ReapplyPurge" entry each, the
//      purged sequence named; a hold the backup still has is dropped first,
//      "ReleaseHoldsOnRestore", since the journal purged the lead after its
//      release);
//   4. cut the journal's unverified tail, commit "RestoreFromBackup" with a
//      checkpoint, and re-attach the journal.
// Entries the journal holds that change other state (new leads and their
// updates, consent grants, new principals, retention policies) are in the log again
// but not re-applied: SECURITY.md says what that means.
// The stores a replay re-applies changes through.
struct ReplayStores {
  LeadStore* leads = nullptr;
  RestrictionTargets restrictions;
};
absl::StatusOr<JournalReplay> ReplayJournal(Database& db, Committer& committer,
                                            const ReplayStores& stores,
                                            const std::vector<std::string>& high_water_notes,
                                            bool without_high_water);

// With no journal at all (the operator accepted it): one "RestoreFromBackup"
// entry saying so ("journal=missing"), with a checkpoint.
absl::StatusOr<uint64_t> RecordRestoreWithoutJournal(Committer& committer);

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_BACKUP_RESTORE_H_
