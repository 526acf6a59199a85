// Legal holds (issue 11): a compliance officer puts a lead under hold, with a
// written reason, when it may be evidence (litigation, an investigation, an
// audit). While any hold is on a lead, nothing purges it: not a retention
// sweep (it counts the lead as held and leaves its expiry row for the next
// sweep), not a deletion request (FAILED_PRECONDITION naming the hold:
// LeadStore::PreparePurge decides under the lead's claim). Placing and
// releasing are audited changes whose entries carry the reason; the hold
// itself is a `meta` row, "hold/" || lead id || hold id, deleted on release.
#ifndef LEADVAULT_VAULT_LEGAL_HOLD_H_
#define LEADVAULT_VAULT_LEGAL_HOLD_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "keys/random.h"
#include "vault/actor.h"
#include "vault/clock.h"
#include "vault/committer.h"
#include "vault/database.h"
#include "vault/lead_store.h"

namespace leadvault::vault {

inline constexpr size_t kMaxHoldsPerLead = 16;
inline constexpr size_t kMinHoldReason = 10;
inline constexpr size_t kMaxHoldReason = 1000;
inline constexpr int kDefaultHoldPageSize = 50;
inline constexpr int kMaxHoldPageSize = 200;

struct LegalHold {
  std::string lead_id;  // binary
  std::string hold_id;  // 16 lower-case hex
  std::string reason;
  std::string placed_by;  // principal id
  absl::Time placed_at;
};

struct HoldPage {
  std::vector<LegalHold> holds;  // by lead id, then hold id
  std::string next_page_token;   // empty on the last page
};

// Thread-safe. Every call commits exactly one audit entry when it succeeds:
// "PlaceLegalHold" and "ReleaseLegalHold" name the lead, "hold_id=<id>" and
// carry the reason (AuditEntry::break_glass_reason, the field for written
// reasons); "ListLegalHolds" names the leads it listed.
class LegalHolds {
 public:
  // All pointers must outlive the object.
  LegalHolds(Database* db, Committer* committer, LeadStore* leads, const Clock* clock,
             keys::Random* random)
      : db_(db), committer_(committer), leads_(leads), clock_(clock), random_(random) {}

  // Puts lead `lead_id` (binary) under a new hold. `reason`: 10..1000
  // characters of text. NOT_FOUND if it is not a lead in the scope of an
  // actor's role that may place holds (as for a missing lead);
  // RESOURCE_EXHAUSTED past kMaxHoldsPerLead holds on the lead.
  absl::StatusOr<LegalHold> Place(const Actor& actor, const std::string& lead_id,
                                  const std::string& reason);

  // Releases hold `hold_id` on `lead_id`, with a written `reason` as above.
  // NOT_FOUND if there is no such hold (or lead) in the actor's sight.
  absl::StatusOr<LegalHold> Release(const Actor& actor, const std::string& lead_id,
                                    const std::string& hold_id, const std::string& reason);

  // For a restore (vault/restore_restrictions.h): puts back hold `hold`
  // (its id, reason, placer and time as a "PlaceLegalHold" entry at
  // `sequence` recorded them) on a lead of the restored database, as
  // "ReapplyLegalHold" naming that sequence. False (no change) if the hold
  // is there already; NOT_FOUND if the lead is not.
  absl::StatusOr<bool> Reinstate(const Actor& actor, const LegalHold& hold, uint64_t sequence);

  // One page of the holds in place, of one lead (`lead_id` binary) or of
  // every lead (empty). `page_size` 0 means kDefaultHoldPageSize; the token
  // is the previous page's. INVALID_ARGUMENT for a bad size or token.
  absl::StatusOr<HoldPage> List(const Actor& actor, const std::string& lead_id, int page_size,
                                const std::string& page_token);

 private:
  Database* const db_;
  Committer* const committer_;
  LeadStore* const leads_;
  const Clock* const clock_;
  keys::Random* const random_;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_LEGAL_HOLD_H_
