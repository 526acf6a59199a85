#include "keys/secret_bytes.h"

#include <string>
#include <type_traits>
#include <utility>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace leadvault::keys {
namespace {

// Secrets cannot be copied or silently turned into printable strings.
static_assert(!std::is_copy_constructible_v<SecretBytes>);
static_assert(!std::is_copy_assignable_v<SecretBytes>);
static_assert(std::is_nothrow_move_constructible_v<SecretBytes>);
static_assert(std::is_nothrow_move_assignable_v<SecretBytes>);
static_assert(!std::is_convertible_v<SecretBytes, std::string>);
static_assert(!std::is_convertible_v<SecretBytes, absl::string_view>);
static_assert(!std::is_convertible_v<size_t, SecretBytes>);  // the size constructor is explicit

bool AllZero(const SecretBytes& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.data()[i] != 0) return false;
  }
  return true;
}

TEST(SecretBytesTest, TypeTraits) {
  EXPECT_FALSE(std::is_copy_constructible_v<SecretBytes>);
  EXPECT_FALSE(std::is_copy_assignable_v<SecretBytes>);
}

TEST(SecretBytesTest, DefaultIsEmpty) {
  SecretBytes s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.data(), nullptr);
  EXPECT_FALSE(s.guarded());
}

TEST(SecretBytesTest, PlainBufferIsZeroedAndNotGuarded) {
  SecretBytes s(64);
  EXPECT_EQ(s.size(), 64u);
  EXPECT_FALSE(s.guarded());
  ASSERT_NE(s.data(), nullptr);
  EXPECT_TRUE(AllZero(s));
}

TEST(SecretBytesTest, GuardedBufferIsZeroedAndGuarded) {
  SecretBytes s = SecretBytes::Guarded(64);
  EXPECT_EQ(s.size(), 64u);
  EXPECT_TRUE(s.guarded());
  ASSERT_NE(s.data(), nullptr);
  EXPECT_TRUE(AllZero(s));
  s.data()[63] = 0xAB;  // writable to the last byte
  EXPECT_EQ(s.data()[63], 0xAB);
}

TEST(SecretBytesTest, ZeroSizeBuffersWork) {
  SecretBytes plain(0);
  SecretBytes guarded = SecretBytes::Guarded(0);
  SecretBytes copied = SecretBytes::CopyFrom("");
  SecretBytes guarded_copied = SecretBytes::GuardedCopyFrom("");
  for (const SecretBytes* s : {&plain, &guarded, &copied, &guarded_copied}) {
    EXPECT_TRUE(s->empty());
    EXPECT_EQ(s->size(), 0u);
    EXPECT_TRUE(s->view().empty());
  }
  EXPECT_TRUE(guarded.guarded());
  EXPECT_TRUE(plain.Equals(guarded));
  EXPECT_TRUE(plain.Equals(SecretBytes()));
  EXPECT_TRUE(guarded.Clone().empty());
  EXPECT_TRUE(plain.GuardedClone().empty());
  SecretBytes moved = std::move(guarded);
  EXPECT_TRUE(moved.empty());
  EXPECT_FALSE(plain.Equals(SecretBytes::CopyFrom("x")));
}

TEST(SecretBytesTest, CopyFromCopiesContents) {
  SecretBytes plain = SecretBytes::CopyFrom("secret");
  SecretBytes guarded = SecretBytes::GuardedCopyFrom("secret");
  EXPECT_EQ(plain.view(), "secret");
  EXPECT_EQ(guarded.view(), "secret");
  EXPECT_FALSE(plain.guarded());
  EXPECT_TRUE(guarded.guarded());
}

TEST(SecretBytesTest, MoveConstructionEmptiesTheSource) {
  for (bool use_guarded : {false, true}) {
    SecretBytes source = use_guarded ? SecretBytes::GuardedCopyFrom("key material")
                                     : SecretBytes::CopyFrom("key material");
    const uint8_t* buffer = source.data();
    SecretBytes dest(std::move(source));
    EXPECT_EQ(dest.view(), "key material");
    EXPECT_EQ(dest.guarded(), use_guarded);
    EXPECT_EQ(dest.data(), buffer);  // ownership moved, no copy left behind
    // The moved-from object is empty and owns nothing.
    EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(source.size(), 0u);
    EXPECT_EQ(source.data(), nullptr);
    EXPECT_FALSE(source.guarded());
    EXPECT_TRUE(source.view().empty());
  }
}

TEST(SecretBytesTest, MoveAssignmentEmptiesTheSourceAndReplacesTheTarget) {
  SecretBytes target = SecretBytes::GuardedCopyFrom("old");
  SecretBytes source = SecretBytes::CopyFrom("new value");
  target = std::move(source);
  EXPECT_EQ(target.view(), "new value");
  EXPECT_FALSE(target.guarded());
  EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(source.data(), nullptr);

  SecretBytes guarded_source = SecretBytes::GuardedCopyFrom("guarded");
  target = std::move(guarded_source);
  EXPECT_EQ(target.view(), "guarded");
  EXPECT_TRUE(target.guarded());
  EXPECT_TRUE(guarded_source.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(SecretBytesTest, SelfMoveAssignmentKeepsContents) {
  SecretBytes s = SecretBytes::CopyFrom("self");
  SecretBytes& alias = s;
  s = std::move(alias);
  EXPECT_EQ(s.view(), "self");
}

TEST(SecretBytesTest, EqualsIsContentEquality) {
  SecretBytes a = SecretBytes::CopyFrom("0123456789abcdef");
  SecretBytes b = SecretBytes::GuardedCopyFrom("0123456789abcdef");
  EXPECT_TRUE(a.Equals(b));  // storage class does not matter
  EXPECT_TRUE(b.Equals(a));
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(a.Equals(a));
  // A difference at any position makes them unequal.
  for (size_t i = 0; i < a.size(); ++i) {
    SecretBytes c = a.Clone();
    c.data()[i] ^= 0x01;
    EXPECT_FALSE(a.Equals(c)) << "position " << i;
    EXPECT_FALSE(a == c);
  }
  // Different sizes are unequal, even for a prefix.
  EXPECT_FALSE(a.Equals(SecretBytes::CopyFrom("0123456789abcde")));
  EXPECT_FALSE(a.Equals(SecretBytes::CopyFrom("0123456789abcdef0")));
  EXPECT_FALSE(a.Equals(SecretBytes()));
  EXPECT_FALSE(SecretBytes(4).Equals(SecretBytes(5)));
}

TEST(SecretBytesTest, ClonesAreIndependentCopies) {
  SecretBytes original = SecretBytes::CopyFrom("abc");
  SecretBytes plain = original.Clone();
  SecretBytes guarded = original.GuardedClone();
  EXPECT_FALSE(plain.guarded());
  EXPECT_TRUE(guarded.guarded());
  EXPECT_TRUE(plain.Equals(original));
  EXPECT_TRUE(guarded.Equals(original));
  EXPECT_NE(plain.data(), original.data());
  original.data()[0] = 'x';
  EXPECT_EQ(plain.view(), "abc");
  EXPECT_EQ(guarded.view(), "abc");
}

TEST(SecretBytesTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("token", "token"));
  EXPECT_FALSE(ConstantTimeEquals("token", "tokem"));
  EXPECT_FALSE(ConstantTimeEquals("token", "Token"));
  EXPECT_FALSE(ConstantTimeEquals("token", "token "));
  EXPECT_FALSE(ConstantTimeEquals("token", ""));
  EXPECT_FALSE(ConstantTimeEquals("", "token"));
  std::string with_nul("a\0b", 3);
  EXPECT_TRUE(ConstantTimeEquals(with_nul, std::string("a\0b", 3)));
  EXPECT_FALSE(ConstantTimeEquals(with_nul, std::string("a\0c", 3)));
}

TEST(SecretBytesTest, WipeStringZeroesEveryByte) {
  std::string s = "jane@example.com, a long enough value to be heap allocated";
  const size_t size = s.size();
  WipeString(s);
  EXPECT_EQ(s.size(), size);
  EXPECT_EQ(s, std::string(size, '\0'));
  std::string empty;
  WipeString(empty);
  EXPECT_TRUE(empty.empty());
}

}  // namespace
}  // namespace leadvault::keys
