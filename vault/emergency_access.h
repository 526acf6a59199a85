// Emergency access ("break glass", HIPAA 164.312(a)(2)(ii)): short,
// time-limited grants with a written reason.
#ifndef LEADVAULT_VAULT_EMERGENCY_ACCESS_H_
#define LEADVAULT_VAULT_EMERGENCY_ACCESS_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "keys/random.h"
#include "vault/access_policy.h"
#include "vault/actor.h"
#include "vault/clock.h"
#include "vault/committer.h"
#include "vault/database.h"
#include "vault/key_claims.h"

namespace leadvault::vault {

inline constexpr absl::Duration kMaxEmergencyAccess = absl::Minutes(60);
inline constexpr size_t kMaxEmergencyLeads = 20;
inline constexpr size_t kMinEmergencyReason = 10;
inline constexpr size_t kMaxEmergencyReason = 1000;
// Bounds on break-glass: grants open at once (per principal and in all), and
// openings per rolling hour (per principal, and by intake principals in all:
// compliance has no site-wide hourly budget, so a flood of desk grants cannot
// lock the second person out). Past them an opening is RESOURCE_EXHAUSTED,
// logged as a warning and counted (refused_count()).
inline constexpr size_t kMaxOpenGrantsPerPrincipal = 3;
inline constexpr size_t kMaxOpenGrants = 100;
inline constexpr size_t kMaxGrantOpeningsPerPrincipalPerHour = 5;
inline constexpr size_t kMaxGrantOpeningsPerHour = 50;
// ListEmergencyAccess pages.
inline constexpr int kDefaultGrantPageSize = 50;
inline constexpr int kMaxGrantPageSize = 200;

struct EmergencyGrant {
  // 32 lower-case hex: the opening time (micros, big-endian) then 8 random
  // bytes, so ids sort by opening time (grants from before: 16 hex, random).
  std::string id;
  std::string principal_id;
  std::string role;                   // the roles the grant was opened under
  std::string reason;                 // the written reason (as the person wrote it)
  std::vector<std::string> lead_ids;  // binary lead ids it covers
  absl::Time opened_at;
  absl::Time expires_at;
  absl::Time closed_at = absl::InfinitePast();  // closed early (InfinitePast: not closed)
  std::string closed_by;
  bool OpenAt(absl::Time now) const {
    return now < expires_at && closed_at == absl::InfinitePast();
  }
};

struct GrantPage {
  std::vector<EmergencyGrant> grants;  // newest first
  std::string next_page_token;         // empty on the last page
};

// Whether a lead is in the scope of an actor's roles that may call `rpc`
// (implemented by the LeadStore): OK, or NOT_FOUND exactly as for a missing lead.
class LeadScope {
 public:
  virtual ~LeadScope() = default;
  virtual absl::Status CheckInScope(const Actor& actor, const std::string& lead_id, Rpc rpc) = 0;
};

// Grants of emergency access, kept in `meta` ("breakglass/<id>"); the open ones
// also in memory (at most kMaxOpenGrants; expired ones leave memory, never the
// store or the log). A grant lets its principal read the leads it names in
// full, with purpose "emergency", until it expires (at most 60 minutes) or is
// closed; every such read carries the grant's reason in its audit entry. A
// grant names only leads already in its opener's scope: break-glass lifts the
// projection and purpose rules, never the scope (a lead of another service
// line needs a compliance officer's grant). Opening and closing are audited
// changes; opening also logs a warning (no data in it) and is counted.
// Thread-safe.
class EmergencyAccessStore {
 public:
  static absl::StatusOr<std::unique_ptr<EmergencyAccessStore>> Open(Database* db,
                                                                    Committer* committer,
                                                                    const Clock* clock,
                                                                    keys::Random* random);

  // REQUIRES: called once, before any OpenGrant; `scope` outlives the store.
  void SetLeadScope(LeadScope* scope) { scope_ = scope; }

  // Opens a grant for `actor` over `lead_ids` (binary, 1..20, each in the
  // actor's scope) for `duration` (1 s..60 min) with a written `reason`
  // (10..1000 characters of text). INVALID_ARGUMENT naming the field and rule;
  // NOT_FOUND for a lead missing or out of scope (the same answer);
  // RESOURCE_EXHAUSTED past a bound above.
  absl::StatusOr<EmergencyGrant> OpenGrant(const Actor& actor, const std::string& reason,
                                           std::vector<std::string> lead_ids,
                                           absl::Duration duration);
  // One page of the grants (open_only: those open now), newest first; audited.
  // `page_size` 0 means kDefaultGrantPageSize; `page_token` is the last id of
  // the previous page. INVALID_ARGUMENT for a bad size or token.
  absl::StatusOr<GrantPage> List(const Actor& actor, bool open_only, int page_size,
                                 const std::string& page_token);
  // Ends a grant early; NOT_FOUND if unknown, FAILED_PRECONDITION if no longer
  // open, ABORTED while its opening is still being committed. The grant stops
  // working for reads that check it after the close begins (and works again
  // if the commit fails); a read that passed its check just before may still
  // complete, and its entry then follows the close in the log.
  absl::StatusOr<EmergencyGrant> Close(const Actor& actor, const std::string& grant_id);

  // The grant that lets `principal_id` read `lead_id` now, if one is open.
  std::optional<EmergencyGrant> ActiveGrant(const std::string& principal_id,
                                            const std::string& lead_id) const;

  uint64_t opened_count() const { return opened_.load(); }
  // Grants open now (for /metrics).
  size_t open_count() const;
  uint64_t refused_count() const { return refused_.load(); }

 private:
  EmergencyAccessStore(Database* db, Committer* committer, const Clock* clock, keys::Random* random)
      : db_(db), committer_(committer), clock_(clock), random_(random) {}
  absl::Status Persist(const Actor& actor, const char* action, const EmergencyGrant& grant);
  // Drops expired grants and openings older than an hour.
  void PruneLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RESOURCE_EXHAUSTED if `principal_id` may not open another grant now (OpenGrant
  // tags it EMERGENCY_GRANT_LIMIT).
  absl::Status CheckBoundsLocked(const std::string& principal_id, bool compliance) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  Database* const db_;
  Committer* const committer_;
  const Clock* const clock_;
  keys::Random* const random_;
  LeadScope* scope_ = nullptr;  // set once before use
  std::atomic<uint64_t> opened_{0};
  std::atomic<uint64_t> refused_{0};

  KeyClaims claims_;
  mutable absl::Mutex mu_;
  // Open grants (and, until pruned, ones that just expired): at most
  // kMaxOpenGrants. A grant being opened is here but not active until its
  // opening is durable; a grant being closed is inactive while that commits.
  struct Slot {
    EmergencyGrant grant;
    bool active = false;
  };
  std::vector<Slot> open_ ABSL_GUARDED_BY(mu_);
  // Openings in the last hour, oldest first; includes grants being committed,
  // so concurrent openings cannot pass the bounds together.
  struct Opening {
    absl::Time at;
    std::string principal_id;
    bool compliance = false;  // opened under the compliance role
  };
  std::deque<Opening> openings_ ABSL_GUARDED_BY(mu_);
  absl::Time last_opened_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_EMERGENCY_ACCESS_H_
