// Randomness seam: product code draws random bytes only through `Random`.
#ifndef LEADVAULT_KEYS_RANDOM_H_
#define LEADVAULT_KEYS_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace leadvault::keys {

// A source of random bytes. Implementations must be thread-safe.
class Random {
 public:
  virtual ~Random() = default;
  // Fills `out[0, size)` with random bytes. Cannot fail.
  virtual void Fill(uint8_t* out, size_t size) = 0;
  // `size` random bytes as a string (for non-secret values: ids, nonces, salts).
  std::string Bytes(size_t size);
};

// The operating system's CSPRNG (libsodium randombytes_buf). Process-wide and stateless.
Random& SystemRandom();

// Initializes libsodium. Idempotent and thread-safe; returns false only if the
// library cannot initialize (the process must then refuse to start).
[[nodiscard]] bool InitCrypto();

}  // namespace leadvault::keys

#endif  // LEADVAULT_KEYS_RANDOM_H_
