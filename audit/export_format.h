// The compliance export of the audit log: JSON Lines (verifiable offline) and
// CSV (for spreadsheets). One rendering, used by the exporter and re-done by
// the verifier, so the fields a reader sees are proven to be the signed bytes.
//
// JSON Lines file, format "leadvault-audit-export" version 1:
//   {"type":"header", "format", "version", "origin", "first_sequence",
//    "last_sequence", "filtered", "left_frontier":[base64 hashes of
//    RangeNodes(0, first_sequence - 1)]}
//   {"type":"entry", "seq", "time", ..., "canonical":"<base64 canonical bytes>"
//    [, "inclusion":[base64 hashes]]}      one per entry, ascending sequence;
//                                          "inclusion" only in filtered exports
//   {"type":"checkpoint", "note":"<signed checkpoint note>",
//    "right_nodes":[base64 hashes of RangeNodes(last_sequence, checkpoint size)]}
//   {"type":"consistency", "from_size", "proof":[...]}   optional, at most one
// Entry n (sequence n) is leaf n - 1 of the tree.
#ifndef LEADVAULT_AUDIT_EXPORT_FORMAT_H_
#define LEADVAULT_AUDIT_EXPORT_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "audit/audit_entry.h"
#include "audit/merkle.h"

namespace leadvault::audit {

struct ExportHeader {
  std::string origin;
  uint64_t first_sequence = 1;  // of the range asked for
  uint64_t last_sequence = 0;   // < first_sequence when the range is empty
  // Filtered (by principal, action or lead): entries are not contiguous, and
  // each carries its own inclusion proof against the checkpoint.
  bool filtered = false;
  std::vector<Hash> left_frontier;  // unfiltered only
};

struct ExportTrailer {
  std::string checkpoint_note;    // the covering signed checkpoint (size >= last_sequence)
  std::vector<Hash> right_nodes;  // unfiltered only
};

// Each appends one line, '\n'-terminated, to `out`.
void AppendJsonlHeader(const ExportHeader& header, std::string& out);
// `canonical` must be EncodeCanonical(entry); `inclusion` is null in unfiltered exports.
void AppendJsonlEntry(const AuditEntry& entry, absl::string_view canonical,
                      const std::vector<Hash>* inclusion, std::string& out);
void AppendJsonlTrailer(const ExportTrailer& trailer, std::string& out);
void AppendJsonlConsistency(uint64_t from_size, const std::vector<Hash>& proof, std::string& out);

// CSV (RFC 4180, CRLF rows): a header row, then one row per entry with the
// same columns as the JSON entry lines (lists joined with ';', canonical
// bytes base64). A cell starting with '=', '+', '-', '@', TAB or CR is
// prefixed with a single quote so a spreadsheet never evaluates it.
void AppendCsvHeader(std::string& out);
void AppendCsvEntry(const AuditEntry& entry, absl::string_view canonical, std::string& out);

}  // namespace leadvault::audit

#endif  // LEADVAULT_AUDIT_EXPORT_FORMAT_H_
