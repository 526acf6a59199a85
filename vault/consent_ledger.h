// ConsentLedger: how a lead's consent ledger is stored (no access control, no
// audit of its own: LeadStore and ConsentStore call it inside their
// operations, under the lead's claim).
//
// `consent` CF, per lead: key lead id || 0x00000000 holds the current state
// (ConsentState, MAC'd), keys lead id || n (big-endian, n = 1, 2, ...) the
// events. An event's clear skeleton and evidence are MAC'd with the record-MAC
// key and bound to the audit entry that recorded it (its field
// "consent_event=<digest>", audit/consent_proof.h); the consenting person's
// IP address is encrypted under the lead's data key together with a random
// salt, and only a commitment to it is clear. When the lead's key is shredded
// the skeleton, digests and commitment stay provable; the IP is gone.
//
// `suppress` CF: key channel (1 byte) || purpose (1 byte) || blind token of
// the phone or email (32) -> the newest revocation time: a contact revoked on
// a channel for a purpose stays suppressed there on every lead with it (also
// new ones) until that lead has a grant captured after the revocation
// (ConsentState::Decide). Third-party sharing is suppressed for every party.
#ifndef LEADVAULT_VAULT_CONSENT_LEDGER_H_
#define LEADVAULT_VAULT_CONSENT_LEDGER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/audit_entry.h"
#include "audit/consent_proof.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "rocksdb/write_batch.h"
#include "vault/committer.h"
#include "vault/consent.h"
#include "vault/database.h"
#include "vault/key_hierarchy.h"
#include "vault/lead.h"

namespace leadvault::vault {

// The blind tokens of a lead's contact fields (empty when it has none), and
// when each was last amended (InfinitePast: never).
struct ContactTokens {
  std::string email;
  std::string phone;
  absl::Time email_changed_at = absl::InfinitePast();
  absl::Time phone_changed_at = absl::InfinitePast();
  // The token a channel's contact is reached by: phone for sms and voice,
  // email for email.
  const std::string& For(ConsentChannel channel) const {
    return channel == ConsentChannel::kEmail ? email : phone;
  }
};

// The event as its proof shows it (audit/consent_proof.h), for lead `lead_id` (binary).
audit::ConsentProofEvent ToProofEvent(absl::string_view lead_id, const ConsentEvent& event);

class ConsentLedger {
 public:
  // Both must outlive the ledger.
  ConsentLedger(Database* db, const KeyHierarchy* keys) : db_(db), keys_(keys) {}

  // The key of a lead's state row (for a MultiGet with its record).
  static std::string StateKey(absl::string_view lead_id);
  // The state from its row as read (NOT_FOUND: an empty ledger); DATA_LOSS if
  // it fails authentication.
  absl::StatusOr<ConsentState> ParseState(absl::string_view lead_id,
                                          const absl::StatusOr<std::string>& row) const;
  absl::StatusOr<ConsentState> ReadState(absl::string_view lead_id) const;

  // When `token` was last revoked on `channel` for `purpose`; nullopt if never.
  absl::StatusOr<std::optional<absl::Time>> SuppressedAt(ConsentChannel channel,
                                                         ConsentPurpose purpose,
                                                         absl::string_view token) const;
  // The decision for a lead whose state and tokens are known. A grant given no
  // later than the channel's contact was amended does not cover it: contact_changed.
  absl::StatusOr<ConsentDecision> Decide(const ConsentState& state, const ContactTokens& tokens,
                                         ConsentChannel channel, ConsentPurpose purpose,
                                         absl::string_view third_party) const;

  // Events numbered after `after`, at most `limit`, oldest first (the IP
  // address not decrypted). DATA_LOSS for a record failing authentication.
  absl::StatusOr<std::vector<ConsentEvent>> ReadEvents(absl::string_view lead_id, uint32_t after,
                                                       size_t limit) const;

  // Adds `event` to the ledger of `lead_id`: numbers it after `state`,
  // encrypts its IP address (with a fresh salt) under `dek` (required when it
  // has one), applies it to `state` and stages the new state row and, for a
  // revocation, the suppression rows of `tokens` in `batch`, and names it in
  // `entry` ("consent_event=<digest>"). Returns the stamp the commit must
  // carry: it writes the event record with the audit sequence of `entry`.
  // FAILED_PRECONDITION when the ledger would exceed kMaxConsentEventsPerLead
  // events or kMaxThirdPartiesPerLead third parties.
  absl::StatusOr<Committer::Stamp> Stage(absl::string_view lead_id, const keys::SecretBytes* dek,
                                         uint32_t dek_version, const ContactTokens& tokens,
                                         ConsentState& state, ConsentEvent& event,
                                         keys::Random& random, rocksdb::WriteBatch& batch,
                                         audit::AuditEntry& entry) const;

 private:
  Database* const db_;
  const KeyHierarchy* const keys_;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_CONSENT_LEDGER_H_
