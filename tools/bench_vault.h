// What the in-process benchmarks share: a throwaway vault and its leads.
#ifndef LEADVAULT_TOOLS_BENCH_VAULT_H_
#define LEADVAULT_TOOLS_BENCH_VAULT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

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

// Creates leads [first, first + count) of BenchLead(n, "sweep") as `capture`
// with 8 writer threads (one group commit); appends their ids to `ids`.
// False (said on stderr) if one fails.
bool FillBenchLeads(vault::Vault& vault, const vault::Actor& capture, uint64_t first,
                    uint64_t count, std::vector<std::string>* ids);

// Waits until `vault`'s database has no flush or compaction running or
// pending (what months between writing a lead and its expiry leave); the
// seconds it took.
double AwaitBenchQuiet(vault::Vault& vault);

struct BenchLatency {
  double p50_us = 0;
  double p99_us = 0;
  uint64_t calls = 0;
};

// `readers` threads calling GetLead as `intake` on `ids`, round robin, from
// construction until Stop(); Stop() returns their latencies. All arguments
// must outlive the object.
class BenchReaders {
 public:
  BenchReaders(vault::Vault& vault, const vault::Actor& intake, const std::vector<std::string>& ids,
               int readers);
  BenchLatency Stop();
  bool failed() const { return failed_; }

 private:
  std::atomic<bool> done_{false};
  std::atomic<bool> failed_{false};
  std::vector<std::vector<double>> samples_;
  std::vector<std::thread> threads_;
};

// The principals the in-process benchmarks act as: a capture principal, and
// an intake principal on "orthopedics" (BenchLead's service line), purpose
// treatment.
vault::Actor BenchCapture();
vault::Actor BenchIntake();

// Lead number `n` of run `run`: every PII field set (a distinct email and
// phone), service line "orthopedics", idempotency key "bench-RUN-N".
vault::NewLead BenchLead(uint64_t n, const std::string& run);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_BENCH_VAULT_H_
