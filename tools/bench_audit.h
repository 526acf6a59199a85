// The audit-export micro-benchmarks of leadvault-bench (Google Benchmark):
// offline verification of a realistic 1,000,000-entry export, and rendering
// of JSON Lines entries.
#ifndef LEADVAULT_TOOLS_BENCH_AUDIT_H_
#define LEADVAULT_TOOLS_BENCH_AUDIT_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace leadvault::tools {

// Runs the benchmarks selected by the Google Benchmark flags in argv[1..argc)
// (argv[0] is the program name); without --benchmark_filter, only the audit
// benchmarks. BM_VerifyExport writes its export (about 850 MB) to a temporary
// file under $TMPDIR (default /tmp) once, and removes it before returning.
// Returns the process exit code: 2 for an unknown flag, 1 when libsodium
// cannot initialize or the export cannot be written, else 0.
int RunAuditBench(int argc, char** argv);

// `n` (32: a lead id) pseudo-random lower-case hex digits from `seed`: the
// same for the same seed, for synthetic audit entries.
std::string PseudoRandomHex(uint64_t seed, size_t n = 32);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_BENCH_AUDIT_H_
