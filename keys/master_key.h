// Master key (KEK) providers and the key-check value that detects a wrong key.
#ifndef LEADVAULT_KEYS_MASTER_KEY_H_
#define LEADVAULT_KEYS_MASTER_KEY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"

namespace leadvault::keys {

inline constexpr size_t kKeySize = 32;

// Produces the 32-byte master key. Load() may be called more than once and
// returns a guarded SecretBytes. Errors never contain key bytes.
class MasterKeyProvider {
 public:
  virtual ~MasterKeyProvider() = default;
  virtual absl::StatusOr<SecretBytes> Load() = 0;
  // A short description for logs ("key file /path", "passphrase", "command").
  virtual std::string Describe() const = 0;
};

// Reads a key file holding exactly 32 raw bytes, or 64 hex characters with an
// optional trailing newline. Load() fails with FAILED_PRECONDITION, naming the
// path and the rule, unless the file is a regular file of mode 0600 (no group or
// other bits) owned by the running user.
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

// Derives the key from a passphrase through Argon2id with the 16-byte salt kept in
// `salt_path`; the salt file is created (mode 0600) with random bytes on first use.
// An empty passphrase is refused with INVALID_ARGUMENT.
std::unique_ptr<MasterKeyProvider> NewPassphraseProvider(SecretBytes passphrase,
                                                         std::string salt_path, Argon2Params params,
                                                         Random& random);

// Runs `command` through /bin/sh -c; its stdout (32 raw bytes, or 64 hex characters
// with an optional trailing newline) is the key. A non-zero exit, a signal, or
// output of any other shape fails with FAILED_PRECONDITION; the output is never
// quoted in the error.
std::unique_ptr<MasterKeyProvider> NewCommandProvider(std::string command);

// A key-check value: 32 bytes of keyed BLAKE2b under `kek` over a fixed label.
// Stored at init; on start a different value means the wrong key was supplied.
std::string ComputeKeyCheck(const SecretBytes& kek);

// Constant-time comparison of `kek`'s check value with `stored`.
bool VerifyKeyCheck(const SecretBytes& kek, absl::string_view stored);

}  // namespace leadvault::keys

#endif  // LEADVAULT_KEYS_MASTER_KEY_H_
