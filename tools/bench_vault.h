// What the in-process benchmarks share: a throwaway vault and its leads.
#ifndef LEADVAULT_TOOLS_BENCH_VAULT_H_
#define LEADVAULT_TOOLS_BENCH_VAULT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "vault/clock.h"
#include "vault/lead.h"
#include "vault/vault.h"

namespace leadvault::tools {

// A new scratch dir named after `name`, in /dev/shm when there is one (so
// fsync does not drown what is measured); "" if none could be made.
std::string BenchScratchDir(const std::string& name);

// A vault in `dir`/db under a fresh random master key, on `clock` (the
// system's when null).
absl::StatusOr<std::unique_ptr<vault::Vault>> OpenBenchVault(const std::string& dir,
                                                             const vault::Clock* clock = nullptr);

// Lead number `n` of run `run`: every PII field set (a distinct email and
// phone), service line "orthopedics", idempotency key "bench-RUN-N".
vault::NewLead BenchLead(uint64_t n, const std::string& run);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_BENCH_VAULT_H_
