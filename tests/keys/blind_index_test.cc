#include "keys/blind_index.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "keys/secret_bytes.h"
#include "tests/testing/fakes.h"

namespace leadvault::keys {
namespace {

using ::leadvault::testing::SeededRandom;

SecretBytes RandomKey(Random& random, size_t size = 32) {
  SecretBytes key = SecretBytes::Guarded(size);
  random.Fill(key.data(), key.size());
  return key;
}

class BlindIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto indexer = BlindIndexer::Create(root_);
    ASSERT_TRUE(indexer.ok()) << indexer.status();
    indexer_ = std::move(*indexer);
  }

  SeededRandom random_{99};
  SecretBytes root_ = RandomKey(random_);
  std::unique_ptr<BlindIndexer> indexer_;
};

TEST_F(BlindIndexTest, SameValueSameToken) {
  std::string a = indexer_->Token(BlindIndexId::kEmail, "jane@example.com");
  std::string b = indexer_->Token(BlindIndexId::kEmail, "jane@example.com");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), kBlindTokenSize);
  // A second indexer from the same root agrees (tokens survive restarts).
  auto again = BlindIndexer::Create(root_.Clone());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Token(BlindIndexId::kEmail, "jane@example.com"), a);
}

TEST_F(BlindIndexTest, TokensAre32BytesAndHideTheValue) {
  for (const char* value : {"", "a", "+15555550123", "jane@example.com"}) {
    for (BlindIndexId id : {BlindIndexId::kEmail, BlindIndexId::kPhone}) {
      std::string token = indexer_->Token(id, value);
      EXPECT_EQ(token.size(), kBlindTokenSize);
      if (*value != '\0') {
        EXPECT_EQ(token.find(value), std::string::npos);
      }
    }
  }
}

TEST_F(BlindIndexTest, DifferentValuesDifferentTokens) {
  EXPECT_NE(indexer_->Token(BlindIndexId::kEmail, "jane@example.com"),
            indexer_->Token(BlindIndexId::kEmail, "jane@example.org"));
  EXPECT_NE(indexer_->Token(BlindIndexId::kEmail, "jane@example.com"),
            indexer_->Token(BlindIndexId::kEmail, "jane@example.com "));
  EXPECT_NE(indexer_->Token(BlindIndexId::kPhone, "+15555550123"),
            indexer_->Token(BlindIndexId::kPhone, "+15555550124"));
}

TEST_F(BlindIndexTest, EmailAndPhoneIndexesUseDifferentKeys) {
  for (const char* value : {"", "+15555550123", "jane@example.com"}) {
    EXPECT_NE(indexer_->Token(BlindIndexId::kEmail, value),
              indexer_->Token(BlindIndexId::kPhone, value));
  }
}

TEST_F(BlindIndexTest, DifferentRootDifferentToken) {
  SecretBytes other_root = root_.Clone();
  other_root.data()[31] ^= 0x01;
  auto other = BlindIndexer::Create(other_root);
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)->Token(BlindIndexId::kEmail, "jane@example.com"),
            indexer_->Token(BlindIndexId::kEmail, "jane@example.com"));
  EXPECT_NE((*other)->Token(BlindIndexId::kPhone, "+15555550123"),
            indexer_->Token(BlindIndexId::kPhone, "+15555550123"));
}

TEST_F(BlindIndexTest, TokenIsNotAPlainKeyedHashUnderTheRoot) {
  // The per-index key is derived, so the root itself never keys a token.
  EXPECT_NE(indexer_->Token(BlindIndexId::kEmail, "jane@example.com"),
            KeyedHash(root_, "jane@example.com"));
}

TEST(BlindIndexCreateTest, RefusesWrongSizeRoot) {
  for (size_t size : {size_t{0}, size_t{16}, size_t{31}, size_t{33}, size_t{64}}) {
    auto indexer = BlindIndexer::Create(SecretBytes::Guarded(size));
    EXPECT_EQ(indexer.status().code(), absl::StatusCode::kInvalidArgument) << size;
  }
}

TEST(KeyedHashTest, DeterministicKeyedAndSized) {
  SeededRandom random(5);
  SecretBytes key = RandomKey(random);
  SecretBytes other = RandomKey(random);
  EXPECT_EQ(KeyedHash(key, "lv_token_secret"), KeyedHash(key, "lv_token_secret"));
  EXPECT_EQ(KeyedHash(key, "lv_token_secret").size(), 32u);
  EXPECT_NE(KeyedHash(key, "lv_token_secret"), KeyedHash(other, "lv_token_secret"));
  EXPECT_NE(KeyedHash(key, "lv_token_secret"), KeyedHash(key, "lv_token_secreT"));
  EXPECT_EQ(KeyedHash(key, "").size(), 32u);
  // 16- and 64-byte keys are accepted.
  EXPECT_EQ(KeyedHash(RandomKey(random, 16), "x").size(), 32u);
  EXPECT_EQ(KeyedHash(RandomKey(random, 64), "x").size(), 32u);
}

TEST(DeriveSubkeyTest, GuardedDeterministicAndSeparated) {
  SeededRandom random(6);
  SecretBytes root = RandomKey(random);
  SecretBytes a = DeriveSubkey(root, 1, "lvbidx01");
  EXPECT_EQ(a.size(), 32u);
  EXPECT_TRUE(a.guarded());
  EXPECT_TRUE(a.Equals(DeriveSubkey(root, 1, "lvbidx01")));
  EXPECT_FALSE(a.Equals(root));
  EXPECT_FALSE(a.Equals(DeriveSubkey(root, 2, "lvbidx01")));
  EXPECT_FALSE(a.Equals(DeriveSubkey(root, 1, "lvbidx02")));
  SecretBytes other_root = root.Clone();
  other_root.data()[0] ^= 0x01;
  EXPECT_FALSE(a.Equals(DeriveSubkey(other_root, 1, "lvbidx01")));
}

}  // namespace
}  // namespace leadvault::keys
