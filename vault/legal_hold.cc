#include "vault/legal_hold.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "keys/status_macros.h"
#include "rocksdb/iterator.h"
#include "rocksdb/write_batch.h"
#include "vault/access_policy.h"
#include "vault/internal/keys.h"
#include "vault/internal/records.pb.h"
#include "vault/validation.h"

namespace leadvault::vault {
namespace {

constexpr size_t kHoldIdSize = 8;

std::string HoldKey(absl::string_view lead_id, absl::string_view hold_id) {
  return absl::StrCat(internal::kMetaLegalHoldPrefix, lead_id, hold_id);
}

// The written reason, normalized; INVALID_ARGUMENT naming the field and rule.
absl::StatusOr<std::string> HoldReason(const std::string& reason) {
  LV_ASSIGN_OR_RETURN(keys::SecretBytes text,
                      NormalizeText("reason", reason, kMaxHoldReason, /*multiline=*/true));
  if (text.size() < kMinHoldReason) {
    return absl::InvalidArgumentError(
        "reason: a written reason of at least 10 characters is required");
  }
  return std::string(text.view());
}

// The binary hold id of its text form (16 hex), if well formed.
std::optional<std::string> DecodeHoldId(absl::string_view text) {
  if (text.size() != 2 * kHoldIdSize) return std::nullopt;
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  return absl::HexStringToBytes(text);
}

// A hold from its row; DATA_LOSS if the row is malformed.
absl::StatusOr<LegalHold> ParseHold(absl::string_view key, absl::string_view value) {
  const size_t prefix = sizeof(internal::kMetaLegalHoldPrefix) - 1;
  internal::LegalHoldRecord record;
  if (key.size() != prefix + internal::kLeadIdSize + kHoldIdSize ||
      !record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError("legal hold: malformed row");
  }
  LegalHold hold;
  hold.lead_id = std::string(key.substr(prefix, internal::kLeadIdSize));
  hold.hold_id = absl::BytesToHexString(key.substr(prefix + internal::kLeadIdSize));
  hold.reason = record.reason();
  hold.placed_by = record.placed_by();
  hold.placed_at = absl::FromUnixMicros(record.placed_at_unix_micros());
  return hold;
}

absl::Status StageHold(Database& db, const std::string& key, const LegalHold& hold,
                       rocksdb::WriteBatch& batch) {
  internal::LegalHoldRecord record;
  record.set_format_version(1);
  record.set_reason(hold.reason);
  record.set_placed_by(hold.placed_by);
  record.set_placed_at_unix_micros(absl::ToUnixMicros(hold.placed_at));
  return db.Check(batch.Put(db.cf(Cf::kMeta), key, record.SerializeAsString()), "stage legal hold");
}

audit::AuditEntry HoldEntry(const Actor& actor, const char* action, const LegalHold& hold,
                            std::string reason) {
  audit::AuditEntry entry = EntryFor(actor, action);
  entry.lead_ids.push_back(EncodeLeadId(hold.lead_id));
  entry.fields.push_back(absl::StrCat("hold_id=", hold.hold_id));
  entry.break_glass_reason = std::move(reason);
  return entry;
}

}  // namespace

absl::StatusOr<LegalHold> LegalHolds::Place(const Actor& actor, const std::string& lead_id,
                                            const std::string& reason) {
  LV_ASSIGN_OR_RETURN(std::string text, HoldReason(reason));
  // The lead's claim orders the hold against a purge: one that staged first
  // is durable before the hold looks, and one that stages later sees it.
  LV_ASSIGN_OR_RETURN(LeadStore::ConsentSubject lead,
                      leads_->OpenForConsent(actor, lead_id, Rpc::kPlaceLegalHold, /*claim=*/true,
                                             /*need_key=*/false));
  const std::string prefix = HoldKey(lead_id, "");
  std::unique_ptr<rocksdb::Iterator> it(
      db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf(Cf::kMeta)));
  size_t held = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++held;
  LV_RETURN_IF_ERROR(db_->Check(it->status(), "read legal holds"));
  if (held >= kMaxHoldsPerLead) {
    return absl::ResourceExhaustedError(
        absl::StrCat("lead_id: at most ", kMaxHoldsPerLead, " legal holds on one lead"));
  }

  const std::string hold_id = random_->Bytes(kHoldIdSize);
  LegalHold hold;
  hold.lead_id = lead_id;
  hold.hold_id = absl::BytesToHexString(hold_id);
  hold.reason = text;
  hold.placed_by = actor.principal_id;
  hold.placed_at = clock_->Now();
  rocksdb::WriteBatch batch;
  LV_RETURN_IF_ERROR(StageHold(*db_, HoldKey(lead_id, hold_id), hold, batch));
  LV_RETURN_IF_ERROR(
      committer_->Commit(std::move(batch), HoldEntry(actor, "PlaceLegalHold", hold, text))
          .status());
  return hold;
}

absl::StatusOr<LegalHold> LegalHolds::Release(const Actor& actor, const std::string& lead_id,
                                              const std::string& hold_id,
                                              const std::string& reason) {
  std::optional<std::string> id = DecodeHoldId(hold_id);
  if (!id.has_value()) return absl::InvalidArgumentError("hold_id: must be 16 hex characters");
  LV_ASSIGN_OR_RETURN(std::string text, HoldReason(reason));
  LV_ASSIGN_OR_RETURN(LeadStore::ConsentSubject lead,
                      leads_->OpenForConsent(actor, lead_id, Rpc::kReleaseLegalHold,
                                             /*claim=*/true, /*need_key=*/false));
  const std::string key = HoldKey(lead_id, *id);
  absl::StatusOr<std::string> row = db_->Get(Cf::kMeta, key);
  if (absl::IsNotFound(row.status())) return absl::NotFoundError("legal hold not found");
  LV_RETURN_IF_ERROR(row.status());
  LV_ASSIGN_OR_RETURN(LegalHold hold, ParseHold(key, *row));
  rocksdb::WriteBatch batch;
  LV_RETURN_IF_ERROR(db_->Check(batch.Delete(db_->cf(Cf::kMeta), key), "stage hold release"));
  LV_RETURN_IF_ERROR(
      committer_->Commit(std::move(batch), HoldEntry(actor, "ReleaseLegalHold", hold, text))
          .status());
  return hold;
}

absl::StatusOr<bool> LegalHolds::Reinstate(const Actor& actor, const LegalHold& hold,
                                           uint64_t sequence) {
  std::optional<std::string> id = DecodeHoldId(hold.hold_id);
  if (!id.has_value()) return absl::InvalidArgumentError("hold_id: must be 16 hex characters");
  LV_RETURN_IF_ERROR(db_->Get(Cf::kLeads, hold.lead_id).status());
  const std::string key = HoldKey(hold.lead_id, *id);
  absl::StatusOr<std::string> row = db_->Get(Cf::kMeta, key);
  if (row.ok()) return false;
  if (!absl::IsNotFound(row.status())) return row.status();
  rocksdb::WriteBatch batch;
  LV_RETURN_IF_ERROR(StageHold(*db_, key, hold, batch));
  audit::AuditEntry entry = HoldEntry(actor, "ReapplyLegalHold", hold, hold.reason);
  entry.fields.push_back(absl::StrCat("placed_sequence=", sequence));
  LV_RETURN_IF_ERROR(committer_->Commit(std::move(batch), std::move(entry)).status());
  return true;
}

absl::StatusOr<HoldPage> LegalHolds::List(const Actor& actor, const std::string& lead_id,
                                          int page_size, const std::string& page_token) {
  if (page_size == 0) page_size = kDefaultHoldPageSize;
  if (page_size < 1 || page_size > kMaxHoldPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be between 1 and ", kMaxHoldPageSize));
  }
  std::string after;  // lead id || hold id of the previous page's last hold
  if (!page_token.empty()) {
    bool hex = page_token.size() == 2 * (internal::kLeadIdSize + kHoldIdSize);
    for (char c : page_token) hex = hex && absl::ascii_isxdigit(static_cast<unsigned char>(c));
    if (!hex) return absl::InvalidArgumentError("page_token: malformed");
    after = absl::HexStringToBytes(page_token);
    if (!lead_id.empty() && after.substr(0, internal::kLeadIdSize) != lead_id) {
      return absl::InvalidArgumentError("page_token: from another listing");
    }
  }
  const std::string prefix = HoldKey(lead_id, "");
  std::unique_ptr<rocksdb::Iterator> it(
      db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf(Cf::kMeta)));
  HoldPage page;
  audit::AuditEntry entry = EntryFor(actor, "ListLegalHolds");
  if (!lead_id.empty()) entry.lead_ids.push_back(EncodeLeadId(lead_id));
  it->Seek(after.empty() ? prefix : HoldKey(after, ""));
  for (; it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (!after.empty() && it->key() == rocksdb::Slice(HoldKey(after, ""))) continue;
    if (page.holds.size() == static_cast<size_t>(page_size)) {
      const LegalHold& last = page.holds.back();
      page.next_page_token = absl::StrCat(absl::BytesToHexString(last.lead_id), last.hold_id);
      break;
    }
    LV_ASSIGN_OR_RETURN(LegalHold hold, ParseHold(it->key().ToString(), it->value().ToString()));
    const std::string text_id = EncodeLeadId(hold.lead_id);
    if (lead_id.empty() && (entry.lead_ids.empty() || entry.lead_ids.back() != text_id)) {
      entry.lead_ids.push_back(text_id);
    }
    page.holds.push_back(std::move(hold));
  }
  LV_RETURN_IF_ERROR(db_->Check(it->status(), "scan legal holds"));
  entry.fields.push_back(absl::StrCat("holds=", page.holds.size()));
  LV_RETURN_IF_ERROR(committer_->Commit(rocksdb::WriteBatch(), std::move(entry)).status());
  return page;
}

}  // namespace leadvault::vault
