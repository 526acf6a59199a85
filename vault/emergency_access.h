// Emergency access ("break glass", HIPAA 164.312(a)(2)(ii)): short,
// time-limited grants with a written reason.
#ifndef LEADVAULT_VAULT_EMERGENCY_ACCESS_H_
#define LEADVAULT_VAULT_EMERGENCY_ACCESS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "keys/random.h"
#include "vault/actor.h"
#include "vault/clock.h"
#include "vault/committer.h"
#include "vault/database.h"
#include "vault/key_claims.h"

namespace leadvault::vault {

inline constexpr absl::Duration kMaxEmergencyAccess = absl::Minutes(60);
inline constexpr size_t kMaxEmergencyLeads = 20;

struct EmergencyGrant {
  std::string id;  // 16 lower-case hex
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

// Grants of emergency access, kept in `meta` ("breakglass/<id>") and in memory.
// A grant lets its principal read the leads it names in full, with purpose
// "emergency", until it expires (at most 60 minutes) or is closed; every such
// read carries the grant's reason in its audit entry. Opening and closing are
// audited changes; opening also logs a warning (no data in it) and is counted.
// Thread-safe.
class EmergencyAccessStore {
 public:
  static absl::StatusOr<std::unique_ptr<EmergencyAccessStore>> Open(Database* db,
                                                                    Committer* committer,
                                                                    const Clock* clock,
                                                                    keys::Random* random);

  // Opens a grant for `actor` over `lead_ids` (binary, 1..20) for `duration`
  // (1 s..60 min) with a written `reason` (10..1000 characters of text).
  // INVALID_ARGUMENT naming the field and rule otherwise.
  absl::StatusOr<EmergencyGrant> OpenGrant(const Actor& actor, const std::string& reason,
                                           std::vector<std::string> lead_ids,
                                           absl::Duration duration);
  // Every grant (open_only: those open now), newest first; audited.
  absl::StatusOr<std::vector<EmergencyGrant>> List(const Actor& actor, bool open_only);
  // Ends a grant early; NOT_FOUND if unknown, FAILED_PRECONDITION if no longer open.
  absl::StatusOr<EmergencyGrant> Close(const Actor& actor, const std::string& grant_id);

  // The grant that lets `principal_id` read `lead_id` now, if one is open.
  std::optional<EmergencyGrant> ActiveGrant(const std::string& principal_id,
                                            const std::string& lead_id) const;

  uint64_t opened_count() const { return opened_.load(); }

 private:
  EmergencyAccessStore(Database* db, Committer* committer, const Clock* clock, keys::Random* random)
      : db_(db), committer_(committer), clock_(clock), random_(random) {}
  absl::Status Persist(const Actor& actor, const char* action, const EmergencyGrant& grant);

  Database* const db_;
  Committer* const committer_;
  const Clock* const clock_;
  keys::Random* const random_;
  std::atomic<uint64_t> opened_{0};

  KeyClaims claims_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, EmergencyGrant> grants_ ABSL_GUARDED_BY(mu_);
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_EMERGENCY_ACCESS_H_
