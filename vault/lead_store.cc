#include "vault/lead_store.h"

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "keys/aead.h"
#include "keys/error_reason.h"
#include "keys/master_key.h"
#include "keys/status_macros.h"
#include "rocksdb/iterator.h"
#include "rocksdb/write_batch.h"
#include "vault/access_policy.h"
#include "vault/disclosure_index.h"
#include "vault/internal/keys.h"
#include "vault/internal/page_token.h"
#include "vault/internal/records.pb.h"
#include "vault/lead_record.h"
#include "vault/lead_rows.h"
#include "vault/read_decision.h"
#include "vault/retention.h"
#include "vault/validation.h"

namespace leadvault::vault {
namespace {

using internal::LeadRecord;

static_assert(kMaxFindResults <= kMaxIndexedLeadsPerEntry,
              "every match of a look-up must be indexed for the accounting");

constexpr uint8_t kEmailIndex = static_cast<uint8_t>(keys::BlindIndexId::kEmail);
constexpr uint8_t kPhoneIndex = static_cast<uint8_t>(keys::BlindIndexId::kPhone);

// A keyed hash of the normalized request, for idempotency-key reuse checks. The
// PII is framed in a zeroed buffer and never copied into a plain string.
std::string RequestHash(const keys::SecretBytes& key, const NewLead& lead) {
  internal::AttributionRecord attribution;
  ToRecord(lead.attribution, &attribution);
  const std::string clear = attribution.SerializeAsString();
  size_t size = clear.size() + 4;
  for (PiiField f : kAllPiiFields) size += 8 + lead.pii.Get(f).size();
  keys::SecretBytes framed(size);
  uint8_t* out = framed.data();
  auto put32 = [&out](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) *out++ = static_cast<uint8_t>(v >> shift);
  };
  for (PiiField f : kAllPiiFields) {
    const keys::SecretBytes& v = lead.pii.Get(f);
    put32(static_cast<uint32_t>(f));
    put32(static_cast<uint32_t>(v.size()));
    std::copy_n(v.data(), v.size(), out);
    out += v.size();
  }
  put32(static_cast<uint32_t>(clear.size()));
  std::copy_n(clear.data(), clear.size(), out);
  if (!lead.consent.has_value()) return keys::KeyedHash(key, framed.view());
  // The consent captured with it, in requests that carry one.
  const ConsentGrant& grant = *lead.consent;
  std::string consent = "consent";
  for (ConsentChannel c : grant.channels)
    internal::PutBigEndian32(consent, static_cast<uint32_t>(c));
  consent += '/';
  for (ConsentPurpose p : grant.purposes)
    internal::PutBigEndian32(consent, static_cast<uint32_t>(p));
  const ConsentEvidence& v = grant.evidence;
  for (absl::string_view s :
       {absl::string_view(grant.third_party), absl::string_view(v.source_url),
        absl::string_view(v.seller_name), absl::string_view(v.disclosure_version),
        absl::string_view(v.disclosure_sha256), absl::string_view(v.capture_certificate_id),
        absl::string_view(v.user_agent)}) {
    internal::PutLengthPrefixed(consent, s);
  }
  internal::PutBigEndian64(consent, static_cast<uint64_t>(absl::ToUnixMicros(v.captured_at)));
  consent.push_back(static_cast<char>(v.authorizes_automated));
  consent.push_back(static_cast<char>(v.not_condition_of_purchase));
  keys::SecretBytes all(framed.size() + consent.size() + v.ip_address.size());
  std::copy_n(framed.data(), framed.size(), all.data());
  std::copy_n(consent.data(), consent.size(), all.data() + framed.size());
  std::copy_n(v.ip_address.data(), v.ip_address.size(),
              all.data() + framed.size() + consent.size());
  return keys::KeyedHash(key, all.view());
}

using internal::DecodePageToken;
using internal::EncodePageToken;

// About what `meta` costs in a reply (fields, tags and lengths).
size_t ApproximateBytes(const LeadMetadata& meta) {
  auto attribution = [](const Attribution& a) {
    return 16 + a.campaign.size() + a.utm_source.size() + a.utm_medium.size() +
           a.utm_campaign.size() + a.utm_term.size() + a.utm_content.size() +
           a.landing_page.size() + a.service_line.size();
  };
  size_t bytes = 64 + attribution(meta.attribution) + 16 * meta.contact_attempts.size();
  for (const Touch& t : meta.touches) bytes += 16 + attribution(t.attribution);
  return bytes;
}

constexpr absl::string_view kLegalHoldPayload = "type.leadvault.dev/legal_hold";

// The id (16 hex) of the first legal hold on `lead_id`, if any, read through
// `it` (over `meta`).
absl::StatusOr<std::optional<std::string>> FirstLegalHold(Database& db, rocksdb::Iterator& meta,
                                                          const std::string& lead_id) {
  const std::string prefix = absl::StrCat(internal::kMetaLegalHoldPrefix, lead_id);
  meta.Seek(prefix);
  std::optional<std::string> hold;
  if (meta.Valid() && meta.key().starts_with(prefix)) {
    hold = absl::BytesToHexString(meta.key().ToString().substr(prefix.size()));
  }
  LV_RETURN_IF_ERROR(db.Check(meta.status(), "read legal holds"));
  return hold;
}

}  // namespace

bool IsLegalHold(const absl::Status& status) {
  return absl::IsFailedPrecondition(status) && status.GetPayload(kLegalHoldPayload).has_value();
}

absl::StatusOr<std::string> LeadStore::LeadOfLineWithContact(uint8_t index,
                                                             const std::string& token,
                                                             absl::string_view service_line,
                                                             absl::string_view except) {
  const std::string prefix = internal::BlindIndexPrefix(index, token);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->db()->NewIterator(PrefixReadOptions(), db_->cf(Cf::kBidx)));
  int candidates = 0;
  for (it->Seek(prefix);
       it->Valid() && it->key().starts_with(prefix) && ++candidates <= kMaxDuplicateCandidates;
       it->Next()) {
    std::string candidate = it->key().ToString().substr(prefix.size());
    if (candidate == except) continue;
    auto meta = ReadMetadata(candidate);
    if (absl::IsNotFound(meta.status())) continue;  // purged between index and record
    LV_RETURN_IF_ERROR(meta.status());
    if (meta->attribution.service_line == service_line) return candidate;
  }
  LV_RETURN_IF_ERROR(db_->Check(it->status(), "scan blind index"));
  return std::string();
}

ContactTokens LeadStore::TokensOf(const LeadRecord& record) {
  ContactTokens tokens{record.email_token(), record.phone_token()};
  if (record.email_changed_at_unix_micros() != 0) {
    tokens.email_changed_at = absl::FromUnixMicros(record.email_changed_at_unix_micros());
  }
  if (record.phone_changed_at_unix_micros() != 0) {
    tokens.phone_changed_at = absl::FromUnixMicros(record.phone_changed_at_unix_micros());
  }
  return tokens;
}

absl::StatusOr<LeadMetadata> LeadStore::ReadMetadata(const std::string& lead_id) {
  auto bytes = db_->Get(Cf::kLeads, lead_id);
  if (absl::IsNotFound(bytes.status())) return absl::NotFoundError("lead not found");
  LV_RETURN_IF_ERROR(bytes.status());
  LV_ASSIGN_OR_RETURN(LeadRecord record, rows_.Parse(lead_id, *bytes));
  return MetadataFromRecord(lead_id, record);
}

absl::StatusOr<uint32_t> LeadStore::StageGrant(const Actor& actor, const std::string& lead_id,
                                               const keys::SecretBytes* dek,
                                               const ConsentGrant& grant, bool new_lead,
                                               absl::Time now, PreparedCreate& prepared) {
  // A lead created by this call has an empty ledger: nothing to read.
  ConsentState state;
  if (!new_lead) {
    LV_ASSIGN_OR_RETURN(state, ledger_->ReadState(lead_id));
  }
  ConsentEvent event = GrantEvent(grant, actor.principal_id, now);
  LV_ASSIGN_OR_RETURN(prepared.stamp,
                      ledger_->Stage(lead_id, dek, kDekVersion, ContactTokens{}, state, event,
                                     *random_, prepared.batch, prepared.entry));
  return ActiveConsentChannels(state);
}

absl::Status LeadStore::StageConsentChannels(const std::string& lead_id, uint32_t channels,
                                             rocksdb::WriteBatch& batch) {
  auto bytes = db_->Get(Cf::kLeads, lead_id);
  if (absl::IsNotFound(bytes.status())) return absl::NotFoundError("lead not found");
  LV_RETURN_IF_ERROR(bytes.status());
  LV_ASSIGN_OR_RETURN(LeadRecord record, rows_.Parse(lead_id, *bytes));
  if (record.consent_channels() == channels) return absl::OkStatus();
  const LeadRecord before = record;
  // Neither version nor updated_at changes: consent is not intake's edit.
  record.set_consent_channels(channels);
  return rows_.AddUpdate(lead_id, before, record, batch);
}

absl::StatusOr<LeadStore::ConsentSubject> LeadStore::OpenForRestore(const std::string& lead_id) {
  return OpenSubject(nullptr, lead_id, Rpc::kRecordConsent, /*claim=*/true, /*need_key=*/false);
}

absl::StatusOr<LeadStore::ConsentSubject> LeadStore::OpenForConsent(const Actor& actor,
                                                                    const std::string& lead_id,
                                                                    Rpc rpc, bool claim,
                                                                    bool need_key) {
  return OpenSubject(&actor, lead_id, rpc, claim, need_key);
}

absl::StatusOr<LeadStore::ConsentSubject> LeadStore::OpenSubject(const Actor* actor,
                                                                 const std::string& lead_id,
                                                                 Rpc rpc, bool claim,
                                                                 bool need_key) {
  ConsentSubject subject;
  if (claim) subject.claim.emplace(claims_.Acquire({lead_id}));
  // The wrapped key only when it is needed (a grant carrying an IP address).
  auto values = need_key ? db_->MultiGet({{Cf::kLeads, lead_id}, {Cf::kDek, lead_id}})
                         : db_->MultiGet({{Cf::kLeads, lead_id}});
  if (absl::IsNotFound(values[0].status())) return absl::NotFoundError("lead not found");
  LV_RETURN_IF_ERROR(values[0].status());
  LV_ASSIGN_OR_RETURN(LeadRecord record, rows_.Parse(lead_id, *values[0]));
  subject.meta = MetadataFromRecord(lead_id, record);
  if (actor != nullptr && !MaySeeAs(*actor, subject.meta, rpc)) {
    return absl::NotFoundError("lead not found");
  }
  subject.tokens = TokensOf(record);
  subject.dek_version = record.dek_version();
  if (need_key) {
    LV_ASSIGN_OR_RETURN(subject.dek, lead_keys_.Unwrap(lead_id, values[1]));
  }
  return subject;
}

absl::Status LeadStore::CheckInScope(const Actor& actor, const std::string& lead_id, Rpc rpc) {
  LV_ASSIGN_OR_RETURN(LeadMetadata meta, ReadMetadata(lead_id));
  if (!MaySeeAs(actor, meta, rpc)) return absl::NotFoundError("lead not found");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<absl::StatusOr<std::string>>> LeadStore::ClaimNext(
    Cf cf, const std::string& after_id, size_t limit, std::vector<std::string>& ids,
    std::optional<KeyClaims::Claim>& claim, bool& done) {
  // The ids first (one more than the batch, to know whether any follow),
  // then their claims all at once, then the rows as they now stand.
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf(cf)));
    it->Seek(after_id);
    if (it->Valid() && !after_id.empty() && it->key() == rocksdb::Slice(after_id)) it->Next();
    for (; it->Valid() && ids.size() <= limit; it->Next()) ids.push_back(it->key().ToString());
    LV_RETURN_IF_ERROR(db_->Check(it->status(), "scan leads"));
  }
  done = ids.size() <= limit;
  if (!done) ids.pop_back();
  if (ids.empty()) return std::vector<absl::StatusOr<std::string>>();
  claim.emplace(claims_.Acquire(ids));
  std::vector<std::pair<Cf, rocksdb::Slice>> keys;
  keys.reserve(ids.size());
  for (const std::string& id : ids) keys.emplace_back(cf, id);
  return db_->MultiGet(keys);
}

absl::StatusOr<LeadStore::PreparedRestamp> LeadStore::PrepareRestamp(const RetentionPolicy& policy,
                                                                     const std::string& after_id,
                                                                     size_t limit) {
  PreparedRestamp prepared;
  prepared.last_id = after_id;
  std::vector<std::string> ids;
  LV_ASSIGN_OR_RETURN(std::vector<absl::StatusOr<std::string>> rows,
                      ClaimNext(Cf::kLeads, after_id, limit, ids, prepared.claim, prepared.done));
  if (ids.empty()) return prepared;
  for (size_t i = 0; i < ids.size(); ++i) {
    ++prepared.leads;
    if (absl::IsNotFound(rows[i].status())) continue;  // purged since the scan
    LV_RETURN_IF_ERROR(rows[i].status());
    absl::StatusOr<LeadRecord> record = rows_.Parse(ids[i], *rows[i]);
    if (absl::IsDataLoss(record.status())) {
      ++prepared.unreadable;
      continue;
    }
    LV_RETURN_IF_ERROR(record.status());
    const LeadRecord before = *record;
    StampRetention(policy, ids[i], *record);
    if (record->expires_at_unix_micros() == before.expires_at_unix_micros() &&
        record->retention_rule() == before.retention_rule()) {
      continue;
    }
    LV_RETURN_IF_ERROR(rows_.AddUpdate(ids[i], before, *record, prepared.batch));
    ++prepared.changed;
  }
  prepared.last_id = ids.back();
  return prepared;
}

absl::StatusOr<LeadStore::PreparedRewrap> LeadStore::PrepareRewrap(const KeyHierarchy::Pinned& pin,
                                                                   const std::string& after_id,
                                                                   size_t limit) {
  PreparedRewrap prepared;
  prepared.last_id = after_id;
  std::vector<std::string> ids;
  LV_ASSIGN_OR_RETURN(std::vector<absl::StatusOr<std::string>> rows,
                      ClaimNext(Cf::kDek, after_id, limit, ids, prepared.claim, prepared.done));
  if (ids.empty()) return prepared;
  auto* dek_cf = db_->cf(Cf::kDek);
  for (size_t i = 0; i < ids.size(); ++i) {
    ++prepared.leads;
    if (absl::IsNotFound(rows[i].status())) continue;  // purged since the scan
    LV_RETURN_IF_ERROR(rows[i].status());
    absl::StatusOr<std::optional<std::string>> moved = lead_keys_.Rewrap(ids[i], *rows[i], pin);
    if (absl::IsDataLoss(moved.status())) {
      ++prepared.unreadable;
      continue;
    }
    LV_RETURN_IF_ERROR(moved.status());
    if (!moved->has_value()) continue;
    LV_RETURN_IF_ERROR(FromRocks(prepared.batch.Put(dek_cf, ids[i], **moved), "re-wrap data key"));
    ++prepared.rewrapped;
  }
  prepared.last_id = ids.back();
  return prepared;
}

absl::StatusOr<std::map<uint32_t, uint64_t>> LeadStore::CountDataKeysByVersion() const {
  std::map<uint32_t, uint64_t> counts;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf(Cf::kDek)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    absl::StatusOr<uint32_t> version =
        LeadKeys::VersionOf(absl::string_view(it->value().data(), it->value().size()));
    // A malformed row counts under version 0 (no version is 0): one bad row
    // must not hide the rest from the count.
    ++counts[version.ok() ? *version : 0];
  }
  LV_RETURN_IF_ERROR(db_->Check(it->status(), "scan data keys"));
  return counts;
}

absl::StatusOr<LeadMetadata> LeadStore::ReadReceipt(const Actor& actor,
                                                    const std::string& receipt_id) {
  auto bytes = db_->Get(Cf::kMeta, ReceiptKey(receipt_id));
  if (absl::IsNotFound(bytes.status())) return absl::NotFoundError("lead not found");
  LV_RETURN_IF_ERROR(bytes.status());
  internal::ReceiptRecord r;
  if (!r.ParseFromString(*bytes) || r.format_version() != 1) {
    return absl::DataLossError("receipt record: malformed");
  }
  // A receipt is its sender's alone (whose capture scope then has it, as a
  // lead it created); to everyone else it does not exist.
  if (r.principal_id() != actor.principal_id) return absl::NotFoundError("lead not found");
  LeadMetadata m;
  m.id = receipt_id;
  m.created_at = absl::FromUnixMicros(r.created_at_unix_micros());
  m.updated_at = m.created_at;
  m.attribution = FromRecord(r.attribution());
  m.created_by = r.principal_id();
  return m;
}

absl::StatusOr<LeadStore::PreparedCreate> LeadStore::PrepareCreate(const Actor& actor,
                                                                   NewLead lead) {
  const absl::Time now = clock_->Now();
  LV_RETURN_IF_ERROR(ValidateIdempotencyKey(lead.idempotency_key));
  LV_RETURN_IF_ERROR(NormalizeLeadPii(lead.pii, now));
  LV_RETURN_IF_ERROR(NormalizeAttribution(lead.attribution));
  if (lead.consent.has_value()) LV_RETURN_IF_ERROR(NormalizeConsentGrant(*lead.consent, now));

  // Blind tokens of the contact keys, and the idempotency record's key.
  std::vector<std::string> claim_keys;
  std::string email_token, phone_token;
  if (lead.pii.Has(PiiField::kEmail)) {
    keys::SecretBytes index_form = EmailIndexForm(lead.pii.Get(PiiField::kEmail));
    email_token = keys_->blind_index().Token(keys::BlindIndexId::kEmail, index_form.view());
    claim_keys.push_back(internal::BlindIndexPrefix(kEmailIndex, email_token));
  }
  if (lead.pii.Has(PiiField::kPhone)) {
    phone_token = keys_->blind_index().Token(keys::BlindIndexId::kPhone,
                                             lead.pii.Get(PiiField::kPhone).view());
    claim_keys.push_back(internal::BlindIndexPrefix(kPhoneIndex, phone_token));
  }
  std::string idem_key = absl::StrCat(
      internal::kMetaIdempotencyPrefix,
      keys::KeyedHash(
          keys_->idempotency_key(),
          absl::StrCat(actor.principal_id, absl::string_view("\0", 1), lead.idempotency_key)));
  claim_keys.push_back(idem_key);
  PreparedCreate prepared;
  prepared.claims.push_back(claims_.Acquire(claim_keys));
  audit::AuditEntry& entry = prepared.entry;
  entry = EntryFor(actor, "CreateLead");
  for (const std::string* t : {&email_token, &phone_token}) {
    if (!t->empty()) entry.blind_tokens.push_back(absl::BytesToHexString(*t));
  }

  // A retry: return the first result, write nothing but the audit entry.
  const std::string request_hash = RequestHash(keys_->idempotency_key(), lead);
  auto previous = db_->Get(Cf::kMeta, idem_key);
  if (previous.ok()) {
    internal::IdempotencyRecord r;
    if (!r.ParseFromString(*previous)) return absl::DataLossError("idempotency record: malformed");
    if (!r.request_hash().empty() && !keys::ConstantTimeEquals(r.request_hash(), request_hash)) {
      return WithReason(
          absl::FailedPreconditionError("idempotency_key: already used with a different request"),
          "IDEMPOTENCY_KEY_REUSED");
    }
    entry.lead_ids.push_back(EncodeLeadId(r.lead_id()));
    prepared.result = CreateResult{r.lead_id(), r.duplicate(), r.version()};
    return prepared;
  }
  if (!absl::IsNotFound(previous.status())) return previous.status();

  // A duplicate: the first lead of the same service line whose email or phone
  // matches (another service line's lead is another team's: its own lead).
  const std::string& service_line = lead.attribution.service_line;
  std::string existing_id;
  const char* matched_by = "";  // the contact key that found it
  for (auto [index, token] : {std::pair{kEmailIndex, &email_token}, {kPhoneIndex, &phone_token}}) {
    if (token->empty() || !existing_id.empty()) continue;
    LV_ASSIGN_OR_RETURN(existing_id, LeadOfLineWithContact(index, *token, service_line, ""));
    if (!existing_id.empty()) matched_by = index == kEmailIndex ? "match:email" : "match:phone";
  }
  // Where the sender's own earlier submissions of this person to this service
  // line are recorded.
  std::vector<std::string> own_keys;
  for (auto [index, token] :
       {std::pair{kOwnEmailIndex, &email_token}, {kOwnPhoneIndex, &phone_token}}) {
    if (!token->empty()) {
      own_keys.push_back(OwnSubmissionKey(index, *token, actor.principal_id, service_line));
    }
  }

  rocksdb::WriteBatch& batch = prepared.batch;
  CreateResult& result = prepared.result;
  // The submission's idempotency row, once its result is known.
  auto idempotency_row = [&result, &request_hash] {
    internal::IdempotencyRecord idem;
    idem.set_format_version(1);
    idem.set_lead_id(result.lead_id);
    idem.set_duplicate(result.duplicate);
    idem.set_version(result.version);
    idem.set_request_hash(request_hash);
    return idem.SerializeAsString();
  };
  if (!existing_id.empty()) {
    LV_ASSIGN_OR_RETURN(LeadMetadata existing, AddTouch(actor, existing_id, lead, email_token,
                                                        phone_token, now, prepared));
    std::string own_id;
    for (const std::string& key : own_keys) {
      auto own = db_->Get(Cf::kBidx, key);
      if (own.ok()) {
        own_id = *std::move(own);
        break;
      }
      if (!absl::IsNotFound(own.status())) return own.status();
    }
    if (own_id.empty() && existing.created_by == actor.principal_id) {
      own_id = existing_id;  // its own lead, from before the own-submission index
    } else if (own_id.empty() && SeesLeadProgress(actor, existing)) {
      // A lead it may find and read anyway: told of it, and the match is a
      // disclosure in the accounting, as a look-up's would be.
      own_id = existing_id;
      entry.fields.push_back(matched_by);
    }
    if (!own_id.empty()) {
      result = {own_id, true, 0};
    } else {
      // Another principal's lead, out of the sender's sight: the sender gets a
      // receipt of its own and learns nothing about that lead, not even that
      // it exists.
      internal::ReceiptRecord receipt;
      receipt.set_format_version(1);
      receipt.set_lead_id(existing_id);
      receipt.set_principal_id(actor.principal_id);
      receipt.set_created_at_unix_micros(absl::ToUnixMicros(now));
      ToRecord(lead.attribution, receipt.mutable_attribution());
      std::string receipt_id = random_->Bytes(internal::kLeadIdSize);
      LV_RETURN_IF_ERROR(rows_.AddReferencing(existing_id, Cf::kMeta, ReceiptKey(receipt_id),
                                              receipt.SerializeAsString(), batch));
      // What the sender was told, for its later submissions of this person.
      for (const std::string& key : own_keys) {
        LV_RETURN_IF_ERROR(rows_.AddReferencing(existing_id, Cf::kBidx, key, receipt_id, batch));
      }
      result = {receipt_id, false, 1};
    }
    LV_RETURN_IF_ERROR(
        rows_.AddReferencing(existing_id, Cf::kMeta, idem_key, idempotency_row(), batch));
    if (result.lead_id != existing_id) entry.lead_ids.push_back(EncodeLeadId(result.lead_id));
    entry.lead_ids.push_back(EncodeLeadId(existing_id));
    entry.fields.push_back("touches");
  } else {
    // A new lead: id, data key and every field nonce from one draw.
    constexpr size_t kDraw =
        internal::kLeadIdSize + keys::kKeySize + kPiiFieldCount * keys::kNonceSize;
    keys::SecretBytes draw(kDraw);  // zeroed when it goes: it holds a copy of the DEK
    random_->Fill(draw.data(), kDraw);
    std::string lead_id(reinterpret_cast<const char*>(draw.data()), internal::kLeadIdSize);
    keys::SecretBytes dek(keys::kKeySize);
    std::copy_n(draw.data() + internal::kLeadIdSize, keys::kKeySize, dek.data());
    const uint8_t* nonces = draw.data() + internal::kLeadIdSize + keys::kKeySize;

    LeadRecord record;
    record.set_created_at_unix_micros(absl::ToUnixMicros(now));
    record.set_updated_at_unix_micros(absl::ToUnixMicros(now));
    ToRecord(lead.attribution, record.mutable_attribution());
    record.set_status(static_cast<int32_t>(LeadStatus::kNew));
    record.set_created_by(actor.principal_id);
    record.set_version(1);
    record.set_dek_version(kDekVersion);
    record.set_email_token(email_token);
    record.set_phone_token(phone_token);
    record.set_idempotency_key(idem_key);
    for (size_t i = 0; i < kPiiFieldCount; ++i) {
      PiiField field = kAllPiiFields[i];
      if (!lead.pii.Has(field)) continue;
      auto* f = record.add_fields();
      f->set_field(static_cast<uint32_t>(field));
      f->set_ciphertext(keys::EncryptField(
          dek, kDekVersion, lead_id, static_cast<uint32_t>(field), lead.pii.Get(field).view(),
          absl::string_view(reinterpret_cast<const char*>(nonces + i * keys::kNonceSize),
                            keys::kNonceSize)));
      entry.fields.emplace_back(PiiFieldName(field));
    }

    result = {lead_id, false, 1};
    prepared.retention = retention_->Pin();
    StampRetention(prepared.retention.policy(), lead_id, record);
    prepared.kek = keys_->PinCurrent();
    if (lead.consent.has_value()) {
      LV_ASSIGN_OR_RETURN(const uint32_t channels, StageGrant(actor, lead_id, &dek, *lead.consent,
                                                              /*new_lead=*/true, now, prepared));
      record.set_consent_channels(channels);
    }
    LV_RETURN_IF_ERROR(rows_.AddCreate(lead_id, record, lead_keys_.Wrap(lead_id, dek, prepared.kek),
                                       idempotency_row(), batch));
    entry.lead_ids.push_back(EncodeLeadId(lead_id));
  }
  return prepared;
}

absl::StatusOr<LeadMetadata> LeadStore::AddTouch(const Actor& actor, const std::string& existing_id,
                                                 const NewLead& lead,
                                                 const std::string& email_token,
                                                 const std::string& phone_token, absl::Time now,
                                                 PreparedCreate& prepared) {
  prepared.claims.push_back(claims_.Acquire({existing_id}));
  auto values = db_->MultiGet({{Cf::kLeads, existing_id}, {Cf::kDek, existing_id}});
  LV_RETURN_IF_ERROR(values[0].status());
  LV_ASSIGN_OR_RETURN(LeadRecord record, rows_.Parse(existing_id, *values[0]));
  const LeadRecord before = record;
  // One touch per sender, its newest: a sender that repeats itself cannot push
  // the others' touches out of the ring.
  auto* touches = record.mutable_touches();
  for (int i = touches->size() - 1; i >= 0; --i) {
    if (touches->Get(i).principal_id() == actor.principal_id) touches->DeleteSubrange(i, 1);
  }
  if (static_cast<size_t>(touches->size()) >= kMaxTouches) {
    touches->DeleteSubrange(0, touches->size() - static_cast<int>(kMaxTouches) + 1);
  }
  auto* touch = record.add_touches();
  touch->set_at_unix_micros(absl::ToUnixMicros(now));
  touch->set_principal_id(actor.principal_id);
  ToRecord(lead.attribution, touch->mutable_attribution());
  // What the submission brought, kept encrypted on the lead (never replacing
  // its values), and its contacts indexed for it (LeadRows::KeysOf).
  const uint32_t number = record.touches_made() + 1;
  record.set_touches_made(number);
  touch->set_number(number);
  touch->set_email_token(email_token);
  touch->set_phone_token(phone_token);
  LV_ASSIGN_OR_RETURN(keys::SecretBytes dek, lead_keys_.Unwrap(existing_id, values[1]));
  for (PiiField field : kAllPiiFields) {
    if (!lead.pii.Has(field)) continue;
    internal::EncryptedField* f = touch->add_fields();
    f->set_field(static_cast<uint32_t>(field));
    f->set_ciphertext(
        keys::EncryptField(dek, record.dek_version(), existing_id,
                           SubmissionFieldNumber(number, static_cast<uint32_t>(field)),
                           lead.pii.Get(field).view(), random_->Bytes(keys::kNonceSize)));
  }
  if (lead.consent.has_value()) {
    // Fresh consent from the person, recorded on the lead it duplicates
    // (under that lead's claim, taken above).
    LV_ASSIGN_OR_RETURN(const uint32_t channels, StageGrant(actor, existing_id, &dek, *lead.consent,
                                                            /*new_lead=*/false, now, prepared));
    record.set_consent_channels(channels);
  }
  // Neither version nor updated_at changes: a submission must not make
  // intake's next update fail.
  prepared.retention = retention_->Pin();
  StampRetention(prepared.retention.policy(), existing_id, record);  // a submission is activity
  LV_RETURN_IF_ERROR(rows_.AddUpdate(existing_id, before, record, prepared.batch));
  return MetadataFromRecord(existing_id, record);
}

absl::StatusOr<CreateResult> LeadStore::CreateLead(const Actor& actor, NewLead lead) {
  LV_ASSIGN_OR_RETURN(PreparedCreate prepared, PrepareCreate(actor, std::move(lead)));
  LV_RETURN_IF_ERROR(
      committer_
          ->Commit(std::move(prepared.batch), std::move(prepared.entry), std::move(prepared.stamp))
          .status());
  return prepared.result;  // the claims are released after the commit, here
}

void LeadStore::CreateLeadAsync(const Actor& actor, NewLead lead,
                                std::function<void(absl::StatusOr<CreateResult>)> done) {
  absl::StatusOr<PreparedCreate> prepared = PrepareCreate(actor, std::move(lead));
  if (!prepared.ok()) {
    done(prepared.status());
    return;
  }
  // The claims live until the commit is durable, then go with the callback.
  auto claims = std::make_shared<std::vector<KeyClaims::Claim>>(std::move(prepared->claims));
  auto retention = std::make_shared<RetentionPolicyStore::Pinned>(std::move(prepared->retention));
  auto kek = std::make_shared<KeyHierarchy::Pinned>(std::move(prepared->kek));
  committer_->CommitAsync(
      std::move(prepared->batch), std::move(prepared->entry),
      [claims, retention, kek, result = prepared->result,
       done = std::move(done)](absl::StatusOr<uint64_t> seq) {
        claims->clear();
        *retention = RetentionPolicyStore::Pinned();
        *kek = KeyHierarchy::Pinned();
        if (seq.ok()) {
          done(result);
        } else {
          done(seq.status());
        }
      },
      std::move(prepared->stamp));
}

absl::StatusOr<Lead> LeadStore::ReadLead(const Actor& actor, const std::string& lead_id,
                                         const std::optional<Outreach>& requested,
                                         audit::AuditEntry& entry) {
  // The outreach as the ledger keys it (a third party's name normalized).
  std::optional<Outreach> outreach = requested;
  if (outreach.has_value()) {
    if (ConsentChannelName(outreach->channel) == "unknown") {
      return absl::InvalidArgumentError("outreach.channel: unknown consent channel");
    }
    LV_RETURN_IF_ERROR(NormalizeThirdParty(outreach->purpose, outreach->third_party));
  }
  // The record and its wrapped key (and, for outreach, its consent state) in one read.
  auto values = outreach.has_value()
                    ? db_->MultiGet({{Cf::kLeads, lead_id},
                                     {Cf::kDek, lead_id},
                                     {Cf::kConsent, ConsentLedger::StateKey(lead_id)}})
                    : db_->MultiGet({{Cf::kLeads, lead_id}, {Cf::kDek, lead_id}});
  Lead lead;
  LeadRecord record;
  // A receipt (a submission merged into a lead its sender did not create) goes
  // through every step below exactly as a lead of the sender's own would, so
  // no purpose, grant or error tells the two apart; it just has no field.
  const bool receipt = absl::IsNotFound(values[0].status());
  if (receipt) {
    LV_ASSIGN_OR_RETURN(lead.meta, ReadReceipt(actor, lead_id));
  } else {
    LV_RETURN_IF_ERROR(values[0].status());
    LV_ASSIGN_OR_RETURN(record, rows_.Parse(lead_id, *values[0]));
    lead.meta = MetadataFromRecord(lead_id, record);
  }
  // The decision first (vault/read_decision.h); the rest only executes it.
  std::optional<EmergencyGrant> grant;
  if (actor.purpose == Purpose::kEmergency && emergency_ != nullptr) {
    grant = emergency_->ActiveGrant(actor.principal_id, lead_id);
  }
  // Consent for the outreach channel (ConsentLedger::Decide): as of this
  // read, so a revocation committed before it is seen.
  std::optional<ConsentDecision> consent;
  if (outreach.has_value() && !receipt && MaySee(actor, lead.meta)) {
    LV_ASSIGN_OR_RETURN(ConsentState state, ledger_->ParseState(lead_id, values[2]));
    LV_ASSIGN_OR_RETURN(consent, ledger_->Decide(state, TokensOf(record), outreach->channel,
                                                 outreach->purpose, outreach->third_party));
  }
  LV_ASSIGN_OR_RETURN(ReadDecision decision,
                      DecideRead(actor, lead.meta, receipt, grant, outreach, consent));
  lead.meta = std::move(decision.meta);
  entry.lead_ids.push_back(EncodeLeadId(lead_id));
  if (outreach.has_value()) {
    entry.fields.push_back(absl::StrCat("outreach:", ConsentChannelName(outreach->channel), "/",
                                        ConsentPurposeName(outreach->purpose)));
  }
  for (const WithheldField& w : decision.withheld) {
    entry.fields.push_back(absl::StrCat("withheld:", PiiFieldName(w.field), ":", w.reason));
  }
  lead.withheld = std::move(decision.withheld);
  if (!decision.DisclosesAnyField()) return lead;  // metadata only: no key unwrapped
  if (decision.grant.has_value()) {
    entry.break_glass_reason = decision.grant->reason;  // every emergency read is flagged
    entry.fields.push_back(absl::StrCat("grant=", decision.grant->id));
  }
  LV_ASSIGN_OR_RETURN(keys::SecretBytes dek, lead_keys_.Unwrap(lead_id, values[1]));
  const absl::Time now = clock_->Now();
  // The lead's own values of the fields shown, for the submissions' conflicts.
  const bool submissions =
      !outreach.has_value() && std::any_of(record.touches().begin(), record.touches().end(),
                                           [](const auto& t) { return t.fields_size() > 0; });
  std::array<keys::SecretBytes, kPiiFieldCount> own;
  for (const auto& f : record.fields()) {
    if (f.field() < 1 || f.field() > kPiiFieldCount) {
      return absl::DataLossError("lead record: unknown field number");
    }
    PiiField field = static_cast<PiiField>(f.field());
    Projection p = decision.fields[f.field() - 1];
    if (p == Projection::kHidden) continue;  // never decrypted
    LV_ASSIGN_OR_RETURN(
        keys::SecretBytes plain,
        keys::DecryptField(dek, record.dek_version(), lead_id, f.field(), f.ciphertext()));
    if (submissions) own[f.field() - 1] = plain.Clone();
    if (p == Projection::kMasked) {
      keys::SecretBytes masked = Mask(field, plain, now);
      if (masked.empty()) continue;
      lead.pii.Set(field, std::move(masked));
      lead.masked.push_back(field);
      entry.fields.push_back(absl::StrCat(PiiFieldName(field), ":masked"));
    } else {
      lead.pii.Set(field, std::move(plain));
      entry.fields.emplace_back(PiiFieldName(field));
    }
  }
  if (!submissions) return lead;
  // Later submissions' data, projected as the lead's own fields; the entry
  // names each field shown once ("submission:email", "submission:zip:masked").
  std::vector<std::string> shown;
  for (const internal::TouchRecord& t : record.touches()) {
    if (t.fields_size() == 0) continue;
    Submission s;
    s.at = absl::FromUnixMicros(t.at_unix_micros());
    s.attribution = FromRecord(t.attribution());
    for (const internal::EncryptedField& f : t.fields()) {
      if (f.field() < 1 || f.field() > kPiiFieldCount) {
        return absl::DataLossError("lead record: unknown submission field number");
      }
      const PiiField field = static_cast<PiiField>(f.field());
      const Projection p = decision.fields[f.field() - 1];
      if (p == Projection::kHidden) continue;  // never decrypted
      LV_ASSIGN_OR_RETURN(
          keys::SecretBytes plain,
          keys::DecryptField(dek, record.dek_version(), lead_id,
                             SubmissionFieldNumber(t.number(), f.field()), f.ciphertext()));
      const keys::SecretBytes& mine = own[f.field() - 1];
      if (p == Projection::kClear && !mine.empty() && !mine.Equals(plain)) {
        s.conflicts.push_back(field);
      }
      std::string name = absl::StrCat("submission:", PiiFieldName(field));
      if (p == Projection::kMasked) {
        keys::SecretBytes masked = Mask(field, plain, now);
        if (masked.empty()) continue;
        s.pii.Set(field, std::move(masked));
        s.masked.push_back(field);
        absl::StrAppend(&name, ":masked");
      } else {
        s.pii.Set(field, std::move(plain));
      }
      if (std::find(shown.begin(), shown.end(), name) == shown.end()) shown.push_back(name);
    }
    lead.submissions.push_back(std::move(s));
  }
  entry.fields.insert(entry.fields.end(), shown.begin(), shown.end());
  return lead;
}

absl::StatusOr<Lead> LeadStore::GetLead(const Actor& actor, const std::string& lead_id,
                                        const std::optional<Outreach>& outreach) {
  audit::AuditEntry entry = EntryFor(actor, "GetLead");
  LV_ASSIGN_OR_RETURN(Lead lead, ReadLead(actor, lead_id, outreach, entry));
  // Fail closed: the data leaves only after its audit entry is durable.
  LV_RETURN_IF_ERROR(committer_->Commit(rocksdb::WriteBatch(), std::move(entry)).status());
  return lead;
}

void LeadStore::GetLeadAsync(const Actor& actor, const std::string& lead_id,
                             const std::optional<Outreach>& outreach,
                             const std::function<void(const Lead&)>& stage,
                             std::function<void(absl::Status)> done) {
  audit::AuditEntry entry = EntryFor(actor, "GetLead");
  absl::StatusOr<Lead> lead = ReadLead(actor, lead_id, outreach, entry);
  if (!lead.ok()) {
    done(lead.status());
    return;
  }
  stage(*lead);
  committer_->CommitAsync(
      rocksdb::WriteBatch(), std::move(entry),
      [done = std::move(done)](absl::StatusOr<uint64_t> seq) { done(seq.status()); });
}

absl::StatusOr<std::vector<LeadMetadata>> LeadStore::FindLeads(const Actor& actor, LookupKind kind,
                                                               absl::string_view value) {
  LV_RETURN_IF_ERROR(CheckPurposeFor(actor, Rpc::kFindLeads));
  std::string token;
  uint8_t index;
  if (kind == LookupKind::kEmail) {
    LV_ASSIGN_OR_RETURN(keys::SecretBytes email, NormalizeEmail(value));
    token = keys_->blind_index().Token(keys::BlindIndexId::kEmail, EmailIndexForm(email).view());
    index = kEmailIndex;
  } else {
    LV_ASSIGN_OR_RETURN(keys::SecretBytes phone, NormalizePhone(value));
    token = keys_->blind_index().Token(keys::BlindIndexId::kPhone, phone.view());
    index = kPhoneIndex;
  }
  std::vector<LeadMetadata> leads;
  audit::AuditEntry entry = EntryFor(actor, "FindLeads");
  entry.blind_tokens.push_back(absl::BytesToHexString(token));
  // What each match discloses: that this person is a lead (of its service line).
  entry.fields.push_back(kind == LookupKind::kEmail ? "match:email" : "match:phone");
  std::string prefix = internal::BlindIndexPrefix(index, token);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->db()->NewIterator(PrefixReadOptions(), db_->cf(Cf::kBidx)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string lead_id = it->key().ToString().substr(prefix.size());
    auto meta = ReadMetadata(lead_id);
    if (absl::IsNotFound(meta.status())) continue;  // purged between index and record
    LV_RETURN_IF_ERROR(meta.status());
    if (!MaySeeAs(actor, *meta, Rpc::kFindLeads)) continue;  // out of scope: as if missing
    entry.lead_ids.push_back(EncodeLeadId(lead_id));
    meta->touches.clear();
    leads.push_back(*std::move(meta));
    if (leads.size() >= kMaxFindResults) break;
  }
  LV_RETURN_IF_ERROR(db_->Check(it->status(), "scan blind index"));
  LV_RETURN_IF_ERROR(committer_->Commit(rocksdb::WriteBatch(), std::move(entry)).status());
  return leads;
}

absl::StatusOr<QueuePage> LeadStore::ListQueue(const Actor& actor, const QueueQuery& query) {
  LV_RETURN_IF_ERROR(ValidateServiceLine("service_line", query.service_line));
  if (query.status < LeadStatus::kNew || query.status > LeadStatus::kDisqualified) {
    return absl::InvalidArgumentError("status: unknown lead status");
  }
  const int page_size = query.page_size == 0 ? kDefaultQueuePageSize : query.page_size;
  if (page_size < 1 || page_size > kMaxQueuePageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be 1..", kMaxQueuePageSize, " (0: the default)"));
  }
  std::string prefix = internal::QueuePrefix(query.service_line, static_cast<int>(query.status));
  std::string start = prefix;
  bool skip_start = false;
  if (!query.page_token.empty()) {
    LV_ASSIGN_OR_RETURN(std::string after, DecodePageToken(query.page_token));
    start += after;
    skip_start = true;
  }
  QueuePage page;
  audit::AuditEntry entry = EntryFor(actor, "ListQueue");
  if (!MayListServiceLine(actor, query.service_line)) {
    // Another service line's queue looks empty (and costs what an empty one does).
    LV_RETURN_IF_ERROR(committer_->Commit(rocksdb::WriteBatch(), std::move(entry)).status());
    return page;
  }
  std::unique_ptr<rocksdb::Iterator> it(
      db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf(Cf::kQueue)));
  std::string last_suffix;
  size_t bytes = 0;
  for (it->Seek(start); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (skip_start && it->key() == start) continue;
    if (page.leads.size() == static_cast<size_t>(page_size) || bytes >= kMaxListReplyBytes) {
      page.next_page_token = EncodePageToken(last_suffix);
      break;
    }
    std::string suffix = it->key().ToString().substr(prefix.size());
    if (suffix.size() != 8 + internal::kLeadIdSize)
      return absl::DataLossError("queue: malformed key");
    std::string lead_id = suffix.substr(8);
    auto meta = ReadMetadata(lead_id);
    if (absl::IsNotFound(meta.status())) continue;
    LV_RETURN_IF_ERROR(meta.status());
    if (!MaySeeAs(actor, *meta, Rpc::kListQueue)) continue;
    entry.lead_ids.push_back(EncodeLeadId(lead_id));
    meta->touches.clear();
    bytes += ApproximateBytes(*meta);
    page.leads.push_back(*std::move(meta));
    last_suffix = std::move(suffix);
  }
  LV_RETURN_IF_ERROR(db_->Check(it->status(), "scan queue"));
  LV_RETURN_IF_ERROR(committer_->Commit(rocksdb::WriteBatch(), std::move(entry)).status());
  return page;
}

absl::StatusOr<LeadStore::PreparedPurge> LeadStore::PreparePurge(
    const std::string& lead_id, const Actor* pages_for,
    const std::function<bool(const LeadMetadata&)>& in_scope) {
  return std::move(PreparePurges({lead_id}, pages_for, in_scope, nullptr).front());
}

std::vector<absl::StatusOr<LeadStore::PreparedPurge>> LeadStore::PreparePurges(
    const std::vector<std::string>& lead_ids, const Actor* pages_for,
    const std::function<bool(const LeadMetadata&)>& in_scope,
    absl::flat_hash_set<std::string>* held_by_caller) {
  std::vector<absl::StatusOr<PreparedPurge>> out;
  out.reserve(lead_ids.size());
  // The records name the email and phone tokens to claim.
  std::vector<std::pair<Cf, rocksdb::Slice>> keys;
  keys.reserve(lead_ids.size());
  for (const std::string& id : lead_ids) keys.emplace_back(Cf::kLeads, id);
  std::vector<absl::StatusOr<std::string>> seen = db_->MultiGet(keys);
  std::vector<LeadRecord> first(lead_ids.size());
  absl::flat_hash_set<std::string> mine;  // claimed by this call
  for (size_t i = 0; i < lead_ids.size(); ++i) {
    absl::StatusOr<PreparedPurge>& result = out.emplace_back(absl::UnknownError("not staged"));
    if (absl::IsNotFound(seen[i].status())) {
      result = absl::NotFoundError("lead not found");
      continue;
    }
    if (!seen[i].ok()) {
      result = seen[i].status();
      continue;
    }
    absl::StatusOr<LeadRecord> record = rows_.Parse(lead_ids[i], *seen[i]);
    if (!record.ok()) {
      result = record.status();
      continue;
    }
    first[i] = *std::move(record);
    std::vector<std::string> claim_keys = {lead_ids[i]};
    if (!first[i].email_token().empty()) {
      claim_keys.push_back(internal::BlindIndexPrefix(kEmailIndex, first[i].email_token()));
    }
    if (!first[i].phone_token().empty()) {
      claim_keys.push_back(internal::BlindIndexPrefix(kPhoneIndex, first[i].phone_token()));
    }
    const bool waits_for_caller =
        std::any_of(claim_keys.begin(), claim_keys.end(), [&](const std::string& key) {
          return mine.contains(key) || (held_by_caller != nullptr && held_by_caller->contains(key));
        });
    if (waits_for_caller) {
      // Waiting for it would wait for the caller itself.
      result = absl::AbortedError("lead_id: a claim it needs is held by this caller");
      break;
    }
    PreparedPurge prepared;
    mine.insert(claim_keys.begin(), claim_keys.end());
    prepared.claim_keys = claim_keys;
    prepared.claims.push_back(claims_.Acquire(std::move(claim_keys)));
    result = std::move(prepared);
  }

  // Under the claims the records are read again, as a change may have landed
  // in between, and the holds and back-references through one iterator made
  // after every claim was taken: what it sees is what the purges delete.
  keys.clear();
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i].ok()) keys.emplace_back(Cf::kLeads, lead_ids[i]);
  }
  std::vector<absl::StatusOr<std::string>> now = db_->MultiGet(keys);
  std::unique_ptr<rocksdb::Iterator> meta(
      db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf(Cf::kMeta)));
  for (size_t i = 0, k = 0; i < out.size(); ++i) {
    if (!out[i].ok()) continue;
    absl::Status staged = StagePurge(lead_ids[i], *seen[i], std::move(first[i]), now[k++],
                                     meta.get(), pages_for, in_scope, *out[i]);
    if (!staged.ok()) {
      out[i] = staged;  // its claims go
    } else if (held_by_caller != nullptr) {
      held_by_caller->insert(out[i]->claim_keys.begin(), out[i]->claim_keys.end());
    }
  }
  return out;
}

absl::Status LeadStore::StagePurge(const std::string& lead_id, const std::string& seen,
                                   LeadRecord first, const absl::StatusOr<std::string>& now,
                                   rocksdb::Iterator* meta, const Actor* pages_for,
                                   const std::function<bool(const LeadMetadata&)>& in_scope,
                                   PreparedPurge& prepared) {
  if (absl::IsNotFound(now.status())) return absl::NotFoundError("lead not found");
  LV_RETURN_IF_ERROR(now.status());
  LeadRecord record;
  if (*now == seen) {
    record = std::move(first);
  } else {
    LV_ASSIGN_OR_RETURN(record, rows_.Parse(lead_id, *now));
  }
  prepared.meta = MetadataFromRecord(lead_id, record);
  // Out of scope first: a hold must not tell a caller that the lead exists.
  if (in_scope && !in_scope(prepared.meta)) return absl::NotFoundError("lead not found");
  LV_ASSIGN_OR_RETURN(std::optional<std::string> hold, FirstLegalHold(*db_, *meta, lead_id));
  if (hold.has_value()) {
    absl::Status held = absl::FailedPreconditionError(
        absl::StrCat("lead_id: under legal hold ", *hold, "; it cannot be purged until released"));
    held.SetPayload(kLegalHoldPayload, absl::Cord(*hold));
    held = WithReason(std::move(held), "LEGAL_HOLD");
    return held;
  }
  // Under the claims no later submission can name the lead, so the pages end.
  for (;;) {
    LV_ASSIGN_OR_RETURN(const bool whole, rows_.AddPurge(lead_id, record, prepared.batch, meta));
    if (whole) break;
    if (pages_for == nullptr) {
      prepared.references_only = true;
      break;
    }
    // The vault's own entry, so a call still leaves exactly one of its own;
    // the request id ties it to the call.
    Actor system = SystemActor();
    system.request_id = pages_for->request_id;
    audit::AuditEntry entry = EntryFor(system, "PurgeLeadReferences");
    entry.lead_ids.push_back(EncodeLeadId(lead_id));
    // Each row goes with its back-reference.
    entry.fields.push_back(absl::StrCat("rows=", prepared.batch.Count() / 2));
    LV_RETURN_IF_ERROR(committer_->Commit(std::move(prepared.batch), std::move(entry)).status());
    prepared.batch = rocksdb::WriteBatch();
    meta = nullptr;  // it still sees the page's rows: the next page reads afresh
  }
  prepared.expires_at = record.expires_at_unix_micros() == 0
                            ? absl::InfiniteFuture()
                            : absl::FromUnixMicros(record.expires_at_unix_micros());
  prepared.retention_rule = record.retention_rule();
  return absl::OkStatus();
}

absl::StatusOr<LeadMetadata> LeadStore::UpdateLead(const Actor& actor, const LeadUpdate& update) {
  if (update.status != LeadStatus::kUnspecified &&
      (update.status < LeadStatus::kNew || update.status > LeadStatus::kDisqualified)) {
    return absl::InvalidArgumentError("status: unknown lead status");
  }
  if (update.add_contact_attempts.size() > kMaxContactAttemptsPerUpdate) {
    return absl::InvalidArgumentError(absl::StrCat("add_contact_attempts: at most ",
                                                   kMaxContactAttemptsPerUpdate, " per update"));
  }
  const absl::Time now = clock_->Now();
  for (const ContactAttempt& a : update.add_contact_attempts) {
    if (a.channel < ContactChannel::kPhone || a.channel > ContactChannel::kMail) {
      return absl::InvalidArgumentError("contact_attempts.channel: unknown contact channel");
    }
    if (a.outcome < ContactOutcome::kConnected || a.outcome > ContactOutcome::kDeclined) {
      return absl::InvalidArgumentError("contact_attempts.outcome: unknown contact outcome");
    }
    if (a.at > now + absl::Minutes(5) || a.at < now - absl::Hours(24 * 365)) {
      return absl::InvalidArgumentError("contact_attempts.at: must be within the last year");
    }
    if (a.purpose < ConsentPurpose::kScheduling || a.purpose > ConsentPurpose::kMarketing) {
      return absl::InvalidArgumentError(
          "contact_attempts.purpose: scheduling, treatment_follow_up or marketing");
    }
    if (a.automated && a.channel != ContactChannel::kPhone) {
      return absl::InvalidArgumentError("contact_attempts.automated: only for phone calls");
    }
  }
  if (update.status == LeadStatus::kUnspecified && update.add_contact_attempts.empty()) {
    return absl::InvalidArgumentError("update: nothing to change");
  }

  KeyClaims::Claim claim = claims_.Acquire({update.lead_id});
  auto bytes = db_->Get(Cf::kLeads, update.lead_id);
  if (absl::IsNotFound(bytes.status())) return absl::NotFoundError("lead not found");
  LV_RETURN_IF_ERROR(bytes.status());
  LV_ASSIGN_OR_RETURN(LeadRecord record, rows_.Parse(update.lead_id, *bytes));
  const LeadRecord before = record;
  if (!MaySeeAs(actor, MetadataFromRecord(update.lead_id, record), Rpc::kUpdateLead)) {
    return absl::NotFoundError("lead not found");
  }
  if (record.version() != update.expected_version) {
    return WithReason(absl::AbortedError("expected_version: the lead changed since it was read"),
                      "VERSION_CONFLICT");
  }
  audit::AuditEntry entry = EntryFor(actor, "UpdateLead");
  entry.lead_ids.push_back(EncodeLeadId(update.lead_id));
  rocksdb::WriteBatch batch;
  if (update.status != LeadStatus::kUnspecified) {
    LeadStatus from = static_cast<LeadStatus>(record.status());
    if (!IsAllowedTransition(from, update.status)) {
      return WithReason(absl::FailedPreconditionError(
                            absl::StrCat("status: transition from ", LeadStatusName(from), " to ",
                                         LeadStatusName(update.status), " is not allowed")),
                        "STATUS_TRANSITION_NOT_ALLOWED");
    }
    record.set_status(static_cast<int32_t>(update.status));
    entry.fields.push_back("status");
  }
  if (!update.add_contact_attempts.empty()) {
    if (record.contact_attempts_size() + update.add_contact_attempts.size() > kMaxContactAttempts) {
      return WithReason(
          absl::FailedPreconditionError("contact_attempts: the lead has the maximum recorded"),
          "CONTACT_ATTEMPTS_FULL");
    }
    for (const ContactAttempt& a : update.add_contact_attempts) {
      auto* c = record.add_contact_attempts();
      c->set_at_unix_micros(absl::ToUnixMicros(a.at));
      c->set_channel(static_cast<int32_t>(a.channel));
      c->set_outcome(static_cast<int32_t>(a.outcome));
      c->set_purpose(static_cast<int32_t>(a.purpose));
      c->set_automated(a.automated);
    }
    // Only contacts the person agreed to, as of now: a revocation committed
    // before this update refuses it (the lead's claim orders the two).
    LV_ASSIGN_OR_RETURN(ConsentState state, ledger_->ReadState(update.lead_id));
    for (const ContactAttempt& a : update.add_contact_attempts) {
      std::optional<ConsentChannel> channel = ConsentChannelFor(a);
      if (!channel.has_value()) continue;  // mail needs none
      LV_ASSIGN_OR_RETURN(ConsentDecision consent,
                          ledger_->Decide(state, TokensOf(record), *channel, a.purpose, ""));
      if (!consent.allowed) {
        return WithReason(
            absl::FailedPreconditionError(absl::StrCat(
                "contact_attempts: no active consent for ", ConsentChannelName(*channel), "/",
                ConsentPurposeName(a.purpose), " (", ConsentReasonName(consent.reason), ")")),
            "NO_ACTIVE_CONSENT");
      }
    }
    entry.fields.push_back("contact_attempts");
  }
  record.set_version(record.version() + 1);
  record.set_updated_at_unix_micros(absl::ToUnixMicros(now));
  const RetentionPolicyStore::Pinned retention = retention_->Pin();
  StampRetention(retention.policy(), update.lead_id, record);
  LV_RETURN_IF_ERROR(rows_.AddUpdate(update.lead_id, before, record, batch));
  LV_RETURN_IF_ERROR(committer_->Commit(std::move(batch), std::move(entry)).status());
  return MetadataFromRecord(update.lead_id, record);
}

absl::StatusOr<DeletionReceipt> LeadStore::DeleteLead(const Actor& actor,
                                                      const std::string& lead_id,
                                                      const std::string& reason, bool* committed) {
  LV_ASSIGN_OR_RETURN(keys::SecretBytes text,
                      NormalizeText("reason", reason, kMaxDeletionReason, /*multiline=*/true));
  if (text.size() < kMinDeletionReason) {
    return absl::InvalidArgumentError(
        "reason: a written reason of at least 10 characters is required");
  }
  AuditLog& log = committer_->audit_log();
  // The receipt needs a signed checkpoint: refused before anything is purged.
  if (log.VerifierKey().empty()) {
    return WithReason(absl::FailedPreconditionError("audit log: no signing key yet"),
                      "NO_SIGNED_CHECKPOINT");
  }
  LV_ASSIGN_OR_RETURN(PreparedPurge purge,
                      PreparePurge(lead_id, &actor, [&actor](const LeadMetadata& meta) {
                        return MaySeeAs(actor, meta, Rpc::kDeleteLead);
                      }));
  // Until a sweep compacts the families, the purged values (and the wrapped
  // data key) are still in older table files.
  LV_RETURN_IF_ERROR(
      db_->Check(purge.batch.Put(db_->cf(Cf::kMeta),
                                 absl::StrCat(internal::kMetaCompactionDuePrefix, lead_id), ""),
                 "stage purge"));
  audit::AuditEntry entry = EntryFor(actor, "DeleteLead");
  entry.lead_ids.push_back(EncodeLeadId(lead_id));
  entry.break_glass_reason = std::string(text.view());
  absl::StatusOr<uint64_t> sequence =
      committer_->CommitWithCheckpoint(std::move(purge.batch), std::move(entry));
  if (!sequence.ok()) {
    // The write may be durable with only its checkpoint unrecorded
    // (Committer): the record, still under the claim, tells which.
    absl::StatusOr<std::string> still = db_->Get(Cf::kLeads, lead_id);
    if (!absl::IsNotFound(still.status())) return sequence.status();
    if (committed != nullptr) *committed = true;
    return absl::UnavailableError(
        "receipt: the lead was deleted and its audit entry committed, but no signed checkpoint "
        "could be recorded; its inclusion proof can be fetched later (GetInclusionProof)");
  }
  purge.claims.clear();
  if (committed != nullptr) *committed = true;

  // The purge is durable; the receipt is read back from the log.
  std::optional<SignedCheckpoint> checkpoint = log.LatestCheckpoint();
  if (!checkpoint.has_value() || checkpoint->checkpoint.size < *sequence) {
    return WithReason(
        absl::FailedPreconditionError("audit log: no signed checkpoint covers the deletion"),
        "NO_SIGNED_CHECKPOINT");
  }
  DeletionReceipt receipt;
  LV_ASSIGN_OR_RETURN(receipt.entry, log.ReadEntry(*sequence));
  LV_ASSIGN_OR_RETURN(receipt.inclusion_proof,
                      log.InclusionProof(*sequence - 1, checkpoint->checkpoint.size));
  receipt.checkpoint = *std::move(checkpoint);
  receipt.verifier_key = log.VerifierKey();
  return receipt;
}

}  // namespace leadvault::vault
