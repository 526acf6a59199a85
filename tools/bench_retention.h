// `leadvault-bench retention`: how fast a retention sweep purges, and what it
// does to GetLead latency meanwhile, in-process.
#ifndef LEADVAULT_TOOLS_BENCH_RETENTION_H_
#define LEADVAULT_TOOLS_BENCH_RETENTION_H_

namespace leadvault::tools {

// Opens a throwaway vault (in /dev/shm when there is one) on a clock the
// bench moves, and fills it with --leads leads (8 writers, group commit),
// --loaded-leads more a day later, and --keep leads 200 days on. Then:
//  1. with no online load, a sweep purges the first --leads (the clock just
//     past their expiry): leads purged per second, excluding compaction, and
//     the compaction's time and table bytes before and after;
//  2. --readers threads call GetLead on the kept leads for --seconds: the
//     idle p50/p99;
//  3. the clock moves a day, and the same readers run while a sweep (paced by
//     --batch and --pause-ms, by default as the daemon's) purges the
//     --loaded-leads and compacts: its rate, the readers' p50/p99 meanwhile,
//     and the ratio of the two p99s.
// Exit code 0, 1 on a failure, 2 on a usage error.
int RunRetentionBench(int argc, char** argv);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_BENCH_RETENTION_H_
