// `leadvault-bench audit-cost`: what the audit log costs CreateLead.
#ifndef LEADVAULT_TOOLS_BENCH_AUDIT_COST_H_
#define LEADVAULT_TOOLS_BENCH_AUDIT_COST_H_

namespace leadvault::tools {

// Serves two throwaway vaults in this process, one as the daemon runs and one
// with the audit entries left out of every commit (CommitterOptions::
// omit_audit_for_benchmark, which no daemon flag can set), and drives the
// same timed CreateLead load at each in turn (A B B A A B ...). Prints each run
// and the mean throughput of each variant. Exit code 0, 1 if a run failed, 2 for usage.
int RunAuditCostBench(int argc, char** argv);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_BENCH_AUDIT_COST_H_
