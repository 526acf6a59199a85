// leadvault-bench disclosure-check: the cost of the disclosure index
// cross-check (vault/disclosure_index.h) that runs at every vault start.
#ifndef LEADVAULT_TOOLS_BENCH_DISCLOSURE_H_
#define LEADVAULT_TOOLS_BENCH_DISCLOSURE_H_

namespace leadvault::tools {

// Writes a log of --entries realistic audit entries (with their index rows)
// into a scratch database under $TMPDIR (default /tmp), times one full
// CheckDisclosureIndex over it, prints entries/s, and removes the database.
// Returns the process exit code: 2 for a usage error, 1 if the database
// cannot be written or the check does not pass, else 0.
int RunDisclosureCheckBench(int argc, char** argv);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_BENCH_DISCLOSURE_H_
