// LeadStore::AmendLead and ListAmendments: corrections of a lead's personal
// data and their encrypted history (HIPAA 164.526).
#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "keys/aead.h"
#include "keys/blind_index.h"
#include "keys/error_reason.h"
#include "keys/hash.h"
#include "keys/status_macros.h"
#include "vault/access_policy.h"
#include "vault/internal/keys.h"
#include "vault/lead_record.h"
#include "vault/lead_store.h"
#include "vault/validation.h"

namespace leadvault::vault {
namespace {

using internal::LeadRecord;

constexpr uint8_t kEmailIndex = static_cast<uint8_t>(keys::BlindIndexId::kEmail);
constexpr uint8_t kPhoneIndex = static_cast<uint8_t>(keys::BlindIndexId::kPhone);

// The field numbers a history ciphertext is bound to (its AEAD associated
// data): amendment n's previous value of field f is n << 8 | f and its reason
// n << 8 | 0xff, so no ciphertext can stand in for a current field (1..11) or
// for another amendment's.
uint32_t PreviousValueNumber(uint32_t number, uint32_t field) { return number << 8 | field; }
uint32_t ReasonNumber(uint32_t number) { return number << 8 | 0xff; }

size_t Index(PiiField field) { return static_cast<size_t>(field) - 1; }

std::string PageToken(uint32_t next_number) {
  std::string raw;
  internal::PutBigEndian32(raw, next_number);
  return absl::WebSafeBase64Escape(raw);
}

// The amendment number a page starts from (newest first); INVALID_ARGUMENT if malformed.
absl::StatusOr<uint32_t> ParsePageToken(absl::string_view token, uint32_t newest) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || raw.size() != 4) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  const uint32_t n = static_cast<uint32_t>(static_cast<uint8_t>(raw[0])) << 24 |
                     static_cast<uint32_t>(static_cast<uint8_t>(raw[1])) << 16 |
                     static_cast<uint32_t>(static_cast<uint8_t>(raw[2])) << 8 |
                     static_cast<uint32_t>(static_cast<uint8_t>(raw[3]));
  if (n == 0 || n > newest) return absl::InvalidArgumentError("page_token: not of this lead");
  return n;
}

}  // namespace

absl::StatusOr<AmendResult> LeadStore::AmendLead(const Actor& actor,
                                                 const LeadAmendment& amendment) {
  // Everything that needs no record first: a refused request reads nothing.
  if (!actor.purpose.has_value()) {
    return absl::InvalidArgumentError("purpose: required (patient_request or operations)");
  }
  if (*actor.purpose != Purpose::kPatientRequest && *actor.purpose != Purpose::kOperations) {
    return WithReason(
        absl::PermissionDeniedError("purpose: an amendment is for patient_request or operations"),
        "PURPOSE_NOT_ALLOWED");
  }
  LV_RETURN_IF_ERROR(CheckPurposeFor(actor, Rpc::kAmendLead));
  LV_ASSIGN_OR_RETURN(keys::SecretBytes reason, NormalizeText("reason", amendment.reason,
                                                              kMaxAmendReason, /*multiline=*/true));
  if (reason.size() < kMinAmendReason) {
    return absl::InvalidArgumentError(
        "reason: a written reason of at least 10 characters is required");
  }
  std::array<bool, kPiiFieldCount> clearing{};
  for (PiiField field : amendment.clear) {
    const auto n = static_cast<uint32_t>(field);
    if (n < 1 || n > kPiiFieldCount) return absl::InvalidArgumentError("clear: unknown field");
    if (clearing[Index(field)]) return absl::InvalidArgumentError("clear: a field named twice");
    if (amendment.values.Has(field)) {
      return absl::InvalidArgumentError("clear: a field cannot be both set and cleared");
    }
    clearing[Index(field)] = true;
  }
  const absl::Time now = clock_->Now();
  LeadPii values;
  for (PiiField field : kAllPiiFields) {
    if (amendment.values.Has(field)) {
      values.Set(field, amendment.values.Get(field).Clone());
    }
  }
  LV_RETURN_IF_ERROR(NormalizePiiFields(values, now));
  bool any = std::any_of(clearing.begin(), clearing.end(), [](bool b) { return b; });
  for (PiiField field : kAllPiiFields) any = any || values.Has(field);
  if (!any) return absl::InvalidArgumentError("personal: nothing to change");

  // The new contact tokens, claimed with the lead so a concurrent create or
  // amendment of the same contact is ordered with this one.
  std::string email_token, phone_token;
  std::vector<std::string> claim_keys = {amendment.lead_id};
  if (values.Has(PiiField::kEmail)) {
    email_token = keys_->blind_index().Token(keys::BlindIndexId::kEmail,
                                             EmailIndexForm(values.Get(PiiField::kEmail)).view());
    claim_keys.push_back(internal::BlindIndexPrefix(kEmailIndex, email_token));
  }
  if (values.Has(PiiField::kPhone)) {
    phone_token =
        keys_->blind_index().Token(keys::BlindIndexId::kPhone, values.Get(PiiField::kPhone).view());
    claim_keys.push_back(internal::BlindIndexPrefix(kPhoneIndex, phone_token));
  }
  KeyClaims::Claim claim = claims_.Acquire(std::move(claim_keys));

  const std::string& lead_id = amendment.lead_id;
  auto values_read = db_->MultiGet({{Cf::kLeads, lead_id}, {Cf::kDek, lead_id}});
  if (absl::IsNotFound(values_read[0].status())) return absl::NotFoundError("lead not found");
  LV_RETURN_IF_ERROR(values_read[0].status());
  LV_ASSIGN_OR_RETURN(LeadRecord record, rows_.Parse(lead_id, *values_read[0]));
  const LeadRecord before = record;
  const LeadMetadata meta = MetadataFromRecord(lead_id, record);
  if (!MaySeeAs(actor, meta, Rpc::kAmendLead)) return absl::NotFoundError("lead not found");
  if (record.version() != amendment.expected_version) {
    return WithReason(absl::AbortedError("expected_version: the lead changed since it was read"),
                      "VERSION_CONFLICT");
  }
  if (static_cast<size_t>(record.amendments_size()) >= kMaxAmendments) {
    return WithReason(absl::FailedPreconditionError(
                          absl::StrCat("amendments: the lead has the maximum of ", kMaxAmendments)),
                      "AMENDMENTS_FULL");
  }

  // The current values of the fields the amendment touches.
  LV_ASSIGN_OR_RETURN(keys::SecretBytes dek, lead_keys_.Unwrap(lead_id, values_read[1]));
  std::array<const internal::EncryptedField*, kPiiFieldCount> stored{};
  for (const auto& f : record.fields()) {
    if (f.field() < 1 || f.field() > kPiiFieldCount) {
      return absl::DataLossError("lead record: unknown field number");
    }
    stored[f.field() - 1] = &f;
  }
  LeadPii current;
  std::vector<PiiField> changed;
  for (PiiField field : kAllPiiFields) {
    if (!values.Has(field) && !clearing[Index(field)]) continue;
    const internal::EncryptedField* f = stored[Index(field)];
    if (f != nullptr) {
      LV_ASSIGN_OR_RETURN(
          keys::SecretBytes plain,
          keys::DecryptField(dek, record.dek_version(), lead_id, f->field(), f->ciphertext()));
      current.Set(field, std::move(plain));
    }
    const bool same = values.Has(field)
                          ? current.Has(field) && current.Get(field).Equals(values.Get(field))
                          : !current.Has(field);
    if (!same) changed.push_back(field);
  }
  if (changed.empty()) {
    return absl::InvalidArgumentError("personal: every value equals the lead's; nothing to change");
  }
  auto keeps = [&](PiiField field) {
    return values.Has(field) || (!clearing[Index(field)] && stored[Index(field)] != nullptr);
  };
  if (!keeps(PiiField::kEmail) && !keeps(PiiField::kPhone)) {
    return absl::InvalidArgumentError("clear: the lead must keep an email or a phone");
  }

  // A new contact another lead of this service line holds is the same person:
  // amending cannot merge two leads, so it is refused (without naming the other).
  const std::string& line = record.attribution().service_line();
  for (auto [field, index, own, token] :
       {std::tuple{PiiField::kEmail, kEmailIndex, kOwnEmailIndex, &email_token},
        {PiiField::kPhone, kPhoneIndex, kOwnPhoneIndex, &phone_token}}) {
    if (token->empty() || std::find(changed.begin(), changed.end(), field) == changed.end()) {
      continue;
    }
    const absl::Status in_use = WithReason(
        absl::FailedPreconditionError(absl::StrCat(
            PiiFieldName(field),
            ": another lead of this service line has this value (the same person?); amending "
            "cannot merge leads")),
        "CONTACT_IN_USE");
    LV_ASSIGN_OR_RETURN(std::string other, LeadOfLineWithContact(index, *token, line, lead_id));
    if (!other.empty()) return in_use;
    // The creator's own-submission row of the new contact names no other id
    // (a receipt of a lead whose contact has since changed, say).
    auto own_row = db_->Get(Cf::kBidx, OwnSubmissionKey(own, *token, record.created_by(), line));
    if (own_row.ok() && *own_row != lead_id) return in_use;
    if (!own_row.ok() && !absl::IsNotFound(own_row.status())) return own_row.status();
  }

  // The history entry: the previous values and the reason, encrypted.
  const uint32_t number = static_cast<uint32_t>(record.amendments_size()) + 1;
  internal::AmendmentRecord* history = record.add_amendments();
  history->set_number(number);
  history->set_at_unix_micros(absl::ToUnixMicros(now));
  history->set_principal_id(actor.principal_id);
  history->set_purpose(static_cast<int32_t>(*actor.purpose));
  history->set_version(record.version() + 1);
  history->set_reason(keys::EncryptField(dek, record.dek_version(), lead_id, ReasonNumber(number),
                                         reason.view(), random_->Bytes(keys::kNonceSize)));
  audit::AuditEntry entry = EntryFor(actor, "AmendLead");
  entry.lead_ids.push_back(EncodeLeadId(lead_id));
  for (PiiField field : changed) {
    const auto n = static_cast<uint32_t>(field);
    internal::EncryptedField* previous = history->add_previous();
    previous->set_field(n);
    if (current.Has(field)) {
      previous->set_ciphertext(
          keys::EncryptField(dek, record.dek_version(), lead_id, PreviousValueNumber(number, n),
                             current.Get(field).view(), random_->Bytes(keys::kNonceSize)));
    }
    if (clearing[Index(field)]) history->add_cleared(n);
    entry.fields.push_back(
        absl::StrCat(clearing[Index(field)] ? "cleared:" : "amended:", PiiFieldName(field)));
  }

  // The fields as amended, in field-number order.
  google::protobuf::RepeatedPtrField<internal::EncryptedField> fields;
  for (PiiField field : kAllPiiFields) {
    const auto n = static_cast<uint32_t>(field);
    if (std::find(changed.begin(), changed.end(), field) == changed.end()) {
      if (stored[Index(field)] != nullptr) *fields.Add() = *stored[Index(field)];
      continue;
    }
    if (!values.Has(field)) continue;  // cleared
    internal::EncryptedField* f = fields.Add();
    f->set_field(n);
    f->set_ciphertext(keys::EncryptField(dek, record.dek_version(), lead_id, n,
                                         values.Get(field).view(),
                                         random_->Bytes(keys::kNonceSize)));
  }
  *record.mutable_fields() = std::move(fields);
  // The contact tokens follow; consent given before a contact changed does not
  // cover the new one (ConsentLedger::Decide).
  for (PiiField field : changed) {
    if (field == PiiField::kEmail) {
      record.set_email_token(email_token);
      record.set_email_changed_at_unix_micros(absl::ToUnixMicros(now));
    } else if (field == PiiField::kPhone) {
      record.set_phone_token(phone_token);
      record.set_phone_changed_at_unix_micros(absl::ToUnixMicros(now));
    }
  }
  record.set_version(record.version() + 1);
  record.set_updated_at_unix_micros(absl::ToUnixMicros(now));
  const RetentionPolicyStore::Pinned retention = retention_->Pin();
  StampRetention(retention.policy(), lead_id, record);
  rocksdb::WriteBatch batch;
  LV_RETURN_IF_ERROR(rows_.AddUpdate(lead_id, before, record, batch));
  LV_RETURN_IF_ERROR(committer_->Commit(std::move(batch), std::move(entry)).status());
  return AmendResult{MetadataFromRecord(lead_id, record), number, std::move(changed)};
}

absl::StatusOr<AmendmentPage> LeadStore::ListAmendments(const Actor& actor,
                                                        const std::string& lead_id, int page_size,
                                                        const std::string& page_token) {
  if (page_size < 0 || page_size > kMaxAmendmentPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: 1 to ", kMaxAmendmentPageSize, " (0: the default)"));
  }
  if (page_size == 0) page_size = kDefaultAmendmentPageSize;
  if (actor.purpose == Purpose::kEmergency) {
    return WithReason(absl::PermissionDeniedError(
                          "purpose: emergency access reads the lead (GetLead), not its history"),
                      "PURPOSE_NOT_ALLOWED");
  }
  auto values = db_->MultiGet({{Cf::kLeads, lead_id}, {Cf::kDek, lead_id}});
  if (absl::IsNotFound(values[0].status())) return absl::NotFoundError("lead not found");
  LV_RETURN_IF_ERROR(values[0].status());
  LV_ASSIGN_OR_RETURN(LeadRecord record, rows_.Parse(lead_id, *values[0]));
  const LeadMetadata meta = MetadataFromRecord(lead_id, record);
  if (!MaySeeAs(actor, meta, Rpc::kListAmendments)) return absl::NotFoundError("lead not found");
  LV_RETURN_IF_ERROR(CheckPurpose(actor, meta));
  const auto newest = static_cast<uint32_t>(record.amendments_size());
  uint32_t from = newest;
  if (!page_token.empty()) {
    LV_ASSIGN_OR_RETURN(from, ParsePageToken(page_token, newest));
  }

  audit::AuditEntry entry = EntryFor(actor, "ListAmendments");
  entry.lead_ids.push_back(EncodeLeadId(lead_id));
  AmendmentPage page;
  const FieldProjections projections = ProjectionsFor(actor, meta);
  std::optional<keys::SecretBytes> dek;
  if (from > 0) {
    LV_ASSIGN_OR_RETURN(dek, lead_keys_.Unwrap(lead_id, values[1]));
  }
  std::vector<std::string> shown;  // the entry's fields, once each
  auto note = [&shown](std::string field) {
    if (std::find(shown.begin(), shown.end(), field) == shown.end()) {
      shown.push_back(std::move(field));
    }
  };
  uint32_t n = from;
  for (; n >= 1 && page.amendments.size() < static_cast<size_t>(page_size); --n) {
    const internal::AmendmentRecord& a = record.amendments(static_cast<int>(n) - 1);
    if (a.number() != n) return absl::DataLossError("lead record: amendments out of order");
    AmendmentView view;
    view.number = n;
    view.at = absl::FromUnixMicros(a.at_unix_micros());
    view.principal_id = a.principal_id();
    if (a.purpose() >= 0 && static_cast<size_t>(a.purpose()) < kAllPurposes.size()) {
      view.purpose = static_cast<Purpose>(a.purpose());
    }
    view.version = a.version();
    LV_ASSIGN_OR_RETURN(view.reason, keys::DecryptField(*dek, record.dek_version(), lead_id,
                                                        ReasonNumber(n), a.reason()));
    for (const internal::EncryptedField& f : a.previous()) {
      if (f.field() < 1 || f.field() > kPiiFieldCount) {
        return absl::DataLossError("lead record: unknown field number");
      }
      AmendedFieldView change;
      change.field = static_cast<PiiField>(f.field());
      change.cleared =
          std::find(a.cleared().begin(), a.cleared().end(), f.field()) != a.cleared().end();
      change.projection = projections[f.field() - 1];
      if (change.projection != Projection::kHidden && !f.ciphertext().empty()) {
        LV_ASSIGN_OR_RETURN(keys::SecretBytes plain,
                            keys::DecryptField(*dek, record.dek_version(), lead_id,
                                               PreviousValueNumber(n, f.field()), f.ciphertext()));
        if (change.projection == Projection::kMasked) {
          change.previous = Mask(change.field, plain, clock_->Now());
          if (!change.previous.empty()) {
            note(absl::StrCat("previous:", PiiFieldName(change.field), ":masked"));
          }
        } else {
          change.previous = std::move(plain);
          note(absl::StrCat("previous:", PiiFieldName(change.field)));
        }
      }
      view.changes.push_back(std::move(change));
    }
    page.amendments.push_back(std::move(view));
  }
  if (n >= 1) page.next_page_token = PageToken(n);
  entry.fields = std::move(shown);
  if (!page.amendments.empty()) entry.fields.push_back("reason");
  // Fail closed: the history leaves only after its audit entry is durable.
  LV_RETURN_IF_ERROR(committer_->Commit(rocksdb::WriteBatch(), std::move(entry)).status());
  return page;
}

}  // namespace leadvault::vault
