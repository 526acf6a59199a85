// Key layouts of the vault's column families (see DESIGN.md). No key holds PII:
// only random ids, blind tokens, service lines, status codes and times.
#ifndef LEADVAULT_VAULT_INTERNAL_KEYS_H_
#define LEADVAULT_VAULT_INTERNAL_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace leadvault::vault::internal {

inline constexpr size_t kLeadIdSize = 16;

inline void PutBigEndian64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

inline void PutBigEndian32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

// A big-endian u32 length, then the bytes (MAC and hash inputs).
inline void PutLengthPrefixed(std::string& out, absl::string_view v) {
  PutBigEndian32(out, static_cast<uint32_t>(v.size()));
  out.append(v.data(), v.size());
}

inline uint64_t GetBigEndian64(absl::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

// `audit` CF: sequence, big-endian.
inline std::string SequenceKey(uint64_t sequence) {
  std::string key;
  PutBigEndian64(key, sequence);
  return key;
}
inline std::optional<uint64_t> DecodeSequenceKey(absl::string_view key) {
  if (key.size() != 8) return std::nullopt;
  return GetBigEndian64(key);
}

// `merkle` CF: a complete node's hash, keyed by the index of its last leaf
// (big-endian) || level (1 byte). Nodes are written in key order as the tree
// grows, so flushed files never overlap and compaction moves them without
// rewriting (a level-first key would make every flush overlap every level).
inline std::string MerkleNodeKey(uint32_t level, uint64_t index) {
  std::string key;
  PutBigEndian64(key, ((index + 1) << level) - 1);
  key.push_back(static_cast<char>(level));
  return key;
}

// `audit_lead` CF: lead id (16) || sequence (big-endian).
inline std::string AuditLeadKey(absl::string_view lead_id, uint64_t sequence) {
  std::string key(lead_id);
  PutBigEndian64(key, sequence);
  return key;
}

// `bidx` CF: index id (1 byte) || blind token (32) || lead id (16).
inline std::string BlindIndexPrefix(uint8_t index_id, absl::string_view token) {
  std::string key;
  key.push_back(static_cast<char>(index_id));
  key.append(token.data(), token.size());
  return key;
}
inline std::string BlindIndexKey(uint8_t index_id, absl::string_view token,
                                 absl::string_view lead_id) {
  std::string key = BlindIndexPrefix(index_id, token);
  key.append(lead_id.data(), lead_id.size());
  return key;
}

// `queue` CF: service line || 0x00 || status (1 byte) || created-at micros
// (big-endian, offset so order is chronological) || lead id (16).
inline std::string QueuePrefix(absl::string_view service_line, int status) {
  std::string key(service_line);
  key.push_back('\0');
  key.push_back(static_cast<char>(status));
  return key;
}
inline std::string QueueKey(absl::string_view service_line, int status, int64_t created_micros,
                            absl::string_view lead_id) {
  std::string key = QueuePrefix(service_line, status);
  PutBigEndian64(key, static_cast<uint64_t>(created_micros) ^ (uint64_t{1} << 63));
  key.append(lead_id.data(), lead_id.size());
  return key;
}

// `expiry` CF: expires-at micros (big-endian, offset so order is
// chronological) || lead id (16) -> empty.
inline std::string ExpiryKey(int64_t expires_micros, absl::string_view lead_id) {
  std::string key;
  PutBigEndian64(key, static_cast<uint64_t>(expires_micros) ^ (uint64_t{1} << 63));
  key.append(lead_id.data(), lead_id.size());
  return key;
}

// `meta` CF keys.
inline constexpr char kMetaSchemaVersion[] = "schema_version";
// Present once the `funnel` aggregates count every lead (vault/funnel.h): a
// data dir from before them has them rebuilt at its first open.
inline constexpr char kMetaFunnelBuilt[] = "funnel/built";
// The campaign labels the aggregates were kept under (FunnelCampaigns::Encode).
inline constexpr char kMetaFunnelCampaigns[] = "funnel/campaigns";
// Every master-key row starts "kek/" (vault/key_hierarchy.h).
inline constexpr char kMetaKekPrefix[] = "kek/";
// Followed by a master-key version (decimal): its key-check value, while the
// version is in use.
inline constexpr char kMetaKekCheckPrefix[] = "kek/check/";
// Followed by a master-key version (decimal): its key-check value, once retired.
inline constexpr char kMetaKekRetiredPrefix[] = "kek/retired/";
// The current master-key version (decimal); present in every initialized vault.
inline constexpr char kMetaKekCurrent[] = "kek/current";
// KeyRewrapRecord: how far the re-wrap of data keys has come (vault/key_rewrap.h).
inline constexpr char kMetaKekRewrap[] = "kek/rewrap";
inline constexpr char kMetaIndexRootKey[] = "key/index_root";
inline constexpr char kMetaTokenKey[] = "key/token";
inline constexpr char kMetaPrincipalPrefix[] = "principal/";
inline constexpr char kMetaIdempotencyPrefix[] = "idem/";
// Followed by a receipt id (vault/lead_rows.h).
inline constexpr char kMetaReceiptPrefix[] = "receipt/";
// Followed by lead id || cf || row key: a row naming the lead (vault/lead_rows.h).
inline constexpr char kMetaLeadRefPrefix[] = "ref/";
inline constexpr char kMetaAuditSigningKey[] = "key/audit_signing";
inline constexpr char kMetaLogOrigin[] = "audit/origin";
inline constexpr char kMetaCheckpointLatest[] = "audit/checkpoint/latest";
// Followed by the tree size, big-endian: every signed checkpoint.
inline constexpr char kMetaCheckpointPrefix[] = "audit/checkpoint/size/";
// Log size || index rows (each big-endian) of the last passing disclosure index check.
inline constexpr char kMetaDisclosureIndexChecked[] = "audit/disclosure_index/checked";
// Followed by lead id (16) || hold id (8): a legal hold (vault/legal_hold.h).
inline constexpr char kMetaLegalHoldPrefix[] = "hold/";
// Followed by a lead id: a purge outside a sweep (DeleteLead) awaits the
// compaction that takes its bytes off the disk; or by "sweep": a sweep that
// was stopped purged leads without compacting. The next sweep compacts and
// deletes the rows.
inline constexpr char kMetaCompactionDuePrefix[] = "retention/compaction_due/";
// While a restore replays the audit journal: the restored log's size (decimal),
// whence its purges are re-applied (vault/backup_restore.h).
inline constexpr char kMetaRestoreBase[] = "restore/base";
// RetentionPolicyRecord: the stored retention policy (vault/retention_policy_store.h).
inline constexpr char kMetaRetentionPolicy[] = "retention/policy";
// RetentionRecomputeRecord: the re-stamping cursor (vault/retention_recompute.h).
inline constexpr char kMetaRetentionRecompute[] = "retention/recompute";

}  // namespace leadvault::vault::internal

#endif  // LEADVAULT_VAULT_INTERNAL_KEYS_H_
