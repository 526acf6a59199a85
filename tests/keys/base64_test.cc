#include "keys/base64.h"

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace leadvault::keys {
namespace {

bool Decodes(absl::string_view in) {
  std::string out = "stale";
  const bool ok = Base64Decode(in, &out).ok();
  if (!ok) {
    EXPECT_TRUE(out.empty()) << "output left behind for \"" << in << "\"";
  }
  return ok;
}

// Deterministic bytes: every length from 0 to 200, every byte value.
std::string Bytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 167 + n * 13) & 0xFF);
  return s;
}

TEST(Base64DecodeTest, RoundTripsEveryLength) {
  for (size_t n = 0; n <= 200; ++n) {
    const std::string bytes = Bytes(n);
    std::string out = "stale";
    ASSERT_TRUE(Base64Decode(absl::Base64Escape(bytes), &out).ok()) << n;
    EXPECT_EQ(out, bytes) << n;
  }
}

TEST(Base64DecodeTest, RfcVectors) {
  // RFC 4648 section 10.
  const struct {
    absl::string_view text, bytes;
  } vectors[] = {{"", ""},
                 {"Zg==", "f"},
                 {"Zm8=", "fo"},
                 {"Zm9v", "foo"},
                 {"Zm9vYg==", "foob"},
                 {"Zm9vYmE=", "fooba"},
                 {"Zm9vYmFy", "foobar"}};
  for (const auto& v : vectors) {
    std::string out;
    ASSERT_TRUE(Base64Decode(v.text, &out).ok()) << v.text;
    EXPECT_EQ(out, v.bytes);
  }
}

TEST(Base64DecodeTest, PaddingMustBeExact) {
  EXPECT_FALSE(Decodes("Zg"));     // missing
  EXPECT_FALSE(Decodes("Zg="));    // short
  EXPECT_FALSE(Decodes("Zg==="));  // extra
  EXPECT_FALSE(Decodes("Zm8"));    // missing
  EXPECT_FALSE(Decodes("Zm8=="));  // extra
  EXPECT_FALSE(Decodes("Zm9v="));  // none needed
  EXPECT_FALSE(Decodes("Zm9v===="));
  EXPECT_FALSE(Decodes("="));
  EXPECT_FALSE(Decodes("=="));
  EXPECT_FALSE(Decodes("===="));
  EXPECT_FALSE(Decodes("Z==="));      // one character is no whole byte
  EXPECT_FALSE(Decodes("Zg==Zg=="));  // padding in the middle
  EXPECT_FALSE(Decodes("Z=g="));
}

TEST(Base64DecodeTest, TrailingGarbageIsRefused) {
  for (absl::string_view tail : {"!", "Z", "Zg", "\n", "\r\n", " ", "=", "-", "_"}) {
    EXPECT_FALSE(Decodes(absl::StrCat("Zm9vYmFy", tail))) << tail;
    EXPECT_FALSE(Decodes(absl::StrCat("Zg==", tail))) << tail;
  }
  EXPECT_FALSE(Decodes(absl::string_view("Zm9v\0Zm9v", 9)));
}

TEST(Base64DecodeTest, WhitespaceIsNeverSkipped) {
  for (absl::string_view text :
       {" Zm9v", "Zm9v ", "Zm 9v", "Zm9v\n", "Zm\n9v", "Zm\t9v", "Zm\r9v", "Zg= =", "Zm9v\nYmFy"}) {
    EXPECT_FALSE(Decodes(text)) << text;
  }
}

TEST(Base64DecodeTest, OnlyTheStandardAlphabet) {
  EXPECT_FALSE(Decodes("-_-_"));  // URL-safe alphabet
  EXPECT_TRUE(Decodes("+/+/"));
  EXPECT_FALSE(Decodes("Zm9v.A=="));
  // Every byte that is not in the alphabet, in every position of a quantum.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int c = 0; c < 256; ++c) {
    if (alphabet.find(static_cast<char>(c)) != std::string::npos) continue;
    for (size_t at = 0; at < 4; ++at) {
      std::string text = "Zm9v";
      text[at] = static_cast<char>(c);
      EXPECT_FALSE(Decodes(text)) << c << " at " << at;
    }
  }
}

TEST(Base64DecodeTest, NonZeroUnusedBitsAreRefused) {
  // "Zg==" is the one spelling of "f": its second character carries 4 unused
  // bits; "Zm8=" of "fo" has 2. Every other last character decoding to the
  // same bytes is another spelling, refused.
  EXPECT_TRUE(Decodes("Zg=="));
  for (absl::string_view text : {"Zh==", "Zi==", "Zp==", "Zv=="}) EXPECT_FALSE(Decodes(text));
  EXPECT_TRUE(Decodes("Zm8="));
  for (absl::string_view text : {"Zm9=", "Zm+=", "Zm/="}) EXPECT_FALSE(Decodes(text));
}

TEST(Base64DecodeTest, EveryOneCharacterChangeIsRefusedOrCanonical) {
  // Flip every character of a valid encoding to every byte value: whatever is
  // accepted must be the one encoding of what it decodes to.
  const std::string bytes = Bytes(32);  // a hash: 44 characters, one '='
  const std::string text = absl::Base64Escape(bytes);
  for (size_t at = 0; at < text.size(); ++at) {
    for (int c = 0; c < 256; ++c) {
      std::string changed = text;
      changed[at] = static_cast<char>(c);
      std::string out;
      if (Base64Decode(changed, &out).ok()) {
        EXPECT_EQ(absl::Base64Escape(out), changed) << at << " " << c;
      }
    }
  }
}

TEST(Base64DecodeTest, ReusesTheOutput) {
  std::string out(1000, 'x');
  ASSERT_TRUE(Base64Decode("Zm9v", &out).ok());
  EXPECT_EQ(out, "foo");
  EXPECT_EQ(Base64Decode("Zm9", &out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace leadvault::keys
