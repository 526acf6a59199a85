// Principals: who may call the vault, authenticated by bearer tokens.
#ifndef LEADVAULT_VAULT_PRINCIPAL_STORE_H_
#define LEADVAULT_VAULT_PRINCIPAL_STORE_H_

#include <memory>
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
#include "vault/key_hierarchy.h"

namespace leadvault::vault {

// Roles are fixed (DESIGN.md): capture, analyst, intake, compliance, admin.
bool IsKnownRole(absl::string_view role);

inline constexpr absl::Duration kDefaultTokenTtl = absl::Hours(24 * 90);
inline constexpr absl::Duration kMaxTokenTtl = absl::Hours(24 * 366);

struct Principal {
  std::string id;  // 16 lower-case hex characters
  std::string display_name;
  std::vector<std::string> roles;
  std::vector<std::string> service_lines;
  absl::Time created_at;
  absl::Time expires_at;
  bool enabled = true;
  // After a rotation with a grace period, the old token works until then.
  absl::Time previous_token_expires_at = absl::InfinitePast();
  // Mutual TLS binding: when set (SHA-256 of the client certificate's DER, 64
  // lower-case hex), a call must present that certificate as well as the token.
  std::string client_cert_sha256;
  // The HTTP capture endpoint's webhook secret (IssueWebhookSecret): the
  // current one works until webhook_expires_at, the one before it (after an
  // issue with a grace period) until previous_webhook_expires_at.
  absl::Time webhook_expires_at = absl::InfinitePast();
  absl::Time previous_webhook_expires_at = absl::InfinitePast();
};

inline constexpr absl::Duration kMaxRotationGrace = absl::Hours(24 * 7);

struct NewPrincipal {
  std::string display_name;
  std::vector<std::string> roles;
  std::vector<std::string> service_lines;
  absl::Duration token_ttl = kDefaultTokenTtl;
  std::string client_cert_sha256;  // optional; see Principal
};

// A principal and its freshly issued token (shown once; only a keyed hash is kept).
struct IssuedToken {
  Principal principal;
  keys::SecretBytes token;  // "lv_<principal id>_<64 hex secret>"
};

// A principal's freshly issued webhook secret (shown once; only its salt is kept).
struct IssuedWebhookSecret {
  Principal principal;
  keys::SecretBytes secret;  // "lvwh_<principal id>_<64 hex>"
};

// The window around the daemon's clock in which a signed webhook request's
// timestamp is accepted.
inline constexpr absl::Duration kWebhookTimestampWindow = absl::Minutes(5);

// Keeps principals in `meta` ("principal/<id>") with a keyed BLAKE2b hash of
// their token secret, and a read-through in-memory copy for authentication.
// Token checks are constant time. Every change commits one audit entry.
// Thread-safe.
class PrincipalStore {
 public:
  // Loads every principal into memory.
  static absl::StatusOr<std::unique_ptr<PrincipalStore>> Open(Database* db, Committer* committer,
                                                              const KeyHierarchy* keys,
                                                              const Clock* clock,
                                                              keys::Random* random);

  // The principal that `token` authenticates. UNAUTHENTICATED, with the same
  // message, for a malformed, unknown, wrong, expired or disabled token.
  absl::StatusOr<Principal> Authenticate(absl::string_view token) const;

  // The capture principal whose webhook secret signed `payload` ("<unix
  // seconds>.<body>", see IssueWebhookSecret) with HMAC-SHA256 into
  // `signature` (32 bytes): its current secret, or its previous one within
  // the grace period. UNAUTHENTICATED, with one message for every cause, for
  // an unknown or disabled principal, no live secret, or a wrong signature.
  // Both secrets are checked whatever the first gives (constant time).
  absl::StatusOr<Principal> AuthenticateWebhook(absl::string_view principal_id,
                                                absl::string_view payload,
                                                absl::string_view signature) const;

  // True if no principal exists yet (a new vault).
  bool empty() const;

  absl::StatusOr<IssuedToken> Create(const Actor& actor, NewPrincipal request);
  // Creates the principal only if none exists yet (ALREADY_EXISTS otherwise);
  // concurrent callers create at most one.
  absl::StatusOr<IssuedToken> CreateFirst(const Actor& actor, NewPrincipal request);
  absl::StatusOr<std::vector<Principal>> List(const Actor& actor);
  // One page of the principals by creation time (then id): at most
  // `page_size` (0: 100; at most 1000) after the one `page_token` names
  // (empty: from the first); `next_page_token` is empty after the last.
  // INVALID_ARGUMENT for a malformed token. Each page is one audit entry
  // "ListPrincipals".
  struct Page {
    std::vector<Principal> principals;
    std::string next_page_token;
  };
  absl::StatusOr<Page> ListPage(const Actor& actor, size_t page_size,
                                const std::string& page_token);
  absl::StatusOr<Principal> Disable(const Actor& actor, const std::string& principal_id);
  // Issues a new token. The old one keeps working for `grace` (0: it stops at
  // once; at most kMaxRotationGrace, never past its own expiry), so a fleet
  // can move to the new one without an outage; disabling ends both at once.
  absl::StatusOr<IssuedToken> RotateToken(const Actor& actor, const std::string& principal_id,
                                          absl::Duration ttl,
                                          absl::Duration grace = absl::ZeroDuration());
  // Replaces the service lines the principal is scoped to (intake's scope).
  // Its entry names them ("service_lines=a,b"), so a restore can narrow them
  // again.
  absl::StatusOr<Principal> SetServiceLines(const Actor& actor, const std::string& principal_id,
                                            std::vector<std::string> service_lines);

  // Issues a webhook secret for the HTTP capture endpoint to a principal
  // that holds the capture role and no other and is not bound to a client
  // certificate (FAILED_PRECONDITION otherwise, as for a disabled one). The
  // secret is derived from a key wrapped under the master key (a subkey of
  // the token-hash key) and a random salt stored with the principal, so the
  // vault keeps no copy of it. The previous secret keeps working for `grace`
  // (0: it stops at once; at most kMaxRotationGrace); the new one for `ttl`.
  // Audited as "IssueWebhookSecret".
  absl::StatusOr<IssuedWebhookSecret> IssueWebhookSecret(const Actor& actor,
                                                         const std::string& principal_id,
                                                         absl::Duration ttl, absl::Duration grace);
  // Ends the principal's webhook secrets at once ("RevokeWebhookSecret").
  absl::StatusOr<Principal> RevokeWebhookSecret(const Actor& actor,
                                                const std::string& principal_id);

  // For a restore (vault/restore_restrictions.h), each naming the allowed
  // entry at `sequence` it re-applies, and each a no-op (no entry) when the
  // principal already has no more than that: disables the principal
  // ("ReapplyDisablePrincipal"); ends every token it has, since the one its
  // rotation issued is not in the restored database ("ReapplyRotateToken":
  // an admin issues a new one); keeps only the service lines it has that are
  // also in `service_lines` ("ReapplySetServiceLines"). NOT_FOUND for a
  // principal the restored database does not have.
  // Each returns whether it changed anything.
  absl::StatusOr<bool> ReapplyDisable(const Actor& actor, const std::string& principal_id,
                                      uint64_t sequence);
  absl::StatusOr<bool> ReapplyTokenEnd(const Actor& actor, const std::string& principal_id,
                                       uint64_t sequence);
  // Ends every webhook secret the principal has ("ReapplyWebhookSecretEnd"):
  // a secret issued or revoked after the backup is not the restored one.
  absl::StatusOr<bool> ReapplyWebhookEnd(const Actor& actor, const std::string& principal_id,
                                         uint64_t sequence);
  absl::StatusOr<bool> ReapplyServiceLines(const Actor& actor, const std::string& principal_id,
                                           const std::vector<std::string>& service_lines,
                                           uint64_t sequence);

  // True if an enabled admin holds a token that has not expired (a restore
  // that ended every admin's token issues a recovery admin when it is not).
  bool HasUsableAdmin() const;

  // The principal's display name, "" for an unknown id: a label for ids in
  // compliance replies (AccountingOfDisclosures, ListEmergencyAccess). Not
  // audited on its own: the call that shows it is.
  std::string DisplayName(const std::string& principal_id) const;

 private:
  struct Entry {
    Principal principal;
    std::string token_hash;
    std::string previous_token_hash;  // valid until principal.previous_token_expires_at
    // Webhook secrets' salts (empty: none), valid until the principal's
    // webhook_expires_at and previous_webhook_expires_at.
    std::string webhook_salt;
    std::string previous_webhook_salt;
  };

  PrincipalStore(Database* db, Committer* committer, const KeyHierarchy* keys, const Clock* clock,
                 keys::Random* random)
      : db_(db), committer_(committer), keys_(keys), clock_(clock), random_(random) {}
  // A copy of the principal's entry; NOT_FOUND if unknown.
  absl::StatusOr<Entry> Find(const std::string& principal_id) const;
  // Stores `entry` with its audit entry. What the change takes away from the
  // principal is out of use before the commit (and back if it fails); what it
  // adds is in use only after.
  absl::Status Persist(const Actor& actor, const char* action, const Entry& entry,
                       std::vector<std::string> fields);
  // The new entry with no more access than the old one (see Persist).
  static Entry Narrowest(const Entry& old_entry, const Entry& new_entry);
  keys::SecretBytes NewToken(const std::string& principal_id, std::string* hash) const;
  // Ends both webhook secrets of `entry` (no salt, no expiry).
  static void EndWebhookSecrets(Entry& entry);
  // The webhook secret of `principal_id` with `salt` ("lvwh_<id>_<64 hex>").
  keys::SecretBytes WebhookSecret(absl::string_view principal_id, absl::string_view salt) const;

  Database* const db_;
  Committer* const committer_;
  const KeyHierarchy* const keys_;
  const Clock* const clock_;
  keys::Random* const random_;
  // Derives webhook secrets (crypto_kdf of the token-hash key, "lvwhsec1").
  keys::SecretBytes webhook_key_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> principals_ ABSL_GUARDED_BY(mu_);
  // Serializes changes to one principal (read-modify-write, then its commit).
  KeyClaims claims_;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_PRINCIPAL_STORE_H_
