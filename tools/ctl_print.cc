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
#include "nlohmann/json.hpp"

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

namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Decodes the code point starting at `in[0]` (a byte >= 0x80); its length in
// bytes, or 0 if the bytes there are not well-formed UTF-8.
size_t DecodeUtf8(absl::string_view in, char32_t* code_point) {
  const auto lead = static_cast<unsigned char>(in[0]);
  size_t length = 0;
  char32_t value = 0, smallest = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, value = lead & 0x1F, smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, value = lead & 0x0F, smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, value = lead & 0x07, smallest = 0x10000;
  } else {
    return 0;
  }
  if (in.size() < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    const auto next = static_cast<unsigned char>(in[i]);
    if ((next & 0xC0) != 0x80) return 0;
    value = (value << 6) | (next & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  if (value < smallest || (value >= 0xD800 && value <= 0xDFFF) || value > 0x10FFFF) return 0;
  *code_point = value;
  return length;
}

}  // namespace

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  while (!text.empty()) {
    const auto byte = static_cast<unsigned char>(text[0]);
    size_t used = 1;
    if (byte >= 0x80) {
      char32_t code_point = 0;
      used = DecodeUtf8(text, &code_point);
      const bool c1_control = code_point >= 0x80 && code_point <= 0x9F;
      if (used == 0 || c1_control) {
        out.append(kReplacement);
        used = used == 0 ? 1 : used;
      } else {
        out.append(text.data(), used);
      }
    } else if (byte == '&') {
      out.append("&amp;");
    } else if (byte == '<') {
      out.append("&lt;");
    } else if (byte == '>') {
      out.append("&gt;");
    } else if (byte == '"') {
      out.append("&quot;");
    } else if (byte == '\'') {
      out.append("&#39;");
    } else if ((byte < 0x20 && byte != '\t' && byte != '\n') || byte == 0x7F) {
      out.append(kReplacement);
    } else {
      out.push_back(static_cast<char>(byte));
    }
    text.remove_prefix(used);
  }
  return out;
}

void PrintSubmission(const v1::Submission& submission, int number) {
  const v1::Attribution& attribution = submission.attribution();
  PrintField(
      absl::StrCat("submission ", number),
      absl::StrCat(FormatMicros(submission.at_unix_micros()), " ",
                   ShortEnumName(v1::SourceChannel_Name(attribution.source()), "SOURCE_CHANNEL_"),
                   " ", attribution.service_line()));
  // Indented `name: value` lines of the non-empty string fields of `message`
  // but `skip`; a field named in `masked` gets " (masked)".
  auto print_fields = [](const google::protobuf::Message& message, absl::string_view skip,
                         const google::protobuf::RepeatedPtrField<std::string>& masked) {
    const google::protobuf::Descriptor* descriptor = message.GetDescriptor();
    const google::protobuf::Reflection* reflection = message.GetReflection();
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* field = descriptor->field(i);
      if (field->is_repeated() || field->name() == skip ||
          field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
        continue;
      }
      std::string value = reflection->GetString(message, field);
      if (!value.empty()) {
        const bool is_masked =
            std::find(masked.begin(), masked.end(), field->name()) != masked.end();
        std::cout << "  " << field->name() << ": " << value << (is_masked ? " (masked)" : "")
                  << "\n";
      }
      keys::WipeString(value);
    }
  };
  print_fields(attribution, "service_line", {});
  print_fields(submission.personal(), "", submission.masked_fields());
  PrintField("  conflicts", JoinOrDash(submission.conflicts()));
}

bool MessageToJsonValue(const google::protobuf::Message& message, nlohmann::ordered_json* out) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(message, &text, options).ok()) return false;
  // Parsed without exceptions: a failure is a discarded value.
  *out = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  keys::WipeString(text);
  return !out->is_discarded();
}

void PrintJsonDocument(const nlohmann::ordered_json& document) {
  // Indented as PrintJson's (protobuf's) output is.
  std::string out = document.dump(1, ' ', /*ensure_ascii=*/false,
                                  nlohmann::ordered_json::error_handler_t::replace);
  std::cout << out << "\n" << std::flush;
  keys::WipeString(out);
}

std::string PrincipalLabel(absl::string_view display_name, absl::string_view principal_id) {
  if (display_name.empty()) return std::string(principal_id);
  return absl::StrCat(display_name, " (", principal_id, ")");
}

}  // namespace leadvault::tools
