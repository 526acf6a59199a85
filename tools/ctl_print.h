// How leadvaultctl prints: `name: value` lines, aligned tables, lead
// metadata, and JSON with proto field names (--json).
#ifndef LEADVAULT_TOOLS_CTL_PRINT_H_
#define LEADVAULT_TOOLS_CTL_PRINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "leadvault/v1/leadvault.pb.h"

namespace leadvault::tools {

// "LEAD_STATUS_CLOSED_LOST" with prefix "LEAD_STATUS_" -> "closed_lost".
std::string ShortEnumName(const std::string& full_name, absl::string_view prefix);

// ISO 8601 UTC ("2026-12-03T16:09:37Z"); "-" for 0.
std::string FormatMicros(int64_t unix_micros);

std::string JoinOrDash(const google::protobuf::RepeatedPtrField<std::string>& values);

// `name: value` on stdout.
void PrintField(absl::string_view name, absl::string_view value);

// Every non-empty string field of `message` as `name: value` (copies wiped).
void PrintStringFields(const google::protobuf::Message& message);

void PrintLeadMetadata(const v1::LeadMetadata& metadata);

// Rows as left-aligned columns separated by two spaces.
void PrintTable(const std::vector<std::vector<std::string>>& rows);

// `message` as JSON (proto field names, indented) on stdout; false if it
// cannot be printed. The printed copy is wiped.
bool PrintJson(const google::protobuf::Message& message);

// `text` for HTML element content or a quoted attribute value: `&`, `<`, `>`,
// `"` and `'` as character references; each byte that is not part of
// well-formed UTF-8 (RFC 3629), and each control character other than tab and
// line feed, as U+FFFD. So any bytes (an audit log's strings are any bytes)
// become inert, valid UTF-8 text. Not for inside <script> or <style>.
std::string HtmlEscape(absl::string_view text);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_PRINT_H_
