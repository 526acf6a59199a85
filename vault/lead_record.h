// A lead's record (`leads` CF, internal::LeadRecord) as the vault's domain
// types: the conversions LeadStore's operations share.
#ifndef LEADVAULT_VAULT_LEAD_RECORD_H_
#define LEADVAULT_VAULT_LEAD_RECORD_H_

#include <cstdint>
#include <string>

#include "rocksdb/options.h"
#include "vault/internal/records.pb.h"
#include "vault/lead.h"
#include "vault/retention.h"

namespace leadvault::vault {

void ToRecord(const Attribution& a, internal::AttributionRecord* r);
Attribution FromRecord(const internal::AttributionRecord& r);

// The clear metadata of lead `lead_id` (binary) as its record holds it.
LeadMetadata MetadataFromRecord(const std::string& lead_id, const internal::LeadRecord& r);

// When `policy` expires the lead as `record` now stands, and by which rule.
void StampRetention(const RetentionPolicy& policy, const std::string& lead_id,
                    internal::LeadRecord& record);

// The field number (AEAD associated data) of field `field` of the submission a
// lead's touch `number` brought: kept apart from the lead's fields (1..11) and
// its amendments' (number << 8 | field, number <= kMaxAmendments).
inline uint32_t SubmissionFieldNumber(uint32_t number, uint32_t field) {
  return 0x80000000u | number << 8 | field;
}

// Reads for a prefix scan of the blind index (see kBlindIndexPrefixSize).
rocksdb::ReadOptions PrefixReadOptions();

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_LEAD_RECORD_H_
