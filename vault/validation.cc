#include "vault/validation.h"

#include <phonenumbers/logger.h>
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "keys/secret_bytes.h"
#include "keys/status_macros.h"
#include "vault/lead.h"

namespace leadvault::vault {
namespace {

using ::i18n::phonenumbers::PhoneNumber;
using ::i18n::phonenumbers::PhoneNumberUtil;
using ::leadvault::keys::SecretBytes;

// Every error goes through here so that messages are "<field>: <rule>" and never
// carry the value: callers pass only literals and numeric limits as `rule`.
absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

// Wipes a std::string that held PII when it goes out of scope.
class ScopedWipe {
 public:
  explicit ScopedWipe(std::string& s) : s_(s) {}
  ScopedWipe(const ScopedWipe&) = delete;
  ScopedWipe& operator=(const ScopedWipe&) = delete;
  ~ScopedWipe() { keys::WipeString(s_); }

 private:
  std::string& s_;
};

// Decodes one strictly valid UTF-8 sequence at `s[pos]` into `*cp`. Returns its
// length, or 0 for a malformed, truncated, overlong or surrogate sequence or a
// code point above U+10FFFF.
size_t DecodeUtf8(absl::string_view s, size_t pos, char32_t* cp) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t len;
  char32_t c;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    c = b0 & 0x1F;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    c = b0 & 0x0F;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    c = b0 & 0x07;
    min = 0x10000;
  } else {
    return 0;  // Continuation byte or 0xF8..0xFF as a lead byte.
  }
  if (s.size() - pos < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[pos + k]);
    if ((b & 0xC0) != 0x80) return 0;
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  return len;
}

// C0/C1 controls, DEL, line/paragraph separators and bidi overrides/isolates
// (which can disguise text when displayed). Newline and tab pass when multiline.
bool IsForbiddenCodePoint(char32_t c, bool multiline) {
  if (c == '\n' || c == '\t') return !multiline;
  if (c < 0x20 || c == 0x7F) return true;
  if (c >= 0x80 && c <= 0x9F) return true;
  if (c == 0x2028 || c == 0x2029) return true;
  if (c >= 0x202A && c <= 0x202E) return true;
  if (c >= 0x2066 && c <= 0x2069) return true;
  return false;
}

// The common text rules: trims ASCII whitespace, then requires at most
// `max_length` bytes of valid UTF-8 without forbidden characters. Returns a view
// of `input` (no copy is made).
absl::StatusOr<absl::string_view> CheckText(absl::string_view field, absl::string_view input,
                                            size_t max_length, bool multiline) {
  const absl::string_view text = absl::StripAsciiWhitespace(input);
  if (text.size() > max_length) {
    return Invalid(field, absl::StrCat("must be at most ", max_length, " bytes"));
  }
  bool forbidden = false;
  for (size_t pos = 0; pos < text.size();) {
    char32_t cp = 0;
    const size_t len = DecodeUtf8(text, pos, &cp);
    if (len == 0) return Invalid(field, "must be valid UTF-8");
    // Browsers send text-area line breaks as CRLF; NormalizeText makes them LF.
    const bool crlf = multiline && cp == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n';
    if (!crlf && IsForbiddenCodePoint(cp, multiline)) forbidden = true;
    pos += len;
  }
  // Encoding errors are reported first: they usually mean a broken client.
  if (forbidden) return Invalid(field, "contains control characters");
  return text;
}

bool IsAsciiDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// ---- Email ----------------------------------------------------------------

constexpr size_t kMaxEmailLocalLength = 64;
constexpr size_t kMaxEmailDomainLength = 253;
constexpr size_t kMaxDomainLabelLength = 63;

// RFC 5322 atext.
bool IsAtext(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  return absl::string_view("!#$%&'*+/=?^_`{|}~-").find(c) != absl::string_view::npos;
}

bool IsDotAtom(absl::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = '\0';
  for (char c : s) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!IsAtext(c)) {
      return false;
    }
    prev = c;
  }
  return true;
}

// At least two LDH labels; the last (TLD) alphabetic and at least 2 long.
bool IsValidDomain(absl::string_view domain) {
  if (domain.empty() || domain.size() > kMaxEmailDomainLength) return false;
  size_t labels = 0;
  absl::string_view last;
  size_t start = 0;
  while (true) {
    const size_t dot = domain.find('.', start);
    const absl::string_view label = domain.substr(
        start, dot == absl::string_view::npos ? absl::string_view::npos : dot - start);
    if (label.empty() || label.size() > kMaxDomainLabelLength) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    ++labels;
    last = label;
    if (dot == absl::string_view::npos) break;
    start = dot + 1;
  }
  if (labels < 2 || last.size() < 2) return false;
  for (char c : last) {
    if (!absl::ascii_isalpha(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// ---- Phone ----------------------------------------------------------------

// The libphonenumber singleton, with a silent logger installed exactly once: its
// parser messages can quote the input, and nothing derived from PII may be logged.
// (Some builds already default to silence; this does not depend on it.) The logger
// is process-wide library state; only this function sets it.
const PhoneNumberUtil& PhoneUtil() {
  static PhoneNumberUtil* const util = [] {
    PhoneNumberUtil* u = PhoneNumberUtil::GetInstance();
    u->SetLogger(new i18n::phonenumbers::NullLogger());  // Takes ownership.
    return u;
  }();
  return *util;
}

bool IsPhoneInputChar(char c) {
  return absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == ' ' || c == '+' || c == '-' ||
         c == '.' || c == '(' || c == ')';
}

// ---- Date of birth --------------------------------------------------------

constexpr int kMaxAgeYears = 120;
// Longer input cannot be a date; the format check names the rule.
constexpr size_t kMaxDateInputLength = 64;

bool IsLeapYear(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int64_t year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && IsLeapYear(year)) return 29;
  return kDays[month - 1];
}

int ParseDigits(absl::string_view s) {
  int value = 0;
  for (char c : s) value = value * 10 + (c - '0');
  return value;
}

// Writes `value` as exactly `width` decimal digits at `out`.
void WriteDigits(uint8_t* out, int value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<uint8_t>('0' + value % 10);
    value /= 10;
  }
}

// ---- State ----------------------------------------------------------------

constexpr std::array<absl::string_view, 62> kStateCodes = {
    // The 50 states.
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY",
    // District of Columbia and the inhabited territories.
    "DC", "PR", "GU", "VI", "AS", "MP",
    // Military mail: Armed Forces Americas, Europe, Pacific.
    "AA", "AE", "AP"};

// ---- Landing page ---------------------------------------------------------

constexpr size_t kMaxPortDigits = 5;

absl::StatusOr<std::string> NormalizeLandingPage(absl::string_view url) {
  const absl::Status not_a_url = Invalid("landing_page", "must be an http or https URL");
  if (url.find(' ') != absl::string_view::npos) return not_a_url;
  const size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) return not_a_url;
  const absl::string_view scheme = url.substr(0, scheme_end);
  if (!absl::EqualsIgnoreCase(scheme, "http") && !absl::EqualsIgnoreCase(scheme, "https")) {
    return not_a_url;
  }
  absl::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("?#"));  // Query and fragment often carry PII.
  const size_t path_start = rest.find('/');
  absl::string_view authority = rest.substr(0, path_start);
  const absl::string_view path =
      path_start == absl::string_view::npos ? absl::string_view() : rest.substr(path_start);
  const size_t at = authority.rfind('@');
  if (at != absl::string_view::npos) authority = authority.substr(at + 1);  // Drop userinfo.

  absl::string_view host = authority;
  absl::string_view port;
  size_t colon = absl::string_view::npos;
  if (!authority.empty() && authority.front() == '[') {  // IPv6 literal.
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos || close == 1) {
      return Invalid("landing_page", "must have a host");
    }
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return not_a_url;
      colon = close + 1;
    }
  } else {
    colon = authority.find(':');
  }
  if (colon != absl::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty() || port.size() > kMaxPortDigits || !IsAsciiDigits(port)) {
      return Invalid("landing_page", "must have a numeric port");
    }
  }
  if (host.empty()) return Invalid("landing_page", "must have a host");

  std::string out = absl::StrCat(absl::AsciiStrToLower(scheme), "://", absl::AsciiStrToLower(host),
                                 port.empty() ? "" : ":", port, path);
  return out;
}

// ---- Lead PII -------------------------------------------------------------

absl::StatusOr<SecretBytes> NormalizeField(PiiField field, absl::string_view value,
                                           absl::Time now) {
  switch (field) {
    case PiiField::kFirstName:
    case PiiField::kLastName:
      return NormalizeText(PiiFieldName(field), value, kMaxNameLength, /*multiline=*/false);
    case PiiField::kEmail:
      return NormalizeEmail(value);
    case PiiField::kPhone:
      return NormalizePhone(value);
    case PiiField::kDateOfBirth:
      return NormalizeDateOfBirth(value, now);
    case PiiField::kStreetAddress:
      return NormalizeText(PiiFieldName(field), value, kMaxStreetLength, /*multiline=*/false);
    case PiiField::kCity:
      return NormalizeText(PiiFieldName(field), value, kMaxCityLength, /*multiline=*/false);
    case PiiField::kState:
      return NormalizeState(value);
    case PiiField::kPostalCode:
      return NormalizePostalCode(value);
    case PiiField::kConditionInterest:
    case PiiField::kNotes:
      return NormalizeText(PiiFieldName(field), value, kMaxFreeTextLength, /*multiline=*/true);
  }
  return absl::InternalError("unknown PII field");
}

size_t FieldIndex(PiiField field) { return static_cast<size_t>(field) - 1; }

}  // namespace

absl::StatusOr<SecretBytes> NormalizeText(absl::string_view field_name, absl::string_view input,
                                          size_t max_length, bool multiline) {
  LV_ASSIGN_OR_RETURN(const absl::string_view text,
                      CheckText(field_name, input, max_length, multiline));
  if (!multiline) return SecretBytes::CopyFrom(text);
  // CRLF -> LF, written straight into the secret buffer.
  size_t out_size = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) ++out_size;
  }
  SecretBytes out(out_size);
  size_t o = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out.data()[o++] = static_cast<uint8_t>(text[i]);
  }
  return out;
}

absl::StatusOr<SecretBytes> NormalizeEmail(absl::string_view input) {
  LV_ASSIGN_OR_RETURN(const absl::string_view email,
                      CheckText("email", input, kMaxEmailLength, /*multiline=*/false));
  const absl::Status invalid = Invalid("email", "must be a valid address");
  const size_t at = email.find('@');
  if (at == absl::string_view::npos || email.find('@', at + 1) != absl::string_view::npos) {
    return invalid;
  }
  const absl::string_view local = email.substr(0, at);
  const absl::string_view domain = email.substr(at + 1);
  if (local.size() > kMaxEmailLocalLength || !IsDotAtom(local)) return invalid;
  if (!IsValidDomain(domain)) return invalid;
  SecretBytes out = SecretBytes::CopyFrom(email);
  for (size_t i = at + 1; i < out.size(); ++i) {
    out.data()[i] = static_cast<uint8_t>(absl::ascii_tolower(out.data()[i]));
  }
  return out;
}

SecretBytes EmailIndexForm(const SecretBytes& normalized_email) {
  SecretBytes out = normalized_email.Clone();
  for (size_t i = 0; i < out.size(); ++i) {
    out.data()[i] = static_cast<uint8_t>(absl::ascii_tolower(out.data()[i]));
  }
  return out;
}

absl::StatusOr<SecretBytes> NormalizePhone(absl::string_view input) {
  LV_ASSIGN_OR_RETURN(const absl::string_view phone,
                      CheckText("phone", input, kMaxPhoneInputLength, /*multiline=*/false));
  for (char c : phone) {
    if (!IsPhoneInputChar(c)) {
      return Invalid("phone", "may contain only digits, spaces and + - . ( )");
    }
  }
  const absl::Status invalid = Invalid("phone", "not a valid number for its region");
  if (phone.empty()) return invalid;

  // Fast path for North American numbers, which are most leads: libphonenumber's
  // Parse costs ~14 us of regex work; building the number from its digits and
  // validating it gives the same result for these shapes in half the time.
  std::string digits;
  digits.reserve(kMaxPhoneInputLength);
  ScopedWipe wipe_digits(digits);
  for (char c : phone) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) digits.push_back(c);
  }
  const bool plus_first = phone.front() == '+' && phone.find('+', 1) == absl::string_view::npos;
  const bool no_plus = phone.find('+') == absl::string_view::npos;
  absl::string_view national;
  if (plus_first && digits.size() == 11 && digits[0] == '1') {
    national = absl::string_view(digits).substr(1);
  } else if (no_plus && digits.size() == 11 && digits[0] == '1') {
    national = absl::string_view(digits).substr(1);
  } else if (no_plus && digits.size() == 10) {
    national = digits;
  }
  if (!national.empty()) {
    uint64_t national_number = 0;
    for (char c : national) national_number = national_number * 10 + static_cast<uint64_t>(c - '0');
    PhoneNumber number;
    number.set_country_code(1);
    number.set_national_number(national_number);
    bool valid = false;
    try {
      valid = PhoneUtil().IsValidNumber(number);
    } catch (...) {  // libphonenumber is not ours; nothing it throws may escape.
      number.Clear();
      return absl::InternalError("phone: number parser failed");
    }
    number.Clear();
    if (!valid) return invalid;
    SecretBytes out(2 + national.size());
    out.data()[0] = '+';
    out.data()[1] = '1';
    std::copy(national.begin(), national.end(), out.data() + 2);
    return out;
  }

  std::string raw(phone);
  ScopedWipe wipe_raw(raw);
  std::string e164;
  e164.reserve(kMaxPhoneInputLength);  // No reallocation may leave an unwiped copy.
  ScopedWipe wipe_e164(e164);
  PhoneNumber number;
  try {
    const PhoneNumberUtil& util = PhoneUtil();
    if (util.Parse(raw, "US", &number) != PhoneNumberUtil::NO_PARSING_ERROR ||
        !util.IsValidNumber(number)) {
      number.Clear();
      return invalid;
    }
    util.Format(number, PhoneNumberUtil::E164, &e164);
  } catch (...) {  // libphonenumber is not ours; nothing it throws may escape.
    number.Clear();
    return absl::InternalError("phone: number parser failed");
  }
  number.Clear();
  return SecretBytes::CopyFrom(e164);
}

absl::StatusOr<SecretBytes> NormalizeDateOfBirth(absl::string_view input, absl::Time now) {
  LV_ASSIGN_OR_RETURN(const absl::string_view date,
                      CheckText("date_of_birth", input, kMaxDateInputLength, /*multiline=*/false));
  absl::string_view year_text;
  absl::string_view month_text;
  absl::string_view day_text;
  if (date.size() == 10 && date[4] == '-' && date[7] == '-') {  // YYYY-MM-DD
    year_text = date.substr(0, 4);
    month_text = date.substr(5, 2);
    day_text = date.substr(8, 2);
  } else if (date.size() == 10 && date[2] == '/' && date[5] == '/') {  // MM/DD/YYYY
    month_text = date.substr(0, 2);
    day_text = date.substr(3, 2);
    year_text = date.substr(6, 4);
  } else {
    return Invalid("date_of_birth", "must be YYYY-MM-DD or MM/DD/YYYY");
  }
  if (!IsAsciiDigits(year_text) || !IsAsciiDigits(month_text) || !IsAsciiDigits(day_text)) {
    return Invalid("date_of_birth", "must be YYYY-MM-DD or MM/DD/YYYY");
  }
  const int year = ParseDigits(year_text);
  const int month = ParseDigits(month_text);
  const int day = ParseDigits(day_text);
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) {
    return Invalid("date_of_birth", "must be a real date");
  }
  const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  const auto before = [](int64_t y1, int m1, int d1, int64_t y2, int m2, int d2) {
    if (y1 != y2) return y1 < y2;
    if (m1 != m2) return m1 < m2;
    return d1 < d2;
  };
  if (before(today.year(), today.month(), today.day(), year, month, day)) {
    return Invalid("date_of_birth", "must not be in the future");
  }
  int64_t age = today.year() - year;
  if (before(0, today.month(), today.day(), 0, month, day)) --age;  // Birthday not yet reached.
  if (age > kMaxAgeYears) return Invalid("date_of_birth", "implausible age");

  SecretBytes out(10);
  WriteDigits(out.data(), year, 4);
  out.data()[4] = '-';
  WriteDigits(out.data() + 5, month, 2);
  out.data()[7] = '-';
  WriteDigits(out.data() + 8, day, 2);
  return out;
}

absl::StatusOr<SecretBytes> NormalizeState(absl::string_view input) {
  const absl::string_view state = absl::StripAsciiWhitespace(input);
  const absl::Status invalid = Invalid("state", "must be a US state, territory or military code");
  if (state.size() != 2) return invalid;
  const char upper[2] = {absl::ascii_toupper(static_cast<unsigned char>(state[0])),
                         absl::ascii_toupper(static_cast<unsigned char>(state[1]))};
  const absl::string_view code(upper, 2);
  for (absl::string_view known : kStateCodes) {
    if (known == code) return SecretBytes::CopyFrom(known);
  }
  return invalid;
}

absl::StatusOr<SecretBytes> NormalizePostalCode(absl::string_view input) {
  const absl::string_view zip = absl::StripAsciiWhitespace(input);
  absl::string_view first;
  absl::string_view plus4;
  if (zip.size() == 5) {
    first = zip;
  } else if (zip.size() == 10 && zip[5] == '-') {
    first = zip.substr(0, 5);
    plus4 = zip.substr(6);
  } else if (zip.size() == 9) {
    first = zip.substr(0, 5);
    plus4 = zip.substr(5);
  } else {
    return Invalid("postal_code", "must be a US ZIP or ZIP+4");
  }
  if (!IsAsciiDigits(first) || !IsAsciiDigits(plus4)) {
    return Invalid("postal_code", "must be a US ZIP or ZIP+4");
  }
  SecretBytes out(plus4.empty() ? 5 : 10);
  std::copy(first.begin(), first.end(), out.data());
  if (!plus4.empty()) {
    out.data()[5] = '-';
    std::copy(plus4.begin(), plus4.end(), out.data() + 6);
  }
  return out;
}

absl::Status NormalizeLeadPii(LeadPii& pii, absl::Time now) {
  if (!pii.Has(PiiField::kEmail) && !pii.Has(PiiField::kPhone)) {
    return Invalid("email", "email or phone is required");
  }
  return NormalizePiiFields(pii, now);
}

absl::Status NormalizePiiFields(LeadPii& pii, absl::Time now) {
  // Everything is normalized first so that `pii` is untouched on error.
  std::array<SecretBytes, kPiiFieldCount> normalized;
  std::array<bool, kPiiFieldCount> present{};
  for (PiiField field : kAllPiiFields) {
    if (!pii.Has(field)) continue;
    LV_ASSIGN_OR_RETURN(normalized[FieldIndex(field)],
                        NormalizeField(field, pii.Get(field).view(), now));
    present[FieldIndex(field)] = true;
  }
  for (PiiField field : kAllPiiFields) {
    if (present[FieldIndex(field)]) pii.Set(field, std::move(normalized[FieldIndex(field)]));
  }
  return absl::OkStatus();
}

absl::Status NormalizeAttribution(Attribution& attribution) {
  const int source = static_cast<int>(attribution.source);
  if (source < static_cast<int>(SourceChannel::kWebForm) ||
      source > static_cast<int>(SourceChannel::kOther)) {
    return Invalid("source", "unknown source channel");
  }
  Attribution out = attribution;  // Committed only when every field passes.
  const std::array<std::pair<absl::string_view, std::string*>, 6> texts = {{
      {"campaign", &out.campaign},
      {"utm_source", &out.utm_source},
      {"utm_medium", &out.utm_medium},
      {"utm_campaign", &out.utm_campaign},
      {"utm_term", &out.utm_term},
      {"utm_content", &out.utm_content},
  }};
  for (const auto& [name, value] : texts) {
    LV_ASSIGN_OR_RETURN(const absl::string_view text,
                        CheckText(name, *value, kMaxAttributionLength, /*multiline=*/false));
    *value = std::string(text);
  }

  const absl::string_view service_line = absl::StripAsciiWhitespace(out.service_line);
  LV_RETURN_IF_ERROR(ValidateServiceLine("service_line", service_line));
  out.service_line = std::string(service_line);

  LV_ASSIGN_OR_RETURN(const absl::string_view landing_page,
                      CheckText("landing_page", out.landing_page, kMaxLandingPageLength,
                                /*multiline=*/false));
  if (landing_page.empty()) {
    out.landing_page.clear();
  } else {
    LV_ASSIGN_OR_RETURN(out.landing_page, NormalizeLandingPage(landing_page));
  }
  attribution = std::move(out);
  return absl::OkStatus();
}

absl::Status ValidateIdempotencyKey(absl::string_view key) {
  if (key.empty() || key.size() > kMaxIdempotencyKeyLength) {
    return Invalid("idempotency_key", "must be 1 to 128 printable ASCII characters");
  }
  for (char c : key) {
    if (c < 0x21 || c > 0x7E) {
      return Invalid("idempotency_key", "must be 1 to 128 printable ASCII characters");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateServiceLine(absl::string_view field, absl::string_view service_line) {
  if (service_line.empty()) return Invalid(field, "is required");
  if (service_line.size() > kMaxServiceLineLength) {
    return Invalid(field, absl::StrCat("must be at most ", kMaxServiceLineLength, " bytes"));
  }
  for (char c : service_line) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return Invalid(field, "must be lower-case [a-z0-9_-]");
  }
  return absl::OkStatus();
}

}  // namespace leadvault::vault
