// LeadRows: every row one lead owns, across column families, and the only
// code that writes or deletes them (LeadStore decides, LeadRows stages).
//
// What a lead owns, all found from its record without decrypting anything:
//  - `leads`  id -> the record (its metadata MAC'd: see Parse);
//  - `dek`    id -> its wrapped data key;
//  - `bidx`   its email and phone blind-index rows (the record lists both
//             tokens), and the creating sender's own-submission rows (token,
//             creator, service line -> id);
//  - `queue`  its row in the work queue (service line, status, creation time);
//  - `expiry` its row in the expiry index (when retention expires it; the
//             record holds the time and the rule);
//  - `meta`   the idempotency row of the submission that created it (the
//             record lists its key);
//  - `consent` its consent state row (the event records are the consent
//             skeleton: they outlive the lead, SECURITY.md "Consent");
//  - rows a later submission wrote that name it (that submission's
//    idempotency row, a receipt, the receipt's own-submission rows): each is
//    written with a back-reference, `meta` "ref/" || lead id || cf (1 byte) ||
//    row key -> "", so a purge finds them by one prefix scan.
// The audit log, its lead index and the disclosure index are never a lead's:
// they outlive it.
//
// Thread-compatible; callers hold the lead's claim (vault/key_claims.h).
#ifndef LEADVAULT_VAULT_LEAD_ROWS_H_
#define LEADVAULT_VAULT_LEAD_ROWS_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keys/secret_bytes.h"
#include "rocksdb/iterator.h"
#include "rocksdb/write_batch.h"
#include "vault/database.h"
#include "vault/funnel.h"
#include "vault/internal/records.pb.h"

namespace leadvault::vault {

// One purge batch deletes at most this many rows that later submissions wrote
// naming the lead; a lead named by more is purged in pages (AddPurge).
inline constexpr size_t kMaxLeadRefs = 10'000;

// `bidx` index ids of the own-submission rows: index id || blind token ||
// principal id || 0x00 || service line -> the id the sender was given.
inline constexpr uint8_t kOwnEmailIndex = 0x81;
inline constexpr uint8_t kOwnPhoneIndex = 0x82;

// The `meta` key of a receipt (a sender's id for a lead it did not create).
std::string ReceiptKey(absl::string_view receipt_id);

// The own-submission row key of `principal_id`'s submissions of the person with
// blind token `token` (index kOwnEmailIndex or kOwnPhoneIndex) to `service_line`.
std::string OwnSubmissionKey(uint8_t index, absl::string_view token, absl::string_view principal_id,
                             absl::string_view service_line);

class LeadRows {
 public:
  struct RowKey {
    Cf cf;
    std::string key;
    friend bool operator==(const RowKey&, const RowKey&) = default;
  };

  // All must outlive the object. Every change also stages its funnel
  // aggregates (vault/funnel.h) under `funnel_campaigns`; null only for a
  // benchmark's comparison without them.
  LeadRows(Database* db, const keys::SecretBytes* record_mac_key,
           const FunnelCampaigns* funnel_campaigns)
      : db_(db), mac_key_(record_mac_key), funnel_(funnel_campaigns) {}

  // The record from its `leads` row: DATA_LOSS if it is malformed or its
  // metadata fails authentication.
  absl::StatusOr<internal::LeadRecord> Parse(absl::string_view lead_id,
                                             const std::string& row) const;

  // A new lead: its record (MAC'd here), wrapped key, blind-index rows, the
  // creator's own-submission rows, queue row, and the creating submission's
  // idempotency row (`record.idempotency_key()`, value `idempotency_row`).
  absl::Status AddCreate(const std::string& lead_id, internal::LeadRecord& record,
                         const std::string& wrapped_key, const std::string& idempotency_row,
                         rocksdb::WriteBatch& batch) const;

  // The record rewritten (MAC'd here); its queue, expiry and blind-index rows
  // (with the creator's own-submission rows) moved when the change moves them
  // (`before` is the record as read). An amended contact must not be another
  // lead's of the same service line (LeadStore::AmendLead refuses it), so the
  // own-submission row it writes is no other lead's.
  absl::Status AddUpdate(const std::string& lead_id, const internal::LeadRecord& before,
                         internal::LeadRecord& after, rocksdb::WriteBatch& batch) const;

  // A row a later submission writes that names lead `lead_id`, with its
  // back-reference.
  absl::Status AddReferencing(const std::string& lead_id, Cf cf, const std::string& key,
                              const std::string& value, rocksdb::WriteBatch& batch) const;

  // Deletes every row lead `lead_id` owns (above), read from `record` and its
  // back-references, and returns true. The wrapped data key goes with it: what
  // its ciphertexts hold can no longer be decrypted (crypto-shredding). A lead
  // named by more than kMaxLeadRefs back-references gets a page instead: the
  // first kMaxLeadRefs of them and the rows they name, and false. Each page
  // leaves a consistent lead (no back-reference without its row), so the
  // caller commits it and calls again, under the same claim, until true.
  // `meta` (when given) is an iterator over `meta` to read the back-references
  // through, made after the caller took the lead's claim.
  absl::StatusOr<bool> AddPurge(const std::string& lead_id, const internal::LeadRecord& record,
                                rocksdb::WriteBatch& batch,
                                rocksdb::Iterator* meta = nullptr) const;

  // Every row the record alone names (no back-references), in a fixed order.
  static std::vector<RowKey> KeysOf(const std::string& lead_id, const internal::LeadRecord& record);
  // The back-references' prefix for `lead_id`.
  static std::string RefPrefix(absl::string_view lead_id);

 private:
  // StageFunnelChange(), unless a benchmark turned the aggregates off.
  absl::Status StageFunnel(const internal::LeadRecord* before, const internal::LeadRecord* after,
                           rocksdb::WriteBatch& batch) const;

  Database* const db_;
  const keys::SecretBytes* const mac_key_;
  const FunnelCampaigns* const funnel_;
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_LEAD_ROWS_H_
