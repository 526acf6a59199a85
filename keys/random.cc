#include "keys/random.h"

#include <sodium.h>

namespace leadvault::keys {
namespace {

class SodiumRandom final : public Random {
 public:
  void Fill(uint8_t* out, size_t size) override {
    if (size > 0) randombytes_buf(out, size);
  }
};

}  // namespace

std::string Random::Bytes(size_t size) {
  std::string out(size, '\0');
  if (size > 0) Fill(reinterpret_cast<uint8_t*>(out.data()), size);
  return out;
}

Random& SystemRandom() {
  static SodiumRandom* const random = new SodiumRandom();
  return *random;
}

bool InitCrypto() {
  // sodium_init is idempotent and thread-safe; 1 means "already initialized".
  return sodium_init() >= 0;
}

}  // namespace leadvault::keys
