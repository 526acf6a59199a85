#include "keys/master_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "keys/secret_bytes.h"
#include "tests/testing/fakes.h"

namespace leadvault::keys {
namespace {

using ::leadvault::testing::SeededRandom;

// 32 bytes 0x00..0x1f, and their hex encoding.
constexpr absl::string_view kHexKey =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

constexpr absl::string_view kOtherHexKey =
    "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

// `n` distinct hex keys, one per line.
std::string HexKeys(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&out, absl::StrFormat("%02x", i), kHexKey.substr(2), "\n");
  }
  return out;
}
std::string EightKeys() { return HexKeys(8); }
std::string NineKeys() { return HexKeys(9); }

SecretBytes Bytes0To31() {
  SecretBytes key(32);
  for (size_t i = 0; i < 32; ++i) key.data()[i] = static_cast<uint8_t>(i);
  return key;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

class MasterKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = absl::StrCat(::testing::TempDir(), "/leadvault_keys_XXXXXX");
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(absl::string_view name) const { return absl::StrCat(dir_, "/", name); }

  // Writes `content` to a new file with exactly `mode`.
  std::string WriteFile(absl::string_view name, absl::string_view content, mode_t mode = 0600) {
    std::string path = Path(name);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    EXPECT_EQ(::fchmod(fd, mode), 0);
    ::close(fd);
    return path;
  }

  std::string ReadFile(const std::string& path) {
    std::string out;
    int fd = ::open(path.c_str(), O_RDONLY);
    EXPECT_GE(fd, 0);
    char buf[256];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
  }

  std::string dir_;
};

// ---- key file ----

TEST_F(MasterKeyTest, CreateKeyFileThenLoadRoundTrips) {
  SeededRandom random(1);
  const std::string path = Path("master.key");
  ASSERT_TRUE(CreateKeyFile(path, random).ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  const std::string on_disk = ReadFile(path);
  ASSERT_EQ(on_disk.size(), 32u);
  SeededRandom same(1);
  EXPECT_EQ(on_disk, same.Bytes(32));  // the bytes come from the injected Random

  auto provider = NewKeyFileProvider(path);
  auto key = provider->Load();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->view(), on_disk);
  EXPECT_TRUE(key->guarded());
  auto again = provider->Load();  // Load may be called more than once
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->Equals(*key));
  EXPECT_NE(provider->Describe().find(path), std::string::npos);
}

TEST_F(MasterKeyTest, CreateKeyFileIgnoresAPermissiveUmask) {
  SeededRandom random(1);
  mode_t old = ::umask(0);
  absl::Status status = CreateKeyFile(Path("k"), random);
  ::umask(old);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(ModeOf(Path("k")), 0600u);
}

TEST_F(MasterKeyTest, CreateKeyFileNeverOverwrites) {
  SeededRandom random(2);
  const std::string path = WriteFile("master.key", "existing");
  absl::Status status = CreateKeyFile(path, random);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_EQ(ReadFile(path), "existing");

  // Nor follows a dangling symlink to create its target.
  const std::string target = Path("target");
  ASSERT_EQ(::symlink(target.c_str(), Path("link").c_str()), 0);
  EXPECT_EQ(CreateKeyFile(Path("link"), random).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(::access(target.c_str(), F_OK), 0);
}

TEST_F(MasterKeyTest, CreateKeyFileInMissingDirectoryFails) {
  SeededRandom random(2);
  EXPECT_FALSE(CreateKeyFile(Path("no/such/dir/key"), random).ok());
}

TEST_F(MasterKeyTest, MissingFileIsNotFound) {
  EXPECT_EQ(NewKeyFileProvider(Path("absent"))->Load().status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(MasterKeyTest, RefusesGroupOrOtherBitsAndAnyModeButExactly0600) {
  const std::string raw(32, 'k');
  int i = 0;
  for (mode_t mode : {0644, 0640, 0604, 0660, 0700, 0400, 0666, 0611}) {
    const std::string path = WriteFile(absl::StrCat("key", i++), raw, mode);
    auto key = NewKeyFileProvider(path)->Load();
    ASSERT_FALSE(key.ok()) << std::oct << mode;
    EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(key.status().message().find("0600"), absl::string_view::npos) << key.status();
    EXPECT_NE(key.status().message().find(path), absl::string_view::npos) << key.status();
  }
}

TEST_F(MasterKeyTest, RefusesFilesOfTheWrongShape) {
  int i = 0;
  for (const std::string& content :
       {std::string(31, 'k'), std::string(33, 'k'), std::string(), std::string(64, 'k'),
        std::string(kHexKey.substr(0, 62)), absl::StrCat(kHexKey, "\n\n"),
        absl::StrCat(kHexKey, " "), absl::StrCat(kHexKey, "00"), absl::StrCat(" ", kHexKey),
        absl::StrCat(kHexKey.substr(0, 63), "g"), std::string(10000, 'a'),
        // A ring: no blank line, no short or bad line, at most 8 lines.
        absl::StrCat(kHexKey, "\n\n", kOtherHexKey), absl::StrCat(kHexKey, "\n", kOtherHexKey, "0"),
        absl::StrCat(kHexKey, "\n", kOtherHexKey.substr(0, 63), "g"),
        absl::StrCat(kHexKey, "\r\n", kOtherHexKey), NineKeys()}) {
    const std::string path = WriteFile(absl::StrCat("key", i++), content);
    auto key = NewKeyFileProvider(path)->LoadAll();
    ASSERT_FALSE(key.ok()) << content.size();
    EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(key.status().message().find(
                  "must hold 32 bytes, or 1 to 8 lines of 64 hex characters (one key each)"),
              absl::string_view::npos)
        << key.status();
    EXPECT_EQ(key.status().message().find("kkkk"), absl::string_view::npos);
    EXPECT_EQ(key.status().message().find(kHexKey.substr(0, 8)), absl::string_view::npos);
  }
}

TEST_F(MasterKeyTest, AKeyFileOfSeveralLinesIsARingAndLoadWantsExactlyOne) {
  for (const std::string& content : {absl::StrCat(kHexKey, "\n", kOtherHexKey),
                                     absl::StrCat(kOtherHexKey, "\n", kHexKey, "\n")}) {
    const std::string path = WriteFile("ring", content);
    auto keys = NewKeyFileProvider(path)->LoadAll();
    ASSERT_TRUE(keys.ok()) << keys.status();
    ASSERT_EQ(keys->size(), 2u);
    const bool ordered = (*keys)[0].Equals(Bytes0To31());
    EXPECT_TRUE((*keys)[ordered ? 0 : 1].Equals(Bytes0To31()));
    EXPECT_FALSE((*keys)[ordered ? 1 : 0].Equals(Bytes0To31()));
    EXPECT_TRUE((*keys)[0].guarded() && (*keys)[1].guarded());
    auto one = NewKeyFileProvider(path)->Load();
    EXPECT_EQ(one.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(one.status().message().find("holds 2 master keys where one is expected"),
              absl::string_view::npos)
        << one.status();
    ::unlink(path.c_str());
  }
  // The same key twice is a mistake, not a ring.
  auto twice = NewKeyFileProvider(
                   WriteFile("twice", absl::StrCat(kHexKey, "\n", absl::AsciiStrToUpper(kHexKey))))
                   ->LoadAll();
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(twice.status().message().find("holds the same key twice"), absl::string_view::npos);
  auto eight = NewKeyFileProvider(WriteFile("eight", EightKeys()))->LoadAll();
  ASSERT_TRUE(eight.ok()) << eight.status();
  EXPECT_EQ(eight->size(), 8u);
}

TEST_F(MasterKeyTest, AcceptsHexWithOrWithoutNewline) {
  const SecretBytes expected = Bytes0To31();
  int i = 0;
  for (const std::string& content :
       {std::string(kHexKey), absl::StrCat(kHexKey, "\n"), absl::AsciiStrToUpper(kHexKey)}) {
    auto key = NewKeyFileProvider(WriteFile(absl::StrCat("hex", i++), content))->Load();
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(key->size(), 32u);
    EXPECT_TRUE(key->Equals(expected));
  }
}

TEST_F(MasterKeyTest, Accepts32RawBytesEvenIfTheyLookLikeText) {
  const std::string raw(kHexKey.substr(0, 32));
  auto key = NewKeyFileProvider(WriteFile("raw", raw))->Load();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->view(), raw);
}

TEST_F(MasterKeyTest, RefusesSymlinkEvenToAGoodKeyFile) {
  const std::string target = WriteFile("real.key", std::string(32, 'k'));
  const std::string link = Path("link.key");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  auto key = NewKeyFileProvider(link)->Load();
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(key.status().message().find("symlink"), absl::string_view::npos) << key.status();
  EXPECT_TRUE(NewKeyFileProvider(target)->Load().ok());
}

TEST_F(MasterKeyTest, RefusesDirectoriesAndFifos) {
  ASSERT_EQ(::mkdir(Path("dir").c_str(), 0600), 0);
  auto key = NewKeyFileProvider(Path("dir"))->Load();
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(key.status().message().find("regular file"), absl::string_view::npos);
  ASSERT_EQ(::mkfifo(Path("fifo").c_str(), 0600), 0);
  EXPECT_EQ(NewKeyFileProvider(Path("fifo"))->Load().status().code(),
            absl::StatusCode::kFailedPrecondition);  // and does not block opening it
}

TEST_F(MasterKeyTest, RefusesFileOwnedByAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  const std::string path = WriteFile("theirs.key", std::string(32, 'k'));
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  auto key = NewKeyFileProvider(path)->Load();
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(key.status().message().find("owned by the daemon's user"), absl::string_view::npos)
      << key.status();
}

// ---- passphrase ----

SecretBytes Passphrase(absl::string_view s) { return SecretBytes::CopyFrom(s); }

TEST_F(MasterKeyTest, PassphraseSameSaltSameKeyAndSaltFileIsPrivate) {
  SeededRandom random(3);
  const std::string salt = Path("salt");
  auto first = NewPassphraseProvider(Passphrase("correct horse battery staple"), salt,
                                     Argon2Params::Interactive(), random)
                   ->Load();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->size(), 32u);
  EXPECT_TRUE(first->guarded());
  EXPECT_EQ(ModeOf(salt), 0600u);
  const std::string salt_bytes = ReadFile(salt);
  ASSERT_EQ(salt_bytes.size(), 16u);
  EXPECT_EQ(salt_bytes, SeededRandom(3).Bytes(16));

  // A new provider (a restart) with the same passphrase and salt file: same key, salt kept.
  SeededRandom other_random(4);
  auto second = NewPassphraseProvider(Passphrase("correct horse battery staple"), salt,
                                      Argon2Params::Interactive(), other_random)
                    ->Load();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->Equals(*first));
  EXPECT_EQ(ReadFile(salt), salt_bytes);

  // The key is libsodium's Argon2id of the passphrase and the stored salt.
  uint8_t expected[32];
  const std::string pass = "correct horse battery staple";
  ASSERT_EQ(crypto_pwhash(expected, sizeof expected, pass.data(), pass.size(),
                          reinterpret_cast<const uint8_t*>(salt_bytes.data()),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                          crypto_pwhash_ALG_ARGON2ID13),
            0);
  EXPECT_EQ(first->view(),
            absl::string_view(reinterpret_cast<const char*>(expected), sizeof expected));

  // A different passphrase gives a different key.
  auto wrong = NewPassphraseProvider(Passphrase("correct horse battery stapler"), salt,
                                     Argon2Params::Interactive(), random)
                   ->Load();
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  EXPECT_FALSE(wrong->Equals(*first));
}

TEST_F(MasterKeyTest, PassphraseDifferentSaltDifferentKey) {
  SeededRandom random(5);
  auto a =
      NewPassphraseProvider(Passphrase("pw"), Path("salt_a"), Argon2Params::Interactive(), random)
          ->Load();
  auto b =
      NewPassphraseProvider(Passphrase("pw"), Path("salt_b"), Argon2Params::Interactive(), random)
          ->Load();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(ReadFile(Path("salt_a")), ReadFile(Path("salt_b")));
  EXPECT_FALSE(a->Equals(*b));
}

TEST_F(MasterKeyTest, EmptyPassphraseIsRefusedBeforeTouchingTheDisk) {
  SeededRandom random(6);
  auto key = NewPassphraseProvider(SecretBytes(), Path("salt"), Argon2Params::Interactive(), random)
                 ->Load();
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(::access(Path("salt").c_str(), F_OK), 0);
}

TEST_F(MasterKeyTest, PassphraseRefusesMalformedSaltFile) {
  SeededRandom random(7);
  for (size_t size : {size_t{0}, size_t{15}, size_t{17}}) {
    const std::string salt = WriteFile(absl::StrCat("salt", size), std::string(size, 's'));
    auto key =
        NewPassphraseProvider(Passphrase("pw"), salt, Argon2Params::Interactive(), random)->Load();
    EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition) << size;
  }
}

TEST_F(MasterKeyTest, PassphrasesOnePerLineGiveOneKeyEach) {
  SeededRandom random(9);
  const std::string salt = Path("salt_ring");
  auto one =
      NewPassphraseProvider(Passphrase("first phrase"), salt, Argon2Params::Interactive(), random)
          ->Load();
  ASSERT_TRUE(one.ok()) << one.status();
  auto two = NewPassphraseProvider(Passphrase("second phrase\nfirst phrase\n"), salt,
                                   Argon2Params::Interactive(), random)
                 ->LoadAll();
  ASSERT_TRUE(two.ok()) << two.status();
  ASSERT_EQ(two->size(), 2u);
  EXPECT_FALSE((*two)[0].Equals(*one));
  EXPECT_TRUE((*two)[1].Equals(*one));  // the same salt: the same key as alone
  for (const char* bad : {"a\n\nb", "\n", "same\nsame", "1\n2\n3\n4\n5\n6\n7\n8\n9"}) {
    auto refused = NewPassphraseProvider(Passphrase(bad), salt, Argon2Params::Interactive(), random)
                       ->LoadAll();
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(refused.status().message().find("same\n"), absl::string_view::npos);
  }
}

TEST_F(MasterKeyTest, PassphraseRefusesOutOfRangeParams) {
  SeededRandom random(8);
  auto key =
      NewPassphraseProvider(Passphrase("pw"), Path("salt"), Argon2Params{0, 1}, random)->Load();
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Argon2ParamsTest, MapToLibsodiumLimits) {
  EXPECT_EQ(Argon2Params::Moderate().ops_limit, crypto_pwhash_OPSLIMIT_MODERATE);
  EXPECT_EQ(Argon2Params::Moderate().mem_limit, crypto_pwhash_MEMLIMIT_MODERATE);
  EXPECT_EQ(Argon2Params::Interactive().ops_limit, crypto_pwhash_OPSLIMIT_INTERACTIVE);
  EXPECT_EQ(Argon2Params::Interactive().mem_limit, crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

// ---- command ----

TEST(CommandProviderTest, HexOutputIsTheKey) {
  for (const std::string& cmd :
       {absl::StrCat("printf ", kHexKey), absl::StrCat("printf '%s\\n' ", kHexKey),
        absl::StrCat("echo ", kHexKey)}) {
    auto provider = NewCommandProvider(cmd);
    auto key = provider->Load();
    ASSERT_TRUE(key.ok()) << cmd << ": " << key.status();
    EXPECT_TRUE(key->Equals(Bytes0To31()));
    EXPECT_TRUE(key->guarded());
    EXPECT_EQ(provider->Describe().find(std::string(kHexKey)), std::string::npos);
  }
}

TEST(CommandProviderTest, TwoLinesOfHexAreTwoKeys) {
  auto keys = NewCommandProvider(absl::StrCat("printf '%s\\n%s\\n' ", kHexKey, " ", kOtherHexKey))
                  ->LoadAll();
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_TRUE((*keys)[0].Equals(Bytes0To31()));
  auto bad = NewCommandProvider(absl::StrCat("printf '%s\\n\\n' ", kHexKey))->LoadAll();
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(bad.status().message().find(kHexKey.substr(0, 8)), absl::string_view::npos);
}

TEST(CommandProviderTest, RawOutputIsTheKey) {
  auto key = NewCommandProvider("head -c 32 /dev/zero")->Load();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_TRUE(key->Equals(SecretBytes(32)));
}

TEST(CommandProviderTest, NonZeroExitFailsWithoutQuotingOutput) {
  auto key = NewCommandProvider(absl::StrCat("printf ", kHexKey, "; exit 3"))->Load();
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(key.status().message().find("exited with status 3"), absl::string_view::npos)
      << key.status();
  EXPECT_EQ(key.status().message().find(kHexKey.substr(0, 8)), absl::string_view::npos);

  key = NewCommandProvider("exit 3")->Load();
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(key.status().message(), "master_key_command exited with status 3");

  EXPECT_EQ(NewCommandProvider("/nonexistent/leadvault-kms")->Load().status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(CommandProviderTest, KilledBySignalFails) {
  auto key = NewCommandProvider("kill -9 $$")->Load();
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(key.status().message().find("signal 9"), absl::string_view::npos) << key.status();
}

TEST(CommandProviderTest, WrongShapeOutputFailsWithoutQuotingIt) {
  for (const std::string& cmd : std::initializer_list<std::string>{
           "printf 0123456789abcdef0123", "printf ''", "head -c 31 /dev/zero",
           "head -c 33 /dev/zero", absl::StrCat("printf '", kHexKey, "\\n\\n'"),
           absl::StrCat("printf ", kHexKey, "00")}) {
    auto key = NewCommandProvider(cmd)->Load();
    ASSERT_FALSE(key.ok()) << cmd;
    EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(key.status().message().find("01234567"), absl::string_view::npos);
    EXPECT_EQ(key.status().message().find(kHexKey.substr(0, 8)), absl::string_view::npos);
  }
}

TEST(CommandProviderTest, EndlessOutputIsCutOff) {
  auto key = NewCommandProvider("yes 0123456789abcdef")->Load();
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(key.status().message().find("01234567"), absl::string_view::npos);
}

// ---- key check ----

TEST(KeyCheckTest, RightKeyVerifiesWrongKeyDoesNot) {
  SeededRandom random(9);
  SecretBytes kek = SecretBytes::Guarded(32);
  random.Fill(kek.data(), kek.size());
  const std::string check = ComputeKeyCheck(kek);
  EXPECT_EQ(check.size(), 32u);
  EXPECT_EQ(check, ComputeKeyCheck(kek.Clone()));
  EXPECT_TRUE(VerifyKeyCheck(kek, check));
  for (size_t i = 0; i < kek.size(); ++i) {
    SecretBytes wrong = kek.Clone();
    wrong.data()[i] ^= 0x01;
    EXPECT_FALSE(VerifyKeyCheck(wrong, check)) << i;
  }
  EXPECT_FALSE(VerifyKeyCheck(kek, check.substr(0, 31)));
  EXPECT_FALSE(VerifyKeyCheck(kek, check + "x"));
  EXPECT_FALSE(VerifyKeyCheck(kek, ""));
  std::string flipped = check;
  flipped[31] = static_cast<char>(flipped[31] ^ 1);
  EXPECT_FALSE(VerifyKeyCheck(kek, flipped));
  EXPECT_EQ(check.find(std::string(kek.view())), std::string::npos);
}

}  // namespace
}  // namespace leadvault::keys
