// The compliance export of the audit log: JSON Lines (verifiable offline) and
// CSV (for spreadsheets). One rendering, used by the exporter and re-done by
// the verifier, so the fields a reader sees are proven to be the signed bytes.
//
// JSON Lines file, format "leadvault-audit-export" version 1. Every line is
// one JSON object with its keys in exactly this order, no whitespace, and
// ends in '\n'; the verifier re-renders each line and requires the same bytes.
//   {"type":"header","format":"leadvault-audit-export","version":1,
//    "origin":"<log name>","first_sequence":N,"last_sequence":N,
//    "filtered":false,"left_frontier":[<hashes of RangeNodes(0, first_sequence - 1)>]}
//        filtered, "filtered":true is followed by the filter as applied,
//        "filter_principal_id":"..","filter_action":"..","filter_lead_id":".."
//        (empty: not filtered on that), before "left_frontier".
//   {"type":"entry","seq":N,"time":"2026-12-01T13:00:00.123456Z","principal":"..",
//    "role":"..","action":"..","outcome":"allowed","code":0,"lead_ids":[".."],
//    "fields":[".."],"blind_tokens":[".."],"purpose":"..","request_id":"..",
//    "peer":"..","break_glass_reason":"..","subject":"..",
//    "canonical":"<base64 of EncodeCanonical(entry)>"[,"inclusion":[<hashes>]]}
//        one per entry, ascending sequence; "inclusion" (the RFC 9162
//        inclusion proof of leaf seq - 1 in the checkpoint's tree) exactly in
//        filtered exports. Unfiltered, the entries are every sequence of
//        [first_sequence, last_sequence] (so last_sequence >= first_sequence - 1);
//        filtered, a strictly increasing subset of it, and left_frontier is [].
//   {"type":"checkpoint","note":"<signed checkpoint note>",
//    "right_nodes":[<hashes of RangeNodes(last_sequence, checkpoint size)>]}
//        right_nodes is [] in filtered exports, and the line goes on with
//        ,"manifest":"<signed export manifest note>" (audit/export_manifest.h):
//        the daemon's signed word on which entries the filter selected.
//   {"type":"consistency","from_size":N,"proof":[<hashes>]}
//        optional, at most one, last: the RFC 9162 consistency proof from an
//        older tree size to the checkpoint's, for verifiers that trust it.
// Entry n (sequence n) is leaf n - 1 of the tree. Hashes are standard base64
// (RFC 4648, padded) of 32 bytes; numbers are unsigned decimal ("code" may be
// negative). "time" is RFC 3339 UTC with exactly six fraction digits; a year
// outside 0000..9999 (only from a corrupt clock) is written in the ISO 8601
// expanded form, with a sign and at least four digits ("+10000-01-01T...").
//
// Strings are escaped so that any bytes give valid UTF-8 JSON that renders
// distinctly: '"' and '\\' as \" and \\; \b \f \n \r \t; other bytes below
// 0x20 and 0x7F as \u00xx; U+2028 and U+2029 as \u2028 and \u2029; other
// well-formed UTF-8 (RFC 3629) as it is; and each byte that is not part of
// well-formed UTF-8 as the lone low surrogate \udc80..\udcff (byte 0x80..0xff,
// as Python's "surrogateescape" decodes it). Hex digits are lower case.
//
// CSV (RFC 4180, CRLF rows, UTF-8), for spreadsheets: a header row of
// plain-language column names, then one row per entry (audit/FORMAT.md,
// section 7): the time twice, as "2026-12-01 13:00:00" (UTC, whole seconds:
// what spreadsheets read as a date-time) and exactly as in the JSON lines;
// the status code's number and its name ("PERMISSION_DENIED"); the display
// names of the principal and of the subject beside their ids; lists joined
// with ';'; and, only when asked for, the canonical bytes (base64) last. Bytes
// that are not well-formed UTF-8 become U+FFFD (the canonical column keeps
// the exact bytes). A cell starting with '=', '+', '-', '@', TAB or CR is
// prefixed with a single quote so a spreadsheet never evaluates it (OWASP
// "CSV injection"); a cell holding '"', ',', CR or LF is quoted, '"' doubled.
#ifndef LEADVAULT_AUDIT_EXPORT_FORMAT_H_
#define LEADVAULT_AUDIT_EXPORT_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "audit/audit_entry.h"
#include "audit/export_manifest.h"
#include "audit/merkle.h"

namespace leadvault::audit {

struct ExportHeader {
  std::string origin;
  uint64_t first_sequence = 1;  // of the range asked for
  uint64_t last_sequence = 0;   // first_sequence - 1 when the range is empty
  // Filtered (by principal, action or lead): entries are not contiguous, and
  // each carries its own inclusion proof against the checkpoint.
  bool filtered = false;
  std::vector<Hash> left_frontier;  // unfiltered only
  ExportFilter filter = {};         // filtered only: as applied
};

struct ExportTrailer {
  std::string checkpoint_note;     // the covering signed checkpoint (size >= last_sequence)
  std::vector<Hash> right_nodes;   // unfiltered only
  std::string manifest_note = {};  // filtered only: the signed export manifest
};

// Each appends one line, '\n'-terminated, to `out`.
void AppendJsonlHeader(const ExportHeader& header, std::string& out);
// `canonical` must be EncodeCanonical(entry); `inclusion` is null in unfiltered exports.
void AppendJsonlEntry(const AuditEntry& entry, absl::string_view canonical,
                      const std::vector<Hash>* inclusion, std::string& out);
void AppendJsonlTrailer(const ExportTrailer& trailer, std::string& out);
void AppendJsonlConsistency(uint64_t from_size, const std::vector<Hash>& proof, std::string& out);

// CSV rows, as described at the top.
struct CsvOptions {
  bool canonical_column = false;  // the canonical bytes (base64) as the last column
};
// The display names of an entry's principal_id and subject ("" when unknown).
struct CsvNames {
  absl::string_view principal;
  absl::string_view subject;
};
void AppendCsvHeader(const CsvOptions& options, std::string& out);
// `canonical` (EncodeCanonical(entry)) is written only with options.canonical_column.
void AppendCsvEntry(const AuditEntry& entry, absl::string_view canonical, const CsvNames& names,
                    const CsvOptions& options, std::string& out);

// The gRPC (and absl) name of status code `code`, "OK" to "UNAUTHENTICATED";
// "" for a number outside 0..16.
absl::string_view StatusCodeName(int code);

// The display name an allowed CreatePrincipal entry records for the principal
// it created (its subject), from its "display_name=<name>" field; nullopt for
// any other entry, and for one from before names were recorded.
std::optional<std::string> RecordedDisplayName(const AuditEntry& entry);

}  // namespace leadvault::audit

#endif  // LEADVAULT_AUDIT_EXPORT_FORMAT_H_
