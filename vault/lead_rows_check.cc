#include "vault/lead_rows_check.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "keys/status_macros.h"
#include "vault/internal/keys.h"
#include "vault/internal/records.pb.h"
#include "vault/lead_rows.h"

namespace leadvault::vault {
namespace {

constexpr size_t kIdSize = internal::kLeadIdSize;

class Checker {
 public:
  explicit Checker(Database& db) : db_(db), snapshot_(db.db()->GetSnapshot()) {
    options_.snapshot = snapshot_;
  }
  ~Checker() { db_.db()->ReleaseSnapshot(snapshot_); }

  absl::StatusOr<LeadRowsReport> Run() {
    LV_RETURN_IF_ERROR(ReadLeads());
    LV_RETURN_IF_ERROR(ReadReceipts());
    LV_RETURN_IF_ERROR(CheckDek());
    LV_RETURN_IF_ERROR(CheckBidx());
    LV_RETURN_IF_ERROR(CheckQueue());
    LV_RETURN_IF_ERROR(CheckExpiry());
    LV_RETURN_IF_ERROR(CheckMeta());
    LV_RETURN_IF_ERROR(CheckConsent());
    report_.leads = leads_.size();
    report_.receipts = receipts_.size();
    report_.result = report_.problems.empty()
                         ? absl::OkStatus()
                         : absl::DataLossError(absl::StrCat(
                               "lead rows: ", report_.missing, " missing, ", report_.orphans,
                               " orphaned; the first: ", report_.problems.front()));
    return std::move(report_);
  }

 private:
  // What a lead's rows elsewhere are checked against.
  struct IndexKeys {
    // Its email and phone tokens and those later submissions brought.
    std::vector<std::string> tokens;
    std::string queue_key;
    std::string expiry_key;  // empty: none
  };

  void Problem(uint64_t& counter, std::string what) {
    ++counter;
    if (report_.problems.size() < kMaxNamedRowProblems) report_.problems.push_back(std::move(what));
  }

  static std::string Hex(absl::string_view id) { return absl::BytesToHexString(id); }

  // Calls `row` for each row of `cf` whose key starts with `prefix`.
  template <typename Fn>
  absl::Status Scan(Cf cf, absl::string_view prefix, Fn row) {
    std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(options_, db_.cf(cf)));
    for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size()));
         it->Valid() && it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size()));
         it->Next()) {
      ++report_.rows;
      LV_RETURN_IF_ERROR(row(absl::string_view(it->key().data(), it->key().size()),
                             absl::string_view(it->value().data(), it->value().size())));
    }
    return db_.Check(it->status(), "scan for the lead rows check");
  }

  absl::StatusOr<bool> Exists(Cf cf, const std::string& key) {
    std::string value;
    rocksdb::Status s = db_.db()->Get(options_, db_.cf(cf), key, &value);
    if (s.IsNotFound()) return false;
    LV_RETURN_IF_ERROR(db_.Check(s, "read for the lead rows check"));
    return true;
  }

  absl::Status ReadLeads() {
    return Scan(Cf::kLeads, "", [this](absl::string_view id, absl::string_view bytes) {
      internal::LeadRecord record;
      if (id.size() != kIdSize ||
          !record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        Problem(report_.orphans, absl::StrCat("leads row ", Hex(id.substr(0, kIdSize)),
                                              ": malformed key or record"));
        return absl::OkStatus();
      }
      const std::string lead_id(id);
      IndexKeys& keys = leads_[lead_id];
      for (const std::string* token : {&record.email_token(), &record.phone_token()}) {
        if (!token->empty()) keys.tokens.push_back(*token);
      }
      for (const internal::TouchRecord& t : record.touches()) {
        for (const std::string* token : {&t.email_token(), &t.phone_token()}) {
          if (!token->empty()) keys.tokens.push_back(*token);
        }
      }
      for (LeadRows::RowKey& row : LeadRows::KeysOf(lead_id, record)) {
        // The consent state row exists only for a lead with consent.
        if (row.cf == Cf::kLeads || row.cf == Cf::kConsent) continue;
        LV_ASSIGN_OR_RETURN(bool there, Exists(row.cf, row.key));
        if (!there) {
          Problem(report_.missing, absl::StrCat("lead ", Hex(lead_id), ": a ", CfName(row.cf),
                                                " row it owns is missing"));
        }
        if (row.cf == Cf::kQueue) keys.queue_key = std::move(row.key);
        if (row.cf == Cf::kExpiry) keys.expiry_key = std::move(row.key);
      }
      return absl::OkStatus();
    });
  }

  absl::Status ReadReceipts() {
    return Scan(
        Cf::kMeta, internal::kMetaReceiptPrefix,
        [this](absl::string_view key, absl::string_view bytes) {
          const absl::string_view receipt_id = key.substr(sizeof(internal::kMetaReceiptPrefix) - 1);
          internal::ReceiptRecord r;
          if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
              !leads_.contains(r.lead_id())) {
            Problem(report_.orphans,
                    absl::StrCat("receipt ", Hex(receipt_id), " names a lead that does not exist"));
          }
          receipts_.insert(std::string(receipt_id));
          return absl::OkStatus();
        });
  }

  bool IsLeadOrReceipt(absl::string_view id) const {
    return leads_.contains(id) || receipts_.contains(id);
  }

  absl::Status CheckDek() {
    return Scan(Cf::kDek, "", [this](absl::string_view id, absl::string_view) {
      if (!leads_.contains(id)) {
        Problem(report_.orphans, absl::StrCat("dek row of ", Hex(id), ", which is not a lead"));
      }
      return absl::OkStatus();
    });
  }

  absl::Status CheckBidx() {
    return Scan(Cf::kBidx, "", [this](absl::string_view key, absl::string_view value) {
      const uint8_t index = key.empty() ? 0 : static_cast<uint8_t>(key[0]);
      if (index == kOwnEmailIndex || index == kOwnPhoneIndex) {
        if (!IsLeadOrReceipt(value)) {
          Problem(report_.orphans, absl::StrCat("own-submission row names ", Hex(value),
                                                ", which is neither a lead nor a receipt"));
        }
        return absl::OkStatus();
      }
      if (key.size() != kBlindIndexPrefixSize + kIdSize) {
        Problem(report_.orphans, "bidx row: malformed key");
        return absl::OkStatus();
      }
      const absl::string_view id = key.substr(kBlindIndexPrefixSize);
      const absl::string_view token = key.substr(1, kBlindIndexPrefixSize - 1);
      auto lead = leads_.find(id);
      if (lead == leads_.end() || std::find(lead->second.tokens.begin(), lead->second.tokens.end(),
                                            token) == lead->second.tokens.end()) {
        Problem(report_.orphans, absl::StrCat("blind-index row names lead ", Hex(id),
                                              ", which does not exist or has another token"));
      }
      return absl::OkStatus();
    });
  }

  absl::Status CheckQueue() {
    return Scan(Cf::kQueue, "", [this](absl::string_view key, absl::string_view) {
      const absl::string_view id = key.size() >= kIdSize ? key.substr(key.size() - kIdSize) : key;
      auto lead = leads_.find(id);
      if (lead == leads_.end() || lead->second.queue_key != key) {
        Problem(report_.orphans,
                absl::StrCat("queue row of lead ", Hex(id), ", which does not exist or has moved"));
      }
      return absl::OkStatus();
    });
  }

  absl::Status CheckExpiry() {
    return Scan(Cf::kExpiry, "", [this](absl::string_view key, absl::string_view) {
      const absl::string_view id = key.size() >= kIdSize ? key.substr(key.size() - kIdSize) : key;
      auto lead = leads_.find(id);
      if (lead == leads_.end() || lead->second.expiry_key != key) {
        Problem(report_.orphans, absl::StrCat("expiry row of lead ", Hex(id),
                                              ", which does not exist or has moved"));
      }
      return absl::OkStatus();
    });
  }

  absl::Status CheckMeta() {
    LV_RETURN_IF_ERROR(Scan(Cf::kMeta, internal::kMetaIdempotencyPrefix,
                            [this](absl::string_view, absl::string_view bytes) {
                              internal::IdempotencyRecord r;
                              if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
                                  !IsLeadOrReceipt(r.lead_id())) {
                                Problem(report_.orphans,
                                        absl::StrCat("idempotency row names ", Hex(r.lead_id()),
                                                     ", which is neither a lead nor a receipt"));
                              }
                              return absl::OkStatus();
                            }));
    // A purge refuses a lead under hold, so a hold always names a lead.
    LV_RETURN_IF_ERROR(Scan(Cf::kMeta, internal::kMetaLegalHoldPrefix,
                            [this](absl::string_view key, absl::string_view) {
                              const absl::string_view id =
                                  key.substr(sizeof(internal::kMetaLegalHoldPrefix) - 1, kIdSize);
                              if (!leads_.contains(id)) {
                                Problem(report_.orphans, absl::StrCat("legal hold on ", Hex(id),
                                                                      ", which is not a lead"));
                              }
                              return absl::OkStatus();
                            }));
    return Scan(
        Cf::kMeta, internal::kMetaLeadRefPrefix, [this](absl::string_view key, absl::string_view) {
          const absl::string_view rest = key.substr(sizeof(internal::kMetaLeadRefPrefix) - 1);
          if (rest.size() <= kIdSize + 1 || static_cast<uint8_t>(rest[kIdSize]) >= kCfCount) {
            Problem(report_.orphans, "back-reference row: malformed key");
            return absl::OkStatus();
          }
          const absl::string_view id = rest.substr(0, kIdSize);
          const Cf cf = static_cast<Cf>(rest[kIdSize]);
          LV_ASSIGN_OR_RETURN(bool there, Exists(cf, std::string(rest.substr(kIdSize + 1))));
          if (!leads_.contains(id) || !there) {
            Problem(report_.orphans,
                    absl::StrCat("back-reference of lead ", Hex(id), " to a ", CfName(cf),
                                 " row: the lead or the row does not exist"));
          }
          return absl::OkStatus();
        });
  }

  absl::Status CheckConsent() {
    absl::flat_hash_set<std::string> skeletons;
    LV_RETURN_IF_ERROR(Scan(Cf::kConsent, "", [&](absl::string_view key, absl::string_view) {
      const absl::string_view id = key.substr(0, kIdSize);
      if (leads_.contains(id)) return absl::OkStatus();
      if (key.size() == kIdSize + 4 && key.substr(kIdSize) == absl::string_view("\0\0\0\0", 4)) {
        Problem(report_.orphans,
                absl::StrCat("consent state row of ", Hex(id), ", which is not a lead"));
      } else {
        skeletons.insert(std::string(id));
      }
      return absl::OkStatus();
    }));
    report_.consent_skeletons = skeletons.size();
    return absl::OkStatus();
  }

  Database& db_;
  const rocksdb::Snapshot* const snapshot_;
  rocksdb::ReadOptions options_;
  LeadRowsReport report_;
  absl::flat_hash_map<std::string, IndexKeys> leads_;
  absl::flat_hash_set<std::string> receipts_;
};

}  // namespace

absl::StatusOr<LeadRowsReport> CheckLeadRows(Database& db) { return Checker(db).Run(); }

}  // namespace leadvault::vault
