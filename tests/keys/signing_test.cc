#include "keys/signing.h"

#include <memory>
#include <string>
#include <type_traits>
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

// RFC 8032 section 7.1, "Test Vectors for Ed25519", TEST 1, 2 and 3: the
// secret key (the 32-byte seed), the public key, the message and the signature.
struct Rfc8032Vector {
  const char* name;
  absl::string_view seed_hex;
  absl::string_view public_key_hex;
  absl::string_view message_hex;
  absl::string_view signature_hex;
};

constexpr Rfc8032Vector kRfc8032Vectors[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

// The order of the Ed25519 group, L = 2^252 + 27742317777372353535851937790883648493,
// little-endian (RFC 8032 section 5.1).
constexpr absl::string_view kGroupOrderHex =
    "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";

std::string Unhex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

std::unique_ptr<SigningKey> KeyFromSeedHex(absl::string_view seed_hex) {
  std::string seed_bytes = Unhex(seed_hex);
  SecretBytes seed = SecretBytes::GuardedCopyFrom(seed_bytes);
  WipeString(seed_bytes);
  absl::StatusOr<std::unique_ptr<SigningKey>> key = SigningKey::FromSeed(seed);
  EXPECT_TRUE(key.ok()) << key.status();
  return key.ok() ? std::move(*key) : nullptr;
}

// Every single-bit change of `bytes`, one at a time.
std::vector<std::string> AllBitFlips(absl::string_view bytes) {
  std::vector<std::string> out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped(bytes);
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      out.push_back(std::move(flipped));
    }
  }
  return out;
}

TEST(SigningTest, Rfc8032VectorsDerivePublicKeyAndSignExactly) {
  for (const Rfc8032Vector& v : kRfc8032Vectors) {
    SCOPED_TRACE(v.name);
    std::unique_ptr<SigningKey> key = KeyFromSeedHex(v.seed_hex);
    ASSERT_NE(key, nullptr);
    EXPECT_EQ(absl::BytesToHexString(key->public_key()), v.public_key_hex);
    const std::string message = Unhex(v.message_hex);
    const std::string signature = key->Sign(message);
    EXPECT_EQ(absl::BytesToHexString(signature), v.signature_hex);
    // Deterministic: the same message signs to the same bytes every time.
    EXPECT_EQ(key->Sign(message), signature);
    EXPECT_TRUE(VerifySignature(key->public_key(), message, signature));
    EXPECT_TRUE(VerifySignature(Unhex(v.public_key_hex), message, Unhex(v.signature_hex)));
  }
}

TEST(SigningTest, VerifyRejectsEveryBitFlipOfSignatureMessageAndPublicKey) {
  std::unique_ptr<SigningKey> key = KeyFromSeedHex(kRfc8032Vectors[2].seed_hex);
  ASSERT_NE(key, nullptr);
  const std::string short_message = Unhex(kRfc8032Vectors[2].message_hex);
  const std::string long_message = "checkpoint 20852163 of example.com/behind-the-sofa\n";
  for (const std::string& message : {short_message, long_message}) {
    const std::string signature = key->Sign(message);
    ASSERT_TRUE(VerifySignature(key->public_key(), message, signature));
    for (const std::string& bad : AllBitFlips(signature)) {
      EXPECT_FALSE(VerifySignature(key->public_key(), message, bad));
    }
    for (const std::string& bad : AllBitFlips(message)) {
      EXPECT_FALSE(VerifySignature(key->public_key(), bad, signature));
    }
    for (const std::string& bad : AllBitFlips(key->public_key())) {
      EXPECT_FALSE(VerifySignature(bad, message, signature));
    }
  }
}

TEST(SigningTest, VerifyRejectsWrongLengthsWithoutReadingPastThem) {
  const Rfc8032Vector& v = kRfc8032Vectors[1];
  const std::string public_key = Unhex(v.public_key_hex);
  const std::string message = Unhex(v.message_hex);
  const std::string signature = Unhex(v.signature_hex);
  ASSERT_TRUE(VerifySignature(public_key, message, signature));
  for (size_t size : {size_t{0}, size_t{1}, size_t{31}, size_t{33}, size_t{64}}) {
    std::string bad_key = public_key;
    bad_key.resize(size, '\0');
    EXPECT_FALSE(VerifySignature(bad_key, message, signature)) << size;
  }
  for (size_t size : {size_t{0}, size_t{1}, size_t{32}, size_t{63}, size_t{65}, size_t{128}}) {
    std::string bad_signature = signature;
    bad_signature.resize(size, '\0');
    EXPECT_FALSE(VerifySignature(public_key, message, bad_signature)) << size;
  }
  // The right signature with bytes appended to the message, or the message cut short.
  EXPECT_FALSE(VerifySignature(public_key, message + "x", signature));
  EXPECT_FALSE(VerifySignature(public_key, "", signature));
}

TEST(SigningTest, VerifyRejectsMalleatedSignatureWithSPlusGroupOrder) {
  // S' = S + L verifies under the bare group equation; RFC 8032 requires S < L.
  const Rfc8032Vector& v = kRfc8032Vectors[0];
  std::string signature = Unhex(v.signature_hex);
  const std::string order = Unhex(kGroupOrderHex);
  unsigned carry = 0;
  for (size_t i = 0; i < 32; ++i) {
    const unsigned sum =
        static_cast<uint8_t>(signature[32 + i]) + static_cast<uint8_t>(order[i]) + carry;
    signature[32 + i] = static_cast<char>(sum & 0xff);
    carry = sum >> 8;
  }
  ASSERT_EQ(carry, 0u);
  EXPECT_FALSE(VerifySignature(Unhex(v.public_key_hex), "", signature));
}

TEST(SigningTest, VerifyRejectsAllZeroKeyAndSignature) {
  EXPECT_FALSE(VerifySignature(std::string(32, '\0'), "", std::string(64, '\0')));
  EXPECT_FALSE(VerifySignature(std::string(32, '\0'), "message", std::string(64, '\0')));
}

TEST(SigningTest, FromSeedRejectsWrongSeedSizes) {
  for (size_t size : {size_t{0}, size_t{16}, size_t{31}, size_t{33}, size_t{64}}) {
    SecretBytes seed = SecretBytes::Guarded(size);
    absl::StatusOr<std::unique_ptr<SigningKey>> key = SigningKey::FromSeed(seed);
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << size;
  }
}

TEST(SigningTest, GeneratedSeedIsGuardedRandomAndUsable) {
  SeededRandom random(7);
  SecretBytes a = SigningKey::GenerateSeed(random);
  SecretBytes b = SigningKey::GenerateSeed(random);
  EXPECT_EQ(a.size(), kEd25519SeedSize);
  EXPECT_TRUE(a.guarded());
  EXPECT_TRUE(b.guarded());
  EXPECT_FALSE(a == b);
  EXPECT_NE(a.view(), std::string(kEd25519SeedSize, '\0'));

  absl::StatusOr<std::unique_ptr<SigningKey>> key_a = SigningKey::FromSeed(a);
  absl::StatusOr<std::unique_ptr<SigningKey>> key_b = SigningKey::FromSeed(b);
  ASSERT_TRUE(key_a.ok()) << key_a.status();
  ASSERT_TRUE(key_b.ok()) << key_b.status();
  EXPECT_EQ((*key_a)->public_key().size(), kEd25519PublicKeySize);
  EXPECT_NE((*key_a)->public_key(), (*key_b)->public_key());
  EXPECT_FALSE(VerifySignature((*key_b)->public_key(), "m", (*key_a)->Sign("m")));
}

TEST(SigningTest, SameSeedGivesSameKey) {
  SeededRandom random(11);
  SecretBytes seed = SigningKey::GenerateSeed(random);
  absl::StatusOr<std::unique_ptr<SigningKey>> first = SigningKey::FromSeed(seed);
  absl::StatusOr<std::unique_ptr<SigningKey>> second = SigningKey::FromSeed(seed);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ((*first)->public_key(), (*second)->public_key());
  EXPECT_EQ((*first)->Sign("audit"), (*second)->Sign("audit"));
}

// The secret half is reachable only through Sign(): the type cannot be copied
// (no second copy of the key outside guarded memory), the key keeps its own
// copy once the caller's seed is gone, and no public output contains the seed.
TEST(SigningTest, SecretKeyIsNotReachable) {
  static_assert(!std::is_copy_constructible_v<SigningKey>);
  static_assert(!std::is_copy_assignable_v<SigningKey>);
  static_assert(!std::is_constructible_v<std::string, SigningKey>);

  const Rfc8032Vector& v = kRfc8032Vectors[0];
  const std::string seed_bytes = Unhex(v.seed_hex);
  std::unique_ptr<SigningKey> key;
  {
    SecretBytes seed = SecretBytes::GuardedCopyFrom(seed_bytes);
    absl::StatusOr<std::unique_ptr<SigningKey>> made = SigningKey::FromSeed(seed);
    ASSERT_TRUE(made.ok()) << made.status();
    key = std::move(*made);
  }  // the caller's seed is zeroed and freed here
  const std::string signature = key->Sign("");
  EXPECT_EQ(absl::BytesToHexString(signature), v.signature_hex);

  for (absl::string_view output :
       {absl::string_view(key->public_key()), absl::string_view(signature)}) {
    EXPECT_EQ(output.find(seed_bytes), absl::string_view::npos);
    // No 4-byte window of the seed appears in a public output.
    for (size_t i = 0; i + 4 <= seed_bytes.size(); ++i) {
      EXPECT_EQ(output.find(seed_bytes.substr(i, 4)), absl::string_view::npos) << i;
    }
  }
}

TEST(SigningTest, SignsLargeAndBinaryMessages) {
  std::unique_ptr<SigningKey> key = KeyFromSeedHex(kRfc8032Vectors[1].seed_hex);
  ASSERT_NE(key, nullptr);
  SeededRandom random(3);
  const std::string message = random.Bytes(1 << 20);
  const std::string signature = key->Sign(message);
  EXPECT_TRUE(VerifySignature(key->public_key(), message, signature));
  std::string with_nul("a\0b", 3);
  EXPECT_TRUE(VerifySignature(key->public_key(), with_nul, key->Sign(with_nul)));
  EXPECT_FALSE(VerifySignature(key->public_key(), "a", key->Sign(with_nul)));
}

}  // namespace
}  // namespace leadvault::keys
