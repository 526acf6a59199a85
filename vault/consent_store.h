// ConsentStore: the Consent service's operations on a lead's consent ledger
// (vault/consent.h has the domain, vault/consent_ledger.h the storage), with
// access control and one audit entry per call, like LeadStore.
#ifndef LEADVAULT_VAULT_CONSENT_STORE_H_
#define LEADVAULT_VAULT_CONSENT_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/consent_proof.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "vault/actor.h"
#include "vault/audit_log.h"
#include "vault/clock.h"
#include "vault/committer.h"
#include "vault/consent.h"
#include "vault/consent_ledger.h"
#include "vault/lead.h"
#include "vault/lead_store.h"

namespace leadvault::vault {

// A revocation as heard. Channels and purposes empty mean all of them (a
// revocation by any reasonable means covers what the person asked to stop;
// when unsure, everything); for third-party sharing, every third party the
// ledger names on those channels, or only `third_party` when given (sharing
// is left out when the ledger names none).
struct ConsentRevocation {
  std::vector<ConsentChannel> channels;
  std::vector<ConsentPurpose> purposes;
  std::string third_party;
  RevocationMethod method = RevocationMethod::kOther;
  // kSmsReply: the reply as received. Classified (SmsStopKeyword: a keyword
  // or free text, both revoke) and never stored, logged or audited.
  keys::SecretBytes reply_text;
};

struct ConsentHistoryPage {
  std::vector<ConsentEvent> events;  // oldest first; evidence without the IP address
  uint32_t next_after_number = 0;    // non-zero: more follow; ask again with after_number = it
};

inline constexpr size_t kMaxConsentHistoryPage = 200;

// The operations of the Consent service. Roles (vault/access_policy.cc):
// intake records grants and revocations for leads in its scope and reads
// their history and state; compliance reads every lead's history and state
// and exports proofs; capture records grants only with the lead it creates
// (CreateLead); admin and analyst nothing. A lead out of scope is NOT_FOUND,
// as for a missing one. Every call commits exactly one audit entry. Errors
// name the field and the rule, never a value. Thread-safe.
class ConsentStore {
 public:
  // All pointers must outlive the store.
  ConsentStore(Committer* committer, AuditLog* log, const Clock* clock, keys::Random* random,
               LeadStore* leads, ConsentLedger* ledger)
      : committer_(committer),
        log_(log),
        clock_(clock),
        random_(random),
        leads_(leads),
        ledger_(ledger) {}

  // Records a grant as one event covering each channel x purpose, with its
  // evidence; an incomplete grant is stored with the missing TCPA elements
  // named. Returns the event recorded (its number, audit sequence and
  // commitment; never the IP); durable when it returns. FAILED_PRECONDITION
  // when the ledger is full (kMaxConsentEventsPerLead) or would name more than
  // kMaxThirdPartiesPerLead third parties.
  absl::StatusOr<ConsentEvent> RecordGrant(const Actor& actor, const LeadId& lead,
                                           ConsentGrant grant);

  // Records a revocation as one event covering each channel x purpose it names
  // and puts the lead's phone (sms, voice, autodialed voice) or email (email)
  // on the suppression list for those channels and purposes. Effective on the
  // very next read.
  // Its "RecordConsent" entry names what it revoked ("consent=revoke",
  // "channels=", "purposes=", "method="), so a restore can revoke it again.
  absl::StatusOr<ConsentEvent> RecordRevocation(const Actor& actor, const LeadId& lead,
                                                ConsentRevocation revocation);

  // For a restore (vault/restore_restrictions.h): revokes again on lead
  // `lead_id` (binary, in any scope) what the allowed revocation at
  // `sequence` revoked (sharing with every third party the restored ledger
  // names), as a "RecordConsent" entry by `actor` naming that sequence, and
  // puts the contacts on the suppression list again. False (nothing
  // recorded) if all of it is revoked already; NOT_FOUND for a lead the
  // restored database does not hold.
  absl::StatusOr<bool> ReapplyRevocation(const Actor& actor, const std::string& lead_id,
                                         std::vector<ConsentChannel> channels,
                                         std::vector<ConsentPurpose> purposes,
                                         RevocationMethod method, uint64_t sequence);

  // Whether contact on `channel` for `purpose` is allowed now, and why not.
  absl::StatusOr<ConsentDecision> CheckConsent(const Actor& actor, const LeadId& lead,
                                               ConsentChannel channel, ConsentPurpose purpose,
                                               const std::string& third_party);

  // Events numbered after `after_number`, at most `page_size` (1..200; 0: 200).
  absl::StatusOr<ConsentHistoryPage> GetConsentHistory(const Actor& actor, const LeadId& lead,
                                                       uint32_t after_number, int page_size);

  // Every event of the lead with the audit entry that recorded it and its
  // inclusion proof against a fresh signed checkpoint that also covers this
  // call's own entry (which names the number of events exported, so a proof
  // cut short is detectable): compliance only.
  // Sets `*committed` (when given) once its own entry is durable: a later
  // failure must not be audited a second time.
  absl::StatusOr<audit::ConsentProof> ExportConsentProof(const Actor& actor, const LeadId& lead,
                                                         bool* committed = nullptr);

 private:
  // A revocation's event staged and committed, for RecordRevocation and
  // ReapplyRevocation: sharing with `third_party`, or with every party the
  // ledger names on the channels; the entry names what is revoked, plus
  // `fields`. With `only_if_changes`, nullopt when all of it is revoked
  // already.
  absl::StatusOr<std::optional<ConsentEvent>> CommitRevocation(
      const Actor& actor, const std::string& id, const LeadStore::ConsentSubject& subject,
      ConsentEvent event, const std::string& third_party, std::vector<std::string> fields,
      bool only_if_changes);

  Committer* const committer_;
  AuditLog* const log_;
  const Clock* const clock_;
  keys::Random* const random_;
  LeadStore* const leads_;
  ConsentLedger* const ledger_;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_CONSENT_STORE_H_
