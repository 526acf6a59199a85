// A lead's record (`leads` CF, internal::LeadRecord) as the vault's domain
// types: the conversions LeadStore's operations share.
#ifndef LEADVAULT_VAULT_LEAD_RECORD_H_
#define LEADVAULT_VAULT_LEAD_RECORD_H_

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

// Reads for a prefix scan of the blind index (see kBlindIndexPrefixSize).
rocksdb::ReadOptions PrefixReadOptions();

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_LEAD_RECORD_H_
