// The consent domain: channels, purposes, the evidence of a grant, the events of a
// lead's consent ledger and the decision whether a contact is allowed. Pure code:
// no storage, no clock (callers pass `now`), no I/O.
//
// Every name below ("email", "grant", "source_url", "revoked", ...) is part of the
// audit-layer proof format: never rename one.
//
// Errors are INVALID_ARGUMENT with a message "<field>: <rule>" (fields are
// "consent.evidence.<name>" and "consent.third_party"); no message ever contains
// the offending value or any part of it.
#ifndef LEADVAULT_VAULT_CONSENT_H_
#define LEADVAULT_VAULT_CONSENT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "keys/secret_bytes.h"

namespace leadvault::vault {

// A ledger holds at most this many events; the store refuses more.
inline constexpr size_t kMaxConsentEventsPerLead = 1000;
// At most this many distinct named third parties per lead; the store refuses a
// grant for one more (see ConsentState::third_parties()).
inline constexpr size_t kMaxThirdPartiesPerLead = 16;

// Limits of the evidence and third-party fields, in bytes (after trimming).
inline constexpr size_t kMaxConsentUrlLength = 2048;
inline constexpr size_t kMaxSellerNameLength = 200;
inline constexpr size_t kMaxDisclosureVersionLength = 64;
inline constexpr size_t kMaxCaptureCertificateIdLength = 256;
inline constexpr size_t kMaxUserAgentLength = 512;
inline constexpr size_t kMaxThirdPartyLength = 200;
// How far captured_at may lie ahead of `now` (clock skew of the capturing form).
inline constexpr absl::Duration kMaxConsentCaptureSkew = absl::Minutes(5);
// How old captured_at may be.
inline constexpr absl::Duration kMaxConsentCaptureAge = absl::Hours(24 * 365);

// The numbers are stored: never renumber.
enum class ConsentChannel {
  kEmail = 1,
  kSms = 2,
  kVoice = 3,
  kAutodialedVoice = 4,  // autodialed or prerecorded voice
};
inline constexpr std::array<ConsentChannel, 4> kAllConsentChannels = {
    ConsentChannel::kEmail, ConsentChannel::kSms, ConsentChannel::kVoice,
    ConsentChannel::kAutodialedVoice};
// "email", "sms", "voice", "autodialed_voice"; "unknown" for a value outside the enum.
absl::string_view ConsentChannelName(ConsentChannel c);
// The exact (lower-case) name; nullopt for anything else.
std::optional<ConsentChannel> ParseConsentChannel(absl::string_view name);

enum class ConsentPurpose {
  kScheduling = 1,
  kTreatmentFollowUp = 2,
  kMarketing = 3,
  kThirdPartySharing = 4,
};
inline constexpr std::array<ConsentPurpose, 4> kAllConsentPurposes = {
    ConsentPurpose::kScheduling, ConsentPurpose::kTreatmentFollowUp, ConsentPurpose::kMarketing,
    ConsentPurpose::kThirdPartySharing};
// "scheduling", "treatment_follow_up", "marketing", "third_party_sharing".
absl::string_view ConsentPurposeName(ConsentPurpose p);
std::optional<ConsentPurpose> ParseConsentPurpose(absl::string_view name);

enum class ConsentAction { kGrant = 1, kRevoke = 2 };
// "grant", "revoke".
absl::string_view ConsentActionName(ConsentAction a);

enum class RevocationMethod {
  kIntakeCall = 1,
  kSmsReply = 2,
  kEmailUnsubscribe = 3,
  kPreferencePage = 4,
  kOther = 5,
};
// "intake_call", "sms_reply", "email_unsubscribe", "preference_page", "other".
absl::string_view RevocationMethodName(RevocationMethod m);
std::optional<RevocationMethod> ParseRevocationMethod(absl::string_view name);

// The elements TCPA prior express written consent (47 CFR 64.1200(f)(9)) needs, as
// this vault checks them.
enum class TcpaElement {
  kSourceUrl,
  kSellerName,
  kDisclosureVersion,
  kDisclosureSha256,
  kAuthorizesAutomated,
  kNotConditionOfPurchase,
  kCaptureCertificateId,
};
inline constexpr std::array<TcpaElement, 7> kAllTcpaElements = {
    TcpaElement::kSourceUrl,           TcpaElement::kSellerName,
    TcpaElement::kDisclosureVersion,   TcpaElement::kDisclosureSha256,
    TcpaElement::kAuthorizesAutomated, TcpaElement::kNotConditionOfPurchase,
    TcpaElement::kCaptureCertificateId};
// "source_url", "seller_name", "disclosure_version", "disclosure_sha256",
// "authorizes_automated", "not_condition_of_purchase", "capture_certificate_id".
absl::string_view TcpaElementName(TcpaElement e);

// Evidence of a grant. Everything is clear metadata except ip_address (PII; the
// store encrypts it under the lead's key).
struct ConsentEvidence {
  absl::Time captured_at;             // when the person consented (the form's time)
  std::string source_url;             // http(s), stored without query string or fragment
  std::string seller_name;            // the seller the consent names
  std::string disclosure_version;     // the disclosure text's version label
  std::string disclosure_sha256;      // SHA-256 of the disclosure text, 64 hex (stored lower-case)
  bool authorizes_automated = false;  // text authorizes autodialed/prerecorded calls, texts
  bool not_condition_of_purchase = false;  // text says consent is not a condition of purchase
  std::string capture_certificate_id;      // TrustedForm / Jornaya style certificate id
  std::string user_agent;
  keys::SecretBytes ip_address;  // PII
};

// Validates and normalizes `evidence` in place; on error it is left unchanged.
// Every text field is trimmed of surrounding ASCII whitespace first and one that
// trims to nothing is absent: an absent element makes the grant incomplete (see
// MissingTcpaElements), it is not an error. A present one must be well formed:
//  captured_at: required (not InfinitePast, not the Unix epoch), at most
//    kMaxConsentCaptureSkew after `now`, at most kMaxConsentCaptureAge before it;
//  source_url: the landing-page rule of vault/validation.h (http or https, a host,
//    at most 2048 bytes), reduced to scheme, host, port and path;
//  seller_name: at most 200 bytes of valid UTF-8 without control characters;
//  disclosure_version: at most 64 printable ASCII characters (space allowed);
//  disclosure_sha256: exactly 64 hex digits, stored lower-case;
//  capture_certificate_id: at most 256 printable ASCII characters, no whitespace;
//  user_agent: at most 512 printable ASCII characters (space allowed);
//  ip_address: IPv4 dotted quad or IPv6 text (inet_pton), stored in inet_ntop's
//    form (e.g. "2001:db8::1"); only ever copied into SecretBytes.
absl::Status NormalizeConsentEvidence(ConsentEvidence& evidence, absl::Time now);

// The elements missing from `evidence` (normalized), in enum order. A grant with
// any missing element is stored but marked incomplete.
std::vector<TcpaElement> MissingTcpaElements(const ConsentEvidence& evidence);

// A third party's name, required for kThirdPartySharing and empty for every other
// purpose: trimmed, at most 200 bytes of UTF-8 without control characters, ASCII
// letters lower-cased (names compare case-insensitively). Errors name
// "consent.third_party" (or "consent.purpose" for a value outside the enum); on
// error `third_party` is unchanged.
absl::Status NormalizeThirdParty(ConsentPurpose purpose, std::string& third_party);

// Classifies an SMS reply for the record (CTIA/TCPA opt-out keywords). Every reply
// handed to the vault as a revocation IS one ("revocation by any reasonable
// means"); this only names it. The keywords STOP, QUIT, END, REVOKE, OPT OUT,
// CANCEL, UNSUBSCRIBE match in any case, alone, with surrounding whitespace (ASCII
// or U+00A0); OPT OUT also as "OPTOUT", "OPT-OUT" or with any run of whitespace
// between the words. Returns the keyword in upper case ("STOP", "OPT OUT", ...),
// or nullopt for free text. Never returns, stores or logs any part of `reply`.
std::optional<std::string> SmsStopKeyword(absl::string_view reply);

// One event of a lead's ledger (append-only; `number` is 1, 2, ... per lead).
struct ConsentEvent {
  uint32_t number = 0;
  absl::Time at;            // when the vault recorded it
  std::string recorded_by;  // principal id
  ConsentAction action = ConsentAction::kGrant;
  // What the act covers: each channel for each purpose, and for
  // kThirdPartySharing with each of `third_parties` (normalized; empty exactly
  // when the purposes leave sharing out; one party for a grant). Distinct, in
  // enum order (names as given).
  std::vector<ConsentChannel> channels;
  std::vector<ConsentPurpose> purposes;
  std::vector<std::string> third_parties;
  ConsentEvidence evidence;                            // grants
  std::vector<TcpaElement> missing;                    // grants: MissingTcpaElements at record time
  RevocationMethod method = RevocationMethod::kOther;  // revocations
  // Revocations by SMS reply: "keyword:STOP" (any keyword) or "free_text"; else empty.
  std::string method_detail;
  uint64_t audit_sequence = 0;  // the audit entry that recorded it (0 until known)
  // Grants with an IP address: lower-hex SHA-256(salt || ip), the salt and the
  // IP kept encrypted under the lead's key (vault/consent_ledger.h).
  std::string ip_commitment;
};

// A grant as captured: one act of consent, recorded as one event that covers
// every channel x purpose it names.
struct ConsentGrant {
  std::vector<ConsentChannel> channels;  // 1..4, distinct
  std::vector<ConsentPurpose> purposes;  // 1..4, distinct
  std::string third_party;               // required with kThirdPartySharing, else empty
  ConsentEvidence evidence;
};

// Validates and normalizes a grant: channels and purposes known, distinct and
// not empty ("consent.channels: ...", "consent.purposes: ..."), then sorted in
// enum order; the third party (NormalizeThirdParty for sharing; empty without
// it), the evidence (NormalizeConsentEvidence).
absl::Status NormalizeConsentGrant(ConsentGrant& grant, absl::Time now);

// The event of `grant` (normalized), recorded by `principal_id` at `at`
// (number, missing and IP commitment are left for the ledger to set).
ConsentEvent GrantEvent(const ConsentGrant& grant, const std::string& principal_id, absl::Time at);

// Why contact is allowed or not.
enum class ConsentReason {
  kActive,
  kNoConsent,
  kRevoked,
  kIncomplete,
  kSuppressed,
  kContactChanged,  // the grant predates an amendment of the contact (LeadStore::AmendLead)
};
// "active", "no_consent", "revoked", "incomplete", "suppressed", "contact_changed".
absl::string_view ConsentReasonName(ConsentReason r);

struct ConsentDecision {
  bool allowed = false;
  ConsentReason reason = ConsentReason::kNoConsent;
  // revoked: the revocation's time; suppressed: the suppression's; contact_changed:
  // the amendment's.
  absl::Time at;
  absl::Time granted_at;             // allowed: when the grant it rests on was given
  std::vector<TcpaElement> missing;  // incomplete: what is missing
  uint32_t event_number = 0;         // the event the decision rests on (0: none)
};

// The current state of a lead's ledger: the latest event per (channel, purpose,
// third party), compact enough for the store to keep as one row and decide
// without reading history. Third-party names match case-insensitively after
// trimming (they are stored as NormalizeThirdParty leaves them).
//
// Thread-compatible.
class ConsentState {
 public:
  struct Latest {
    ConsentChannel channel;
    ConsentPurpose purpose;
    std::string third_party;
    ConsentAction action;
    // A revocation: when the vault recorded it. A grant: when the person consented
    // (evidence.captured_at), but never later than when the vault recorded it; a
    // grant without captured_at uses the record time.
    absl::Time at;
    uint32_t number;
    std::vector<TcpaElement> missing;  // grants: the event's `missing`
  };

  // Applies an event to every key it covers. Events must come in increasing
  // number; one whose number is not above last_number() (a replay or an older
  // event) is ignored.
  void Apply(const ConsentEvent& event);

  // The decision for contact on `channel` for `purpose` (and `third_party`, which
  // is part of the key: empty except for kThirdPartySharing), in this order:
  //  - no event for the key: no_consent;
  //  - the latest is a revocation: revoked (at = its time);
  //  - the latest is a grant with missing elements and the channel is sms or
  //    autodialed_voice: incomplete (missing listed). Texts count as automated; an
  //    incomplete grant never makes a number eligible for them. Email and voice
  //    (manual calls) need no written consent and accept an incomplete grant;
  //  - `suppressed_at` is set (the contact's phone or email was revoked on some
  //    lead then) and the grant's `at` is not strictly after it: suppressed (at =
  //    suppressed_at);
  //  - else active.
  // `event_number` is the latest event's number for the key (0 for no_consent).
  ConsentDecision Decide(ConsentChannel channel, ConsentPurpose purpose,
                         absl::string_view third_party,
                         std::optional<absl::Time> suppressed_at) const;

  const std::vector<Latest>& latest() const { return latest_; }
  // Rebuilds a state from what latest() returned.
  // REQUIRES: at most one entry per (channel, purpose, third party).
  static ConsentState FromLatest(std::vector<Latest> latest);
  // The number of the last applied event (0 for an empty ledger).
  uint32_t last_number() const;
  // How many distinct third-party names have an event (any channel).
  size_t third_parties() const;

 private:
  std::vector<Latest> latest_;  // small: 4 channels x 4 purposes (+ named third parties)
};

// Bit (1 << channel) for each channel on which the state holds consent for
// contact for some purpose (scheduling, treatment follow-up or marketing), as
// the lead's own ledger records it: a revocation of the same contact through
// another lead (the suppression list) does not count here. For the funnel
// aggregates (LeadRecord.consent_channels).
uint32_t ActiveConsentChannels(const ConsentState& state);

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_CONSENT_H_
