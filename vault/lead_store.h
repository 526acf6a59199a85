// LeadStore: create, read, find, queue and update encrypted leads.
#ifndef LEADVAULT_VAULT_LEAD_STORE_H_
#define LEADVAULT_VAULT_LEAD_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "keys/random.h"
#include "rocksdb/write_batch.h"
#include "vault/actor.h"
#include "vault/audit_log.h"
#include "vault/clock.h"
#include "vault/committer.h"
#include "vault/consent_ledger.h"
#include "vault/database.h"
#include "vault/emergency_access.h"
#include "vault/key_claims.h"
#include "vault/key_hierarchy.h"
#include "vault/lead.h"
#include "vault/lead_keys.h"
#include "vault/lead_rows.h"
#include "vault/read_decision.h"
#include "vault/retention.h"
#include "vault/retention_policy_store.h"

namespace leadvault::vault {
namespace internal {
class LeadRecord;
}  // namespace internal

struct NewLead {
  LeadPii pii;
  Attribution attribution;
  std::string idempotency_key;
  // The consent captured with the form, recorded on the lead the submission
  // lands on (a new lead, or the existing one it duplicates).
  std::optional<ConsentGrant> consent;
};

// What a submission's sender learns. It never names a lead the sender could
// not otherwise see: a submission that matches another principal's lead out
// of the sender's sight gets a receipt id of its own (which then behaves like
// one of the sender's leads).
struct CreateResult {
  std::string lead_id;     // binary: the new lead, or the sender's earlier lead or receipt
  bool duplicate = false;  // submitted before by the sender, or a lead it can see
  uint64_t version = 0;    // 1 for a new lead or receipt; 0 for a duplicate
};

enum class LookupKind { kEmail, kPhone };

// What a deletion request returns: the purge's audit entry, its inclusion
// proof (RFC 9162) against a signed checkpoint, and the key that checks the
// checkpoint's signature, so it can be checked offline (audit/receipt.h).
struct DeletionReceipt {
  StoredEntry entry;
  std::vector<audit::Hash> inclusion_proof;
  SignedCheckpoint checkpoint;
  std::string verifier_key;
};

inline constexpr size_t kMinDeletionReason = 10;
inline constexpr size_t kMaxDeletionReason = 1000;

// True for PreparePurge's refusal of a lead under a legal hold.
bool IsLegalHold(const absl::Status& status);

struct QueueQuery {
  std::string service_line;
  LeadStatus status = LeadStatus::kNew;
  int page_size = 0;  // 1..500; 0: kDefaultQueuePageSize
  std::string page_token;
};

struct QueuePage {
  std::vector<LeadMetadata> leads;
  std::string next_page_token;  // empty on the last page
};

struct LeadUpdate {
  std::string lead_id;  // binary
  uint64_t expected_version = 0;
  LeadStatus status = LeadStatus::kUnspecified;  // unspecified: unchanged
  std::vector<ContactAttempt> add_contact_attempts;
};

// A correction of a lead's personal data (AmendLead).
struct LeadAmendment {
  std::string lead_id;  // binary
  uint64_t expected_version = 0;
  std::string reason;           // 10..1000 characters
  LeadPii values;               // each field set replaces the lead's
  std::vector<PiiField> clear;  // fields removed
};

struct AmendResult {
  LeadMetadata meta;  // the new version
  uint32_t number = 0;
  std::vector<PiiField> amended;  // field-number order
};

// One field's change in an amendment, as the reader may see its previous value.
struct AmendedFieldView {
  PiiField field = PiiField::kFirstName;
  keys::SecretBytes previous;  // clear or masked (`projection`); empty when hidden or none
  Projection projection = Projection::kHidden;
  bool cleared = false;  // removed by the amendment
};

struct AmendmentView {
  uint32_t number = 0;
  absl::Time at;
  std::string principal_id;
  std::optional<Purpose> purpose;
  keys::SecretBytes reason;
  uint64_t version = 0;
  std::vector<AmendedFieldView> changes;
};

struct AmendmentPage {
  std::vector<AmendmentView> amendments;  // newest first
  std::string next_page_token;            // empty on the last page
};

inline constexpr size_t kMaxAmendments = 50;
inline constexpr size_t kMinAmendReason = 10;
inline constexpr size_t kMaxAmendReason = 1000;
inline constexpr int kDefaultAmendmentPageSize = 20;
inline constexpr int kMaxAmendmentPageSize = 50;

inline constexpr int kDefaultQueuePageSize = 50;
inline constexpr int kMaxQueuePageSize = 500;
inline constexpr size_t kMaxContactAttemptsPerUpdate = 20;
inline constexpr size_t kMaxContactAttempts = 500;
// Later submissions kept on a lead: one per sender (its newest), for the
// newest senders (older ones are in the audit log). Lists (FindLeads,
// ListQueue) never return touches.
inline constexpr size_t kMaxTouches = 20;
// Leads sharing one email or phone that duplicate detection looks at (each
// service line has at most one per contact key; more means another sender's).
inline constexpr int kMaxDuplicateCandidates = 64;
// Matches one look-up returns: each is a disclosure indexed for the accounting.
inline constexpr size_t kMaxFindResults = 16;
// A list reply's metadata stops at about this many bytes (then pages).
inline constexpr size_t kMaxListReplyBytes = size_t{1} << 20;

// The lead operations of the vault. Every operation that succeeds commits
// exactly one audit entry through the Committer (reads included) and returns
// only after it is durable; an operation that fails validation writes nothing.
// Errors: INVALID_ARGUMENT (field and rule), NOT_FOUND, ABORTED (stale
// version), FAILED_PRECONDITION (transition not allowed), UNAVAILABLE
// (storage), DATA_LOSS (a record fails to decrypt). Thread-safe.
class LeadStore final : public LeadScope {
 public:
  // All pointers must outlive the store. Leads are stamped with the policy
  // `retention` has in force.
  // `funnel_campaigns`: LeadRows' (null only for a benchmark's comparison).
  LeadStore(Database* db, Committer* committer, const KeyHierarchy* keys, const Clock* clock,
            keys::Random* random, const EmergencyAccessStore* emergency,
            const ConsentLedger* ledger, RetentionPolicyStore* retention,
            const FunnelCampaigns* funnel_campaigns)
      : db_(db),
        committer_(committer),
        keys_(keys),
        clock_(clock),
        random_(random),
        emergency_(emergency),
        ledger_(ledger),
        rows_(db, &keys->record_mac_key(), funnel_campaigns),
        lead_keys_(db, keys, random),
        retention_(retention) {}

  // Validates and stores a new lead. A retry with the same (principal,
  // idempotency key) and the same request returns the first result and writes
  // nothing; the key reused with a different request is FAILED_PRECONDITION. A
  // submission whose normalized email or phone matches an existing lead of the
  // same service line is not stored again: it is recorded on that lead as a
  // Touch (the lead's version is unchanged). The sender learns only what it
  // already knew: `duplicate` with the id it was given before if it submitted
  // this person to that line earlier, or with the lead's id if a role of its
  // own other than capture may see that lead; otherwise a new receipt id,
  // indistinguishable from a new lead (CreateResult).
  absl::StatusOr<CreateResult> CreateLead(const Actor& actor, NewLead lead);

  // CreateLead without waiting for the commit: validation, encryption and the
  // look-ups run on the calling thread (which may briefly wait for a concurrent
  // create of the same email, phone or idempotency key); `done` runs with the
  // result once it is durable, on the committer thread, or at once on an error.
  void CreateLeadAsync(const Actor& actor, NewLead lead,
                       std::function<void(absl::StatusOr<CreateResult>)> done);

  // Reads a lead as the actor's roles may see it (scope, per-field projection,
  // purpose of use: vault/access_policy.h); its audit entry (the field names
  // disclosed) is durable first. A lead out of scope is NOT_FOUND; capture sees
  // only its own submission (SubmissionView), and a receipt id as its lead.
  // With purpose "emergency" and an open emergency grant of the actor's
  // covering the lead (in its scope: a grant never widens scope), every field is
  // read in full and the entry carries the grant's reason; without such a
  // grant, PERMISSION_DENIED. A record whose authenticated metadata was edited
  // is DATA_LOSS.
  // With `outreach`, consent decides the contact fields (Outreach).
  absl::StatusOr<Lead> GetLead(const Actor& actor, const std::string& lead_id,
                               const std::optional<Outreach>& outreach = std::nullopt);

  // GetLead without blocking the caller. On a successful read, `stage` gets the
  // lead at once, on the calling thread, to prepare (not yet release) a reply;
  // `done` runs later, on the committer thread, with OK only once the audit
  // entry is durable. The caller must release what it staged only on OK and
  // discard it otherwise. On a failed read `done` runs at once and `stage` never.
  void GetLeadAsync(const Actor& actor, const std::string& lead_id,
                    const std::optional<Outreach>& outreach,
                    const std::function<void(const Lead&)>& stage,
                    std::function<void(absl::Status)> done);

  // Every row a lead owns (vault/lead_rows.h).
  const LeadRows& rows() const { return rows_; }

  // Re-stamping under a changed policy (vault/retention_recompute.h): at most
  // `limit` leads after `after_id` (binary; empty: from the first) in id
  // order, under their claims (held until `claim` goes: with the batch
  // durable or dropped), each re-read and re-decided under `policy`. A lead
  // whose expiry or rule changes is rewritten in `batch` and its expiry row
  // moved; its version and updated_at stay (a re-stamp is not an update). A
  // record failing authentication is counted and left alone. Writes nothing.
  struct PreparedRestamp {
    rocksdb::WriteBatch batch;
    std::string last_id;  // the last lead looked at (`after_id` if none)
    uint64_t leads = 0;   // looked at (a lead purged meanwhile included)
    uint64_t changed = 0;
    uint64_t unreadable = 0;
    bool done = false;  // no lead follows last_id
    std::optional<KeyClaims::Claim> claim;
  };
  absl::StatusOr<PreparedRestamp> PrepareRestamp(const RetentionPolicy& policy,
                                                 const std::string& after_id, size_t limit);

  // Master-key rotation (vault/key_rewrap.h): the data keys of at most
  // `limit` leads after `after_id` (binary; empty: from the first) in id
  // order, under their claims (held until `claim` goes: with the batch
  // durable or dropped, so no purge lands in between and no shredded key
  // comes back), each re-read and, if wrapped under another version than
  // `pin`'s, re-wrapped under it in `batch`. Writes nothing. A key that
  // fails to unwrap is counted as unreadable and left as it is.
  struct PreparedRewrap {
    rocksdb::WriteBatch batch;
    std::string last_id;  // the last lead looked at (`after_id` if none)
    uint64_t leads = 0;   // looked at (a lead purged meanwhile included)
    uint64_t rewrapped = 0;
    uint64_t unreadable = 0;
    bool done = false;  // no lead follows last_id
    std::optional<KeyClaims::Claim> claim;
  };
  absl::StatusOr<PreparedRewrap> PrepareRewrap(const KeyHierarchy::Pinned& pin,
                                               const std::string& after_id, size_t limit);

  // Counts of data keys by the master-key version they are wrapped under (a
  // scan of the `dek` family); a malformed row counts under version 0.
  absl::StatusOr<std::map<uint32_t, uint64_t>> CountDataKeysByVersion() const;

  // Metadata (no touches) of at most kMaxFindResults leads in the actor's
  // scope whose normalized email or phone equals `value`. The actor states a
  // purpose its role may (CheckPurposeFor): each match discloses that the
  // person is a lead, so each is counted in the accounting of disclosures.
  absl::StatusOr<std::vector<LeadMetadata>> FindLeads(const Actor& actor, LookupKind kind,
                                                      absl::string_view value);

  // One page of the intake queue for a service line and status, oldest first:
  // at most `page_size` leads and about kMaxListReplyBytes, without touches.
  absl::StatusOr<QueuePage> ListQueue(const Actor& actor, const QueueQuery& query);

  // OK if `lead_id` is a lead in the scope of the actor's roles that may call
  // `rpc`; NOT_FOUND as for a missing lead otherwise (a receipt is not a
  // lead). Writes nothing.
  absl::Status CheckInScope(const Actor& actor, const std::string& lead_id, Rpc rpc) override;

  // For ConsentStore: lead `lead_id` if it is a lead (not a receipt) in the
  // scope of the actor's roles that may call `rpc`, else NOT_FOUND as for a
  // missing lead. With `claim`, the lead's claim is held (a change to its
  // ledger must be staged and committed under it); with `need_key`, its data
  // key is unwrapped.
  struct ConsentSubject {
    LeadMetadata meta;
    ContactTokens tokens;
    std::optional<keys::SecretBytes> dek;
    uint32_t dek_version = 0;
    std::optional<KeyClaims::Claim> claim;
  };
  absl::StatusOr<ConsentSubject> OpenForConsent(const Actor& actor, const std::string& lead_id,
                                                Rpc rpc, bool claim, bool need_key);
  // The same in any scope, claimed, without the key: for a restore's
  // re-applied consent revocations (vault/restore_restrictions.h).
  absl::StatusOr<ConsentSubject> OpenForRestore(const std::string& lead_id);
  // Adds to `batch` the record of lead `lead_id` (binary) with its consent
  // channels set to `channels` (ActiveConsentChannels after a consent event
  // staged in the same batch), if they change. The caller holds the lead's
  // claim (a ConsentSubject's).
  absl::Status StageConsentChannels(const std::string& lead_id, uint32_t channels,
                                    rocksdb::WriteBatch& batch);

  // Changes status and/or appends contact attempts if `expected_version` is current.
  absl::StatusOr<LeadMetadata> UpdateLead(const Actor& actor, const LeadUpdate& update);

  // A lead's purge, staged: the deletion of every row it owns and of its
  // wrapped data key (vault/lead_rows.h), and the claims that keep every other
  // change to the lead, and every submission of its email or phone, out until
  // the purge is durable or dropped. A create that matched the lead waits and
  // then finds nothing.
  struct PreparedPurge {
    rocksdb::WriteBatch batch;
    LeadMetadata meta;
    absl::Time expires_at;  // as the record stands (InfiniteFuture: none stamped)
    std::string retention_rule;
    std::vector<KeyClaims::Claim> claims;
    std::vector<std::string> claim_keys;  // what `claims` holds
    bool references_only = false;         // a dry run's first page (PreparePurge)
  };
  // NOT_FOUND if `lead_id` is not a lead, or if `in_scope` (when given)
  // returns false for it; FAILED_PRECONDITION if a legal hold is on it
  // (IsLegalHold), decided under the claims.
  //
  // A lead named by more than kMaxLeadRefs rows of later submissions is purged
  // in pages (LeadRows::AddPurge): under the claims, each page but the last is
  // committed here for the caller `pages_for`, each with a "PurgeLeadReferences"
  // entry of the vault's own (principal "system", the caller's request id)
  // naming the lead (`rows=` counts them), so the caller's call still leaves
  // exactly one entry of its own; the last page is the batch returned. With
  // no `pages_for` (a dry run) nothing is written, and the batch returned
  // holds only the first page (`references_only`).
  absl::StatusOr<PreparedPurge> PreparePurge(
      const std::string& lead_id, const Actor* pages_for,
      const std::function<bool(const LeadMetadata&)>& in_scope = nullptr);
  // PreparePurge for several leads at once, each result in order (reading
  // them together, and the holds and back-references of all through one
  // iterator). A caller that stages several purges before committing them
  // passes the claim keys it holds in `held_by_caller`, and the claim keys of
  // each purge returned staged are added to it: a purge that needs one of
  // them (two leads of different service lines share an email or phone) is
  // ABORTED at once, without waiting, and is the last result (the leads after
  // it are not tried), so the caller commits what it staged and tries again.
  std::vector<absl::StatusOr<PreparedPurge>> PreparePurges(
      const std::vector<std::string>& lead_ids, const Actor* pages_for,
      const std::function<bool(const LeadMetadata&)>& in_scope,
      absl::flat_hash_set<std::string>* held_by_caller);

  // A data-subject deletion request (CCPA, Washington MHMDA): purges lead
  // `lead_id` at once, as PreparePurge, if it is in the scope of an actor's
  // role that may call DeleteLead (intake: its service lines; compliance:
  // every lead), else NOT_FOUND as for a missing lead. `reason` (10..1000
  // characters of text) is recorded in the purge's audit entry (action
  // "DeleteLead"), which is committed with a fresh signed checkpoint; the
  // receipt proves that entry is in the log. A legal hold refuses it with
  // FAILED_PRECONDITION naming the hold. The purged rows leave the disk at the
  // next retention sweep's compaction (kMetaCompactionDuePrefix).
  // `*committed` (when given) is set once the purge is durable: a later
  // failure to read the receipt back must not be audited a second time.
  // Corrects a lead's personal data (HIPAA 164.526): intake for a lead of its
  // scope, purpose patient_request or operations (INVALID_ARGUMENT without one,
  // PERMISSION_DENIED for another). Each field set in `values` replaces the
  // lead's (normalized as at creation; an equal value is no change), each in
  // `clear` is removed; the lead keeps an email or phone. The previous values
  // and the reason are kept, encrypted under the lead's data key, in its
  // history (at most kMaxAmendments: then FAILED_PRECONDITION). A new email or
  // phone is re-indexed; one that another lead of the same service line holds
  // is FAILED_PRECONDITION (CONTACT_IN_USE: the two are the same person, which
  // amending cannot merge). Consent granted before a contact changed does not
  // cover the new one (ConsentReason::kContactChanged). ABORTED for a stale
  // version; nothing to change is INVALID_ARGUMENT. One audit entry names the
  // amended fields ("amended:email", ...).
  absl::StatusOr<AmendResult> AmendLead(const Actor& actor, const LeadAmendment& amendment);

  // A lead's amendments, newest first, paged: intake and compliance with a lead
  // in scope and a purpose of use their roles allow. The previous values are
  // projected as a GetLead with that purpose would show the field now (a field
  // hidden is never decrypted). Its audit entry names what was shown
  // ("previous:email", "previous:phone:masked"); one that shows a value is a
  // disclosure in the accounting.
  absl::StatusOr<AmendmentPage> ListAmendments(const Actor& actor, const std::string& lead_id,
                                               int page_size, const std::string& page_token);

  absl::StatusOr<DeletionReceipt> DeleteLead(const Actor& actor, const std::string& lead_id,
                                             const std::string& reason, bool* committed = nullptr);

 private:
  // PreparePurges' second half, under `prepared`'s claims: `now` is the record
  // as read under them, `seen` and `first` as read (and parsed) before, and
  // `meta` an iterator over `meta` made after the claims were taken.
  absl::Status StagePurge(const std::string& lead_id, const std::string& seen,
                          internal::LeadRecord first, const absl::StatusOr<std::string>& now,
                          rocksdb::Iterator* meta, const Actor* pages_for,
                          const std::function<bool(const LeadMetadata&)>& in_scope,
                          PreparedPurge& prepared);
  // The keys of at most `limit` rows of `cf` (keyed by lead id) after
  // `after_id` into `ids`, their claims taken into `claim`, and the rows as
  // they stand under them; `done` if no row follows.
  absl::StatusOr<std::vector<absl::StatusOr<std::string>>> ClaimNext(
      Cf cf, const std::string& after_id, size_t limit, std::vector<std::string>& ids,
      std::optional<KeyClaims::Claim>& claim, bool& done);
  // A create ready to commit: the batch and entry, the result it will have,
  // and the claims to hold until it is durable.
  struct PreparedCreate {
    rocksdb::WriteBatch batch;
    audit::AuditEntry entry;
    CreateResult result;
    std::vector<KeyClaims::Claim> claims;
    Committer::Stamp stamp;  // the consent event's record, if the submission carried consent
    RetentionPolicyStore::Pinned retention;  // the policy the lead is stamped with
    KeyHierarchy::Pinned kek;                // the master-key version its data key is under
  };
  absl::StatusOr<PreparedCreate> PrepareCreate(const Actor& actor, NewLead lead);
  // Adds to `prepared` the actor's submission `lead` (normalized; its contact
  // tokens given) recorded on `existing_id` as a touch, its personal fields
  // encrypted under that lead's key and its contacts indexed for it (replacing
  // the actor's earlier touch; the version unchanged); returns the lead's metadata.
  absl::StatusOr<LeadMetadata> AddTouch(const Actor& actor, const std::string& existing_id,
                                        const NewLead& lead, const std::string& email_token,
                                        const std::string& phone_token, absl::Time now,
                                        PreparedCreate& prepared);
  absl::StatusOr<LeadMetadata> ReadMetadata(const std::string& lead_id);
  // The first lead of `service_line` other than `except` (binary ids) whose
  // contact has blind token `token` in index `index` (kEmailIndex or
  // kPhoneIndex), among the first kMaxDuplicateCandidates; empty if none.
  absl::StatusOr<std::string> LeadOfLineWithContact(uint8_t index, const std::string& token,
                                                    absl::string_view service_line,
                                                    absl::string_view except);
  static ContactTokens TokensOf(const internal::LeadRecord& record);
  // OpenForConsent, and OpenForRestore with no actor (no scope check).
  absl::StatusOr<ConsentSubject> OpenSubject(const Actor* actor, const std::string& lead_id,
                                             Rpc rpc, bool claim, bool need_key);
  // Stages the event of `grant` on lead `lead_id` (its data key `dek`, if
  // the grant carries an IP address) into `prepared`; `new_lead`: the lead is
  // created by the same write (its ledger is empty). Returns the channels
  // with active consent after it (ActiveConsentChannels), for the record.
  absl::StatusOr<uint32_t> StageGrant(const Actor& actor, const std::string& lead_id,
                                      const keys::SecretBytes* dek, const ConsentGrant& grant,
                                      bool new_lead, absl::Time now, PreparedCreate& prepared);
  // A receipt of the actor's (capture) as the metadata of a lead; NOT_FOUND
  // if there is none or it is another principal's.
  absl::StatusOr<LeadMetadata> ReadReceipt(const Actor& actor, const std::string& receipt_id);
  // Reads a lead as `actor` may see it (vault/access_policy.h): NOT_FOUND when
  // out of its scope, hidden fields not decrypted, masked ones masked; adds its
  // id and the names of the fields disclosed to `entry`.
  absl::StatusOr<Lead> ReadLead(const Actor& actor, const std::string& lead_id,
                                const std::optional<Outreach>& outreach, audit::AuditEntry& entry);

  Database* const db_;
  Committer* const committer_;
  const KeyHierarchy* const keys_;
  const Clock* const clock_;
  keys::Random* const random_;
  const EmergencyAccessStore* const emergency_;
  const ConsentLedger* const ledger_;
  const LeadRows rows_;
  const LeadKeys lead_keys_;
  RetentionPolicyStore* const retention_;
  KeyClaims claims_;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_LEAD_STORE_H_
