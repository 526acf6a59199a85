#include "audit/checkpoint.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "keys/secret_bytes.h"
#include "keys/signing.h"
#include "tests/testing/fakes.h"

namespace leadvault::audit {
namespace {

using ::leadvault::testing::SeededRandom;

// The example of golang.org/x/mod/sumdb/note: note.go's package documentation
// and note_test.go (TestNewVerifier, TestNewSigner, TestSign, TestOpen).
constexpr absl::string_view kPeterVerifierKey =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr absl::string_view kPeterPrivateKey =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr absl::string_view kEnochVerifierKey =
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
constexpr absl::string_view kExampleText =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr absl::string_view kPeterSignatureLine =
    "\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/"
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
constexpr absl::string_view kEnochSignatureLine =
    "\u2014 EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/"
    "5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";
constexpr uint32_t kPeterKeyId = 0xc74f20a3;
constexpr uint32_t kEnochKeyId = 0xaf0cfe78;

// The example checkpoint of C2SP tlog-checkpoint (origin, size and root).
constexpr absl::string_view kSofaBody =
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

std::string ExampleNote() { return absl::StrCat(kExampleText, "\n", kPeterSignatureLine); }

// The Ed25519 seed inside a Go "PRIVATE+KEY+<name>+<id>+base64(0x01 || seed)".
keys::SecretBytes SeedFromGoPrivateKey(absl::string_view private_key) {
  // The payload follows the fourth '+'; base64 itself may contain '+'.
  size_t at = 0;
  for (int i = 0; i < 4; ++i) at = private_key.find('+', at) + 1;
  const absl::string_view payload = private_key.substr(at);
  std::string decoded;
  EXPECT_TRUE(absl::Base64Unescape(payload, &decoded));
  EXPECT_EQ(decoded.size(), 33u);
  EXPECT_EQ(decoded[0], '\x01');
  keys::SecretBytes seed = keys::SecretBytes::GuardedCopyFrom(absl::string_view(decoded).substr(1));
  keys::WipeString(decoded);
  return seed;
}

NoteVerifier MustParseVerifier(absl::string_view verifier_key) {
  absl::StatusOr<NoteVerifier> verifier = NoteVerifier::Parse(verifier_key);
  EXPECT_TRUE(verifier.ok()) << verifier.status();
  return std::move(verifier).value();
}

// `note` with its (single) signature line's decoded "key id || signature"
// changed by `edit` and re-encoded.
template <typename Edit>
std::string EditSignature(absl::string_view note, Edit edit) {
  const size_t line = note.rfind("\n\n") + 2;
  const size_t space = note.find(' ', line + 4);
  const size_t end = note.find('\n', space);
  std::string raw;
  EXPECT_TRUE(absl::Base64Unescape(note.substr(space + 1, end - space - 1), &raw));
  edit(raw);
  return absl::StrCat(note.substr(0, space + 1), absl::Base64Escape(raw), note.substr(end));
}

void ExpectCode(const absl::Status& status, absl::StatusCode code, absl::string_view input) {
  EXPECT_EQ(status.code(), code) << status << "\ninput: " << absl::CEscape(input);
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys::SecretBytes seed = keys::SigningKey::GenerateSeed(random_);
    absl::StatusOr<std::unique_ptr<keys::SigningKey>> key = keys::SigningKey::FromSeed(seed);
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = std::move(*key);
    keys::SecretBytes other_seed = keys::SigningKey::GenerateSeed(random_);
    absl::StatusOr<std::unique_ptr<keys::SigningKey>> other =
        keys::SigningKey::FromSeed(other_seed);
    ASSERT_TRUE(other.ok()) << other.status();
    other_key_ = std::move(*other);
  }

  Checkpoint SampleCheckpoint() {
    Checkpoint checkpoint;
    checkpoint.origin = std::string(kOrigin);
    checkpoint.size = 1234567;
    random_.Fill(checkpoint.root.data(), checkpoint.root.size());
    return checkpoint;
  }

  NoteSigner Signer(const keys::SigningKey* key, absl::string_view name = kOrigin) {
    absl::StatusOr<NoteSigner> signer = NoteSigner::Create(std::string(name), key);
    EXPECT_TRUE(signer.ok()) << signer.status();
    return std::move(signer).value();
  }

  static constexpr absl::string_view kOrigin = "leadvault.example/audit";
  SeededRandom random_{20240917};
  std::unique_ptr<keys::SigningKey> key_;
  std::unique_ptr<keys::SigningKey> other_key_;
};

// --- The golang.org/x/mod/sumdb/note example ------------------------------

TEST_F(CheckpointTest, GoExampleVerifierKeyParses) {
  NoteVerifier verifier = MustParseVerifier(kPeterVerifierKey);
  EXPECT_EQ(verifier.name(), "PeterNeumann");
  EXPECT_EQ(verifier.key_id(), kPeterKeyId);
  NoteVerifier enoch = MustParseVerifier(kEnochVerifierKey);
  EXPECT_EQ(enoch.name(), "EnochRoot");
  EXPECT_EQ(enoch.key_id(), kEnochKeyId);
}

TEST_F(CheckpointTest, GoExamplePrivateKeyReproducesTheSignedNoteExactly) {
  keys::SecretBytes seed = SeedFromGoPrivateKey(kPeterPrivateKey);
  absl::StatusOr<std::unique_ptr<keys::SigningKey>> key = keys::SigningKey::FromSeed(seed);
  ASSERT_TRUE(key.ok()) << key.status();
  NoteSigner signer = Signer(key->get(), "PeterNeumann");
  EXPECT_EQ(signer.key_id(), kPeterKeyId);
  EXPECT_EQ(NoteKeyId("PeterNeumann", (*key)->public_key()), kPeterKeyId);
  EXPECT_EQ(signer.VerifierKey(), kPeterVerifierKey);
  EXPECT_EQ(signer.Sign(kExampleText), ExampleNote());
}

TEST_F(CheckpointTest, GoExampleNoteOpens) {
  absl::StatusOr<std::string> text = MustParseVerifier(kPeterVerifierKey).Open(ExampleNote());
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, kExampleText);
}

TEST_F(CheckpointTest, GoDoublySignedNoteOpensWithEitherKeyIgnoringTheOther) {
  const std::string note =
      absl::StrCat(kExampleText, "\n", kPeterSignatureLine, kEnochSignatureLine);
  for (absl::string_view verifier_key : {kPeterVerifierKey, kEnochVerifierKey}) {
    absl::StatusOr<std::string> text = MustParseVerifier(verifier_key).Open(note);
    ASSERT_TRUE(text.ok()) << verifier_key << ": " << text.status();
    EXPECT_EQ(*text, kExampleText);
  }
  // Enoch's signature alone does not satisfy Peter's verifier.
  ExpectCode(MustParseVerifier(kPeterVerifierKey)
                 .Open(absl::StrCat(kExampleText, "\n", kEnochSignatureLine))
                 .status(),
             absl::StatusCode::kPermissionDenied, "enoch only");
}

// note_test.go TestOpen's "Invalid encoded message syntax" cases.
TEST_F(CheckpointTest, GoMalformedNotesAreInvalidArgument) {
  const std::string text(kExampleText);
  const std::string sig(kPeterSignatureLine);
  const std::vector<std::string> bad = {
      text,
      text + "\n",
      text + "\n" + sig.substr(0, sig.size() - 1),
      "\x01" + text + "\n" + sig,
      "\xff" + text + "\n" + sig,
      text + "\n" +
          "\u2014 Bad Name "
          "x08go/ZJkuBS9UG/"
          "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
      text + "\n" + sig + "Unexpected line.\n",
  };
  NoteVerifier verifier = MustParseVerifier(kPeterVerifierKey);
  for (const std::string& note : bad) {
    ExpectCode(verifier.Open(note).status(), absl::StatusCode::kInvalidArgument, note);
  }
}

// note_test.go TestOpen's "Invalid signature" case: four characters spliced in.
TEST_F(CheckpointTest, GoInvalidSignatureIsPermissionDenied) {
  const std::string sig(kPeterSignatureLine);
  const std::string note =
      absl::StrCat(kExampleText, "\n", sig.substr(0, 60), "ABCD", sig.substr(60));
  ExpectCode(MustParseVerifier(kPeterVerifierKey).Open(note).status(),
             absl::StatusCode::kPermissionDenied, note);
}

TEST_F(CheckpointTest, AtMostOneHundredSignatures) {
  NoteVerifier verifier = MustParseVerifier(kPeterVerifierKey);
  std::string note = absl::StrCat(kExampleText, "\n");
  for (int i = 0; i < 100; ++i) absl::StrAppend(&note, kPeterSignatureLine);
  EXPECT_TRUE(verifier.Open(note).ok());  // identical repeats are accepted (and verified once)
  absl::StrAppend(&note, kPeterSignatureLine);
  ExpectCode(verifier.Open(note).status(), absl::StatusCode::kInvalidArgument, "101 signatures");
  // 101 lines of unknown keys are just as malformed.
  std::string unknown = absl::StrCat(kExampleText, "\n");
  for (int i = 0; i < 101; ++i) absl::StrAppend(&unknown, kEnochSignatureLine);
  ExpectCode(verifier.Open(unknown).status(), absl::StatusCode::kInvalidArgument, "101 unknown");
}

// note_test.go TestNewVerifier: every proper substring and every byte
// incremented in turn is refused, and the two adjusted-hash bad keys.
TEST_F(CheckpointTest, GoVerifierKeyManglingsAreRejected) {
  const std::string key(kPeterVerifierKey);
  for (size_t i = 0; i <= key.size(); ++i) {
    for (size_t j = i + 1; j <= key.size(); ++j) {
      if (i == 0 && j == key.size()) continue;
      const std::string sub = key.substr(i, j - i);
      ExpectCode(NoteVerifier::Parse(sub).status(), absl::StatusCode::kInvalidArgument, sub);
    }
  }
  for (size_t i = 0; i < key.size(); ++i) {
    std::string bumped = key;
    ++bumped[i];
    ExpectCode(NoteVerifier::Parse(bumped).status(), absl::StatusCode::kInvalidArgument, bumped);
  }
  // A 40-byte key and an unknown algorithm byte, each with a matching key hash.
  for (absl::string_view bad :
       {"PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"}) {
    ExpectCode(NoteVerifier::Parse(bad).status(), absl::StatusCode::kInvalidArgument, bad);
  }
}

TEST_F(CheckpointTest, VerifierKeyIdMismatchAndNonCanonicalFormsAreRejected) {
  for (absl::string_view bad : {
           "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",   // id off by one
           "PeterNeumanN+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",   // other name
           "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",   // upper-case id
           "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",    // 7 hex digits
           "PeterNeumann+0c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // 9 hex digits
           "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",    // unpadded
           "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=",  // extra pad
           "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW",   // URL alphabet
           "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n",
           "PeterNeumann+c74f20a3+ ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
           "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
           "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
           "PeterNeumann+c74f20a3+",
           "PeterNeumann+c74f20a3",
           "",
           "++",
       }) {
    ExpectCode(NoteVerifier::Parse(bad).status(), absl::StatusCode::kInvalidArgument, bad);
  }
}

// --- Checkpoint bodies -----------------------------------------------------

TEST_F(CheckpointTest, C2spExampleBodyParsesAndFormatsBack) {
  absl::StatusOr<Checkpoint> checkpoint = ParseCheckpoint(kSofaBody);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ(checkpoint->origin, "example.com/behind-the-sofa");
  EXPECT_EQ(checkpoint->size, 20852163u);
  EXPECT_EQ(absl::Base64Escape(absl::string_view(
                reinterpret_cast<const char*>(checkpoint->root.data()), checkpoint->root.size())),
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
  EXPECT_EQ(FormatCheckpoint(*checkpoint), kSofaBody);
}

TEST_F(CheckpointTest, FormatParseRoundTrip) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{10}, uint64_t{1234567},
                        std::numeric_limits<uint64_t>::max()}) {
    Checkpoint checkpoint = SampleCheckpoint();
    checkpoint.size = size;
    const std::string body = FormatCheckpoint(checkpoint);
    EXPECT_EQ(body, absl::StrCat(kOrigin, "\n", size, "\n",
                                 absl::Base64Escape(absl::string_view(
                                     reinterpret_cast<const char*>(checkpoint.root.data()), 32)),
                                 "\n"));
    absl::StatusOr<Checkpoint> parsed = ParseCheckpoint(body);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->origin, checkpoint.origin);
    EXPECT_EQ(parsed->size, size);
    EXPECT_EQ(parsed->root, checkpoint.root);
  }
}

TEST_F(CheckpointTest, ExtensionLinesAreIgnoredButMustNotBeEmpty) {
  absl::StatusOr<Checkpoint> with_extensions =
      ParseCheckpoint(absl::StrCat(kSofaBody, "extension one\n", "two\n"));
  ASSERT_TRUE(with_extensions.ok()) << with_extensions.status();
  EXPECT_EQ(with_extensions->size, 20852163u);
  ExpectCode(ParseCheckpoint(absl::StrCat(kSofaBody, "\n")).status(),
             absl::StatusCode::kInvalidArgument, "empty extension");
  ExpectCode(ParseCheckpoint(absl::StrCat(kSofaBody, "ext\n\nmore\n")).status(),
             absl::StatusCode::kInvalidArgument, "empty extension in the middle");
  ExpectCode(ParseCheckpoint(absl::StrCat(kSofaBody, "ext")).status(),
             absl::StatusCode::kInvalidArgument, "unterminated extension");
}

TEST_F(CheckpointTest, NonCanonicalSizesAreRejected) {
  for (absl::string_view size :
       {"01", "00", "-1", "+1", "-0", "", " 1", "1 ", "1\t", "18446744073709551616",
        "99999999999999999999", "184467440737095516150", "000000000000000000001", "1e3", "0x10",
        "1_000", "1.0", "\xef\xbc\x91" /* fullwidth 1 */}) {
    const std::string body =
        absl::StrCat("origin\n", size, "\n", "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
    absl::Status status = ParseCheckpoint(body).status();
    ExpectCode(status, absl::StatusCode::kInvalidArgument, body);
    EXPECT_NE(status.message().find("line 2"), absl::string_view::npos) << status;
  }
  absl::StatusOr<Checkpoint> max = ParseCheckpoint(
      "origin\n18446744073709551615\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ(max->size, std::numeric_limits<uint64_t>::max());
}

TEST_F(CheckpointTest, RootMustBeCanonicalBase64OfThirtyTwoBytes) {
  const std::string root31 = absl::Base64Escape(std::string(31, 'r'));
  const std::string root33 = absl::Base64Escape(std::string(33, 'r'));
  for (absl::string_view root : {
           absl::string_view(root31),
           absl::string_view(root33),
           absl::string_view(""),
           absl::string_view("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I"),    // unpadded
           absl::string_view("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=="),  // over-padded
           absl::string_view("CsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I="),   // URL alphabet
           absl::string_view("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J="),   // trailing bits
           absl::string_view("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2 MPA3j2jxq2I="),  // space
           absl::string_view(" CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="),
           absl::string_view("not base64 at all!"),
           absl::string_view("0a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223242526272829"),
       }) {
    const std::string body = absl::StrCat("origin\n5\n", root, "\n");
    absl::Status status = ParseCheckpoint(body).status();
    ExpectCode(status, absl::StatusCode::kInvalidArgument, body);
    EXPECT_NE(status.message().find("line 3"), absl::string_view::npos) << status;
  }
}

TEST_F(CheckpointTest, MalformedBodiesAreRejected) {
  for (absl::string_view body : {
           "", "\n", "origin\n", "origin\n5\n",
           "\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",            // empty origin
           "origin\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",        // no final newline
           "ori\x01gin\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  // control character
           "ori\x7fgin\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
           "ori\xffgin\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",          // not UTF-8
           "ori\xc0\xafgin\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",      // overlong '/'
           "ori\xed\xa0\x80gin\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  // surrogate
           "origin\r\n5\r\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\r\n",
           "origin\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n5\n",  // swapped lines
       }) {
    ExpectCode(ParseCheckpoint(body).status(), absl::StatusCode::kInvalidArgument, body);
  }
  for (absl::string_view origin : {"\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xf4\x90\x80\x80",
                                   "\xf8\x88\x80\x80\x80", "\x80", "a\xe2\x80", "a\xf0\x9f\x93"}) {
    const std::string body =
        absl::StrCat(origin, "\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
    ExpectCode(ParseCheckpoint(body).status(), absl::StatusCode::kInvalidArgument, body);
  }
  // A non-ASCII origin is fine if it is UTF-8 (two-, three- and four-byte forms).
  for (absl::string_view origin :
       {"caf\xc3\xa9.example", "\xe2\x82\xac", "\xf0\x9f\x93\x9c", "\xf4\x8f\xbf\xbf"}) {
    const std::string body =
        absl::StrCat(origin, "\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
    absl::StatusOr<Checkpoint> checkpoint = ParseCheckpoint(body);
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
    EXPECT_EQ(checkpoint->origin, origin);
  }
}

// --- Signing and opening checkpoints ---------------------------------------

TEST_F(CheckpointTest, SignedCheckpointOpens) {
  NoteSigner signer = Signer(key_.get());
  EXPECT_EQ(signer.name(), kOrigin);
  EXPECT_EQ(signer.key_id(), NoteKeyId(kOrigin, key_->public_key()));
  NoteVerifier verifier = MustParseVerifier(signer.VerifierKey());
  EXPECT_EQ(verifier.name(), kOrigin);
  EXPECT_EQ(verifier.key_id(), signer.key_id());

  const Checkpoint checkpoint = SampleCheckpoint();
  const std::string note = signer.Sign(FormatCheckpoint(checkpoint));
  EXPECT_EQ(note.rfind(absl::StrCat(FormatCheckpoint(checkpoint), "\n\u2014 ", kOrigin, " "), 0),
            0u);
  absl::StatusOr<Checkpoint> opened = OpenCheckpoint(note, verifier);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->origin, checkpoint.origin);
  EXPECT_EQ(opened->size, checkpoint.size);
  EXPECT_EQ(opened->root, checkpoint.root);

  // Signing is deterministic, so a checkpoint has exactly one signed form.
  EXPECT_EQ(signer.Sign(FormatCheckpoint(checkpoint)), note);
}

TEST_F(CheckpointTest, CosignedCheckpointOpensWithEitherKey) {
  // A second signature by another key (a witness) is ignored by the log's verifier.
  NoteSigner log = Signer(key_.get());
  NoteSigner witness = Signer(other_key_.get(), "witness.example");
  const std::string body = FormatCheckpoint(SampleCheckpoint());
  const std::string log_note = log.Sign(body);
  const std::string witness_note = witness.Sign(body);
  const std::string both =
      absl::StrCat(log_note, witness_note.substr(witness_note.rfind("\n\n") + 2));
  EXPECT_TRUE(OpenCheckpoint(both, MustParseVerifier(log.VerifierKey())).ok());
  absl::StatusOr<std::string> text = MustParseVerifier(witness.VerifierKey()).Open(both);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, body);
}

TEST_F(CheckpointTest, OpenCheckpointRequiresOriginToEqualKeyName) {
  NoteSigner signer = Signer(key_.get(), "other.example/log");
  const std::string note = signer.Sign(FormatCheckpoint(SampleCheckpoint()));
  NoteVerifier verifier = MustParseVerifier(signer.VerifierKey());
  EXPECT_TRUE(verifier.Open(note).ok());
  ExpectCode(OpenCheckpoint(note, verifier).status(), absl::StatusCode::kInvalidArgument, note);
}

TEST_F(CheckpointTest, OpenCheckpointRejectsASignedNoteThatIsNotACheckpoint) {
  NoteSigner signer = Signer(key_.get());
  NoteVerifier verifier = MustParseVerifier(signer.VerifierKey());
  for (absl::string_view text : {"hello\n", "\n", "leadvault.example/audit\n01\nAAAA\n"}) {
    const std::string note = signer.Sign(text);
    EXPECT_TRUE(verifier.Open(note).ok()) << absl::CEscape(text);
    ExpectCode(OpenCheckpoint(note, verifier).status(), absl::StatusCode::kInvalidArgument, note);
  }
}

TEST_F(CheckpointTest, ForgedSignatureBytesAreRejected) {
  NoteSigner signer = Signer(key_.get());
  NoteVerifier verifier = MustParseVerifier(signer.VerifierKey());
  const std::string note = signer.Sign(FormatCheckpoint(SampleCheckpoint()));
  ASSERT_TRUE(verifier.Open(note).ok());
  // Bytes 0-3 are the key id (the line then names an unknown key), 4-67 the signature.
  for (size_t i = 0; i < 4 + keys::kEd25519SignatureSize; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      const std::string forged = EditSignature(
          note, [&](std::string& raw) { raw[i] = static_cast<char>(raw[i] ^ (1 << bit)); });
      ASSERT_NE(forged, note);
      ExpectCode(verifier.Open(forged).status(), absl::StatusCode::kPermissionDenied, forged);
    }
  }
}

TEST_F(CheckpointTest, EveryByteOfTheSignedNoteIsProtected) {
  NoteSigner signer = Signer(key_.get());
  NoteVerifier verifier = MustParseVerifier(signer.VerifierKey());
  const std::string note = signer.Sign(FormatCheckpoint(SampleCheckpoint()));
  for (size_t i = 0; i < note.size(); ++i) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x20}, uint8_t{0x80}}) {
      std::string bad = note;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      absl::Status status = OpenCheckpoint(bad, verifier).status();
      EXPECT_TRUE(status.code() == absl::StatusCode::kInvalidArgument ||
                  status.code() == absl::StatusCode::kPermissionDenied)
          << "byte " << i << " mask " << int{mask} << ": " << status;
    }
  }
  // Every proper prefix, and the note with any one byte removed, is refused too.
  for (size_t n = 0; n < note.size(); ++n) {
    EXPECT_FALSE(verifier.Open(note.substr(0, n)).ok()) << n;
    EXPECT_FALSE(verifier.Open(note.substr(0, n) + note.substr(n + 1)).ok()) << n;
  }
}

TEST_F(CheckpointTest, WrongKeyIsPermissionDenied) {
  NoteSigner signer = Signer(key_.get());
  const std::string note = signer.Sign(FormatCheckpoint(SampleCheckpoint()));
  // Same name, another key: a different key id, so the signature is unknown.
  NoteVerifier other = MustParseVerifier(Signer(other_key_.get()).VerifierKey());
  ExpectCode(other.Open(note).status(), absl::StatusCode::kPermissionDenied, note);
  // Another key's signature relabelled with this key's id: known key, bad signature.
  const uint32_t id = signer.key_id();
  const std::string relabelled = EditSignature(
      Signer(other_key_.get()).Sign(FormatCheckpoint(SampleCheckpoint())), [id](std::string& raw) {
        for (int k = 0; k < 4; ++k) raw[k] = static_cast<char>(id >> (24 - 8 * k));
      });
  NoteVerifier verifier = MustParseVerifier(signer.VerifierKey());
  ExpectCode(verifier.Open(relabelled).status(), absl::StatusCode::kPermissionDenied, relabelled);
}

TEST_F(CheckpointTest, SignatureByUnknownKeyOnlyIsPermissionDenied) {
  const std::string body = FormatCheckpoint(SampleCheckpoint());
  const std::string note = Signer(other_key_.get(), "stranger.example").Sign(body);
  ExpectCode(MustParseVerifier(Signer(key_.get()).VerifierKey()).Open(note).status(),
             absl::StatusCode::kPermissionDenied, note);
}

TEST_F(CheckpointTest, TextChangedAfterSigningIsPermissionDenied) {
  NoteSigner signer = Signer(key_.get());
  NoteVerifier verifier = MustParseVerifier(signer.VerifierKey());
  Checkpoint checkpoint = SampleCheckpoint();
  const std::string note = signer.Sign(FormatCheckpoint(checkpoint));
  const std::string signature_block = note.substr(note.rfind("\n\n") + 1);
  checkpoint.size += 1;
  const std::string grown = FormatCheckpoint(checkpoint) + signature_block;
  ExpectCode(OpenCheckpoint(grown, verifier).status(), absl::StatusCode::kPermissionDenied, grown);
  // An extension line slipped in after signing.
  const std::string extended =
      absl::StrCat(note.substr(0, note.rfind("\n\n") + 1), "extra\n", signature_block);
  ExpectCode(OpenCheckpoint(extended, verifier).status(), absl::StatusCode::kPermissionDenied,
             extended);
}

TEST_F(CheckpointTest, RepeatedSignatureByTheKeyMustAlsoVerify) {
  NoteSigner signer = Signer(key_.get());
  NoteVerifier verifier = MustParseVerifier(signer.VerifierKey());
  const std::string note = signer.Sign(FormatCheckpoint(SampleCheckpoint()));
  const std::string line = note.substr(note.rfind("\n\n") + 2);
  EXPECT_TRUE(verifier.Open(note + line).ok());  // an identical repeat
  const std::string bad_line = EditSignature(absl::StrCat("x\n\n", line), [](std::string& raw) {
    raw[10] = static_cast<char>(raw[10] ^ 1);
  });
  const std::string with_bad = note + bad_line.substr(3);
  ExpectCode(verifier.Open(with_bad).status(), absl::StatusCode::kPermissionDenied, with_bad);
}

TEST_F(CheckpointTest, StructuralDamageIsInvalidArgument) {
  NoteSigner signer = Signer(key_.get());
  NoteVerifier verifier = MustParseVerifier(signer.VerifierKey());
  const std::string body = FormatCheckpoint(SampleCheckpoint());
  const std::string note = signer.Sign(body);
  const std::string line = note.substr(body.size() + 1);         // "— <name> <base64>\n"
  const std::string sig_b64 = line.substr(line.rfind(' ') + 1);  // "<base64>\n"
  const std::string origin(kOrigin);

  const std::vector<std::string> malformed = {
      body + line,                      // missing blank line
      note.substr(0, note.size() - 1),  // missing final newline
      body + "\n",                      // no signature lines
      body + "\n" + line + "\n",        // trailing blank line
      body + "\n" + line + "not a signature\n",
      body + "\n- " + origin + " " + sig_b64,                 // ASCII hyphen, not an em dash
      body + "\n\u2013 " + origin + " " + sig_b64,            // en dash
      body + "\n\u2014" + origin + " " + sig_b64,             // no space after the dash
      body + "\n\u2014  " + origin + " " + sig_b64,           // two spaces
      body + "\n\u2014 " + origin + "\n",                     // no signature
      body + "\n\u2014 " + origin + " \n",                    // empty signature
      body + "\n\u2014 " + origin + " AAAAAA==\n",            // a key id and nothing else
      body + "\n\u2014 " + origin + " !!!!\n",                // not base64
      body + "\n\u2014 " + origin + "  " + sig_b64,           // two spaces before the signature
      body + "\n" + line.substr(0, line.size() - 2) + "\n",   // unpadded base64
      body + "\n" + line.substr(0, line.size() - 1) + "=\n",  // over-padded base64
      body + "\n" + line.substr(0, line.size() - 1) + " \n",  // trailing space
      body + "\n\u2014 a+b " + sig_b64,                       // '+' in the key name
      body + "\n\u2014 a\u00a0b " + sig_b64,                  // no-break space in the key name
      body + "\n\u2014 a\u3000b " + sig_b64,                  // ideographic space in the key name
      absl::StrReplaceAll(note, {{"\n", "\r\n"}}),            // CRLF line ends
      std::string("\0", 1) + note,                            // NUL byte
      note.substr(0, 5) + "\t" + note.substr(6),              // tab in the text
      note.substr(0, 5) + "\xc3" + note.substr(6),            // truncated UTF-8 in the text
  };
  for (const std::string& bad : malformed) {
    ExpectCode(OpenCheckpoint(bad, verifier).status(), absl::StatusCode::kInvalidArgument, bad);
  }

  // Well formed, but the text is not what was signed.
  const std::vector<std::string> unsigned_text = {
      body + "\n\n" + line,   // splits at the last blank line: the text is body + "\n"
      "\xef\xbb\xbf" + note,  // a byte order mark is UTF-8 and changes the text
  };
  for (const std::string& bad : unsigned_text) {
    ExpectCode(OpenCheckpoint(bad, verifier).status(), absl::StatusCode::kPermissionDenied, bad);
  }
}

TEST_F(CheckpointTest, HugeAndGarbageInputsAreRejectedCleanly) {
  NoteVerifier verifier = MustParseVerifier(Signer(key_.get()).VerifierKey());
  std::vector<std::string> inputs = {
      "",
      "\n",
      "\n\n",
      "\n\n\n",
      "\n\n\u2014 \n",
      "\u2014",
      "\xe2\x80",  // truncated em dash
      "x\n\n\xe2\x80\x94",
      std::string(10 << 20, 'A'),
      std::string(10 << 20, '\n'),
      std::string(1 << 20, '\xff'),
      absl::StrCat(std::string(1 << 20, 'a'), "\n\n"),
  };
  // A signature line with a 4 MiB base64 blob by an unknown key.
  inputs.push_back(absl::StrCat("x\n\n\u2014 stranger ", std::string(4 << 20, 'A'), "\n"));
  // Many lines that look like signatures.
  std::string many = "x\n\n";
  for (int i = 0; i < 100000; ++i) absl::StrAppend(&many, "\u2014 a AAAAAAA=\n");
  inputs.push_back(std::move(many));
  SeededRandom random(99);
  for (int i = 0; i < 200; ++i) inputs.push_back(random.Bytes(1 + i * 37));

  for (const std::string& input : inputs) {
    absl::StatusOr<Checkpoint> opened = OpenCheckpoint(input, verifier);
    ASSERT_FALSE(opened.ok());
    EXPECT_TRUE(opened.status().code() == absl::StatusCode::kInvalidArgument ||
                opened.status().code() == absl::StatusCode::kPermissionDenied)
        << opened.status();
    // The message never echoes the input back.
    if (input.size() >= 16) {
      EXPECT_EQ(opened.status().message().find(input.substr(0, 16)), absl::string_view::npos);
    }
    EXPECT_FALSE(ParseCheckpoint(input).ok());
    EXPECT_EQ(NoteVerifier::Parse(input).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST_F(CheckpointTest, RandomMutationsOfAValidNoteNeverOpenToAnotherText) {
  NoteSigner signer = Signer(key_.get());
  NoteVerifier verifier = MustParseVerifier(signer.VerifierKey());
  const std::string body = FormatCheckpoint(SampleCheckpoint());
  const std::string note = signer.Sign(body);
  SeededRandom random(5);
  for (int i = 0; i < 3000; ++i) {
    std::string mutated = note;
    uint8_t r[4];
    random.Fill(r, sizeof r);
    const size_t at = (size_t{r[0]} << 8 | r[1]) % mutated.size();
    switch (r[2] % 4) {
      case 0:
        mutated[at] = static_cast<char>(r[3]);
        break;
      case 1:
        mutated.insert(at, 1, static_cast<char>(r[3]));
        break;
      case 2:
        mutated.erase(at, 1 + r[3] % 8);
        break;
      default:
        mutated.insert(at, mutated.substr((at * 7) % mutated.size(), 1 + r[3] % 16));
        break;
    }
    absl::StatusOr<std::string> text = verifier.Open(mutated);
    if (text.ok()) {
      EXPECT_EQ(*text, body) << absl::CEscape(mutated);
    } else {
      EXPECT_TRUE(text.status().code() == absl::StatusCode::kInvalidArgument ||
                  text.status().code() == absl::StatusCode::kPermissionDenied)
          << text.status();
    }
  }
}

TEST_F(CheckpointTest, SignerRejectsInvalidNamesAndNullKey) {
  for (absl::string_view name : {"", "a b", "a+b", "a\nb", "a\tb", "a\x01", "\xff", "a\u00a0b",
                                 "a\u2028b", "a\u3000b", "a\xc0\xaf"}) {
    ExpectCode(NoteSigner::Create(std::string(name), key_.get()).status(),
               absl::StatusCode::kInvalidArgument, name);
  }
  ExpectCode(NoteSigner::Create("ok.example", nullptr).status(), absl::StatusCode::kInvalidArgument,
             "null key");
  EXPECT_TRUE(NoteSigner::Create("caf\xc3\xa9.example/log-1", key_.get()).ok());
}

TEST_F(CheckpointTest, NoteKeyIdFollowsTheSignedNoteRule) {
  // SHA-256("PeterNeumann" || 0x0A || 0x01 || public key)[:4] for the Go example key.
  std::string encoded;
  ASSERT_TRUE(absl::Base64Unescape("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", &encoded));
  ASSERT_EQ(encoded.size(), 33u);
  EXPECT_EQ(NoteKeyId("PeterNeumann", absl::string_view(encoded).substr(1)), kPeterKeyId);
  std::string enoch;
  ASSERT_TRUE(absl::Base64Unescape("ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop", &enoch));
  EXPECT_EQ(NoteKeyId("EnochRoot", absl::string_view(enoch).substr(1)), kEnochKeyId);
  EXPECT_NE(NoteKeyId("PeterNeumanN", absl::string_view(encoded).substr(1)), kPeterKeyId);
}

}  // namespace
}  // namespace leadvault::audit
