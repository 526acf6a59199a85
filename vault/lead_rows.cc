#include "vault/lead_rows.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "keys/blind_index.h"
#include "keys/hash.h"
#include "keys/status_macros.h"
#include "vault/consent_ledger.h"
#include "vault/funnel.h"
#include "vault/internal/keys.h"

namespace leadvault::vault {
namespace {

using internal::LeadRecord;

constexpr uint32_t kRecordFormatVersion = 1;
constexpr uint8_t kEmailIndex = static_cast<uint8_t>(keys::BlindIndexId::kEmail);
constexpr uint8_t kPhoneIndex = static_cast<uint8_t>(keys::BlindIndexId::kPhone);

// The MAC over a lead record's access-relevant metadata (records.proto).
std::string MetadataMac(const keys::SecretBytes& key, absl::string_view lead_id,
                        const LeadRecord& r) {
  std::string in = "leadvault-lead-metadata-v1";
  internal::PutLengthPrefixed(in, lead_id);
  internal::PutLengthPrefixed(in, r.created_by());
  internal::PutLengthPrefixed(in, r.attribution().service_line());
  internal::PutBigEndian32(in, r.format_version());
  internal::PutBigEndian32(in, static_cast<uint32_t>(r.status()));
  internal::PutBigEndian32(in, static_cast<uint32_t>(r.attribution().source()));
  internal::PutBigEndian32(in, r.dek_version());
  internal::PutBigEndian64(in, r.version());
  internal::PutBigEndian64(in, static_cast<uint64_t>(r.created_at_unix_micros()));
  // The contact tokens (the suppression list's keys), in records that have them.
  if (!r.email_token().empty() || !r.phone_token().empty()) {
    internal::PutLengthPrefixed(in, r.email_token());
    internal::PutLengthPrefixed(in, r.phone_token());
  }
  // When the contacts were amended (consent before it does not cover them), in
  // records that have been.
  if (r.email_changed_at_unix_micros() != 0 || r.phone_changed_at_unix_micros() != 0) {
    internal::PutBigEndian64(in, static_cast<uint64_t>(r.email_changed_at_unix_micros()));
    internal::PutBigEndian64(in, static_cast<uint64_t>(r.phone_changed_at_unix_micros()));
  }
  return keys::KeyedHash(key, in);
}

std::string QueueKeyOf(const std::string& lead_id, const LeadRecord& r) {
  return internal::QueueKey(r.attribution().service_line(), r.status(), r.created_at_unix_micros(),
                            lead_id);
}

// The lead's blind-index rows: its own email and phone and those later
// submissions brought, each once.
std::vector<std::string> IndexKeysOf(const std::string& lead_id, const LeadRecord& r) {
  std::vector<std::string> keys;
  auto add = [&](uint8_t index, const std::string& token) {
    if (token.empty()) return;
    std::string key = internal::BlindIndexKey(index, token, lead_id);
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(std::move(key));
  };
  add(kEmailIndex, r.email_token());
  add(kPhoneIndex, r.phone_token());
  for (const internal::TouchRecord& t : r.touches()) {
    add(kEmailIndex, t.email_token());
    add(kPhoneIndex, t.phone_token());
  }
  return keys;
}

std::string RefKey(absl::string_view lead_id, Cf cf, absl::string_view key) {
  std::string ref = LeadRows::RefPrefix(lead_id);
  ref.push_back(static_cast<char>(cf));
  ref.append(key.data(), key.size());
  return ref;
}

}  // namespace

std::string ReceiptKey(absl::string_view receipt_id) {
  return absl::StrCat(internal::kMetaReceiptPrefix, receipt_id);
}

std::string OwnSubmissionKey(uint8_t index, absl::string_view token, absl::string_view principal_id,
                             absl::string_view service_line) {
  return absl::StrCat(internal::BlindIndexPrefix(index, token), principal_id,
                      absl::string_view("\0", 1), service_line);
}

std::string LeadRows::RefPrefix(absl::string_view lead_id) {
  return absl::StrCat(internal::kMetaLeadRefPrefix, lead_id);
}

absl::StatusOr<LeadRecord> LeadRows::Parse(absl::string_view lead_id,
                                           const std::string& row) const {
  LeadRecord r;
  if (!r.ParseFromString(row) || r.format_version() != kRecordFormatVersion) {
    return absl::DataLossError("lead record: malformed or unknown format version");
  }
  if (!keys::ConstantTimeEquals(r.metadata_mac(), MetadataMac(*mac_key_, lead_id, r))) {
    return absl::DataLossError("lead record: metadata fails authentication");
  }
  return r;
}

std::vector<LeadRows::RowKey> LeadRows::KeysOf(const std::string& lead_id,
                                               const LeadRecord& record) {
  std::vector<RowKey> keys = {{Cf::kLeads, lead_id}, {Cf::kDek, lead_id}};
  const std::string& service_line = record.attribution().service_line();
  for (std::string& key : IndexKeysOf(lead_id, record)) keys.push_back({Cf::kBidx, std::move(key)});
  for (auto [own, token] : {std::pair{kOwnEmailIndex, &record.email_token()},
                            {kOwnPhoneIndex, &record.phone_token()}}) {
    if (token->empty()) continue;
    keys.push_back({Cf::kBidx, OwnSubmissionKey(own, *token, record.created_by(), service_line)});
  }
  keys.push_back({Cf::kQueue, QueueKeyOf(lead_id, record)});
  if (record.expires_at_unix_micros() != 0) {
    keys.push_back({Cf::kExpiry, internal::ExpiryKey(record.expires_at_unix_micros(), lead_id)});
  }
  if (!record.idempotency_key().empty()) keys.push_back({Cf::kMeta, record.idempotency_key()});
  keys.push_back({Cf::kConsent, ConsentLedger::StateKey(lead_id)});
  return keys;
}

absl::Status LeadRows::AddCreate(const std::string& lead_id, LeadRecord& record,
                                 const std::string& wrapped_key, const std::string& idempotency_row,
                                 rocksdb::WriteBatch& batch) const {
  record.set_format_version(kRecordFormatVersion);
  record.set_metadata_mac(MetadataMac(*mac_key_, lead_id, record));
  for (const RowKey& row : KeysOf(lead_id, record)) {
    std::string value;  // index rows are empty
    switch (row.cf) {
      case Cf::kLeads:
        value = record.SerializeAsString();
        break;
      case Cf::kDek:
        value = wrapped_key;
        break;
      case Cf::kBidx:
        // An own-submission row names the id its sender was given.
        if (static_cast<uint8_t>(row.key[0]) == kOwnEmailIndex ||
            static_cast<uint8_t>(row.key[0]) == kOwnPhoneIndex) {
          value = lead_id;
        }
        break;
      case Cf::kMeta:
        value = idempotency_row;
        break;
      case Cf::kConsent:
        continue;  // written by the consent ledger, when there is consent
      default:
        break;
    }
    LV_RETURN_IF_ERROR(FromRocks(batch.Put(db_->cf(row.cf), row.key, value), "batch"));
  }
  return StageFunnel(nullptr, &record, batch);
}

absl::Status LeadRows::AddUpdate(const std::string& lead_id, const LeadRecord& before,
                                 LeadRecord& after, rocksdb::WriteBatch& batch) const {
  // The index rows that move with the record: queue (status) and expiry.
  auto move = [&](Cf cf, const std::string& from, const std::string& to) -> absl::Status {
    if (from == to) return absl::OkStatus();
    if (!from.empty()) LV_RETURN_IF_ERROR(FromRocks(batch.Delete(db_->cf(cf), from), "batch"));
    if (!to.empty()) LV_RETURN_IF_ERROR(FromRocks(batch.Put(db_->cf(cf), to, ""), "batch"));
    return absl::OkStatus();
  };
  LV_RETURN_IF_ERROR(move(Cf::kQueue, QueueKeyOf(lead_id, before), QueueKeyOf(lead_id, after)));
  auto expiry_key = [&lead_id](const LeadRecord& r) {
    return r.expires_at_unix_micros() == 0
               ? std::string()
               : internal::ExpiryKey(r.expires_at_unix_micros(), lead_id);
  };
  LV_RETURN_IF_ERROR(move(Cf::kExpiry, expiry_key(before), expiry_key(after)));
  // Blind-index rows follow the contacts (an amendment, a submission that
  // brought a new one or left the ring), and the creator's own-submission rows
  // the lead's own email and phone.
  const std::vector<std::string> indexed = IndexKeysOf(lead_id, before);
  const std::vector<std::string> indexing = IndexKeysOf(lead_id, after);
  for (const std::string& key : indexed) {
    if (std::find(indexing.begin(), indexing.end(), key) == indexing.end()) {
      LV_RETURN_IF_ERROR(FromRocks(batch.Delete(db_->cf(Cf::kBidx), key), "batch"));
    }
  }
  for (const std::string& key : indexing) {
    if (std::find(indexed.begin(), indexed.end(), key) == indexed.end()) {
      LV_RETURN_IF_ERROR(FromRocks(batch.Put(db_->cf(Cf::kBidx), key, ""), "batch"));
    }
  }
  const std::string& line = after.attribution().service_line();
  for (auto [own, from, to] :
       {std::tuple{kOwnEmailIndex, &before.email_token(), &after.email_token()},
        {kOwnPhoneIndex, &before.phone_token(), &after.phone_token()}}) {
    if (*from == *to) continue;
    if (!from->empty()) {
      LV_RETURN_IF_ERROR(FromRocks(
          batch.Delete(db_->cf(Cf::kBidx), OwnSubmissionKey(own, *from, after.created_by(), line)),
          "batch"));
    }
    if (!to->empty()) {
      LV_RETURN_IF_ERROR(
          FromRocks(batch.Put(db_->cf(Cf::kBidx),
                              OwnSubmissionKey(own, *to, after.created_by(), line), lead_id),
                    "batch"));
    }
  }
  // The statuses held so far: the funnel stages the lead reached.
  auto bit = [](int32_t status) { return status >= 0 && status < 32 ? 1u << status : 0u; };
  after.set_reached_statuses(before.reached_statuses() | after.reached_statuses() |
                             bit(before.status()) | bit(after.status()));
  LV_RETURN_IF_ERROR(StageFunnel(&before, &after, batch));
  after.set_metadata_mac(MetadataMac(*mac_key_, lead_id, after));
  return FromRocks(batch.Put(db_->cf(Cf::kLeads), lead_id, after.SerializeAsString()), "batch");
}

absl::Status LeadRows::StageFunnel(const LeadRecord* before, const LeadRecord* after,
                                   rocksdb::WriteBatch& batch) const {
  return funnel_ != nullptr ? StageFunnelChange(*db_, *funnel_, before, after, batch)
                            : absl::OkStatus();
}

absl::Status LeadRows::AddReferencing(const std::string& lead_id, Cf cf, const std::string& key,
                                      const std::string& value, rocksdb::WriteBatch& batch) const {
  LV_RETURN_IF_ERROR(FromRocks(batch.Put(db_->cf(cf), key, value), "batch"));
  return FromRocks(batch.Put(db_->cf(Cf::kMeta), RefKey(lead_id, cf, key), ""), "batch");
}

absl::StatusOr<bool> LeadRows::AddPurge(const std::string& lead_id, const LeadRecord& record,
                                        rocksdb::WriteBatch& batch, rocksdb::Iterator* meta) const {
  const std::string prefix = RefPrefix(lead_id);
  std::vector<std::string> refs;
  bool whole = true;
  std::unique_ptr<rocksdb::Iterator> own;
  if (meta == nullptr) {
    own.reset(db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf(Cf::kMeta)));
    meta = own.get();
  }
  rocksdb::Iterator* it = meta;
  // Pages go in back-reference order: a receipt's own-submission rows (`bidx`)
  // and idempotency rows (`meta` "idem/") before the receipt (`meta`
  // "receipt/"), so no page leaves a row naming a receipt that is gone.
  static_assert(Cf::kBidx < Cf::kMeta);
  // (Compared by first byte: sanitizer builds do not take a string_view of
  // an array as a constant expression.)
  static_assert(internal::kMetaIdempotencyPrefix[0] < internal::kMetaReceiptPrefix[0]);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (refs.size() == kMaxLeadRefs) {
      whole = false;
      break;
    }
    if (it->key().size() <= prefix.size() + 1) {
      return absl::DataLossError("lead back-reference: malformed key");
    }
    refs.push_back(it->key().ToString());
  }
  LV_RETURN_IF_ERROR(db_->Check(it->status(), "scan lead back-references"));
  for (const std::string& ref : refs) {
    const uint8_t cf = static_cast<uint8_t>(ref[prefix.size()]);
    if (cf >= kCfCount) return absl::DataLossError("lead back-reference: unknown column family");
  }
  if (whole) {
    for (const RowKey& row : KeysOf(lead_id, record)) {
      LV_RETURN_IF_ERROR(FromRocks(batch.Delete(db_->cf(row.cf), row.key), "batch"));
    }
    // The aggregates keep counting it; the purged row says so to a recount.
    LV_RETURN_IF_ERROR(StageFunnel(&record, nullptr, batch));
  }
  for (const std::string& ref : refs) {
    const Cf cf = static_cast<Cf>(static_cast<uint8_t>(ref[prefix.size()]));
    const rocksdb::Slice row(ref.data() + prefix.size() + 1, ref.size() - prefix.size() - 1);
    LV_RETURN_IF_ERROR(FromRocks(batch.Delete(db_->cf(cf), row), "batch"));
    LV_RETURN_IF_ERROR(FromRocks(batch.Delete(db_->cf(Cf::kMeta), ref), "batch"));
  }
  return whole;
}

}  // namespace leadvault::vault
