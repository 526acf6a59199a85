// The lead: domain types shared by the vault, independent of storage and gRPC.
#ifndef LEADVAULT_VAULT_LEAD_H_
#define LEADVAULT_VAULT_LEAD_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "keys/secret_bytes.h"
#include "vault/consent.h"

namespace leadvault::vault {

// PII fields. The number is bound into each field's ciphertext (associated data)
// and stored on disk: never renumber.
enum class PiiField : uint32_t {
  kFirstName = 1,
  kLastName = 2,
  kEmail = 3,
  kPhone = 4,
  kDateOfBirth = 5,
  kStreetAddress = 6,
  kCity = 7,
  kState = 8,
  kPostalCode = 9,
  kConditionInterest = 10,
  kNotes = 11,
};
inline constexpr size_t kPiiFieldCount = 11;
// All fields in field-number order.
inline constexpr std::array<PiiField, kPiiFieldCount> kAllPiiFields = {
    PiiField::kFirstName,   PiiField::kLastName,          PiiField::kEmail, PiiField::kPhone,
    PiiField::kDateOfBirth, PiiField::kStreetAddress,     PiiField::kCity,  PiiField::kState,
    PiiField::kPostalCode,  PiiField::kConditionInterest, PiiField::kNotes};
// "first_name", "email", ... (the API's field names).
absl::string_view PiiFieldName(PiiField field);

enum class SourceChannel : int {
  kUnspecified = 0,
  kWebForm = 1,
  kPaidSearch = 2,
  kPaidSocial = 3,
  kReferral = 4,
  kEvent = 5,
  kPhoneCall = 6,
  kOther = 7,
};

// Intake lifecycle. Allowed transitions (anything else is FAILED_PRECONDITION):
//   new -> contacted | qualified | disqualified | closed_lost
//   contacted -> qualified | scheduled | disqualified | closed_lost
//   qualified -> scheduled | disqualified | closed_lost
//   scheduled -> showed | scheduled (reschedule is a no-op transition) | closed_lost
//   showed, closed_lost, disqualified: terminal, except closed_lost -> contacted (re-engaged)
enum class LeadStatus : int {
  kUnspecified = 0,
  kNew = 1,
  kContacted = 2,
  kQualified = 3,
  kScheduled = 4,
  kShowed = 5,
  kClosedLost = 6,
  kDisqualified = 7,
};
bool IsAllowedTransition(LeadStatus from, LeadStatus to);
absl::string_view LeadStatusName(LeadStatus status);  // "new", "contacted", ...

enum class ContactChannel : int { kUnspecified = 0, kPhone = 1, kSms = 2, kEmail = 3, kMail = 4 };
enum class ContactOutcome : int {
  kUnspecified = 0,
  kConnected = 1,
  kVoicemail = 2,
  kNoAnswer = 3,
  kWrongNumber = 4,
  kBounced = 5,
  kReplied = 6,
  kDeclined = 7,
};

struct ContactAttempt {
  absl::Time at;
  ContactChannel channel = ContactChannel::kUnspecified;
  ContactOutcome outcome = ContactOutcome::kUnspecified;
  // What the contact was for, and whether it was autodialed or prerecorded
  // (phone) : the consent it needs (ConsentChannelFor).
  ConsentPurpose purpose = ConsentPurpose::kScheduling;
  bool automated = false;
};

// The consent channel a contact attempt needs: phone -> voice (autodialed
// voice when automated), sms -> sms, email -> email; nullopt for mail, which
// needs none.
std::optional<ConsentChannel> ConsentChannelFor(const ContactAttempt& attempt);

// Where a submission came from. Clear metadata: must never hold PII (the
// landing page has its query string and fragment stripped for that reason).
struct Attribution {
  SourceChannel source = SourceChannel::kUnspecified;
  std::string campaign;
  std::string utm_source;
  std::string utm_medium;
  std::string utm_campaign;
  std::string utm_term;
  std::string utm_content;
  std::string landing_page;
  std::string service_line;  // e.g. "orthopedics"; lower-case [a-z0-9_-]
};

// A later submission that matched an existing lead (same email or phone).
struct Touch {
  absl::Time at;
  Attribution attribution;
};

// The decrypted personal fields of one lead; an absent field is empty.
class LeadPii {
 public:
  void Set(PiiField field, keys::SecretBytes value) { values_[Index(field)] = std::move(value); }
  const keys::SecretBytes& Get(PiiField field) const { return values_[Index(field)]; }
  keys::SecretBytes& Mutable(PiiField field) { return values_[Index(field)]; }
  bool Has(PiiField field) const { return !values_[Index(field)].empty(); }

 private:
  static size_t Index(PiiField field) { return static_cast<size_t>(field) - 1; }
  std::array<keys::SecretBytes, kPiiFieldCount> values_;
};

// Clear (non-PII) metadata of a lead.
struct LeadMetadata {
  std::string id;  // 16 random bytes (binary); see EncodeLeadId for its text form
  absl::Time created_at;
  absl::Time updated_at;
  Attribution attribution;  // the first touch; its service_line is the lead's
  LeadStatus status = LeadStatus::kNew;
  std::vector<ContactAttempt> contact_attempts;
  std::vector<Touch> touches;  // later submissions merged into this lead
  std::string created_by;      // principal id of the creator
  uint64_t version = 0;        // bumped by every update; optimistic concurrency
};

// A contact field a read for outreach did not return, and why.
struct WithheldField {
  PiiField field;
  // The consent decision for the outreach channel (not allowed), or, for the
  // contact field of another channel, reason "not_outreach_channel".
  std::string
      reason;  // "no_consent", "revoked", "incomplete", "suppressed", "not_outreach_channel"
  absl::Time since = absl::InfinitePast();  // revoked / suppressed: when
  std::vector<TcpaElement> missing;         // incomplete: what the grant lacks
};

// A later submission of the lead's person, with the personal data it brought
// as the reader may see it (the lead's own projection per field).
struct Submission {
  absl::Time at;
  Attribution attribution;
  LeadPii pii;
  std::vector<PiiField> masked;     // fields in `pii` that hold a masked form
  std::vector<PiiField> conflicts;  // fields it brought that differ from the lead's
};

struct Lead {
  LeadMetadata meta;
  LeadPii pii;
  std::vector<PiiField> masked;  // fields in `pii` that hold a masked form
  std::vector<WithheldField> withheld;
  std::vector<Submission> submissions;  // oldest first; none on outreach reads
};

// Text form of a lead id: 32 lower-case hex characters.
std::string EncodeLeadId(absl::string_view binary_id);

// A lead's id as a value: 16 bytes (random for a lead or a receipt), whose
// text form is 32 lower-case hex. Only well-formed ids can be made.
class LeadId {
 public:
  static constexpr size_t kSize = 16;
  static std::optional<LeadId> FromBytes(absl::string_view bytes);
  // The text form (hex in either case, as DecodeLeadId).
  static std::optional<LeadId> FromText(absl::string_view text);

  const std::string& bytes() const { return bytes_; }
  std::string text() const { return EncodeLeadId(bytes_); }
  friend bool operator==(const LeadId& a, const LeadId& b) { return a.bytes_ == b.bytes_; }

 private:
  explicit LeadId(std::string bytes) : bytes_(std::move(bytes)) {}
  std::string bytes_;
};
// Parses the text form into the 16-byte binary id; nullopt unless exactly 32 hex
// characters. Hex digits are accepted in either case (so an id copied through a
// tool that upper-cases it still resolves); EncodeLeadId always emits lower case.
std::optional<std::string> DecodeLeadId(absl::string_view text);

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_LEAD_H_
