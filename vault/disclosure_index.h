// The lead -> disclosure index (`audit_lead`) and its cross-check against the
// audit log. The index lives outside the Merkle tree, so an accounting of
// disclosures built from it is only complete if the index holds exactly the
// rows the log calls for; this is what proves it.
#ifndef LEADVAULT_VAULT_DISCLOSURE_INDEX_H_
#define LEADVAULT_VAULT_DISCLOSURE_INDEX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/audit_entry.h"
#include "keys/random.h"
#include "rocksdb/write_batch.h"
#include "vault/database.h"

namespace leadvault::vault {

// True for an entry that disclosed a lead's personal data to its caller (an
// allowed read that returned a field, a look-up that matched it, or a
// submission told of it by a match: that the person is a lead is itself
// health information): what an accounting of disclosures lists. A read for
// outreach whose fields were all withheld disclosed nothing.
bool IsPiiDisclosure(const audit::AuditEntry& entry);

// A disclosure entry indexes at most this many leads (a read names one, a
// look-up at most kMaxFindResults).
inline constexpr size_t kMaxIndexedLeadsPerEntry = 16;

// The `audit_lead` keys `entry` owns: lead id (binary) || sequence for each
// distinct lead a disclosure (IsPiiDisclosure) names, in the entry's order;
// none for any other entry or one naming more than kMaxIndexedLeadsPerEntry
// leads. The one definition used both to write the index and to check it.
std::vector<std::string> DisclosureIndexKeys(const audit::AuditEntry& entry);

// What a cross-check of the index against the log found. Counts and
// sequences only: never a lead id or any other data.
struct DisclosureIndexReport {
  uint64_t entries = 0;        // audit entries scanned: 1..entries, the whole log
  uint64_t last_checked = 0;   // log size at the last passing check the vault recorded (0: none)
  uint64_t disclosures = 0;    // of them, entries that own index rows
  uint64_t expected_rows = 0;  // index rows the log calls for
  uint64_t index_rows = 0;     // rows found in `audit_lead`
  uint64_t missing_rows = 0;   // expected rows absent from the index
  uint64_t bogus_rows = 0;     // index rows no disclosure entry calls for
  // OK if the index is exactly what the log calls for; else DATA_LOSS naming
  // the first entry lacking a row and the first sequence a bogus row points to.
  absl::Status result;
};

// Checks, over one snapshot of `db`, that every disclosure entry of the whole
// log has its index rows and that every index row points to a disclosure
// entry naming that lead. Costs one sequential pass over each of the two
// column families (the rows compared as sums of a keyed hash under a key
// drawn from `random` for this check); only on a mismatch, a second pass
// looks the rows up one by one to name the first bad sequences. Works on a
// read-only Database. Returns the report (whose `result` carries a mismatch);
// DATA_LOSS if the log itself has a gap or a malformed entry, or is shorter
// than at the last recorded check; UNAVAILABLE on a storage error.
// REQUIRES: keys::InitCrypto() has succeeded.
absl::StatusOr<DisclosureIndexReport> CheckDisclosureIndex(Database& db, keys::Random& random);

// Records in `meta` how far a passing check reached: a durable write, only
// if it moved, made directly rather than through the Committer (it is
// bookkeeping of the check, not a change the log describes, like AuditLog's
// tree upgrade at open). The record is never trusted to skip anything: every
// check covers the whole log, so an edited record hides no row. It only lets
// a log that shrank since be refused, and tells an operator how far the
// index was last proven. REQUIRES: report.result is OK.
absl::Status RecordDisclosureIndexCheck(Database& db, const DisclosureIndexReport& report);

// Adds to `batch` the deletion of every `audit_lead` row and the rows the
// entries 1..`log_size` call for: a rebuild of the index from the log, to be
// committed through the Committer. Reads one snapshot of `db`; the caller
// must keep anything else from committing until the batch is written.
absl::Status StageDisclosureIndexRebuild(Database& db, uint64_t log_size,
                                         rocksdb::WriteBatch& batch);

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_DISCLOSURE_INDEX_H_
