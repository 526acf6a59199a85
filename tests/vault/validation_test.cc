#include "vault/validation.h"

#include <phonenumbers/logger.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "keys/secret_bytes.h"
#include "keys/status_macros.h"
#include "vault/lead.h"

namespace leadvault::vault {
namespace {

using ::leadvault::keys::SecretBytes;

// A fixed "now": tests never read the wall clock.
const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 11, 29, 12, 0, 0), absl::UTCTimeZone());

// Shortest run of input bytes that may not appear in an error message. Runs this
// long are never accidental overlaps with the fixed rule texts used below.
constexpr size_t kEchoWindow = 6;

std::string Printable(absl::string_view s) { return absl::CHexEscape(s); }

// A rejection must be INVALID_ARGUMENT, name the field first, and echo neither
// the input (raw or trimmed) nor any run of kEchoWindow of its bytes.
void ExpectRejectedWithoutEcho(const absl::Status& status, absl::string_view input,
                               absl::string_view field) {
  SCOPED_TRACE(absl::StrCat("input \"", Printable(input), "\""));
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  const absl::string_view message = status.message();
  EXPECT_TRUE(absl::StartsWith(message, absl::StrCat(field, ": "))) << message;
  const absl::string_view trimmed = absl::StripAsciiWhitespace(input);
  if (input.size() >= 3) {
    EXPECT_FALSE(absl::StrContains(message, input)) << "message echoes the input";
  }
  if (trimmed.size() >= 3) {
    EXPECT_FALSE(absl::StrContains(message, trimmed)) << "message echoes the input";
  }
  for (size_t i = 0; i + kEchoWindow <= trimmed.size(); ++i) {
    EXPECT_FALSE(absl::StrContains(message, trimmed.substr(i, kEchoWindow)))
        << "message echoes part of the input at offset " << i;
  }
}

void ExpectRejectedWithoutEcho(const absl::Status& status, absl::string_view input,
                               absl::string_view field, absl::string_view rule) {
  ExpectRejectedWithoutEcho(status, input, field);
  EXPECT_EQ(status.message(), absl::StrCat(field, ": ", rule))
      << "input \"" << Printable(input) << "\"";
}

void ExpectNormalized(const absl::StatusOr<SecretBytes>& got, absl::string_view input,
                      absl::string_view want) {
  ASSERT_TRUE(got.ok()) << "input \"" << Printable(input) << "\": " << got.status();
  EXPECT_EQ(got->view(), want) << "input \"" << Printable(input) << "\"";
}

struct AcceptCase {
  std::string input;
  std::string want;
};
struct RejectCase {
  std::string input;
  std::string rule;  // The message after "<field>: ".
};

// ---- Email ----------------------------------------------------------------

TEST(NormalizeEmailTest, Accepts) {
  const std::string local64(64, 'l');
  // 64 + 1 + 189 = 254 bytes, the maximum.
  const std::string domain189 =
      std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(57, 'c') + ".com";
  const std::vector<AcceptCase> cases = {
      {"alice@example.com", "alice@example.com"},
      {"  alice@example.com \r\n", "alice@example.com"},
      {"Alice.Smith@EXAMPLE.COM", "Alice.Smith@example.com"},
      {"A+Tag@Sub.Example.Co.UK", "A+Tag@sub.example.co.uk"},
      {"o'brien@example.org", "o'brien@example.org"},
      {"x!#$%&'*+/=?^_`{|}~-@example.com", "x!#$%&'*+/=?^_`{|}~-@example.com"},
      {"a@b-c.io", "a@b-c.io"},
      {"a.b.c@x1.example.museum", "a.b.c@x1.example.museum"},
      {"user@xn--bcher-kva.de", "user@xn--bcher-kva.de"},
      {local64 + "@example.com", local64 + "@example.com"},
      {local64 + "@" + domain189, local64 + "@" + domain189},
      {"a@" + std::string(63, 'd') + ".com", "a@" + std::string(63, 'd') + ".com"},
  };
  for (const AcceptCase& c : cases) ExpectNormalized(NormalizeEmail(c.input), c.input, c.want);
}

TEST(NormalizeEmailTest, RejectsWithoutEcho) {
  const std::string kInvalid = "must be a valid address";
  const std::string domain189 =
      std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(57, 'c') + ".com";
  const std::vector<RejectCase> cases = {
      {"", kInvalid},
      {"   ", kInvalid},
      {"a@b", kInvalid},
      {"a..b@x.com", kInvalid},
      {".a@x.com", kInvalid},
      {"a.@x.com", kInvalid},
      {"a@-x.com", kInvalid},
      {"a@x-.com", kInvalid},
      {"a@x.c0m", kInvalid},
      {"a@x.c", kInvalid},
      {"a@192.168.0.1", kInvalid},
      {std::string(65, 'l') + "@example.com", kInvalid},
      {"alice@@example.com", kInvalid},
      {"alice@ex@ample.com", kInvalid},
      {"alice.example.com", kInvalid},
      {"@example.com", kInvalid},
      {"alice@", kInvalid},
      {"\"alice\"@example.com", kInvalid},
      {"alice smith@example.com", kInvalid},
      {"alice@exa mple.com", kInvalid},
      {"alice@exa_mple.com", kInvalid},
      {"alice@example..com", kInvalid},
      {"alice@.example.com", kInvalid},
      {"alice@example.com.", kInvalid},
      {"alice@[192.168.0.1]", kInvalid},
      {"alice(comment)@example.com", kInvalid},
      {"alice@" + std::string(64, 'd') + ".com", kInvalid},
      {"j\xC3\xB6hn@example.com", kInvalid},        // Unicode local part.
      {"john@ex\xC3\xA4mple.com", kInvalid},        // Unicode domain.
      {"john@example.\xD1\x80\xD1\x84", kInvalid},  // Cyrillic TLD.
      {"alice\n@example.com", "contains control characters"},
      {std::string("alice@example.com\0", 18), "contains control characters"},
      {"alice\xE2\x80\xAE@example.com", "contains control characters"},
      {"\xC0\xAF"
       "alice@example.com",
       "must be valid UTF-8"},
      {std::string(64, 'l') + "@" + domain189 + "x", "must be at most 254 bytes"},
      {std::string(65, 'l') + "@" + domain189, "must be at most 254 bytes"},
  };
  for (const RejectCase& c : cases) {
    ExpectRejectedWithoutEcho(NormalizeEmail(c.input).status(), c.input, "email", c.rule);
  }
}

TEST(EmailIndexFormTest, LowerCasesEverything) {
  absl::StatusOr<SecretBytes> email = NormalizeEmail("Alice.Smith+X@Example.COM");
  ASSERT_TRUE(email.ok()) << email.status();
  EXPECT_EQ(email->view(), "Alice.Smith+X@example.com");
  const SecretBytes index = EmailIndexForm(*email);
  EXPECT_EQ(index.view(), "alice.smith+x@example.com");
  EXPECT_EQ(email->view(), "Alice.Smith+X@example.com") << "input must not be modified";
  EXPECT_TRUE(EmailIndexForm(SecretBytes()).empty());
}

// ---- Phone ----------------------------------------------------------------

TEST(NormalizePhoneTest, Accepts) {
  const std::vector<AcceptCase> cases = {
      {"+1 650-253-0000", "+16502530000"},      {"650 253 0000", "+16502530000"},
      {"(650) 253-0000", "+16502530000"},       {"650.253.0000", "+16502530000"},
      {"1-650-253-0000", "+16502530000"},       {"  6502530000 \t", "+16502530000"},
      {"(617) 253-1000", "+16172531000"},       {"+44 20 7031 3000", "+442070313000"},
      {"011 44 20 7031 3000", "+442070313000"}, {"+49 30 901820", "+4930901820"},
  };
  for (const AcceptCase& c : cases) ExpectNormalized(NormalizePhone(c.input), c.input, c.want);
}

TEST(NormalizePhoneTest, RejectsWithoutEcho) {
  const std::string kInvalid = "not a valid number for its region";
  const std::string kChars = "may contain only digits, spaces and + - . ( )";
  const std::vector<RejectCase> cases = {
      {"", kInvalid},
      {"123", kInvalid},
      {"+1 000 000 0000", kInvalid},
      {"555-555", kInvalid},
      {"+1 650 253 00000", kInvalid},
      {"+999 1234567", kInvalid},
      {"+", kInvalid},
      {"++1", kInvalid},
      {"()-.", kInvalid},
      {"650-253-0000 x123", kChars},
      {"650-253-0000 ext 5", kChars},
      {"650-253-0000;ext=5", kChars},
      {"650*253*0000", kChars},
      {"tel:6502530000", kChars},
      {"1-800-FLOWERS", kChars},
      {"\xEF\xBC\x8B"
       "1 650 253 0000",
       kChars},  // Full-width plus.
      {"650/253/0000", kChars},
      {"650\n253\n0000", "contains control characters"},
      {"650\xFF"
       "2530000",
       "must be valid UTF-8"},
      {"+1 650 253 0000 0000 0000 0000 000", "must be at most 32 bytes"},
  };
  for (const RejectCase& c : cases) {
    ExpectRejectedWithoutEcho(NormalizePhone(c.input).status(), c.input, "phone", c.rule);
  }
}

// libphonenumber's parser messages can quote the input. Whatever logger is
// installed once NormalizePhone has run, raised to maximum verbosity, must write
// nothing: only a silent logger passes.
TEST(NormalizePhoneTest, LibraryLogsNothing) {
  ASSERT_TRUE(NormalizePhone("+1 650 253 0000").ok());  // Installs the library's logger.
  i18n::phonenumbers::Logger* logger = i18n::phonenumbers::Logger::mutable_logger_impl();
  ASSERT_NE(logger, nullptr);
  const int saved_level = logger->level();
  logger->set_verbosity_level(10);
  const std::vector<std::string> inputs = {
      "+1 000 000 0000", "++1", "+999 1234567", "123", "+1 650 253 00000", "+44 20 7031 3000"};
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  for (const std::string& input : inputs) {
    IgnoreError(NormalizePhone(input).status());  // Only the logging side effect matters.
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  const std::string out = ::testing::internal::GetCapturedStdout();
  logger->set_level(saved_level);
  EXPECT_EQ(err, "");
  EXPECT_EQ(out, "");
}

// ---- Date of birth --------------------------------------------------------

TEST(NormalizeDateOfBirthTest, Accepts) {
  const std::vector<AcceptCase> cases = {
      {"1980-05-17", "1980-05-17"}, {" 1980-05-17\n", "1980-05-17"},
      {"05/17/1980", "1980-05-17"}, {"2024-02-29", "2024-02-29"},
      {"02/29/2024", "2024-02-29"}, {"2000-02-29", "2000-02-29"},  // Divisible by 400: leap.
      {"2026-11-29", "2026-11-29"},                                // Born today: age 0.
      {"1906-11-29", "1906-11-29"},                                // Exactly 120 today.
      {"1905-11-30", "1905-11-30"},                                // 120 until tomorrow.
      {"1999-12-31", "1999-12-31"}, {"01/01/2000", "2000-01-01"},
  };
  for (const AcceptCase& c : cases) {
    ExpectNormalized(NormalizeDateOfBirth(c.input, kNow), c.input, c.want);
  }
}

TEST(NormalizeDateOfBirthTest, RejectsWithoutEcho) {
  const std::string kFormat = "must be YYYY-MM-DD or MM/DD/YYYY";
  const std::string kReal = "must be a real date";
  const std::string kFuture = "must not be in the future";
  const std::string kAge = "implausible age";
  const std::vector<RejectCase> cases = {
      {"2026-02-29", kReal},
      {"2023-02-29", kReal},
      {"1900-02-29", kReal},  // Divisible by 100, not 400: not leap.
      {"02/29/2023", kReal},
      {"2000-02-30", kReal},
      {"1980-13-01", kReal},
      {"1980-00-10", kReal},
      {"1980-04-31", kReal},
      {"1980-01-00", kReal},
      {"17/05/1980", kReal},  // Day-first is not a US date.
      {"2026-11-30", kFuture},
      {"2027-01-01", kFuture},
      {"12/01/2026", kFuture},
      {"1905-11-29", kAge},  // 121 today.
      {"1900-01-01", kAge},
      {"0000-01-01", kAge},
      {"", kFormat},
      {"1980-5-17", kFormat},
      {"1980/05/17", kFormat},
      {"5/17/1980", kFormat},
      {"May 17, 1980", kFormat},
      {"19800517", kFormat},
      {"1980-05-17T00:00:00Z", kFormat},
      {"+980-05-17", kFormat},
      {"1980-0a-17", kFormat},
      {"\xEF\xBC\x91"
       "980-05-17",
       kFormat},  // Full-width digit.
      {"1980-05\n-17", "contains control characters"},
      {"1980-05-1\xC0\xAF", "must be valid UTF-8"},
      {std::string(100, '1'), "must be at most 64 bytes"},
  };
  for (const RejectCase& c : cases) {
    ExpectRejectedWithoutEcho(NormalizeDateOfBirth(c.input, kNow).status(), c.input,
                              "date_of_birth", c.rule);
  }
}

TEST(NormalizeDateOfBirthTest, UsesTheUtcDateOfNow) {
  const absl::Time just_after_midnight =
      absl::FromCivil(absl::CivilSecond(2026, 11, 30, 0, 0, 1), absl::UTCTimeZone());
  const absl::Time just_before_midnight =
      absl::FromCivil(absl::CivilSecond(2026, 11, 29, 23, 59, 59), absl::UTCTimeZone());
  EXPECT_TRUE(NormalizeDateOfBirth("2026-11-30", just_after_midnight).ok());
  ExpectRejectedWithoutEcho(NormalizeDateOfBirth("2026-11-30", just_before_midnight).status(),
                            "2026-11-30", "date_of_birth", "must not be in the future");
  // Age turns 121 at the UTC day boundary.
  EXPECT_TRUE(NormalizeDateOfBirth("1905-11-30", just_before_midnight).ok());
  ExpectRejectedWithoutEcho(NormalizeDateOfBirth("1905-11-30", just_after_midnight).status(),
                            "1905-11-30", "date_of_birth", "implausible age");
}

// ---- State and ZIP --------------------------------------------------------

TEST(NormalizeStateTest, Accepts) {
  const std::vector<AcceptCase> cases = {
      {"ca", "CA"}, {"Ny", "NY"}, {" tx ", "TX"}, {"WY", "WY"}, {"dc", "DC"},
      {"pr", "PR"}, {"GU", "GU"}, {"vi", "VI"},   {"as", "AS"}, {"mp", "MP"},
      {"aa", "AA"}, {"ae", "AE"}, {"ap", "AP"},   {"hi", "HI"}, {"ak", "AK"},
  };
  for (const AcceptCase& c : cases) ExpectNormalized(NormalizeState(c.input), c.input, c.want);
}

TEST(NormalizeStateTest, RejectsWithoutEcho) {
  const std::string kRule = "must be a US state, territory or military code";
  for (const std::string& input :
       std::vector<std::string>{"", "C", "CAL", "XX", "ZZ", "C1", "California", "UM", "ON",
                                "C\xC3\x80", "c a", "Mass."}) {
    ExpectRejectedWithoutEcho(NormalizeState(input).status(), input, "state", kRule);
  }
}

TEST(NormalizeStateTest, AcceptsExactlyFiftySevenCodesPlusMilitary) {
  int accepted = 0;
  for (char a = 'A'; a <= 'Z'; ++a) {
    for (char b = 'A'; b <= 'Z'; ++b) {
      const char code[2] = {a, b};
      if (NormalizeState(absl::string_view(code, 2)).ok()) ++accepted;
    }
  }
  EXPECT_EQ(accepted, 50 + 1 + 5 + 3);
}

TEST(NormalizePostalCodeTest, Accepts) {
  const std::vector<AcceptCase> cases = {
      {"02139", "02139"},   {"02139-4307", "02139-4307"}, {"021394307", "02139-4307"},
      {" 90210 ", "90210"}, {"00501", "00501"},           {"12345\n", "12345"},
  };
  for (const AcceptCase& c : cases) {
    ExpectNormalized(NormalizePostalCode(c.input), c.input, c.want);
  }
}

TEST(NormalizePostalCodeTest, RejectsWithoutEcho) {
  const std::string kRule = "must be a US ZIP or ZIP+4";
  for (const std::string& input :
       std::vector<std::string>{"", "2139", "021390", "02139-43", "02139 4307", "O2139",
                                "02139-430a", "0213-94307", "K1A 0B6", "02139-", "02139--4307",
                                "\xEF\xBC\x90"
                                "2139",
                                "02139\x01"}) {
    ExpectRejectedWithoutEcho(NormalizePostalCode(input).status(), input, "postal_code", kRule);
  }
}

// ---- Text -----------------------------------------------------------------

TEST(NormalizeTextTest, Accepts) {
  const std::vector<AcceptCase> cases = {
      {"Jos\xC3\xA9 N\xC3\xBA\xC3\xB1"
       "ez",
       "Jos\xC3\xA9 N\xC3\xBA\xC3\xB1"
       "ez"},
      {"\xE6\x9D\x8E\xE5\xB0\x8F\xE9\xBE\x99", "\xE6\x9D\x8E\xE5\xB0\x8F\xE9\xBE\x99"},
      {"O'Brien-Smith", "O'Brien-Smith"},
      {"smile \xF0\x9F\x99\x82", "smile \xF0\x9F\x99\x82"},  // 4-byte sequence.
      {"\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"},              // U+10FFFF.
      {"a\xC2\xA0"
       "b",
       "a\xC2\xA0"
       "b"},  // NBSP is not a control.
      {"a\xE2\x80\x8D"
       "b",
       "a\xE2\x80\x8D"
       "b"},  // ZWJ is allowed.
      {"  padded \t\r\n", "padded"},
      {"", ""},
      {" \t ", ""},
  };
  for (const AcceptCase& c : cases) {
    ExpectNormalized(NormalizeText("first_name", c.input, kMaxNameLength, false), c.input, c.want);
  }
}

TEST(NormalizeTextTest, RejectsBadUtf8AndControlsWithoutEcho) {
  const std::string kUtf8 = "must be valid UTF-8";
  const std::string kControl = "contains control characters";
  const std::vector<RejectCase> cases = {
      {"\xC0\xAF", kUtf8},  // Overlong '/'.
      {"abc\xC1\xBF"
       "def",
       kUtf8},                      // Overlong.
      {"\xE0\x80\xAF", kUtf8},      // 3-byte overlong.
      {"\xF0\x80\x80\xAF", kUtf8},  // 4-byte overlong.
      {"\xED\xA0\x80", kUtf8},      // High surrogate.
      {"abc\xED\xBF\xBF"
       "def",
       kUtf8},                      // Low surrogate.
      {"\xF4\x90\x80\x80", kUtf8},  // Above U+10FFFF.
      {"\xF5\x80\x80\x80", kUtf8},
      {"\xF8\x88\x80\x80\x80", kUtf8},  // 5-byte form.
      {"abc\x80"
       "def",
       kUtf8},                 // Lone continuation.
      {"abc\xE2\x82", kUtf8},  // Truncated.
      {"abc\xC3"
       "def",
       kUtf8},  // Missing continuation.
      {"name\xFF", kUtf8},
      {std::string("ab\0cd", 5), kControl},
      {"ab\x01"
       "cd",
       kControl},
      {"ab\x1B[31mcd", kControl},  // ANSI escape.
      {"ab\rcd", kControl},
      {"ab\x7F"
       "cd",
       kControl},
      {"ab\xC2\x80"
       "cd",
       kControl},  // U+0080.
      {"ab\xC2\x85"
       "cd",
       kControl},  // NEL.
      {"ab\xC2\x9F"
       "cd",
       kControl},  // U+009F.
      {"ab\xE2\x80\xA8"
       "cd",
       kControl},  // U+2028.
      {"ab\xE2\x80\xA9"
       "cd",
       kControl},  // U+2029.
      {"ab\xE2\x80\xAA"
       "cd",
       kControl},  // U+202A.
      {"ab\xE2\x80\xAE"
       "cd",
       kControl},  // U+202E RLO.
      {"ab\xE2\x81\xA6"
       "cd",
       kControl},  // U+2066.
      {"ab\xE2\x81\xA9"
       "cd",
       kControl},                        // U+2069.
      {"line one\nline two", kControl},  // Single line only.
      {"col\tcol", kControl},
  };
  for (const RejectCase& c : cases) {
    ExpectRejectedWithoutEcho(NormalizeText("first_name", c.input, kMaxNameLength, false).status(),
                              c.input, "first_name", c.rule);
  }
}

TEST(NormalizeTextTest, MultilineAllowsNewlineAndTabOnly) {
  ExpectNormalized(NormalizeText("notes", "line one\n\tline two\n", kMaxFreeTextLength, true),
                   "multiline", "line one\n\tline two");
  for (const std::string& input : std::vector<std::string>{"a\rb", "a\vb", "a\fb",
                                                           "a\xE2\x80\xA8"
                                                           "b"}) {
    ExpectRejectedWithoutEcho(NormalizeText("notes", input, kMaxFreeTextLength, true).status(),
                              input, "notes", "contains control characters");
  }
}

// North American numbers take a fast path (digits -> number, no Parse); every
// shape of the same number must normalize alike, and impossible ones still fail.
TEST(NormalizePhoneTest, NorthAmericanShapesAgree) {
  for (const char* input : {"+1 650-253-0000", "16502530000", "1 (650) 253-0000", "(650) 253-0000",
                            "650.253.0000", "6502530000", "+16502530000", "+1 (650) 253 0000"}) {
    ExpectNormalized(NormalizePhone(input), input, "+16502530000");
  }
  for (const char* input : {"(000) 253-0000", "+1 123 456 7890", "1 123 456 7890", "123 456 7890",
                            "+1 650 253 000", "650 253 00000"}) {
    ExpectRejectedWithoutEcho(NormalizePhone(input).status(), input, "phone",
                              "not a valid number for its region");
  }
}

TEST(NormalizeTextTest, MultilineTurnsCrlfIntoLf) {
  ExpectNormalized(NormalizeText("notes", "one\r\ntwo\r\nthree", kMaxFreeTextLength, true), "crlf",
                   "one\ntwo\nthree");
  // A lone CR, or CRLF in a single-line field, is still refused.
  ExpectRejectedWithoutEcho(NormalizeText("notes", "one\rtwo", kMaxFreeTextLength, true).status(),
                            "one\rtwo", "notes", "contains control characters");
  ExpectRejectedWithoutEcho(
      NormalizeText("first_name", "ann\r\nbo", kMaxNameLength, false).status(), "ann\r\nbo",
      "first_name", "contains control characters");
}

TEST(NormalizeTextTest, LengthLimitIsInBytesAfterTrimming) {
  const std::string at_limit(kMaxNameLength, 'n');
  ExpectNormalized(NormalizeText("first_name", at_limit, kMaxNameLength, false), "at limit",
                   at_limit);
  ExpectNormalized(NormalizeText("first_name", "  " + at_limit + "  ", kMaxNameLength, false),
                   "padded at limit", at_limit);
  const std::string over = at_limit + "n";
  ExpectRejectedWithoutEcho(NormalizeText("first_name", over, kMaxNameLength, false).status(), over,
                            "first_name", "must be at most 100 bytes");

  std::string two_byte_at_limit;
  for (size_t i = 0; i < kMaxNameLength / 2; ++i) two_byte_at_limit += "\xC3\xA9";
  EXPECT_TRUE(NormalizeText("first_name", two_byte_at_limit, kMaxNameLength, false).ok());
  const std::string two_byte_over = two_byte_at_limit + "\xC3\xA9";
  ExpectRejectedWithoutEcho(
      NormalizeText("first_name", two_byte_over, kMaxNameLength, false).status(), two_byte_over,
      "first_name", "must be at most 100 bytes");

  const std::string notes_at_limit(kMaxFreeTextLength, 'x');
  EXPECT_TRUE(NormalizeText("notes", notes_at_limit, kMaxFreeTextLength, true).ok());
  ExpectRejectedWithoutEcho(
      NormalizeText("notes", notes_at_limit + "x", kMaxFreeTextLength, true).status(),
      notes_at_limit + "x", "notes", "must be at most 4000 bytes");
}

// ---- NormalizeLeadPii -----------------------------------------------------

void SetText(LeadPii& pii, PiiField field, absl::string_view value) {
  pii.Set(field, SecretBytes::CopyFrom(value));
}

TEST(NormalizeLeadPiiTest, NormalizesEveryField) {
  LeadPii pii;
  SetText(pii, PiiField::kFirstName, "  Ana ");
  SetText(pii, PiiField::kLastName, "Lopez");
  SetText(pii, PiiField::kEmail, " Ana.Lopez@Example.COM ");
  SetText(pii, PiiField::kPhone, "(650) 253-0000");
  SetText(pii, PiiField::kDateOfBirth, "05/17/1980");
  SetText(pii, PiiField::kStreetAddress, "1600 Amphitheatre Pkwy");
  SetText(pii, PiiField::kCity, "Mountain View");
  SetText(pii, PiiField::kState, "ca");
  SetText(pii, PiiField::kPostalCode, "940431351");
  SetText(pii, PiiField::kConditionInterest, "knee pain\n");
  SetText(pii, PiiField::kNotes, "prefers\tmornings\ncall after 5");
  ASSERT_TRUE(NormalizeLeadPii(pii, kNow).ok());
  EXPECT_EQ(pii.Get(PiiField::kFirstName).view(), "Ana");
  EXPECT_EQ(pii.Get(PiiField::kLastName).view(), "Lopez");
  EXPECT_EQ(pii.Get(PiiField::kEmail).view(), "Ana.Lopez@example.com");
  EXPECT_EQ(pii.Get(PiiField::kPhone).view(), "+16502530000");
  EXPECT_EQ(pii.Get(PiiField::kDateOfBirth).view(), "1980-05-17");
  EXPECT_EQ(pii.Get(PiiField::kStreetAddress).view(), "1600 Amphitheatre Pkwy");
  EXPECT_EQ(pii.Get(PiiField::kCity).view(), "Mountain View");
  EXPECT_EQ(pii.Get(PiiField::kState).view(), "CA");
  EXPECT_EQ(pii.Get(PiiField::kPostalCode).view(), "94043-1351");
  EXPECT_EQ(pii.Get(PiiField::kConditionInterest).view(), "knee pain");
  EXPECT_EQ(pii.Get(PiiField::kNotes).view(), "prefers\tmornings\ncall after 5");
}

TEST(NormalizeLeadPiiTest, RequiresEmailOrPhone) {
  LeadPii none;
  SetText(none, PiiField::kFirstName, "Ana");
  ExpectRejectedWithoutEcho(NormalizeLeadPii(none, kNow), "Ana", "email",
                            "email or phone is required");

  LeadPii phone_only;
  SetText(phone_only, PiiField::kPhone, "650 253 0000");
  EXPECT_TRUE(NormalizeLeadPii(phone_only, kNow).ok());
  EXPECT_FALSE(phone_only.Has(PiiField::kEmail));

  LeadPii email_only;
  SetText(email_only, PiiField::kEmail, "ana@example.com");
  EXPECT_TRUE(NormalizeLeadPii(email_only, kNow).ok());
}

TEST(NormalizeLeadPiiTest, WhitespaceOnlyTextBecomesAbsent) {
  LeadPii pii;
  SetText(pii, PiiField::kEmail, "ana@example.com");
  SetText(pii, PiiField::kNotes, " \n\t ");
  ASSERT_TRUE(NormalizeLeadPii(pii, kNow).ok());
  EXPECT_FALSE(pii.Has(PiiField::kNotes));
}

TEST(NormalizeLeadPiiTest, EachFieldIsValidatedAndNamedWithoutEcho) {
  struct Case {
    PiiField field;
    std::string bad;
  };
  const std::vector<Case> cases = {
      {PiiField::kFirstName, "Ana\x1B[2J"},
      {PiiField::kLastName, std::string(kMaxNameLength + 1, 'L')},
      {PiiField::kEmail, "ana.lopez@example"},
      {PiiField::kPhone, "+1 000 000 0000"},
      {PiiField::kDateOfBirth, "2031-01-01"},
      {PiiField::kStreetAddress, "1600 Amphitheatre\nPkwy"},
      {PiiField::kCity, std::string(kMaxCityLength + 1, 'c')},
      {PiiField::kState, "Calif"},
      {PiiField::kPostalCode, "9404-31351"},
      {PiiField::kConditionInterest, "knee\xED\xA0\x80pain"},
      {PiiField::kNotes, "call \xE2\x80\xAEyllanigiro"},
  };
  for (const Case& c : cases) {
    LeadPii pii;
    SetText(pii, PiiField::kEmail, "Ana@Example.com");
    SetText(pii, PiiField::kPhone, "650 253 0000");
    SetText(pii, c.field, c.bad);
    ExpectRejectedWithoutEcho(NormalizeLeadPii(pii, kNow), c.bad, PiiFieldName(c.field));
    // Nothing is normalized when any field fails.
    if (c.field != PiiField::kEmail) {
      EXPECT_EQ(pii.Get(PiiField::kEmail).view(), "Ana@Example.com");
    }
    if (c.field != PiiField::kPhone) {
      EXPECT_EQ(pii.Get(PiiField::kPhone).view(), "650 253 0000");
    }
    EXPECT_EQ(pii.Get(c.field).view(), c.bad);
  }
}

// ---- Attribution ----------------------------------------------------------

Attribution ValidAttribution() {
  Attribution a;
  a.source = SourceChannel::kWebForm;
  a.campaign = "spring-knee";
  a.utm_source = "google";
  a.utm_medium = "cpc";
  a.utm_campaign = "knee_2026";
  a.utm_term = "knee surgeon";
  a.utm_content = "ad-b";
  a.landing_page = "https://www.example.com/ortho/knee?email=ana%40example.com#form";
  a.service_line = "orthopedics";
  return a;
}

TEST(NormalizeAttributionTest, AcceptsAndNormalizes) {
  Attribution a = ValidAttribution();
  a.campaign = "  spring-knee  ";
  a.service_line = " orthopedics ";
  ASSERT_TRUE(NormalizeAttribution(a).ok());
  EXPECT_EQ(a.source, SourceChannel::kWebForm);
  EXPECT_EQ(a.campaign, "spring-knee");
  EXPECT_EQ(a.utm_term, "knee surgeon");
  EXPECT_EQ(a.landing_page, "https://www.example.com/ortho/knee");
  EXPECT_EQ(a.service_line, "orthopedics");
}

TEST(NormalizeAttributionTest, OptionalFieldsMayBeEmpty) {
  Attribution a;
  a.source = SourceChannel::kPhoneCall;
  a.service_line = "cardiology";
  ASSERT_TRUE(NormalizeAttribution(a).ok());
  EXPECT_EQ(a.landing_page, "");
  EXPECT_EQ(a.campaign, "");
}

TEST(NormalizeAttributionTest, SourceMustBeAKnownChannel) {
  for (int v = 1; v <= 7; ++v) {
    Attribution a = ValidAttribution();
    a.source = static_cast<SourceChannel>(v);
    EXPECT_TRUE(NormalizeAttribution(a).ok()) << v;
  }
  for (int v : {0, 8, -1, 1000}) {
    Attribution a = ValidAttribution();
    a.source = static_cast<SourceChannel>(v);
    const absl::Status status = NormalizeAttribution(a);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << v;
    EXPECT_EQ(status.message(), "source: unknown source channel") << v;
  }
}

TEST(NormalizeAttributionTest, TextFieldsAreCheckedAndNamed) {
  using Member = std::string Attribution::*;
  const std::vector<std::pair<std::string, Member>> fields = {
      {"campaign", &Attribution::campaign},     {"utm_source", &Attribution::utm_source},
      {"utm_medium", &Attribution::utm_medium}, {"utm_campaign", &Attribution::utm_campaign},
      {"utm_term", &Attribution::utm_term},     {"utm_content", &Attribution::utm_content},
  };
  for (const auto& [name, member] : fields) {
    Attribution at_limit = ValidAttribution();
    at_limit.*member = std::string(kMaxAttributionLength, 'u');
    EXPECT_TRUE(NormalizeAttribution(at_limit).ok()) << name;

    const std::vector<RejectCase> cases = {
        {std::string(kMaxAttributionLength + 1, 'u'), "must be at most 200 bytes"},
        {"two\nlines", "contains control characters"},
        {"rlo\xE2\x80\xAEtxt", "contains control characters"},
        {"bad\xC0\xAFutf8", "must be valid UTF-8"},
    };
    for (const RejectCase& c : cases) {
      Attribution a = ValidAttribution();
      a.*member = c.input;
      const Attribution before = a;
      ExpectRejectedWithoutEcho(NormalizeAttribution(a), c.input, name, c.rule);
      EXPECT_EQ(a.*member, c.input) << "attribution must be unchanged on error";
      EXPECT_EQ(a.landing_page, before.landing_page) << "attribution must be unchanged on error";
    }
  }
}

TEST(NormalizeAttributionTest, ServiceLineIsRequiredAndLowerCase) {
  const std::vector<RejectCase> cases = {
      {"", "is required"},
      {"   ", "is required"},
      {"Orthopedics", "must be lower-case [a-z0-9_-]"},
      {"ortho pedics", "must be lower-case [a-z0-9_-]"},
      {"ortho.pedics", "must be lower-case [a-z0-9_-]"},
      {"ortop\xC3\xA9"
       "dia",
       "must be lower-case [a-z0-9_-]"},
      {std::string(kMaxServiceLineLength + 1, 's'), "must be at most 64 bytes"},
  };
  for (const RejectCase& c : cases) {
    Attribution a = ValidAttribution();
    a.service_line = c.input;
    ExpectRejectedWithoutEcho(NormalizeAttribution(a), c.input, "service_line", c.rule);
  }
}

TEST(ValidateServiceLineTest, UsesTheGivenFieldName) {
  for (const std::string& ok :
       std::vector<std::string>{"a", "cardio-vascular_2", "0", std::string(64, 'z')}) {
    EXPECT_TRUE(ValidateServiceLine("filter.service_line", ok).ok()) << ok;
  }
  ExpectRejectedWithoutEcho(ValidateServiceLine("filter.service_line", "Cardiology"), "Cardiology",
                            "filter.service_line", "must be lower-case [a-z0-9_-]");
  ExpectRejectedWithoutEcho(ValidateServiceLine("filter.service_line", ""), "",
                            "filter.service_line", "is required");
}

TEST(NormalizeAttributionTest, LandingPageKeepsSchemeHostPortAndPath) {
  const std::vector<AcceptCase> cases = {
      {"http://example.com", "http://example.com"},
      {"HTTPS://Example.COM/Path/Q", "https://example.com/Path/Q"},
      {"https://example.com/a?x=1", "https://example.com/a"},
      {"https://example.com/a#frag", "https://example.com/a"},
      {"https://example.com?email=ana@example.com", "https://example.com"},
      {"https://example.com#/route?q", "https://example.com"},
      {"https://user:pass@example.com/a", "https://example.com/a"},
      {"https://ana.lopez@example.com:8443/x?y", "https://example.com:8443/x"},
      {"https://a@b@example.com/", "https://example.com/"},
      {"https://example.com:8080", "https://example.com:8080"},
      {"https://[2001:db8::1]:8443/p", "https://[2001:db8::1]:8443/p"},
      {"https://[2001:db8::1]/p", "https://[2001:db8::1]/p"},
      {"  https://example.com/  ", "https://example.com/"},
      {"", ""},
  };
  for (const AcceptCase& c : cases) {
    Attribution a = ValidAttribution();
    a.landing_page = c.input;
    const absl::Status status = NormalizeAttribution(a);
    ASSERT_TRUE(status.ok()) << c.input << ": " << status;
    EXPECT_EQ(a.landing_page, c.want) << c.input;
  }
}

TEST(NormalizeAttributionTest, LandingPageRejectsWithoutEcho) {
  const std::string kUrl = "must be an http or https URL";
  const std::string kHost = "must have a host";
  const std::string kPort = "must have a numeric port";
  const std::vector<RejectCase> cases = {
      {"ftp://example.com/", kUrl},
      {"javascript:alert(1)", kUrl},
      {"example.com/path", kUrl},
      {"//example.com/path", kUrl},
      {"http:/example.com", kUrl},
      {"httpx://example.com", kUrl},
      {"https://exa mple.com/", kUrl},
      {"https://[2001:db8::1]x/", kUrl},
      {"https://", kHost},
      {"https:///path", kHost},
      {"https://user@/path", kHost},
      {"https://?q=secret", kHost},
      {"https://:8080/", kHost},
      {"https://[]/", kHost},
      {"https://example.com:80a/", kPort},
      {"https://example.com:/", kPort},
      {"https://example.com:123456/", kPort},
      {"https://ana:se/cret@example.com/", kPort},
      {"https://example.com/\x01", "contains control characters"},
      {"https://example.com/\xC0\xAF", "must be valid UTF-8"},
      {"https://example.com/" + std::string(kMaxLandingPageLength, 'p'),
       "must be at most 2048 bytes"},
  };
  for (const RejectCase& c : cases) {
    Attribution a = ValidAttribution();
    a.landing_page = c.input;
    ExpectRejectedWithoutEcho(NormalizeAttribution(a), c.input, "landing_page", c.rule);
    EXPECT_EQ(a.landing_page, c.input) << "attribution must be unchanged on error";
  }
}

TEST(NormalizeAttributionTest, LandingPageAtLengthLimit) {
  const std::string prefix = "https://example.com/";
  Attribution a = ValidAttribution();
  a.landing_page = prefix + std::string(kMaxLandingPageLength - prefix.size(), 'p');
  ASSERT_TRUE(NormalizeAttribution(a).ok());
  EXPECT_EQ(a.landing_page.size(), kMaxLandingPageLength);
}

// ---- Idempotency key ------------------------------------------------------

TEST(ValidateIdempotencyKeyTest, AcceptsPrintableAscii) {
  std::string all_printable;
  for (char c = 0x21; c <= 0x7E; ++c) all_printable.push_back(c);
  for (const std::string& key :
       std::vector<std::string>{std::string("a"), std::string("req-123_ABC"),
                                std::string(kMaxIdempotencyKeyLength, 'k'), all_printable}) {
    EXPECT_TRUE(ValidateIdempotencyKey(key).ok()) << key;
  }
}

TEST(ValidateIdempotencyKeyTest, RejectsWithoutEcho) {
  const std::string kRule = "must be 1 to 128 printable ASCII characters";
  for (const std::string& key : std::vector<std::string>{
           std::string(""), std::string(kMaxIdempotencyKeyLength + 1, 'k'),
           std::string("has space"), std::string("tab\tkey"), std::string("nl\nkey"),
           std::string("del\x7Fkey"), std::string("caf\xC3\xA9-key"), std::string("nul\0key", 7)}) {
    ExpectRejectedWithoutEcho(ValidateIdempotencyKey(key), key, "idempotency_key", kRule);
  }
}

}  // namespace
}  // namespace leadvault::vault
