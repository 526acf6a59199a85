// `leadvault-bench funnel`: GetFunnelMetrics over a year of 1,000,000 leads'
// aggregates, and what keeping the aggregates costs CreateLead and UpdateLead.
#ifndef LEADVAULT_TOOLS_BENCH_FUNNEL_H_
#define LEADVAULT_TOOLS_BENCH_FUNNEL_H_

namespace leadvault::tools {

// Two parts, each skippable:
//  - query: the aggregate rows of --leads lead records (made up over 52
//    weeks, 7 sources, 12 service lines, 30 campaigns, every status and a
//    spread of speeds to lead, each counted by vault::ContributionOf as a
//    created lead is) written to a throwaway vault, which loads them at open;
//    then a full-year report by week, source and service line, timed through
//    FunnelReports::GetFunnelMetrics (its audit entry synced included) and
//    through ComputeFunnelReport alone;
//  - cost: CreateLead and then UpdateLead (a status and a contact attempt)
//    with --writers threads for --seconds each, in vaults with and without
//    the aggregates (VaultOptions::omit_funnel_for_benchmark), interleaved
//    runs, in /dev/shm when there is one; the leads fall in one cell, or
//    round robin in --cells cells (source x approved campaign), so that a
//    commit group's funnel operands combine less; prints each run's calls
//    per second and CPU per call, the cost of the means, and the median of
//    each round's paired cost (its two runs are neighbours in time).
// Exit code 0, 1 if a run failed, 2 for usage.
int RunFunnelBench(int argc, char** argv);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_BENCH_FUNNEL_H_
