#include "audit/deletion_receipt.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/internal/json.h"
#include "keys/base64.h"
#include "keys/status_macros.h"
#include "nlohmann/json.hpp"

namespace leadvault::audit {
namespace {

constexpr absl::string_view kFormat = "leadvault-deletion-receipt";
constexpr uint64_t kVersion = 1;
constexpr size_t kMaxProofHashes = 64;
constexpr absl::string_view kKeys[] = {"format",     "version", "lead_id",         "sequence",
                                       "deleted_at", "entry",   "inclusion_proof", "checkpoint"};

std::string TimeText(absl::Time t) {
  std::string out;
  internal::AppendRfc3339Micros(t, out);
  return out;
}

bool IsLowerHex(absl::string_view s, size_t size) {
  return s.size() == size && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

absl::Status Invalid(absl::string_view what) { return absl::InvalidArgumentError(what); }

absl::StatusOr<std::string> StringKey(const nlohmann::json& doc, absl::string_view key) {
  const nlohmann::json& v = doc.at(std::string(key));
  if (!v.is_string()) return Invalid(absl::StrCat("\"", key, "\" must be a string"));
  return v.get<std::string>();
}

absl::StatusOr<uint64_t> UintKey(const nlohmann::json& doc, absl::string_view key) {
  const nlohmann::json& v = doc.at(std::string(key));
  if (!v.is_number_unsigned()) {
    return Invalid(absl::StrCat("\"", key, "\" must be an unsigned integer"));
  }
  return v.get<uint64_t>();
}

}  // namespace

std::string RenderDeletionReceipt(const DeletionReceipt& receipt) {
  absl::Time deleted_at = absl::UnixEpoch();
  if (absl::StatusOr<AuditEntry> e = DecodeCanonical(receipt.entry); e.ok()) deleted_at = e->time;
  std::string out = "{\n  \"format\": ";
  internal::AppendJsonString(kFormat, out);
  absl::StrAppend(&out, ",\n  \"version\": ", kVersion, ",\n  \"lead_id\": ");
  internal::AppendJsonString(receipt.lead_id, out);
  absl::StrAppend(&out, ",\n  \"sequence\": ", receipt.sequence, ",\n  \"deleted_at\": ");
  internal::AppendJsonString(TimeText(deleted_at), out);
  out += ",\n  \"entry\": ";
  internal::AppendJsonString(absl::Base64Escape(receipt.entry), out);
  out += ",\n  \"inclusion_proof\": [";
  for (size_t i = 0; i < receipt.inclusion_proof.size(); ++i) {
    out += i == 0 ? "\n    " : ",\n    ";
    internal::AppendJsonString(absl::Base64Escape(HashBytes(receipt.inclusion_proof[i])), out);
  }
  out += receipt.inclusion_proof.empty() ? "]" : "\n  ]";
  out += ",\n  \"checkpoint\": ";
  internal::AppendJsonString(receipt.checkpoint_note, out);
  out += "\n}\n";
  return out;
}

absl::StatusOr<DeletionReceipt> ParseDeletionReceipt(absl::string_view text) {
  if (text.size() > kMaxDeletionReceiptBytes) {
    return Invalid(absl::StrCat("receipt: larger than ", kMaxDeletionReceiptBytes, " bytes"));
  }
  if (text.find('\0') != absl::string_view::npos) return Invalid("receipt: not JSON text");
  // Top-level keys, counted as parsed: a repeated one would otherwise be
  // silently overwritten.
  std::multiset<std::string> seen;
  bool nested_too_deep = false;
  nlohmann::json doc = nlohmann::json::parse(
      text.begin(), text.end(),
      [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (depth > 3) nested_too_deep = true;
        if (event == nlohmann::json::parse_event_t::key && depth == 1) {
          seen.insert(parsed.get<std::string>());
        }
        return true;
      },
      /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return Invalid("receipt: not a JSON object");
  if (nested_too_deep) return Invalid("receipt: nested too deep");
  for (const std::string& key : seen) {
    if (seen.count(key) > 1) return Invalid("receipt: a key is repeated");
    if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
      return Invalid("receipt: unknown key");
    }
  }
  for (absl::string_view key : kKeys) {
    if (!doc.contains(std::string(key))) return Invalid(absl::StrCat("missing \"", key, "\""));
  }

  LV_ASSIGN_OR_RETURN(std::string format, StringKey(doc, "format"));
  LV_ASSIGN_OR_RETURN(uint64_t version, UintKey(doc, "version"));
  if (format != kFormat || version != kVersion) {
    return Invalid("format: not a leadvault-deletion-receipt version 1");
  }
  DeletionReceipt receipt;
  LV_ASSIGN_OR_RETURN(receipt.lead_id, StringKey(doc, "lead_id"));
  if (!IsLowerHex(receipt.lead_id, 32)) return Invalid("lead_id: must be 32 lower-case hex");
  LV_ASSIGN_OR_RETURN(receipt.sequence, UintKey(doc, "sequence"));
  LV_ASSIGN_OR_RETURN(std::string entry_text, StringKey(doc, "entry"));
  if (!keys::Base64Decode(entry_text, &receipt.entry).ok()) {
    return Invalid("entry: not canonical base64");
  }
  absl::StatusOr<AuditEntry> entry = DecodeCanonical(receipt.entry);
  if (!entry.ok()) return Invalid("entry: not a canonical audit entry");
  LV_ASSIGN_OR_RETURN(std::string deleted_at, StringKey(doc, "deleted_at"));
  if (deleted_at != TimeText(entry->time)) {
    return Invalid("deleted_at: does not spell the entry's time");
  }
  const nlohmann::json& proof = doc.at("inclusion_proof");
  if (!proof.is_array()) return Invalid("\"inclusion_proof\" must be an array");
  if (proof.size() > kMaxProofHashes) return Invalid("inclusion_proof: too many hashes");
  std::string bytes;
  for (const nlohmann::json& h : proof) {
    absl::StatusOr<Hash> hash = Invalid("");
    if (h.is_string() && keys::Base64Decode(h.get<std::string>(), &bytes).ok()) {
      hash = HashFromBytes(bytes);
    }
    if (!hash.ok()) return Invalid("inclusion_proof: not a canonical base64 SHA-256 hash");
    receipt.inclusion_proof.push_back(*hash);
  }
  LV_ASSIGN_OR_RETURN(receipt.checkpoint_note, StringKey(doc, "checkpoint"));
  return receipt;
}

absl::StatusOr<DeletionReceiptReport> VerifyDeletionReceipt(const DeletionReceipt& receipt,
                                                            const NoteVerifier& verifier) {
  DeletionReceiptReport report;
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(receipt.checkpoint_note, verifier);
  if (!checkpoint.ok()) {
    return absl::Status(checkpoint.status().code(),
                        absl::StrCat("checkpoint: ", checkpoint.status().message()));
  }
  report.checkpoint = *checkpoint;
  absl::StatusOr<AuditEntry> entry = DecodeCanonical(receipt.entry);
  if (!entry.ok()) return Invalid("entry: not a canonical audit entry");
  if (entry->sequence != receipt.sequence) return Invalid("entry: its sequence is not `sequence`");
  if (entry->action != "DeleteLead" && entry->action != "RetentionPurge") {
    return Invalid("entry: not a purge (DeleteLead or RetentionPurge)");
  }
  if (entry->outcome != Outcome::kAllowed) return Invalid("entry: the purge did not succeed");
  if (entry->lead_ids != std::vector<std::string>{receipt.lead_id}) {
    return Invalid("entry: does not name exactly the receipt's lead");
  }
  if (receipt.sequence == 0 || receipt.sequence > checkpoint->size) {
    return Invalid("inclusion_proof: sequence beyond the checkpoint's tree");
  }
  absl::Status included =
      VerifyInclusion(receipt.sequence - 1, checkpoint->size, LeafHash(receipt.entry),
                      receipt.inclusion_proof, checkpoint->root);
  if (!included.ok()) return Invalid(absl::StrCat("inclusion_proof: ", included.message()));
  report.entry = *std::move(entry);
  return report;
}

}  // namespace leadvault::audit
