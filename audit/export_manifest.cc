#include "audit/export_manifest.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "keys/hash.h"
#include "keys/status_macros.h"

namespace leadvault::audit {
namespace {

constexpr absl::string_view kFirstLineSuffix = " export-manifest";

absl::Status CheckFilterValue(absl::string_view name, absl::string_view value) {
  if (value.size() > kMaxFilterValueBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": at most ", kMaxFilterValueBytes, " characters"));
  }
  for (char c : value) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": must be printable ASCII characters without spaces"));
    }
  }
  return absl::OkStatus();
}

std::string Base64Hash(const Hash& hash) { return absl::Base64Escape(HashBytes(hash)); }

absl::Status Malformed(int line, absl::string_view what, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("manifest line ", line, " (", what, ") ", why));
}

bool ParseHash(absl::string_view s, Hash* out) {
  std::string bytes;
  if (!absl::Base64Unescape(s, &bytes) || absl::Base64Escape(bytes) != s) return false;
  absl::StatusOr<Hash> hash = HashFromBytes(bytes);
  if (!hash.ok()) return false;
  *out = *hash;
  return true;
}

// "<keyword> <rest>": the rest, or false if the line has another keyword.
bool After(absl::string_view line, absl::string_view keyword, absl::string_view* rest) {
  if (!absl::StartsWith(line, keyword) || line.size() <= keyword.size() ||
      line[keyword.size()] != ' ') {
    return false;
  }
  *rest = line.substr(keyword.size() + 1);
  return true;
}

}  // namespace

bool ExportFilter::Matches(const AuditEntry& entry) const {
  if (!principal_id.empty() && entry.principal_id != principal_id) return false;
  if (!action.empty() && entry.action != action) return false;
  if (!lead_id.empty() &&
      std::find(entry.lead_ids.begin(), entry.lead_ids.end(), lead_id) == entry.lead_ids.end()) {
    return false;
  }
  return true;
}

absl::Status ValidateExportFilter(const ExportFilter& filter) {
  LV_RETURN_IF_ERROR(CheckFilterValue("principal_id", filter.principal_id));
  LV_RETURN_IF_ERROR(CheckFilterValue("action", filter.action));
  return CheckFilterValue("lead_id", filter.lead_id);
}

void LeafChain::Append(const Hash& leaf) {
  value_ = keys::Sha256({HashBytes(value_), HashBytes(leaf)});
  ++count_;
}

std::string FormatExportManifest(const ExportManifest& m) {
  return absl::StrCat(m.origin, kFirstLineSuffix, "\n",                            //
                      "checkpoint ", m.tree_size, " ", Base64Hash(m.root), "\n",   //
                      "range ", m.first_sequence, " ", m.last_sequence, "\n",      //
                      "filter principal_id=", m.filter.principal_id,               //
                      " action=", m.filter.action, " lead_id=", m.filter.lead_id,  //
                      "\n", "matches ", m.matches, "\n",                           //
                      "leaf_chain ", Base64Hash(m.leaf_chain), "\n");
}

absl::StatusOr<ExportManifest> ParseExportManifest(absl::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("manifest: does not end in a newline");
  }
  text.remove_suffix(1);
  const std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (lines.size() != 6) {
    return absl::InvalidArgumentError(absl::StrCat("manifest: has ", lines.size(),
                                                   " lines, expected 6 (not an export manifest)"));
  }
  ExportManifest m;
  absl::string_view rest;
  if (!absl::EndsWith(lines[0], kFirstLineSuffix) || lines[0].size() == kFirstLineSuffix.size()) {
    return Malformed(1, "origin", "does not end in \" export-manifest\" (not an export manifest)");
  }
  m.origin = std::string(lines[0].substr(0, lines[0].size() - kFirstLineSuffix.size()));
  if (m.origin.find(' ') != std::string::npos) {
    return Malformed(1, "origin", "has a space");
  }

  std::vector<absl::string_view> parts;
  if (!After(lines[1], "checkpoint", &rest) ||
      (parts = absl::StrSplit(rest, ' '), parts.size() != 2) ||
      !ParseCanonicalUint64(parts[0], &m.tree_size) || !ParseHash(parts[1], &m.root)) {
    return Malformed(2, "checkpoint", "is not \"checkpoint <tree size> <base64 root>\"");
  }
  if (!After(lines[2], "range", &rest) || (parts = absl::StrSplit(rest, ' '), parts.size() != 2) ||
      !ParseCanonicalUint64(parts[0], &m.first_sequence) ||
      !ParseCanonicalUint64(parts[1], &m.last_sequence)) {
    return Malformed(3, "range", "is not \"range <first_sequence> <last_sequence>\"");
  }
  if (!After(lines[3], "filter", &rest) || (parts = absl::StrSplit(rest, ' '), parts.size() != 3) ||
      !absl::StartsWith(parts[0], "principal_id=") || !absl::StartsWith(parts[1], "action=") ||
      !absl::StartsWith(parts[2], "lead_id=")) {
    return Malformed(4, "filter", "is not \"filter principal_id=.. action=.. lead_id=..\"");
  }
  m.filter.principal_id = std::string(parts[0].substr(sizeof("principal_id=") - 1));
  m.filter.action = std::string(parts[1].substr(sizeof("action=") - 1));
  m.filter.lead_id = std::string(parts[2].substr(sizeof("lead_id=") - 1));
  if (absl::Status s = ValidateExportFilter(m.filter); !s.ok()) {
    return Malformed(4, "filter", s.message());
  }
  if (!After(lines[4], "matches", &rest) || !ParseCanonicalUint64(rest, &m.matches)) {
    return Malformed(5, "matches", "is not \"matches <count>\"");
  }
  if (!After(lines[5], "leaf_chain", &rest) || !ParseHash(rest, &m.leaf_chain)) {
    return Malformed(6, "leaf_chain", "is not \"leaf_chain <base64 of 32 bytes>\"");
  }
  return m;
}

absl::StatusOr<ExportManifest> OpenExportManifest(absl::string_view note,
                                                  const NoteVerifier& verifier) {
  LV_ASSIGN_OR_RETURN(const std::string text, verifier.Open(note));
  LV_ASSIGN_OR_RETURN(ExportManifest manifest, ParseExportManifest(text));
  if (manifest.origin != verifier.name()) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest: origin does not match the signing key's name ", verifier.name()));
  }
  return manifest;
}

}  // namespace leadvault::audit
