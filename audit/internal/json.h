// JSON as audit/ writes and reads it, shared by the audit export
// (audit/export_format.h, audit/internal/export_reader.h) and the consent
// proof (audit/consent_proof.h): one spelling of strings and times, and
// nlohmann::json's SAX parser driven so that its errors say where (a byte
// position) and what, without ever quoting the input. Thread-safe: no state.
#ifndef LEADVAULT_AUDIT_INTERNAL_JSON_H_
#define LEADVAULT_AUDIT_INTERNAL_JSON_H_

#include <cstddef>
#include <iterator>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace leadvault::audit::internal {

// Appends `s` as a JSON string literal, quotes included, escaped as
// audit/export_format.h states (any bytes give valid UTF-8 JSON that renders
// distinctly). Defined in export_format.cc.
void AppendJsonString(absl::string_view s, std::string& out);

// Appends `t` as the export's "time" spells it: RFC 3339 UTC with exactly six
// fraction digits ("2026-12-01T13:00:00.123456Z"), no quotes. Defined in
// export_format.cc.
void AppendRfc3339Micros(absl::Time t, std::string& out);

// A byte iterator over a text that counts how far the parser has read, so a
// value a SAX handler refuses can be placed in the text.
class CountingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator(const char* at, size_t* read) : at_(at), read_(read) {}
  reference operator*() const { return *at_; }
  CountingIterator& operator++() {
    ++at_;
    ++*read_;
    return *this;
  }
  bool operator==(const CountingIterator& other) const { return at_ == other.at_; }
  bool operator!=(const CountingIterator& other) const { return at_ != other.at_; }

 private:
  const char* at_;
  size_t* read_;
};

// INVALID_ARGUMENT "invalid JSON at byte N: what".
inline absl::Status JsonError(size_t byte, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte ", byte, ": ", what));
}

// nlohmann's description of a syntax error without its position (given
// separately) and without the text it last read (which may be anything).
inline std::string SyntaxErrorText(const nlohmann::json::exception& error) {
  absl::string_view what = error.what();
  const size_t colon = what.find(": ");
  if (colon == absl::string_view::npos) return "syntax error";
  what.remove_prefix(colon + 2);
  return std::string(what.substr(0, what.find("; last read: ")));
}

}  // namespace leadvault::audit::internal

#endif  // LEADVAULT_AUDIT_INTERNAL_JSON_H_
