#include "vault/lead.h"

#include <optional>
#include <set>
#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace leadvault::vault {
namespace {

constexpr std::array<LeadStatus, 8> kAllStatuses = {
    LeadStatus::kUnspecified, LeadStatus::kNew,         LeadStatus::kContacted,
    LeadStatus::kQualified,   LeadStatus::kScheduled,   LeadStatus::kShowed,
    LeadStatus::kClosedLost,  LeadStatus::kDisqualified};

TEST(LeadTest, PiiFieldNamesAreTheApiNames) {
  const std::array<absl::string_view, kPiiFieldCount> expected = {
      "first_name",    "last_name",          "email", "phone",
      "date_of_birth", "street_address",     "city",  "state",
      "postal_code",   "condition_interest", "notes"};
  for (size_t i = 0; i < kPiiFieldCount; ++i) {
    EXPECT_EQ(PiiFieldName(kAllPiiFields[i]), expected[i]);
    EXPECT_EQ(static_cast<size_t>(kAllPiiFields[i]), i + 1) << "kAllPiiFields must be in order";
  }
}

TEST(LeadTest, LeadStatusNames) {
  const std::array<absl::string_view, 8> expected = {"unspecified", "new",         "contacted",
                                                     "qualified",   "scheduled",   "showed",
                                                     "closed_lost", "disqualified"};
  for (size_t i = 0; i < kAllStatuses.size(); ++i) {
    EXPECT_EQ(LeadStatusName(kAllStatuses[i]), expected[i]);
  }
  EXPECT_EQ(LeadStatusName(static_cast<LeadStatus>(99)), "unspecified");
}

// The full table: every (from, to) pair not listed here must be refused.
TEST(LeadTest, IsAllowedTransitionMatchesTheDocumentedTable) {
  using S = LeadStatus;
  const std::set<std::pair<S, S>> allowed = {
      {S::kNew, S::kContacted},          {S::kNew, S::kQualified},
      {S::kNew, S::kDisqualified},       {S::kNew, S::kClosedLost},
      {S::kContacted, S::kQualified},    {S::kContacted, S::kScheduled},
      {S::kContacted, S::kDisqualified}, {S::kContacted, S::kClosedLost},
      {S::kQualified, S::kScheduled},    {S::kQualified, S::kDisqualified},
      {S::kQualified, S::kClosedLost},   {S::kScheduled, S::kShowed},
      {S::kScheduled, S::kScheduled},    {S::kScheduled, S::kClosedLost},
      {S::kClosedLost, S::kContacted},
  };
  int allowed_count = 0;
  for (S from : kAllStatuses) {
    for (S to : kAllStatuses) {
      const bool want = allowed.count({from, to}) > 0;
      EXPECT_EQ(IsAllowedTransition(from, to), want)
          << LeadStatusName(from) << " -> " << LeadStatusName(to);
      allowed_count += want ? 1 : 0;
    }
  }
  EXPECT_EQ(allowed_count, 15);
  EXPECT_FALSE(IsAllowedTransition(static_cast<S>(42), S::kNew));
  EXPECT_FALSE(IsAllowedTransition(S::kNew, static_cast<S>(42)));
}

TEST(LeadTest, TerminalStatesHaveNoExitExceptReengagement) {
  for (LeadStatus to : kAllStatuses) {
    EXPECT_FALSE(IsAllowedTransition(LeadStatus::kShowed, to));
    EXPECT_FALSE(IsAllowedTransition(LeadStatus::kDisqualified, to));
    EXPECT_EQ(IsAllowedTransition(LeadStatus::kClosedLost, to), to == LeadStatus::kContacted);
  }
}

TEST(LeadTest, EncodeLeadIdIsLowerCaseHex) {
  const std::string id("\x00\x01\x7f\x80\xab\xcd\xef\xff\x10\x20\x30\x40\x50\x60\x70\x90", 16);
  EXPECT_EQ(EncodeLeadId(id), "00017f80abcdefff1020304050607090");
  EXPECT_EQ(EncodeLeadId(""), "");
}

TEST(LeadTest, DecodeLeadIdRoundTripsEveryByteValue) {
  for (int start = 0; start < 256; start += 16) {
    std::string id;
    for (int b = start; b < start + 16; ++b) id.push_back(static_cast<char>(b));
    const std::optional<std::string> decoded = DecodeLeadId(EncodeLeadId(id));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, id);
  }
}

TEST(LeadTest, LeadIdIsOnlyEverWellFormed) {
  const std::string bytes("\x00\x01\x7f\x80\xab\xcd\xef\xff\x10\x20\x30\x40\x50\x60\x70\x90", 16);
  std::optional<LeadId> id = LeadId::FromBytes(bytes);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->bytes(), bytes);
  EXPECT_EQ(id->text(), "00017f80abcdefff1020304050607090");
  std::optional<LeadId> parsed = LeadId::FromText("00017F80ABCDEFFF1020304050607090");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(*parsed == *id);
  EXPECT_FALSE(LeadId::FromBytes(bytes.substr(1)).has_value());
  EXPECT_FALSE(LeadId::FromBytes(bytes + "x").has_value());
  EXPECT_FALSE(LeadId::FromText("00017f80abcdefff102030405060709").has_value());
  EXPECT_FALSE(LeadId::FromText("00017f80abcdefff102030405060709g").has_value());
}

TEST(LeadTest, DecodeLeadIdAcceptsUpperCase) {
  const std::optional<std::string> lower = DecodeLeadId("00017f80abcdefff1020304050607090");
  const std::optional<std::string> upper = DecodeLeadId("00017F80ABCDEFFF1020304050607090");
  ASSERT_TRUE(lower.has_value());
  ASSERT_TRUE(upper.has_value());
  EXPECT_EQ(*lower, *upper);
  EXPECT_EQ(EncodeLeadId(*upper), "00017f80abcdefff1020304050607090");
}

TEST(LeadTest, DecodeLeadIdRefusesMalformedText) {
  const std::string valid = "00017f80abcdefff1020304050607090";
  const std::string cases[] = {
      "",
      valid.substr(0, 31),                 // Too short.
      valid + "0",                         // Too long.
      valid.substr(0, 30),                 // Even but short.
      "00017f80abcdefff102030405060709g",  // Not hex.
      "00017f80abcdefff102030405060709 ",  // Space.
      "-0017f80abcdefff1020304050607090",  // Sign.
      "0x017f80abcdefff1020304050607090",  // Prefix.
      std::string("00017f80abcdefff10203040506070\0"
                  "0",
                  32),                       // NUL.
      "00017f80-abcd-efff-1020-3040506070",  // UUID dashes.
  };
  for (const std::string& text : cases) {
    EXPECT_FALSE(DecodeLeadId(text).has_value()) << "'" << text << "'";
  }
}

TEST(LeadPiiTest, SetGetHas) {
  LeadPii pii;
  for (PiiField f : kAllPiiFields) EXPECT_FALSE(pii.Has(f));
  pii.Set(PiiField::kNotes, keys::SecretBytes::CopyFrom("hello"));
  EXPECT_TRUE(pii.Has(PiiField::kNotes));
  EXPECT_EQ(pii.Get(PiiField::kNotes).view(), "hello");
  EXPECT_FALSE(pii.Has(PiiField::kFirstName));
  pii.Mutable(PiiField::kNotes) = keys::SecretBytes();
  EXPECT_FALSE(pii.Has(PiiField::kNotes));
}

}  // namespace
}  // namespace leadvault::vault
