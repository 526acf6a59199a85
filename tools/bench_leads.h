// Synthetic, deterministic leads for leadvault-bench.
#ifndef LEADVAULT_TOOLS_BENCH_LEADS_H_
#define LEADVAULT_TOOLS_BENCH_LEADS_H_

#include <cstdint>
#include <string>

#include "leadvault/v1/leadvault.pb.h"

namespace leadvault::tools {

// The leads of one bench run. Lead number `n` has all 11 personal fields at
// realistic sizes, web-form attribution for service line "orthopedics", and an
// idempotency key; the same (run id, n) always gives the same lead. Email and
// idempotency key are unique per (run id, n); the phone is unique within a run
// of up to 7,000,000 leads and starts at an offset derived from the run id, so
// runs against one data dir rarely collide (a collision is a duplicate touch).
// Thread-safe (const).
class SyntheticLeads {
 public:
  explicit SyntheticLeads(std::string run_id);

  void Fill(uint64_t n, v1::CreateLeadRequest& request) const;

 private:
  const std::string run_id_;
  const uint64_t phone_offset_;
};

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_BENCH_LEADS_H_
