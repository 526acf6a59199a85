#include "tools/ctl_print.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "keys/secret_bytes.h"

namespace leadvault::tools {

// "LEAD_STATUS_CLOSED_LOST" with prefix "LEAD_STATUS_" -> "closed_lost".
std::string ShortEnumName(const std::string& full_name, absl::string_view prefix) {
  absl::string_view name = full_name;
  if (absl::StartsWith(name, prefix)) name.remove_prefix(prefix.size());
  return absl::AsciiStrToLower(name);
}

std::string FormatMicros(int64_t unix_micros) {
  if (unix_micros == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMicros(unix_micros),
                          absl::UTCTimeZone());
}

std::string JoinOrDash(const google::protobuf::RepeatedPtrField<std::string>& values) {
  return values.empty() ? "-" : absl::StrJoin(values, ",");
}

void PrintField(absl::string_view name, absl::string_view value) {
  std::cout << name << ": " << value << "\n";
}

// Prints every non-empty string field of `message` as `name: value`.
void PrintStringFields(const google::protobuf::Message& message) {
  const google::protobuf::Descriptor* descriptor = message.GetDescriptor();
  const google::protobuf::Reflection* reflection = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (field->is_repeated() ||
        field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
      continue;
    }
    std::string value = reflection->GetString(message, field);
    if (!value.empty()) PrintField(field->name(), value);
    keys::WipeString(value);
  }
}

void PrintLeadMetadata(const v1::LeadMetadata& metadata) {
  PrintField("lead_id", metadata.lead_id());
  PrintField("status", ShortEnumName(v1::LeadStatus_Name(metadata.status()), "LEAD_STATUS_"));
  PrintField("version", absl::StrCat(metadata.version()));
  PrintField("created", FormatMicros(metadata.created_at_unix_micros()));
  PrintField("updated", FormatMicros(metadata.updated_at_unix_micros()));
  PrintField("source", ShortEnumName(v1::SourceChannel_Name(metadata.attribution().source()),
                                     "SOURCE_CHANNEL_"));
  PrintStringFields(metadata.attribution());
  for (const v1::Touch& touch : metadata.touches()) {
    PrintField("touch",
               absl::StrCat(FormatMicros(touch.at_unix_micros()), " ",
                            ShortEnumName(v1::SourceChannel_Name(touch.attribution().source()),
                                          "SOURCE_CHANNEL_"),
                            " ", touch.attribution().service_line()));
  }
  for (const v1::ContactAttempt& attempt : metadata.contact_attempts()) {
    PrintField(
        "contact_attempt",
        absl::StrCat(
            FormatMicros(attempt.at_unix_micros()), " ",
            ShortEnumName(v1::ContactChannel_Name(attempt.channel()), "CONTACT_CHANNEL_"), " ",
            ShortEnumName(v1::ContactOutcome_Name(attempt.outcome()), "CONTACT_OUTCOME_")));
  }
}

// Prints rows as left-aligned columns separated by two spaces.
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

bool PrintJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return false;
  std::cout << out << std::flush;
  keys::WipeString(out);
  return true;
}

}  // namespace leadvault::tools
