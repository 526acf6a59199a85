// Initializes libsodium once for the keys tests, as the daemon's main does.
#include "gtest/gtest.h"
#include "keys/random.h"

namespace leadvault::keys {
namespace {

class CryptoEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_TRUE(InitCrypto()); }
};

[[maybe_unused]] ::testing::Environment* const kCryptoEnvironment =
    ::testing::AddGlobalTestEnvironment(new CryptoEnvironment);

}  // namespace
}  // namespace leadvault::keys
