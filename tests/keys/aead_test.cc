#include "keys/aead.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "keys/secret_bytes.h"
#include "tests/testing/fakes.h"

namespace leadvault::keys {
namespace {

using ::leadvault::testing::SeededRandom;

constexpr absl::string_view kLeadId = "lead-0000000001A";
constexpr uint32_t kField = 3;
constexpr uint32_t kDekVersion = 7;

SecretBytes RandomKey(Random& random, size_t size = 32) {
  SecretBytes key(size);
  random.Fill(key.data(), key.size());
  return key;
}

// A failed decryption reports DATA_LOSS and leaks none of the given secrets,
// raw or hex-encoded.
void ExpectDataLossWithoutLeak(const absl::Status& status,
                               const std::vector<std::string>& secrets) {
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  const std::string message(status.message());
  for (const std::string& secret : secrets) {
    if (secret.size() < 4) continue;
    EXPECT_EQ(message.find(secret), std::string::npos);
    std::string hex = absl::BytesToHexString(secret);
    EXPECT_EQ(message.find(hex), std::string::npos);
    // Any 4-byte window of the secret, hex-encoded, would also be a leak.
    for (size_t i = 0; i + 8 <= hex.size(); i += 2) {
      ASSERT_EQ(message.find(hex.substr(i, 8)), std::string::npos) << message;
    }
  }
}

class AeadTest : public ::testing::Test {
 protected:
  std::string Encrypt(absl::string_view plaintext) {
    return EncryptField(dek_, kDekVersion, kLeadId, kField, plaintext, random_.Bytes(kNonceSize));
  }
  absl::StatusOr<SecretBytes> Decrypt(absl::string_view ciphertext) {
    return DecryptField(dek_, kDekVersion, kLeadId, kField, ciphertext);
  }

  SeededRandom random_{20240601};
  SecretBytes dek_ = RandomKey(random_);
};

TEST_F(AeadTest, RoundTripsEmptyShortAndLongPlaintexts) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{4000}}) {
    std::string plaintext = random_.Bytes(size);
    std::string ciphertext = Encrypt(plaintext);
    ASSERT_EQ(ciphertext.size(), plaintext.size() + kCiphertextOverhead);
    auto decrypted = Decrypt(ciphertext);
    ASSERT_TRUE(decrypted.ok()) << decrypted.status();
    EXPECT_EQ(decrypted->size(), size);
    EXPECT_EQ(decrypted->view(), plaintext);
    EXPECT_FALSE(decrypted->guarded());  // per-request buffer
  }
}

TEST_F(AeadTest, OutputLayoutIsVersionNonceCiphertext) {
  const std::string nonce = random_.Bytes(kNonceSize);
  const std::string plaintext = "jane@example.com";
  std::string ciphertext = EncryptField(dek_, kDekVersion, kLeadId, kField, plaintext, nonce);
  ASSERT_EQ(ciphertext.size(), 1 + kNonceSize + plaintext.size() + kTagSize);
  EXPECT_EQ(static_cast<uint8_t>(ciphertext[0]), kFieldFormatVersion);
  EXPECT_EQ(ciphertext.substr(1, kNonceSize), nonce);
  EXPECT_EQ(ciphertext.find(plaintext), std::string::npos);
  // Deterministic for a given nonce; a different nonce changes everything after it.
  EXPECT_EQ(ciphertext, EncryptField(dek_, kDekVersion, kLeadId, kField, plaintext, nonce));
  std::string other = Encrypt(plaintext);
  EXPECT_NE(other.substr(1 + kNonceSize), ciphertext.substr(1 + kNonceSize));
}

TEST_F(AeadTest, FieldAssociatedDataLayout) {
  EXPECT_EQ(FieldAssociatedData("ab", 0x01020304, 0x0A0B0C0D),
            std::string("ab\x01\x02\x03\x04\x0A\x0B\x0C\x0D", 10));
  EXPECT_EQ(FieldAssociatedData("", 0, 0), std::string(8, '\0'));
}

TEST_F(AeadTest, EveryBitFlipFailsWithDataLoss) {
  for (size_t size : {size_t{0}, size_t{16}}) {
    const std::string plaintext = size == 0 ? "" : "jane@example.com";
    const std::string ciphertext = Encrypt(plaintext);
    // Byte 0 is the version, 1..24 the nonce, then ciphertext, then the tag.
    for (size_t byte = 0; byte < ciphertext.size(); ++byte) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string tampered = ciphertext;
        tampered[byte] = static_cast<char>(tampered[byte] ^ (1 << bit));
        auto result = Decrypt(tampered);
        ASSERT_FALSE(result.ok()) << "byte " << byte << " bit " << bit;
        ExpectDataLossWithoutLeak(result.status(),
                                  {plaintext, ciphertext, tampered, std::string(dek_.view())});
      }
    }
  }
}

TEST_F(AeadTest, EveryTruncationFails) {
  const std::string plaintext = "jane@example.com";
  const std::string ciphertext = Encrypt(plaintext);
  for (size_t len = 0; len < ciphertext.size(); ++len) {
    auto result = Decrypt(ciphertext.substr(0, len));
    ASSERT_FALSE(result.ok()) << "length " << len;
    ExpectDataLossWithoutLeak(result.status(), {plaintext, ciphertext});
  }
  // Dropping bytes from the front fails too.
  for (size_t skip = 1; skip < ciphertext.size(); ++skip) {
    EXPECT_EQ(Decrypt(ciphertext.substr(skip)).status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST_F(AeadTest, AppendedOrPrependedBytesFail) {
  const std::string ciphertext = Encrypt("jane@example.com");
  for (char extra : {'\0', '\x01', 'x'}) {
    EXPECT_EQ(Decrypt(ciphertext + extra).status().code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(Decrypt(std::string(1, extra) + ciphertext).status().code(),
              absl::StatusCode::kDataLoss);
  }
}

TEST_F(AeadTest, UnknownVersionIsReportedWithoutBytes) {
  std::string ciphertext = Encrypt("jane@example.com");
  for (int version : {0, 2, 255}) {
    std::string tampered = ciphertext;
    tampered[0] = static_cast<char>(version);
    auto result = Decrypt(tampered);
    ExpectDataLossWithoutLeak(result.status(), {ciphertext, "jane@example.com"});
    EXPECT_NE(result.status().message().find("field ciphertext"), absl::string_view::npos);
    EXPECT_NE(result.status().message().find("version"), absl::string_view::npos);
  }
}

TEST_F(AeadTest, WrongPlaceFails) {
  const std::string plaintext = "jane@example.com";
  const std::string ciphertext = Encrypt(plaintext);
  ASSERT_TRUE(Decrypt(ciphertext).ok());
  const std::vector<std::string> secrets = {plaintext, ciphertext};
  // Another lead (including a prefix or extension of the lead id).
  for (absl::string_view lead : {"lead-0000000001B", "lead-0000000001", "lead-0000000001A0", ""}) {
    auto r = DecryptField(dek_, kDekVersion, lead, kField, ciphertext);
    ASSERT_FALSE(r.ok()) << lead;
    ExpectDataLossWithoutLeak(r.status(), secrets);
  }
  // Another field.
  for (uint32_t field : {0u, 2u, 4u, kField + 0x100u, kField + 0x1000000u}) {
    auto r = DecryptField(dek_, kDekVersion, kLeadId, field, ciphertext);
    ASSERT_FALSE(r.ok()) << field;
    ExpectDataLossWithoutLeak(r.status(), secrets);
  }
  // Another DEK version.
  for (uint32_t version : {0u, kDekVersion - 1, kDekVersion + 1, kDekVersion << 8}) {
    auto r = DecryptField(dek_, version, kLeadId, kField, ciphertext);
    ASSERT_FALSE(r.ok()) << version;
    ExpectDataLossWithoutLeak(r.status(), secrets);
  }
}

TEST_F(AeadTest, LeadIdAndFieldNumberCannotBeTradedAgainstEachOther) {
  // "ab" || 0x63000000 starts like "abc" || 0: the fixed-width suffix keeps them apart.
  std::string ct = EncryptField(dek_, 1, "ab", 0x63000000u, "x", random_.Bytes(kNonceSize));
  EXPECT_FALSE(DecryptField(dek_, 1, "abc", 0, ct).ok());
}

TEST_F(AeadTest, WrongDekFails) {
  const std::string ciphertext = Encrypt("jane@example.com");
  SecretBytes other = RandomKey(random_);
  auto r = DecryptField(other, kDekVersion, kLeadId, kField, ciphertext);
  ASSERT_FALSE(r.ok());
  ExpectDataLossWithoutLeak(r.status(), {"jane@example.com", ciphertext, std::string(dek_.view()),
                                         std::string(other.view())});
  // One flipped key bit is enough.
  for (size_t i = 0; i < dek_.size(); ++i) {
    SecretBytes flipped = dek_.Clone();
    flipped.data()[i] ^= 0x80;
    EXPECT_EQ(DecryptField(flipped, kDekVersion, kLeadId, kField, ciphertext).status().code(),
              absl::StatusCode::kDataLoss);
  }
}

TEST_F(AeadTest, WrongSizeDekIsInvalidArgument) {
  const std::string ciphertext = Encrypt("jane@example.com");
  for (size_t size : {size_t{0}, size_t{16}, size_t{31}, size_t{33}}) {
    SecretBytes bad(size);
    EXPECT_EQ(DecryptField(bad, kDekVersion, kLeadId, kField, ciphertext).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

class WrapTest : public ::testing::Test {
 protected:
  SeededRandom random_{77};
  SecretBytes kek_ = RandomKey(random_);
  SecretBytes dek_ = RandomKey(random_);
};

TEST_F(WrapTest, RoundTripsPlainAndGuarded) {
  std::string wrapped = WrapKey(kek_, 1, "dek/leadA", dek_, random_);
  ASSERT_EQ(wrapped.size(), dek_.size() + kCiphertextOverhead);
  EXPECT_EQ(static_cast<uint8_t>(wrapped[0]), kFieldFormatVersion);
  EXPECT_EQ(wrapped.find(std::string(dek_.view())), std::string::npos);

  auto plain = UnwrapKey(kek_, 1, "dek/leadA", wrapped);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_TRUE(plain->Equals(dek_));
  EXPECT_FALSE(plain->guarded());

  auto guarded = UnwrapKey(kek_, 1, "dek/leadA", wrapped, /*guarded=*/true);
  ASSERT_TRUE(guarded.ok()) << guarded.status();
  EXPECT_TRUE(guarded->Equals(dek_));
  EXPECT_TRUE(guarded->guarded());
}

TEST_F(WrapTest, RoundTripsOtherKeySizes) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{64}}) {
    SecretBytes key = RandomKey(random_, size);
    auto unwrapped = UnwrapKey(kek_, 2, "p", WrapKey(kek_, 2, "p", key, random_));
    ASSERT_TRUE(unwrapped.ok()) << unwrapped.status();
    EXPECT_TRUE(unwrapped->Equals(key));
  }
}

TEST_F(WrapTest, EachWrapUsesAFreshNonce) {
  std::string a = WrapKey(kek_, 1, "dek/leadA", dek_, random_);
  std::string b = WrapKey(kek_, 1, "dek/leadA", dek_, random_);
  EXPECT_NE(a.substr(1, kNonceSize), b.substr(1, kNonceSize));
  EXPECT_NE(a, b);
}

TEST_F(WrapTest, WrongKekVersionOrPurposeFails) {
  const std::string wrapped = WrapKey(kek_, 5, "dek/leadA", dek_, random_);
  const std::vector<std::string> secrets = {wrapped, std::string(dek_.view()),
                                            std::string(kek_.view())};
  SecretBytes other_kek = RandomKey(random_);
  auto r = UnwrapKey(other_kek, 5, "dek/leadA", wrapped);
  ASSERT_FALSE(r.ok());
  ExpectDataLossWithoutLeak(r.status(), secrets);
  for (uint32_t version : {0u, 4u, 6u, 5u << 8}) {
    r = UnwrapKey(kek_, version, "dek/leadA", wrapped);
    ASSERT_FALSE(r.ok()) << version;
    ExpectDataLossWithoutLeak(r.status(), secrets);
  }
  // A lead A key moved to lead B, or to another purpose.
  for (absl::string_view purpose : {"dek/leadB", "dek/lead", "dek/leadAA", "index-root", ""}) {
    r = UnwrapKey(kek_, 5, purpose, wrapped, /*guarded=*/true);
    ASSERT_FALSE(r.ok()) << purpose;
    ExpectDataLossWithoutLeak(r.status(), secrets);
  }
  EXPECT_TRUE(UnwrapKey(kek_, 5, "dek/leadA", wrapped).ok());
}

TEST_F(WrapTest, EveryBitFlipAndTruncationFails) {
  const std::string wrapped = WrapKey(kek_, 1, "dek/leadA", dek_, random_);
  const std::vector<std::string> secrets = {wrapped, std::string(dek_.view()),
                                            std::string(kek_.view())};
  for (size_t byte = 0; byte < wrapped.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string tampered = wrapped;
      tampered[byte] = static_cast<char>(tampered[byte] ^ (1 << bit));
      auto r = UnwrapKey(kek_, 1, "dek/leadA", tampered);
      ASSERT_FALSE(r.ok()) << "byte " << byte << " bit " << bit;
      ExpectDataLossWithoutLeak(r.status(), secrets);
    }
  }
  for (size_t len = 0; len < wrapped.size(); ++len) {
    auto r = UnwrapKey(kek_, 1, "dek/leadA", wrapped.substr(0, len), /*guarded=*/true);
    ASSERT_FALSE(r.ok()) << "length " << len;
    ExpectDataLossWithoutLeak(r.status(), secrets);
  }
  EXPECT_EQ(UnwrapKey(kek_, 1, "dek/leadA", wrapped + "x").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(WrapTest, FieldCiphertextsAndWrappedKeysAreNotInterchangeable) {
  // Same key, same bytes: the two formats' associated data keep them apart.
  std::string field = EncryptField(kek_, 1, "dek/leadA", 0, dek_.view(), random_.Bytes(kNonceSize));
  EXPECT_EQ(UnwrapKey(kek_, 1, "dek/leadA", field).status().code(), absl::StatusCode::kDataLoss);
  std::string wrapped = WrapKey(kek_, 1, "", dek_, random_);
  EXPECT_EQ(DecryptField(kek_, 1, "", 0, wrapped).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(WrapTest, WrongSizeKekIsInvalidArgument) {
  const std::string wrapped = WrapKey(kek_, 1, "p", dek_, random_);
  EXPECT_EQ(UnwrapKey(SecretBytes(16), 1, "p", wrapped).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace leadvault::keys
