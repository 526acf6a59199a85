#include "tools/bench_crypto.h"

#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "benchmark/benchmark.h"
#include "keys/aead.h"
#include "keys/blind_index.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "vault/validation.h"

namespace leadvault::tools {
namespace {

using keys::SecretBytes;

constexpr uint32_t kDekVersion = 1;
constexpr uint32_t kKekVersion = 1;
constexpr uint32_t kEmailField = 3;

// A 40-byte field value (a long email address).
constexpr absl::string_view kValue40 = "katherine.johnson.1918@langley.example.o";
static_assert(kValue40.size() == 40);

// The 11 personal fields of a typical lead, in field-number order.
constexpr std::array<absl::string_view, 11> kLeadFields = {
    "Katherine",
    "Johnson",
    "katherine.johnson@example.com",
    "+16502530000",
    "1968-08-26",
    "4321 Maple Avenue Apt 12",
    "Mountain View",
    "CA",
    "94043",
    "Knee pain after running; interested in an ACL evaluation",
    "Prefers a call in the late afternoon. Has seen a physical therapist for six weeks "
    "without much improvement; asked whether an MRI is needed before a consultation and "
    "whether the clinic accepts their PPO plan. Mentioned a prior arthroscopy in 2015."};

SecretBytes RandomKey(bool guarded) {
  SecretBytes key = guarded ? SecretBytes::Guarded(32) : SecretBytes(32);
  keys::SystemRandom().Fill(key.data(), key.size());
  return key;
}

std::string LeadId() { return keys::SystemRandom().Bytes(16); }

void BM_EncryptField40(benchmark::State& state) {
  SecretBytes dek = RandomKey(false);
  std::string id = LeadId();
  std::string nonce = keys::SystemRandom().Bytes(keys::kNonceSize);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        keys::EncryptField(dek, kDekVersion, id, kEmailField, kValue40, nonce));
  }
}
BENCHMARK(BM_EncryptField40);

void BM_DecryptField40(benchmark::State& state) {
  SecretBytes dek = RandomKey(false);
  std::string id = LeadId();
  std::string ct = keys::EncryptField(dek, kDekVersion, id, kEmailField, kValue40,
                                      keys::SystemRandom().Bytes(keys::kNonceSize));
  for (auto _ : state) {
    auto pt = keys::DecryptField(dek, kDekVersion, id, kEmailField, ct);
    if (!pt.ok()) state.SkipWithError("decrypt failed");
    benchmark::DoNotOptimize(pt);
  }
}
BENCHMARK(BM_DecryptField40);

void BM_WrapKey(benchmark::State& state) {
  SecretBytes kek = RandomKey(true);
  SecretBytes dek = RandomKey(false);
  std::string purpose = "lead:" + LeadId();
  for (auto _ : state) {
    benchmark::DoNotOptimize(keys::WrapKey(kek, kKekVersion, purpose, dek, keys::SystemRandom()));
  }
}
BENCHMARK(BM_WrapKey);

void BM_UnwrapKey(benchmark::State& state) {
  SecretBytes kek = RandomKey(true);
  SecretBytes dek = RandomKey(false);
  std::string purpose = "lead:" + LeadId();
  std::string wrapped = keys::WrapKey(kek, kKekVersion, purpose, dek, keys::SystemRandom());
  for (auto _ : state) {
    auto key = keys::UnwrapKey(kek, kKekVersion, purpose, wrapped);
    if (!key.ok()) state.SkipWithError("unwrap failed");
    benchmark::DoNotOptimize(key);
  }
}
BENCHMARK(BM_UnwrapKey);

void BM_BlindIndexToken(benchmark::State& state) {
  auto indexer = keys::BlindIndexer::Create(RandomKey(true));
  if (!indexer.ok()) {
    state.SkipWithError("indexer");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize((*indexer)->Token(keys::BlindIndexId::kEmail, kValue40));
  }
}
BENCHMARK(BM_BlindIndexToken);

void BM_KeyedHash(benchmark::State& state) {
  SecretBytes key = RandomKey(true);
  std::string token = keys::SystemRandom().Bytes(48);  // the size of a bearer token secret
  for (auto _ : state) benchmark::DoNotOptimize(keys::KeyedHash(key, token));
}
BENCHMARK(BM_KeyedHash);

void BM_SecretBytesPlain32(benchmark::State& state) {
  for (auto _ : state) {
    SecretBytes b(32);
    benchmark::DoNotOptimize(b.data());
  }
}
BENCHMARK(BM_SecretBytesPlain32);

void BM_SecretBytesGuarded32(benchmark::State& state) {
  for (auto _ : state) {
    SecretBytes b = SecretBytes::Guarded(32);
    benchmark::DoNotOptimize(b.data());
  }
}
BENCHMARK(BM_SecretBytesGuarded32);

void BM_NormalizeEmail(benchmark::State& state) {
  for (auto _ : state) {
    auto e = vault::NormalizeEmail("  Katherine.Johnson@Langley.Example.ORG ");
    if (!e.ok()) state.SkipWithError("email refused");
    benchmark::DoNotOptimize(e);
  }
}
BENCHMARK(BM_NormalizeEmail);

void BM_NormalizePhone(benchmark::State& state) {
  for (auto _ : state) {
    auto p = vault::NormalizePhone("+1 (650) 253-0000");
    if (!p.ok()) state.SkipWithError("phone refused");
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_NormalizePhone);

// What a create costs in crypto: a fresh DEK, one draw of all nonces, 11
// field encryptions, the DEK wrapped under the KEK, email and phone tokens.
void BM_EncryptWholeLead(benchmark::State& state) {
  SecretBytes kek = RandomKey(true);
  auto indexer = keys::BlindIndexer::Create(RandomKey(true));
  if (!indexer.ok()) {
    state.SkipWithError("indexer");
    return;
  }
  std::string id = LeadId();
  std::string purpose = "lead:" + id;
  std::string nonces(kLeadFields.size() * keys::kNonceSize, '\0');
  for (auto _ : state) {
    SecretBytes dek = RandomKey(false);
    keys::SystemRandom().Fill(reinterpret_cast<uint8_t*>(nonces.data()), nonces.size());
    for (size_t i = 0; i < kLeadFields.size(); ++i) {
      absl::string_view nonce(nonces.data() + i * keys::kNonceSize, keys::kNonceSize);
      benchmark::DoNotOptimize(keys::EncryptField(
          dek, kDekVersion, id, static_cast<uint32_t>(i + 1), kLeadFields[i], nonce));
    }
    benchmark::DoNotOptimize(keys::WrapKey(kek, kKekVersion, purpose, dek, keys::SystemRandom()));
    benchmark::DoNotOptimize((*indexer)->Token(keys::BlindIndexId::kEmail, kLeadFields[2]));
    benchmark::DoNotOptimize((*indexer)->Token(keys::BlindIndexId::kPhone, kLeadFields[3]));
  }
}
BENCHMARK(BM_EncryptWholeLead);

}  // namespace

int RunCryptoBench(int argc, char** argv) {
  if (!keys::InitCrypto()) {
    std::fprintf(stderr, "leadvault-bench: libsodium failed to initialize\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace leadvault::tools
