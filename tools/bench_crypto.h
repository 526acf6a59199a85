// The crypto micro-benchmarks of leadvault-bench (Google Benchmark).
#ifndef LEADVAULT_TOOLS_BENCH_CRYPTO_H_
#define LEADVAULT_TOOLS_BENCH_CRYPTO_H_

namespace leadvault::tools {

// Runs the benchmarks selected by the Google Benchmark flags in argv[1..argc)
// (argv[0] is the program name). Returns the process exit code: 2 for an
// unknown flag, 1 when libsodium cannot initialize, else 0.
int RunCryptoBench(int argc, char** argv);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_BENCH_CRYPTO_H_
