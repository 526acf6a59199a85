// Replaying the audit journal onto a restored backup, so a purged lead never
// comes back.
#ifndef LEADVAULT_VAULT_BACKUP_RESTORE_H_
#define LEADVAULT_VAULT_BACKUP_RESTORE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "vault/committer.h"
#include "vault/database.h"
#include "vault/lead_store.h"

namespace leadvault::vault {

// What a replay did; the "RestoreFromBackup" entry carries the same counts.
struct JournalReplay {
  uint64_t restored_size = 0;     // entries the restored log held
  uint64_t replayed = 0;          // journal entries appended again (verified)
  uint64_t reapplied_purges = 0;  // leads of the backup purged again
  uint64_t released_holds = 0;    // leads whose holds the journal had released
  uint64_t unverified_tail = 0;   // journal entries after its last checkpoint, dropped
  uint64_t sequence = 0;          // the RestoreFromBackup entry
};

// Run once at the start after `leadvaultctl backup restore`, before anything
// else commits (the vault's background passes have not started):
//   1. verify: the restored log's Merkle tree, extended with the journal's
//      entries after it, must give the root each later checkpoint in the
//      journal signs (verified with the log's own key); `high_water_note`
//      (the high-water mark from before the restore, if any) must be one of
//      those trees too. Anything else is DATA_LOSS, nothing written.
//   2. append the verified entries again, verbatim, in groups (a crash
//      resumes: the restore base is kept in `meta`);
//   3. purge again every lead of the backup that a verified "DeleteLead" or
//      "RetentionPurge" after it purged (one "ReapplyPurge" entry each, the
//      purged sequence named; a hold the backup still has is dropped first,
//      "ReleaseHoldsOnRestore", since the journal purged the lead after its
//      release);
//   4. cut the journal's unverified tail, commit "RestoreFromBackup" with a
//      checkpoint, and re-attach the journal.
// Entries the journal holds that change other state (new leads, consent,
// principals) are in the log again but not re-applied: SECURITY.md says what
// that means.
absl::StatusOr<JournalReplay> ReplayJournal(Database& db, Committer& committer, LeadStore& leads,
                                            const std::optional<std::string>& high_water_note);

// With no journal at all (the operator accepted it): one "RestoreFromBackup"
// entry saying so ("journal=missing"), with a checkpoint.
absl::StatusOr<uint64_t> RecordRestoreWithoutJournal(Committer& committer);

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_BACKUP_RESTORE_H_
