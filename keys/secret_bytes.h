// SecretBytes: the only type that holds key material or decrypted PII in memory.
#ifndef LEADVAULT_KEYS_SECRET_BYTES_H_
#define LEADVAULT_KEYS_SECRET_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace leadvault::keys {

// A move-only byte buffer for secrets.
//
// Guarantees: the bytes are zeroed (sodium_memzero) before the memory is
// released or when moved from; equality is constant time in the contents
// (length is not secret); there is no operator<< and no implicit conversion
// to a string, so a secret cannot be printed or logged by accident.
//
// Two storage classes. `Guarded()` buffers come from sodium_malloc: guard
// pages, mlock'd, canary-checked; use them for long-lived key material (KEKs,
// index and token keys, signing keys). Plain buffers are ordinary heap memory,
// still zeroed on release; use them for per-request secrets (a lead's data key,
// decrypted field values), where sodium_malloc's ~12 us of mmap/mprotect per
// allocation would dominate a request. Core dumps are disabled by the daemon.
//
// Thread-compatible: const methods may be called concurrently.
class SecretBytes {
 public:
  // An empty buffer.
  SecretBytes() = default;
  // `size` zero bytes in ordinary (zeroed-on-free) heap memory.
  explicit SecretBytes(size_t size);
  // `size` zero bytes in sodium_malloc'd guarded memory. Aborts on allocation failure.
  static SecretBytes Guarded(size_t size);
  // Copies `data` into a plain buffer. The caller remains responsible for wiping its copy.
  static SecretBytes CopyFrom(absl::string_view data);
  // Copies `data` into a guarded buffer.
  static SecretBytes GuardedCopyFrom(absl::string_view data);

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool guarded() const { return guarded_; }
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  // A view of the secret. The view must not outlive this object, and must not be
  // copied into an unzeroed std::string that outlives the request.
  absl::string_view view() const {
    return absl::string_view(reinterpret_cast<const char*>(data_), size_);
  }

  // Constant-time comparison of contents (sodium_memcmp); different sizes are unequal.
  bool Equals(const SecretBytes& other) const;
  friend bool operator==(const SecretBytes& a, const SecretBytes& b) { return a.Equals(b); }

  // A guarded copy of this buffer.
  SecretBytes GuardedClone() const;
  // A plain copy of this buffer.
  SecretBytes Clone() const;

 private:
  void Release();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool guarded_ = false;
};

// Constant-time equality of two byte strings of public length (sodium_memcmp).
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// Overwrites `s`'s bytes with zeros (sodium_memzero); use on std::strings that held PII.
void WipeString(std::string& s);

}  // namespace leadvault::keys

#endif  // LEADVAULT_KEYS_SECRET_BYTES_H_
