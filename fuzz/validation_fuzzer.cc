// Request validation and normalization (vault/validation.h): every field a
// client sends. The first byte picks the function ('e' email, 'p' phone, 'd'
// date of birth, 's' state, 'z' ZIP, 't' one-line text, 'm' multi-line text,
// 'i' idempotency key, 'l' service line, 'a' attribution, 'L' a whole lead's
// PII; any other byte picks by its value); the rest is the input.
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_check.h"
#include "keys/secret_bytes.h"
#include "vault/lead.h"
#include "vault/validation.h"

namespace leadvault::vault {
namespace {

using keys::SecretBytes;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 6, 15, 12, 0, 0), absl::UTCTimeZone());

// Errors are INVALID_ARGUMENT "<field>: <rule>", printable ASCII, and never
// carry the value (checked for values no rule text could contain).
void CheckError(const absl::Status& status, absl::string_view field, absl::string_view input) {
  FUZZ_CHECK(absl::IsInvalidArgument(status));
  const absl::string_view message = status.message();
  FUZZ_CHECK(absl::StartsWith(message, absl::StrCat(field, ": ")));
  for (char c : message) FUZZ_CHECK(c >= 0x20 && c < 0x7f);
  bool unlike_rule_text = false;
  for (char c : input) {
    unlike_rule_text = unlike_rule_text || c == '@' || static_cast<uint8_t>(c) >= 0x80;
  }
  if (unlike_rule_text) FUZZ_CHECK(!absl::StrContains(message, input));
}

bool AllOf(absl::string_view s, bool (*pred)(unsigned char)) {
  for (char c : s) {
    if (!pred(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsServiceLineChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}
bool IsGraphicAscii(unsigned char c) { return c >= 0x21 && c <= 0x7e; }

// A normalizer's output is a fixed point: normalizing it again gives it back.
template <typename Normalize>
void CheckFixedPoint(Normalize normalize, const SecretBytes& out) {
  absl::StatusOr<SecretBytes> again = normalize(out.view());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == out);
}

void FuzzEmail(absl::string_view in) {
  absl::StatusOr<SecretBytes> out = NormalizeEmail(in);
  if (!out.ok()) return CheckError(out.status(), "email", in);
  FUZZ_CHECK(out->size() <= kMaxEmailLength);
  FUZZ_CHECK(absl::StrContains(out->view(), "@"));
  CheckFixedPoint(NormalizeEmail, *out);
  // The index form is the lower-cased address: itself a valid, fixed address.
  SecretBytes index = EmailIndexForm(*out);
  FUZZ_CHECK(index.view() == absl::AsciiStrToLower(out->view()));
  CheckFixedPoint(NormalizeEmail, index);
  FUZZ_CHECK(EmailIndexForm(index) == index);
}

void FuzzPhone(absl::string_view in) {
  absl::StatusOr<SecretBytes> out = NormalizePhone(in);
  if (!out.ok()) {
    if (absl::IsInternal(out.status())) return;  // libphonenumber refused to format
    return CheckError(out.status(), "phone", in);
  }
  const absl::string_view e164 = out->view();
  // '+', country code and national number: libphonenumber allows up to 17
  // national digits (some valid German numbers exceed E.164's 15 in all).
  FUZZ_CHECK(e164.size() >= 2 && e164.size() <= 21 && e164[0] == '+');
  FUZZ_CHECK(AllOf(e164.substr(1), [](unsigned char c) -> bool { return absl::ascii_isdigit(c); }));
  CheckFixedPoint(NormalizePhone, *out);
}

void FuzzDateOfBirth(absl::string_view in) {
  absl::StatusOr<SecretBytes> out = NormalizeDateOfBirth(in, kNow);
  if (!out.ok()) return CheckError(out.status(), "date_of_birth", in);
  const absl::string_view date = out->view();
  FUZZ_CHECK(date.size() == 10 && date[4] == '-' && date[7] == '-');
  absl::CivilDay day;
  FUZZ_CHECK(absl::ParseCivilTime(date, &day));
  FUZZ_CHECK(day <= absl::ToCivilDay(kNow, absl::UTCTimeZone()));
  CheckFixedPoint([](absl::string_view s) { return NormalizeDateOfBirth(s, kNow); }, *out);
}

void FuzzState(absl::string_view in) {
  absl::StatusOr<SecretBytes> out = NormalizeState(in);
  if (!out.ok()) return CheckError(out.status(), "state", in);
  FUZZ_CHECK(out->size() == 2 &&
             AllOf(out->view(), [](unsigned char c) -> bool { return absl::ascii_isupper(c); }));
  CheckFixedPoint(NormalizeState, *out);
}

void FuzzPostalCode(absl::string_view in) {
  absl::StatusOr<SecretBytes> out = NormalizePostalCode(in);
  if (!out.ok()) return CheckError(out.status(), "postal_code", in);
  const absl::string_view zip = out->view();
  FUZZ_CHECK(zip.size() == 5 || (zip.size() == 10 && zip[5] == '-'));
  FUZZ_CHECK(
      AllOf(zip.substr(0, 5), [](unsigned char c) -> bool { return absl::ascii_isdigit(c); }));
  CheckFixedPoint(NormalizePostalCode, *out);
}

void FuzzText(absl::string_view in, bool multiline) {
  const absl::string_view field = multiline ? "notes" : "first_name";
  const size_t max = multiline ? kMaxFreeTextLength : kMaxNameLength;
  absl::StatusOr<SecretBytes> out = NormalizeText(field, in, max, multiline);
  if (!out.ok()) return CheckError(out.status(), field, in);
  const absl::string_view text = out->view();
  FUZZ_CHECK(text.size() <= max);
  FUZZ_CHECK(text.size() <= in.size());
  FUZZ_CHECK(absl::StripAsciiWhitespace(text) == text);
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u >= 0x20 || (multiline && (c == '\n' || c == '\t')));
    FUZZ_CHECK(u != 0x7f);
  }
  CheckFixedPoint([&](absl::string_view s) { return NormalizeText(field, s, max, multiline); },
                  *out);
}

void FuzzIdempotencyKey(absl::string_view in) {
  absl::Status status = ValidateIdempotencyKey(in);
  const bool expected =
      !in.empty() && in.size() <= kMaxIdempotencyKeyLength && AllOf(in, IsGraphicAscii);
  FUZZ_CHECK(status.ok() == expected);
  if (!status.ok()) CheckError(status, "idempotency_key", in);
}

void FuzzServiceLine(absl::string_view in) {
  absl::Status status = ValidateServiceLine("service_line", in);
  const bool expected =
      !in.empty() && in.size() <= kMaxServiceLineLength && AllOf(in, IsServiceLineChar);
  FUZZ_CHECK(status.ok() == expected);
  if (!status.ok()) CheckError(status, "service_line", in);
}

bool SameAttribution(const Attribution& a, const Attribution& b) {
  return a.source == b.source && a.campaign == b.campaign && a.utm_source == b.utm_source &&
         a.utm_medium == b.utm_medium && a.utm_campaign == b.utm_campaign &&
         a.utm_term == b.utm_term && a.utm_content == b.utm_content &&
         a.landing_page == b.landing_page && a.service_line == b.service_line;
}

// Attribution: source byte, then the text fields as libFuzzer random-length strings.
void FuzzAttribution(absl::string_view in) {
  FuzzedDataProvider provider(reinterpret_cast<const uint8_t*>(in.data()), in.size());
  Attribution a;
  a.source = static_cast<SourceChannel>(provider.ConsumeIntegralInRange<int>(-1, 8));
  for (std::string* s : {&a.service_line, &a.landing_page, &a.campaign, &a.utm_source,
                         &a.utm_medium, &a.utm_campaign, &a.utm_term, &a.utm_content}) {
    *s = provider.ConsumeRandomLengthString(3000);
  }
  Attribution original = a;
  absl::Status status = NormalizeAttribution(a);
  if (!status.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(status));
    FUZZ_CHECK(SameAttribution(a, original));  // unchanged on error
    return;
  }
  FUZZ_CHECK(ValidateServiceLine("service_line", a.service_line).ok());
  FUZZ_CHECK(!absl::StrContains(a.landing_page, "?") && !absl::StrContains(a.landing_page, "#"));
  FUZZ_CHECK(a.landing_page.empty() || absl::StartsWith(a.landing_page, "http://") ||
             absl::StartsWith(a.landing_page, "https://"));
  Attribution again = a;
  FUZZ_CHECK(NormalizeAttribution(again).ok());
  FUZZ_CHECK(SameAttribution(again, a));
}

// A whole lead's PII: each field as a libFuzzer random-length string.
void FuzzLeadPii(absl::string_view in) {
  FuzzedDataProvider provider(reinterpret_cast<const uint8_t*>(in.data()), in.size());
  LeadPii pii;
  for (PiiField field : kAllPiiFields) {
    pii.Set(field, SecretBytes::CopyFrom(provider.ConsumeRandomLengthString(4100)));
  }
  std::array<std::string, kPiiFieldCount> before;
  for (PiiField field : kAllPiiFields) {
    before[static_cast<size_t>(field) - 1] = std::string(pii.Get(field).view());
  }
  absl::Status status = NormalizeLeadPii(pii, kNow);
  if (!status.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(status) || absl::IsInternal(status));
    for (PiiField field : kAllPiiFields) {  // unchanged on error
      FUZZ_CHECK(pii.Get(field).view() == before[static_cast<size_t>(field) - 1]);
    }
    return;
  }
  FUZZ_CHECK(pii.Has(PiiField::kEmail) || pii.Has(PiiField::kPhone));
  LeadPii again;
  for (PiiField field : kAllPiiFields) again.Set(field, pii.Get(field).Clone());
  FUZZ_CHECK(NormalizeLeadPii(again, kNow).ok());
  for (PiiField field : kAllPiiFields) FUZZ_CHECK(again.Get(field) == pii.Get(field));
}

}  // namespace
}  // namespace leadvault::vault

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace leadvault::vault;  // NOLINT: one dispatch table
  if (size == 0) return 0;
  const absl::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  static constexpr absl::string_view kModes = "epdsztmilaL";
  size_t mode = kModes.find(static_cast<char>(data[0]));
  if (mode == absl::string_view::npos) mode = data[0] % kModes.size();
  switch (kModes[mode]) {
    case 'e':
      FuzzEmail(in);
      break;
    case 'p':
      FuzzPhone(in);
      break;
    case 'd':
      FuzzDateOfBirth(in);
      break;
    case 's':
      FuzzState(in);
      break;
    case 'z':
      FuzzPostalCode(in);
      break;
    case 't':
      FuzzText(in, /*multiline=*/false);
      break;
    case 'm':
      FuzzText(in, /*multiline=*/true);
      break;
    case 'i':
      FuzzIdempotencyKey(in);
      break;
    case 'l':
      FuzzServiceLine(in);
      break;
    case 'a':
      FuzzAttribution(in);
      break;
    case 'L':
      FuzzLeadPii(in);
      break;
  }
  return 0;
}
