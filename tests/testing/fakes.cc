#include "tests/testing/fakes.h"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "gtest/gtest.h"
#include "sodium.h"

namespace leadvault::testing {

void SeededRandom::Fill(uint8_t* out, size_t size) {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < size; ++i) {
    state_ += 0x9E3779B97F4A7C15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    out[i] = static_cast<uint8_t>(z ^ (z >> 31));
  }
}

ScratchDir::ScratchDir() {
  std::string base = ::testing::TempDir();
  if (base.empty() || base.back() != '/') base += '/';
  std::string pattern = base + "leadvault-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  char* made = ::mkdtemp(buf.data());
  if (made == nullptr) std::abort();
  path_ = made;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  uint8_t mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const uint8_t*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const uint8_t*>(data.data()), data.size());
  crypto_auth_hmacsha256_final(&state, mac);
  return std::string(reinterpret_cast<const char*>(mac), sizeof(mac));
}

}  // namespace leadvault::testing
