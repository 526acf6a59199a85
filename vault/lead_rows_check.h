// CheckLeadRows: an offline consistency check of the rows leads own
// (vault/lead_rows.h), for `leadvaultctl check`: every row a lead record names
// is there, and every row naming a lead or a receipt names one that exists.
// After a crash in the middle of purges, every lead must be either whole or
// gone: a missing row or an orphan is what this finds.
#ifndef LEADVAULT_VAULT_LEAD_ROWS_CHECK_H_
#define LEADVAULT_VAULT_LEAD_ROWS_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vault/database.h"

namespace leadvault::vault {

// At most this many problems are named in a report (all are counted).
inline constexpr size_t kMaxNamedRowProblems = 20;

struct LeadRowsReport {
  uint64_t leads = 0;     // lead records
  uint64_t receipts = 0;  // receipt records
  uint64_t rows = 0;      // rows examined in leads, dek, bidx, queue, expiry, consent, meta
  uint64_t missing = 0;   // rows a lead record names that are absent
  uint64_t orphans = 0;   // rows naming a lead or receipt that does not exist, or stale ones
  // Leads that are gone but whose consent events remain: the consent skeleton
  // outlives the lead by design (SECURITY.md, "Consent"); not a problem.
  uint64_t consent_skeletons = 0;
  // The first kMaxNamedRowProblems problems, e.g. "lead 00ff..: its dek row
  // is missing" or "bidx row names lead 00ff.., which does not exist". Lead
  // and receipt ids only: no token, no value.
  std::vector<std::string> problems;
  // OK when there is no missing row and no orphan; else DATA_LOSS naming the
  // first problem.
  absl::Status result;
};

// Reads one snapshot of `db` (a read-only open is enough; no key is needed:
// record MACs are not verified here, only which rows exist). Holds every
// lead's id and index keys in memory while it runs (about 200 bytes a lead).
absl::StatusOr<LeadRowsReport> CheckLeadRows(Database& db);

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_LEAD_ROWS_CHECK_H_
