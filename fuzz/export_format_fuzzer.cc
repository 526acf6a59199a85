// The export renderer (audit/export_format.h) on entries holding any bytes:
// every line is one line of well-formed UTF-8, and different values render
// differently (the verifier re-renders each line and compares bytes, so a
// collision would let a reader see a value that was not signed).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/audit_entry.h"
#include "audit/export_format.h"
#include "audit/merkle.h"
#include "fuzz/fuzz_check.h"

namespace {

using leadvault::audit::AuditEntry;

// Well-formed UTF-8 (RFC 3629): no overlongs, surrogates or code points past U+10FFFF.
bool IsWellFormedUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    size_t len;
    uint32_t cp;
    if (b0 < 0x80) {
      ++i;
      continue;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2, cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3, cp = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4, cp = b0 & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<uint8_t>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

void CheckJsonLine(absl::string_view line) {
  FUZZ_CHECK(!line.empty() && line.back() == '\n');
  FUZZ_CHECK(line.find('\n') == line.size() - 1);
  FUZZ_CHECK(IsWellFormedUtf8(line));
  for (char c : line.substr(0, line.size() - 1)) {
    FUZZ_CHECK(static_cast<uint8_t>(c) >= 0x20 && c != 0x7f);
  }
  FUZZ_CHECK(!absl::StrContains(line, "\xe2\x80\xa8") && !absl::StrContains(line, "\xe2\x80\xa9"));
}

// The number of fields in one CSV record ending in CRLF, read as RFC 4180 does:
// a quoted field runs to its closing quote ("" is a quote inside it); outside
// quotes a comma ends a field and CRLF ends the record. Fails on anything else
// (a bare quote inside an unquoted field, a line break outside quotes before the
// end, text after a closing quote, a record not ending in CRLF).
size_t CsvFieldCount(absl::string_view record) {
  size_t fields = 1;
  size_t i = 0;
  while (true) {
    if (i < record.size() && record[i] == '"') {
      ++i;
      while (true) {
        FUZZ_CHECK(i < record.size());
        if (record[i] == '"') {
          if (i + 1 < record.size() && record[i + 1] == '"') {
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        ++i;
      }
    } else {
      while (i < record.size() && record[i] != ',' && record[i] != '\r') {
        FUZZ_CHECK(record[i] != '"' && record[i] != '\n');
        ++i;
      }
    }
    FUZZ_CHECK(i < record.size());
    if (record[i] == ',') {
      ++fields;
      ++i;
      continue;
    }
    FUZZ_CHECK(record.substr(i) == "\r\n");
    return fields;
  }
}

std::string JsonEntry(const AuditEntry& e) {
  std::string line;
  leadvault::audit::AppendJsonlEntry(e, leadvault::audit::EncodeCanonical(e), nullptr, line);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider provider(data, size);
  AuditEntry e;
  e.sequence = provider.ConsumeIntegral<uint64_t>();
  // Any representable time, including years outside 0000..9999.
  e.time = absl::FromUnixMicros(provider.ConsumeIntegral<int64_t>());
  e.outcome = static_cast<leadvault::audit::Outcome>(provider.ConsumeIntegralInRange<int>(1, 4));
  e.code = provider.ConsumeIntegral<int>();
  for (std::string* s : {&e.principal_id, &e.role, &e.action, &e.purpose, &e.request_id, &e.peer,
                         &e.break_glass_reason, &e.subject}) {
    *s = provider.ConsumeRandomLengthString(64);
  }
  for (std::vector<std::string>* list : {&e.lead_ids, &e.fields, &e.blind_tokens}) {
    const size_t n = provider.ConsumeIntegralInRange<size_t>(0, 3);
    for (size_t i = 0; i < n; ++i) list->push_back(provider.ConsumeRandomLengthString(40));
  }
  const std::string other = provider.ConsumeRandomLengthString(64);

  const std::string line = JsonEntry(e);
  CheckJsonLine(line);
  // Two entries that differ in one string (here the principal) render differently.
  AuditEntry changed = e;
  changed.principal_id = other;
  FUZZ_CHECK((JsonEntry(changed) == line) == (other == e.principal_id));

  // Display names are admin-chosen text: fuzzed like every other string, with
  // and without the optional canonical column.
  const std::string principal_name = provider.ConsumeRandomLengthString(40);
  const std::string subject_name = provider.ConsumeRandomLengthString(40);
  leadvault::audit::CsvOptions csv_options;
  csv_options.canonical_column = provider.ConsumeBool();
  std::string csv;
  leadvault::audit::AppendCsvEntry(e, leadvault::audit::EncodeCanonical(e),
                                   {principal_name, subject_name}, csv_options, csv);
  FUZZ_CHECK(csv.size() >= 2 && csv.substr(csv.size() - 2) == "\r\n");
  FUZZ_CHECK(IsWellFormedUtf8(csv));
  // Every row has as many columns as the header (RFC 4180 quoting keeps the
  // commas and line breaks inside a field out of the count).
  std::string csv_header;
  leadvault::audit::AppendCsvHeader(csv_options, csv_header);
  FUZZ_CHECK(CsvFieldCount(csv) == CsvFieldCount(csv_header));

  leadvault::audit::ExportHeader header;
  header.origin = e.peer;
  header.first_sequence = e.sequence;
  header.last_sequence = e.sequence;
  std::string header_line;
  leadvault::audit::AppendJsonlHeader(header, header_line);
  CheckJsonLine(header_line);
  leadvault::audit::ExportTrailer trailer;
  trailer.checkpoint_note = e.break_glass_reason;
  std::string trailer_line;
  leadvault::audit::AppendJsonlTrailer(trailer, trailer_line);
  CheckJsonLine(trailer_line);
  return 0;
}
