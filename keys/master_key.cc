#include "keys/master_key.h"

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace leadvault::keys {
namespace {

static_assert(crypto_pwhash_SALTBYTES == 16);

constexpr absl::string_view kKeyCheckLabel = "leadvault key-check v1";
constexpr size_t kHexKeySize = 2 * kKeySize;
// Longest accepted key encoding: kMaxMasterKeys lines of 64 hex characters.
constexpr size_t kMaxKeyEncoding = kMaxMasterKeys * (kHexKeySize + 1);
constexpr size_t kMaxCommandOutput = 4096;
static_assert(kMaxKeyEncoding <= kMaxCommandOutput);
constexpr absl::string_view kEncodingRule =
    "32 bytes, or 1 to 8 lines of 64 hex characters (one key each)";

std::string ErrnoText(int err) { return std::strerror(err); }

void CloseFd(int fd) {
  if (fd >= 0) ::close(fd);
}

// Reads until EOF or until `cap` bytes are in `buf`. Returns the byte count, or -1
// with errno set. `*truncated` is set if more bytes remained after `cap`.
ssize_t ReadAll(int fd, uint8_t* buf, size_t cap, bool* truncated) {
  size_t total = 0;
  *truncated = false;
  while (true) {
    uint8_t probe;
    uint8_t* dst = total < cap ? buf + total : &probe;
    size_t want = total < cap ? cap - total : 1;
    ssize_t n = ::read(fd, dst, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    if (total >= cap) {
      sodium_memzero(&probe, 1);
      *truncated = true;
      break;
    }
    total += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(total);
}

absl::Status WriteAll(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("write failed: ", ErrnoText(errno)));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Decodes a key encoding (master_key.h): exactly 32 raw bytes, or one to
// kMaxMasterKeys lines of 64 hex characters, the last newline optional.
// Returns no keys on any other shape.
std::vector<SecretBytes> DecodeKeys(const uint8_t* data, size_t size) {
  std::vector<SecretBytes> keys;
  if (size == kKeySize) {
    keys.push_back(
        SecretBytes::GuardedCopyFrom(absl::string_view(reinterpret_cast<const char*>(data), size)));
    return keys;
  }
  for (size_t pos = 0; pos < size; pos += kHexKeySize + 1) {
    const size_t end = pos + kHexKeySize;
    if (end > size || (end < size && data[end] != '\n') || keys.size() == kMaxMasterKeys) {
      return {};
    }
    SecretBytes key = SecretBytes::Guarded(kKeySize);
    size_t bin_len = 0;
    const char* hex_end = nullptr;
    const char* hex = reinterpret_cast<const char*>(data + pos);
    if (sodium_hex2bin(key.data(), key.size(), hex, kHexKeySize, nullptr, &bin_len, &hex_end) !=
            0 ||
        bin_len != kKeySize || hex_end != hex + kHexKeySize) {
      return {};
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

// FAILED_PRECONDITION (`code` otherwise) naming `what` if two of `keys` are equal.
absl::Status CheckDistinct(const std::vector<SecretBytes>& keys, absl::string_view what,
                           absl::StatusCode code = absl::StatusCode::kFailedPrecondition) {
  for (size_t i = 0; i < keys.size(); ++i) {
    for (size_t j = i + 1; j < keys.size(); ++j) {
      if (ConstantTimeEquals(keys[i].view(), keys[j].view())) {
        return absl::Status(code, absl::StrCat(what, " holds the same key twice"));
      }
    }
  }
  return absl::OkStatus();
}

// Fsyncs the directory holding `path`, so a new file's directory entry is durable.
void SyncParentDir(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the file itself is already synced
  ::fsync(fd);
  CloseFd(fd);
}

// Creates `path` (mode 0600, never overwriting) holding `data`, synced to disk.
// On failure after creation the partial file is removed.
absl::Status CreateSecretFile(const std::string& path, absl::string_view what, const uint8_t* data,
                              size_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat(what, " ", path, " already exists"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", path, " cannot be created: ", ErrnoText(errno)));
  }
  absl::Status status;
  if (::fchmod(fd, 0600) != 0) {  // the umask may have cleared bits; never widens
    status = absl::InternalError("fchmod failed");
  }
  if (status.ok()) status = WriteAll(fd, data, size);
  if (status.ok() && ::fsync(fd) != 0) {
    status = absl::InternalError("fsync failed");
  }
  if (::close(fd) != 0 && status.ok()) {
    status = absl::InternalError("close failed");
  }
  if (!status.ok()) {
    ::unlink(path.c_str());
    return absl::Status(status.code(), absl::StrCat(what, " ", path, ": ", status.message()));
  }
  SyncParentDir(path);
  return absl::OkStatus();
}

class KeyFileProvider final : public MasterKeyProvider {
 public:
  explicit KeyFileProvider(std::string path) : path_(std::move(path)) {}

  absl::StatusOr<std::vector<SecretBytes>> LoadAll() override {
    const std::string prefix = absl::StrCat("master key file ", path_);
    struct stat st;
    if (::lstat(path_.c_str(), &st) != 0) {
      if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(prefix, " does not exist"));
      return absl::FailedPreconditionError(
          absl::StrCat(prefix, " cannot be inspected: ", ErrnoText(errno)));
    }
    if (S_ISLNK(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(prefix, " must not be a symlink"));
    }
    absl::Status rules = CheckRules(prefix, st);
    if (!rules.ok()) return rules;

    int fd = ::open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(prefix, " cannot be opened: ", ErrnoText(errno)));
    }
    // Re-check the opened file: the path may have been swapped since lstat.
    struct stat fst;
    if (::fstat(fd, &fst) != 0 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
      CloseFd(fd);
      return absl::FailedPreconditionError(absl::StrCat(prefix, " changed while being opened"));
    }
    rules = CheckRules(prefix, fst);
    if (!rules.ok()) {
      CloseFd(fd);
      return rules;
    }
    SecretBytes raw = SecretBytes::Guarded(kMaxKeyEncoding);
    bool truncated = false;
    ssize_t n = ReadAll(fd, raw.data(), raw.size(), &truncated);
    int read_errno = errno;
    CloseFd(fd);
    if (n < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(prefix, " cannot be read: ", ErrnoText(read_errno)));
    }
    std::vector<SecretBytes> keys;
    if (!truncated) keys = DecodeKeys(raw.data(), static_cast<size_t>(n));
    if (keys.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(prefix, " must hold ", kEncodingRule));
    }
    absl::Status distinct = CheckDistinct(keys, prefix);
    if (!distinct.ok()) return distinct;
    return keys;
  }

  std::string Describe() const override { return absl::StrCat("key file ", path_); }

 private:
  static absl::Status CheckRules(const std::string& prefix, const struct stat& st) {
    if (!S_ISREG(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(prefix, " must be a regular file"));
    }
    if ((st.st_mode & 0777) != 0600) {
      return absl::FailedPreconditionError(absl::StrCat(prefix, " must have mode 0600"));
    }
    if (st.st_uid != ::geteuid()) {
      return absl::FailedPreconditionError(
          absl::StrCat(prefix, " must be owned by the daemon's user"));
    }
    return absl::OkStatus();
  }

  const std::string path_;
};

// Reads the salt at `path`, creating it with random bytes on first use.
absl::Status LoadOrCreateSalt(const std::string& path, Random& random,
                              uint8_t (&salt)[crypto_pwhash_SALTBYTES]) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      struct stat st;
      if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        CloseFd(fd);
        return absl::FailedPreconditionError(
            absl::StrCat("salt file ", path, " must be a regular file"));
      }
      bool truncated = false;
      ssize_t n = ReadAll(fd, salt, sizeof salt, &truncated);
      CloseFd(fd);
      if (n != static_cast<ssize_t>(sizeof salt) || truncated) {
        return absl::FailedPreconditionError(
            absl::StrCat("salt file ", path, " must hold 16 bytes"));
      }
      return absl::OkStatus();
    }
    if (errno != ENOENT) {
      return absl::FailedPreconditionError(
          absl::StrCat("salt file ", path, " cannot be opened: ", ErrnoText(errno)));
    }
    random.Fill(salt, sizeof salt);
    absl::Status created = CreateSecretFile(path, "salt file", salt, sizeof salt);
    if (created.ok()) return created;
    // Lost a race with another creator: read theirs.
    if (!absl::IsAlreadyExists(created)) return created;
  }
  return absl::FailedPreconditionError(absl::StrCat("salt file ", path, " cannot be read"));
}

class PassphraseProvider final : public MasterKeyProvider {
 public:
  PassphraseProvider(SecretBytes passphrases, std::string salt_path, Argon2Params params,
                     Random& random)
      : passphrases_(std::move(passphrases)),
        salt_path_(std::move(salt_path)),
        params_(params),
        random_(random) {}

  absl::StatusOr<std::vector<SecretBytes>> LoadAll() override {
    // One passphrase per line, the last newline optional.
    std::vector<absl::string_view> lines;
    const absl::string_view all = passphrases_.view();
    for (size_t pos = 0; pos < all.size();) {
      size_t end = all.find('\n', pos);
      if (end == absl::string_view::npos) end = all.size();
      lines.push_back(all.substr(pos, end - pos));
      pos = end + 1;
    }
    if (lines.empty()) {
      return absl::InvalidArgumentError("master key passphrase must not be empty");
    }
    for (absl::string_view line : lines) {
      if (line.empty()) {
        return absl::InvalidArgumentError("master key passphrase must not be empty (nor a line)");
      }
    }
    if (lines.size() > kMaxMasterKeys) {
      return absl::InvalidArgumentError("master key passphrases: at most 8 (one per line)");
    }
    if (params_.ops_limit < crypto_pwhash_OPSLIMIT_MIN ||
        params_.ops_limit > crypto_pwhash_OPSLIMIT_MAX ||
        params_.mem_limit < crypto_pwhash_MEMLIMIT_MIN ||
        params_.mem_limit > crypto_pwhash_MEMLIMIT_MAX) {
      return absl::InvalidArgumentError("Argon2id parameters out of libsodium's range");
    }
    uint8_t salt[crypto_pwhash_SALTBYTES];
    absl::Status s = LoadOrCreateSalt(salt_path_, random_, salt);
    if (!s.ok()) return s;
    std::vector<SecretBytes> keys;
    for (absl::string_view line : lines) {
      SecretBytes key = SecretBytes::Guarded(kKeySize);
      if (crypto_pwhash(key.data(), key.size(), line.data(), line.size(), salt, params_.ops_limit,
                        params_.mem_limit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return absl::ResourceExhaustedError(
            "Argon2id key derivation failed (not enough memory for the configured limit)");
      }
      keys.push_back(std::move(key));
    }
    s = CheckDistinct(keys, "master key passphrases", absl::StatusCode::kInvalidArgument);
    if (!s.ok()) return s;
    return keys;
  }

  std::string Describe() const override {
    return absl::StrCat("passphrase (salt ", salt_path_, ")");
  }

 private:
  const SecretBytes passphrases_;
  const std::string salt_path_;
  const Argon2Params params_;
  Random& random_;
};

class CommandProvider final : public MasterKeyProvider {
 public:
  explicit CommandProvider(std::string command) : command_(std::move(command)) {}

  absl::StatusOr<std::vector<SecretBytes>> LoadAll() override {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      return absl::InternalError(
          absl::StrCat("master_key_command: pipe failed: ", ErrnoText(errno)));
    }
    const char* cmd = command_.c_str();
    pid_t pid = ::fork();
    if (pid < 0) {
      int err = errno;
      CloseFd(fds[0]);
      CloseFd(fds[1]);
      return absl::InternalError(absl::StrCat("master_key_command: fork failed: ", ErrnoText(err)));
    }
    if (pid == 0) {
      // Child: only async-signal-safe calls until exec.
      if (::dup2(fds[1], STDOUT_FILENO) < 0) ::_exit(127);
      ::execl("/bin/sh", "sh", "-c", cmd, static_cast<char*>(nullptr));
      ::_exit(127);
    }
    CloseFd(fds[1]);
    SecretBytes output = SecretBytes::Guarded(kMaxCommandOutput);
    bool truncated = false;
    ssize_t n = ReadAll(fds[0], output.data(), output.size(), &truncated);
    int read_errno = errno;
    CloseFd(fds[0]);
    if (truncated) ::kill(pid, SIGKILL);  // do not wait on a command that keeps writing

    int wstatus = 0;
    pid_t waited;
    do {
      waited = ::waitpid(pid, &wstatus, 0);
    } while (waited < 0 && errno == EINTR);
    if (waited < 0) {
      return absl::InternalError(
          absl::StrCat("master_key_command: waitpid failed: ", ErrnoText(errno)));
    }
    if (n < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("master_key_command output cannot be read: ", ErrnoText(read_errno)));
    }
    if (truncated) {
      return absl::FailedPreconditionError(
          absl::StrCat("master_key_command must print ", kEncodingRule, " (output too long)"));
    }
    if (WIFSIGNALED(wstatus)) {
      return absl::FailedPreconditionError(
          absl::StrCat("master_key_command killed by signal ", WTERMSIG(wstatus)));
    }
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("master_key_command exited with status ",
                       WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1));
    }
    std::vector<SecretBytes> keys = DecodeKeys(output.data(), static_cast<size_t>(n));
    if (keys.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("master_key_command must print ", kEncodingRule));
    }
    absl::Status distinct = CheckDistinct(keys, "master_key_command's output");
    if (!distinct.ok()) return distinct;
    return keys;
  }

  std::string Describe() const override { return "command"; }

 private:
  const std::string command_;
};

}  // namespace

std::vector<SecretBytes> DecodeMasterKeys(absl::string_view encoding) {
  return DecodeKeys(reinterpret_cast<const uint8_t*>(encoding.data()), encoding.size());
}

absl::StatusOr<SecretBytes> MasterKeyProvider::Load() {
  absl::StatusOr<std::vector<SecretBytes>> keys = LoadAll();
  if (!keys.ok()) return keys.status();
  if (keys->size() != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat(Describe(), ": holds ", keys->size(), " master keys where one is expected"));
  }
  return std::move(keys->front());
}

std::unique_ptr<MasterKeyProvider> NewKeyFileProvider(std::string path) {
  return std::make_unique<KeyFileProvider>(std::move(path));
}

absl::Status CreateKeyFile(const std::string& path, Random& random) {
  SecretBytes key = SecretBytes::Guarded(kKeySize);
  random.Fill(key.data(), key.size());
  return CreateSecretFile(path, "master key file", key.data(), key.size());
}

Argon2Params Argon2Params::Moderate() {
  return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}

Argon2Params Argon2Params::Interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

namespace {

class FixedKeysProvider final : public MasterKeyProvider {
 public:
  FixedKeysProvider(std::vector<SecretBytes> keys, std::string description)
      : keys_(std::move(keys)), description_(std::move(description)) {}

  absl::StatusOr<std::vector<SecretBytes>> LoadAll() override {
    std::vector<SecretBytes> copies;
    for (const SecretBytes& key : keys_) copies.push_back(SecretBytes::GuardedCopyFrom(key.view()));
    return copies;
  }

  std::string Describe() const override { return description_; }

 private:
  const std::vector<SecretBytes> keys_;
  const std::string description_;
};

}  // namespace

std::unique_ptr<MasterKeyProvider> NewFixedKeysProvider(std::vector<SecretBytes> keys,
                                                        std::string description) {
  return std::make_unique<FixedKeysProvider>(std::move(keys), std::move(description));
}

std::unique_ptr<MasterKeyProvider> NewPassphraseProvider(SecretBytes passphrases,
                                                         std::string salt_path, Argon2Params params,
                                                         Random& random) {
  return std::make_unique<PassphraseProvider>(std::move(passphrases), std::move(salt_path), params,
                                              random);
}

std::unique_ptr<MasterKeyProvider> NewCommandProvider(std::string command) {
  return std::make_unique<CommandProvider>(std::move(command));
}

std::string ComputeKeyCheck(const SecretBytes& kek) {
  if (kek.size() < crypto_generichash_KEYBYTES_MIN ||
      kek.size() > crypto_generichash_KEYBYTES_MAX) {
    std::abort();  // REQUIRES: a 32-byte KEK
  }
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<uint8_t*>(out.data()), out.size(),
                     reinterpret_cast<const uint8_t*>(kKeyCheckLabel.data()), kKeyCheckLabel.size(),
                     kek.data(), kek.size());
  return out;
}

bool VerifyKeyCheck(const SecretBytes& kek, absl::string_view stored) {
  if (kek.size() < crypto_generichash_KEYBYTES_MIN ||
      kek.size() > crypto_generichash_KEYBYTES_MAX) {
    return false;
  }
  return ConstantTimeEquals(ComputeKeyCheck(kek), stored);
}

}  // namespace leadvault::keys
