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
#include "nlohmann/json_fwd.hpp"

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

// "Display Name (principal id)", or the id alone when `display_name` is empty.
std::string PrincipalLabel(absl::string_view display_name, absl::string_view principal_id);

// A later submission of the lead (GetLead's `submissions`), numbered from 1:
// when, source and service line, its other attribution, its personal fields
// as the caller may see them ("(masked)" after a masked one) and the fields
// whose value differs from the lead's (`conflicts`), indented under it.
// Copies of personal values are wiped.
void PrintSubmission(const v1::Submission& submission, int number);

// ---- --json documents ----------------------------------------------------------
// Every --json output is one JSON document on stdout. A gRPC message is in
// protobuf's JSON mapping with proto field names (as PrintJson: fields at
// their default value are left out, 64-bit integers are strings); a local
// result is a small object of our own.

// `message` in that mapping as a JSON value in `*out`; false if it cannot be
// converted. The text in between is wiped.
bool MessageToJsonValue(const google::protobuf::Message& message, nlohmann::ordered_json* out);

// `document` on stdout, indented, then a newline; bytes that are not UTF-8
// become U+FFFD (nothing throws). The printed copy is wiped.
void PrintJsonDocument(const nlohmann::ordered_json& document);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_PRINT_H_
