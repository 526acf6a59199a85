// Master key (KEK) providers and the key-check value that detects a wrong key.
#ifndef LEADVAULT_KEYS_MASTER_KEY_H_
#define LEADVAULT_KEYS_MASTER_KEY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"

namespace leadvault::keys {

inline constexpr size_t kKeySize = 32;
// Most master keys one source may hold (the versions in use plus a new one).
inline constexpr size_t kMaxMasterKeys = 8;

// Produces the 32-byte master keys: one, or several while a rotation is under
// way (the vault tells them apart by their key-check values, so their order
// does not matter). LoadAll() may be called more than once (a rotation reads
// the source again) and returns guarded SecretBytes, never two equal keys.
// Errors never contain key bytes.
//
// The encoding of a key file and of a command's output: exactly 32 raw bytes
// (one key), or one to kMaxMasterKeys lines of 64 hex characters each, the
// last newline optional.
class MasterKeyProvider {
 public:
  virtual ~MasterKeyProvider() = default;
  virtual absl::StatusOr<std::vector<SecretBytes>> LoadAll() = 0;
  // The one key of a source that must hold exactly one (FAILED_PRECONDITION
  // if it holds several).
  absl::StatusOr<SecretBytes> Load();
  // A short description for logs ("key file /path", "passphrase", "command").
  virtual std::string Describe() const = 0;
};

// Decodes the encoding above: the keys (guarded), or none if `encoding` has
// any other shape. Duplicates are the caller's to refuse.
std::vector<SecretBytes> DecodeMasterKeys(absl::string_view encoding);

// Reads a key file (the encoding above). LoadAll() fails with
// FAILED_PRECONDITION, naming the path and the rule, unless the file is a
// regular file of mode 0600 (no group or other bits) owned by the running user.
std::unique_ptr<MasterKeyProvider> NewKeyFileProvider(std::string path);

// Creates a new key file of 32 random bytes, mode 0600, failing with
// ALREADY_EXISTS if the path exists (never overwrites a key).
absl::Status CreateKeyFile(const std::string& path, Random& random);

// Argon2id cost parameters (libsodium crypto_pwhash).
struct Argon2Params {
  unsigned long long ops_limit;
  size_t mem_limit;
  static Argon2Params Moderate();     // crypto_pwhash_*_MODERATE: production default
  static Argon2Params Interactive();  // crypto_pwhash_*_INTERACTIVE: tests
};

// Derives a key from each passphrase through Argon2id with the 16-byte salt kept
// in `salt_path`; the salt file is created (mode 0600) with random bytes on
// first use. `passphrases` holds one passphrase, or several separated by
// newlines (one per line, the last newline optional). An empty passphrase (or
// line), more than kMaxMasterKeys of them, or one given twice is refused with
// INVALID_ARGUMENT.
std::unique_ptr<MasterKeyProvider> NewPassphraseProvider(SecretBytes passphrases,
                                                         std::string salt_path, Argon2Params params,
                                                         Random& random);

// A source that hands out guarded copies of `keys`, read once from another
// source: the daemon derives passphrase keys at start and keeps these, so the
// passphrases leave memory at once. `description` is what Describe() says.
std::unique_ptr<MasterKeyProvider> NewFixedKeysProvider(std::vector<SecretBytes> keys,
                                                        std::string description);

// Runs `command` through /bin/sh -c; its stdout (the encoding above) holds the
// keys. A non-zero exit, a signal, or output of any other shape fails with
// FAILED_PRECONDITION; the output is never quoted in the error.
std::unique_ptr<MasterKeyProvider> NewCommandProvider(std::string command);

// A key-check value: 32 bytes of keyed BLAKE2b under `kek` over a fixed label.
// Stored at init; on start a different value means the wrong key was supplied.
std::string ComputeKeyCheck(const SecretBytes& kek);

// Constant-time comparison of `kek`'s check value with `stored`.
bool VerifyKeyCheck(const SecretBytes& kek, absl::string_view stored);

}  // namespace leadvault::keys

#endif  // LEADVAULT_KEYS_MASTER_KEY_H_
